import { describe, expect, it } from "vitest";
import { HOST_BUILTINS, parseRfc3339Ns } from "../../../filters/authz/index.ts";

const call = (name: string, ...args: unknown[]) => (HOST_BUILTINS[name] as (...a: unknown[]) => unknown)(...args);

describe("time.parse_rfc3339_ns (host builtin)", () => {
  it.each([
    ["2026-01-15T10:30:00Z", Date.UTC(2026, 0, 15, 10, 30) * 1e6],
    ["2026-01-15T12:30:00+02:00", Date.UTC(2026, 0, 15, 10, 30) * 1e6],
    ["2026-01-15T05:00:00-05:30", Date.UTC(2026, 0, 15, 10, 30) * 1e6],
    ["1970-01-01T00:00:00Z", 0],
    ["1970-01-01T00:00:00.5Z", 500_000_000],
    ["2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29) * 1e6],
  ])("%s → %d", (s, ns) => {
    expect(parseRfc3339Ns(s)).toBe(ns);
  });

  it("is exact for whole seconds", () => {
    expect(String(parseRfc3339Ns("2026-01-15T10:30:00Z"))).toBe("1768473000000000000");
  });

  it.each([
    "2026-01-15",
    "2026-01-15 10:30:00Z",
    "2026-01-15t10:30:00z",
    "2026-13-01T00:00:00Z",
    "2025-02-29T00:00:00Z",
    "2026-01-15T24:00:00Z",
    "2026-01-15T10:60:00Z",
    "2026-01-15T10:30:60Z",
    "2026-01-15T10:30:00+24:00",
    "2026-01-15T10:30:00",
    "3000-01-01T00:00:00Z", // beyond int64 nanoseconds
    "",
    42,
    null,
  ])("%j → undefined (an undefined expression in the policy)", (s) => {
    expect(parseRfc3339Ns(s)).toBeUndefined();
  });
});

describe("time.clock / time.date / time.weekday (host builtins)", () => {
  const ns = Date.UTC(2026, 0, 15, 10, 30, 5) * 1e6; // a Thursday

  it("UTC by default", () => {
    expect(call("time.clock", ns)).toEqual([10, 30, 5]);
    expect(call("time.date", ns)).toEqual([2026, 1, 15]);
    expect(call("time.weekday", ns)).toBe("Thursday");
  });

  it("with a time zone", () => {
    expect(call("time.clock", [ns, "UTC"])).toEqual([10, 30, 5]);
    expect(call("time.clock", [ns, ""])).toEqual([10, 30, 5]);
    expect(call("time.clock", [ns, "Asia/Kolkata"])).toEqual([16, 0, 5]);
    expect(call("time.date", [Date.UTC(2026, 0, 15, 23, 0) * 1e6, "Asia/Tokyo"])).toEqual([2026, 1, 16]);
    expect(call("time.weekday", [Date.UTC(2026, 0, 15, 23, 0) * 1e6, "Asia/Tokyo"])).toBe("Friday");
  });

  it.each([["not a number"], [[1, "Not/AZone"]], [[1]], [Number.NaN]])("%j → undefined", (x) => {
    expect(call("time.clock", x)).toBeUndefined();
  });

  it("time.now_ns is wall-clock nanoseconds", () => {
    const before = Date.now() * 1e6;
    expect(call("time.now_ns")).toBeGreaterThanOrEqual(before);
  });
});

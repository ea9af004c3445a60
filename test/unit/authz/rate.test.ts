import { describe, expect, it } from "vitest";
import { RateCounter } from "../../../filters/authz/index.ts";

const T0 = Date.UTC(2026, 0, 15, 10, 30, 0); // a whole second

describe("RateCounter", () => {
  it("counts this call and the calls of the last 60 seconds", () => {
    const r = new RateCounter();
    expect(r.hit("acme/crew", T0)).toBe(1);
    expect(r.hit("acme/crew", T0 + 10)).toBe(2);
    expect(r.hit("acme/crew", T0 + 30_000)).toBe(3);
    expect(r.hit("other/agent", T0 + 30_000)).toBe(1); // per key
  });

  it("window edges: a call at second s counts until second s+59, is gone at s+60", () => {
    const r = new RateCounter();
    r.hit("a", T0); // second 0
    r.hit("a", T0 + 999); // still second 0
    expect(r.count("a", T0 + 59_999)).toBe(2); // second 59
    expect(r.count("a", T0 + 60_000)).toBe(0); // second 60: both expired
    expect(r.hit("a", T0 + 60_000)).toBe(1);
  });

  it("slides bucket by bucket", () => {
    const r = new RateCounter();
    for (let s = 0; s < 60; s++) r.hit("a", T0 + s * 1000); // one call per second for a minute
    expect(r.count("a", T0 + 59_000)).toBe(60);
    expect(r.count("a", T0 + 60_000)).toBe(59);
    expect(r.count("a", T0 + 90_000)).toBe(29);
    expect(r.count("a", T0 + 118_999)).toBe(1);
    expect(r.count("a", T0 + 119_000)).toBe(0);
  });

  it("a long silence clears everything", () => {
    const r = new RateCounter();
    for (let i = 0; i < 100; i++) r.hit("a", T0);
    expect(r.hit("a", T0 + 3_600_000)).toBe(1);
  });

  it("101 calls in a minute reads 101 (the policy's limit check input)", () => {
    const r = new RateCounter();
    let n = 0;
    for (let i = 0; i < 101; i++) n = r.hit("a", T0 + i * 500); // 50.5 s
    expect(n).toBe(101);
  });

  it("a clock stepping backwards counts into the newest bucket", () => {
    const r = new RateCounter();
    r.hit("a", T0 + 10_000);
    expect(r.hit("a", T0)).toBe(2);
    expect(r.count("a", T0 + 69_999)).toBe(2); // both live in second 10
    expect(r.count("a", T0 + 70_000)).toBe(0);
  });

  it("holds a bounded number of keys (LRU); an evicted key starts from zero", () => {
    const r = new RateCounter({ maxKeys: 2 });
    r.hit("a", T0);
    r.hit("a", T0);
    r.hit("b", T0);
    r.hit("c", T0); // evicts a
    expect(r.size).toBe(2);
    expect(r.hit("a", T0)).toBe(1);
  });

  it("count() of an unknown key is 0 and records nothing", () => {
    const r = new RateCounter();
    expect(r.count("nobody", T0)).toBe(0);
    expect(r.size).toBe(0);
  });

  it("rejects a bad maxKeys", () => {
    expect(() => new RateCounter({ maxKeys: 0 })).toThrow(TypeError);
  });
});

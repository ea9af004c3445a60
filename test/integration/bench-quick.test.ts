/**
 * `bin/hexr bench --quick` end to end: real Envoy, our sidecar and ext_proc servers, opa-envoy-plugin and
 * fortio. Checks only that the suite works and its output is well formed — no timing thresholds: the
 * numbers from a shared CI machine say nothing about the data plane.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCENARIO_IDS } from "../../bench/scenarios.ts";
import type { ScenarioResult, SkippedScenario, SuiteReport } from "../../bench/types.ts";

const run = promisify(execFile);
const HEXR = path.resolve(import.meta.dirname, "../../bin/hexr");
/** Every scenario, shortened further than --quick: the test is about shape, not numbers. */
const ARGS = ["bench", "--quick", "--duration", "2", "--warmup", "0.5"];
const SUITE_TIMEOUT_MS = 8 * 60_000;
const NUMERIC = ["p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "achieved_rps", "errors"] as const;
/** Scenarios without an ext_authz / ext_proc server behind Envoy report null server figures. */
const NO_SERVER = new Set(["direct", "envoy"]);

let dir: string;
let report: SuiteReport;
let stdout: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "hexr-bench-it-"));
  const json = path.join(dir, "results.json");
  const out = await run(HEXR, [...ARGS, "--json", json], { maxBuffer: 32 << 20, timeout: SUITE_TIMEOUT_MS });
  stdout = out.stdout;
  report = JSON.parse(readFileSync(json, "utf8")) as SuiteReport;
}, SUITE_TIMEOUT_MS);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const skipped = (r: ScenarioResult | SkippedScenario): r is SkippedScenario => "skipped" in r;

describe("hexr bench --quick", () => {
  it("reports the run's context", () => {
    expect(report.envoy_version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.runs).toBe(1);
    expect(report.quick).toBe(true);
    expect(report.rates.length).toBeGreaterThan(0);
  });

  it.each(SCENARIO_IDS)("%s is measured at every rate (none skipped)", (id) => {
    for (const rate of report.rates) {
      const r = report.scenarios.find((s) => s.id === id && s.rate === rate);
      expect(r, `${id} at ${rate} rps`).toBeDefined();
      if (!r) continue;
      expect(skipped(r), `${id} at ${rate} rps was skipped`).toBe(false);
      if (skipped(r)) continue;
      for (const f of NUMERIC) expect(Number.isFinite(r[f]), `${id}.${f} = ${r[f]}`).toBe(true);
      if (NO_SERVER.has(id)) {
        expect(r.server_cpu_per_krps).toBeNull();
        expect(r.server_rss_mb).toBeNull();
      } else {
        expect(r.server_cpu_per_krps).toBeGreaterThan(0);
        expect(r.server_rss_mb).toBeGreaterThan(0);
      }
      if (id !== "direct" && id !== "envoy") expect(typeof r.added_p99_ms).toBe("number");
    }
  });

  it("compares with the reference, after both rbac stacks made the same decisions", () => {
    expect(report.parity?.mismatches).toEqual([]);
    expect(report.parity?.allowed).toBeGreaterThan(0);
    expect(report.comparison.map((c) => c.rate)).toEqual(report.rates);
    expect(report.goals).toHaveLength(14);
  });

  it("measures the whole sidecar (guard and credentials on) idle and under load, its guard traffic beside", () => {
    const full = report.scenarios.find((r) => r.id === "hexr-sidecar-full" && !("skipped" in r)) as
      | (ScenarioResult & { background: NonNullable<ScenarioResult["background"]> })
      | undefined;
    expect(full?.errors).toBe(0);
    expect(full?.server_idle_rss_mb).toBeGreaterThan(30);
    expect(full?.server_rss_mb).toBeGreaterThan(30);
    expect(full?.background.achieved_rps).toBeGreaterThan(0);
    const idle = report.goals.find((g) => g.goal.startsWith("idle RSS of the whole sidecar"));
    expect(idle?.measured).toMatch(/^\d+(\.\d+)? MB$/);
    expect(report.sidecar_build).toBe("dist");
  });

  it("includes the micro-benchmarks", () => {
    expect(Array.isArray(report.micro)).toBe(true);
    const names = (report.micro as Array<{ name: string; p99_us: number }>).map((m) => m.name);
    expect(names).toEqual(
      expect.arrayContaining(["policy.evaluate (no cache)", "AuthzPipeline.check (allowed request)"]),
    );
  });

  it("writes the markdown table and one SVG plot per rate", () => {
    const table = readFileSync(path.resolve(dir, report.outputs.table), "utf8");
    expect(table).toContain("| scenario |");
    for (const id of SCENARIO_IDS) expect(table).toContain(`| ${id}`);
    expect(stdout).toContain("| scenario |");
    expect(report.outputs.plots).toHaveLength(report.rates.length);
    for (const plot of report.outputs.plots.map((p) => path.resolve(dir, p))) {
      expect(existsSync(plot)).toBe(true);
      const svg = readFileSync(plot, "utf8");
      expect(svg.startsWith("<svg")).toBe(true);
      expect(svg).toContain("envoy");
    }
  });
});

/**
 * `bin/hexr bench --soak` end to end, shortened to seconds: the whole sidecar (ext_authz with credentials
 * and the guard thread) behind real Envoy, fortio segments back to back, RSS sampled throughout. Checks
 * the output's shape and that the samples are the sidecar's, not timing thresholds.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SoakReport } from "../../bench/soak.ts";

const run = promisify(execFile);
const HEXR = path.resolve(import.meta.dirname, "../../bin/hexr");
const TIMEOUT_MS = 4 * 60_000;

let dir: string;
let report: SoakReport;
let stdout: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "hexr-soak-it-"));
  // 12 s of measured load in 4 s segments at a fixed rate (no maximum run), after a 3 s warm-up (at least one sample)
  const args = ["bench", "--soak", "--minutes", "0.2", "--segment", "4", "--warmup", "3", "--rate", "150"];
  const out = await run(HEXR, [...args, "--out", dir], { maxBuffer: 16 << 20, timeout: TIMEOUT_MS });
  stdout = out.stdout;
  report = JSON.parse(readFileSync(path.join(dir, "soak.json"), "utf8")) as SoakReport;
}, TIMEOUT_MS);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("hexr bench --soak", () => {
  it("holds the asked rate in back-to-back segments, without errors", () => {
    expect(report.scenario).toBe("hexr-sidecar-full");
    expect(report.rate).toBe(150);
    expect(report.max_rps).toBeNull();
    expect(report.segments).toHaveLength(3);
    for (const g of report.segments) {
      expect(g.errors).toBe(0);
      expect(g.achieved_rps).toBeGreaterThan(100);
      expect(g.p50_ms).toBeGreaterThan(0);
      expect(g.background_rps).toBeGreaterThan(0); // the guard's traffic went beside it
    }
  });

  it("samples the sidecar's RSS before and during the load, and reports growth from them", () => {
    const during = report.samples.filter((s) => s.t_s >= 0);
    expect(during.length).toBeGreaterThanOrEqual(4);
    expect(report.samples.some((s) => s.t_s < 0)).toBe(true); // the warm-up
    for (const s of report.samples) {
      expect(s.server_rss_mb).toBeGreaterThan(30);
      expect(s.envoy_rss_mb).toBeGreaterThan(5);
    }
    expect(report.rss.idle_mb).toBeGreaterThan(30);
    expect(report.rss.growth_mb).toBeTypeOf("number");
    expect(report.rss.slope_mb_per_min).toBeTypeOf("number");
  });

  it("writes the markdown and both plots", () => {
    expect(stdout).toContain("# Soak: hexr-sidecar-full");
    expect(readFileSync(path.join(dir, "soak.md"), "utf8")).toBe(stdout);
    for (const f of ["soak-rss.svg", "soak-latency.svg"]) {
      const svg = readFileSync(path.join(dir, f), "utf8");
      expect(svg).toMatch(/^<svg /);
      expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+ L/); // a line with points
    }
  });
});

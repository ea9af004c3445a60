/**
 * From raw measurements to the report: medians over repeats, added latency against each scenario's
 * baseline, the Hexr-vs-reference comparison, and the goals with measured values.
 */
import type { LoadResult } from "./load.ts";
import type { Scenario } from "./scenarios.ts";
import type { Comparison, Goal, MicroResult, ScenarioResult, SkippedScenario } from "./types.ts";
import { isSkipped } from "./types.ts";

/** What one measurement adds to fortio's result: server and Envoy CPU over the window, server RSS after. */
export interface Sample extends LoadResult {
  server_cpu_s: number | null;
  envoy_cpu_s: number | null;
  server_rss_mb: number | null;
  /** Scenarios with background load: the rate it achieved and its median latency. */
  background_rps?: number;
  background_p50_ms?: number;
}

/** Target rate must be met to 95 %; below that the rate was not held. */
const SATURATION_FRACTION = 0.95;
const GOAL_RATE = 1000;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const r3 = (v: number) => Math.round(v * 1000) / 1000;

function medianOrNull(values: ReadonlyArray<number | null>): number | null {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return xs.length === 0 ? null : r3(median(xs));
}

/** CPU seconds per 1000 requests, which is also cores per 1000 rps. */
function perKrps(cpuS: number | null, requests: number): number | null {
  return cpuS === null || requests === 0 ? null : (cpuS * 1000) / requests;
}

/** Non-200 status codes summed over all runs (`-1` is fortio's code for a socket error). */
function errorCodes(samples: readonly Sample[]): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const x of samples)
    for (const [code, n] of Object.entries(x.codes)) if (code !== "200") out[code] = (out[code] ?? 0) + n;
  return Object.keys(out).length > 0 ? out : undefined;
}

export function summarize(s: Scenario, rate: number, samples: readonly Sample[]): ScenarioResult {
  const m = (f: (x: Sample) => number) => r3(median(samples.map(f)));
  const achieved = m((x) => x.achieved_rps);
  return {
    id: s.id,
    rate,
    p50_ms: m((x) => x.p50_ms),
    p90_ms: m((x) => x.p90_ms),
    p99_ms: m((x) => x.p99_ms),
    p999_ms: m((x) => x.p999_ms),
    max_ms: m((x) => x.max_ms),
    achieved_rps: Math.round(achieved * 10) / 10,
    errors: Math.round(median(samples.map((x) => x.errors))),
    server_cpu_per_krps: medianOrNull(samples.map((x) => perKrps(x.server_cpu_s, x.requests))),
    server_rss_mb: medianOrNull(samples.map((x) => x.server_rss_mb)),
    envoy_cpu_per_krps: medianOrNull(samples.map((x) => perKrps(x.envoy_cpu_s, x.requests))),
    samples: samples.length,
    ...(errorCodes(samples) ? { error_codes: errorCodes(samples) } : {}),
    ...(s.baseline ? { baseline: s.baseline } : {}),
    ...(achieved < SATURATION_FRACTION * rate ? { saturated: true } : {}),
    ...(s.helper ? { helper: true } : {}),
    ...(s.background
      ? {
          background: {
            request: s.background.request,
            target_rps: s.background.rate,
            achieved_rps: medianOrNull(samples.map((x) => x.background_rps ?? null)),
            p50_ms: medianOrNull(samples.map((x) => x.background_p50_ms ?? null)),
          },
        }
      : {}),
  };
}

/** Fills `added_*` from each result's baseline at the same rate. */
export function addBaselines(results: Array<ScenarioResult | SkippedScenario>): void {
  const byKey = new Map<string, ScenarioResult>();
  for (const r of results) if (!isSkipped(r)) byKey.set(`${r.id}@${r.rate}`, r);
  for (const r of results) {
    if (isSkipped(r) || !r.baseline) continue;
    const b = byKey.get(`${r.baseline}@${r.rate}`);
    if (!b) continue;
    r.added_p50_ms = r3(r.p50_ms - b.p50_ms);
    r.added_p99_ms = r3(r.p99_ms - b.p99_ms);
  }
}

export function compare(results: ReadonlyArray<ScenarioResult | SkippedScenario>): Comparison[] {
  const out: Comparison[] = [];
  const ok = results.filter((r): r is ScenarioResult => !isSkipped(r));
  for (const h of ok.filter((r) => r.id === "hexr-authz-rbac")) {
    const ref = ok.find((r) => r.id === "opa-envoy-rbac" && r.rate === h.rate);
    if (!ref || h.added_p99_ms === undefined || ref.added_p99_ms === undefined) continue;
    out.push({
      rate: h.rate,
      hexr_added_p50_ms: h.added_p50_ms ?? Number.NaN,
      hexr_added_p99_ms: h.added_p99_ms,
      reference_added_p50_ms: ref.added_p50_ms ?? Number.NaN,
      reference_added_p99_ms: ref.added_p99_ms,
      // a reference that adds nothing measurable makes the ratio meaningless rather than infinite
      ratio_p99: ref.added_p99_ms > 0 ? Math.round((h.added_p99_ms / ref.added_p99_ms) * 100) / 100 : Number.NaN,
    });
  }
  return out;
}

function goal(text: string, target: string, value: number | undefined, limit: number, unit: string): Goal {
  if (value === undefined || !Number.isFinite(value))
    return { goal: text, target, measured: "not measured", met: null };
  return { goal: text, target, measured: `${r3(value)} ${unit}`, met: value <= limit };
}

export function evaluateGoals(
  results: ReadonlyArray<ScenarioResult | SkippedScenario>,
  comparison: readonly Comparison[],
  micro: readonly MicroResult[] | undefined,
): Goal[] {
  const rbac = results.find(
    (r): r is ScenarioResult => !isSkipped(r) && r.id === "hexr-authz-rbac" && r.rate === GOAL_RATE,
  );
  const cmp = comparison.find((c) => c.rate === GOAL_RATE);
  const evalMicro = micro?.find((m) => m.name === "policy.evaluate (no cache)");
  // the guard's micro-benchmark names its whole-pipeline task `scanText (all) 4KB`
  const scan4k = micro?.find((m) => /^scanText\b.*\b4\s*KB$/i.test(m.name));
  const at = (id: string, rate: number) =>
    results.find((r): r is ScenarioResult => !isSkipped(r) && r.id === id && r.rate === rate);
  const full = at("hexr-sidecar-full", GOAL_RATE);
  const fullIdle = results.find(
    (r): r is ScenarioResult => !isSkipped(r) && r.id === "hexr-sidecar-full" && r.server_idle_rss_mb !== undefined,
  );
  const ref = at("opa-envoy-rbac", GOAL_RATE);
  const rbac2k = at("hexr-authz-rbac", 2000);
  const stream = at("hexr-guard-stream", GOAL_RATE);
  const ratio = (a: number | null | undefined, b: number | null | undefined) =>
    a === null || a === undefined || b === null || b === undefined || b <= 0 ? undefined : a / b;
  return [
    goal("hexr-authz-rbac adds at p50 over envoy, at 1000 rps", "≤ 0.15 ms", rbac?.added_p50_ms, 0.15, "ms"),
    goal("hexr-authz-rbac adds at p99 over envoy, at 1000 rps", "≤ 1 ms", rbac?.added_p99_ms, 1, "ms"),
    goal("added p99 of hexr-authz-rbac ÷ that of opa-envoy-rbac, at 1000 rps", "≤ 0.8", cmp?.ratio_p99, 0.8, "×"),
    goal("in-process policy evaluation p99 (micro, no cache)", "≤ 50 µs", evalMicro?.p99_us, 50, "µs"),
    goal("4 KB prompt scanned, p99 (micro)", "≤ 0.5 ms", scan4k ? scan4k.p99_us / 1000 : undefined, 0.5, "ms"),
    // issue 14: a sidecar cheap enough for every agent pod
    goal(
      "idle RSS of the whole sidecar (hexr-sidecar-full, after start)",
      "≤ 60 MB",
      fullIdle?.server_idle_rss_mb,
      60,
      "MB",
    ),
    goal(
      "RSS of the whole sidecar at 1000 rps (guard + credentials on)",
      "≤ 100 MB",
      full?.server_rss_mb ?? undefined,
      100,
      "MB",
    ),
    goal("that RSS ÷ opa-envoy-rbac's at 1000 rps", "≤ 2.5", ratio(full?.server_rss_mb, ref?.server_rss_mb), 2.5, "×"),
    goal("hexr-authz-rbac adds at p50 over envoy, at 1000 rps (issue 14)", "≤ 0.25 ms", rbac?.added_p50_ms, 0.25, "ms"),
    goal("hexr-authz-rbac adds at p99 over envoy, at 1000 rps (issue 14)", "≤ 1.5 ms", rbac?.added_p99_ms, 1.5, "ms"),
    held("hexr-authz-rbac holds 2000 rps", rbac2k),
    goal(
      "added p99 of hexr-authz-rbac ÷ that of opa-envoy-rbac, at 1000 rps (issue 14)",
      "≤ 0.5",
      cmp?.ratio_p99,
      0.5,
      "×",
    ),
    held("hexr-guard-stream holds 1000 rps", stream),
    goal("hexr-guard-stream adds at p50 over envoy-llm-stream, at 1000 rps", "≤ 1 ms", stream?.added_p50_ms, 1, "ms"),
  ];
}

/** A rate goal: achieved ≥ 95 % of the target. */
function held(text: string, r: ScenarioResult | undefined): Goal {
  if (!r) return { goal: text, target: "≥ 95 % achieved", measured: "not measured", met: null };
  return { goal: text, target: "≥ 95 % achieved", measured: `${r.achieved_rps} rps`, met: r.saturated !== true };
}

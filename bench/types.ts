/** The suite's options and its JSON report (the shape the issue fixes, plus context fields). */

export interface SuiteOptions {
  /** Target request rates, requests per second. */
  rates: number[];
  /** Repeats of the whole interleaved round; medians are taken over them. */
  runs: number;
  /** Seconds of load per measurement. */
  durationS: number;
  /** Seconds of unrecorded load per scenario before the first round (JIT, connection pools, caches). */
  warmupS: number;
  /** Keep-alive connections the load generator spreads the rate over. */
  connections: number;
  /** Envoy worker threads (`--concurrency`). */
  envoyConcurrency: number;
  /** Scenario ids to run (default: all). */
  only?: string[];
  /** Run the micro-benchmarks too; `"only"` runs nothing else. */
  micro: boolean | "only";
  /** Micro-benchmark time budget per task, ms. */
  microTimeMs: number;
  quick: boolean;
  /** Run our sidecars from the TypeScript sources instead of the compiled build (scripts/build-dist.sh). */
  fromSource?: boolean;
  /** Write V8 CPU profiles of our Node servers here (`--cpu-prof`). */
  profileDir?: string;
  /** Progress lines go here (stderr). */
  log: (line: string) => void;
}

/** One scenario at one rate: medians over the runs. */
export interface ScenarioResult {
  id: string;
  rate: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  achieved_rps: number;
  errors: number;
  /** CPU cores used by the ext_authz / ext_proc server per 1000 rps (= CPU seconds per 1000 requests); null without one. */
  server_cpu_per_krps: number | null;
  server_rss_mb: number | null;
  /** The server's RSS after start, before any load (all stacks up, before the warm-up). */
  server_idle_rss_mb?: number;
  /** The same for Envoy; null for `direct`. */
  envoy_cpu_per_krps: number | null;
  /** Measurements the medians are over. */
  samples: number;
  /** Non-200 statuses summed over all runs, when there were any (`-1`: socket error). */
  error_codes?: Record<string, number>;
  /** Scenario minus its baseline (`envoy`, or the guard scenario's own Envoy-only baseline). */
  baseline?: string;
  added_p50_ms?: number;
  added_p99_ms?: number;
  /** Achieved rate below 95 % of the target: the machine did not hold this rate. */
  saturated?: boolean;
  /** A helper baseline, not one of the scenario ids. */
  helper?: boolean;
  /** Load sent to the same stack meanwhile (not measured): what it was and how it went. */
  background?: { request: string; target_rps: number; achieved_rps: number | null; p50_ms: number | null };
}

export interface SkippedScenario {
  id: string;
  rate: number;
  skipped: string;
}

export interface Comparison {
  rate: number;
  hexr_added_p50_ms: number;
  hexr_added_p99_ms: number;
  reference_added_p50_ms: number;
  reference_added_p99_ms: number;
  /** hexr-authz-rbac added p99 ÷ opa-envoy-rbac added p99 (goal: ≤ 0.8). */
  ratio_p99: number;
}

export interface Goal {
  goal: string;
  target: string;
  measured: string;
  met: boolean | null;
}

export interface MicroResult {
  name: string;
  file: string;
  mean_us: number;
  p99_us: number;
  samples: number;
}

export interface SuiteReport {
  envoy_version: string;
  machine: {
    description: string;
    cpu: string;
    cores: number;
    memory_gb: number;
    kernel: string;
    loadavg_at_start: number[];
  };
  runs: number;
  rates: number[];
  duration_s: number;
  connections: number;
  envoy_concurrency: number;
  quick: boolean;
  started_at: string;
  finished_at: string;
  tools: { node: string; fortio: string; opa_envoy_plugin: string };
  /** What our sidecars ran from: the compiled build (`dist`, as an image runs it) or the TypeScript sources. */
  sidecar_build?: "dist" | "source";
  scenarios: Array<ScenarioResult | SkippedScenario>;
  comparison: Comparison[];
  parity?: { checked: number; allowed: number; mismatches: unknown[] };
  goals: Goal[];
  micro?: MicroResult[] | { skipped: string };
  /** Files written next to the JSON. */
  outputs: { table: string; plots: string[] };
}

export function isSkipped(r: ScenarioResult | SkippedScenario): r is SkippedScenario {
  return "skipped" in r;
}

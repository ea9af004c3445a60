/**
 * The benchmark suite: prepare (tools, bundles, certificates), start every stack once, check that both
 * rbac stacks decide alike, warm up, then measure in interleaved rounds — each round runs every scenario
 * at every rate, in an order rotated per round — so a drifting machine affects all scenarios alike.
 * Results are medians over rounds; micro-benchmarks run after the load, with the stacks stopped.
 *
 * @example
 *   const report = await runSuite({ ...QUICK_OPTIONS, log: (l) => process.stderr.write(`${l}\n`) });
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { envoyVersion } from "../envoy-config/index.ts";
import { addBaselines, compare, evaluateGoals, type Sample, summarize } from "./aggregate.ts";
import { buildBenchBundles, REFERENCE_DECISION_PATH, REFERENCE_POLICY_FILES, testReferencePolicy } from "./bundles.ts";
import { runLoad, runLoadBeside } from "./load.ts";
import { buildDist } from "./dist.ts";
import { runMicro } from "./micro/run.ts";
import { checkParity, type ParityReport } from "./parity.ts";
import { latencySvg } from "./plot.ts";
import { CpuMeter, machineDescription, rssMb } from "./procstat.ts";
import { markdownReport } from "./report.ts";
import { CERT_HOSTS, SCENARIOS, type Scenario, type StackId, writeRequestBodies } from "./scenarios.ts";
import { type RunningStacks, type Stack, startStacks } from "./stacks/index.ts";
import { makeBenchPki } from "./stacks/pki.ts";
import { findFortio, findOpaEnvoy, fortioVersion, opaEnvoyVersion } from "./tools.ts";
import type { ScenarioResult, SkippedScenario, SuiteOptions, SuiteReport } from "./types.ts";
import { isSkipped } from "./types.ts";

export const FULL_OPTIONS = {
  rates: [500, 1000, 2000],
  runs: 3,
  durationS: 15,
  warmupS: 5,
  connections: 4,
  envoyConcurrency: 1,
  micro: true,
  microTimeMs: 1_000,
  quick: false,
} as const satisfies Omit<SuiteOptions, "log">;

/** A minute or two: CI checks that the suite works and its output is well formed. */
export const QUICK_OPTIONS = {
  ...FULL_OPTIONS,
  rates: [500],
  runs: 1,
  durationS: 4,
  warmupS: 1,
  microTimeMs: 100,
  quick: true,
} as const satisfies Omit<SuiteOptions, "log">;

/** Time a measurement costs beyond its load (fortio start, TLS warm-up calls, reading results). */
const PER_MEASUREMENT_OVERHEAD_S = 1;

export interface SuiteOutput {
  report: SuiteReport;
  /** Markdown report text and per-rate SVGs, for the caller to write. */
  markdown: string;
  plots: Array<{ rate: number; svg: string }>;
}

/**
 * The scenarios to run: those asked for, each preceded by the baseline its added latency needs and
 * followed by its pass-through-processor row (`hop`, with that row's baseline).
 */
function plan(opts: SuiteOptions): Scenario[] {
  const run = SCENARIOS.filter((s) => !opts.only || opts.only.includes(s.id));
  for (const s of [...run]) {
    const hop = s.hop && SCENARIOS.find((h) => h.id === s.hop);
    if (hop && !run.includes(hop)) run.splice(run.indexOf(s) + 1, 0, hop);
  }
  for (const s of [...run]) {
    const base = s.baseline && SCENARIOS.find((b) => b.id === s.baseline);
    if (base && !run.includes(base)) run.splice(run.indexOf(s), 0, base);
  }
  return run;
}

/** What each scenario with a `hop` row adds over it (the processor's own cost), per rate. */
function hopLines(results: ReadonlyArray<ScenarioResult | SkippedScenario>): string[] {
  const ok = results.filter((r): r is ScenarioResult => !isSkipped(r));
  const out: string[] = [];
  for (const s of SCENARIOS) {
    if (!s.hop) continue;
    for (const r of ok.filter((x) => x.id === s.id)) {
      const h = ok.find((x) => x.id === s.hop && x.rate === r.rate);
      if (!h) continue;
      const d = (a: number, b: number) => `${a - b >= 0 ? "+" : ""}${(a - b).toFixed(3)}`;
      out.push(
        `${s.id} over ${s.hop} at ${r.rate} rps: p50 ${d(r.p50_ms, h.p50_ms)} ms, p99 ${d(r.p99_ms, h.p99_ms)} ms`,
      );
    }
  }
  return out;
}

async function measure(
  fortio: string,
  stack: Stack,
  s: Scenario,
  rate: number,
  opts: SuiteOptions,
  workDir: string,
): Promise<Sample> {
  const pids = [stack.server?.pid, stack.envoy?.pid].filter((p): p is number => p !== undefined);
  const cpu = new CpuMeter(pids);
  // the background load (if any) runs alongside the measured one, for its whole duration
  const bg = s.background;
  const { load, background } = await runLoadBeside(
    fortio,
    { ...stack.target(s.request), rate, durationS: opts.durationS, connections: opts.connections },
    bg
      ? { ...stack.target(bg.request), rate: bg.rate, durationS: opts.durationS + 1, connections: bg.connections }
      : undefined,
    workDir,
    `${s.id}-${rate}`,
  );
  const server = stack.server;
  return {
    ...load,
    server_cpu_s: server ? (cpu.used(server.pid) ?? null) : null,
    envoy_cpu_s: stack.envoy ? (cpu.used(stack.envoy.pid) ?? null) : null,
    server_rss_mb: server ? (rssMb(server.pid) ?? null) : null,
    ...(background ? { background_rps: background.achieved_rps, background_p50_ms: background.p50_ms } : {}),
  };
}

function fmtEta(seconds: number): string {
  const m = Math.floor(seconds / 60);
  return m > 0 ? `${m} min ${Math.round(seconds % 60)} s` : `${Math.round(seconds)} s`;
}

export async function runSuite(opts: SuiteOptions): Promise<SuiteOutput> {
  const log = opts.log;
  const startedAt = new Date();
  const loadAtStart = loadavg().map((v) => Math.round(v * 100) / 100);
  const machine = machineDescription();
  // micro-benchmarks alone need neither the load generator nor the reference
  const loadRun = opts.micro !== "only";
  const fortio = loadRun ? findFortio() : "";
  const opaEnvoy = loadRun ? findOpaEnvoy() : "";
  const [envoyV, fortioV, opaEnvoyV] = await Promise.all([
    envoyVersion(),
    loadRun ? fortioVersion(fortio) : "not used",
    loadRun ? opaEnvoyVersion(opaEnvoy) : "not used",
  ]);
  const results: Array<ScenarioResult | SkippedScenario> = [];
  let parity: ParityReport | undefined;

  if (loadRun) {
    const run = plan(opts);
    const dir = mkdtempSync(path.join(tmpdir(), "hexr-bench-"));
    let stacks: RunningStacks | undefined;
    try {
      log(`prepare: reference policy tests, policy bundles, certificates (${dir})`);
      await testReferencePolicy(opaEnvoy);
      const bundles = await buildBenchBundles(dir);
      const pki = await makeBenchPki(dir, CERT_HOSTS);
      let dist: string | undefined;
      if (!opts.fromSource) {
        log("build: scripts/build-dist.sh (tsc, ~15 s)");
        dist = await buildDist(dir);
      }
      const needed = new Set<StackId>(run.map((s) => s.stack));
      stacks = await startStacks(needed, {
        dir,
        pki,
        fortio,
        opaEnvoy,
        bundles,
        referencePolicy: REFERENCE_POLICY_FILES,
        referencePath: REFERENCE_DECISION_PATH,
        bodies: writeRequestBodies(dir),
        envoyConcurrency: opts.envoyConcurrency,
        ...(dist ? { dist } : {}),
        ...(opts.profileDir ? { nodeOptions: `--cpu-prof --cpu-prof-dir=${opts.profileDir}` } : {}),
        onStart: (what) => log(`start: ${what}`),
      });
      const running = stacks.stacks;
      // before any request: what each server holds just for being there
      const idleRss = new Map<string, number>();
      for (const [id, st] of running) {
        const mb = st.server ? rssMb(st.server.pid) : undefined;
        if (mb !== undefined) idleRss.set(id, Math.round(mb * 10) / 10);
      }
      const hexr = running.get("hexr-authz-rbac");
      const ref = running.get("opa-envoy-rbac");
      if (hexr?.envoy && ref?.envoy) {
        parity = await checkParity(hexr.envoy.port, ref.envoy.port, pki);
        log(`parity: ${parity.checked} requests, ${parity.allowed} allowed, ${parity.mismatches.length} mismatches`);
        if (parity.mismatches.length > 0) {
          throw new Error(`hexr and opa-envoy-plugin decide differently: ${JSON.stringify(parity.mismatches)}`);
        }
      }

      const stackOf = (s: Scenario) => running.get(s.stack) as Stack;
      const warmRate = Math.max(...opts.rates);
      for (const s of run) {
        log(`warm-up: ${s.id} (${opts.warmupS} s at ${warmRate} rps)`);
        await runLoad(
          fortio,
          { ...stackOf(s).target(s.request), rate: warmRate, durationS: opts.warmupS, connections: opts.connections },
          dir,
          `warmup-${s.id}`,
        );
      }

      const samples = new Map<string, Sample[]>();
      const total = opts.runs * opts.rates.length * run.length;
      let done = 0;
      const t0 = Date.now();
      for (let round = 0; round < opts.runs; round++) {
        for (const rate of opts.rates) {
          // rotate the order every round so no scenario always runs first or right after another
          const shift = (round * opts.rates.length + opts.rates.indexOf(rate)) % run.length;
          const order = [...run.slice(shift), ...run.slice(0, shift)];
          for (const s of order) {
            done++;
            const left = (total - done + 1) * (opts.durationS + PER_MEASUREMENT_OVERHEAD_S);
            log(
              `[${done}/${total}] round ${round + 1}/${opts.runs} · ${rate} rps · ${s.id} (${opts.durationS} s; about ${fmtEta(left)} left)`,
            );
            const sample = await measure(fortio, stackOf(s), s, rate, opts, dir);
            const key = `${s.id}@${rate}`;
            samples.set(key, [...(samples.get(key) ?? []), sample]);
            log(
              `        p50 ${sample.p50_ms} ms · p99 ${sample.p99_ms} ms · ${sample.achieved_rps} rps · ${sample.errors} errors` +
                (sample.errors > 0 ? ` (status codes ${JSON.stringify(sample.codes)})` : "") +
                (sample.server_cpu_s !== null ? ` · server CPU ${sample.server_cpu_s.toFixed(2)} s` : ""),
            );
          }
        }
      }
      log(`load done in ${fmtEta((Date.now() - t0) / 1000)}`);
      for (const s of run) {
        const notes = await stackOf(s)
          .notes?.()
          .catch((e: Error) => [`(no notes: ${e.message})`]);
        for (const line of notes ?? []) log(`${s.id}: ${line}`);
      }
      for (const rate of opts.rates) {
        for (const s of SCENARIOS) {
          const got = samples.get(`${s.id}@${rate}`);
          const idle = idleRss.get(s.stack);
          if (got)
            results.push({ ...summarize(s, rate, got), ...(idle !== undefined ? { server_idle_rss_mb: idle } : {}) });
        }
      }
    } finally {
      await stacks?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    // report order: the scenario order per rate, skipped ones in place
    const order = new Map(SCENARIOS.map((s, i) => [s.id as string, i]));
    results.sort((a, b) => a.rate - b.rate || (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
    addBaselines(results);
    for (const line of hopLines(results)) log(line);
  }

  let micro: SuiteReport["micro"];
  if (opts.micro) {
    log("micro-benchmarks");
    const m = await runMicro({ timeMs: opts.microTimeMs, log });
    for (const pr of m.problems) log(`micro: ${pr.file}: ${pr.error}`);
    micro = m.results;
  }

  const comparison = compare(results);
  const report: SuiteReport = {
    envoy_version: envoyV,
    machine: {
      description: `${machine.cpu}, ${machine.cores} cores, ${machine.memory_gb} GB, Linux ${machine.kernel}`,
      ...machine,
      loadavg_at_start: loadAtStart,
    },
    runs: opts.runs,
    rates: opts.micro === "only" ? [] : opts.rates,
    duration_s: opts.durationS,
    connections: opts.connections,
    envoy_concurrency: opts.envoyConcurrency,
    quick: opts.quick,
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    tools: { node: process.versions.node, fortio: fortioV, opa_envoy_plugin: opaEnvoyV },
    sidecar_build: opts.fromSource ? "source" : "dist",
    scenarios: results,
    comparison,
    ...(parity ? { parity } : {}),
    goals: evaluateGoals(results, comparison, Array.isArray(micro) ? micro : undefined),
    ...(micro ? { micro } : {}),
    outputs: { table: "", plots: [] },
  };
  return renderSaved(report);
}

/** Table and plots again from a saved JSON report (e.g. after a change to the rendering). */
export function renderSaved(report: SuiteReport): SuiteOutput {
  const plots = report.rates.map((rate) => ({
    rate,
    svg: latencySvg(
      `Latency at ${rate} rps — medians of ${report.runs} run(s), Envoy ${report.envoy_version}`,
      report.scenarios.filter((r): r is ScenarioResult => !isSkipped(r) && r.rate === rate),
    ),
  }));
  return { report, markdown: markdownReport(report), plots };
}

/**
 * Writes the JSON, the markdown table and the SVGs; returns the report with the file names filled in,
 * relative to the JSON file's directory (so a committed report does not name the machine's paths).
 */
export function writeOutputs(out: SuiteOutput, jsonFile: string, outDir: string): SuiteReport {
  const table = path.join(outDir, "results.md");
  const plots = out.plots.map((p) => path.join(outDir, `latency-${p.rate}rps.svg`));
  for (const [i, p] of out.plots.entries()) writeFileSync(plots[i] as string, p.svg);
  const rel = (f: string) => path.relative(path.dirname(jsonFile), f);
  const report = { ...out.report, outputs: { table: rel(table), plots: plots.map(rel) } };
  writeFileSync(table, markdownReport(report));
  writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

/**
 * The soak: one scenario's stack under constant load for minutes, recording the server's resident memory
 * (and CPU) every few seconds and the latency per segment, so growth shows as a slope rather than as one
 * number after 15 s. The rate is a fraction (default 70 %) of what the stack serves flat out on this
 * machine, measured first with fortio at `-qps 0` over the same connections.
 *
 * Load runs as back-to-back fortio segments (default 30 s each): each gives exact percentiles from its
 * access log, and the gaps between them are milliseconds. RSS is sampled on a timer throughout, from
 * /proc, for the scenario's server process (and its Envoy).
 *
 * Growth is judged after the warm-up: `growth_mb` = median RSS of the last minute − median RSS of the
 * first minute after the warm-up, and `slope_mb_per_min` is the least-squares slope over the same span.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { envoyVersion } from "../envoy-config/index.ts";
import { buildDist } from "./dist.ts";
import { buildBenchBundles, REFERENCE_DECISION_PATH, REFERENCE_POLICY_FILES } from "./bundles.ts";
import { runLoadBeside } from "./load.ts";
import { lineChartSvg } from "./plot.ts";
import { cpuSeconds, machineDescription, rssMb } from "./procstat.ts";
import { CERT_HOSTS, SCENARIOS, writeRequestBodies } from "./scenarios.ts";
import { type Stack, startStacks } from "./stacks/index.ts";
import { makeBenchPki } from "./stacks/pki.ts";
import { findFortio, findOpaEnvoy, fortioVersion } from "./tools.ts";

export const DEFAULT_SOAK_SCENARIO = "hexr-sidecar-full";

export interface SoakOptions {
  scenario: string;
  /** Minutes of measured load after the warm-up. */
  minutes: number;
  /** Fraction of the measured maximum rate to hold (0 < f ≤ 1). */
  fraction: number;
  /** Hold this rate instead of measuring the maximum. */
  rate?: number;
  segmentS: number;
  sampleMs: number;
  warmupS: number;
  connections: number;
  envoyConcurrency: number;
  log: (line: string) => void;
}

export const SOAK_DEFAULTS = {
  scenario: DEFAULT_SOAK_SCENARIO,
  minutes: 10,
  fraction: 0.7,
  segmentS: 30,
  sampleMs: 2_000,
  warmupS: 30,
  connections: 4,
  envoyConcurrency: 1,
} as const satisfies Omit<SoakOptions, "log">;

export interface SoakSample {
  /** Seconds since the measured load began (negative during the warm-up). */
  t_s: number;
  server_rss_mb: number | null;
  envoy_rss_mb: number | null;
  /** Server CPU cores used since the previous sample. */
  server_cpu_cores: number | null;
}

export interface SoakSegment {
  start_s: number;
  end_s: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  achieved_rps: number;
  errors: number;
  background_rps?: number;
}

export interface SoakReport {
  scenario: string;
  summary: string;
  started_at: string;
  finished_at: string;
  machine: string;
  loadavg_at_start: number[];
  tools: { node: string; envoy: string; fortio: string };
  /** What the stack served flat out (fortio `-qps 0`, same connections), when measured. */
  max_rps: number | null;
  fraction: number | null;
  rate: number;
  minutes: number;
  connections: number;
  samples: SoakSample[];
  segments: SoakSegment[];
  rss: {
    idle_mb: number | null;
    first_minute_mb: number | null;
    last_minute_mb: number | null;
    growth_mb: number | null;
    slope_mb_per_min: number | null;
    max_mb: number | null;
  };
}

const median = (xs: readonly number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const round1 = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);

/** Least-squares slope of y over x; null with fewer than two distinct x. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number | null {
  const n = points.length;
  if (n < 2) return null;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

/** The growth figures from the samples of the measured span (t ≥ 0). */
export function rssGrowth(samples: readonly SoakSample[], minutes: number): Omit<SoakReport["rss"], "idle_mb"> {
  const pts = samples
    .filter((s) => s.t_s >= 0 && s.server_rss_mb !== null)
    .map((s) => [s.t_s, s.server_rss_mb as number] as const);
  const span = minutes * 60;
  const window = Math.min(60, span / 2);
  const first = median(pts.filter(([t]) => t < window).map(([, v]) => v));
  const last = median(pts.filter(([t]) => t >= span - window).map(([, v]) => v));
  const k = slope(pts);
  return {
    first_minute_mb: round1(first),
    last_minute_mb: round1(last),
    growth_mb: first !== null && last !== null ? round1(last - first) : null,
    slope_mb_per_min: k === null ? null : Math.round(k * 60 * 100) / 100,
    max_mb: pts.length ? round1(Math.max(...pts.map(([, v]) => v))) : null,
  };
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const s = SCENARIOS.find((x) => x.id === opts.scenario);
  if (!s) throw new Error(`unknown scenario '${opts.scenario}'`);
  const log = opts.log;
  const startedAt = new Date();
  const loadAtStart = loadavg().map((v) => Math.round(v * 100) / 100);
  const fortio = findFortio();
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-soak-"));
  const samples: SoakSample[] = [];
  const segments: SoakSegment[] = [];
  let stacks: Awaited<ReturnType<typeof startStacks>> | undefined;
  try {
    log(`prepare: policy bundles, certificates (${dir})`);
    const bundles = await buildBenchBundles(dir);
    const pki = await makeBenchPki(dir, CERT_HOSTS);
    log("build: scripts/build-dist.sh (tsc, ~15 s)");
    const dist = await buildDist(dir);
    stacks = await startStacks(new Set([s.stack]), {
      dist,
      dir,
      pki,
      fortio,
      opaEnvoy: s.stack === "opa-envoy-rbac" ? findOpaEnvoy() : "",
      bundles,
      referencePolicy: REFERENCE_POLICY_FILES,
      referencePath: REFERENCE_DECISION_PATH,
      bodies: writeRequestBodies(dir),
      envoyConcurrency: opts.envoyConcurrency,
      onStart: (what) => log(`start: ${what}`),
    });
    const stack = stacks.stacks.get(s.stack) as Stack;
    const serverPid = stack.server?.pid;
    const envoyPid = stack.envoy?.pid;
    const idle = serverPid === undefined ? null : round1(rssMb(serverPid) ?? null);
    log(`idle: server RSS ${idle ?? "–"} MB`);

    // sampled with wall-clock times; t = 0 is where the measured load begins (earlier samples are negative)
    const raw: Array<Omit<SoakSample, "t_s"> & { at: number }> = [];
    let t0 = 0;
    let lastCpu = serverPid === undefined ? undefined : cpuSeconds(serverPid);
    let lastAt = Date.now();
    const sample = () => {
      const now = Date.now();
      const cpu = serverPid === undefined ? undefined : cpuSeconds(serverPid);
      raw.push({
        at: now,
        server_rss_mb: serverPid === undefined ? null : round1(rssMb(serverPid) ?? null),
        envoy_rss_mb: envoyPid === undefined ? null : round1(rssMb(envoyPid) ?? null),
        server_cpu_cores:
          cpu !== undefined && lastCpu !== undefined
            ? Math.round(((cpu - lastCpu) / ((now - lastAt) / 1000)) * 100) / 100
            : null,
      });
      lastCpu = cpu;
      lastAt = now;
    };
    const timer = setInterval(sample, opts.sampleMs);
    const bg = s.background;
    const segment = (rate: number, durationS: number, tag: string) =>
      runLoadBeside(
        fortio,
        { ...stack.target(s.request), rate, durationS, connections: opts.connections },
        bg ? { ...stack.target(bg.request), rate: bg.rate, durationS, connections: bg.connections } : undefined,
        dir,
        tag,
      );
    try {
      let maxRps: number | null = null;
      let rate = opts.rate;
      if (rate === undefined) {
        log(`maximum: ${s.id} flat out for 10 s over ${opts.connections} connections`);
        const r = await segment(0, 10, "max");
        maxRps = r.load.achieved_rps;
        rate = Math.max(1, Math.round(maxRps * opts.fraction));
        log(`maximum ${maxRps} rps → soak at ${rate} rps (${Math.round(opts.fraction * 100)} %)`);
      }
      log(`warm-up: ${opts.warmupS} s at ${rate} rps`);
      await segment(rate, opts.warmupS, "warmup");
      t0 = Date.now();
      const total = opts.minutes * 60;
      for (let i = 0, at = 0; at < total - 0.5; i++) {
        const d = Math.min(opts.segmentS, total - at);
        const start = (Date.now() - t0) / 1000;
        const r = await segment(rate, d, `seg-${i}`);
        const end = (Date.now() - t0) / 1000;
        segments.push({
          start_s: Math.round(start * 10) / 10,
          end_s: Math.round(end * 10) / 10,
          p50_ms: r.load.p50_ms,
          p99_ms: r.load.p99_ms,
          p999_ms: r.load.p999_ms,
          achieved_rps: r.load.achieved_rps,
          errors: r.load.errors,
          ...(r.background ? { background_rps: r.background.achieved_rps } : {}),
        });
        const last = raw.at(-1);
        log(
          `[${Math.round(end)}/${total} s] p50 ${r.load.p50_ms} ms · p99 ${r.load.p99_ms} ms · ${r.load.achieved_rps} rps · ` +
            `${r.load.errors} errors · server RSS ${last?.server_rss_mb ?? "–"} MB`,
        );
        at += d;
      }
      sample();
      for (const { at, ...rest } of raw) samples.push({ t_s: Math.round((at - t0) / 100) / 10, ...rest });
      const [envoyV, fortioV] = await Promise.all([envoyVersion(), fortioVersion(fortio)]);
      const m = machineDescription();
      return {
        scenario: s.id,
        summary: s.summary,
        started_at: startedAt.toISOString(),
        finished_at: new Date().toISOString(),
        machine: `${m.cpu}, ${m.cores} cores, ${m.memory_gb} GB, Linux ${m.kernel}`,
        loadavg_at_start: loadAtStart,
        tools: { node: process.versions.node, envoy: envoyV, fortio: fortioV },
        max_rps: maxRps,
        fraction: maxRps === null ? null : opts.fraction,
        rate,
        minutes: opts.minutes,
        connections: opts.connections,
        samples,
        segments,
        rss: { idle_mb: idle, ...rssGrowth(samples, opts.minutes) },
      };
    } finally {
      clearInterval(timer);
    }
  } finally {
    await stacks?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The soak's markdown: what ran, the growth figures, and a row per segment. */
export function soakMarkdown(r: SoakReport, plots: readonly string[]): string {
  const f = (v: number | null, d = 1) => (v === null ? "–" : v.toFixed(d));
  const lines = [
    `# Soak: ${r.scenario}`,
    "",
    `${r.summary}. ${r.minutes} min at **${r.rate} rps**` +
      (r.max_rps !== null
        ? ` (${Math.round((r.fraction ?? 0) * 100)} % of the ${r.max_rps} rps it served flat out)`
        : "") +
      ` over ${r.connections} connections, ${r.started_at} – ${r.finished_at}. ${r.machine}; load average at start ` +
      `${r.loadavg_at_start.join(", ")}. Node ${r.tools.node}, Envoy ${r.tools.envoy}, fortio ${r.tools.fortio}.`,
    "",
    "| server RSS | MB |",
    "| --- | ---: |",
    `| idle, after start | ${f(r.rss.idle_mb)} |`,
    `| median, first minute | ${f(r.rss.first_minute_mb)} |`,
    `| median, last minute | ${f(r.rss.last_minute_mb)} |`,
    `| growth (last − first) | ${f(r.rss.growth_mb)} |`,
    `| slope, MB per minute | ${f(r.rss.slope_mb_per_min, 2)} |`,
    `| maximum | ${f(r.rss.max_mb)} |`,
    "",
    ...plots.map((p) => `![${p}](${p})`),
    "",
    "| segment s | p50 ms | p99 ms | p99.9 ms | achieved rps | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...r.segments.map(
      (g) =>
        `| ${Math.round(g.start_s)}–${Math.round(g.end_s)} | ${g.p50_ms.toFixed(3)} | ${g.p99_ms.toFixed(3)} | ` +
        `${g.p999_ms.toFixed(3)} | ${g.achieved_rps} | ${g.errors} |`,
    ),
    "",
  ];
  return lines.join("\n");
}

/** RSS over time (server and Envoy) and latency per segment, as two SVGs. */
export function soakPlots(r: SoakReport): { rss: string; latency: string } {
  const pts = (key: "server_rss_mb" | "envoy_rss_mb") =>
    r.samples.filter((s) => s[key] !== null).map((s) => [s.t_s / 60, s[key] as number] as const);
  const rss = lineChartSvg({
    title: `${r.scenario}: resident memory over ${r.minutes} min at ${r.rate} rps (warm-up before 0)`,
    xLabel: "minutes",
    yLabel: "RSS, MB",
    series: [
      { label: "sidecar RSS", color: "#1f77b4", points: pts("server_rss_mb") },
      { label: "Envoy RSS", color: "#7f7f7f", points: pts("envoy_rss_mb") },
    ],
  });
  const mid = (g: SoakSegment) => (g.start_s + g.end_s) / 2 / 60;
  const latency = lineChartSvg({
    title: `${r.scenario}: latency per ${Math.round((r.segments[0]?.end_s ?? 0) - (r.segments[0]?.start_s ?? 0))} s segment at ${r.rate} rps`,
    xLabel: "minutes",
    yLabel: "ms",
    series: [
      { label: "p50", color: "#1f77b4", points: r.segments.map((g) => [mid(g), g.p50_ms] as const) },
      { label: "p99", color: "#ff7f0e", points: r.segments.map((g) => [mid(g), g.p99_ms] as const) },
    ],
  });
  return { rss, latency };
}

/** `hexr bench`: the latency benchmark suite (bench/) against real Envoy, with the reference beside it. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SCENARIO_IDS, SCENARIOS } from "../../bench/scenarios.ts";
import { markdownReport } from "../../bench/report.ts";
import { FULL_OPTIONS, QUICK_OPTIONS, renderSaved, runSuite, writeOutputs } from "../../bench/suite.ts";
import type { SuiteOptions, SuiteReport } from "../../bench/types.ts";
import { runSoak, SOAK_DEFAULTS, soakMarkdown, soakPlots } from "../../bench/soak.ts";
import { type Command, parseFlags, UsageError } from "./command.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FULL_OUT = path.join(REPO_ROOT, "bench", "results");
const QUICK_OUT = path.join(REPO_ROOT, ".hexr", "bench-quick");
const SOAK_OUT = path.join(FULL_OUT, "soak");

const USAGE = `Usage: hexr bench [--quick] [--json FILE] [--out DIR] [--rates 500,1000] [--runs N] [--duration S]
                  [--warmup S] [--connections N] [--concurrency N] [--only ID,ID] [--micro | --no-micro]
                  [--profile DIR] [--from-source] [--from FILE]
       hexr bench --soak [--scenario ID] [--minutes M] [--fraction F | --rate R] [--segment S] [--out DIR]

Runs the benchmark scenarios against real Envoy (fortio constant-rate load, mTLS client certificates),
interleaved and repeated, side by side with opa-envoy-plugin, then the micro-benchmarks.
Writes JSON, a markdown table (results.md) and one latency SVG per rate; progress goes to stderr,
the markdown table to stdout.

Scenarios: ${SCENARIO_IDS.join(", ")}
(a scenario that cannot run is reported as "skipped" with the reason, never with made-up numbers).

Options:
  --quick            a minute or two (CI): ${QUICK_OPTIONS.rates.join(",")} rps, ${QUICK_OPTIONS.runs} run of ${QUICK_OPTIONS.durationS} s, short micro-benchmarks
  --json FILE        JSON report here (default: DIR/results.json)
  --out DIR          table and plots here (default: the --json file's directory, else
                     bench/results, or .hexr/bench-quick with --quick)
  --rates LIST       target rates, rps (default ${FULL_OPTIONS.rates.join(",")})
  --runs N           interleaved rounds; results are medians over them (default ${FULL_OPTIONS.runs})
  --duration S       seconds of load per measurement (default ${FULL_OPTIONS.durationS})
  --warmup S         unrecorded seconds per scenario before the first round (default ${FULL_OPTIONS.warmupS})
  --connections N    keep-alive connections the rate is spread over (default ${FULL_OPTIONS.connections})
  --concurrency N    Envoy worker threads, --concurrency (default ${FULL_OPTIONS.envoyConcurrency})
  --only LIST        only these scenario ids (baselines they need are added)
  --micro            only the micro-benchmarks (tinybench, bench/micro/*.bench.ts)
  --no-micro         skip the micro-benchmarks
  --profile DIR      write V8 CPU profiles (--cpu-prof) of our Node servers into DIR
                     (summarize one: node bench/profile-summary.ts FILE.cpuprofile)
  --from-source      run our sidecars from the TypeScript sources (default: the compiled build,
                     scripts/build-dist.sh, made fresh for the run: what an image runs)
  --from FILE        run nothing: write the table and plots again from a saved JSON report

Soak (--soak): one scenario's stack under constant load for minutes, its server's RSS sampled every
${SOAK_DEFAULTS.sampleMs / 1000} s and latency per segment; writes soak.json, soak.md, soak-rss.svg and soak-latency.svg
(default DIR bench/results/soak).
  --scenario ID      the scenario (default ${SOAK_DEFAULTS.scenario})
  --minutes M        measured minutes after a ${SOAK_DEFAULTS.warmupS} s warm-up (default ${SOAK_DEFAULTS.minutes})
  --fraction F       hold F × the rate the stack serves flat out, measured first (default ${SOAK_DEFAULTS.fraction})
  --rate R           hold R rps instead (no maximum measured)
  --segment S        seconds per fortio segment (default ${SOAK_DEFAULTS.segmentS})
  -h, --help         this help
`;

function positiveInt(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer`);
  return n;
}

function positiveNumber(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number`);
  return n;
}

const command: Command = {
  name: "bench",
  summary: "run latency benchmarks against real Envoy",
  usage: USAGE,
  async run(args) {
    const { values } = parseFlags(args, {
      quick: { type: "boolean" },
      json: { type: "string" },
      out: { type: "string" },
      rates: { type: "string" },
      runs: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      concurrency: { type: "string" },
      only: { type: "string" },
      micro: { type: "boolean" },
      "no-micro": { type: "boolean" },
      profile: { type: "string" },
      "from-source": { type: "boolean" },
      from: { type: "string" },
      soak: { type: "boolean" },
      scenario: { type: "string" },
      minutes: { type: "string" },
      fraction: { type: "string" },
      rate: { type: "string" },
      segment: { type: "string" },
    });
    const known = new Set<string>(SCENARIOS.map((s) => s.id));
    if (values.soak) {
      const scenario = values.scenario ?? SOAK_DEFAULTS.scenario;
      if (!known.has(scenario)) throw new UsageError(`--scenario: unknown scenario '${scenario}'`);
      const fraction = positiveNumber(values.fraction, "--fraction", SOAK_DEFAULTS.fraction);
      if (fraction > 1) throw new UsageError("--fraction must be at most 1");
      const report = await runSoak({
        ...SOAK_DEFAULTS,
        scenario,
        minutes: positiveNumber(values.minutes, "--minutes", SOAK_DEFAULTS.minutes),
        fraction,
        ...(values.rate !== undefined ? { rate: positiveInt(values.rate, "--rate", 1) } : {}),
        segmentS: positiveNumber(values.segment, "--segment", SOAK_DEFAULTS.segmentS),
        warmupS: positiveNumber(values.warmup, "--warmup", SOAK_DEFAULTS.warmupS),
        connections: positiveInt(values.connections, "--connections", SOAK_DEFAULTS.connections),
        envoyConcurrency: positiveInt(values.concurrency, "--concurrency", SOAK_DEFAULTS.envoyConcurrency),
        log: (line) => process.stderr.write(`hexr bench: soak: ${line}\n`),
      });
      const outDir = path.resolve(values.out ?? SOAK_OUT);
      mkdirSync(outDir, { recursive: true });
      const plots = soakPlots(report);
      writeFileSync(path.join(outDir, "soak-rss.svg"), plots.rss);
      writeFileSync(path.join(outDir, "soak-latency.svg"), plots.latency);
      writeFileSync(path.join(outDir, "soak.json"), `${JSON.stringify(report, null, 2)}\n`);
      const md = soakMarkdown(report, ["soak-rss.svg", "soak-latency.svg"]);
      writeFileSync(path.join(outDir, "soak.md"), md);
      process.stdout.write(md);
      process.stderr.write(`hexr bench: wrote soak.json, soak.md, soak-rss.svg, soak-latency.svg in ${outDir}\n`);
      return 0;
    }
    for (const f of ["scenario", "minutes", "fraction", "rate", "segment"] as const)
      if (values[f] !== undefined) throw new UsageError(`--${f} applies to --soak only`);
    if (values.micro && values["no-micro"]) throw new UsageError("--micro and --no-micro exclude each other");
    const base = values.quick ? QUICK_OPTIONS : FULL_OPTIONS;
    const rates = values.rates
      ? values.rates.split(",").map((r) => positiveInt(r.trim(), "--rates", 0))
      : [...base.rates];
    const only = values.only?.split(",").map((s) => s.trim());
    for (const id of only ?? []) if (!known.has(id)) throw new UsageError(`--only: unknown scenario '${id}'`);
    const opts: SuiteOptions = {
      ...base,
      rates,
      runs: positiveInt(values.runs, "--runs", base.runs),
      durationS: positiveNumber(values.duration, "--duration", base.durationS),
      warmupS: positiveNumber(values.warmup, "--warmup", base.warmupS),
      connections: positiveInt(values.connections, "--connections", base.connections),
      envoyConcurrency: positiveInt(values.concurrency, "--concurrency", base.envoyConcurrency),
      micro: values.micro ? "only" : !values["no-micro"],
      ...(only ? { only } : {}),
      ...(values.profile ? { profileDir: path.resolve(values.profile) } : {}),
      ...(values["from-source"] ? { fromSource: true } : {}),
      log: (line) => process.stderr.write(`hexr bench: ${line}\n`),
    };
    const outDir = path.resolve(
      values.out ?? (values.json ? path.dirname(path.resolve(values.json)) : values.quick ? QUICK_OUT : FULL_OUT),
    );
    const jsonFile = path.resolve(values.json ?? path.join(outDir, "results.json"));
    mkdirSync(outDir, { recursive: true });
    mkdirSync(path.dirname(jsonFile), { recursive: true });
    if (opts.profileDir) mkdirSync(opts.profileDir, { recursive: true });

    const out = values.from
      ? renderSaved(JSON.parse(readFileSync(values.from, "utf8")) as SuiteReport)
      : await runSuite(opts);
    const report = writeOutputs(out, jsonFile, outDir);
    process.stdout.write(markdownReport(report));
    const written = [report.outputs.table, ...report.outputs.plots].map((f) => path.resolve(path.dirname(jsonFile), f));
    process.stderr.write(`hexr bench: wrote ${[jsonFile, ...written].join(", ")}\n`);
    return 0;
  },
};
export default command;

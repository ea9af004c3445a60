/** `hexr bench`: the latency benchmark suite (bench/) against real Envoy, with the reference beside it. */
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SCENARIO_IDS, SCENARIOS } from "../../bench/scenarios.ts";
import { markdownReport } from "../../bench/report.ts";
import { FULL_OPTIONS, QUICK_OPTIONS, renderSaved, runSuite, writeOutputs } from "../../bench/suite.ts";
import type { SuiteOptions, SuiteReport } from "../../bench/types.ts";
import { type Command, parseFlags, UsageError } from "./command.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FULL_OUT = path.join(REPO_ROOT, "bench", "results");
const QUICK_OUT = path.join(REPO_ROOT, ".hexr", "bench-quick");

const USAGE = `Usage: hexr bench [--quick] [--json FILE] [--out DIR] [--rates 500,1000] [--runs N] [--duration S]
                  [--warmup S] [--connections N] [--concurrency N] [--only ID,ID] [--micro | --no-micro]
                  [--profile DIR] [--from FILE]

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
  --from FILE        run nothing: write the table and plots again from a saved JSON report
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
      from: { type: "string" },
    });
    if (values.micro && values["no-micro"]) throw new UsageError("--micro and --no-micro exclude each other");
    const base = values.quick ? QUICK_OPTIONS : FULL_OPTIONS;
    const rates = values.rates
      ? values.rates.split(",").map((r) => positiveInt(r.trim(), "--rates", 0))
      : [...base.rates];
    const only = values.only?.split(",").map((s) => s.trim());
    const known = new Set<string>(SCENARIOS.map((s) => s.id));
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

/**
 * Runs every `bench/micro/*.bench.ts` (see harness.ts for the contract) with tinybench and reports mean
 * and p99 per function in microseconds. A file that does not follow the contract is reported, not fatal.
 * Standalone scripts (no default export, e.g. guard.bench.ts, which runs itself and prints `console.table`
 * with `mean µs` / `p99 µs` columns) run in a child process with `HEXR_BENCH_TIME` and their table is read.
 *
 * Usage: node bench/micro/run.ts [--time MS] [--json FILE] [--only NAME]    (or `bin/hexr bench --micro`)
 *   --only NAME  just the files whose name contains NAME (e.g. `credentials`)
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { Bench } from "tinybench";
import { buildBenchBundles } from "../bundles.ts";
import type { MicroResult } from "../types.ts";
import type { MicroContext, MicroSuite } from "./harness.ts";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
export const DEFAULT_MICRO_TIME_MS = 1_000;

export interface MicroRun {
  results: MicroResult[];
  /** Files that could not run, with the reason. */
  problems: Array<{ file: string; error: string }>;
}

export function microFiles(dir = HERE): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".bench.ts"))
    .sort()
    .map((f) => path.join(dir, f));
}

export async function runMicro(
  opts: { timeMs?: number; log?: (line: string) => void; only?: string } = {},
): Promise<MicroRun> {
  const timeMs = opts.timeMs ?? DEFAULT_MICRO_TIME_MS;
  const log = opts.log ?? (() => undefined);
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-micro-"));
  const results: MicroResult[] = [];
  const problems: MicroRun["problems"] = [];
  try {
    const { rbac } = await buildBenchBundles(dir);
    const ctx: MicroContext = { rbacBundle: rbac };
    for (const file of microFiles().filter(
      (f) => opts.only === undefined || path.basename(f).includes(opts.only as string),
    )) {
      const name = path.basename(file);
      try {
        if (!/^export default /m.test(readFileSync(file, "utf8"))) {
          log(`micro: ${name} (standalone script)`);
          results.push(...(await runStandalone(file, timeMs)));
          continue;
        }
        const mod = (await import(file)) as { default?: unknown };
        if (typeof mod.default !== "function") {
          problems.push({ file: name, error: "no default export registering tasks (see bench/micro/harness.ts)" });
          continue;
        }
        const bench = new Bench({ name, time: timeMs, warmupTime: Math.max(50, timeMs / 4), throws: true });
        await (mod.default as MicroSuite)(bench, ctx);
        log(`micro: ${name} (${bench.tasks.length} functions)`);
        await bench.run();
        for (const task of bench.tasks) {
          const r = task.result;
          if (r.state !== "completed") {
            problems.push({ file: name, error: `${task.name}: ${r.state === "errored" ? r.error.message : r.state}` });
            continue;
          }
          results.push({
            name: task.name,
            file: name,
            mean_us: Math.round(r.latency.mean * 1e5) / 100,
            p99_us: Math.round(r.latency.p99 * 1e5) / 100,
            samples: r.latency.samplesCount,
          });
        }
      } catch (e) {
        problems.push({ file: name, error: (e as Error).message.split("\n")[0] ?? "failed" });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { results, problems };
}

/** Rows of a `console.table` printed by a standalone bench script: name, `mean µs`, `p99 µs`, samples. */
export function parseConsoleTable(text: string, file: string): MicroResult[] {
  const rows = text
    .split("\n")
    .filter((l) => l.startsWith("│"))
    .map((l) =>
      l
        .split("│")
        .slice(1, -1)
        .map((c) => c.trim().replace(/^'(.*)'$/, "$1")),
    );
  const header = rows[0];
  if (!header) return [];
  const col = (name: string) => header.indexOf(name);
  const [iName, iMean, iP99, iSamples] = [col("task"), col("mean µs"), col("p99 µs"), col("samples")];
  if (iName < 0 || iMean < 0 || iP99 < 0) return [];
  return rows.slice(1).map((r) => ({
    name: r[iName] ?? "",
    file,
    mean_us: Number(r[iMean]),
    p99_us: Number(r[iP99]),
    samples: iSamples < 0 ? 0 : Number(r[iSamples]),
  }));
}

async function runStandalone(file: string, timeMs: number): Promise<MicroResult[]> {
  const { stdout } = await run(process.execPath, ["--disable-warning=ExperimentalWarning", file], {
    env: { ...process.env, HEXR_BENCH_TIME: String(timeMs) },
    maxBuffer: 8 << 20,
    timeout: 10 * 60_000,
  });
  const results = parseConsoleTable(stdout, path.basename(file));
  if (results.length === 0) throw new Error("standalone script printed no table with task / mean µs / p99 µs columns");
  return results;
}

export function microTable(run: MicroRun): string {
  const width = Math.max(8, ...run.results.map((r) => r.name.length));
  const lines = [`${"function".padEnd(width)}  ${"mean µs".padStart(10)}  ${"p99 µs".padStart(10)}  samples`];
  for (const r of run.results) {
    lines.push(
      `${r.name.padEnd(width)}  ${r.mean_us.toFixed(2).padStart(10)}  ${r.p99_us.toFixed(2).padStart(10)}  ${r.samples}`,
    );
  }
  for (const p of run.problems) lines.push(`(${p.file}: ${p.error})`);
  return `${lines.join("\n")}\n`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { time: { type: "string" }, json: { type: "string" }, only: { type: "string" } },
  });
  const run = await runMicro({
    timeMs: values.time ? Number(values.time) : DEFAULT_MICRO_TIME_MS,
    ...(values.only ? { only: values.only } : {}),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(microTable(run));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(run, null, 2)}\n`);
}

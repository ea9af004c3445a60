/**
 * Summarizes a V8 `.cpuprofile` (from `hexr bench --profile DIR`): self time by function and by
 * source (our files by path, dependencies by package), and total time under functions of interest.
 *
 * Usage: node bench/profile-summary.ts FILE.cpuprofile [--top N] [--under REGEX]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** `node_modules/@grpc/grpc-js/...` → `@grpc/grpc-js`; our files by repo path; `(program)` etc. as is. */
export function sourceOf(url: string): string {
  if (!url) return "(native / VM)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm !== -1) {
    const parts = url.slice(nm + 13).split("/");
    return parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  if (url.startsWith("node:")) return url;
  const repo = url.indexOf("/work/main/");
  return repo !== -1 ? url.slice(repo + 11) : url.replace(/^file:\/\//, "");
}

export interface ProfileSummary {
  totalMs: number;
  byFunction: Array<{ name: string; ms: number }>;
  bySource: Array<{ name: string; ms: number }>;
  under: Array<{ name: string; ms: number }>;
}

export function summarizeProfile(p: CpuProfile, underPattern?: RegExp): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (const [i, id] of p.samples.entries()) self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  const fn = new Map<string, number>();
  const src = new Map<string, number>();
  const under = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    total += ms;
    const f = node.callFrame;
    const where = sourceOf(f.url);
    const name = `${f.functionName || "(anonymous)"} ${where}${f.url ? `:${f.lineNumber + 1}` : ""}`;
    fn.set(name, (fn.get(name) ?? 0) + ms);
    src.set(where, (src.get(where) ?? 0) + ms);
    if (underPattern) {
      // attribute this sample to the outermost matching ancestor (inclusive time)
      let hit: string | undefined;
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const cf = byId.get(cur)?.callFrame;
        if (cf && underPattern.test(`${cf.functionName} ${cf.url}`)) hit = `${cf.functionName} ${sourceOf(cf.url)}`;
      }
      if (hit) under.set(hit, (under.get(hit) ?? 0) + ms);
    }
  }
  const sorted = (m: Map<string, number>) =>
    [...m.entries()].map(([name, ms]) => ({ name, ms: Math.round(ms) })).sort((a, b) => b.ms - a.ms);
  return { totalMs: Math.round(total), byFunction: sorted(fn), bySource: sorted(src), under: sorted(under) };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    options: { top: { type: "string" }, under: { type: "string" } },
    allowPositionals: true,
  });
  const file = positionals[0];
  if (!file) {
    process.stderr.write("usage: profile-summary.ts FILE.cpuprofile [--top N] [--under REGEX]\n");
    process.exit(2);
  }
  const top = Number(values.top ?? 25);
  const s = summarizeProfile(
    JSON.parse(readFileSync(file, "utf8")) as CpuProfile,
    values.under ? new RegExp(values.under) : undefined,
  );
  const pct = (ms: number) => `${((100 * ms) / s.totalMs).toFixed(1).padStart(5)} %`;
  const print = (title: string, rows: Array<{ name: string; ms: number }>) => {
    process.stdout.write(`\n${title}\n`);
    for (const r of rows.slice(0, top))
      process.stdout.write(`${pct(r.ms)} ${String(r.ms).padStart(7)} ms  ${r.name}\n`);
  };
  process.stdout.write(`total sampled: ${s.totalMs} ms\n`);
  print("self time by source", s.bySource);
  print("self time by function", s.byFunction);
  if (values.under) print(`inclusive time under /${values.under}/`, s.under);
}

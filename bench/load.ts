/**
 * One constant-rate load run with fortio: `-qps` spread uniformly over a few keep-alive connections,
 * no catch-up bursts after a stall (`-nocatchup`), mTLS with a client certificate when the target is
 * Envoy. Latency percentiles are computed exactly from fortio's per-request access log (microsecond
 * resolution) rather than its bucketed histogram; rate and status codes come from its JSON result.
 */
import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
/** fortio's per-request timeout; far above any latency we expect, so slow requests count as slow, not lost. */
const REQUEST_TIMEOUT = "5s";

export interface LoadTarget {
  /** Full URL; with `resolve`, the host part is what TLS (SNI, certificate check) and Envoy routing see. */
  url: string;
  method: "GET" | "PUT" | "POST";
  /** Connect here instead of resolving the URL's host (fortio `-resolve`). */
  resolve?: string;
  tls?: { cert: string; key: string; ca: string };
  body?: { file: string; contentType: string };
}

export interface LoadSpec extends LoadTarget {
  rate: number;
  durationS: number;
  connections: number;
  /** Background load whose answers may be refusals (the guard blocks some prompts): fortio must not abort on them. */
  allowErrors?: boolean;
}

export interface LoadResult {
  requests: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  achieved_rps: number;
  /** Requests that did not get a 200 (non-200 statuses and socket errors, which fortio counts as -1). */
  errors: number;
  codes: Record<string, number>;
  /** Wall seconds the run took, as fortio measured it. */
  duration_s: number;
}

interface FortioJson {
  ActualQPS?: number;
  ActualDuration?: number;
  RetCodes?: Record<string, number>;
}

/** Nearest-rank percentile of sorted values (`p` in 0..100). */
export function percentile(sorted: Float64Array | readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** Latencies (seconds) from fortio's JSON access log: one `{"latency": s, ...}` object per line. */
export function parseAccessLog(text: string): Float64Array {
  const lines = text.split("\n");
  const out = new Float64Array(lines.length);
  let n = 0;
  for (const line of lines) {
    if (line.length === 0) continue;
    const i = line.indexOf('"latency":');
    if (i === -1) continue;
    const v = Number.parseFloat(line.slice(i + 10));
    if (Number.isFinite(v)) out[n++] = v;
  }
  return out.subarray(0, n).sort();
}

function fortioArgs(spec: LoadSpec, jsonFile: string, accessLog: string): string[] {
  const args = [
    "load",
    "-qps",
    String(spec.rate),
    "-c",
    String(spec.connections),
    "-t",
    `${spec.durationS}s`,
    "-nocatchup",
    "-uniform",
    "-r",
    "0.00001",
    "-timeout",
    REQUEST_TIMEOUT,
    "-loglevel",
    "Error",
    "-json",
    jsonFile,
    "-access-log-file",
    accessLog,
    "-access-log-format",
    "json",
  ];
  if (spec.allowErrors) args.push("-allow-initial-errors");
  if (spec.resolve) args.push("-resolve", spec.resolve);
  if (spec.tls) args.push("-cert", spec.tls.cert, "-key", spec.tls.key, "-cacert", spec.tls.ca);
  if (spec.body) args.push("-payload-file", spec.body.file, "-content-type", spec.body.contentType);
  if (spec.method !== (spec.body ? "POST" : "GET")) args.push("-X", spec.method);
  args.push(spec.url);
  return args;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

export async function runLoad(fortio: string, spec: LoadSpec, workDir: string, tag: string): Promise<LoadResult> {
  const jsonFile = path.join(workDir, `${tag}.json`);
  const accessLog = path.join(workDir, `${tag}.access.jsonl`);
  try {
    await run(fortio, fortioArgs(spec, jsonFile, accessLog), {
      maxBuffer: 16 << 20,
      timeout: (spec.durationS + 60) * 1000,
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`fortio failed for ${spec.url}: ${(err.stderr ?? err.message).slice(-2000)}`);
  }
  const result = JSON.parse(readFileSync(jsonFile, "utf8")) as FortioJson;
  const latencies = parseAccessLog(readFileSync(accessLog, "utf8"));
  rmSync(accessLog, { force: true });
  rmSync(jsonFile, { force: true });
  const codes = result.RetCodes ?? {};
  let total = 0;
  for (const n of Object.values(codes)) total += n;
  const ms = (p: number) => round3(percentile(latencies, p) * 1000);
  return {
    requests: total,
    p50_ms: ms(50),
    p90_ms: ms(90),
    p99_ms: ms(99),
    p999_ms: ms(99.9),
    max_ms: latencies.length ? round3((latencies[latencies.length - 1] as number) * 1000) : Number.NaN,
    achieved_rps: Math.round((result.ActualQPS ?? 0) * 10) / 10,
    errors: total - (codes["200"] ?? 0),
    codes,
    duration_s: (result.ActualDuration ?? 0) / 1e9,
  };
}

/**
 * `spec` measured while `background` (not measured; its refusals allowed) runs beside it on the same stack,
 * both started together. What the suite's and the soak's scenarios with background load run.
 */
export async function runLoadBeside(
  fortio: string,
  spec: LoadSpec,
  background: Omit<LoadSpec, "allowErrors"> | undefined,
  workDir: string,
  tag: string,
): Promise<{ load: LoadResult; background?: LoadResult }> {
  const bg = background
    ? runLoad(fortio, { ...background, allowErrors: true }, workDir, `${tag}-background`)
    : undefined;
  const load = await runLoad(fortio, spec, workDir, tag);
  const b = await bg;
  return { load, ...(b ? { background: b } : {}) };
}

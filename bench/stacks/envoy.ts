/**
 * Envoy for benchmarking: the product's own sidecar bootstrap (`renderSidecarBootstrap`: mTLS outbound
 * listener with client certificates required, ext_authz → ext_proc → router, open circuit breakers), with
 * only what a benchmark must change:
 *  - worker threads set explicitly (`--concurrency`),
 *  - access log off and stats trimmed to the few counters the suite reads (sanity checks),
 *  - the ext_authz filter removed for scenarios that measure Envoy without it.
 * Every scenario's Envoy is rendered from the same options except the authz/ext_proc target.
 */
import {
  EXT_AUTHZ_FILTER,
  type EnvoyBootstrap,
  type GrpcTarget,
  type JsonObject,
  renderSidecarBootstrap,
  type UpstreamOptions,
} from "../../envoy-config/index.ts";
import type { TracingOptions } from "../../envoy-config/types.ts";
import { type RunningEnvoy, startEnvoy } from "../../envoy-config/runner.ts";
import { DEFAULT_AUTHZ_CLUSTER } from "../../envoy-config/defaults.ts";
import type { BenchPki } from "./pki.ts";

/** Stat name prefixes kept: request totals and the ext_authz / ext_proc outcome counters. */
const KEPT_STAT_PREFIXES = ["http.outbound.downstream_rq_", "http.outbound.ext_authz.", "http.outbound.ext_proc."];
/** Per-Check deadline. Envoy's product default (250 ms) is kept: a slower answer is an error, as in production. */
export const BENCH_AUTHZ_TIMEOUT_MS = 250;

export interface BenchEnvoySpec {
  pki: BenchPki;
  upstreams: UpstreamOptions[];
  /** ext_authz server; omitted → no ext_authz filter at all. */
  authz?: GrpcTarget;
  /** ext_proc server; omitted → no ext_proc filter. */
  extProc?: GrpcTarget;
  concurrency: number;
  /** Envoy's OpenTelemetry tracer (the tracing scenarios). */
  tracing?: TracingOptions;
}

function stripAuthz(b: EnvoyBootstrap): void {
  for (const l of b.static_resources.listeners) {
    for (const chain of l.filter_chains as JsonObject[]) {
      for (const f of chain.filters as JsonObject[]) {
        const hcm = f.typed_config as JsonObject;
        hcm.http_filters = (hcm.http_filters as JsonObject[]).filter((h) => h.name !== EXT_AUTHZ_FILTER);
        const vhosts = (hcm.route_config as JsonObject).virtual_hosts as JsonObject[];
        for (const vh of vhosts) {
          const per = vh.typed_per_filter_config as JsonObject | undefined;
          if (per) delete per[EXT_AUTHZ_FILTER];
        }
      }
    }
  }
  b.static_resources.clusters = b.static_resources.clusters.filter((c) => c.name !== DEFAULT_AUTHZ_CLUSTER);
}

export function benchBootstrap(spec: BenchEnvoySpec): EnvoyBootstrap {
  const b = renderSidecarBootstrap({
    tls: { mode: "files", certChain: spec.pki.envoy.cert, privateKey: spec.pki.envoy.key, clientCa: spec.pki.caFile },
    outbound: { address: "127.0.0.1", port: 0 },
    // a placeholder target when the scenario has no authz: the filter and its cluster are removed below
    authz: { ...(spec.authz ?? { socket: "/nonexistent/authz.sock" }), timeoutMs: BENCH_AUTHZ_TIMEOUT_MS },
    ...(spec.extProc ? { extProc: spec.extProc } : {}),
    upstreams: spec.upstreams,
    concurrency: spec.concurrency,
    accessLog: false,
    ...(spec.tracing ? { tracing: spec.tracing } : {}),
  });
  if (!spec.authz) stripAuthz(b);
  b.stats_config = {
    stats_matcher: { inclusion_list: { patterns: KEPT_STAT_PREFIXES.map((prefix) => ({ prefix })) } },
  };
  return b;
}

export interface BenchEnvoy {
  envoy: RunningEnvoy;
  port: number;
  pid: number;
  /** Counter values whose names start with `prefix`. */
  counters(prefix: string): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export async function startBenchEnvoy(spec: BenchEnvoySpec): Promise<BenchEnvoy> {
  const envoy = await startEnvoy(benchBootstrap(spec), { concurrency: spec.concurrency, logLevel: "error" });
  const port = envoy.ports.outbound;
  if (!port || envoy.proc.pid === undefined) {
    await envoy.stop();
    throw new Error(`bench envoy has no outbound listener: ${JSON.stringify(envoy.ports)}`);
  }
  return {
    envoy,
    port,
    pid: envoy.proc.pid,
    async counters(prefix) {
      const r = await fetch(`${envoy.adminUrl}/stats?format=json&usedonly&filter=${encodeURIComponent(`^${prefix}`)}`);
      const body = (await r.json()) as { stats?: Array<{ name?: string; value?: number }> };
      const out: Record<string, number> = {};
      for (const s of body.stats ?? []) if (s.name && typeof s.value === "number") out[s.name] = s.value;
      return out;
    },
    stop: () => envoy.stop(),
  };
}

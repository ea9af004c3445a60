/**
 * The whole ext_authz pipeline for one allowed request, as the sidecar runs it: identity (cached
 * certificate), catalog, rate counter, input, decision cache, OPA-WASM, audit line, CheckResponse.
 * The rate fact changes on every call, so the decision cache misses, as it does under real traffic.
 */
import { Writable } from "node:stream";
import { DecisionCache, DEFAULT_CATALOG, RateCounter, ServiceCatalog } from "../../filters/authz/index.ts";
import { JsonLinesAudit } from "../../sidecars/authz/audit.ts";
import { decodeCheckRequest, encodeCheckResponse } from "../../sidecars/authz/codec.ts";
import { AuthzPipeline, type AuthzPipelineDeps } from "../../sidecars/authz/pipeline.ts";
import { authorizationService } from "../../sidecars/envoy-protos.ts";
import { authzMetrics } from "../../filters/telemetry/catalog.ts";
import { Registry } from "../../filters/telemetry/metrics.ts";
import { AuthzTelemetry } from "../../sidecars/telemetry/authz.ts";
import { Tracing } from "../../sidecars/telemetry/tracing.ts";
import {
  envoyCertificates,
  envoyRequestHeaders,
  loadRbacEngine,
  type MicroSuite,
  TRUST_DOMAIN,
  WRITER,
} from "./harness.ts";

const HOST = "s3.amazonaws.com";
const PATH = "/drafts/reports/object.txt";

const suite: MicroSuite = async (bench, ctx) => {
  const engine = await loadRbacEngine(ctx);
  const [cert] = await envoyCertificates([WRITER]);
  const snapshot = { engine, revision: "bench", generation: 1 };
  // audit lines are built and serialized, then dropped (the sidecar under benchmark writes them to /dev/null)
  const sink = new Writable({ write: (_chunk, _enc, cb) => cb() });
  const deps: AuthzPipelineDeps = {
    trustDomains: new Set([TRUST_DOMAIN]),
    policy: { current: () => snapshot },
    catalog: ServiceCatalog.compile(DEFAULT_CATALOG),
    rate: new RateCounter(),
    cache: new DecisionCache(),
    audit: new JsonLinesAudit(sink),
  };
  const pipeline = new AuthzPipeline(deps);
  // the same with the decision metrics the sidecar always records, and with a span per Check (100 %
  // sampled, exported to an exporter that drops the batch: the hot-path share of tracing)
  const metered = new AuthzPipeline({
    ...deps,
    telemetry: new AuthzTelemetry(authzMetrics(new Registry(), { agentLabels: false }), undefined),
  });
  const tracing = Tracing.start(
    {
      endpoint: "http://127.0.0.1:9",
      ratio: 1,
      serviceName: "bench",
      maxQueue: 4096,
      maxBatch: 512,
      flushIntervalMs: 1000,
      exportTimeoutMs: 100,
    },
    undefined,
    { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() },
  );
  const traced = new AuthzPipeline({
    ...deps,
    telemetry: new AuthzTelemetry(authzMetrics(new Registry(), { agentLabels: false }), tracing),
  });
  const request = {
    attributes: {
      source: { principal: WRITER, certificate: cert! },
      request: { http: { method: "PUT", host: HOST, path: PATH, headers: envoyRequestHeaders(HOST, "PUT", PATH) } },
      context_extensions: { "hexr.direction": "outbound", "hexr.upstream": "echo" },
    },
  };
  const first = pipeline.check(request) as { status?: { code?: number } };
  if ((first.status?.code ?? 0) !== 0) throw new Error(`bench request is not allowed: ${JSON.stringify(first)}`);
  // the wire hop's own share: the request as Envoy sends it (proto-loader encodes it once, here), decoded
  // and the allow answered by the sidecar's codec
  const wire = (
    authorizationService().service.Check as unknown as { requestSerialize(v: unknown): Buffer }
  ).requestSerialize(request);
  bench.add("codec: decode the CheckRequest (certificate, ~20 headers)", () => {
    decodeCheckRequest(wire);
  });
  bench.add("codec: encode the allow CheckResponse", () => {
    encodeCheckResponse(first as never);
  });
  const parent = { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" };
  bench.add("AuthzPipeline.check (allowed request)", () => {
    pipeline.check(request);
  });
  bench.add("AuthzPipeline.check + decision metrics", () => {
    metered.check(request);
  });
  bench.add("AuthzPipeline.check + metrics + a sampled span", () => {
    traced.check(request, parent);
  });
};
export default suite;

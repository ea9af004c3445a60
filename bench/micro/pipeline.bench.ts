/**
 * The whole ext_authz pipeline for one allowed request, as the sidecar runs it: identity (cached
 * certificate), catalog, rate counter, input, decision cache, OPA-WASM, audit line, CheckResponse.
 * The rate fact changes on every call, so the decision cache misses, as it does under real traffic.
 */
import { Writable } from "node:stream";
import { DecisionCache, DEFAULT_CATALOG, RateCounter, ServiceCatalog } from "../../filters/authz/index.ts";
import { JsonLinesAudit } from "../../sidecars/authz/audit.ts";
import { AuthzPipeline } from "../../sidecars/authz/pipeline.ts";
import {
  envoyCertificates,
  envoyRequestHeaders,
  loadRbacEngine,
  type MicroSuite,
  TRUST_DOMAIN,
  WRITER,
} from "./harness.ts";

const HOST = "s3.amazonaws.com";
const PATH = "/bench-bucket/reports/object.txt";

const suite: MicroSuite = async (bench, ctx) => {
  const engine = await loadRbacEngine(ctx);
  const [cert] = await envoyCertificates([WRITER]);
  const snapshot = { engine, revision: "bench", generation: 1 };
  // audit lines are built and serialized, then dropped (the sidecar under benchmark writes them to /dev/null)
  const sink = new Writable({ write: (_chunk, _enc, cb) => cb() });
  const pipeline = new AuthzPipeline({
    trustDomains: new Set([TRUST_DOMAIN]),
    policy: { current: () => snapshot },
    catalog: ServiceCatalog.compile(DEFAULT_CATALOG),
    rate: new RateCounter(),
    cache: new DecisionCache(),
    audit: new JsonLinesAudit(sink),
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
  bench.add("AuthzPipeline.check (allowed request)", () => {
    pipeline.check(request);
  });
};
export default suite;

/**
 * The policy stages: request headers → policy input, service resolution, OPA-WASM evaluation of the seed's
 * role policy (compiled by `opa build -t wasm`), and the decision cache.
 */
import {
  allowListHeaders,
  buildInput,
  DecisionCache,
  DEFAULT_CATALOG,
  decisionCacheKey,
  ServiceCatalog,
} from "../../filters/authz/index.ts";
import { envoyRequestHeaders, loadRbacEngine, type MicroSuite, WRITER } from "./harness.ts";

const HOST = "s3.amazonaws.com";
const PATH = "/drafts/reports/object.txt";

const suite: MicroSuite = async (bench, ctx) => {
  const engine = await loadRbacEngine(ctx);
  const catalog = ServiceCatalog.compile(DEFAULT_CATALOG);
  const headers = envoyRequestHeaders(HOST, "PUT", PATH);
  const principal = { spiffeId: WRITER, tenant: "acme-corp", agent: "content-crew", role: "writer" };
  let calls = 0;
  const facts = () => ({
    principal,
    service: "aws_s3",
    action: "s3:PutObject",
    method: "PUT",
    host: HOST,
    path: PATH,
    headers: allowListHeaders(headers),
    now: Date.now(),
    callsLastMinute: (calls = (calls % 90) + 1),
  });

  bench.add("catalog: method/host/path → service, action", () => {
    catalog.classify("PUT", HOST, PATH, headers);
  });
  const copyHeaders = { ...headers, "x-amz-copy-source": "templates/2026/base.txt", "x-amz-acl": "private" };
  bench.add("catalog: CopyObject with ACL header (subresource, copy source, resource facts)", () => {
    catalog.classify("PUT", HOST, `${PATH}?x-id=CopyObject`, copyHeaders);
  });
  bench.add("input: allow-listed headers + policy input", () => {
    buildInput(facts());
  });

  const input = buildInput(facts());
  const first = engine.evaluate(input);
  if (!first.allow) throw new Error(`bench input is not allowed by the rbac policy: ${first.reasons.join("; ")}`);
  bench.add("policy.evaluate (no cache)", () => {
    engine.evaluate(input);
  });

  const cache = new DecisionCache();
  cache.set(decisionCacheKey(1, input), first);
  bench.add("policy: decision cache hit (key + lookup)", () => {
    cache.get(decisionCacheKey(1, input));
  });
};
export default suite;

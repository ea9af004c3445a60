/**
 * The `a2a` section of the sidecar config: inbound agent-to-agent calls (see sidecars/a2a/inbound.ts).
 *
 *   a2a:
 *     target: spiffe://hexr.cloud/agent/acme-corp/content-crew/writer
 *     rest_base: /a2a/rest
 *     jsonrpc_path: /a2a/jsonrpc           # the exact path of the agent's JSON-RPC interface (default /)
 *     allow_grpc: false                    # the gRPC binding's bodies are not inspected: refused unless set
 *     schemas: /opt/hexr/a2a-schemas       # default $HEXR_A2A_SCHEMAS (built by scripts/setup.sh)
 *     public_url: https://writer.acme.example   # agent cards served through the proxy advertise it
 *     chain: { signers: [spiffe://hexr.cloud/hexr/authz], max_depth: 8, ttl_seconds: 60 }
 *     limits: { max_parts: 64, max_part_chars: 262144, max_data_depth: 32 }
 */
import { bool, fail, int, obj, onlyKeys, spiffeId, str } from "../config-fields.ts";

export interface A2aConfig {
  readonly target: string;
  readonly restBase?: string;
  readonly jsonrpcPath?: string;
  readonly allowGrpc?: boolean;
  readonly schemasDir?: string;
  /** The proxy's public base URL: agent cards served through it advertise it instead of the agent's own. */
  readonly publicUrl?: string;
  readonly chain?: { readonly signers: readonly string[]; readonly maxDepth: number; readonly ttlSeconds: number };
  readonly limits?: { readonly maxParts: number; readonly maxPartChars: number; readonly maxDataDepth: number };
}

export function parseA2aSection(v: unknown, abs: (p: string) => string, hasWorkloadApi: boolean): A2aConfig {
  const f = "a2a";
  const o = obj(v, f);
  onlyKeys(o, f, ["target", "rest_base", "jsonrpc_path", "allow_grpc", "schemas", "public_url", "chain", "limits"]);
  let limits: A2aConfig["limits"];
  if (o.limits !== undefined) {
    const l = obj(o.limits, `${f}.limits`);
    onlyKeys(l, `${f}.limits`, ["max_parts", "max_part_chars", "max_data_depth"]);
    limits = {
      maxParts: int(l.max_parts, `${f}.limits.max_parts`, 1, 64, 10_000),
      maxPartChars: int(l.max_part_chars, `${f}.limits.max_part_chars`, 1, 256 * 1024, 64 * 1024 * 1024),
      maxDataDepth: int(l.max_data_depth, `${f}.limits.max_data_depth`, 1, 32, 256),
    };
  }
  let chain: A2aConfig["chain"];
  if (o.chain !== undefined) {
    const c = obj(o.chain, `${f}.chain`);
    onlyKeys(c, `${f}.chain`, ["signers", "max_depth", "ttl_seconds"]);
    if (!hasWorkloadApi) fail(`${f}.chain`, "needs workload_api (links are signed and checked with SVIDs)");
    if (!Array.isArray(c.signers) || c.signers.length === 0) fail(`${f}.chain.signers`, "must be a non-empty list");
    chain = {
      signers: c.signers.map((s, i) => str(s, `${f}.chain.signers[${i}]`)),
      maxDepth: int(c.max_depth, `${f}.chain.max_depth`, 1, 8, 32),
      ttlSeconds: int(c.ttl_seconds, `${f}.chain.ttl_seconds`, 1, 60, 300),
    };
  }
  const restBase = o.rest_base === undefined ? undefined : str(o.rest_base, `${f}.rest_base`);
  if (restBase !== undefined && !/^\/[\w./-]*$/.test(restBase)) fail(`${f}.rest_base`, "must be a path like /a2a/rest");
  const jsonrpcPath = o.jsonrpc_path === undefined ? undefined : str(o.jsonrpc_path, `${f}.jsonrpc_path`);
  if (jsonrpcPath !== undefined && !/^\/[\w./-]*$/.test(jsonrpcPath))
    fail(`${f}.jsonrpc_path`, "must be a path like /a2a/jsonrpc");
  return {
    target: spiffeId(o.target, `${f}.target`),
    ...(restBase !== undefined ? { restBase } : {}),
    ...(jsonrpcPath !== undefined ? { jsonrpcPath } : {}),
    ...(o.allow_grpc !== undefined ? { allowGrpc: bool(o.allow_grpc, `${f}.allow_grpc`, false) } : {}),
    ...(o.schemas !== undefined ? { schemasDir: abs(str(o.schemas, `${f}.schemas`)) } : {}),
    ...(o.public_url !== undefined ? { publicUrl: publicUrl(o.public_url, `${f}.public_url`) } : {}),
    ...(chain ? { chain } : {}),
    ...(limits ? { limits } : {}),
  };
}

function publicUrl(v: unknown, field: string): string {
  const s = str(v, field);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    fail(field, "must be an https:// URL");
  }
  if (u.protocol !== "https:" || u.pathname !== "/" || u.search !== "")
    fail(field, "must be an https:// origin (no path)");
  return u.origin;
}

/**
 * The contract for `bench/micro/*.bench.ts` files: a default export that registers tinybench tasks.
 *
 * @example
 *   // bench/micro/foo.bench.ts
 *   import type { MicroSuite } from "./harness.ts";
 *   const suite: MicroSuite = async (bench, ctx) => {
 *     const engine = await loadRbacEngine(ctx);
 *     bench.add("policy.evaluate (no cache)", () => engine.evaluate(input));
 *   };
 *   export default suite;
 *
 * Task names are what the report prints; keep them stable (goals look some up by name).
 */
import "reflect-metadata";
import { readFileSync } from "node:fs";
import type { Bench } from "tinybench";
import { PolicyEngine, readBundle } from "../../filters/authz/index.ts";
import { makeCa, makeLeaf } from "../../sidecars/devtools/dev-ca.ts";

export interface MicroContext {
  /** The seed's role policy compiled to WASM by `hexr policy build` (bench data: see bench/bundles.ts). */
  rbacBundle: string;
}

export type MicroSuite = (bench: Bench, ctx: MicroContext) => void | Promise<void>;

export const TRUST_DOMAIN = "hexr.cloud";
export const WRITER = `spiffe://${TRUST_DOMAIN}/agent/acme-corp/content-crew/writer`;

export async function loadRbacEngine(ctx: MicroContext): Promise<PolicyEngine> {
  const bundle = await readBundle(new Uint8Array(readFileSync(ctx.rbacBundle)));
  return PolicyEngine.load(bundle);
}

/** Client certificates as Envoy hands them to ext_authz (`source.certificate`: URL-encoded PEM). */
export async function envoyCertificates(uris: readonly string[]): Promise<string[]> {
  const ca = await makeCa("hexr-micro-ca");
  const out: string[] = [];
  for (const uri of uris) out.push(encodeURIComponent((await makeLeaf(ca, { uris: [uri] })).certPem));
  return out;
}

/** The headers Envoy puts in a CheckRequest for the benchmark's S3 PutObject request. */
export function envoyRequestHeaders(host: string, method: string, path: string): Record<string, string> {
  return {
    ":authority": host,
    ":path": path,
    ":method": method,
    ":scheme": "https",
    "user-agent": "fortio.org/fortio-1.68.2",
    "x-forwarded-proto": "https",
    "x-request-id": "6f1c2a9e-3b7d-4c1e-9a55-2d8e0f4b7c31",
    "content-length": "0",
  };
}

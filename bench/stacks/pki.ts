/**
 * Certificates for the benchmark, from the dev CA: Envoy's serving certificate (DNS SANs for every host
 * the load generator names, since fortio verifies it against the CA) and client X.509-SVIDs whose URI SAN
 * is the caller's SPIFFE ID — the identity both ext_authz servers read.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { makeCa, makeLeaf } from "../../sidecars/devtools/dev-ca.ts";

export const TRUST_DOMAIN = "hexr.cloud";

/** Callers. The load runs as `writer` (S3 PutObject is allowed at any hour); the rest check decision parity. */
export const IDENTITIES = {
  writer: `spiffe://${TRUST_DOMAIN}/agent/acme-corp/content-crew/writer`,
  researcher: `spiffe://${TRUST_DOMAIN}/agent/acme-corp/content-crew/researcher`,
  editor: `spiffe://${TRUST_DOMAIN}/agent/acme-corp/content-crew/editor`,
  intern: `spiffe://${TRUST_DOMAIN}/agent/acme-corp/content-crew/intern`,
  foreign: "spiffe://other.example/agent/acme-corp/content-crew/writer",
} as const;
export type IdentityName = keyof typeof IDENTITIES;

export interface PemFiles {
  cert: string;
  key: string;
}

export interface BenchPki {
  /** CA certificate file (trust anchor for both sides). */
  caFile: string;
  caPem: string;
  envoy: PemFiles;
  clients: Record<IdentityName, PemFiles & { certPem: string; keyPem: string }>;
}

export async function makeBenchPki(dir: string, serverHosts: readonly string[]): Promise<BenchPki> {
  const ca = await makeCa("hexr-bench-ca");
  const write = (name: string, text: string, mode = 0o644) => {
    const p = path.join(dir, name);
    writeFileSync(p, text, { mode });
    return p;
  };
  const caFile = write("ca.pem", ca.certPem);
  const envoyLeaf = await makeLeaf(ca, {
    uris: [`spiffe://${TRUST_DOMAIN}/sidecar/envoy`],
    dns: [...serverHosts],
    commonName: "hexr-bench-envoy",
  });
  const envoy = { cert: write("envoy.pem", envoyLeaf.certPem), key: write("envoy-key.pem", envoyLeaf.keyPem, 0o600) };
  const clients = {} as BenchPki["clients"];
  for (const [name, uri] of Object.entries(IDENTITIES) as Array<[IdentityName, string]>) {
    const leaf = await makeLeaf(ca, { uris: [uri], commonName: `hexr-bench-${name}` });
    clients[name] = {
      cert: write(`${name}.pem`, leaf.certPem),
      key: write(`${name}-key.pem`, leaf.keyPem, 0o600),
      certPem: leaf.certPem,
      keyPem: leaf.keyPem,
    };
  }
  return { caFile, caPem: ca.certPem, envoy, clients };
}

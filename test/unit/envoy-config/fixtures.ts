/** Options and throwaway PKI shared by the envoy-config tests. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  type FilesTls,
  FULL_DUPLEX_EXT_PROC,
  type SidecarEnvoyOptions,
  type SpireTls,
  type UpstreamOptions,
} from "../../../envoy-config/index.ts";
import { makeCa, makeLeaf, type TestCa, type TestLeaf } from "../../helpers/certs.ts";

export const TD = "hexr.test";
export const AGENT_ID = `spiffe://${TD}/agent/acme/crew/researcher`;
export const SIDECAR_ID = `spiffe://${TD}/agent/acme/crew/envoy`;

export interface TestPki {
  dir: string;
  ca: TestCa;
  /** The sidecar's own certificate (server side of both listeners). */
  sidecar: TestLeaf;
  caFile: string;
  certFile: string;
  keyFile: string;
  cleanup(): void;
}

/** A CA and a sidecar leaf written as PEM files (Envoy reads them even in validate mode). */
export async function writeTestPki(): Promise<TestPki> {
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-envoy-config-test-"));
  const ca = await makeCa("hexr-envoy-config-test");
  const sidecar = await makeLeaf(ca, { uris: [SIDECAR_ID], dns: ["localhost"] });
  const caFile = path.join(dir, "ca.pem");
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  writeFileSync(caFile, ca.certPem);
  writeFileSync(certFile, sidecar.certPem);
  writeFileSync(keyFile, sidecar.keyPem);
  return { dir, ca, sidecar, caFile, certFile, keyFile, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function filesTls(pki: TestPki, trustDomain?: string): FilesTls {
  const tls: FilesTls = { mode: "files", certChain: pki.certFile, privateKey: pki.keyFile, clientCa: pki.caFile };
  if (trustDomain !== undefined) tls.trustDomain = trustDomain;
  return tls;
}

export const SPIRE_TLS: SpireTls = {
  mode: "spire",
  sdsSocket: "/run/spire/sockets/agent.sock",
  spiffeId: SIDECAR_ID,
  trustDomain: TD,
};

export const UPSTREAMS: UpstreamOptions[] = [
  {
    name: "openai",
    domains: ["api.openai.com"],
    address: "api.openai.com",
    port: 443,
    tls: { sni: "api.openai.com" },
    extProc: FULL_DUPLEX_EXT_PROC,
  },
  {
    name: "s3",
    domains: ["*.s3.amazonaws.com", "s3.amazonaws.com"],
    address: "s3.amazonaws.com",
    port: 443,
    tls: { sni: "s3.amazonaws.com" },
  },
  { name: "local_echo", domains: ["echo.local"], address: "127.0.0.1", port: 18080, extProc: "off" },
  {
    name: "peer_agent",
    domains: ["writer.crew.agents"],
    address: "10.0.0.7",
    port: 15006,
    tls: { mode: "spiffe", peerIdPrefixes: [`spiffe://${TD}/agent/acme/crew/writer`] },
  },
];

export function sidecarOptions(
  tls: FilesTls | SpireTls,
  extra: Partial<SidecarEnvoyOptions> = {},
): SidecarEnvoyOptions {
  return {
    tls,
    outbound: { address: "127.0.0.1", port: 0 },
    authz: { socket: "/run/hexr/authz.sock", timeoutMs: 250 },
    upstreams: UPSTREAMS,
    ...extra,
  };
}

/**
 * A whole data plane on loopback: a dev CA, real Envoy (rendered bootstrap, mTLS outbound listener,
 * ext_authz over a Unix socket), the authz sidecar in this process, and a sample upstream that records
 * what reached it. Used by `hexr demo` and the integration tests.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { renderSidecarBootstrap } from "../../envoy-config/index.ts";
import { type RunningEnvoy, startEnvoy } from "../../envoy-config/runner.ts";
import { type TestCa as DevCa, makeCa, makeLeaf } from "./dev-ca.ts";
import type { AuditSink } from "../authz/audit.ts";
import { type RunningSidecar, startSidecar } from "../authz-sidecar.ts";
import { parseConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { type ClientIdentity, type Reply, request } from "./client.ts";
import { startUpstream, type Upstream } from "./upstream.ts";

export const LOCAL_TRUST_DOMAIN = "hexr.cloud";

/** Hosts the local Envoy routes to the sample upstream (stand-ins for the real APIs). */
export const LOCAL_UPSTREAM_DOMAINS = [
  "bigquery.googleapis.com",
  "storage.googleapis.com",
  "s3.amazonaws.com",
  "*.s3.amazonaws.com",
  "api.openai.com",
  "api.anthropic.com",
];

export interface LocalDataPlaneOptions {
  bundlePath: string;
  trustDomain?: string;
  logger: Logger;
  audit?: AuditSink;
  bundlePollMs?: number;
  authzTimeoutMs?: number;
  /** The sidecar's clock (policy time facts); default Date.now. */
  now?: () => number;
}

export interface LocalDataPlane {
  dir: string;
  ca: DevCa;
  envoy: RunningEnvoy;
  sidecar: RunningSidecar;
  upstream: Upstream;
  authzSocket: string;
  outboundPort: number;
  /** A client identity: a certificate from the dev CA with these URI SANs (none → no SPIFFE SAN). */
  identity(uris: string[], dns?: string[]): Promise<ClientIdentity>;
  /** No client certificate at all. */
  anonymous(): ClientIdentity;
  send(
    id: ClientIdentity,
    req: { method?: string; host: string; path: string; headers?: Record<string, string>; body?: string },
  ): Promise<Reply>;
  stop(): Promise<void>;
}

export async function startLocalDataPlane(opts: LocalDataPlaneOptions): Promise<LocalDataPlane> {
  const td = opts.trustDomain ?? LOCAL_TRUST_DOMAIN;
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-dp-"));
  const ca = await makeCa("hexr-dev-ca");
  const envoyLeaf = await makeLeaf(ca, { uris: [`spiffe://${td}/sidecar/envoy`], dns: ["envoy.hexr.test"] });
  const files = {
    ca: path.join(dir, "ca.pem"),
    cert: path.join(dir, "envoy.pem"),
    key: path.join(dir, "envoy-key.pem"),
  };
  writeFileSync(files.ca, ca.certPem);
  writeFileSync(files.cert, envoyLeaf.certPem);
  writeFileSync(files.key, envoyLeaf.keyPem, { mode: 0o600 });

  const upstream = await startUpstream();
  const authzSocket = path.join(dir, "authz.sock");
  const cfg = parseConfig(
    JSON.stringify({
      trust_domains: [td],
      authz: { listen: { socket: authzSocket }, bundle: opts.bundlePath, bundle_poll_ms: opts.bundlePollMs ?? 200 },
      audit: { path: "stderr" },
    }),
    path.join(dir, "hexr.yaml"),
  );
  const sidecar = await startSidecar(cfg, {
    logger: opts.logger,
    ...(opts.audit ? { audit: opts.audit } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });

  let envoy: RunningEnvoy;
  try {
    envoy = await startEnvoy(
      renderSidecarBootstrap({
        tls: { mode: "files", certChain: files.cert, privateKey: files.key, clientCa: files.ca },
        outbound: { address: "127.0.0.1", port: 0 },
        authz: { socket: authzSocket, timeoutMs: opts.authzTimeoutMs ?? 1000 },
        upstreams: [
          { name: "sample_upstream", domains: LOCAL_UPSTREAM_DOMAINS, address: "127.0.0.1", port: upstream.port },
        ],
        accessLog: false,
      }),
    );
  } catch (e) {
    await sidecar.stop(0);
    await upstream.close();
    throw e;
  }
  const outboundPort = envoy.ports.outbound;
  if (!outboundPort) throw new Error(`envoy has no 'outbound' listener: ${JSON.stringify(envoy.ports)}`);

  const agents = new Map<ClientIdentity, https.Agent>();
  return {
    dir,
    ca,
    envoy,
    sidecar,
    upstream,
    authzSocket,
    outboundPort,
    async identity(uris, dns) {
      const leaf = await makeLeaf(ca, { uris, ...(dns ? { dns } : {}) });
      return { cert: leaf.certPem, key: leaf.keyPem, ca: ca.certPem };
    },
    anonymous: () => ({ ca: ca.certPem }),
    send(id, req) {
      // one keep-alive connection pool per identity, like an agent's HTTP client
      let agent = agents.get(id);
      if (!agent) {
        agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
        agents.set(id, agent);
      }
      return request(outboundPort, id, { ...req, agent });
    },
    async stop() {
      for (const a of agents.values()) a.destroy();
      await envoy.stop();
      await sidecar.stop(0);
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

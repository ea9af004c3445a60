/**
 * The rendered files-mode bootstrap running in a real Envoy: mTLS is enforced with the SPIFFE validator
 * (trust domain isolation + agent ID prefix), and with the authz service unreachable every request is
 * refused with 403, never forwarded. (SPIRE mode needs a SPIRE agent: integration tests.)
 */
import https from "node:https";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderSidecarBootstrap } from "../../../envoy-config/index.ts";
import { makeCa, makeLeaf, type TestLeaf } from "../../helpers/certs.ts";
import { type RunningEnvoy, startEnvoy } from "../../../envoy-config/runner.ts";
import { type Upstream, startUpstream } from "../../../sidecars/devtools/upstream.ts";
import { AGENT_ID, TD, type TestPki, writeTestPki } from "./fixtures.ts";

let pki: TestPki;
let envoy: RunningEnvoy;
let upstream: Upstream;
let agent: TestLeaf;
let notAnAgent: TestLeaf;
let otherCaAgent: TestLeaf;

beforeAll(async () => {
  pki = await writeTestPki();
  agent = await makeLeaf(pki.ca, { uris: [AGENT_ID] });
  notAnAgent = await makeLeaf(pki.ca, { uris: [`spiffe://${TD}/workload/cron`] });
  otherCaAgent = await makeLeaf(await makeCa("impostor"), { uris: [AGENT_ID] });
  upstream = await startUpstream();
  const bootstrap = renderSidecarBootstrap({
    tls: { mode: "files", certChain: pki.certFile, privateKey: pki.keyFile, clientCa: pki.caFile, trustDomain: TD },
    outbound: { address: "127.0.0.1", port: 0 },
    authz: { socket: path.join(pki.dir, "no-authz-here.sock") },
    upstreams: [{ name: "echo", domains: ["echo.local"], address: "127.0.0.1", port: upstream.port }],
    accessLog: false,
  });
  envoy = await startEnvoy(bootstrap);
});

afterAll(async () => {
  await envoy?.stop();
  await upstream?.close();
  pki?.cleanup();
});

function get(client: TestLeaf | undefined, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port: envoy.ports.outbound,
        path: "/v1/things",
        headers: { host },
        ca: pki.ca.certPem,
        servername: "localhost",
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
        agent: false,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("files-mode bootstrap in a real Envoy", () => {
  it("refuses with 403 and never forwards when the authz service is unreachable", async () => {
    expect(await get(agent, "echo.local")).toBe(403);
    expect(await get(agent, "unknown.example")).toBe(403);
    expect(upstream.seen).toHaveLength(0);
    const stats = await (await fetch(`${envoy.adminUrl}/stats?filter=ext_authz`)).text();
    expect(stats).toMatch(/http\.outbound\.ext_authz\.error: [2-9]/);
    expect(stats).not.toMatch(/failure_mode_allowed: [1-9]/);
  });

  it("rejects clients without a certificate", async () => {
    await expect(get(undefined, "echo.local")).rejects.toThrow();
  });

  it("rejects a certificate whose SPIFFE ID is not an agent's", async () => {
    await expect(get(notAnAgent, "echo.local")).rejects.toThrow();
  });

  it("rejects an agent ID signed by a CA outside the trust bundle", async () => {
    await expect(get(otherCaAgent, "echo.local")).rejects.toThrow();
  });
});

/**
 * How long an identity lasts on a connection, through real Envoy and the real sidecar (dev CA, so a
 * certificate's validity can be a few seconds): an X.509-SVID that expires on a keep-alive connection
 * stops authorizing on that same connection; Envoy closes a connection at its lifetime cap; and with the
 * sidecar gone, a guarded LLM route refuses with the same status as any other route.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../envoy-config/runner.ts";
import { MemoryAudit } from "../../sidecars/authz/audit.ts";
import type { ClientIdentity } from "../../sidecars/devtools/client.ts";
import { makeLeaf } from "../../sidecars/devtools/dev-ca.ts";
import { type LocalDataPlane, startLocalDataPlane } from "../../sidecars/devtools/local-dataplane.ts";
import { MemoryLogger } from "../../sidecars/logger.ts";
import { buildProjectBundle } from "../helpers/bundles.ts";

const RESEARCHER = "spiffe://hexr.cloud/agent/acme-corp/content-crew/researcher";
const BIGQUERY = {
  method: "POST",
  host: "bigquery.googleapis.com",
  path: "/bigquery/v2/projects/p1/queries",
  body: "{}",
};
const START = Date.parse("2026-01-15T10:30:00Z");
/** Short enough to watch Envoy close a connection; long enough that a request is never cut by it. */
const CONNECTION_CAP_MS = 4_000;
/** The short-lived certificate's remaining validity when the test starts. */
const CERT_LIFETIME_MS = 1_500;

let dp: LocalDataPlane;
let tick = 0;
const audit = new MemoryAudit();

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-lifetime-"));
  dp = await startLocalDataPlane({
    bundlePath: buildProjectBundle(dir),
    logger: new MemoryLogger(),
    audit,
    now: () => START + 1000 * tick++,
    maxConnectionDurationMs: CONNECTION_CAP_MS,
  });
});

afterAll(async () => {
  await dp?.stop();
});

/**
 * One connection to Envoy's outbound listener (an undici Client holds exactly one), with its connects and
 * disconnects recorded, so a test can tell "same connection" from "a new handshake".
 */
function connection(id: ClientIdentity) {
  const client = new Client(`https://127.0.0.1:${dp.outboundPort}`, {
    // the dev CA is pinned; the name is not what this file tests (undici takes SNI from the Host header)
    connect: { ca: id.ca, cert: id.cert, key: id.key, checkServerIdentity: () => undefined },
    pipelining: 1,
  });
  const events: Array<{ type: "connect" | "disconnect"; at: number }> = [];
  client.on("connect", () => events.push({ type: "connect", at: Date.now() }));
  client.on("disconnect", () => events.push({ type: "disconnect", at: Date.now() }));
  const send = async (req: typeof BIGQUERY) => {
    const r = await client.request({ method: req.method, path: req.path, headers: { host: req.host }, body: req.body });
    return { status: r.statusCode, body: await r.body.text() };
  };
  const count = (type: "connect" | "disconnect") => events.filter((e) => e.type === type).length;
  return { client, events, send, count };
}

describe("an X.509-SVID that expires while its connection stays open", () => {
  it("authorizes until notAfter, then gets 403 identity.certificate_expired on the same connection", async () => {
    const notAfter = new Date(Date.now() + CERT_LIFETIME_MS);
    const leaf = await makeLeaf(dp.ca, { uris: [RESEARCHER], notAfter });
    const id: ClientIdentity = { cert: leaf.certPem, key: leaf.keyPem, ca: dp.ca.certPem };
    const conn = connection(id);
    try {
      const first = await conn.send(BIGQUERY);
      expect(first.status, first.body).toBe(200);
      // no readiness signal exists for "time has passed": wait for the certificate's own expiry instant
      await waitFor("the certificate to expire", () => (Date.now() > notAfter.getTime() + 50 ? true : undefined));
      const seen = dp.upstream.seen.length;
      const after = await conn.send(BIGQUERY);
      expect(conn.count("connect")).toBe(1); // the same connection: Envoy does not re-check the certificate
      expect(conn.count("disconnect")).toBe(0);
      expect(after.status).toBe(403);
      expect(JSON.parse(after.body).reasons[0]).toMatch(/^identity\.certificate_expired: /);
      expect(dp.upstream.seen.length).toBe(seen);
      expect(audit.records.at(-1)).toMatchObject({ allow: false, spiffe_id: null });
    } finally {
      await conn.client.destroy();
    }
  });
});

describe("Envoy's downstream connection lifetime cap", () => {
  it("closes an idle keep-alive connection at the cap, so the next request makes a new handshake", async () => {
    const leaf = await makeLeaf(dp.ca, { uris: [RESEARCHER] });
    const id: ClientIdentity = { cert: leaf.certPem, key: leaf.keyPem, ca: dp.ca.certPem };
    const conn = connection(id);
    try {
      const first = await conn.send(BIGQUERY);
      expect(first.status, first.body).toBe(200);
      const opened = conn.events[0]!.at;
      await waitFor(
        "Envoy to close the connection at its cap",
        () => (conn.count("disconnect") > 0 ? true : undefined),
        CONNECTION_CAP_MS + 5_000,
      );
      const closedAt = conn.events.find((e) => e.type === "disconnect")!.at;
      expect(closedAt - opened).toBeGreaterThanOrEqual(CONNECTION_CAP_MS - 100);
      const next = await conn.send(BIGQUERY);
      expect(next.status).toBe(200);
      expect(conn.count("connect")).toBe(2);
    } finally {
      await conn.client.destroy();
    }
  });
});

// Last: it stops the sidecar.
describe("the sidecar down", () => {
  it("refuses a guarded LLM route with the same 403 as a cloud route, and forwards neither", async () => {
    const id = await dp.identity([RESEARCHER]);
    const chat = {
      method: "POST",
      host: "api.openai.com",
      path: "/v1/chat/completions",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] }),
    };
    expect((await dp.send(id, chat)).status).toBe(200);
    await dp.sidecar.stop(0);
    const upstreamBefore = dp.upstream.seen.length;
    const llmBefore = dp.llm.received.length;
    const cloud = await dp.send(id, BIGQUERY);
    const llm = await dp.send(id, chat);
    expect(cloud.status).toBe(403);
    expect(llm.status).toBe(403);
    expect(dp.upstream.seen.length).toBe(upstreamBefore);
    expect(dp.llm.received.length).toBe(llmBefore);
  });
});

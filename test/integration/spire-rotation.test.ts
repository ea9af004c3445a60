/**
 * SVID lifecycle under traffic, with a real SPIRE agent: short TTLs make the agent rotate Envoy's SVID
 * (over SDS), the authz sidecar's SVID (its mTLS listener) and the client's SVID every few seconds; an
 * agent restart mid-traffic must not cost a request; an agent gone past SVID expiry must make requests
 * fail closed with a clear TLS reason, and everything must recover when the agent returns.
 * One SPIRE server + agent and one data plane for the whole file.
 */
import { mkdtempSync } from "node:fs";
import tls from "node:tls";
import { Client } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../envoy-config/runner.ts";
import { MemoryAudit } from "../../sidecars/authz/audit.ts";
import type { ClientIdentity } from "../../sidecars/devtools/client.ts";
import { type SpireDataPlane, startLocalDataPlane } from "../../sidecars/devtools/local-dataplane.ts";
import { svidRequest } from "../../sidecars/devtools/workload.ts";
import { MemoryLogger } from "../../sidecars/logger.ts";
import { buildProjectBundle } from "../helpers/bundles.ts";
import { tmpdir } from "node:os";
import path from "node:path";

const TD = "hexr.cloud";
const RESEARCHER = `spiffe://${TD}/agent/acme-corp/content-crew/researcher`;
/**
 * SPIRE backdates NotBefore by 10 s and the agent renews at half the certificate's lifetime (checked every
 * 1 s sync): with a 30 s TTL each SVID is replaced about 10 s after issue and expires 30 s after issue, so
 * an SVID in hand always has 20 s or more left. That is the margin an agent restart must fit in: 20 s TTLs
 * left about 15 s, which a restart on a loaded machine (agent start, SDS and Workload API reconnects)
 * could overrun, failing requests the test expects to pass.
 */
const TTL_SECONDS = 30;
const ROTATION_TIMEOUT_MS = 45_000;
const BIGQUERY = {
  method: "POST",
  host: "bigquery.googleapis.com",
  path: "/bigquery/v2/projects/p1/queries",
  body: "{}",
};
const START = Date.parse("2026-01-15T10:30:00Z");
let tick = 0;
/** Policy clock: business hours; one simulated second per decision keeps steady traffic under the rate limit. */
const clock = () => START + 1000 * tick++;

let dp: SpireDataPlane;
let researcher: ClientIdentity;
const logger = new MemoryLogger();

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-spire-rot-"));
  dp = await startLocalDataPlane({
    identity: "spire",
    bundlePath: buildProjectBundle(dir),
    logger,
    audit: new MemoryAudit(),
    now: clock,
    svidTtlSeconds: TTL_SECONDS,
    identities: [RESEARCHER],
  });
  researcher = await dp.identity([RESEARCHER]);
});

afterAll(async () => {
  await dp?.stop();
});

interface Outcome {
  at: number;
  status: number;
  error?: string;
  /** Envoy's certificate on that connection. */
  serverSerial?: string;
  fresh: boolean;
}

/**
 * Steady traffic as the researcher: keep-alive connections (the pool opens new ones when the client SVID
 * rotates) and, every fourth request, a brand-new connection (a full handshake with the current SVIDs).
 */
function startTraffic(): { outcomes: Outcome[]; stop(): Promise<Outcome[]> } {
  const outcomes: Outcome[] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running && i < 20_000; i++) {
      const fresh = i % 4 === 0;
      const at = Date.now();
      try {
        const r = fresh
          ? await svidRequest({
              port: dp.outboundPort,
              serverId: dp.envoyId,
              ca: researcher.ca,
              cert: researcher.cert!,
              key: researcher.key!,
              ...BIGQUERY,
            })
          : await dp.send(researcher, BIGQUERY);
        outcomes.push({ at, status: r.status, serverSerial: r.serverSerial, fresh });
      } catch (e) {
        outcomes.push({ at, status: 0, error: (e as Error).message, fresh });
      }
      await new Promise((r) => setTimeout(r, 15)); // pacing, not a readiness wait
    }
  })();
  return {
    outcomes,
    async stop() {
      running = false;
      await loop;
      return outcomes;
    },
  };
}

interface EnvoyLeaf {
  serial: string;
  expiresAt: number;
}

/** Envoy's own SVID as its admin API reports it. */
async function envoyLeaf(): Promise<EnvoyLeaf> {
  type Certs = {
    certificates: Array<{
      cert_chain?: Array<{
        serial_number: string;
        expiration_time: string;
        subject_alt_names?: Array<{ uri?: string }>;
      }>;
    }>;
  };
  const certs = (await (await fetch(`${dp.envoy.adminUrl}/certs`)).json()) as Certs;
  const leaf = certs.certificates
    .flatMap((c) => c.cert_chain ?? [])
    .find((c) => c.subject_alt_names?.some((s) => s.uri === dp.envoyId));
  if (!leaf) throw new Error("Envoy has no SVID");
  return { serial: leaf.serial_number.toLowerCase(), expiresAt: Date.parse(leaf.expiration_time) };
}

/** Sum of the Envoy counters whose names match `filter` (a regex, as the admin API takes it). */
async function envoyCounter(filter: string): Promise<number> {
  const text = await (await fetch(`${dp.envoy.adminUrl}/stats?filter=${encodeURIComponent(filter)}`)).text();
  let sum = 0;
  for (const m of text.matchAll(/: (\d+)$/gm)) sum += Number(m[1]);
  return sum;
}

/** Envoy names SDS stats after the secret, with `spiffe://` written `spiffe_`. */
const sdsUpdates = () => envoyCounter(`^sds\\.${dp.envoyId.replace("spiffe://", "spiffe_")}\\.update_success$`);

/** Serial of the certificate the authz sidecar presents on a brand-new mTLS handshake. */
function authzHandshakeSerial(): Promise<string> {
  const [host, port] = [dp.authzAddress.slice(0, dp.authzAddress.lastIndexOf(":")), dp.authzAddress.split(":").at(-1)];
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      {
        host,
        port: Number(port),
        servername: "authz.hexr.test",
        ca: researcher.ca,
        cert: researcher.cert,
        key: researcher.key,
        ALPNProtocols: ["h2"],
        checkServerIdentity: () => undefined, // the chain is verified against the bundle; the ID is checked below
      },
      () => {
        const cert = s.getPeerCertificate();
        s.destroy();
        if (!cert.subjectaltname?.includes(`URI:${dp.authzId}`)) reject(new Error(`unexpected ${cert.subjectaltname}`));
        else resolve(cert.serialNumber.toLowerCase());
      },
    );
    s.once("error", reject);
  });
}

const failures = (o: Outcome[]) => o.filter((x) => x.status !== 200);

describe("SVID rotation under steady traffic", () => {
  it("rotates Envoy's SVID (SDS), the sidecar's serving SVID and the client's, with zero failed requests", async () => {
    const envoyBefore = await envoyLeaf();
    const authzBefore = dp.sidecar.serverIdentity!.svid!.serialNumber.toLowerCase();
    const clientBefore = dp.workloadApi.current().svids.find((s) => s.spiffeId === RESEARCHER)!.serialNumber;
    const sdsUpdatesBefore = await sdsUpdates();
    expect(sdsUpdatesBefore).toBeGreaterThanOrEqual(1);
    expect(await authzHandshakeSerial()).toBe(authzBefore);

    const traffic = startTraffic();
    try {
      const envoyAfter = await waitFor(
        "Envoy to take a rotated SVID over SDS",
        async () => {
          const leaf = await envoyLeaf();
          return leaf.serial !== envoyBefore.serial ? leaf : undefined;
        },
        ROTATION_TIMEOUT_MS,
      );
      expect(envoyAfter.expiresAt).toBeGreaterThan(envoyBefore.expiresAt);
      await waitFor(
        "the sidecar to serve a rotated SVID",
        () => (dp.sidecar.serverIdentity!.svid?.serialNumber.toLowerCase() !== authzBefore ? true : undefined),
        ROTATION_TIMEOUT_MS,
      );
      await waitFor(
        "the client's SVID to rotate",
        () =>
          dp.workloadApi.current().svids.find((s) => s.spiffeId === RESEARCHER)!.serialNumber !== clientBefore
            ? true
            : undefined,
        ROTATION_TIMEOUT_MS,
      );
      // new handshakes present the rotated certificates: Envoy's to clients, the sidecar's to its callers
      await waitFor(
        "a fresh client connection served Envoy's rotated certificate",
        () => (traffic.outcomes.some((o) => o.fresh && o.serverSerial === envoyAfter.serial) ? true : undefined),
        ROTATION_TIMEOUT_MS,
      );
      expect(await authzHandshakeSerial()).not.toBe(authzBefore);
    } finally {
      await traffic.stop();
    }
    const outcomes = traffic.outcomes;
    expect(failures(outcomes)).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(50);
    expect(new Set(outcomes.map((o) => o.serverSerial)).size).toBeGreaterThanOrEqual(2);
    expect(await sdsUpdates()).toBeGreaterThan(sdsUpdatesBefore);
    expect(dp.sidecar.serverIdentity!.rotations).toBeGreaterThanOrEqual(2);
    expect(logger.entries.filter((e) => e.event === "svid_updated").length).toBeGreaterThanOrEqual(2);
  });
});

describe("SPIRE agent outages", () => {
  it("agent restarted mid-traffic: serving continues on current SVIDs, and recovers (new SVIDs) when it returns", async () => {
    // Stop the agent just after a rotation, so the SVIDs in hand have most of their life left: the margin
    // is a known 20 s or more, not whatever the rotation phase happened to leave.
    const clientBefore = dp.workloadApi.current().svids.find((s) => s.spiffeId === RESEARCHER)!.serialNumber;
    await waitFor(
      "a fresh client SVID",
      () =>
        dp.workloadApi.current().svids.find((s) => s.spiffeId === RESEARCHER)!.serialNumber !== clientBefore
          ? true
          : undefined,
      ROTATION_TIMEOUT_MS,
    );
    const traffic = startTraffic();
    try {
      await waitFor("traffic to flow", () => (traffic.outcomes.length > 10 ? true : undefined));
      const connects = dp.workloadApi.stats().x509!.connects;
      await dp.spire.stopAgent();
      const stoppedAt = Date.now();
      const atStop = await envoyLeaf();
      // serving continues: fresh handshakes included, on the SVIDs in hand
      await waitFor("requests while the agent is down", () =>
        traffic.outcomes.filter((o) => o.at > stoppedAt && o.fresh && o.status === 200).length >= 5 ? true : undefined,
      );
      expect(dp.spire.agentRunning).toBe(false);
      expect((await envoyLeaf()).serial).toBe(atStop.serial);

      // The SVIDs in hand were issued just before the stop (right after a rotation). Envoy reports expiry to
      // the second, so let a second pass before the agent returns: only then is "the new SVID expires later"
      // a claim about a new SVID rather than about the clock. No readiness signal exists for time passing.
      await waitFor("a second since the stop", () => (Date.now() - stoppedAt > 1_100 ? true : undefined));
      await dp.spire.startAgent();
      // recovery: the restarted agent issues new SVIDs; Envoy re-opens SDS and the Workload API streams reconnect
      const recovered = await waitFor(
        "Envoy's SVID from the restarted agent",
        async () => {
          const leaf = await envoyLeaf();
          return leaf.serial !== atStop.serial ? leaf : undefined;
        },
        ROTATION_TIMEOUT_MS,
      );
      expect(recovered.expiresAt).toBeGreaterThan(atStop.expiresAt);
      expect(dp.workloadApi.stats().x509!.connects).toBeGreaterThan(connects);
      const returnedAt = Date.now();
      await waitFor("requests after the agent returned", () =>
        traffic.outcomes.filter((o) => o.at > returnedAt && o.status === 200).length >= 5 ? true : undefined,
      );
    } finally {
      await traffic.stop();
    }
    expect(failures(traffic.outcomes)).toEqual([]);
  });

  it("agent gone past SVID expiry: requests fail closed with a clear TLS reason; recovery when it returns", async () => {
    await dp.spire.stopAgent();
    try {
      const envoy = await envoyLeaf();
      const client = dp.workloadApi.current().svids.find((s) => s.spiffeId === RESEARCHER)!;
      const lastExpiry = Math.max(envoy.expiresAt, client.expiresAt.getTime());
      expect(lastExpiry - Date.now()).toBeLessThanOrEqual(TTL_SECONDS * 1000 + 1000);
      // no readiness signal exists for "time has passed": wait for the known expiry instant
      await waitFor(
        "the SVIDs to expire",
        () => (Date.now() > lastExpiry + 500 ? true : undefined),
        TTL_SECONDS * 1000 + 5_000,
      );
      const before = dp.upstream.seen.length;

      // A normal client checks Envoy's certificate: expired, so it will not send the request at all.
      const fresh = { port: dp.outboundPort, serverId: dp.envoyId, ca: researcher.ca, ...BIGQUERY };
      await expect(svidRequest({ ...fresh, cert: researcher.cert!, key: researcher.key! })).rejects.toMatchObject({
        code: "CERT_HAS_EXPIRED",
        message: "certificate has expired",
      });
      // A client that skips that check still cannot get in with its own expired SVID: Envoy's SPIFFE validator
      // refuses it (TLS alert "certificate unknown"; Envoy counts it as ssl.fail_verify_error).
      const verifyErrors = await envoyCounter("ssl\\.fail_verify_error$");
      await expect(
        svidRequest({ ...fresh, cert: researcher.cert!, key: researcher.key!, insecureSkipServerCheck: true }),
      ).rejects.toThrow(/alert certificate unknown/);
      expect(await envoyCounter("ssl\\.fail_verify_error$")).toBe(verifyErrors + 1);
      // The sidecar withdrew its expired serving SVID: no new mTLS connection to ext_authz either.
      expect(dp.sidecar.serverIdentity!.svid).toBeUndefined();
      await expect(authzHandshakeSerial()).rejects.toThrow();
      expect(dp.upstream.seen.length).toBe(before);
    } finally {
      await dp.spire.startAgent();
    }
    const renewed = await waitFor(
      "fresh SVIDs after the agent returned",
      async () => {
        const leaf = await envoyLeaf();
        return leaf.expiresAt > Date.now() && dp.sidecar.serverIdentity!.svid ? leaf : undefined;
      },
      ROTATION_TIMEOUT_MS,
    );
    expect(renewed.expiresAt).toBeGreaterThan(Date.now());
    const r = await svidRequest({
      port: dp.outboundPort,
      serverId: dp.envoyId,
      ca: researcher.ca,
      cert: researcher.cert!,
      key: researcher.key!,
      ...BIGQUERY,
    });
    expect(r.status).toBe(200);
    expect(await authzHandshakeSerial()).toMatch(/^[0-9a-f]+$/);
  });
});

describe("a revoked registration", () => {
  it("stops working by its SVID's notAfter, on a connection that stays open and on new ones", async () => {
    const sub = `${RESEARCHER}/revoked-${Date.now()}`;
    const uid = process.getuid?.() ?? 0;
    const entryId = await dp.spire.createEntry({
      spiffeId: sub,
      selectors: [`unix:uid:${uid}`, `unix:path:${process.execPath}`],
      ttl: TTL_SECONDS,
    });
    const svid = await waitFor("the sub-agent's SVID", () =>
      dp.workloadApi.current().svids.find((s) => s.spiffeId === sub),
    );
    // what the agent holds in memory: it keeps presenting it after the registration is gone
    const held: ClientIdentity = { cert: svid.certChainPem, key: svid.keyPem, ca: researcher.ca };
    const client = new Client(`https://127.0.0.1:${dp.outboundPort}`, {
      connect: { ca: held.ca, cert: held.cert, key: held.key, checkServerIdentity: () => undefined },
      pipelining: 1,
    });
    let connects = 0;
    client.on("connect", () => connects++);
    const send = async () => {
      const r = await client.request({
        method: BIGQUERY.method,
        path: BIGQUERY.path,
        headers: { host: BIGQUERY.host },
        body: BIGQUERY.body,
      });
      return { status: r.statusCode, body: await r.body.text(), at: Date.now() };
    };
    try {
      expect((await send()).status).toBe(200);
      await dp.spire.deleteEntry(entryId);
      await waitFor(
        "the agent to stop serving the revoked SVID",
        () => (dp.workloadApi.current().svids.some((s) => s.spiffeId === sub) ? undefined : true),
        ROTATION_TIMEOUT_MS,
      );
      const notAfter = svid.expiresAt.getTime();
      const denied = await waitFor(
        "the revoked SVID to stop authorizing on its open connection",
        async () => {
          const r = await send();
          return r.status === 200 ? undefined : r;
        },
        notAfter - Date.now() + 5_000,
      );
      expect(connects).toBe(1);
      expect(denied.status).toBe(403);
      expect(JSON.parse(denied.body).reasons[0]).toMatch(/^identity\.certificate_expired: /);
      expect(denied.at).toBeGreaterThanOrEqual(notAfter - 1_000);
      expect(denied.at).toBeLessThanOrEqual(notAfter + 3_000);
      // a new handshake with it is refused by Envoy's SPIFFE validator
      await expect(
        svidRequest({
          port: dp.outboundPort,
          serverId: dp.envoyId,
          ca: held.ca,
          cert: held.cert!,
          key: held.key!,
          ...BIGQUERY,
        }),
      ).rejects.toThrow();
    } finally {
      await client.destroy();
    }
  });
});

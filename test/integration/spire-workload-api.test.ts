/**
 * The SPIRE harness and the Workload API client against a real SPIRE server and agent: SVIDs and bundles
 * over the Workload API, JWT-SVIDs verified against the JWT bundle, per-process identities (uid and
 * executable path selectors), in-place rotation under mTLS traffic, and an agent restart mid-stream.
 */
import "reflect-metadata";
import { execFile } from "node:child_process";
import { X509Certificate as NodeX509, createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { SubjectAlternativeNameExtension, X509Certificate } from "@peculiar/x509";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JwtSvidVerifier } from "../../filters/identity/index.ts";
import { type SpireHarness, spireBinary, startSpire } from "../../sidecars/devtools/spire.ts";
import { WorkloadApiClient, type WorkloadSnapshot } from "../../sidecars/workload-api/client.ts";
import {
  createSvidChannelCredentials,
  createSvidServerCredentials,
  peerSpiffeId,
} from "../../sidecars/workload-api/tls.ts";

const execFileP = promisify(execFile);
const TD = "hexr.cloud";
const SELF = `spiffe://${TD}/agent/hexr-test/workload-api/sidecar`;
const UID_A = `spiffe://${TD}/agent/hexr-test/uid-crew/a`;
const UID_B = `spiffe://${TD}/agent/hexr-test/uid-crew/b`;
const PATH_A = `spiffe://${TD}/agent/hexr-test/path-crew/a`;
const PATH_B = `spiffe://${TD}/agent/hexr-test/path-crew/b`;
const AUDIENCE = "hexr-authz";
/**
 * Short enough to watch a rotation: SPIRE backdates NotBefore by 10 s and the agent renews at half the
 * certificate's lifetime (±10 % jitter), checked every agent sync (1 s here): about 5 s after issuance.
 */
const SELF_TTL_SECONDS = 20;

let spire: SpireHarness;
let client: WorkloadApiClient;
let pathA: string;
let pathB: string;
const uid = process.getuid?.() ?? 0;

/** Resolves with the first snapshot that satisfies `ok` (checked now and on every X.509 update). */
function nextX509(ok: (s: WorkloadSnapshot) => boolean, timeoutMs: number, what: string): Promise<WorkloadSnapshot> {
  return new Promise((resolve, reject) => {
    if (ok(client.current())) return resolve(client.current());
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${spire.logs().agent}`));
    }, timeoutMs);
    const off = client.onX509Update((s) => {
      if (!ok(s)) return;
      clearTimeout(timer);
      off();
      resolve(s);
    });
  });
}

beforeAll(async () => {
  spire = await startSpire({ trustDomain: TD });
  pathA = spire.nodeExecutable("agent-a");
  pathB = spire.nodeExecutable("agent-b");
  // All entries up front, so one agent sync picks them all up.
  await Promise.all([
    spire.createEntry({
      spiffeId: SELF,
      selectors: [`unix:uid:${uid}`, `unix:path:${process.execPath}`],
      ttl: SELF_TTL_SECONDS,
    }),
    spire.createEntry({ spiffeId: UID_A, selectors: ["unix:uid:10001"] }),
    spire.createEntry({ spiffeId: UID_B, selectors: ["unix:uid:10002"] }),
    spire.createEntry({ spiffeId: PATH_A, selectors: [`unix:uid:${uid}`, `unix:path:${pathA}`] }),
    spire.createEntry({ spiffeId: PATH_B, selectors: [`unix:uid:${uid}`, `unix:path:${pathB}`] }),
  ]);
  await spire.waitForEntry(SELF);
  client = new WorkloadApiClient({ socketPath: spire.agentSocket, backoffMaxMs: 1_000 });
  await client.ready({ timeoutMs: 20_000 });
});

afterAll(async () => {
  client?.close();
  await spire?.stop();
});

describe("SPIRE harness", () => {
  it("starts a healthy server and agent (CLI health checks agree with /ready)", async () => {
    expect(spire.agentRunning).toBe(true);
    const server = await execFileP(spireBinary("spire-server"), ["healthcheck", "-socketPath", spire.serverSocket]);
    const agent = await execFileP(spireBinary("spire-agent"), ["healthcheck", "-socketPath", spire.agentSocket]);
    expect(server.stdout).toMatch(/healthy/i);
    expect(agent.stdout).toMatch(/healthy/i);
    expect(spire.agentId).toBe(`spiffe://${TD}/hexr/spire-agent`);
  });
});

describe("Workload API client", () => {
  it("receives an X.509-SVID whose only URI SAN is the registered SPIFFE ID, with a matching PKCS#8 key", () => {
    const [svid] = client.current().svids;
    expect(svid?.spiffeId).toBe(SELF);
    const leaf = new X509Certificate(svid!.certChainPem.split(/(?<=-----END CERTIFICATE-----)\n/)[0]!);
    const san = leaf.getExtension(SubjectAlternativeNameExtension);
    expect(san?.names.items.filter((n) => n.type === "url").map((n) => n.value)).toEqual([SELF]);
    expect(svid!.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const certKey = new NodeX509(svid!.certChainPem).publicKey.export({ format: "der", type: "spki" });
    const ownKey = createPublicKey(createPrivateKey(svid!.keyPem)).export({ format: "der", type: "spki" });
    expect(Buffer.compare(certKey, ownKey)).toBe(0);
    expect(svid!.expiresAt.getTime()).toBeGreaterThan(Date.now());
    expect(svid!.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + SELF_TTL_SECONDS * 1000 + 1000);
  });

  it("streams the X.509 and JWT bundles, keyed by trust domain name; the SVID chains to the X.509 bundle", async () => {
    const s = await new Promise<WorkloadSnapshot>((resolve) => {
      const check = () => {
        const c = client.current();
        if (c.x509Bundles.size === 0 || c.jwtBundles.size === 0) return;
        for (const off of offs) off();
        resolve(c);
      };
      const offs = [client.onX509BundlesUpdate(check), client.onJwtBundlesUpdate(check)];
      check();
    });
    expect([...s.x509Bundles.keys()]).toEqual([TD]);
    const cas = s.x509Bundles.get(TD)!;
    expect(cas.length).toBeGreaterThan(0);
    const leaf = new NodeX509(s.svids[0]!.certChainPem);
    expect(cas.some((pem) => leaf.verify(new NodeX509(pem).publicKey))).toBe(true);
    const jwks = s.jwtBundles.get(TD)!;
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(jwks.keys.every((k) => typeof k.kid === "string" && k.kid.length > 0)).toBe(true);
  });

  it("fetches a JWT-SVID that verifies against the JWT bundle (jose and our JwtSvidVerifier)", async () => {
    const jwt = await client.fetchJwtSvid({ audience: AUDIENCE });
    expect(jwt.spiffeId).toBe(SELF);
    const jwks = client.current().jwtBundles.get(TD)!;
    const { payload, protectedHeader } = await jwtVerify(jwt.token, createLocalJWKSet(jwks), { audience: AUDIENCE });
    expect(payload.sub).toBe(SELF);
    expect(protectedHeader.alg).toMatch(/^(ES|RS|PS)/);
    await expect(jwtVerify(jwt.token, createLocalJWKSet(jwks), { audience: "someone-else" })).rejects.toThrow();

    const verifier = new JwtSvidVerifier({ audiences: [AUDIENCE], trustDomains: new Set([TD]) });
    verifier.setBundles(client.current().jwtBundles);
    const principal = await verifier.verify(jwt.token);
    expect(principal.spiffeId).toBe(SELF);

    const agentView = await client.validateJwtSvid({ audience: AUDIENCE, token: jwt.token });
    expect(agentView.spiffeId).toBe(SELF);
    expect(agentView.claims.sub).toBe(SELF);
  });

  it("gives each process its own SPIFFE ID: by uid (10001 vs 10002) and by executable path", async () => {
    const [a, b, pa, pb] = await Promise.all([
      spire.fetchSpiffeIdsAs({ uid: 10001, gid: 10001 }, { want: UID_A }),
      spire.fetchSpiffeIdsAs({ uid: 10002, gid: 10002 }, { want: UID_B }),
      spire.fetchSpiffeIdsAs({ execPath: pathA }, { want: PATH_A }),
      spire.fetchSpiffeIdsAs({ execPath: pathB }, { want: PATH_B }),
    ]);
    expect(a).toEqual([UID_A]);
    expect(b).toEqual([UID_B]);
    expect(pa).toEqual([PATH_A]);
    expect(pb).toEqual([PATH_B]);
    // and this process (uid + its own node path) still sees only its own identity
    expect(client.current().svids.map((s) => s.spiffeId)).toEqual([SELF]);
  });
});

// ---- mTLS gRPC server on the SVID -----------------------------------------------------------------

interface Whoami {
  peer: string | undefined;
}
const WHOAMI: grpc.ServiceDefinition = {
  whoami: {
    path: "/hexr.test.Identity/Whoami",
    requestStream: false,
    responseStream: false,
    requestSerialize: (v: object) => Buffer.from(JSON.stringify(v)),
    requestDeserialize: (b: Buffer) => JSON.parse(b.toString()),
    responseSerialize: (v: object) => Buffer.from(JSON.stringify(v)),
    responseDeserialize: (b: Buffer) => JSON.parse(b.toString()),
  },
};
const WhoamiClient = grpc.makeGenericClientConstructor(WHOAMI, "Identity");

interface CallResult {
  ok: boolean;
  error?: string;
  /** serial of the certificate the server presented */
  serverSerial?: string;
  peer?: string;
}

async function startWhoamiServer(): Promise<{ server: grpc.Server; port: number; clientSerials: Set<string> }> {
  const server = new grpc.Server();
  const clientSerials = new Set<string>();
  server.addService(WHOAMI, {
    whoami: (call: grpc.ServerUnaryCall<object, Whoami>, cb: grpc.sendUnaryData<Whoami>) => {
      const cert = call.getAuthContext().sslPeerCertificate;
      if (cert?.serialNumber) clientSerials.add(cert.serialNumber.toLowerCase());
      cb(null, { peer: peerSpiffeId(call) });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", createSvidServerCredentials(client), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { server, port, clientSerials };
}

function newChannel(port: number): grpc.Client {
  return new WhoamiClient(`127.0.0.1:${port}`, createSvidChannelCredentials(client, { serverId: SELF }), {
    "grpc.ssl_target_name_override": "whoami.hexr.test", // SNI must not be an IP; identity is the SPIFFE ID
    "grpc.use_local_subchannel_pool": 1, // a fresh channel really means a fresh TLS handshake
  });
}

type UnaryCall = (
  req: object,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res: Whoami) => void,
) => grpc.ClientUnaryCall;

function call(c: grpc.Client): Promise<CallResult> {
  return new Promise((resolve) => {
    const fn = (c as unknown as Record<string, UnaryCall>).whoami!;
    const handle = fn.call(c, {}, { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null, res: Whoami) => {
      const serial = handle.getAuthContext()?.sslPeerCertificate?.serialNumber;
      resolve(
        err ? { ok: false, error: err.message } : { ok: true, peer: res.peer, serverSerial: serial?.toLowerCase() },
      );
    });
  });
}

/** Steady traffic: one long-lived channel, plus a brand-new channel (new handshake) every few calls. */
function startTraffic(port: number): { results: CallResult[]; stop(): Promise<void> } {
  const results: CallResult[] = [];
  const steady = newChannel(port);
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      results.push(await call(steady));
      if (i % 4 === 0) {
        const fresh = newChannel(port);
        results.push(await call(fresh));
        fresh.close();
      }
      await new Promise((r) => setTimeout(r, 20)); // pacing, not a readiness wait
    }
  })();
  return {
    results,
    async stop() {
      running = false;
      await loop;
      steady.close();
    },
  };
}

describe("SVID-backed mTLS gRPC server", () => {
  it("rotates the SVID in place: new SVID without reconnecting the stream, server keeps serving, zero failed calls", async () => {
    const { server, port, clientSerials } = await startWhoamiServer();
    const traffic = startTraffic(port);
    try {
      const before = client.current().svids[0]!;
      const connectsBefore = client.stats().x509!.connects;
      const rotated = await nextX509(
        (s) => s.svids[0]!.serialNumber !== before.serialNumber,
        20_000,
        "an SVID rotation",
      );
      const fresh = rotated.svids[0]!;
      expect(fresh.spiffeId).toBe(SELF);
      expect(fresh.expiresAt.getTime()).toBeGreaterThan(before.expiresAt.getTime());
      expect(client.stats().x509!.connects).toBe(connectsBefore); // same stream, no reconnect

      // New handshakes must present the rotated certificate on both sides.
      const newSerial = fresh.serialNumber.toLowerCase();
      const deadline = Date.now() + 5_000;
      while (
        !(traffic.results.some((r) => r.serverSerial === newSerial) && clientSerials.has(newSerial)) &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 50)); // polling the traffic log
      }
      await traffic.stop();
      const failed = traffic.results.filter((r) => !r.ok);
      expect(failed).toEqual([]);
      expect(traffic.results.length).toBeGreaterThan(20);
      expect(traffic.results.every((r) => r.peer === SELF)).toBe(true);
      const served = new Set(traffic.results.map((r) => r.serverSerial));
      expect(served).toContain(before.serialNumber.toLowerCase());
      expect(served).toContain(newSerial);
      expect(clientSerials).toContain(newSerial);
    } finally {
      await traffic.stop();
      server.forceShutdown();
    }
  });

  it("fails closed once the served SVID has expired: new connections are refused", async () => {
    // The real SVID seen from one hour later: expired, as if the agent had been gone past its TTL.
    const later = () => Date.now() + 3_600_000;
    const server = new grpc.Server();
    server.addService(WHOAMI, { whoami: (_c: unknown, cb: grpc.sendUnaryData<Whoami>) => cb(null, { peer: "x" }) });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", createSvidServerCredentials(client, { now: later }), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    try {
      const c = newChannel(port);
      const r = await call(c);
      c.close();
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/UNAVAILABLE/);
    } finally {
      server.forceShutdown();
    }
  });

  it("survives an agent restart: keeps the current SVID while the agent is gone, reconnects, gets updates", async () => {
    const { server, port } = await startWhoamiServer();
    try {
      const held = client.current().svids[0]!;
      const connectsBefore = client.stats().x509!.connects;
      await spire.stopAgent();
      expect(spire.agentRunning).toBe(false);
      expect(client.current().svids[0]!.serialNumber).toBe(held.serialNumber);

      // Serving continues on the SVID in hand (a fresh handshake, not just a kept connection).
      const fresh = newChannel(port);
      const during = await call(fresh);
      fresh.close();
      expect(during).toMatchObject({ ok: true, peer: SELF });

      const afterRestart = new Promise<WorkloadSnapshot>((resolve) => {
        const off = client.onX509Update((s) => {
          off();
          resolve(s);
        });
      });
      await spire.startAgent(); // data dir kept: loads its stored SVID, no second join token
      const s = await afterRestart;
      expect(s.svids[0]!.spiffeId).toBe(SELF);
      expect(client.stats().x509!.connects).toBeGreaterThan(connectsBefore);
      // One node attestation (the join token, single-use) in the agent's whole life; the restart loaded its SVID.
      const log = readFileSync(path.join(spire.dir, "agent.log"), "utf8");
      expect(log.match(/Node attestation was successful/g)).toHaveLength(1);
      expect(log.match(/msg="SVID loaded"/g)).toHaveLength(1);

      const again = newChannel(port);
      expect(await call(again)).toMatchObject({ ok: true, peer: SELF });
      again.close();
    } finally {
      server.forceShutdown();
    }
  });
});

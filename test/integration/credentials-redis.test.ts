/**
 * The credential cache's shared tier on a real redis-server: two sidecars (two caches, two connections)
 * share credentials through L2 sealed under one key, make one exchange between them for a burst of
 * misses, keep answering while Redis is down (L1 and the issuer, said in the result), and use L2 again once
 * it is back. The issuer is an in-process double that counts calls (the real STS chain is in
 * credentials-seaweedfs.test.ts); Redis is real.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredentialCache } from "../../filters/credentials/cache.ts";
import { Exchanger } from "../../filters/credentials/exchange.ts";
import { RedisCredentialStore } from "../../filters/credentials/l2-redis.ts";
import { CredentialSeal } from "../../filters/credentials/sealed.ts";
import type {
  CredentialProvider,
  ExchangeRequest,
  IssuedCredential,
  TokenSource,
} from "../../filters/credentials/types.ts";
import { type RedisHarness, startRedis } from "../../sidecars/devtools/redis.ts";
import { createRedis } from "../../sidecars/redis.ts";

const SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRET";
const KEY = Buffer.alloc(32, 9);

class CountingIssuer implements CredentialProvider {
  readonly name = "aws";
  readonly kind = "aws" as const;
  readonly audience = "sts.test";
  readonly minDurationSeconds = 900;
  readonly maxDurationSeconds = 3600;
  calls = 0;
  target() {
    return "arn:aws:iam::123456789012:role/hexr";
  }
  async exchange(req: ExchangeRequest): Promise<IssuedCredential> {
    this.calls++;
    // an issuer takes a while: long enough for the other sidecar's misses to arrive during the exchange
    await new Promise((r) => setTimeout(r, 50));
    return {
      kind: "aws",
      accessKeyId: `ASIA${this.calls}`,
      secretAccessKey: SECRET,
      sessionToken: `session-${this.calls}`,
      expiresAt: Date.now() + req.durationSeconds * 1000,
    };
  }
}

const tokens: TokenSource = {
  token: async () => ({ token: "jwt", expiresAt: Date.now() + 60_000, source: "delegated" }),
};
const caller = (role: string) => ({
  spiffeId: `spiffe://hexr.cloud/agent/acme/crew/${role}`,
  trustDomain: "hexr.cloud",
  tenant: "acme",
  agent: "crew",
  role,
});
const req = (role = "researcher") => ({ caller: caller(role), durationSeconds: 900 });

let redis: RedisHarness;
const clients: Redis[] = [];

function sidecar(_issuer: CountingIssuer) {
  const client = createRedis({ url: redis.url, keyPrefix: "hexr-it:", commandTimeoutMs: 20, connectTimeoutMs: 500 });
  clients.push(client);
  const cache = new CredentialCache({
    exchanger: new Exchanger({ transientRetries: 0 }),
    l2: { store: new RedisCredentialStore(client, ""), seal: new CredentialSeal(KEY) },
  });
  return { client, cache };
}

function ready(c: Redis): Promise<void> {
  return c.status === "ready" ? Promise.resolve() : new Promise((r) => c.once("ready", () => r()));
}

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

describe("credential L2 on real Redis", () => {
  it("1000 concurrent misses across two sidecars make exactly one exchange", async () => {
    const issuer = new CountingIssuer();
    const a = sidecar(issuer);
    const b = sidecar(issuer);
    await Promise.all([ready(a.client), ready(b.client)]);
    const all = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => (i % 2 ? a : b).cache.lookup(issuer, req("burst"), tokens)),
    );
    expect(issuer.calls).toBe(1);
    expect(new Set(all.map((r) => (r.credential as { accessKeyId: string }).accessKeyId))).toEqual(new Set(["ASIA1"]));
    expect(new Set(all.map((r) => r.tier))).toEqual(new Set(["issuer", "l2"]));
  });

  it("stores nothing readable: no credential, caller or role in Redis", async () => {
    const issuer = new CountingIssuer();
    const a = sidecar(issuer);
    await ready(a.client);
    await a.cache.lookup(issuer, req("sealed"), tokens);
    const raw = sidecar(issuer).client;
    await ready(raw);
    const keys = await raw.keys("*");
    expect(keys.length).toBeGreaterThan(0);
    let dump = keys.join("\n");
    for (const k of keys) dump += (await raw.getBuffer(k.slice("hexr-it:".length)))?.toString("latin1") ?? "";
    for (const s of [SECRET, "ASIA1", "session-1", "sealed", "acme", "spiffe"]) expect(dump).not.toContain(s);
  });

  it("keeps serving with Redis stopped mid-traffic, says so, and shares again after a restart", async () => {
    const issuer = new CountingIssuer();
    const a = sidecar(issuer);
    const b = sidecar(issuer);
    await Promise.all([ready(a.client), ready(b.client)]);
    expect((await a.cache.lookup(issuer, req("outage"), tokens)).tier).toBe("issuer");
    expect((await b.cache.lookup(issuer, req("outage"), tokens)).tier).toBe("l2");

    await redis.kill();
    // a's L1 still answers; b asks for a key nobody has: the issuer answers and the lookup says L2 was down
    expect((a.cache.lookup(issuer, req("outage"), tokens) as { tier: string }).tier).toBe("l1");
    const started = performance.now();
    const during = await b.cache.lookup(issuer, req("during-outage"), tokens);
    expect(during.tier).toBe("issuer");
    expect(during.degraded).toContain("l2_unavailable");
    expect(performance.now() - started).toBeLessThan(1_000);

    await redis.restart();
    await Promise.all([ready(a.client), ready(b.client)]);
    expect((await a.cache.lookup(issuer, req("after"), tokens)).tier).toBe("issuer");
    const shared = await b.cache.lookup(issuer, req("after"), tokens);
    expect(shared.tier).toBe("l2");
    expect(shared.degraded).toEqual([]);
  });

  it("a paused (hung) Redis costs a miss at most the command timeout, not a stall", async () => {
    const issuer = new CountingIssuer();
    const a = sidecar(issuer);
    await ready(a.client);
    redis.pause();
    try {
      const started = performance.now();
      const r = await a.cache.lookup(issuer, req("hung"), tokens);
      const took = performance.now() - started;
      expect(r.tier).toBe("issuer");
      expect(r.degraded).toContain("l2_unavailable");
      // 20 ms command timeout + the 50 ms exchange, with room for a busy machine
      expect(took).toBeLessThan(500);
    } finally {
      redis.resume();
    }
  });
});

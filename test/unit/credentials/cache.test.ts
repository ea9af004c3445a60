import { describe, expect, it } from "vitest";
import { CredentialCache, credentialKey, type SharedStore } from "../../../filters/credentials/cache.ts";
import { Exchanger } from "../../../filters/credentials/exchange.ts";
import { CredentialSeal } from "../../../filters/credentials/sealed.ts";
import type {
  Caller,
  CallerToken,
  CredentialProvider,
  ExchangeRequest,
  IssuedCredential,
  TokenSource,
} from "../../../filters/credentials/types.ts";
import { CredentialError } from "../../../filters/credentials/types.ts";

const caller = (role = "researcher"): Caller => ({
  spiffeId: `spiffe://hexr.cloud/agent/acme/crew/${role}`,
  trustDomain: "hexr.cloud",
  tenant: "acme",
  agent: "crew",
  role,
});

class Clock {
  t = 1_800_000_000_000;
  now = () => this.t;
}

/** An issuer that counts calls and can be told how to answer next. */
class CountingProvider implements CredentialProvider {
  readonly name = "aws";
  readonly kind = "aws" as const;
  readonly audience = "sts.test";
  readonly minDurationSeconds = 900;
  readonly maxDurationSeconds = 3600;
  calls = 0;
  failWith: CredentialError | undefined;
  gate: Promise<void> | undefined;
  readonly clock: Clock;
  constructor(clock: Clock) {
    this.clock = clock;
  }
  target(c: Caller): string {
    return `arn:aws:iam::123456789012:role/${c.role}`;
  }
  async exchange(req: ExchangeRequest): Promise<IssuedCredential> {
    this.calls++;
    if (this.gate) await this.gate;
    if (this.failWith) throw this.failWith;
    return {
      kind: "aws",
      accessKeyId: `ASIA${this.calls}`,
      secretAccessKey: "s",
      sessionToken: "t",
      expiresAt: this.clock.t + req.durationSeconds * 1000,
    };
  }
}

const tokens: TokenSource = {
  async token(): Promise<CallerToken> {
    return { token: "jwt", expiresAt: Date.now() + 60_000, source: "delegated" };
  },
};

class MemoryStore implements SharedStore {
  readonly values = new Map<string, Buffer>();
  readonly locks = new Map<string, string>();
  down = false;
  async get(id: string) {
    if (this.down) throw new Error("down");
    return this.values.get(id) ?? null;
  }
  async set(id: string, v: Buffer) {
    if (this.down) throw new Error("down");
    this.values.set(id, v);
  }
  async lock(id: string, owner: string) {
    if (this.down) throw new Error("down");
    if (this.locks.has(id)) return false;
    this.locks.set(id, owner);
    return true;
  }
  async unlock(id: string, owner: string) {
    if (this.locks.get(id) === owner) this.locks.delete(id);
  }
}

function setup(opts: { l2?: MemoryStore } = {}) {
  const clock = new Clock();
  const provider = new CountingProvider(clock);
  const seal = new CredentialSeal(Buffer.alloc(32, 7));
  const cache = new CredentialCache({
    exchanger: new Exchanger({ transientRetries: 0 }),
    now: clock.now,
    ...(opts.l2 ? { l2: { store: opts.l2, seal, waitMs: 200 } } : {}),
  });
  return { clock, provider, cache, seal };
}

const req = (c = caller(), extra: Partial<ExchangeRequest> = {}): ExchangeRequest => ({
  caller: c,
  durationSeconds: 900,
  ...extra,
});

describe("CredentialCache", () => {
  it("1000 concurrent misses for one key make exactly one exchange", async () => {
    const { provider, cache } = setup();
    const all = await Promise.all(Array.from({ length: 1000 }, () => cache.lookup(provider, req(), tokens)));
    expect(provider.calls).toBe(1);
    expect(new Set(all.map((r) => (r.credential as { accessKeyId: string }).accessKeyId)).size).toBe(1);
    expect(all[0]?.tier).toBe("issuer");
  });

  it("answers a warm key synchronously from L1", async () => {
    const { provider, cache } = setup();
    await cache.lookup(provider, req(), tokens);
    const hit = cache.lookup(provider, req(), tokens);
    expect(hit).not.toBeInstanceOf(Promise);
    expect((hit as { tier: string }).tier).toBe("l1");
  });

  it("keys by caller and by scope, never sharing a credential across them", async () => {
    const { provider, cache } = setup();
    const a = await cache.lookup(provider, req(caller("researcher")), tokens);
    const b = await cache.lookup(provider, req(caller("writer")), tokens);
    const scoped = await cache.lookup(
      provider,
      req(caller("researcher"), { resources: ["arn:aws:s3:::b/*"], actions: ["s3:GetObject"] }),
      tokens,
    );
    const otherActions = await cache.lookup(
      provider,
      req(caller("researcher"), { resources: ["arn:aws:s3:::b/*"], actions: ["s3:PutObject"] }),
      tokens,
    );
    expect(provider.calls).toBe(4);
    const ids = [a, b, scoped, otherActions].map((r) => (r.credential as { accessKeyId: string }).accessKeyId);
    expect(new Set(ids).size).toBe(4);
  });

  it("refreshes ahead of expiry in the background and never serves the last minutes", async () => {
    const { clock, provider, cache } = setup();
    await cache.lookup(provider, req(), tokens); // expires at +900 s; served until +600 s; refresh from +450 s
    clock.t += 400_000;
    expect((cache.lookup(provider, req(), tokens) as { tier: string }).tier).toBe("l1");
    expect(provider.calls).toBe(1);
    clock.t += 100_000; // +500 s: still served, refresh starts
    const r = cache.lookup(provider, req(), tokens);
    expect((r as { tier: string }).tier).toBe("l1");
    await new Promise((res) => setImmediate(res));
    expect(provider.calls).toBe(2);
    clock.t += 650_000; // past the refreshed entry's margin too (+1150 s): a miss, a new exchange
    const late = await cache.lookup(provider, req(), tokens);
    expect(late.tier).toBe("issuer");
    expect(provider.calls).toBe(3);
  });

  it("with the issuer unavailable, serves an unexpired entry past its margin, then fails closed", async () => {
    const { clock, provider, cache } = setup();
    await cache.lookup(provider, req(), tokens);
    provider.failWith = new CredentialError(
      "credentials.issuer_unavailable",
      "aws: STS unavailable (HTTP 503)",
      "transient",
      "HTTP 503",
    );
    clock.t += 700_000; // past serveUntil, 200 s of life left
    const r = await cache.lookup(provider, req(), tokens);
    expect(r.degraded).toEqual(["issuer_unavailable"]);
    clock.t += 190_000; // 10 s left: under the grace
    await expect(cache.lookup(provider, req(), tokens)).rejects.toMatchObject({
      code: "credentials.issuer_unavailable",
    });
  });

  it("never papers over a denial with a cached credential", async () => {
    const { clock, provider, cache } = setup();
    await cache.lookup(provider, req(), tokens);
    provider.failWith = new CredentialError(
      "credentials.issuer_denied",
      "aws: STS denied the role (AccessDenied)",
      "never",
      "AccessDenied",
    );
    clock.t += 700_000;
    await expect(cache.lookup(provider, req(), tokens)).rejects.toMatchObject({ code: "credentials.issuer_denied" });
  });

  it("caps exchanges in flight per caller, so one agent cannot queue work for others", async () => {
    const { provider, cache } = setup();
    let open!: () => void;
    provider.gate = new Promise((r) => {
      open = r;
    });
    const pending = Array.from({ length: 8 }, (_, i) =>
      cache.lookup(provider, req(caller(), { resources: [`arn:aws:s3:::b${i}/*`], actions: ["s3:GetObject"] }), tokens),
    );
    await expect(
      cache.lookup(provider, req(caller(), { resources: ["arn:aws:s3:::b9/*"], actions: ["s3:GetObject"] }), tokens),
    ).rejects.toMatchObject({ code: "credentials.busy" });
    const other = cache.lookup(provider, req(caller("writer")), tokens); // another agent is not affected
    open();
    await Promise.all(pending);
    expect((await other).tier).toBe("issuer");
  });

  it("caps exchanges per caller per minute; other agents and the next minute are not affected", async () => {
    const clock = new Clock();
    const provider = new CountingProvider(clock);
    const cache = new CredentialCache({
      exchanger: new Exchanger({ transientRetries: 0 }),
      now: clock.now,
      maxExchangesPerCallerMinute: 3,
    });
    const scoped = (i: number, c = caller()) =>
      req(c, { resources: [`arn:aws:s3:::b${i}/*`], actions: ["s3:GetObject"] });
    for (let i = 0; i < 3; i++) await cache.lookup(provider, scoped(i), tokens);
    await expect(cache.lookup(provider, scoped(3), tokens)).rejects.toMatchObject({
      code: "credentials.exchange_rate_limited",
    });
    expect((await cache.lookup(provider, scoped(3, caller("writer")), tokens)).tier).toBe("issuer");
    expect((cache.lookup(provider, scoped(0), tokens) as { tier: string }).tier).toBe("l1"); // cached scopes still serve
    clock.t += 60_000;
    expect((await cache.lookup(provider, scoped(3), tokens)).tier).toBe("issuer");
  });

  it("shares through L2: a second sidecar finds the first one's entry, sealed", async () => {
    const store = new MemoryStore();
    const one = setup({ l2: store });
    const two = setup({ l2: store });
    const a = await one.cache.lookup(one.provider, req(), tokens);
    const b = await two.cache.lookup(two.provider, req(), tokens);
    expect(a.tier).toBe("issuer");
    expect(b.tier).toBe("l2");
    expect(two.provider.calls).toBe(0);
    const raw = Buffer.concat([...store.values.values()]).toString("latin1");
    expect(raw).not.toContain("ASIA1");
    expect([...store.values.keys()].join()).not.toContain("researcher");
  });

  it("a sidecar that finds the L2 lock taken waits for the holder's entry instead of exchanging", async () => {
    const store = new MemoryStore();
    const one = setup({ l2: store });
    const two = setup({ l2: store });
    let open!: () => void;
    one.provider.gate = new Promise((r) => {
      open = r;
    });
    const first = one.cache.lookup(one.provider, req(), tokens);
    await new Promise((r) => setTimeout(r, 5));
    const second = two.cache.lookup(two.provider, req(), tokens);
    open();
    expect((await first).tier).toBe("issuer");
    expect((await second).tier).toBe("l2");
    expect(two.provider.calls).toBe(0);
  });

  it("with L2 down, still answers from the issuer and says so", async () => {
    const store = new MemoryStore();
    store.down = true;
    const { provider, cache } = setup({ l2: store });
    const r = await cache.lookup(provider, req(), tokens);
    expect(r.tier).toBe("issuer");
    expect(r.degraded).toEqual(["l2_unavailable"]);
  });

  it("an L2 value under another key id (moved by a Redis writer) is not accepted", async () => {
    const store = new MemoryStore();
    const one = setup({ l2: store });
    await one.cache.lookup(one.provider, req(caller("researcher")), tokens);
    const [[, sealed]] = [...store.values.entries()] as [[string, Buffer]];
    const two = setup({ l2: store });
    const writerId = two.seal.keyId(
      `aws\u0000arn:aws:iam::123456789012:role/writer\u0000${credentialKey("aws", req(caller("writer")))}`,
    );
    store.values.set(writerId, sealed);
    const r = await two.cache.lookup(two.provider, req(caller("writer")), tokens);
    expect(r.tier).toBe("issuer");
  });
});

describe("Exchanger", () => {
  it("fetches a fresh token once when the issuer refuses one, and never loops", async () => {
    const clock = new Clock();
    const provider = new CountingProvider(clock);
    provider.failWith = new CredentialError(
      "credentials.token_rejected",
      "aws: STS refused the JWT-SVID (InvalidIdentityToken)",
      "token",
      "InvalidIdentityToken",
    );
    const asked: boolean[] = [];
    const src: TokenSource = {
      async token(_c, _a, o) {
        asked.push(o?.fresh === true);
        return { token: "jwt", expiresAt: Date.now() + 60_000, source: "delegated" };
      },
    };
    await expect(new Exchanger().exchange(provider, req(), src)).rejects.toMatchObject({
      code: "credentials.token_rejected",
    });
    expect(asked).toEqual([false, true]);
    expect(provider.calls).toBe(2);
  });

  it("retries transient failures a bounded number of times", async () => {
    const provider = new CountingProvider(new Clock());
    provider.failWith = new CredentialError(
      "credentials.issuer_unavailable",
      "aws: STS unavailable (Throttling)",
      "transient",
      "Throttling",
    );
    await expect(new Exchanger({ transientRetries: 2 }).exchange(provider, req(), tokens)).rejects.toMatchObject({
      code: "credentials.issuer_unavailable",
    });
    expect(provider.calls).toBe(3);
  });

  it("does not retry a final answer", async () => {
    const provider = new CountingProvider(new Clock());
    provider.failWith = new CredentialError(
      "credentials.issuer_denied",
      "aws: STS denied the role (AccessDenied)",
      "never",
      "AccessDenied",
    );
    await expect(new Exchanger().exchange(provider, req(), tokens)).rejects.toMatchObject({
      code: "credentials.issuer_denied",
    });
    expect(provider.calls).toBe(1);
  });
});

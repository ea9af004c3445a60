/**
 * Shared per-agent rate counters against a real redis-server (sidecars/devtools/redis.ts): replicas on one
 * Redis share the count, the window slides by the second exactly like the in-process RateCounter, and a
 * Redis that hangs (SIGSTOP) or dies (SIGKILL) costs a hit at most the command timeout, answers from the
 * local counter with `shared: false`, and shares again once it is back. The sidecar's Redis client never
 * lets the password reach a log line or an error it emits.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { inspect } from "node:util";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../envoy-config/runner.ts";
import { RateCounter } from "../../filters/authz/rate.ts";
import {
  boundedRateKey,
  defineSharedRate,
  MAX_RATE_KEY_LENGTH,
  RATE_KEY_TTL_MS,
  SharedRateCounter,
} from "../../filters/authz/shared-rate.ts";
import { type RedisHarness, startRedis } from "../../sidecars/devtools/redis.ts";
import { MemoryLogger } from "../../sidecars/logger.ts";
import {
  createRedis,
  DEFAULT_COMMAND_TIMEOUT_MS,
  isUp,
  reconnectDelay,
  RECONNECT_MAX_MS,
  type RedisConfig,
} from "../../sidecars/redis.ts";

const PREFIX = "hexr:";
// a fixed policy clock: every window below is driven by injected time, never by waiting
const T0 = Date.parse("2026-03-02T10:00:00Z");
const at = (minute: number, second: number, ms = 0) => T0 + minute * 60_000 + second * 1000 + ms;

let redis: RedisHarness;
const clients: Redis[] = [];

function config(url: string, over: Partial<RedisConfig> = {}): RedisConfig {
  return { url, keyPrefix: PREFIX, commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS, connectTimeoutMs: 1000, ...over };
}

/** Resolves on the client's next `ready` (events.once would reject on the reconnect errors before it). */
const ready = (c: Redis) => new Promise<void>((resolve) => c.once("ready", () => resolve()));

/** A connected sidecar client (waits for its `ready` event). */
async function client(url: string, over: Partial<RedisConfig> = {}, log = new MemoryLogger()): Promise<Redis> {
  const c = createRedis(config(url, over), log);
  clients.push(c);
  if (!isUp(c)) await ready(c);
  return c;
}

/** A fresh agent key per test: the tests share one Redis. */
const agent = () => `acme-corp/crew-${randomBytes(4).toString("hex")}`;

beforeAll(async () => {
  redis = await startRedis();
});

afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});

afterAll(async () => {
  await redis?.stop();
});

describe("SharedRateCounter: replicas share one count", () => {
  it("two replicas on one Redis see each other's calls; each local counter only its own", async () => {
    const localA = new RateCounter();
    const localB = new RateCounter();
    const a = new SharedRateCounter({ store: defineSharedRate(await client(redis.url)), local: localA });
    const b = new SharedRateCounter({ store: defineSharedRate(await client(redis.url)), local: localB });
    const key = agent();
    const seen = [];
    for (let i = 0; i < 6; i++) seen.push(await (i % 2 === 0 ? a : b).hit(key, at(0, 10 + i)));
    expect(seen).toEqual([1, 2, 3, 4, 5, 6].map((count) => ({ count, shared: true })));
    expect(await a.count(key, at(0, 20))).toEqual({ count: 6, shared: true });
    expect(await b.count(key, at(0, 20))).toEqual({ count: 6, shared: true });
    expect(localA.count(key, at(0, 20))).toBe(3);
    expect(localB.count(key, at(0, 20))).toBe(3);
  });

  it("1000 concurrent hits from two replicas on one key: every count from 1 to 1000 exactly once", async () => {
    // a generous timeout: this pins atomicity, not latency, on a busy 2-core machine
    const a = new SharedRateCounter({ store: defineSharedRate(await client(redis.url, { commandTimeoutMs: 5000 })) });
    const b = new SharedRateCounter({ store: defineSharedRate(await client(redis.url, { commandTimeoutMs: 5000 })) });
    const key = agent();
    const now = at(0, 30);
    const hits = await Promise.all(Array.from({ length: 1000 }, (_, i) => (i % 2 ? a : b).hit(key, now)));
    expect(hits.every((h) => h.shared)).toBe(true);
    expect(hits.map((h) => h.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(await a.count(key, now)).toEqual({ count: 1000, shared: true });
  });
});

describe("SharedRateCounter: the window (injected time)", () => {
  it("matches the in-process RateCounter hit for hit across minute boundaries (exact to the second)", async () => {
    const store = defineSharedRate(await client(redis.url));
    const model = new RateCounter();
    const key = agent();
    // deterministic pseudo-random gaps: bursts inside a second, pauses of up to 2.5 s, four minutes
    let seed = 7;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    let now = at(0, 0, 250);
    let checked = 0;
    while (now < at(4, 0)) {
      now += rand() < 0.6 ? Math.floor(rand() * 50) : Math.floor(rand() * 2500);
      const minute = Math.floor(now / 60_000);
      const second = Math.floor(now / 1000) - minute * 60;
      const got = await store.hexrRateHit(`rate:{${key}}:${minute}`, `rate:{${key}}:${minute - 1}`, second, 1, 60_000);
      expect({ at: new Date(now).toISOString(), count: got }).toEqual({
        at: new Date(now).toISOString(),
        count: model.hit(key, now),
      });
      checked++;
    }
    expect(checked).toBeGreaterThan(200);
  });

  it("calls bunched at the end of a minute still count in full half a minute later (no 2× burst)", async () => {
    const rate = new SharedRateCounter({ store: defineSharedRate(await client(redis.url)), local: new RateCounter() });
    const key = agent();
    await Promise.all(Array.from({ length: 100 }, () => rate.hit(key, at(0, 59, 500))));
    // the two-fixed-windows estimate would say 100 × (1 − 30/60) = 50 here
    expect(await rate.count(key, at(1, 30))).toEqual({ count: 100, shared: true });
    // second 59 of minute 0 is in the window until second 58 of minute 1, inclusive
    expect(await rate.count(key, at(1, 58, 999))).toEqual({ count: 100, shared: true });
    expect(await rate.count(key, at(1, 59))).toEqual({ count: 0, shared: true });
    expect(await rate.hit(key, at(2, 0))).toEqual({ count: 1, shared: true });
  });

  it("keys are <prefix>rate:{<agent>}:<minute>, expire about two minutes after their first call", async () => {
    const c = await client(redis.url);
    const rate = new SharedRateCounter({ store: defineSharedRate(c) });
    const key = agent();
    await rate.hit(key, at(3, 5));
    const minute = Math.floor(at(3, 5) / 60_000);
    // the client's keyPrefix applies to the script's keys too: look without it
    const raw = await client(redis.url, { keyPrefix: "" });
    expect(await raw.keys(`${PREFIX}rate:{${key}}:*`)).toEqual([`${PREFIX}rate:{${key}}:${minute}`]);
    const ttl = await raw.pttl(`${PREFIX}rate:{${key}}:${minute}`);
    expect(ttl).toBeGreaterThan(RATE_KEY_TTL_MS - 10_000);
    expect(ttl).toBeLessThanOrEqual(RATE_KEY_TTL_MS);
    expect(RATE_KEY_TTL_MS).toBeGreaterThanOrEqual(120_000);
  });

  it("a busy agent's minute stays a small compact hash (every second used, then read as the previous minute)", async () => {
    const rate = new SharedRateCounter({ store: defineSharedRate(await client(redis.url)) });
    const key = agent();
    for (let s = 0; s < 60; s++) await rate.hit(key, at(5, s, 300));
    expect(await rate.hit(key, at(6, 0))).toEqual({ count: 60, shared: true });
    const raw = await client(redis.url, { keyPrefix: "" });
    const previous = `${PREFIX}rate:{${key}}:${Math.floor(at(5, 0) / 60_000)}`;
    expect(await raw.hlen(previous)).toBeLessThanOrEqual(122);
    expect(await raw.call("OBJECT", "ENCODING", previous)).toBe("listpack");
  });
});

describe("SharedRateCounter: keys are bounded", () => {
  it.each([
    ["a plain tenant/agent key", "acme-corp/content-crew", false],
    ["exactly the cap", "a".repeat(MAX_RATE_KEY_LENGTH), false],
    ["one over the cap", "a".repeat(MAX_RATE_KEY_LENGTH + 1), true],
    ["a megabyte", "x".repeat(1 << 20), true],
    ["braces (would move the hash tag)", "acme}{crew", true],
    ["an opening brace", "acme/{crew", true],
    ["a leading # (the hashed form)", "#acme/crew", true],
    ["a space", "acme crew", true],
    ["a newline", "acme\ncrew", true],
    ["non-ASCII", "acmé/crew", true],
    ["empty", "", true],
  ])("%s", (_name, key, hashed) => {
    const stored = boundedRateKey(key);
    expect(stored.length).toBeLessThanOrEqual(MAX_RATE_KEY_LENGTH);
    expect(stored).not.toMatch(/[{}\s]/);
    if (hashed) expect(stored).toMatch(/^#[A-Za-z0-9_-]{43}$/);
    else expect(stored).toBe(key);
  });

  it("a huge key is stored hashed, counts like any other and does not collide with its neighbours", async () => {
    const rate = new SharedRateCounter({ store: defineSharedRate(await client(redis.url)) });
    const base = `${agent()}/${"x".repeat(1 << 20)}`;
    expect(await rate.hit(base, at(0, 1))).toEqual({ count: 1, shared: true });
    expect(await rate.hit(base, at(0, 2))).toEqual({ count: 2, shared: true });
    expect(await rate.hit(`${base}y`, at(0, 3))).toEqual({ count: 1, shared: true });
    const raw = await client(redis.url, { keyPrefix: "" });
    const stored = await raw.keys(`${PREFIX}rate:{${boundedRateKey(base)}}:*`);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.length).toBeLessThan(100);
  });
});

describe("SharedRateCounter: Redis hung or gone", () => {
  let own: RedisHarness | undefined;
  afterEach(async () => {
    await own?.stop();
    own = undefined;
  });

  it("paused mid-traffic (SIGSTOP): no hit waits past the command timeout, counts go on locally, then shared again", async () => {
    own = await startRedis();
    const log = new MemoryLogger();
    const local = new RateCounter();
    const rate = new SharedRateCounter({ store: defineSharedRate(await client(own.url)), local, log, retryMs: 100 });
    const key = agent();
    const now = at(0, 10);
    const latencies: number[] = [];
    const after: Array<{ count: number; shared: boolean }> = [];
    let expected = 0;
    for (let round = 0; round < 60; round++) {
      if (round === 20) own.pause();
      const batch = Array.from({ length: 10 }, () => {
        expected++;
        const t = performance.now();
        return rate.hit(key, now).then((h) => {
          latencies.push(performance.now() - t);
          return h;
        });
      });
      const got = await Promise.all(batch);
      if (round < 20) expect(got.every((h) => h.shared)).toBe(true);
      else after.push(...got);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // 20 ms and a margin for a busy machine's late timers: never Envoy's 250 ms Check deadline
    expect(Math.max(...latencies)).toBeLessThan(DEFAULT_COMMAND_TIMEOUT_MS + 60);
    // only the hits already in flight when it stalled waited; after the first timeout, none does
    expect(latencies.filter((ms) => ms >= DEFAULT_COMMAND_TIMEOUT_MS * 0.75).length).toBeLessThanOrEqual(12);
    expect(after.every((h) => !h.shared)).toBe(true);
    // the local counter was hit every time, so the fallback continues the same count
    expect(after.map((h) => h.count)).toEqual(Array.from({ length: 400 }, (_, i) => 201 + i));
    expect(local.count(key, now)).toBe(expected);
    expect(log.entries).toContainEqual(expect.objectContaining({ event: "rate_shared_fallback", reason: "timeout" }));

    own.resume();
    const back = await waitFor("hits to be shared again", async () => {
      const h = await rate.hit(key, now);
      return h.shared ? h : undefined;
    });
    // Redis never saw the calls answered locally while it was paused; the answer is never below this
    // replica's own count
    expect(back.count).toBe(local.count(key, now));
    expect(log.entries).toContainEqual(expect.objectContaining({ event: "rate_shared_restored" }));
  });

  it("killed (SIGKILL): falls back at once; restarted on the same port: shared again after the reconnect", async () => {
    own = await startRedis();
    const log = new MemoryLogger();
    const c = await client(own.url, {}, log);
    const rate = new SharedRateCounter({ store: defineSharedRate(c), log });
    const key = agent();
    const now = at(0, 40);
    for (let i = 1; i <= 3; i++) expect(await rate.hit(key, now)).toEqual({ count: i, shared: true });

    await own.kill();
    for (let i = 4; i <= 8; i++) {
      const t = performance.now();
      expect(await rate.hit(key, now)).toEqual({ count: i, shared: false });
      expect(performance.now() - t).toBeLessThan(DEFAULT_COMMAND_TIMEOUT_MS + 60);
    }
    expect(log.entries).toContainEqual(expect.objectContaining({ event: "rate_shared_fallback" }));

    const reconnected = ready(c);
    await own.restart();
    await reconnected;
    // the restarted Redis lost the minute (1 call there now); the answer stays at this replica's own 9
    expect(await rate.hit(key, now)).toEqual({ count: 9, shared: true });
    // a second replica reads what Redis holds: a probe, so with room for a loaded machine (the 20 ms
    // default would turn one slow answer of the just-restarted Redis into a local fallback)
    const other = new SharedRateCounter({
      store: defineSharedRate(await client(own.url, { commandTimeoutMs: 1000 })),
    });
    expect(await other.hit(key, now)).toEqual({ count: 2, shared: true });
    expect(log.entries.filter((e) => e.event === "redis_down")).toHaveLength(1);
    expect(log.entries.filter((e) => e.event === "redis_up")).toHaveLength(2);
  });
});

describe("createRedis: the sidecar's client", () => {
  const RIGHT = `right-${randomBytes(8).toString("hex")}/@:`;
  const WRONG = `wrong-${randomBytes(8).toString("hex")}`;
  let secured: RedisHarness;
  beforeAll(async () => {
    secured = await startRedis({ password: RIGHT });
  });
  afterAll(async () => {
    await secured?.stop();
  });

  it("a wrong password: refused, and neither the logs nor any error it emits or rejects with holds it", async () => {
    const log = new MemoryLogger();
    const url = `redis://:${WRONG}@127.0.0.1:${secured.port}`;
    const c = createRedis(config(url), log);
    clients.push(c);
    const emitted: string[] = [];
    c.on("error", (e) => emitted.push(inspect(e, { depth: 10 }), JSON.stringify(e), String(e)));
    await once(c, "error");
    const rejected = await c.get("anything").then(
      () => "resolved",
      (e: unknown) => inspect(e, { depth: 10 }),
    );
    expect(rejected).not.toBe("resolved");
    expect(isUp(c)).toBe(false);
    expect(emitted.join("\n")).toMatch(/WRONGPASS/);
    const everything = [...emitted, rejected, JSON.stringify(log.entries)].join("\n");
    expect(everything).not.toContain(WRONG);
    expect(everything).not.toContain(url);
    expect(log.entries).toContainEqual(
      expect.objectContaining({ event: "redis_down", endpoint: `127.0.0.1:${secured.port}` }),
    );
  });

  it("the right password (URL-encoded): ready, and the logs name host:port only", async () => {
    const log = new MemoryLogger();
    const c = await client(secured.url, {}, log);
    expect(isUp(c)).toBe(true);
    expect(await c.ping()).toBe("PONG");
    expect(log.entries).toEqual([{ level: "info", event: "redis_up", endpoint: `127.0.0.1:${secured.port}` }]);
    expect(JSON.stringify(log.entries)).not.toContain(RIGHT);
    expect(JSON.stringify(log.entries)).not.toContain(encodeURIComponent(RIGHT));
  });

  it.each([
    ["not a redis URL", { url: "http://127.0.0.1:6379" }, /url/],
    ["a prefix with a brace", { keyPrefix: "hexr{" }, /keyPrefix/],
    ["a zero command timeout", { commandTimeoutMs: 0 }, /commandTimeoutMs/],
    ["a fractional connect timeout", { connectTimeoutMs: 1.5 }, /connectTimeoutMs/],
  ])("rejects %s, naming the option", (_name, over, message) => {
    expect(() => createRedis(config("redis://127.0.0.1:1", over))).toThrow(message);
  });

  it("reconnect backoff doubles from 50 ms and is capped (plus at most 20% jitter)", () => {
    expect([1, 2, 3, 4].map((n) => reconnectDelay(n, () => 0))).toEqual([50, 100, 200, 400]);
    expect(reconnectDelay(1000, () => 0)).toBe(RECONNECT_MAX_MS);
    expect(reconnectDelay(1000, () => 1)).toBe(RECONNECT_MAX_MS * 1.2);
  });

  it("defineSharedRate refuses a client without a command timeout (nothing would bound a hit)", () => {
    expect(() => defineSharedRate({ defineCommand() {}, options: {}, status: "ready" })).toThrow(/commandTimeout/);
  });
});

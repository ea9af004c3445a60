/**
 * Calls per agent in the last minute across every replica of the sidecar, kept in Redis, with the
 * in-process {@link RateCounter} as the fallback. One round trip per hit: a Lua script (EVALSHA, EVAL
 * again after a Redis restart emptied the script cache) records the call and returns the count.
 *
 * Window: RateCounter's, exact to the second. At second `S` of the caller's clock the count covers the
 * whole seconds `S-59 … S`, so its only error is the rounding to seconds (a call between 59 and 60 s old
 * may still count) plus the clock skew between replicas (each files its calls by its own clock). Each
 * agent has one hash per minute, `rate:{<key>}:<minute>` (calls per second of the minute, a total, and
 * prefix sums once it is read as the previous minute), expiring 2 min after it is created (+5 s for
 * clock skew). Chosen over the two-fixed-windows approximation (`prev × (1 − elapsed/60) + current`),
 * which assumes the previous minute's calls were spread evenly: its error is up to the previous minute's
 * whole count, so an agent that bunches its calls at the end of a minute gets nearly twice its limit in
 * 60 s. The price is Redis CPU: ~3.8 µs a hit against ~1.4 µs for the approximation (measured, Redis 7);
 * memory stays bounded (≤ 122 small fields in each of 2 hashes per active agent, within Redis's compact
 * listpack encoding), and the count means the same whether it came from Redis or the fallback. The
 * braces are a Redis Cluster hash tag: both hashes of an agent live on one shard.
 *
 * The script never calls Redis TIME: the second comes from `nowMs`, so replicas agree to within their
 * clock skew (NTP) and tests inject time. (Key expiry is Redis's clock; it only frees memory.)
 *
 * Never rejects, never waits past the client's command timeout. On an error or timeout the answer is
 * the local count with `shared: false`: this replica's calls only (the local counter is hit on every
 * call, so it has history). After a timeout, hits skip Redis entirely for `retryMs`, then one background
 * probe at a time decides when to share again, so a hung Redis stalls only the hits already in flight.
 * Calls answered locally are not replayed into Redis later. A shared count is never below this replica's
 * own count (a Redis that lost its data does not reset an agent's minute).
 *
 * @example
 *   const rate = new SharedRateCounter({ store: defineSharedRate(createRedis(cfg, log)), log });
 *   const { count, shared } = await rate.hit(`${tenant}/${agent}`, Date.now());
 */
import { createHash } from "node:crypto";
import type { Logger } from "./logger.ts";
import { NOOP_LOGGER } from "./logger.ts";
import { RateCounter } from "./rate.ts";

/** After a timeout, hits answer locally for this long before one probe goes to Redis. */
export const DEFAULT_RETRY_MS = 250;
/** Longer keys, or keys with characters outside printable ASCII, braces or `#`, are hashed. */
export const MAX_RATE_KEY_LENGTH = 128;
/** Two minutes: a minute's hash is read as "the previous minute" during the next one; +5 s clock skew. */
export const RATE_KEY_TTL_MS = 2 * 60_000 + 5_000;
const SCRIPT_NAME = "hexrRateHit";

/**
 * KEYS[1] this minute's hash, KEYS[2] the previous minute's. ARGV: second of the minute (caller's
 * clock), 1 to record or 0 to read, TTL in ms. Fields: "0".."59" calls in that second, "n" the minute's
 * total; on a minute read as "previous", "p0".."p59" prefix sums and "f" the total they were computed
 * at. The previous minute's seconds s+1..59 are still in the window: `n - p<s>`, one HMGET. The prefix
 * sums are recomputed only when the total moved since (the first read in a minute, or a replica with a
 * slow clock still writing into it), so the answer is exact and a hit costs O(1) fields, not O(60).
 */
export const RATE_SCRIPT = `
local s = tonumber(ARGV[1])
local current
if ARGV[2] == '1' then
  redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
  current = redis.call('HINCRBY', KEYS[1], 'n', 1)
  if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
else
  current = tonumber(redis.call('HGET', KEYS[1], 'n') or 0)
end
if s == 59 then return current end
local v = redis.call('HMGET', KEYS[2], 'n', 'f', 'p' .. s)
if not v[1] then return current end
local head = v[3]
if v[2] ~= v[1] then
  local names = {}
  for i = 0, 59 do names[i + 1] = i end
  local counts = redis.call('HMGET', KEYS[2], unpack(names))
  local sums, acc = {}, 0
  for i = 0, 59 do
    acc = acc + tonumber(counts[i + 1] or 0)
    sums[#sums + 1] = 'p' .. i
    sums[#sums + 1] = acc
    if i == s then head = acc end
  end
  sums[#sums + 1] = 'f'
  sums[#sums + 1] = v[1]
  redis.call('HSET', KEYS[2], unpack(sums))
end
return current + tonumber(v[1]) - tonumber(head)
`;

/** The one call SharedRateCounter makes (a stub in unit tests; {@link defineSharedRate} for Redis). */
export interface SharedRateStore {
  hexrRateHit(current: string, previous: string, second: number, record: 0 | 1, ttlMs: number): Promise<number>;
}

/** What {@link defineSharedRate} needs from an ioredis client. */
export interface ScriptingClient {
  defineCommand(name: string, definition: { lua: string; numberOfKeys: number }): void;
  options: { commandTimeout?: number | undefined };
  /** ioredis: "ready" when commands are sent rather than refused. */
  status: string;
}

/**
 * One shared rejection for "not connected": ioredis would build a new Error (and its stack) per
 * refused command, ~20 µs a hit for as long as Redis is down; this costs nothing.
 */
const NOT_CONNECTED = Object.freeze(new Error("redis is not connected"));

/**
 * Registers the script on an ioredis client (from sidecars/redis.ts `createRedis`) and returns it as a
 * store. The client must have a command timeout: it is what bounds a hit.
 */
export function defineSharedRate(redis: ScriptingClient): SharedRateStore {
  const t = redis.options.commandTimeout;
  if (typeof t !== "number" || t <= 0) throw new TypeError("defineSharedRate: the client needs commandTimeout");
  const client = redis as unknown as ScriptingClient & Partial<SharedRateStore>;
  if (typeof client.hexrRateHit !== "function") redis.defineCommand(SCRIPT_NAME, { lua: RATE_SCRIPT, numberOfKeys: 2 });
  const script = client as ScriptingClient & SharedRateStore;
  return {
    hexrRateHit: (current, previous, second, record, ttlMs) =>
      script.status === "ready"
        ? script.hexrRateHit(current, previous, second, record, ttlMs)
        : Promise.reject(NOT_CONNECTED),
  };
}

/** printable ASCII without space, `#` (hashed keys start with it), `{` and `}` (the hash tag) */
const PLAIN_KEY = /^[\x21\x22\x24-\x7a\x7c\x7e]+$/;

/** The key as stored: itself when short and plain, else `#` + base64url SHA-256 (44 characters). */
export function boundedRateKey(key: string): string {
  if (key.length <= MAX_RATE_KEY_LENGTH && PLAIN_KEY.test(key)) return key;
  return `#${createHash("sha256").update(key).digest("base64url")}`;
}

/** ioredis: "Command timed out"; anything else that says so (stubs, other clients). */
function isTimeout(e: unknown): boolean {
  return e instanceof Error && (e.name === "TimeoutError" || /timed? ?out/i.test(e.message));
}

export interface RateHit {
  /** Calls in the last minute including this one: across replicas when `shared`, else this replica's. */
  count: number;
  shared: boolean;
}

export interface SharedRateOptions {
  store: SharedRateStore;
  /** The fallback, hit on every call. Default: a new RateCounter. */
  local?: RateCounter;
  log?: Logger;
  /** Default {@link DEFAULT_RETRY_MS}. */
  retryMs?: number;
  /** Monotonic milliseconds for the retry pause (not the rate window: that is `nowMs`). */
  clock?: () => number;
}

export class SharedRateCounter {
  readonly #store: SharedRateStore;
  readonly #local: RateCounter;
  readonly #log: Logger;
  readonly #retryMs: number;
  readonly #clock: () => number;
  /** 0 while sharing; else the clock time after which a probe may go. */
  #pausedUntil = 0;
  #probing = false;
  /** The last answer came from the fallback (logged once per outage). */
  #degraded = false;

  constructor(opts: SharedRateOptions) {
    const retry = opts.retryMs ?? DEFAULT_RETRY_MS;
    if (!Number.isInteger(retry) || retry < 1) throw new TypeError("retryMs must be an integer ≥ 1");
    this.#store = opts.store;
    this.#local = opts.local ?? new RateCounter();
    this.#log = opts.log ?? NOOP_LOGGER;
    this.#retryMs = retry;
    this.#clock = opts.clock ?? (() => performance.now());
  }

  /** Records one call for `key` at `nowMs`; resolves (never rejects) with the calls in the last minute. */
  hit(key: string, nowMs: number): Promise<RateHit> {
    const k = boundedRateKey(key);
    const local = this.#local.hit(k, nowMs);
    if (this.#pausedUntil !== 0) {
      if (!this.#probing && this.#clock() >= this.#pausedUntil) this.#probe(k, nowMs, 1);
      return Promise.resolve({ count: local, shared: false });
    }
    return this.#ask(k, nowMs, 1, local);
  }

  /** Calls in the last minute without recording one. */
  count(key: string, nowMs: number): Promise<RateHit> {
    const k = boundedRateKey(key);
    const local = this.#local.count(k, nowMs);
    if (this.#pausedUntil !== 0) {
      if (!this.#probing && this.#clock() >= this.#pausedUntil) this.#probe(k, nowMs, 0);
      return Promise.resolve({ count: local, shared: false });
    }
    return this.#ask(k, nowMs, 0, local);
  }

  /** False while answers come from the in-process counter. */
  get sharing(): boolean {
    return !this.#degraded;
  }

  #call(k: string, nowMs: number, record: 0 | 1): Promise<number> {
    const minute = Math.floor(nowMs / 60_000);
    const second = Math.floor(nowMs / 1000) - minute * 60;
    try {
      return this.#store.hexrRateHit(
        `rate:{${k}}:${minute}`,
        `rate:{${k}}:${minute - 1}`,
        second,
        record,
        RATE_KEY_TTL_MS,
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #ask(k: string, nowMs: number, record: 0 | 1, local: number): Promise<RateHit> {
    return this.#call(k, nowMs, record).then(
      (n) => {
        // an answer in time, even one sent before a timeout paused sharing: Redis is answering
        this.#pausedUntil = 0;
        if (this.#degraded) this.#restored();
        return { count: Math.max(Number(n), local), shared: true };
      },
      (e: unknown) => {
        // a timeout means commands pile up behind a hung server: stop sending for a while. Anything
        // else (not connected, connection lost) failed at once and costs nothing to try again.
        if (isTimeout(e) && this.#pausedUntil === 0) this.#pausedUntil = this.#clock() + this.#retryMs;
        if (!this.#degraded) {
          this.#degraded = true;
          this.#log.warn({
            event: "rate_shared_fallback",
            reason: isTimeout(e) ? "timeout" : "unavailable",
            retry_ms: this.#retryMs,
          });
        }
        return { count: local, shared: false };
      },
    );
  }

  /** The call sent in the background (a hit still counts): its answer only decides whether to share again. */
  #probe(k: string, nowMs: number, record: 0 | 1): void {
    this.#probing = true;
    this.#call(k, nowMs, record).then(
      () => {
        this.#probing = false;
        this.#pausedUntil = 0;
        this.#restored();
      },
      () => {
        this.#probing = false;
        this.#pausedUntil = this.#clock() + this.#retryMs;
      },
    );
  }

  #restored(): void {
    if (!this.#degraded) return;
    this.#degraded = false;
    this.#log.info({ event: "rate_shared_restored" });
  }
}

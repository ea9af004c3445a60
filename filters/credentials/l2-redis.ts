/**
 * The shared (L2) tier on Redis: sealed values with an expiry, and the short lock that keeps sidecars from
 * exchanging the same key at once. Keys are opaque ids from {@link CredentialSeal.keyId} under a prefix.
 * Every failure rejects; the cache treats that as "L2 unavailable" and carries on with L1 and the issuer.
 *
 * @example
 *   const store = new RedisCredentialStore(redis, "hexr:");
 *   new CredentialCache({ exchanger, l2: { store, seal } });
 */
import type { SharedStore } from "./cache.ts";

/** Deletes the lock only if it still holds our owner token (a lock that expired and was retaken stays). */
const UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/** The few ioredis calls the store makes (so a test can see exactly what reaches Redis). */
export interface RedisLike {
  getBuffer(key: string): Promise<Buffer | null>;
  set(key: string, value: Buffer | string, px: "PX", ttlMs: number): Promise<unknown>;
  set(key: string, value: string, px: "PX", ttlMs: number, nx: "NX"): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: string[]): Promise<unknown>;
}

export class RedisCredentialStore implements SharedStore {
  readonly #r: RedisLike;
  readonly #prefix: string;

  constructor(redis: RedisLike, prefix: string) {
    this.#r = redis;
    this.#prefix = `${prefix}cred:`;
  }

  get(id: string): Promise<Buffer | null> {
    return this.#r.getBuffer(this.#prefix + id);
  }

  async set(id: string, value: Buffer, ttlMs: number): Promise<void> {
    await this.#r.set(this.#prefix + id, value, "PX", Math.max(1, Math.floor(ttlMs)));
  }

  async lock(id: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.#r.set(this.#prefix + id, owner, "PX", ttlMs, "NX")) === "OK";
  }

  async unlock(id: string, owner: string): Promise<void> {
    await this.#r.eval(UNLOCK, 1, this.#prefix + id, owner);
  }
}

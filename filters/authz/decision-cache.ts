/**
 * A bounded LRU of policy decisions, keyed by policy generation plus every field of the input.
 * The generation changes on every policy swap, so a decision can never outlive the policy that made
 * it; `clear()` on swap just frees the memory sooner.
 *
 * Inputs carry the timestamp (to the second) and the caller's call count, so hits come from bursts of
 * identical requests within a second — the cache bounds repeated WASM work, it never changes answers.
 *
 * @example
 *   const key = decisionCacheKey(snapshot.generation, input);
 *   const decision = cache.get(key) ?? evaluateAndStore(key);
 */
import { LRUCache } from "lru-cache";
import type { Decision } from "./engine.ts";
import type { OpaInput } from "./input.ts";

export const DEFAULT_MAX_ENTRIES = 10_000;
export const DEFAULT_TTL_MS = 5_000;
/** Keys longer than this (huge paths) are not cached: memory stays bounded by entries × this. */
export const MAX_KEY_LENGTH = 8_192;

export interface DecisionCacheOptions {
  readonly max?: number;
  readonly ttlMs?: number;
  /** Clock for TTLs (tests); default `performance`. */
  readonly perf?: { now(): number };
}

/**
 * `generation \0 field \0 field …` in a fixed order, each field length-prefixed so no value
 * (a path containing `\0`, say) can shift fields and collide with another input.
 */
export function decisionCacheKey(generation: number, input: OpaInput): string {
  const r = input.request;
  let key = `${generation}\0${f(input.spiffe_id)}${f(input.tenant)}${f(input.agent)}${f(input.role)}${f(input.service)}${f(input.action)}${f(input.timestamp)}${f(r.method)}${f(r.host)}${f(r.path)}${input.rate.agent_calls_last_minute}\0`;
  const names = Object.keys(r.headers);
  if (names.length > 1) names.sort();
  key += `${names.length}\0`;
  for (const n of names) key += f(n) + f(r.headers[n] as string);
  // actions carry the resource facts (target and copy source); JSON is unambiguous and small (names are capped)
  key += f(JSON.stringify(input.actions)) + f(JSON.stringify(input.resource));
  const a = input.a2a;
  key += a
    ? `a${f(a.caller)}${f(a.target)}${f(a.method)}${f(a.version)}${f(a.binding)}${f(a.task_id ?? "")}${f(a.context_id ?? "")}${f(a.chain.join("\n"))}`
    : "-";
  return key;
}

function f(s: string): string {
  return `${s.length}:${s}\0`;
}

export class DecisionCache {
  readonly #lru: LRUCache<string, Decision>;

  constructor(opts: DecisionCacheOptions = {}) {
    const max = opts.max ?? DEFAULT_MAX_ENTRIES;
    const ttl = opts.ttlMs ?? DEFAULT_TTL_MS;
    if (!Number.isInteger(max) || max < 1) throw new TypeError("DecisionCache max must be an integer ≥ 1");
    if (!Number.isInteger(ttl) || ttl < 1) throw new TypeError("DecisionCache ttlMs must be an integer ≥ 1");
    // An injected clock is read on every access (lru-cache otherwise memoizes "now" for 1 ms).
    this.#lru = new LRUCache<string, Decision>({
      max,
      ttl,
      ...(opts.perf ? { perf: opts.perf, ttlResolution: 0 } : {}),
    });
  }

  get(key: string): Decision | undefined {
    return this.#lru.get(key);
  }

  set(key: string, decision: Decision): void {
    if (key.length <= MAX_KEY_LENGTH) this.#lru.set(key, decision);
  }

  clear(): void {
    this.#lru.clear();
  }

  get size(): number {
    return this.#lru.size;
  }
}

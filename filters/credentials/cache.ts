/**
 * The three-tier credential cache: L1 in-process LRU → L2 shared store (Redis, sealed) → L3 the issuer.
 *
 * - **Keyed by everything that changes the exchange**: provider, the caller's SPIFFE ID, the lifetime asked
 *   for and, when the policy scoped the call, its actions and resources. The L2 key adds the provider's
 *   target (role ARN after templating), so sidecars configured differently never share an entry.
 * - **Never served in its last minutes**: an entry is served until `expiresAt - margin` (margin = the
 *   smaller of `minRemainingMs` and half the asked lifetime), and refreshed in the background from half a
 *   margin before that, so steady traffic never waits for the issuer.
 * - **Single-flight**: one fill per key at a time in this process; across sidecars, a short L2 lock makes
 *   the others wait for the holder's entry (bounded by `l2.waitMs`, then they exchange themselves).
 * - **Degrades, then fails closed**: L2 errors skip L2 (the lookup says `l2_unavailable`); an issuer that is
 *   unavailable (transient failure) leaves unexpired entries served past their margin (`issuer_unavailable`),
 *   and only then does the lookup fail, with the issuer's reason. A final answer (access denied) is never
 *   papered over with a cached credential: a revoked trust takes effect at the key's next exchange.
 * - **Bounded**: L1 by entries and bytes; fills in flight per caller (`maxFillsPerCaller`) and exchanges
 *   per caller per minute (`maxExchangesPerCallerMinute`), so one agent asking for a new scope on every
 *   request can neither queue work in front of the others nor spend the account's STS quota.
 *
 * A hit in L1 is synchronous: no promise, no allocation beyond the result.
 *
 * @example
 *   const cache = new CredentialCache({ exchanger, l2: { store, seal } });
 *   const r = await cache.lookup(provider, { caller, durationSeconds: 900 }, tokens);
 *   r.tier; // "l1" | "l2" | "issuer"
 */
import { randomUUID } from "node:crypto";
import { LRUCache } from "lru-cache";
import { HexrError, isHexrError } from "../errors.ts";
import type { Exchanger } from "./exchange.ts";
import type { CredentialSeal } from "./sealed.ts";
import type { CredentialProvider, ExchangeRequest, IssuedCredential, TokenSource } from "./types.ts";
import { CredentialError } from "./types.ts";

export const DEFAULT_L1_MAX_ENTRIES = 10_000;
export const DEFAULT_L1_MAX_BYTES = 16 * 1024 * 1024;
/** Never hand out a credential with less than this left (the request it signs may be slow). */
export const DEFAULT_MIN_REMAINING_MS = 5 * 60_000;
/** With the issuer down, an entry past its margin is still served while it has this much life left. */
export const DEFAULT_GRACE_MS = 30_000;
/** Another sidecar's exchange normally ends in well under a second; the lock outlives a stuck holder briefly. */
export const DEFAULT_L2_LOCK_MS = 3_000;
/** How long a miss waits for another sidecar's entry before exchanging itself (keep well under Envoy's timeout). */
export const DEFAULT_L2_WAIT_MS = 500;
export const DEFAULT_MAX_FILLS_PER_CALLER = 8;
/**
 * Exchanges per caller per minute. STS quotas are per account: an agent that asks for a new scope on
 * every request (a new bucket each time) must not spend the quota every other agent needs.
 */
export const DEFAULT_MAX_EXCHANGES_PER_CALLER_MINUTE = 60;
const MAX_TRACKED_CALLERS = 10_000;
const L2_POLL_FIRST_MS = 10;
const L2_POLL_MAX_MS = 100;
/** Bytes an entry costs besides its strings (object headers, timestamps, LRU bookkeeping). */
const ENTRY_OVERHEAD = 160;

export type Tier = "l1" | "l2" | "issuer";
export type Degradation = "l2_unavailable" | "issuer_unavailable";

export interface CredentialLookup {
  readonly credential: IssuedCredential;
  readonly tier: Tier;
  /** What was down and worked around; empty when nothing was. */
  readonly degraded: readonly Degradation[];
}

/** The shared tier. Implementations reject on any store failure; the cache then skips L2 for that fill. */
export interface SharedStore {
  get(id: string): Promise<Buffer | null>;
  /** Stores with an expiry in ms. */
  set(id: string, value: Buffer, ttlMs: number): Promise<void>;
  /** Takes the lock if free (`SET NX PX`); true when this owner now holds it. */
  lock(id: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Releases the lock if this owner still holds it. */
  unlock(id: string, owner: string): Promise<void>;
}

export interface CacheEvents {
  lookup?(provider: string, tier: "l1" | "l2", result: "hit" | "miss" | "error"): void;
  exchange?(provider: string, result: string): void;
}

export interface CredentialCacheOptions {
  readonly exchanger: Exchanger;
  readonly l2?: {
    readonly store: SharedStore;
    readonly seal: CredentialSeal;
    readonly lockMs?: number;
    readonly waitMs?: number;
  };
  readonly l1MaxEntries?: number;
  readonly l1MaxBytes?: number;
  readonly minRemainingMs?: number;
  readonly graceMs?: number;
  readonly maxFillsPerCaller?: number;
  readonly maxExchangesPerCallerMinute?: number;
  readonly events?: CacheEvents;
  /** Wall clock in ms (credential expiry is wall time). */
  readonly now?: () => number;
}

interface Entry {
  readonly credential: IssuedCredential;
  readonly serveUntil: number;
  readonly refreshAt: number;
}

interface Fill {
  readonly key: string;
  readonly provider: CredentialProvider;
  readonly req: ExchangeRequest;
  readonly tokens: TokenSource;
}

const NONE: readonly Degradation[] = Object.freeze([]);

function credentialBytes(c: IssuedCredential): number {
  return c.kind === "aws" ? c.accessKeyId.length + c.secretAccessKey.length + c.sessionToken.length : c.token.length;
}

/** The L1 key: provider, caller and what scopes the exchange (actions only matter with resources). */
export function credentialKey(provider: string, req: ExchangeRequest): string {
  let key = `${provider}\0${req.caller.spiffeId}\0${req.durationSeconds}`;
  if (req.resources !== undefined) {
    key += `\0${(req.actions ?? []).join("\u0001")}\0${req.resources.join("\u0001")}`;
  }
  return key;
}

export class CredentialCache {
  readonly #x: Exchanger;
  readonly #l1: LRUCache<string, Entry>;
  readonly #l2: CredentialCacheOptions["l2"];
  readonly #lockMs: number;
  readonly #waitMs: number;
  readonly #minRemaining: number;
  readonly #grace: number;
  readonly #maxFills: number;
  readonly #events: CacheEvents;
  readonly #now: () => number;
  readonly #inFlight = new Map<string, Promise<CredentialLookup>>();
  readonly #fillsPerCaller = new Map<string, number>();
  readonly #maxExchanges: number;
  /** Exchanges per caller in the current minute: `[minute, count]`. */
  readonly #exchangesPerCaller = new LRUCache<string, [number, number]>({ max: MAX_TRACKED_CALLERS });

  constructor(o: CredentialCacheOptions) {
    this.#x = o.exchanger;
    this.#l2 = o.l2;
    this.#lockMs = o.l2?.lockMs ?? DEFAULT_L2_LOCK_MS;
    this.#waitMs = o.l2?.waitMs ?? DEFAULT_L2_WAIT_MS;
    this.#minRemaining = o.minRemainingMs ?? DEFAULT_MIN_REMAINING_MS;
    this.#grace = o.graceMs ?? DEFAULT_GRACE_MS;
    this.#maxFills = o.maxFillsPerCaller ?? DEFAULT_MAX_FILLS_PER_CALLER;
    this.#maxExchanges = o.maxExchangesPerCallerMinute ?? DEFAULT_MAX_EXCHANGES_PER_CALLER_MINUTE;
    this.#events = o.events ?? {};
    this.#now = o.now ?? Date.now;
    this.#l1 = new LRUCache<string, Entry>({
      max: o.l1MaxEntries ?? DEFAULT_L1_MAX_ENTRIES,
      maxSize: o.l1MaxBytes ?? DEFAULT_L1_MAX_BYTES,
      sizeCalculation: (e, k) => k.length * 2 + credentialBytes(e.credential) * 2 + ENTRY_OVERHEAD,
    });
  }

  /** A credential for the request: synchronous on an L1 hit, else a promise. Rejects with a HexrError. */
  lookup(
    provider: CredentialProvider,
    req: ExchangeRequest,
    tokens: TokenSource,
  ): CredentialLookup | Promise<CredentialLookup> {
    const key = credentialKey(provider.name, req);
    const now = this.#now();
    const e = this.#l1.get(key);
    if (e !== undefined && now < e.serveUntil) {
      this.#events.lookup?.(provider.name, "l1", "hit");
      if (now >= e.refreshAt && !this.#inFlight.has(key)) {
        // refresh ahead in the background; a failure here only means the next lookups try again
        this.#start({ key, provider, req, tokens }, true)?.catch(() => {});
      }
      return { credential: e.credential, tier: "l1", degraded: NONE };
    }
    this.#events.lookup?.(provider.name, "l1", "miss");
    return this.#inFlight.get(key) ?? (this.#start({ key, provider, req, tokens }, false) as Promise<CredentialLookup>);
  }

  /** Drops every L1 entry (a config change; L2 entries age out on their own). */
  clear(): void {
    this.#l1.clear();
  }

  get size(): number {
    return this.#l1.size;
  }

  /** Starts the one fill for `f.key`; undefined for a background refresh over the caller's fill cap. */
  #start(f: Fill, background: boolean): Promise<CredentialLookup> | undefined {
    const who = f.req.caller.spiffeId;
    const fills = this.#fillsPerCaller.get(who) ?? 0;
    if (fills >= this.#maxFills) {
      if (background) return undefined;
      return Promise.reject(
        new HexrError("credentials.busy", `more than ${this.#maxFills} credential exchanges in flight for this agent`),
      );
    }
    this.#fillsPerCaller.set(who, fills + 1);
    const p = this.#fill(f).finally(() => {
      this.#inFlight.delete(f.key);
      const n = (this.#fillsPerCaller.get(who) ?? 1) - 1;
      if (n <= 0) this.#fillsPerCaller.delete(who);
      else this.#fillsPerCaller.set(who, n);
    });
    this.#inFlight.set(f.key, p);
    return p;
  }

  async #fill(f: Fill): Promise<CredentialLookup> {
    const degraded: Degradation[] = [];
    const l2 = this.#l2;
    let id: string | undefined;
    let owner: string | undefined;
    if (l2) {
      try {
        id = l2.seal.keyId(`${f.provider.kind}\0${f.provider.target(f.req.caller)}\0${f.key}`);
        const found = await this.#fromL2(f, id);
        if (found) return found;
        owner = randomUUID();
        if (!(await l2.store.lock(`${id}.lock`, owner, this.#lockMs))) {
          owner = undefined;
          const waited = await this.#waitForL2(f, id);
          if (waited) return waited;
        }
      } catch (e) {
        if (isHexrError(e) && e.code === "credentials.bad_template") throw e;
        this.#events.lookup?.(f.provider.name, "l2", "error");
        degraded.push("l2_unavailable");
        id = undefined;
        owner = undefined;
      }
    }
    try {
      const credential = await this.#exchange(f);
      this.#remember(f, credential);
      if (l2 && id !== undefined) {
        const ttl = credential.expiresAt - this.#now();
        try {
          if (ttl > 0) await l2.store.set(id, l2.seal.seal(id, credential), ttl);
          if (owner !== undefined) await l2.store.unlock(`${id}.lock`, owner);
        } catch {
          this.#events.lookup?.(f.provider.name, "l2", "error");
          degraded.push("l2_unavailable");
        }
      }
      return { credential, tier: "issuer", degraded: degraded.length ? degraded : NONE };
    } catch (e) {
      if (owner !== undefined && id !== undefined) l2?.store.unlock(`${id}.lock`, owner).catch(() => {});
      // an issuer that is down (not one that said no): an unexpired entry beats failing the request
      if (e instanceof CredentialError && e.retry === "transient") {
        const stale = this.#l1.peek(f.key);
        if (stale && stale.credential.expiresAt - this.#now() > this.#grace) {
          degraded.push("issuer_unavailable");
          return { credential: stale.credential, tier: "l1", degraded };
        }
      }
      throw e;
    }
  }

  async #exchange(f: Fill): Promise<IssuedCredential> {
    const who = f.req.caller.spiffeId;
    const minute = Math.floor(this.#now() / 60_000);
    const seen = this.#exchangesPerCaller.get(who);
    const count = seen !== undefined && seen[0] === minute ? seen[1] + 1 : 1;
    if (count > this.#maxExchanges) {
      this.#events.exchange?.(f.provider.name, "credentials.exchange_rate_limited");
      throw new CredentialError(
        "credentials.exchange_rate_limited",
        `more than ${this.#maxExchanges} credential exchanges this minute for this agent (each new scope needs one)`,
        "never",
        "rate_limited",
      );
    }
    this.#exchangesPerCaller.set(who, [minute, count]);
    try {
      const c = await this.#x.exchange(f.provider, f.req, f.tokens);
      this.#events.exchange?.(f.provider.name, "ok");
      return c;
    } catch (e) {
      this.#events.exchange?.(
        f.provider.name,
        e instanceof CredentialError ? e.code : isHexrError(e) ? e.code : "error",
      );
      throw e;
    }
  }

  async #fromL2(f: Fill, id: string): Promise<CredentialLookup | undefined> {
    const l2 = this.#l2 as NonNullable<CredentialCacheOptions["l2"]>;
    const credential = l2.seal.open(id, await l2.store.get(id));
    const usable = credential !== undefined && this.#now() < this.#serveUntil(f.req, credential);
    this.#events.lookup?.(f.provider.name, "l2", usable ? "hit" : "miss");
    if (!usable) return undefined;
    this.#remember(f, credential);
    return { credential, tier: "l2", degraded: NONE };
  }

  /** Another sidecar holds the lock: poll L2 for its entry (backing off), up to `waitMs`. */
  async #waitForL2(f: Fill, id: string): Promise<CredentialLookup | undefined> {
    const deadline = this.#now() + this.#waitMs;
    for (let pause = L2_POLL_FIRST_MS; this.#now() < deadline; pause = Math.min(pause * 2, L2_POLL_MAX_MS)) {
      await new Promise((r) => setTimeout(r, pause));
      const found = await this.#fromL2(f, id);
      if (found) return found;
    }
    return undefined;
  }

  #serveUntil(req: ExchangeRequest, c: IssuedCredential): number {
    return c.expiresAt - Math.min(this.#minRemaining, (req.durationSeconds * 1000) / 2);
  }

  #remember(f: Fill, credential: IssuedCredential): void {
    const serveUntil = this.#serveUntil(f.req, credential);
    const margin = credential.expiresAt - serveUntil;
    const ttl = credential.expiresAt - this.#now();
    if (ttl <= 0) return;
    this.#l1.set(f.key, { credential, serveUntil, refreshAt: serveUntil - margin / 2 }, { ttl });
  }
}

/**
 * The pipeline's credential stage: for an allowed request to a service the catalog marks
 * `credentials: aws|gcp|azure`, a short-lived credential for the *verified caller* from the three-tier cache,
 * put on the request as header mutations (SigV4 or Bearer). It runs only after an allow, so a denied request
 * never reaches an exchange.
 *
 * Token sources, per provider (`token_source`):
 *  - `presented`: the JWT-SVID the agent sent (`x-hexr-svid` / Bearer), already verified by the identity
 *    stage and matched to the mTLS peer, used when its `aud` names the provider's audience;
 *  - `delegated`: fetched for the caller from the SPIRE agent's Delegated Identity API (no agent code);
 *  - `either` (default when delegation is configured): the presented token when it fits, else delegated.
 *
 * @example
 *   const stage = new CredentialStage({ providers, cache, delegated });
 *   const r = stage.inject({ kind: "aws", caller, service: "aws_s3", … }); // value on an L1 hit, else a promise
 */
import { decodeJwt } from "jose";
import type { CredentialCache, Degradation, Tier } from "../../filters/credentials/cache.ts";
import { bearerInjection, regionFromHost, signAws } from "../../filters/credentials/inject.ts";
import type {
  Caller,
  CallerToken,
  CredentialProvider,
  ExchangeRequest,
  Injection,
  IssuedCredential,
  ProviderKind,
  TokenSource,
} from "../../filters/credentials/types.ts";
import { CredentialError } from "../../filters/credentials/types.ts";
import { HexrError } from "../../filters/errors.ts";

export type TokenSourceMode = "presented" | "delegated" | "either";

/** SigV4 signing names of the catalog's AWS services. */
const SIGNING_NAMES: Readonly<Record<string, string>> = { aws_s3: "s3" };
export const DEFAULT_AWS_REGION = "us-east-1";

export interface ProviderSetup {
  readonly provider: CredentialProvider;
  readonly durationSeconds: number;
  readonly tokenSource: TokenSourceMode;
  /** AWS: the signing region when the host does not name one. */
  readonly region?: string;
}

export interface CredentialContext {
  readonly kind: ProviderKind;
  readonly caller: Caller;
  readonly service: string;
  readonly actions: readonly string[];
  /** From the decision. */
  readonly resources?: readonly string[];
  readonly credentialSeconds?: number;
  readonly method: string;
  readonly authority: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /** The verified JWT-SVID the request carried, if any. */
  readonly presentedToken?: string;
}

export interface CredentialResult {
  readonly injection: Injection;
  readonly tier: Tier;
  readonly provider: string;
  readonly degraded: readonly Degradation[];
}

export interface CredentialStageOptions {
  readonly providers: ReadonlyMap<ProviderKind, ProviderSetup>;
  readonly cache: CredentialCache;
  readonly delegated?: TokenSource;
  readonly now?: () => number;
}

/** Seconds of life a presented token must still have to be worth sending to an issuer. */
const PRESENTED_MIN_LIFE_MS = 5_000;

export class CredentialStage {
  readonly #providers: ReadonlyMap<ProviderKind, ProviderSetup>;
  readonly #cache: CredentialCache;
  readonly #delegated: TokenSource | undefined;
  readonly #now: () => number;

  constructor(o: CredentialStageOptions) {
    this.#providers = o.providers;
    this.#cache = o.cache;
    this.#delegated = o.delegated;
    this.#now = o.now ?? Date.now;
  }

  /** The audiences presented tokens may carry (the identity stage accepts them as JWT-SVID audiences). */
  presentedAudiences(): string[] {
    const out: string[] = [];
    for (const s of this.#providers.values()) if (s.tokenSource !== "delegated") out.push(s.provider.audience);
    return out;
  }

  /**
   * The injection for one allowed request, or undefined when this sidecar injects nothing for `kind`.
   * Synchronous for bearer tokens on an L1 hit; AWS signing is always a promise. Rejects with a HexrError.
   */
  inject(ctx: CredentialContext): CredentialResult | Promise<CredentialResult> | undefined {
    const setup = this.#providers.get(ctx.kind);
    if (setup === undefined) return undefined;
    const p = setup.provider;
    let req: ExchangeRequest;
    try {
      req = this.#request(setup, ctx);
    } catch (e) {
      return Promise.reject(e);
    }
    const tokens = this.#tokens(setup, ctx);
    const found = this.#cache.lookup(p, req, tokens);
    if (found instanceof Promise) {
      return found.then((l) => this.#apply(setup, ctx, l.credential, l.tier, l.degraded));
    }
    return this.#apply(setup, ctx, found.credential, found.tier, found.degraded);
  }

  #request(setup: ProviderSetup, ctx: CredentialContext): ExchangeRequest {
    const p = setup.provider;
    const seconds = ctx.credentialSeconds ?? setup.durationSeconds;
    if (seconds < p.minDurationSeconds || seconds > p.maxDurationSeconds) {
      throw new HexrError(
        "credentials.bad_duration",
        `${p.name}: the policy asked for ${seconds} s; the issuer allows ${p.minDurationSeconds}–${p.maxDurationSeconds} s`,
      );
    }
    return {
      caller: ctx.caller,
      durationSeconds: seconds,
      ...(ctx.resources !== undefined ? { resources: ctx.resources, actions: ctx.actions } : {}),
    };
  }

  #apply(
    setup: ProviderSetup,
    ctx: CredentialContext,
    cred: IssuedCredential,
    tier: Tier,
    degraded: readonly Degradation[],
  ): CredentialResult | Promise<CredentialResult> {
    const provider = setup.provider.name;
    if (cred.kind === "bearer") return { injection: bearerInjection(cred, ctx.kind), tier, provider, degraded };
    const service = SIGNING_NAMES[ctx.service];
    if (service === undefined) {
      return Promise.reject(
        new HexrError("credentials.unsignable_request", `no SigV4 signing name for service ${ctx.service}`),
      );
    }
    return signAws(cred, {
      method: ctx.method,
      authority: ctx.authority,
      path: ctx.path,
      headers: ctx.headers,
      service,
      region: regionFromHost(ctx.authority, setup.region ?? DEFAULT_AWS_REGION),
      ...(ctx.body ? { body: ctx.body } : {}),
    }).then((injection) => ({ injection, tier, provider, degraded }));
  }

  /** The caller's token for this provider, by the provider's token-source mode. Built lazily, per request. */
  #tokens(setup: ProviderSetup, ctx: CredentialContext): TokenSource {
    const delegated = setup.tokenSource === "presented" ? undefined : this.#delegated;
    const presented = setup.tokenSource === "delegated" ? undefined : ctx.presentedToken;
    const now = this.#now;
    return {
      token(caller: Caller, audience: string, opts): Promise<CallerToken> {
        if (presented !== undefined && !opts?.fresh) {
          const exp = presentedExpiry(presented, audience);
          if (exp !== undefined && exp - now() > PRESENTED_MIN_LIFE_MS) {
            return Promise.resolve({ token: presented, expiresAt: exp, source: "presented" });
          }
        }
        if (delegated) return delegated.token(caller, audience, opts);
        if (presented !== undefined && opts?.fresh) {
          return Promise.reject(
            new CredentialError(
              "credentials.token_rejected",
              "the issuer refused the presented JWT-SVID; present a fresh one",
              "never",
              "presented",
            ),
          );
        }
        return Promise.reject(
          new CredentialError(
            "credentials.no_token_for_caller",
            `no JWT-SVID for audience ${audience}: present one in x-hexr-svid, or configure credentials.delegated`,
            "never",
            "no_token",
          ),
        );
      },
    };
  }
}

/** Expiry (ms) of a verified token when its `aud` names `audience`; undefined otherwise. */
function presentedExpiry(token: string, audience: string): number | undefined {
  try {
    const c = decodeJwt(token);
    const aud = c.aud;
    const ok = typeof aud === "string" ? aud === audience : Array.isArray(aud) && aud.includes(audience);
    return ok && typeof c.exp === "number" ? c.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * JWT-SVID verification (SPIFFE JWT-SVID spec) against per-trust-domain JWT bundles.
 *
 * The key is looked up in the bundle of the trust domain named by the token's own `sub`, so a key from
 * one trust domain can never vouch for an identity in another. Bundles are imported once in
 * {@link JwtSvidVerifier.setBundles} into KeyObjects and swapped in whole; `verify` does no key parsing.
 * The Workload API client that feeds bundles lives in the sidecar.
 */
import { createPublicKey, type JsonWebKey as NodeJsonWebKey, type KeyObject } from "node:crypto";
import {
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
  type ProtectedHeaderParameters,
} from "jose";
import { HexrError, type HexrErrorCode } from "../errors.ts";
import { type Principal, principalFromSpiffeId } from "./principal.ts";
import { tryParseSpiffeId } from "./spiffe-id.ts";

export const DEFAULT_CLOCK_SKEW_SECONDS = 30;
/** Largest clock skew a deployment may configure: beyond this a lapsed token would stay usable for long. */
export const MAX_CLOCK_SKEW_SECONDS = 300;
/**
 * Longest lifetime accepted for a JWT-SVID (`exp` no further than this past now, nor past `iat`). SPIRE issues
 * them for 5 minutes by default; a token minted for a year is a stolen signing key or a misconfiguration.
 */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60;
export const MAX_TOKEN_LIFETIME_SECONDS = 7 * 24 * 60 * 60;
export const DEFAULT_MAX_TOKEN_BYTES = 8192;
/** Asymmetric algorithms the JWT-SVID spec allows; `none` and HMAC are never accepted. */
export const JWT_SVID_ALGORITHMS: readonly string[] = Object.freeze([
  "RS256",
  "RS384",
  "RS512",
  "ES256",
  "ES384",
  "ES512",
  "PS256",
  "PS384",
  "PS512",
]);
const MIN_RSA_BITS = 2048;
const ALLOWED_ALGS: ReadonlySet<string> = new Set(JWT_SVID_ALGORITHMS);
const REQUIRED_CLAIMS = ["sub", "aud", "exp"];
const EC_CURVE_FOR_ALG: Readonly<Record<string, string>> = {
  ES256: "prime256v1",
  ES384: "secp384r1",
  ES512: "secp521r1",
};

export interface JwtSvidVerifierOptions {
  /** Accepted audiences; a token must name at least one. */
  readonly audiences: readonly string[];
  /** Trust domains whose SVIDs are accepted (a bundle alone is not enough). */
  readonly trustDomains: ReadonlySet<string>;
  /** Leeway for `exp` and `nbf` (default {@link DEFAULT_CLOCK_SKEW_SECONDS}). */
  readonly clockSkewSeconds?: number;
  /** Largest accepted token (default {@link DEFAULT_MAX_TOKEN_BYTES}). */
  readonly maxTokenBytes?: number;
  /** Longest accepted token lifetime (default {@link DEFAULT_MAX_TOKEN_LIFETIME_SECONDS}, at most 7 days). */
  readonly maxLifetimeSeconds?: number;
  /** Current time in epoch milliseconds (default `Date.now`). */
  readonly now?: () => number;
}

/** A key skipped by {@link JwtSvidVerifier.setBundles}, with why. */
export interface SkippedBundleKey {
  readonly trustDomain: string;
  readonly kid: string | undefined;
  readonly reason: string;
}

export interface BundleLoadReport {
  readonly keys: number;
  readonly skipped: readonly SkippedBundleKey[];
}

interface BundleKey {
  readonly key: KeyObject;
  /** `rsa` or `ec`. */
  readonly type: string;
  /** OpenSSL curve name for EC keys. */
  readonly curve: string | undefined;
  /** The JWK's `alg`, when it pins one. */
  readonly alg: string | undefined;
}

function jwtError(code: HexrErrorCode, message: string, cause?: unknown): HexrError {
  return new HexrError(code, message, cause === undefined ? undefined : { cause });
}

/** Imports one JWK, or says why it cannot serve as a JWT-SVID authority. */
function importBundleKey(jwk: Readonly<Record<string, unknown>>): BundleKey | string {
  if (jwk.use !== undefined && jwk.use !== "jwt-svid" && jwk.use !== "sig") return "use is not jwt-svid";
  if (jwk.kty !== "RSA" && jwk.kty !== "EC") return "kty must be RSA or EC";
  if (jwk.d !== undefined) return "contains private key material";
  const alg = jwk.alg;
  if (alg !== undefined && (typeof alg !== "string" || !ALLOWED_ALGS.has(alg))) return "alg not allowed";
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as NodeJsonWebKey, format: "jwk" });
  } catch {
    return "key does not import";
  }
  const type = key.asymmetricKeyType ?? "";
  const details = key.asymmetricKeyDetails;
  if (type === "rsa" && (details?.modulusLength ?? 0) < MIN_RSA_BITS) {
    return `RSA key shorter than ${MIN_RSA_BITS} bits`;
  }
  return { key, type, curve: details?.namedCurve, alg };
}

/** Whether `alg` (already allow-listed) can be verified with `k`. */
function keyFitsAlg(k: BundleKey, alg: string): boolean {
  if (k.alg !== undefined && k.alg !== alg) return false;
  const curve = EC_CURVE_FOR_ALG[alg];
  return curve === undefined ? k.type === "rsa" : k.type === "ec" && k.curve === curve;
}

function mapJoseError(e: unknown): HexrError {
  if (e instanceof errors.JWSSignatureVerificationFailed) {
    return jwtError("jwt_svid.bad_signature", "signature verification failed");
  }
  if (e instanceof errors.JWTExpired) return jwtError("jwt_svid.expired", "token has expired");
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "aud") return jwtError("jwt_svid.wrong_audience", "aud names none of the configured audiences");
    // JWT-SVIDs must expire: a token without exp is treated like an expired one.
    if (e.claim === "exp" && e.reason === "missing") return jwtError("jwt_svid.expired", "exp claim is required");
    if (e.claim === "nbf" && e.reason === "check_failed") {
      return jwtError("jwt_svid.not_yet_valid", "token is not valid yet (nbf)");
    }
    return jwtError("jwt_svid.malformed", `invalid ${e.claim} claim`, e);
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return jwtError("jwt_svid.alg_not_allowed", "alg is not allowed");
  return jwtError("jwt_svid.malformed", "token could not be verified", e);
}

/**
 * Verifies JWT-SVIDs and maps their subject to a {@link Principal}.
 *
 * @example
 *   const v = new JwtSvidVerifier({ audiences: ["hexr-authz"], trustDomains: new Set(["hexr.cloud"]) });
 *   v.setBundles(new Map([["hexr.cloud", jwks]]));
 *   const who = await v.verify(token); // throws HexrError with a jwt_svid.* code
 */
export class JwtSvidVerifier {
  readonly #audiences: string[];
  readonly #trustDomains: ReadonlySet<string>;
  readonly #clockSkewSeconds: number;
  readonly #maxTokenBytes: number;
  readonly #maxLifetimeSeconds: number;
  readonly #now: () => number;
  #bundles: ReadonlyMap<string, ReadonlyMap<string, BundleKey>> = new Map();

  constructor(opts: JwtSvidVerifierOptions) {
    const audiences = opts.audiences;
    if (
      !Array.isArray(audiences) ||
      audiences.length === 0 ||
      audiences.some((a) => typeof a !== "string" || a === "")
    ) {
      throw new TypeError("audiences must be a non-empty array of non-empty strings");
    }
    for (const td of opts.trustDomains) {
      const r = tryParseSpiffeId(`spiffe://${td}`);
      if (!r.ok || r.id.path !== "") throw new TypeError("trustDomains must hold valid trust domain names");
    }
    const skew = opts.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
    if (!Number.isFinite(skew) || skew < 0 || skew > MAX_CLOCK_SKEW_SECONDS) {
      throw new TypeError(`clockSkewSeconds must be a number in [0, ${MAX_CLOCK_SKEW_SECONDS}]`);
    }
    const lifetime = opts.maxLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
    if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_TOKEN_LIFETIME_SECONDS) {
      throw new TypeError(`maxLifetimeSeconds must be an integer in [1, ${MAX_TOKEN_LIFETIME_SECONDS}]`);
    }
    const maxBytes = opts.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new TypeError("maxTokenBytes must be a positive integer");
    this.#audiences = [...audiences];
    this.#trustDomains = new Set(opts.trustDomains);
    this.#clockSkewSeconds = skew;
    this.#maxTokenBytes = maxBytes;
    this.#maxLifetimeSeconds = lifetime;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Replaces all JWT bundles at once. Keys are imported here; keys that cannot act as JWT-SVID authorities
   * (X.509 entries, no `kid`, symmetric or private keys, short RSA, duplicate `kid`) are skipped and reported.
   *
   * @example
   *   const report = verifier.setBundles(new Map([["hexr.cloud", { keys: [jwk] }]]));
   *   if (report.skipped.length) log.warn({ skipped: report.skipped }, "bundle keys skipped");
   */
  setBundles(bundles: ReadonlyMap<string, JSONWebKeySet>): BundleLoadReport {
    const next = new Map<string, Map<string, BundleKey>>();
    const skipped: SkippedBundleKey[] = [];
    let count = 0;
    for (const [trustDomain, jwks] of bundles) {
      const keys = new Map<string, BundleKey>();
      for (const jwk of Array.isArray(jwks?.keys) ? jwks.keys : []) {
        const kid = typeof jwk.kid === "string" && jwk.kid !== "" ? jwk.kid : undefined;
        if (kid === undefined) {
          // X.509 authorities in a SPIFFE bundle carry no kid; that is expected, not worth a report.
          if (jwk.use !== "x509-svid") skipped.push({ trustDomain, kid, reason: "missing kid" });
          continue;
        }
        if (keys.has(kid)) {
          skipped.push({ trustDomain, kid, reason: "duplicate kid" });
          continue;
        }
        const imported = importBundleKey(jwk as Readonly<Record<string, unknown>>);
        if (typeof imported === "string") {
          skipped.push({ trustDomain, kid, reason: imported });
          continue;
        }
        keys.set(kid, imported);
        count++;
      }
      next.set(trustDomain, keys);
    }
    this.#bundles = next;
    return { keys: count, skipped };
  }

  /**
   * Verifies a compact JWT-SVID and returns the agent principal named by its `sub`.
   *
   * Checks, in order: size and shape (`jwt_svid.malformed`), `alg` allow-list (`jwt_svid.alg_not_allowed`),
   * `kid` present (`jwt_svid.unknown_kid`), `sub` is a SPIFFE ID (`jwt_svid.bad_subject`), its trust domain is
   * trusted and has a bundle (`jwt_svid.foreign_trust_domain`), `kid` is in that bundle (`jwt_svid.unknown_kid`),
   * signature (`jwt_svid.bad_signature`), then `exp` (`jwt_svid.expired`), `nbf` (`jwt_svid.not_yet_valid`),
   * `aud` (`jwt_svid.wrong_audience`), time claims in bounds (`jwt_svid.issued_in_future` for an `iat` past
   * now + skew, `jwt_svid.lifetime_too_long` for an `exp` more than the maximum lifetime past now or past `iat`);
   * finally `identity.not_agent_id` for non-agent subjects.
   *
   * @example
   *   const token = bearerTokenFrom(attrs.request?.http?.headers ?? {});
   *   if (token) principal = await verifier.verify(token);
   */
  async verify(token: string): Promise<Principal> {
    if (typeof token !== "string" || token.length === 0 || token.length > this.#maxTokenBytes) {
      throw jwtError("jwt_svid.malformed", `token must be 1..${this.#maxTokenBytes} bytes`);
    }
    const firstDot = token.indexOf(".");
    const secondDot = firstDot === -1 ? -1 : token.indexOf(".", firstDot + 1);
    if (secondDot === -1 || token.indexOf(".", secondDot + 1) !== -1) {
      throw jwtError("jwt_svid.malformed", "token is not a compact JWS (three dot-separated parts)");
    }
    let header: ProtectedHeaderParameters;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch (cause) {
      throw jwtError("jwt_svid.malformed", "token header or claims are not valid base64url JSON", cause);
    }

    const alg = header.alg;
    if (typeof alg !== "string" || !ALLOWED_ALGS.has(alg)) {
      throw jwtError("jwt_svid.alg_not_allowed", "alg is not an allowed asymmetric algorithm");
    }
    if (header.typ !== undefined && header.typ !== "JWT" && header.typ !== "JOSE") {
      throw jwtError("jwt_svid.malformed", "typ must be JWT or JOSE when present");
    }
    const kid = header.kid;
    if (typeof kid !== "string" || kid === "") throw jwtError("jwt_svid.unknown_kid", "kid header is missing");

    if (typeof claims.sub !== "string") throw jwtError("jwt_svid.bad_subject", "sub claim is missing or not a string");
    const subject = tryParseSpiffeId(claims.sub);
    if (!subject.ok) {
      throw jwtError("jwt_svid.bad_subject", `sub is not a valid SPIFFE ID (${subject.error.code})`, subject.error);
    }
    // The key must come from the bundle of the trust domain the token claims to speak for.
    const td = subject.id.trustDomain;
    const bundle = this.#trustDomains.has(td) ? this.#bundles.get(td) : undefined;
    if (bundle === undefined) {
      throw jwtError("jwt_svid.foreign_trust_domain", "sub trust domain is not trusted or has no bundle");
    }
    const key = bundle.get(kid);
    if (key === undefined) throw jwtError("jwt_svid.unknown_kid", "kid is not in the bundle of the sub trust domain");
    if (!keyFitsAlg(key, alg)) throw jwtError("jwt_svid.alg_not_allowed", "alg does not match the key type of kid");

    try {
      await jwtVerify(token, key.key, {
        algorithms: [alg],
        audience: this.#audiences,
        clockTolerance: this.#clockSkewSeconds,
        currentDate: new Date(this.#now()),
        requiredClaims: REQUIRED_CLAIMS,
      });
    } catch (e) {
      throw mapJoseError(e);
    }
    this.#checkTimeBounds(claims);
    return principalFromSpiffeId(subject.id);
  }

  /** `iat` not ahead of now, `exp` not further out than the maximum lifetime (jose checked exp/nbf already). */
  #checkTimeBounds(claims: JWTPayload): void {
    const now = this.#now() / 1000;
    const skew = this.#clockSkewSeconds;
    const exp = claims.exp as number; // required and numeric: jwtVerify checked it
    if (claims.iat !== undefined) {
      if (typeof claims.iat !== "number" || !Number.isFinite(claims.iat)) {
        throw jwtError("jwt_svid.malformed", "iat claim must be a number");
      }
      if (claims.iat > now + skew) throw jwtError("jwt_svid.issued_in_future", "iat is in the future");
      if (exp - claims.iat > this.#maxLifetimeSeconds) {
        throw jwtError("jwt_svid.lifetime_too_long", `exp - iat exceeds ${this.#maxLifetimeSeconds} s`);
      }
    }
    if (exp - now > this.#maxLifetimeSeconds + skew) {
      throw jwtError("jwt_svid.lifetime_too_long", `exp is more than ${this.#maxLifetimeSeconds} s away`);
    }
  }
}

/** True when `value` starts with `Bearer ` (scheme case-insensitive, RFC 7235). */
function hasBearerScheme(value: string): boolean {
  if (value.length < 8 || value.charCodeAt(6) !== 0x20) return false;
  const scheme = "bearer";
  for (let i = 0; i < 6; i++) {
    if ((value.charCodeAt(i) | 0x20) !== scheme.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The JWT-SVID presented on a request: `x-hexr-svid`, else `authorization: Bearer …`. `x-hexr-svid` wins
 * because on outbound LLM/cloud calls `authorization` usually carries the upstream's own API key.
 * Header names must be lowercase, as Envoy sends them.
 *
 * @example
 *   bearerTokenFrom({ authorization: "Bearer eyJ…" }); // "eyJ…"
 *   bearerTokenFrom({ authorization: "Basic Zm9vOmJhcg==" }); // undefined
 */
export function bearerTokenFrom(headers: Readonly<Record<string, string | undefined>>): string | undefined {
  const svid = headers["x-hexr-svid"]?.trim();
  if (svid) return svid;
  const auth = headers.authorization;
  if (auth === undefined || !hasBearerScheme(auth)) return undefined;
  const token = auth.slice(7).trim();
  return token === "" ? undefined : token;
}

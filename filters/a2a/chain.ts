/**
 * Delegation chains across A2A hops (issue 11): when A's request makes B call C, C learns it acts for A.
 *
 * **Wire format.** One header, {@link CHAIN_HEADER}, holding compact JWS *links*, newest first, joined by `,`
 * (`L_n,L_n-1,…,L_1`). Each link is a JWT signed by the calling pod's sidecar with the private key of its own
 * X.509-SVID, carrying that SVID's chain in `x5c`:
 *
 *   header  { alg: ES256 | ES384 | ES512 | RS256… | PS256…, typ: "a2a-chain+jwt", x5c: [leaf, …intermediates] }
 *   claims  { iss: <signing sidecar>, sub: <calling agent>, aud: <called agent>, iat, exp, jti,
 *             act?: { sub: <previous caller>, act?: { … } },   // RFC 8693 §4.1 nesting, most recent outermost
 *             prev?: base64url(SHA-256(<previous link, compact>)) }
 *
 * Links are hash-linked rather than nested inside each other's payload: a JWS embedded in a claim is
 * base64url-encoded again at every hop, so nesting grows by 4/3 per level (~50 KB at depth 8, past Envoy's
 * header limit); a list of links grows linearly and still makes every hop re-verify every signature. The
 * `prev` digest commits each signer to the exact link it extended, so links from different chains cannot
 * be spliced, and `aud(L_k) == sub(L_k+1)` is checked as well.
 *
 * **What a hop checks** ({@link ChainVerifier.verifyInbound}): size and depth caps before any crypto; per link:
 * `typ`, `alg` fits the leaf key, `x5c` chains to the X.509 bundle of the trust domain in the leaf's SPIFFE ID
 * (which must be trusted), the leaf is an X.509-SVID (SAN, not a CA, read by {@link PeerCertificateReader}),
 * its ID is an allowed signer and equals `iss`, the signature, time claims, `act` matching the verified
 * history. The newest link must be addressed to this agent (`aud`), presented by its `sub` (the mTLS peer),
 * valid now, and its `jti` unseen ({@link ReplayCache}, consulted last). Older links are judged at the time
 * they were extended (the `iat` of the link after them), so a chain does not break in transit because the
 * first link lapsed on the way; their `jti`s are not replay-checked because a fan-out (B calling C and D for
 * the same request of A) legitimately reuses them.
 */
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import { createHash, type KeyObject, randomBytes, X509Certificate as NodeX509 } from "node:crypto";
import { KeyUsageFlags, KeyUsagesExtension, X509Certificate as PeculiarX509 } from "@peculiar/x509";
import { CompactSign, compactVerify, decodeProtectedHeader, errors } from "jose";
import { LRUCache } from "lru-cache";
import { HexrError } from "../errors.ts";
import { JWT_SVID_ALGORITHMS, MAX_CLOCK_SKEW_SECONDS } from "../identity/jwt-svid.ts";
import { PeerCertificateReader } from "../identity/peer-cert.ts";
import { type SpiffeId, tryParseSpiffeId } from "../identity/spiffe-id.ts";

/** The request header carrying the chain (lowercase, as Envoy sends headers). */
export const CHAIN_HEADER = "x-hexr-a2a-chain";
/** Explicit JWT type (RFC 8725 §3.11): a JWT-SVID or any other JWT can never pass as a link. */
export const CHAIN_LINK_TYP = "a2a-chain+jwt";
export const DEFAULT_CHAIN_TTL_SECONDS = 60;
/** Longest lifetime a link may have; links are minted per call, so minutes are already generous. */
export const MAX_CHAIN_TTL_SECONDS = 300;
export const DEFAULT_CHAIN_CLOCK_SKEW_SECONDS = 5;
/** Most links in a chain (hops); the 9th agent in a row is refused. */
export const DEFAULT_MAX_CHAIN_DEPTH = 8;
export const MAX_CHAIN_DEPTH = 32;
/** Largest header value accepted: ~1.2 KB a link with a single-certificate x5c, ~2 KB with an intermediate. */
export const DEFAULT_MAX_CHAIN_BYTES = 24 * 1024;
/** Certificates accepted in one `x5c` (leaf plus intermediates). */
export const MAX_X5C_CERTS = 4;
export const DEFAULT_SIGNER_CACHE_ENTRIES = 256;
/** Default {@link MemoryReplayCache} capacity: 1,600 chain-bearing requests a second at 60 s lifetimes. */
export const DEFAULT_REPLAY_CACHE_ENTRIES = 100_000;

const EC_ALG_FOR_CURVE: Readonly<Record<string, string>> = {
  prime256v1: "ES256",
  secp384r1: "ES384",
  secp521r1: "ES512",
};
const MIN_RSA_BITS = 2048;
const JTI_BYTES = 16;
const MAX_JTI_LENGTH = 128;
const FULL_SWEEP_INTERVAL_MS = 1000;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** One link's claims, as signed. */
export interface ChainClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string;
  readonly iat: number;
  readonly exp: number;
  readonly jti: string;
  readonly act?: ActClaim;
  readonly prev?: string;
}

/** RFC 8693 §4.1 actor claim: the most recent prior caller outermost. */
export interface ActClaim {
  readonly sub: string;
  readonly act?: ActClaim;
}

/** A verified chain. */
export interface VerifiedChain {
  /** Calling agents, oldest first: `[A, B]` when B calls this agent on behalf of A. The last is `sub` of the newest link. */
  readonly chain: readonly string[];
  /** Signer (sidecar) SPIFFE IDs, same order. */
  readonly signers: readonly string[];
  /** The newest link's `exp`, epoch ms. */
  readonly expiresAtMs: number;
  /** The header value as verified (what an outbound hop extends). */
  readonly token: string;
}

/**
 * Remembers `jti`s until they expire. `claim` returns true the first time an ID is seen and false for a replay;
 * it may be async (a store shared by the replicas of an agent). Throwing fails the request closed.
 */
export interface ReplayCache {
  /** `caller`: the presenting agent (the mTLS peer), so one caller cannot fill the cache for all. */
  claim(jti: string, expiresAtMs: number, nowMs: number, caller?: string): boolean | Promise<boolean>;
}

export interface ChainVerifierOptions {
  /** Trust domains whose X.509 bundles may vouch for signers (a bundle alone is not enough). */
  readonly trustDomains: ReadonlySet<string>;
  /** Signer SPIFFE IDs allowed to mint links: exact IDs, or prefixes ending in `/*` (`spiffe://td/hexr/*`). */
  readonly signers: readonly string[];
  /** Leeway for `iat` and `exp` (default {@link DEFAULT_CHAIN_CLOCK_SKEW_SECONDS}). */
  readonly clockSkewSeconds?: number;
  /** Longest accepted `exp - iat` (default {@link DEFAULT_CHAIN_TTL_SECONDS}). */
  readonly maxLifetimeSeconds?: number;
  /** Most links accepted (default {@link DEFAULT_MAX_CHAIN_DEPTH}, at most {@link MAX_CHAIN_DEPTH}). */
  readonly maxDepth?: number;
  /** Largest header value accepted (default {@link DEFAULT_MAX_CHAIN_BYTES}). */
  readonly maxBytes?: number;
  /** Consulted for the newest link's `jti` on inbound verification (default: a {@link MemoryReplayCache}). */
  readonly replayCache?: ReplayCache;
  /** Epoch ms (default `Date.now`). */
  readonly now?: () => number;
}

export interface BundleCertSkipped {
  readonly trustDomain: string;
  readonly reason: string;
}

/** A signer certificate chain that verified against a bundle. */
interface TrustedSigner {
  readonly id: SpiffeId;
  readonly key: KeyObject;
  /** Latest notBefore and earliest notAfter over leaf, intermediates and anchor (epoch ms). */
  readonly notBefore: number;
  readonly notAfter: number;
}

interface Link {
  readonly jws: string;
  readonly claims: ChainClaims;
  readonly signer: string;
}

function chainError(code: `a2a.chain_${string}`, message: string, cause?: unknown): HexrError {
  return new HexrError(code, message, cause === undefined ? undefined : { cause });
}

/** The JWS algorithms a public or private key can sign or verify with, preferred first. */
export function algorithmsForKey(key: KeyObject): readonly string[] {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  if (type === "ec") {
    const alg = EC_ALG_FOR_CURVE[details?.namedCurve ?? ""];
    return alg === undefined ? [] : [alg];
  }
  if ((type === "rsa" || type === "rsa-pss") && (details?.modulusLength ?? 0) >= MIN_RSA_BITS) {
    return type === "rsa" ? ["RS256", "PS256", "RS384", "PS384", "RS512", "PS512"] : ["PS256", "PS384", "PS512"];
  }
  return [];
}

/** base64url SHA-256 of a link's compact serialization: the next link's `prev`. */
export function linkDigest(jws: string): string {
  return createHash("sha256").update(jws, "ascii").digest("base64url");
}

/** A fresh random `jti` (128 bits, base64url). */
export function newJti(): string {
  return randomBytes(JTI_BYTES).toString("base64url");
}

/** The `act` claim for a link whose caller acts on behalf of `history` (oldest first). */
export function actFor(history: readonly string[]): ActClaim | undefined {
  let act: ActClaim | undefined;
  for (const sub of history) act = act === undefined ? { sub } : { sub, act };
  return act;
}

export interface ChainLinkInput {
  readonly issuer: string;
  readonly subject: string;
  readonly audience: string;
  readonly nowMs: number;
  readonly ttlSeconds: number;
  /** Cap on `exp` (epoch ms), e.g. the signing certificate's notAfter. */
  readonly notAfterMs?: number;
  readonly jti?: string;
  /** The chain being extended, if any. */
  readonly previous?: VerifiedChain;
}

/** The claims of the next link. */
export function buildChainClaims(input: ChainLinkInput): ChainClaims {
  const iat = Math.floor(input.nowMs / 1000);
  let exp = iat + input.ttlSeconds;
  if (input.notAfterMs !== undefined) exp = Math.min(exp, Math.floor(input.notAfterMs / 1000));
  const base = { iss: input.issuer, sub: input.subject, aud: input.audience, iat, exp, jti: input.jti ?? newJti() };
  const prev = input.previous;
  if (prev === undefined) return base;
  const newest = prev.token.slice(0, firstComma(prev.token));
  return { ...base, act: actFor(prev.chain), prev: linkDigest(newest) };
}

/**
 * Signs one link. `x5c` is the signer's chain as base64 DER, leaf first (RFC 7515 §4.1.6).
 *
 * @example
 *   const link = await signChainLink(buildChainClaims({ issuer, subject, audience, nowMs, ttlSeconds: 60 }),
 *     privateKey, x5c);
 */
export async function signChainLink(
  claims: ChainClaims,
  key: KeyObject,
  x5c: readonly string[],
  alg = algorithmsForKey(key)[0],
): Promise<string> {
  if (alg === undefined || !algorithmsForKey(key).includes(alg)) throw new TypeError("key cannot sign with alg");
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg, typ: CHAIN_LINK_TYP, x5c: [...x5c] })
    .sign(key);
}

function firstComma(s: string): number {
  const i = s.indexOf(",");
  return i === -1 ? s.length : i;
}

function matcherFor(signers: readonly string[]): (id: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const s of signers) {
    const bare = s.endsWith("/*") ? s.slice(0, -2) : s;
    const parsed = tryParseSpiffeId(bare);
    if (!parsed.ok || (s !== bare && parsed.id.path === "")) {
      throw new TypeError("signers must be SPIFFE IDs or SPIFFE ID prefixes ending in /*");
    }
    if (s === bare) exact.add(s);
    else prefixes.push(`${bare}/`);
  }
  return (id) => exact.has(id) || prefixes.some((p) => id.startsWith(p));
}

function int(v: number | undefined, dflt: number, min: number, max: number, name: string): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < min || n > max) throw new TypeError(`${name} must be an integer in [${min}, ${max}]`);
  return n;
}

/**
 * Verifies delegation chains against the X.509 bundles of trusted trust domains.
 *
 * @example
 *   const v = new ChainVerifier({ trustDomains: new Set(["hexr.cloud"]), signers: ["spiffe://hexr.cloud/hexr/authz"] });
 *   v.setBundles(snapshot.x509Bundles);
 *   const { chain } = await v.verifyInbound(headers["x-hexr-a2a-chain"], { self: podAgent, peer: mtlsPeer });
 */
export class ChainVerifier {
  readonly #trustDomains: ReadonlySet<string>;
  readonly #isSigner: (id: string) => boolean;
  readonly #skewMs: number;
  readonly #maxLifetime: number;
  readonly #maxDepth: number;
  readonly #maxBytes: number;
  readonly #replay: ReplayCache;
  readonly #now: () => number;
  readonly #leafReader = new PeerCertificateReader({ maxEntries: 16 });
  /** x5c (joined) → the signer it proves, or why not; cleared whenever bundles change. */
  readonly #signers: LRUCache<string, TrustedSigner | HexrError>;
  #bundles: ReadonlyMap<string, readonly NodeX509[]> = new Map();

  constructor(opts: ChainVerifierOptions) {
    for (const td of opts.trustDomains) {
      const r = tryParseSpiffeId(`spiffe://${td}`);
      if (!r.ok || r.id.path !== "") throw new TypeError("trustDomains must hold valid trust domain names");
    }
    if (!Array.isArray(opts.signers) || opts.signers.length === 0) throw new TypeError("signers must not be empty");
    this.#trustDomains = new Set(opts.trustDomains);
    this.#isSigner = matcherFor(opts.signers);
    const skew = opts.clockSkewSeconds ?? DEFAULT_CHAIN_CLOCK_SKEW_SECONDS;
    if (!Number.isFinite(skew) || skew < 0 || skew > MAX_CLOCK_SKEW_SECONDS) {
      throw new TypeError(`clockSkewSeconds must be a number in [0, ${MAX_CLOCK_SKEW_SECONDS}]`);
    }
    this.#skewMs = skew * 1000;
    this.#maxLifetime = int(
      opts.maxLifetimeSeconds,
      DEFAULT_CHAIN_TTL_SECONDS,
      1,
      MAX_CHAIN_TTL_SECONDS,
      "maxLifetimeSeconds",
    );
    this.#maxDepth = int(opts.maxDepth, DEFAULT_MAX_CHAIN_DEPTH, 1, MAX_CHAIN_DEPTH, "maxDepth");
    this.#maxBytes = int(opts.maxBytes, DEFAULT_MAX_CHAIN_BYTES, 1024, 1 << 20, "maxBytes");
    this.#replay = opts.replayCache ?? new MemoryReplayCache();
    this.#now = opts.now ?? Date.now;
    this.#signers = new LRUCache({
      max: DEFAULT_SIGNER_CACHE_ENTRIES,
      maxSize: DEFAULT_SIGNER_CACHE_ENTRIES * 8192,
      sizeCalculation: (_v, k) => Math.max(1, k.length),
    });
  }

  get maxDepth(): number {
    return this.#maxDepth;
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  /**
   * Replaces every X.509 bundle at once (trust domain name → CA certificate PEMs, as the Workload API client's
   * `x509Bundles`). Certificates that do not parse or are not CAs are skipped and reported.
   */
  setBundles(bundles: ReadonlyMap<string, readonly string[]>): readonly BundleCertSkipped[] {
    const next = new Map<string, NodeX509[]>();
    const skipped: BundleCertSkipped[] = [];
    for (const [trustDomain, pems] of bundles) {
      const certs: NodeX509[] = [];
      for (const pem of pems) {
        try {
          const cert = new NodeX509(pem);
          if (cert.ca) certs.push(cert);
          else skipped.push({ trustDomain, reason: "not a CA certificate" });
        } catch {
          skipped.push({ trustDomain, reason: "certificate does not parse" });
        }
      }
      next.set(trustDomain, certs);
    }
    this.#bundles = next;
    this.#signers.clear();
    return skipped;
  }

  /**
   * Verifies the chain presented on an inbound request: newest link addressed to `self`, issued to `peer`
   * (the verified mTLS caller), `jti` not seen before. Resolves with the callers oldest first.
   *
   * @throws HexrError with an `a2a.chain_*` code; never anything else.
   */
  async verifyInbound(token: string, expect: { self: string; peer: string }): Promise<VerifiedChain> {
    try {
      const now = this.#now();
      const { verified, newest } = await this.#verify(token, expect.self, expect.peer, now);
      let fresh: boolean;
      try {
        fresh = await this.#replay.claim(newest.jti, newest.exp * 1000 + this.#skewMs, now, expect.peer);
      } catch (e) {
        if (isChainError(e)) throw e;
        throw chainError("a2a.chain_replay_check_failed", "replay cache failed; refusing (fail closed)", e);
      }
      if (!fresh) throw chainError("a2a.chain_replayed", "newest link jti was seen before");
      return verified;
    } catch (e) {
      throw asChainError(e);
    }
  }

  /**
   * Verifies a chain the local agent forwards on an outbound call (the one it received): newest link
   * addressed to `self`, valid now. No peer or replay check: the agent may fan out on one request.
   *
   * @throws HexrError with an `a2a.chain_*` code; never anything else.
   */
  async verifyForwarded(token: string, expect: { self: string }): Promise<VerifiedChain> {
    try {
      return (await this.#verify(token, expect.self, undefined, this.#now())).verified;
    } catch (e) {
      throw asChainError(e);
    }
  }

  async #verify(
    token: string,
    self: string,
    peer: string | undefined,
    now: number,
  ): Promise<{ verified: VerifiedChain; newest: ChainClaims }> {
    if (typeof token !== "string" || token.length === 0) throw chainError("a2a.chain_malformed", "chain is empty");
    if (token.length > this.#maxBytes) {
      throw chainError("a2a.chain_too_large", `chain exceeds maxBytes (${this.#maxBytes})`);
    }
    const parts = token.split(",");
    if (parts.length > this.#maxDepth) {
      throw chainError("a2a.chain_too_deep", `chain has more than maxDepth (${this.#maxDepth}) links`);
    }
    // Newest first, so a chain meant for someone else fails before older signatures are checked; each older
    // link is judged at the time the next one extended it (that link's verified iat).
    const links: Link[] = [];
    for (let i = 0; i < parts.length; i++) {
      const jws = parts[i]!.trim();
      parts[i] = jws;
      const at = i === 0 ? now : links[i - 1]!.claims.iat * 1000;
      const link = await this.#verifyLink(jws, at);
      if (i === 0) {
        if (link.claims.aud !== self) {
          throw chainError("a2a.chain_wrong_audience", "newest link is addressed to another agent");
        }
        if (peer !== undefined && link.claims.sub !== peer) {
          throw chainError("a2a.chain_wrong_subject", "newest link was issued to another caller than the mTLS peer");
        }
      } else {
        const newer = links[i - 1]!.claims;
        const c = link.claims;
        if (newer.prev !== linkDigest(jws)) {
          throw chainError("a2a.chain_broken_link", "prev does not match the digest of the previous link");
        }
        if (c.aud !== newer.sub) {
          throw chainError("a2a.chain_broken_link", "aud of the previous link is not the sub of the next");
        }
        if (newer.iat * 1000 + this.#skewMs < c.iat * 1000) {
          throw chainError("a2a.chain_broken_link", "link was issued before the link it extends");
        }
      }
      links.push(link);
    }
    const oldest = links[links.length - 1]!.claims;
    if (oldest.prev !== undefined || oldest.act !== undefined) {
      throw chainError("a2a.chain_broken_link", "oldest link names a previous link that is not in the chain");
    }
    const chain: string[] = [];
    const signers: string[] = [];
    for (let i = links.length - 1; i >= 0; i--) {
      const l = links[i]!;
      if (!actMatches(l.claims.act, chain)) {
        throw chainError("a2a.chain_broken_link", "act does not match the verified previous callers");
      }
      chain.push(l.claims.sub);
      signers.push(l.signer);
    }
    const newest = links[0]!.claims;
    const verified: VerifiedChain = Object.freeze({
      chain: Object.freeze(chain),
      signers: Object.freeze(signers),
      expiresAtMs: newest.exp * 1000,
      token: parts.length === 1 ? parts[0]! : parts.join(","),
    });
    return { verified, newest };
  }

  /** One link, valid at `at` (its successor's iat, or now for the newest). */
  async #verifyLink(jws: string, at: number): Promise<Link> {
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(jws) as Record<string, unknown>;
    } catch (cause) {
      throw chainError("a2a.chain_malformed", "link is not a compact JWS with a base64url JSON header", cause);
    }
    if (header.typ !== CHAIN_LINK_TYP) throw chainError("a2a.chain_malformed", `typ must be ${CHAIN_LINK_TYP}`);
    const alg = header.alg;
    if (typeof alg !== "string" || !JWT_SVID_ALGORITHMS.includes(alg)) {
      throw chainError("a2a.chain_alg_not_allowed", "alg is not an allowed asymmetric algorithm");
    }
    const signer = this.#trustedSigner(header.x5c);
    if (!algorithmsForKey(signer.key).includes(alg)) {
      throw chainError("a2a.chain_alg_not_allowed", "alg does not fit the signer certificate key");
    }
    if (at < signer.notBefore || at >= signer.notAfter) {
      throw chainError("a2a.chain_certificate_expired", "signer certificate chain is not valid at the link's time");
    }
    let payload: Uint8Array;
    try {
      ({ payload } = await compactVerify(jws, signer.key, { algorithms: [alg] }));
    } catch (e) {
      if (e instanceof errors.JWSSignatureVerificationFailed) {
        throw chainError("a2a.chain_bad_signature", "link signature verification failed");
      }
      throw chainError("a2a.chain_malformed", "link is not a valid compact JWS", e);
    }
    const claims = parseClaims(payload);
    if (claims.iss !== signer.id.uri) throw chainError("a2a.chain_bad_issuer", "iss is not the x5c signer's SPIFFE ID");
    this.#checkTimes(claims, at);
    return { jws, claims, signer: signer.id.uri };
  }

  #checkTimes(c: ChainClaims, at: number): void {
    if (c.exp - c.iat > this.#maxLifetime || c.exp < c.iat) {
      throw chainError("a2a.chain_lifetime_too_long", `exp - iat must be in [0, ${this.#maxLifetime}] s`);
    }
    if (c.iat * 1000 > at + this.#skewMs) throw chainError("a2a.chain_issued_in_future", "iat is in the future");
    if (c.exp * 1000 + this.#skewMs <= at) throw chainError("a2a.chain_expired", "link has expired");
  }

  #trustedSigner(x5c: unknown): TrustedSigner {
    if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_X5C_CERTS) {
      throw chainError("a2a.chain_malformed", `x5c must be an array of 1..${MAX_X5C_CERTS} certificates`);
    }
    for (const c of x5c) {
      if (typeof c !== "string" || c.length % 4 !== 0 || !BASE64.test(c)) {
        throw chainError("a2a.chain_malformed", "x5c entries must be base64 DER certificates");
      }
    }
    const key = x5c.join(".");
    let result = this.#signers.get(key);
    if (result === undefined) {
      result = this.#verifyX5c(x5c as string[]);
      this.#signers.set(key, result);
    }
    if (result instanceof HexrError) throw result;
    return result;
  }

  /** Chain building: leaf → intermediates as sent → a CA of the bundle of the leaf's own trust domain. */
  #verifyX5c(x5c: readonly string[]): TrustedSigner | HexrError {
    let certs: NodeX509[];
    try {
      certs = x5c.map((b64) => new NodeX509(Buffer.from(b64, "base64")));
    } catch (cause) {
      return chainError("a2a.chain_malformed", "x5c holds a certificate that does not parse", cause);
    }
    const leaf = certs[0]!;
    let id: SpiffeId;
    try {
      // Identity rules (one SPIFFE URI SAN, not a CA) are peer-cert's; validity is checked per link below.
      id = this.#leafReader.read(leaf.toString(), leaf.validFromDate.getTime());
      const usage = new PeculiarX509(leaf.raw).getExtension(KeyUsagesExtension);
      if (usage !== null && (usage.usages & KeyUsageFlags.digitalSignature) === 0) {
        return chainError("a2a.chain_bad_certificate", "signer certificate lacks the digitalSignature key usage");
      }
    } catch (cause) {
      return chainError("a2a.chain_bad_certificate", "signer certificate is not a valid X.509-SVID", cause);
    }
    if (!this.#isSigner(id.uri)) return chainError("a2a.chain_signer_not_allowed", "signer is not an allowed signer");
    const anchors = this.#trustDomains.has(id.trustDomain) ? this.#bundles.get(id.trustDomain) : undefined;
    if (anchors === undefined || anchors.length === 0) {
      return chainError("a2a.chain_foreign_trust_domain", "signer trust domain is not trusted or has no X.509 bundle");
    }
    let notBefore = -Infinity;
    let notAfter = Infinity;
    const window = (c: NodeX509) => {
      notBefore = Math.max(notBefore, c.validFromDate.getTime());
      notAfter = Math.min(notAfter, c.validToDate.getTime());
    };
    window(leaf);
    let current = leaf;
    for (let i = 1; i < certs.length; i++) {
      const issuer = certs[i]!;
      if (!issuer.ca || !issuedBy(current, issuer)) {
        return chainError(
          "a2a.chain_untrusted_certificate",
          "x5c is not a chain (each certificate issued by the next)",
        );
      }
      window(issuer);
      current = issuer;
    }
    const anchor = anchors.find((a) => a.fingerprint256 === current.fingerprint256 || issuedBy(current, a));
    if (anchor === undefined) {
      return chainError("a2a.chain_untrusted_certificate", "signer certificate does not chain to the trust bundle");
    }
    window(anchor);
    if (algorithmsForKey(leaf.publicKey).length === 0) {
      return chainError("a2a.chain_bad_certificate", "signer key is not EC P-256/384/521 or RSA >= 2048");
    }
    return { id, key: leaf.publicKey, notBefore, notAfter };
  }
}

function isChainError(e: unknown): e is HexrError {
  return e instanceof HexrError && e.code.startsWith("a2a.chain_");
}

/** The public methods' promise: an `a2a.chain_*` HexrError, whatever went wrong below. */
function asChainError(e: unknown): HexrError {
  return isChainError(e) ? e : chainError("a2a.chain_malformed", "chain could not be verified", e);
}

function issuedBy(cert: NodeX509, issuer: NodeX509): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function parseClaims(payload: Uint8Array): ChainClaims {
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch (cause) {
    throw chainError("a2a.chain_malformed", "link claims are not UTF-8 JSON", cause);
  }
  if (c === null || typeof c !== "object" || Array.isArray(c)) {
    throw chainError("a2a.chain_malformed", "link claims are not a JSON object");
  }
  for (const name of ["iss", "sub", "aud"] as const) {
    const v = c[name];
    if (typeof v !== "string" || !tryParseSpiffeId(v).ok) {
      throw chainError("a2a.chain_malformed", `${name} must be a SPIFFE ID`);
    }
  }
  for (const name of ["iat", "exp"] as const) {
    if (!Number.isInteger(c[name])) throw chainError("a2a.chain_malformed", `${name} must be an integer`);
  }
  const jti = c.jti;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw chainError("a2a.chain_malformed", `jti must be a string of 1..${MAX_JTI_LENGTH} characters`);
  }
  if (c.prev !== undefined && typeof c.prev !== "string")
    throw chainError("a2a.chain_malformed", "prev must be a string");
  return c as unknown as ChainClaims;
}

/** Whether `act` spells `history` (oldest first) with the most recent caller outermost. */
function actMatches(act: unknown, history: readonly string[]): boolean {
  let node = act;
  for (let i = history.length - 1; i >= 0; i--) {
    if (node === null || typeof node !== "object") return false;
    const n = node as { sub?: unknown; act?: unknown };
    if (n.sub !== history[i]) return false;
    node = n.act;
  }
  return node === undefined;
}

/**
 * In-process {@link ReplayCache}: `jti` → expiry, in insertion order. Expired entries are swept from the
 * front on every claim (amortised O(1)). When full of live entries it refuses new ones rather than evicting:
 * evicting a live `jti` would reopen its replay window, so a flood fails closed (`a2a.chain_replay_cache_full`).
 */
export class MemoryReplayCache implements ReplayCache {
  readonly #max: number;
  /** Most live entries one caller may hold: a flood from one agent fills its share, not everyone's. */
  readonly #maxPerCaller: number;
  readonly #seen = new Map<string, number>();
  /** jti → caller, and live entries per caller. */
  readonly #owner = new Map<string, string>();
  readonly #perCaller = new Map<string, number>();
  #lastFullSweepMs = -Infinity;

  constructor(opts: { maxEntries?: number; maxPerCaller?: number } = {}) {
    this.#max = int(opts.maxEntries, DEFAULT_REPLAY_CACHE_ENTRIES, 1, 10_000_000, "maxEntries");
    this.#maxPerCaller = int(opts.maxPerCaller, Math.max(1, Math.floor(this.#max / 16)), 1, this.#max, "maxPerCaller");
  }

  #drop(jti: string): void {
    this.#seen.delete(jti);
    const who = this.#owner.get(jti);
    if (who === undefined) return;
    this.#owner.delete(jti);
    const n = (this.#perCaller.get(who) ?? 1) - 1;
    if (n <= 0) this.#perCaller.delete(who);
    else this.#perCaller.set(who, n);
  }

  get size(): number {
    return this.#seen.size;
  }

  claim(jti: string, expiresAtMs: number, nowMs: number, caller?: string): boolean {
    for (const [k, exp] of this.#seen) {
      if (exp > nowMs) break;
      this.#drop(k);
    }
    const known = this.#seen.get(jti);
    if (known !== undefined && known > nowMs) return false;
    if (this.#seen.size >= this.#max) {
      // Entries further in may have expired behind a longer-lived front entry. A full sweep is O(n), so at
      // most one a second: a flood while full costs each request the front sweep only.
      if (nowMs - this.#lastFullSweepMs >= FULL_SWEEP_INTERVAL_MS) {
        this.#lastFullSweepMs = nowMs;
        for (const [k, exp] of this.#seen) if (exp <= nowMs) this.#drop(k);
      }
      if (this.#seen.size >= this.#max) {
        throw chainError("a2a.chain_replay_cache_full", `replay cache holds maxEntries (${this.#max}) live links`);
      }
    }
    if (caller !== undefined && (this.#perCaller.get(caller) ?? 0) >= this.#maxPerCaller) {
      throw chainError(
        "a2a.chain_replay_cache_full",
        `this caller holds its share (${this.#maxPerCaller}) of the replay cache's live links`,
      );
    }
    this.#drop(jti);
    this.#seen.set(jti, expiresAtMs);
    if (caller !== undefined) {
      this.#owner.set(jti, caller);
      this.#perCaller.set(caller, (this.#perCaller.get(caller) ?? 0) + 1);
    }
    return true;
  }
}

/**
 * Delegation chain links signed with this sidecar's own X.509-SVID (from the Workload API), and verified
 * against the Workload API's X.509 bundles (format and checks: `filters/a2a/chain.ts`).
 *
 * **Who signs.** The sidecar, with its own SVID (`spiffe://<td>/hexr/authz`), never the agent's: the agent's
 * process can fetch its own SVID and key from the Workload API, so if agent IDs could sign, an agent could
 * mint links for any caller it likes. Verifiers therefore allow sidecar IDs only (`signers`).
 *
 * **Where the parts come from** (outbound, in the calling pod): `caller` is the verified identity of the local
 * agent making the call; `target` is the SPIFFE ID the outbound route expects of the upstream (the same ID
 * Envoy enforces as the upstream certificate's SAN), so a link can only name the peer the TLS handshake
 * authenticates. `forwarded` is the chain header the agent copied from the request it is serving (like
 * trace context); it must be addressed to `caller`. The result replaces the header on the outbound request.
 * Inbound, `verify` is the other half: `self` is this pod's agent, `peer` the mTLS caller.
 *
 * **Rotation.** Nothing is subscribed: every call compares the Workload API snapshot's SVID and bundle map
 * (immutable, replaced whole on update) with the ones last imported, and re-imports on a change. Links
 * signed before a rotation stay verifiable: each carries its own certificate chain in `x5c`.
 *
 * @example
 *   const chains = new ChainSigner(wl, { spiffeId: "spiffe://hexr.cloud/hexr/authz",
 *     trustDomains: new Set(["hexr.cloud"]), signers: ["spiffe://hexr.cloud/hexr/authz"] });
 *   // outbound: const fw = await chains.forwarded(headers["x-hexr-a2a-chain"], caller);  // before the policy
 *   //           headers["x-hexr-a2a-chain"] = await chains.sign({ caller, target, forwarded: fw });  // on an allow
 *   // inbound:  const { chain } = await chains.verify(headers["x-hexr-a2a-chain"], { self, peer });
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import {
  algorithmsForKey,
  buildChainClaims,
  ChainVerifier,
  type ChainVerifierOptions,
  DEFAULT_CHAIN_TTL_SECONDS,
  MAX_CHAIN_TTL_SECONDS,
  signChainLink,
  type VerifiedChain,
} from "../../filters/a2a/chain.ts";
import { HexrError } from "../../filters/errors.ts";
import { tryParseSpiffeId } from "../../filters/identity/spiffe-id.ts";
import type { WorkloadSnapshot, X509Svid } from "../workload-api/client.ts";

/** What the signer needs from a Workload API client (WorkloadApiClient satisfies it). */
export interface ChainSvidSource {
  current(): WorkloadSnapshot;
}

export interface ChainSignerOptions extends ChainVerifierOptions {
  /** Sign with the SVID with this SPIFFE ID (default: the first, i.e. default, SVID). */
  readonly spiffeId?: string;
  /** Lifetime of the links this sidecar signs (default {@link DEFAULT_CHAIN_TTL_SECONDS}). */
  readonly ttlSeconds?: number;
}

interface SigningIdentity {
  readonly svid: X509Svid;
  readonly key: KeyObject;
  readonly alg: string;
  readonly x5c: readonly string[];
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g;

export class ChainSigner {
  readonly #source: ChainSvidSource;
  readonly #spiffeId: string | undefined;
  readonly #ttlSeconds: number;
  readonly #now: () => number;
  readonly #verifier: ChainVerifier;
  #bundles: WorkloadSnapshot["x509Bundles"] | undefined;
  #identity: SigningIdentity | undefined;

  constructor(source: ChainSvidSource, opts: ChainSignerOptions) {
    const ttl = opts.ttlSeconds ?? DEFAULT_CHAIN_TTL_SECONDS;
    const maxLifetime = opts.maxLifetimeSeconds ?? DEFAULT_CHAIN_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_CHAIN_TTL_SECONDS) {
      throw new TypeError(`ttlSeconds must be an integer in [1, ${MAX_CHAIN_TTL_SECONDS}]`);
    }
    if (ttl > maxLifetime) throw new TypeError("ttlSeconds must not exceed maxLifetimeSeconds");
    this.#source = source;
    this.#spiffeId = opts.spiffeId;
    this.#ttlSeconds = ttl;
    this.#now = opts.now ?? Date.now;
    this.#verifier = new ChainVerifier({ ...opts, now: this.#now });
  }

  /**
   * Verifies the chain an agent forwards with an outbound call from `caller` (addressed to `caller`, and
   * room for one more link). The result goes to {@link sign} as `forwarded`, so nothing is verified twice.
   *
   * @throws HexrError `a2a.chain_too_deep`, or any `a2a.chain_*` code from verifying the chain.
   */
  async forwarded(token: string, caller: string): Promise<VerifiedChain> {
    this.#syncBundles();
    const previous = await this.#verifier.verifyForwarded(token, { self: caller });
    if (previous.chain.length + 1 > this.#verifier.maxDepth) {
      throw new HexrError("a2a.chain_too_deep", `extending would pass maxDepth (${this.#verifier.maxDepth}) links`);
    }
    return previous;
  }

  /**
   * The chain header for an outbound call from `caller` to `target`: a new link, followed by `forwarded`
   * when the call is made on behalf of an earlier caller (a token is verified first with
   * {@link forwarded}; a {@link VerifiedChain} from it is used as it is).
   *
   * @throws HexrError `a2a.chain_no_signing_identity` (no live SVID), `a2a.chain_too_deep` / `a2a.chain_too_large`
   *   (the extended chain would pass the caps), or any `a2a.chain_*` code from verifying `forwarded`.
   */
  async sign(req: { caller: string; target: string; forwarded?: string | VerifiedChain | undefined }): Promise<string> {
    if (!tryParseSpiffeId(req.caller).ok || !tryParseSpiffeId(req.target).ok) {
      throw new HexrError("a2a.chain_malformed", "caller and target must be SPIFFE IDs");
    }
    const nowMs = this.#now();
    const id = this.#signingIdentity(nowMs);
    const previous =
      typeof req.forwarded === "string"
        ? req.forwarded === ""
          ? undefined
          : await this.forwarded(req.forwarded, req.caller)
        : req.forwarded;
    const claims = buildChainClaims({
      issuer: id.svid.spiffeId,
      subject: req.caller,
      audience: req.target,
      nowMs,
      ttlSeconds: this.#ttlSeconds,
      notAfterMs: id.svid.expiresAt.getTime(),
      previous,
    });
    const link = await signChainLink(claims, id.key, id.x5c, id.alg);
    const token = previous === undefined ? link : `${link},${previous.token}`;
    if (token.length > this.#verifier.maxBytes) {
      throw new HexrError("a2a.chain_too_large", `extended chain would pass maxBytes (${this.#verifier.maxBytes})`);
    }
    return token;
  }

  /**
   * Verifies the chain on an inbound request to `self` from the mTLS peer `peer`; see
   * {@link ChainVerifier.verifyInbound}.
   */
  verify(token: string, expect: { self: string; peer: string }): Promise<VerifiedChain> {
    this.#syncBundles();
    return this.#verifier.verifyInbound(token, expect);
  }

  #syncBundles(): void {
    const bundles = this.#source.current().x509Bundles;
    if (bundles !== this.#bundles) {
      this.#verifier.setBundles(bundles);
      this.#bundles = bundles;
    }
  }

  #signingIdentity(nowMs: number): SigningIdentity {
    this.#syncBundles();
    const svids = this.#source.current().svids;
    const svid = this.#spiffeId === undefined ? svids[0] : svids.find((s) => s.spiffeId === this.#spiffeId);
    if (svid === undefined || svid.expiresAt.getTime() <= nowMs) {
      throw new HexrError("a2a.chain_no_signing_identity", "no live X.509-SVID to sign the chain link with");
    }
    if (this.#identity?.svid !== svid) this.#identity = importIdentity(svid);
    return this.#identity;
  }
}

function importIdentity(svid: X509Svid): SigningIdentity {
  let key: KeyObject;
  try {
    key = createPrivateKey(svid.keyPem);
  } catch (cause) {
    throw new HexrError("a2a.chain_no_signing_identity", "X.509-SVID private key does not import", { cause });
  }
  const alg = algorithmsForKey(key)[0];
  if (alg === undefined) {
    throw new HexrError("a2a.chain_no_signing_identity", "X.509-SVID key is not EC P-256/384/521 or RSA >= 2048");
  }
  const x5c = [...svid.certChainPem.matchAll(PEM_BLOCK)].map((m) => m[1]!.replace(/\s+/g, ""));
  if (x5c.length === 0) throw new HexrError("a2a.chain_no_signing_identity", "X.509-SVID has no certificate");
  return { svid, key, alg, x5c };
}

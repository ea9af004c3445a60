/**
 * Caller identity for ext_authz from what Envoy itself authenticated on the connection.
 *
 * Identity comes only from the mTLS peer: `source.certificate` (the leaf's SPIFFE URI SAN) and/or
 * `source.principal`. Request headers are never consulted, not even `x-forwarded-client-cert` or
 * `x-hexr-*`: any client can set those. (JWT-SVIDs, which do travel in a header, are verified separately
 * by `JwtSvidVerifier`.)
 */
import { HexrError } from "../errors.ts";
import type { CheckAttributes } from "./envoy-types.ts";
import { spiffeIdFromCertificate } from "./peer-cert.ts";
import { type Principal, principalFromSpiffeId } from "./principal.ts";
import { type SpiffeId, tryParseSpiffeId } from "./spiffe-id.ts";

export interface PeerIdentityOptions {
  /** Trust domains whose agents may call; anything else is `identity.foreign_trust_domain`. */
  readonly trustDomains: ReadonlySet<string>;
  /** Wall clock for certificate validity, epoch milliseconds (default `Date.now`). */
  readonly now?: () => number;
}

/**
 * The calling agent's principal from a decoded CheckRequest's `attributes`.
 *
 * With a peer certificate its SPIFFE ID wins, and a non-empty `source.principal` must equal it; with only a
 * principal, the principal is parsed as a SPIFFE ID. A certificate that fails to parse is an error, never a
 * reason to fall back to the principal.
 *
 * @throws HexrError `identity.no_peer_identity` | `identity.principal_mismatch` | `identity.bad_principal` |
 *   `identity.foreign_trust_domain` | `identity.not_agent_id` | any code of `spiffeIdFromCertificate`
 * @example
 *   const who = identityFromCheckAttributes(req.attributes ?? {}, { trustDomains: new Set(["hexr.cloud"]) });
 *   who.tenant; // "acme-corp"
 */
export function identityFromCheckAttributes(attrs: CheckAttributes, opts: PeerIdentityOptions): Principal {
  const source = attrs.source;
  const certificate = source?.certificate;
  const principal = source?.principal;

  let id: SpiffeId;
  if (certificate) {
    id = spiffeIdFromCertificate(certificate, opts.now ? opts.now() : Date.now());
    if (principal && principal !== id.uri) {
      throw new HexrError(
        "identity.principal_mismatch",
        "source.principal does not match the SPIFFE ID of the peer certificate",
      );
    }
  } else if (principal) {
    const parsed = tryParseSpiffeId(principal);
    if (!parsed.ok) {
      throw new HexrError(
        "identity.bad_principal",
        `source.principal is not a valid SPIFFE ID (${parsed.error.code})`,
        { cause: parsed.error },
      );
    }
    id = parsed.id;
  } else {
    throw new HexrError(
      "identity.no_peer_identity",
      "connection has no peer certificate or principal (is the listener mTLS with include_peer_certificate?)",
    );
  }

  if (!opts.trustDomains.has(id.trustDomain)) {
    throw new HexrError("identity.foreign_trust_domain", "peer trust domain is not in trustDomains");
  }
  return principalFromSpiffeId(id);
}

/**
 * SPIFFE ID of a peer from its X.509-SVID, as Envoy hands it to ext_authz (`attributes.source.certificate`,
 * URL-encoded PEM, when the filter sets `include_peer_certificate: true`).
 *
 * Envoy has already verified the chain during the TLS handshake; this module only reads the identity out of
 * the leaf, following the X.509-SVID spec: exactly one URI SAN, which is the SPIFFE ID, and the leaf is not
 * a CA. Results (including failures) are cached per certificate string because every request on a
 * connection carries the same certificate.
 *
 * Validity (`notBefore`/`notAfter`) is checked on every read, not only when parsed: Envoy checks the
 * certificate at the handshake only, so an SVID that expires on a connection that stays open would
 * otherwise keep authorizing requests. The parse is cached, so the check costs two comparisons.
 */
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import {
  BasicConstraintsExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  X509Certificate,
} from "@peculiar/x509";
import { LRUCache } from "lru-cache";
import { HexrError } from "../errors.ts";
import { type SpiffeId, tryParseSpiffeId } from "./spiffe-id.ts";

/** Largest certificate input accepted (characters of the raw, possibly URL-encoded, string). */
export const MAX_CERTIFICATE_INPUT_BYTES = 64 * 1024;
/** Default number of distinct certificates whose parse result is kept. */
export const DEFAULT_PEER_CERT_CACHE_ENTRIES = 1024;
/** Default cap on the summed length of cached certificate strings, so the cache stays small. */
export const DEFAULT_PEER_CERT_CACHE_BYTES = 8 * 1024 * 1024;

const PEM_BEGIN = "-----BEGIN CERTIFICATE-----";
const PEM_END = "-----END CERTIFICATE-----";
const CA_KEY_USAGES = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;

export interface PeerCertificateReaderOptions {
  /** Cached certificates (default {@link DEFAULT_PEER_CERT_CACHE_ENTRIES}). */
  readonly maxEntries?: number;
  /** Cap on the summed length of cached certificate strings (default {@link DEFAULT_PEER_CERT_CACHE_BYTES}). */
  readonly maxCacheBytes?: number;
}

/**
 * Reads SPIFFE IDs from peer certificates with a bounded LRU of results. Most callers use the shared
 * instance through {@link spiffeIdFromCertificate}; tests and embedders can own one.
 *
 * @example
 *   const reader = new PeerCertificateReader({ maxEntries: 256 });
 *   const id = reader.read(attrs.source.certificate);
 */
/** A parsed leaf: its SPIFFE ID and validity window (epoch milliseconds). */
interface ParsedLeaf {
  readonly id: SpiffeId;
  readonly notBefore: number;
  readonly notAfter: number;
}

export class PeerCertificateReader {
  readonly #cache: LRUCache<string, ParsedLeaf | HexrError>;

  constructor(opts: PeerCertificateReaderOptions = {}) {
    const max = opts.maxEntries ?? DEFAULT_PEER_CERT_CACHE_ENTRIES;
    const maxSize = opts.maxCacheBytes ?? DEFAULT_PEER_CERT_CACHE_BYTES;
    if (!Number.isInteger(max) || max < 1) throw new TypeError("maxEntries must be a positive integer");
    if (!Number.isInteger(maxSize) || maxSize < MAX_CERTIFICATE_INPUT_BYTES) {
      throw new TypeError(`maxCacheBytes must be an integer >= ${MAX_CERTIFICATE_INPUT_BYTES}`);
    }
    this.#cache = new LRUCache({ max, maxSize, sizeCalculation: (_value, key) => key.length });
  }

  /** Number of cached results (successes and failures). */
  get size(): number {
    return this.#cache.size;
  }

  /** Drops every cached result. */
  clear(): void {
    this.#cache.clear();
  }

  /**
   * The SPIFFE ID in the certificate's single URI SAN, if the certificate is valid at `nowMs`.
   *
   * @throws HexrError `identity.certificate_too_large` | `identity.bad_certificate` | `identity.ca_certificate` |
   *   `identity.no_spiffe_san` | `identity.multiple_uri_sans` | `identity.bad_spiffe_san` |
   *   `identity.certificate_expired` | `identity.certificate_not_yet_valid`
   */
  read(pemOrUrlEncodedPem: string, nowMs: number = Date.now()): SpiffeId {
    if (typeof pemOrUrlEncodedPem !== "string" || pemOrUrlEncodedPem.length === 0) {
      throw new HexrError("identity.bad_certificate", "peer certificate is empty");
    }
    // Checked before the cache so oversized strings are never kept as keys.
    if (pemOrUrlEncodedPem.length > MAX_CERTIFICATE_INPUT_BYTES) {
      throw new HexrError(
        "identity.certificate_too_large",
        `peer certificate exceeds ${MAX_CERTIFICATE_INPUT_BYTES} bytes`,
      );
    }
    let result = this.#cache.get(pemOrUrlEncodedPem);
    if (result === undefined) {
      result = readUncached(pemOrUrlEncodedPem);
      this.#cache.set(pemOrUrlEncodedPem, result);
    }
    if (result instanceof HexrError) throw result;
    if (nowMs >= result.notAfter) throw CERT_EXPIRED;
    if (nowMs < result.notBefore) throw CERT_NOT_YET_VALID;
    return result.id;
  }
}

// Prebuilt: thrown on every request of a connection whose SVID lapsed, and they carry no request data.
const CERT_EXPIRED = new HexrError("identity.certificate_expired", "peer X.509-SVID has expired (notAfter passed)");
const CERT_NOT_YET_VALID = new HexrError(
  "identity.certificate_not_yet_valid",
  "peer X.509-SVID is not valid yet (notBefore in the future)",
);

function badCertificate(message: string, cause?: unknown): HexrError {
  return new HexrError("identity.bad_certificate", message, cause === undefined ? undefined : { cause });
}

function readUncached(input: string): ParsedLeaf | HexrError {
  let pem = input;
  // Envoy percent-encodes newlines, spaces, '+', '/' and '='; raw PEM has no '%', so decoding is unambiguous.
  if (input.includes("%")) {
    try {
      pem = decodeURIComponent(input);
    } catch (cause) {
      return badCertificate("peer certificate is not valid URL-encoded PEM", cause);
    }
  }
  // The first block is the leaf; anything after it (a chain) is not ours to judge, Envoy verified it.
  const begin = pem.indexOf(PEM_BEGIN);
  const end = begin === -1 ? -1 : pem.indexOf(PEM_END, begin + PEM_BEGIN.length);
  if (end === -1) return badCertificate("peer certificate has no PEM CERTIFICATE block");

  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem.slice(begin, end + PEM_END.length));
  } catch (cause) {
    return badCertificate("peer certificate is not a valid DER X.509 certificate", cause);
  }
  try {
    const id = inspectLeaf(cert);
    if (id instanceof HexrError) return id;
    const notBefore = cert.notBefore.getTime();
    const notAfter = cert.notAfter.getTime();
    if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter)) {
      return badCertificate("peer certificate validity dates could not be read");
    }
    return { id, notBefore, notAfter };
  } catch (cause) {
    // Extensions are decoded lazily, so a malformed extension surfaces here.
    return badCertificate("peer certificate extensions could not be decoded", cause);
  }
}

function inspectLeaf(cert: X509Certificate): SpiffeId | HexrError {
  if (cert.getExtension(BasicConstraintsExtension)?.ca === true) {
    return new HexrError("identity.ca_certificate", "peer certificate is a CA (basicConstraints cA=true)");
  }
  const keyUsage = cert.getExtension(KeyUsagesExtension);
  if (keyUsage !== null && (keyUsage.usages & CA_KEY_USAGES) !== 0) {
    return new HexrError("identity.ca_certificate", "leaf SVID must not have keyCertSign or cRLSign key usage");
  }

  const sanExtensions = cert.getExtensions(SubjectAlternativeNameExtension);
  if (sanExtensions.length > 1) return badCertificate("peer certificate has more than one subjectAltName extension");
  let uri: string | undefined;
  let uriCount = 0;
  for (const name of sanExtensions[0]?.names.items ?? []) {
    if (name.type === "url") {
      uriCount++;
      uri = name.value;
    }
  }
  if (uri === undefined) return new HexrError("identity.no_spiffe_san", "peer certificate has no URI SAN");
  if (uriCount > 1) {
    return new HexrError(
      "identity.multiple_uri_sans",
      `peer certificate has ${uriCount} URI SANs, X.509-SVID allows one`,
    );
  }
  const parsed = tryParseSpiffeId(uri);
  if (!parsed.ok) {
    return new HexrError(
      "identity.bad_spiffe_san",
      `peer certificate URI SAN is not a valid SPIFFE ID (${parsed.error.code})`,
      { cause: parsed.error },
    );
  }
  return parsed.id;
}

const sharedReader = new PeerCertificateReader();

/**
 * The SPIFFE ID of an X.509-SVID given as PEM or URL-encoded PEM (Envoy's `source.certificate`).
 * Uses a process-wide bounded cache keyed by the raw string; validity is checked against `nowMs` every call.
 *
 * @throws HexrError `identity.certificate_too_large` | `identity.bad_certificate` | `identity.ca_certificate` |
 *   `identity.no_spiffe_san` | `identity.multiple_uri_sans` | `identity.bad_spiffe_san` |
 *   `identity.certificate_expired` | `identity.certificate_not_yet_valid`
 * @example
 *   const id = spiffeIdFromCertificate(attrs.source.certificate);
 *   id.uri; // "spiffe://hexr.cloud/agent/acme/crew/researcher"
 */
export function spiffeIdFromCertificate(pemOrUrlEncodedPem: string, nowMs: number = Date.now()): SpiffeId {
  return sharedReader.read(pemOrUrlEncodedPem, nowMs);
}

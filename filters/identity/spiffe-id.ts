/**
 * SPIFFE ID parsing per the SPIFFE ID specification (SPIFFE-ID.md): `spiffe://<trust-domain>[/<segment>…]`.
 *
 * Runs on every request, so it is a single pass over char codes with a lookup table: no regex, no
 * `URL` object, one slice per path segment. Only canonical IDs are accepted (lowercase scheme and trust
 * domain, no percent-encoding, no dot or empty segments), so `uri` is always the input string itself and
 * two IDs are equal exactly when their strings are.
 */
import { HexrError, type HexrErrorCode } from "../errors.ts";

/** The only accepted scheme prefix (the spec requires lowercase). */
export const SPIFFE_SCHEME = "spiffe://";
/** Maximum length of a whole SPIFFE ID, in bytes (accepted IDs are ASCII, so bytes = chars). */
export const MAX_SPIFFE_ID_BYTES = 2048;
/** Maximum length of the trust domain name. */
export const MAX_TRUST_DOMAIN_LENGTH = 255;

/** A parsed, canonical SPIFFE ID. Instances are frozen and may be shared between requests. */
export interface SpiffeId {
  /** Trust domain name, e.g. `hexr.cloud`. */
  readonly trustDomain: string;
  /** `""` for a trust-domain-only ID, else `/a/b` (leading slash, no trailing slash). */
  readonly path: string;
  /** Path segments without slashes: `["a", "b"]` for `/a/b`. */
  readonly segments: readonly string[];
  /** The full ID, e.g. `spiffe://hexr.cloud/a/b`. */
  readonly uri: string;
}

export type SpiffeIdResult = { ok: true; id: SpiffeId } | { ok: false; error: HexrError };

const SCHEME_LENGTH = SPIFFE_SCHEME.length;
const SLASH = 0x2f;
const DOT = 0x2e;
const TRUST_DOMAIN_CHAR = 1;
const PATH_CHAR = 2;
const NO_SEGMENTS: readonly string[] = Object.freeze([]);

/** ASCII table: bit 1 = allowed in the trust domain `[a-z0-9._-]`, bit 2 = allowed in a segment `[a-zA-Z0-9._-]`. */
const CHAR_CLASS: Uint8Array = (() => {
  const table = new Uint8Array(128);
  const both = TRUST_DOMAIN_CHAR | PATH_CHAR;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = both; // a-z
  for (let c = 0x30; c <= 0x39; c++) table[c] = both; // 0-9
  for (let c = 0x41; c <= 0x5a; c++) table[c] = PATH_CHAR; // A-Z: path only
  table[0x2d] = both; // -
  table[DOT] = both;
  table[0x5f] = both; // _
  return table;
})();

function fail(code: HexrErrorCode, message: string): HexrError {
  return new HexrError(code, message);
}

/** Classifies a character that is not allowed at `offset`; `inTrustDomain` picks the wording and codes. */
function charError(c: number, offset: number, inTrustDomain: boolean): HexrError {
  if (c === 0x3f || c === 0x23) {
    return fail("spiffe_id.query_or_fragment", `SPIFFE ID must not have a query or fragment (offset ${offset})`);
  }
  if (c === 0x25) {
    return fail("spiffe_id.percent_encoded", `SPIFFE ID must not contain percent-encoding (offset ${offset})`);
  }
  if (inTrustDomain) {
    if (c === 0x3a || c === 0x40) {
      return fail("spiffe_id.port_or_userinfo", `SPIFFE ID must not have a port or user info (offset ${offset})`);
    }
    const upper = c >= 0x41 && c <= 0x5a;
    return fail(
      "spiffe_id.bad_trust_domain_char",
      upper
        ? `trust domain must be lowercase (offset ${offset})`
        : `trust domain characters are limited to a-z, 0-9, '.', '-', '_' (offset ${offset})`,
    );
  }
  return fail(
    "spiffe_id.bad_path_char",
    `path segment characters are limited to a-z, A-Z, 0-9, '.', '-', '_' (offset ${offset})`,
  );
}

function scan(s: string): SpiffeId | HexrError {
  if (typeof s !== "string" || s.length === 0) return fail("spiffe_id.empty", "SPIFFE ID is empty");
  const n = s.length;
  if (n > MAX_SPIFFE_ID_BYTES) {
    return fail("spiffe_id.too_long", `SPIFFE ID exceeds ${MAX_SPIFFE_ID_BYTES} bytes`);
  }
  if (!s.startsWith(SPIFFE_SCHEME)) {
    return fail("spiffe_id.bad_scheme", "SPIFFE ID must start with spiffe:// (lowercase)");
  }

  let i = SCHEME_LENGTH;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === SLASH) break;
    if (c < 128 && ((CHAR_CLASS[c] ?? 0) & TRUST_DOMAIN_CHAR) !== 0) continue;
    return charError(c, i, true);
  }
  const tdLength = i - SCHEME_LENGTH;
  if (tdLength === 0) return fail("spiffe_id.empty_trust_domain", "SPIFFE ID trust domain is empty");
  if (tdLength > MAX_TRUST_DOMAIN_LENGTH) {
    return fail("spiffe_id.trust_domain_too_long", `trust domain exceeds ${MAX_TRUST_DOMAIN_LENGTH} characters`);
  }
  const trustDomain = s.slice(SCHEME_LENGTH, i);
  if (i === n) return Object.freeze({ trustDomain, path: "", segments: NO_SEGMENTS, uri: s });

  const pathStart = i;
  const segments: string[] = [];
  let segStart = i + 1;
  // i === n acts as a virtual closing slash so the last segment goes through the same checks.
  for (i = segStart; i <= n; i++) {
    const c = i === n ? SLASH : s.charCodeAt(i);
    if (c === SLASH) {
      const len = i - segStart;
      if (len === 0) {
        return i === n
          ? fail("spiffe_id.trailing_slash", "SPIFFE ID path must not end with '/'")
          : fail("spiffe_id.empty_segment", `SPIFFE ID path has an empty segment (offset ${i})`);
      }
      if (len <= 2 && s.charCodeAt(segStart) === DOT && (len === 1 || s.charCodeAt(segStart + 1) === DOT)) {
        return fail("spiffe_id.dot_segment", `SPIFFE ID path has a '.' or '..' segment (offset ${segStart})`);
      }
      segments.push(s.slice(segStart, i));
      segStart = i + 1;
      continue;
    }
    if (c < 128 && ((CHAR_CLASS[c] ?? 0) & PATH_CHAR) !== 0) continue;
    return charError(c, i, false);
  }
  return Object.freeze({ trustDomain, path: s.slice(pathStart), segments: Object.freeze(segments), uri: s });
}

/**
 * Parses a SPIFFE ID, accepting only the canonical form the spec allows.
 *
 * @throws HexrError `spiffe_id.empty` | `spiffe_id.too_long` | `spiffe_id.bad_scheme` |
 *   `spiffe_id.empty_trust_domain` | `spiffe_id.trust_domain_too_long` | `spiffe_id.bad_trust_domain_char` |
 *   `spiffe_id.port_or_userinfo` | `spiffe_id.query_or_fragment` | `spiffe_id.percent_encoded` |
 *   `spiffe_id.empty_segment` | `spiffe_id.trailing_slash` | `spiffe_id.dot_segment` | `spiffe_id.bad_path_char`
 * @example
 *   const id = parseSpiffeId("spiffe://hexr.cloud/agent/acme/crew/researcher");
 *   id.trustDomain; // "hexr.cloud"
 *   id.segments;    // ["agent", "acme", "crew", "researcher"]
 */
export function parseSpiffeId(s: string): SpiffeId {
  const r = scan(s);
  if (r instanceof HexrError) throw r;
  return r;
}

/**
 * Like {@link parseSpiffeId} but returns the error instead of throwing.
 *
 * @example
 *   const r = tryParseSpiffeId(header);
 *   if (!r.ok) return deny(r.error.reason);
 */
export function tryParseSpiffeId(s: string): SpiffeIdResult {
  const r = scan(s);
  return r instanceof HexrError ? { ok: false, error: r } : { ok: true, id: r };
}

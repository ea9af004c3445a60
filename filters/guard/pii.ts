/**
 * PII scanner: email, phone, payment card, IBAN, US SSN, IPv4/IPv6, national identifiers
 * (pii-national.ts: NHS, NINO, BSN, DNI/NIE, codice fiscale, NIR, Steuer-IdNr, CPF/CNPJ, Aadhaar/PAN,
 * SIN, TFN), MAC addresses and crypto wallets (pii-wallets.ts), and the identifiers that need their name
 * before them: driver's licences, passports, dates of birth (pii-identifiers.ts). Each is its own
 * subtype (pii-subtypes.ts lists them for the policy). One pass per family over the normalized text (so
 * fullwidth digits and zero-width-split numbers are seen), offsets mapped back; wallets are read on the
 * original text, their checksums being case-sensitive.
 * Numbers are validated, not just shaped: Luhn + issuer ranges for cards, mod-97 for IBAN, SSA ranges
 * for SSN, libphonenumber metadata for phones (pii-phones.ts), real parses for IPs, Base58Check /
 * bech32 / EIP-55 / Monero checksums for wallets. Context words nearby ("card", "iban", "ssn", "phone",
 * "wallet", …) raise the score; weak formats are findings only with one.
 *
 * libphonenumber's own text search costs ~1 ms on 4 KB, so phones come from the number pass here and
 * only phone-shaped candidates (or any with a context word) are parsed, at most
 * {@link MAX_PHONE_PARSES} times per text; past that strong shapes get a shape score.
 */
import type { CountryCode } from "libphonenumber-js/max";
import { checkDeadline, DEADLINE_EVERY } from "./deadline.ts";
import type { Finding, ScanOptions } from "./types.ts";
import { type NormalizedText, normalize } from "./normalize.ts";
import { add, type Ctx } from "./pii-context.ts";
import { nationalTokens } from "./pii-national.ts";
import { triggeredIdentifiers } from "./pii-identifiers.ts";
import { numbers } from "./pii-numbers.ts";
import { macs, wallets } from "./pii-wallets.ts";
import { isAsciiAlnum, isHex } from "./text-util.ts";
import { ipv6Score, parseIpv6 } from "./pii-formats.ts";
import { DEFAULT_PHONE_REGIONS } from "./policy.ts";

export interface PiiScanOptions extends ScanOptions {
  /**
   * Regions tried, in order, for numbers written without `+country` (ISO 3166 alpha-2).
   * Default {@link DEFAULT_PHONE_REGIONS}.
   */
  readonly phoneRegions?: readonly CountryCode[];
  /** One region; the older spelling of `phoneRegions: [region]`. */
  readonly phoneRegion?: CountryCode;
  /** Which subtypes to report (the policy's selection); default all. Applied before overlaps resolve. */
  readonly enabled?: (subtype: string) => boolean;
}

export { MAX_PHONE_PARSES } from "./pii-phones.ts";

const isLocal = (u: number): boolean =>
  isAsciiAlnum(u) || u === 0x2e || u === 0x5f || u === 0x25 || u === 0x2b || u === 0x2d;
const isDomain = (u: number): boolean => isAsciiAlnum(u) || u === 0x2e || u === 0x2d;
/** Asset names like `logo@2x.png` look like addresses; these "TLDs" are file extensions. */
const FILE_TLDS = new Set("png jpg jpeg gif svg webp ico css js ts json yaml yml md txt pdf html".split(" "));

/** How far back `scheme://` makes `user:pass@host` a URL credential rather than an address. */
const SCHEME_BEFORE = 256;

function emails(c: Ctx): void {
  const t = c.t;
  // the last `://` at or before the local part's start, found with a forward cursor: starts only grow
  // (the next local part begins after this `@`), so this is linear where `lastIndexOf` per `@` was not
  let lastScheme = -1;
  let nextScheme = -2; // not searched yet
  let work = 0;
  for (let at = t.indexOf("@"); at !== -1; at = t.indexOf("@", at + 1)) {
    if ((++work & DEADLINE_EVERY) === 0) checkDeadline(c.deadline);
    let s = at;
    while (s > 0 && at - s < 64 && isLocal(t.charCodeAt(s - 1))) s--;
    let e = at + 1;
    while (e < t.length && e - at < 254 && isDomain(t.charCodeAt(e))) e++;
    while (e > at + 1 && (t.charCodeAt(e - 1) === 0x2e || t.charCodeAt(e - 1) === 0x2d)) e--; // sentence punctuation
    if (s === at || e === at + 1) continue;
    if (t.charCodeAt(s) === 0x2e || t.charCodeAt(at - 1) === 0x2e) continue;
    // `scheme://user:pass@host` is a URL credential (secrets scanner), not an address
    if (s > 0 && t.charCodeAt(s - 1) === 0x3a) {
      if (nextScheme === -2) nextScheme = t.indexOf("://");
      while (nextScheme !== -1 && nextScheme <= s) {
        lastScheme = nextScheme;
        nextScheme = t.indexOf("://", nextScheme + 1);
      }
      if (lastScheme !== -1 && lastScheme > s - SCHEME_BEFORE) continue;
    }
    if (t.charCodeAt(e) === 0x3a && e + 1 < t.length && t.charCodeAt(e + 1) !== 0x20) continue; // git@host:org/repo
    const domain = t.slice(at + 1, e);
    const lastDot = domain.lastIndexOf(".");
    if (lastDot <= 0) continue;
    const tld = domain.slice(lastDot + 1);
    if (tld.length < 2 || tld.length > 24 || FILE_TLDS.has(tld)) continue;
    let tldOk = true;
    for (let k = 0; k < tld.length; k++) if (!(tld.charCodeAt(k) >= 0x61 && tld.charCodeAt(k) <= 0x7a)) tldOk = false;
    if (
      !tldOk ||
      domain.includes("..") ||
      domain.includes(".-") ||
      domain.includes("-.") ||
      domain.charCodeAt(0) === 0x2d
    )
      continue;
    add(c, "email", s, e, 0.8);
  }
}

const isV6 = (u: number): boolean => isHex(u) || u === 0x3a || u === 0x2e;

/** Longest IPv6 text form (with an embedded IPv4): candidates start at most this far before their colon. */
const IPV6_BACK = 45;

function ipv6s(c: Ctx): void {
  const t = c.t;
  // Where the run of address characters before `i` starts, kept up to date by a cursor instead of
  // walking back from every colon (`::::` × N used to re-read 45 characters per colon): `runFrom` is
  // exact, or at most i - IPV6_BACK when the run is longer, which the candidate start clamps anyway.
  let cursor = 0;
  let runFrom = 0;
  let work = 0;
  for (let i = t.indexOf(":"); i !== -1; i = t.indexOf(":", i + 1)) {
    if ((++work & DEADLINE_EVERY) === 0) checkDeadline(c.deadline);
    const nb = t.charCodeAt(i + 1);
    if (!(isHex(nb) || nb === 0x3a)) continue;
    if (i - cursor > IPV6_BACK) cursor = runFrom = i - IPV6_BACK;
    for (; cursor < i; cursor++) if (!isV6(t.charCodeAt(cursor))) runFrom = cursor + 1;
    const s = Math.max(runFrom, i - IPV6_BACK, 0);
    let e = i;
    while (e < t.length && e - s < 46 && isV6(t.charCodeAt(e))) e++;
    while (e > i && t.charCodeAt(e - 1) === 0x2e) e--;
    i = e;
    if (
      (s > 0 && isAsciiAlnum(t.charCodeAt(s - 1))) ||
      (e < t.length && (isAsciiAlnum(t.charCodeAt(e)) || t.charCodeAt(e) === 0x3a))
    )
      continue;
    const cand = t.slice(s, e);
    const hex = parseIpv6(cand);
    if (hex < 0) continue;
    let colons = 0;
    for (let k = 0; k < cand.length; k++) if (cand.charCodeAt(k) === 0x3a) colons++;
    if (colons < 3 && !(cand.includes("::") && hex >= 4)) continue; // `a::b` is C++, `12:30:45` a time
    const score = ipv6Score(cand);
    if (score > 0) add(c, "ipv6", s, e, score, "ip");
  }
}

/** Drop lower-scoring findings that overlap a higher one (a card number is not also a phone). */
function resolveOverlaps(found: Finding[]): Finding[] {
  if (found.length < 2) return found;
  found.sort((a, b) => a.start - b.start || b.score - a.score);
  const out: Finding[] = [];
  for (const f of found) {
    const prev = out[out.length - 1];
    if (prev && f.start < prev.end) {
      if (f.score > prev.score) out[out.length - 1] = f;
      continue;
    }
    out.push(f);
  }
  return out;
}

/**
 * Scan for personal data.
 * @example scanPii("mail me: jo@example.org", normalize("mail me: jo@example.org")) // [{ subtype: "email", start: 9, end: 23, … }]
 */
export function scanPii(text: string, normalized?: NormalizedText, opts?: PiiScanOptions): Finding[] {
  const deadline = opts?.deadline;
  const n = normalized ?? normalize(text, deadline);
  const c: Ctx = { t: n.text, n, out: [], deadline, context: new Map(), phoneParses: 0 };
  emails(c);
  numbers(c, opts?.phoneRegions ?? (opts?.phoneRegion ? [opts.phoneRegion] : DEFAULT_PHONE_REGIONS));
  nationalTokens(c);
  ipv6s(c);
  macs(c);
  wallets(c);
  triggeredIdentifiers(c);
  checkDeadline(deadline);
  const min = opts?.minScore ?? 0;
  const enabled = opts?.enabled;
  const res = resolveOverlaps(enabled === undefined ? c.out : c.out.filter((f) => enabled(f.subtype)));
  return min > 0 ? res.filter((f) => f.score >= min) : res;
}

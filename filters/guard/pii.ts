/**
 * PII scanner: email, phone, payment card, IBAN, US SSN, IPv4/IPv6. One pass per family over the
 * normalized text (so fullwidth digits and zero-width-split numbers are seen), offsets mapped back.
 * Numbers are validated, not just shaped: Luhn + issuer ranges for cards, mod-97 for IBAN, SSA ranges
 * for SSN, libphonenumber metadata for phones, real parses for IPs. Context words nearby ("card",
 * "iban", "ssn", "phone", "email", …) raise the score.
 *
 * libphonenumber's own text search costs ~1 ms on 4 KB, so phones are found by a digit-run prefilter
 * here and only the candidates (usually none) are validated by libphonenumber, at most
 * {@link MAX_PHONE_PARSES} per text; candidates beyond that get a structural score.
 */
import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js/max";
import type { Finding, ScanOptions } from "./types.ts";
import { type NormalizedText, normalize, toOriginal } from "./normalize.ts";
import { isAsciiAlnum, isDigit, isHex, luhnValid, wordNear } from "./text-util.ts";
import { ibanChecksumValid, ibanLength, ipv4Score, ipv6Score, knownCardIssuer, parseIpv4, parseIpv6, ssnValid } from "./pii-formats.ts";

export interface PiiScanOptions extends ScanOptions {
  /** Region for numbers written without `+country` (ISO 3166 alpha-2). Default "US". */
  readonly phoneRegion?: CountryCode;
}

export const MAX_PHONE_PARSES = 32;
const CONTEXT_BEFORE = 64;
const CONTEXT_AFTER = 24;
const CONTEXT_BOOST = 0.2;

const CONTEXT: Readonly<Record<string, readonly string[]>> = {
  email: ["email", "e-mail", "mail", "correo", "courriel"],
  phone: ["phone", "phones", "telephone", "tel", "call", "mobile", "cell", "cellphone", "whatsapp", "fax", "sms", "text me", "telefon", "telefono", "handy", "contact"],
  card: ["card", "cards", "visa", "mastercard", "amex", "credit", "debit", "cc", "payment", "cvv", "tarjeta", "carte", "karte", "pan"],
  iban: ["iban", "bank", "account", "konto", "cuenta", "compte", "sepa", "transfer"],
  ssn: ["ssn", "social security", "social sec", "ss#", "tax id", "taxpayer"],
  ip: ["ip", "address", "host", "server", "client", "addr"],
};

interface Ctx {
  readonly t: string;
  readonly n: NormalizedText;
  readonly out: Finding[];
}

/** A context word for `kind` just before or after `[s, e)` (searched in that window only). */
function contextNear(c: Ctx, kind: string, s: number, e: number): boolean {
  return wordNear(c.t, CONTEXT[kind] ?? [], s - CONTEXT_BEFORE, e + CONTEXT_AFTER);
}

function add(c: Ctx, subtype: string, s: number, e: number, base: number, kind = subtype): void {
  const score = Math.min(0.99, contextNear(c, kind, s, e) ? base + CONTEXT_BOOST : base);
  const [os, oe] = toOriginal(c.n, s, e);
  c.out.push({ type: "pii", subtype, start: os, end: oe, score });
}

const isLocal = (u: number): boolean => isAsciiAlnum(u) || u === 0x2e || u === 0x5f || u === 0x25 || u === 0x2b || u === 0x2d;
const isDomain = (u: number): boolean => isAsciiAlnum(u) || u === 0x2e || u === 0x2d;
const FILE_TLDS = new Set(["png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "css", "js", "ts", "json", "yaml", "yml", "md", "txt", "pdf", "html"]);

function emails(c: Ctx): void {
  const t = c.t;
  for (let at = t.indexOf("@"); at !== -1; at = t.indexOf("@", at + 1)) {
    let s = at;
    while (s > 0 && at - s < 64 && isLocal(t.charCodeAt(s - 1))) s--;
    let e = at + 1;
    while (e < t.length && e - at < 254 && isDomain(t.charCodeAt(e))) e++;
    while (e > at + 1 && (t.charCodeAt(e - 1) === 0x2e || t.charCodeAt(e - 1) === 0x2d)) e--; // sentence punctuation
    if (s === at || e === at + 1) continue;
    if (t.charCodeAt(s) === 0x2e || t.charCodeAt(at - 1) === 0x2e) continue;
    // `scheme://user:pass@host` is a URL credential (secrets scanner), not an address
    if (s > 0 && t.charCodeAt(s - 1) === 0x3a && t.lastIndexOf("://", s) > s - 256 && t.lastIndexOf("://", s) !== -1) continue;
    if (t.charCodeAt(e) === 0x3a && e + 1 < t.length && t.charCodeAt(e + 1) !== 0x20) continue; // git@host:org/repo
    const domain = t.slice(at + 1, e);
    const lastDot = domain.lastIndexOf(".");
    if (lastDot <= 0) continue;
    const tld = domain.slice(lastDot + 1);
    if (tld.length < 2 || tld.length > 24 || FILE_TLDS.has(tld)) continue;
    let tldOk = true;
    for (let k = 0; k < tld.length; k++) if (!(tld.charCodeAt(k) >= 0x61 && tld.charCodeAt(k) <= 0x7a)) tldOk = false;
    if (!tldOk || domain.includes("..") || domain.includes(".-") || domain.includes("-.") || domain.charCodeAt(0) === 0x2d) continue;
    add(c, "email", s, e, 0.8);
  }
}

/** Separators allowed inside a written number. */
function isNumSep(u: number): boolean {
  return u === 0x20 || u === 0x2d || u === 0x2e || u === 0x28 || u === 0x29 || u === 0x2f;
}

interface NumRun {
  start: number;
  end: number;
  digits: string;
  seps: string;
  groups: number;
}

/** Read a number written with single separators starting at `i` (a digit, `+` or `(`). */
function readNumber(t: string, i: number): NumRun | null {
  let k = i;
  let digits = "";
  let seps = "";
  let groups = 0;
  let lastDigit = -1;
  let sepRun = 0;
  let pending = ""; // separators seen since the last digit; they count only if another digit follows
  if (t.charCodeAt(k) === 0x2b) k++;
  for (; k < t.length && digits.length <= 20; k++) {
    const u = t.charCodeAt(k);
    if (isDigit(u)) {
      if (lastDigit !== k - 1) groups++;
      for (const ch of pending) if (!seps.includes(ch)) seps += ch;
      pending = "";
      digits += t[k];
      lastDigit = k;
      sepRun = 0;
    } else if (isNumSep(u)) {
      if (++sepRun > 2) break;
      if (digits.length > 0) pending += t[k];
    } else break;
  }
  if (lastDigit < 0) return null;
  const end = lastDigit + 1;
  if (end < t.length && (isAsciiAlnum(t.charCodeAt(end)) || (t.charCodeAt(end) === 0x2e && isDigit(t.charCodeAt(end + 1))))) return null;
  return { start: i, end, digits, seps, groups };
}

function looksLikeDate(t: string, r: NumRun): boolean {
  const s = t.slice(r.start, r.end);
  const L = s.length;
  // yyyy-mm-dd, yyyy/mm/dd, dd.mm.yyyy, mm/dd/yyyy, hh:mm handled by ':' not being a separator
  return (L === 10 && (s[4] === "-" || s[4] === "/" || s[4] === ".") && s[7] === s[4]) || (L === 10 && (s[2] === "/" || s[2] === "." || s[2] === "-") && s[5] === s[2]);
}

function numbers(c: Ctx, region: CountryCode): void {
  const t = c.t;
  let parses = 0;
  for (let i = 0; i < t.length; i++) {
    const u = t.charCodeAt(i);
    if (!(isDigit(u) || u === 0x2b || u === 0x28)) continue;
    const p = i > 0 ? t.charCodeAt(i - 1) : 0x20;
    if (isAsciiAlnum(p) || p === 0x2e || p === 0x2c || p === 0x5f || p === 0x2d || p === 0x2f) {
      // digits glued to a word: not a number, but two letters + two check digits may start an IBAN
      if (i >= 2 && isDigit(u) && isDigit(t.charCodeAt(i + 1))) {
        const end = ibanAt(c, i - 2);
        if (end > 0) {
          i = end - 1;
          continue;
        }
      }
      while (i + 1 < t.length && (isAsciiAlnum(t.charCodeAt(i + 1)) || t.charCodeAt(i + 1) === 0x2e)) i++;
      continue;
    }
    const r = readNumber(t, i);
    if (r === null) continue;
    i = r.end - 1;
    const nd = r.digits.length;
    const dotsOnly = r.seps === ".";
    if (dotsOnly && r.groups === 4) {
      const ip = parseIpv4(t.slice(r.start, r.end));
      const before = t.slice(Math.max(0, r.start - 10), r.start);
      // "v1.2.3.4" / "version 1.2.3.4" are versions; the regex runs on ≤ 10 chars
      if (ip && !before.includes("version") && !/v\s?$/.test(before)) add(c, "ipv4", r.start, r.end, ipv4Score(ip), "ip");
      continue;
    }
    if (nd < 7) continue;
    if (dotsOnly && r.groups > 3) continue; // version numbers, OIDs
    if (looksLikeDate(t, r)) continue;
    if (nd === 9 && ssnCandidate(c, r)) continue;
    if (nd >= 12 && nd <= 19 && cardCandidate(c, r)) continue;
    if (nd > 15) continue;
    if (parses < MAX_PHONE_PARSES) {
      parses++;
      const num = parsePhoneNumberFromString(t.slice(r.start, r.end), { defaultCountry: region, extract: false });
      if (num?.isValid()) add(c, "phone", r.start, r.end, t.charCodeAt(r.start) === 0x2b ? 0.7 : 0.6);
    } else if (t.charCodeAt(r.start) === 0x2b || r.groups >= 3) {
      add(c, "phone", r.start, r.end, 0.5);
    }
  }
}

function ssnCandidate(c: Ctx, r: NumRun): boolean {
  const s = c.t.slice(r.start, r.end);
  const grouped = s.length === 11 && (s[3] === "-" || s[3] === " ") && s[6] === s[3];
  if (!grouped && (r.groups !== 1 || !contextNear(c, "ssn", r.start, r.end))) return false;
  if (!ssnValid(r.digits)) return grouped;
  add(c, "ssn", r.start, r.end, grouped ? 0.7 : 0.6);
  return true;
}

function cardCandidate(c: Ctx, r: NumRun): boolean {
  if (r.seps !== "" && r.seps !== " " && r.seps !== "-") return false;
  if (r.start < c.t.length && c.t.charCodeAt(r.start) === 0x2b) return false;
  const d = r.digits;
  let same = true;
  for (let k = 1; k < d.length; k++) if (d[k] !== d[0]) same = false;
  if (same || !luhnValid(d, 0, d.length)) return false;
  add(c, "payment_card", r.start, r.end, knownCardIssuer(d) ? 0.85 : 0.45, "card");
  return true;
}

/** An IBAN starting at `i` (country letters), written compact or in groups: its end, or -1. */
function ibanAt(c: Ctx, i: number): number {
  const t = c.t;
  const L = t.length;
  const a = t.charCodeAt(i);
  const b = t.charCodeAt(i + 1);
  if (!(a >= 0x61 && a <= 0x7a) || !(b >= 0x61 && b <= 0x7a)) return -1;
  if (i > 0 && isAsciiAlnum(t.charCodeAt(i - 1))) return -1;
  const want = ibanLength(t.slice(i, i + 2));
  if (want === undefined) return -1;
  let compact = "";
  let k = i;
  let end = i;
  while (k < L && compact.length < want) {
    const u = t.charCodeAt(k);
    if (isAsciiAlnum(u)) {
      compact += t[k];
      end = ++k;
    } else if (u === 0x20 && k + 1 < L && isAsciiAlnum(t.charCodeAt(k + 1))) k++;
    else break;
  }
  if (compact.length !== want || (end < L && isAsciiAlnum(t.charCodeAt(end)))) return -1;
  if (!ibanChecksumValid(compact)) return -1;
  add(c, "iban", i, end, 0.9);
  return end;
}

const isV6 = (u: number): boolean => isHex(u) || u === 0x3a || u === 0x2e;

function ipv6s(c: Ctx): void {
  const t = c.t;
  for (let i = t.indexOf(":"); i !== -1; i = t.indexOf(":", i + 1)) {
    const nb = t.charCodeAt(i + 1);
    if (!(isHex(nb) || nb === 0x3a)) continue;
    let s = i;
    while (s > 0 && i - s < 45 && isV6(t.charCodeAt(s - 1))) s--;
    let e = i;
    while (e < t.length && e - s < 46 && isV6(t.charCodeAt(e))) e++;
    while (e > i && t.charCodeAt(e - 1) === 0x2e) e--;
    i = e;
    if ((s > 0 && isAsciiAlnum(t.charCodeAt(s - 1))) || (e < t.length && (isAsciiAlnum(t.charCodeAt(e)) || t.charCodeAt(e) === 0x3a))) continue;
    const cand = t.slice(s, e);
    const hex = parseIpv6(cand);
    if (hex < 0) continue;
    let colons = 0;
    for (let k = 0; k < cand.length; k++) if (cand.charCodeAt(k) === 0x3a) colons++;
    if (colons < 3 && !(cand.includes("::") && hex >= 4)) continue; // `a::b` is C++, `12:30:45` a time
    add(c, "ipv6", s, e, ipv6Score(cand), "ip");
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
  const n = normalized ?? normalize(text);
  const c: Ctx = { t: n.text, n, out: [] };
  emails(c);
  numbers(c, opts?.phoneRegion ?? "US");
  ipv6s(c);
  const min = opts?.minScore ?? 0;
  const res = resolveOverlaps(c.out);
  return min > 0 ? res.filter((f) => f.score >= min) : res;
}

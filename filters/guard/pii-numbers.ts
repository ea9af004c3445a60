/**
 * Numbers written in text — payment cards, US SSNs, IBANs, phones and IPv4 — from one pass over the
 * normalized text: a number is read with its single separators, then classified by digit count and
 * shape and validated (Luhn + issuer ranges, SSA ranges, mod-97, libphonenumber, dotted-quad parse).
 */
import type { CountryCode } from "libphonenumber-js/max";
import { checkDeadline, DEADLINE_EVERY } from "./deadline.ts";
import { add, contextNear, type Ctx } from "./pii-context.ts";
import { nationalNumber } from "./pii-national.ts";
import { phoneCandidate } from "./pii-phones.ts";
import {
  ibanChecksumCodes,
  ibanLength,
  ipv4Score,
  knownCardIssuer,
  parseIpv4,
  ssnExample,
  ssnValid,
} from "./pii-formats.ts";
import { isAsciiAlnum, isDigit, luhnValid } from "./text-util.ts";

/** Separators allowed inside a written number, as bits (a run records which ones it used). */
const SEP_SPACE = 1;
const SEP_DASH = 2;
const SEP_DOT = 4;
const SEP_OTHER = 8; // ( ) /

function sepBit(u: number): number {
  if (u === 0x20) return SEP_SPACE;
  if (u === 0x2d) return SEP_DASH;
  if (u === 0x2e) return SEP_DOT;
  return u === 0x28 || u === 0x29 || u === 0x2f ? SEP_OTHER : 0;
}

interface NumRun {
  start: number;
  end: number;
  /** Number of digits. */
  digits: number;
  /** SEP_* bits of separators between digits. */
  seps: number;
  /** Groups of consecutive digits. */
  groups: number;
}

/** Scratch run reused for every number (the scan is synchronous): no allocation per number. */
const run: NumRun = { start: 0, end: 0, digits: 0, seps: 0, groups: 0 };

/** The digits of `t[start, end)` as a string (only for candidates that need them). */
function digitsOf(t: string, start: number, end: number): string {
  let d = "";
  for (let k = start; k < end; k++) if (isDigit(t.charCodeAt(k))) d += t[k];
  return d;
}

/** Read a number written with single separators starting at `i` (a digit, `+` or `(`). */
function readNumber(t: string, i: number): NumRun | null {
  let k = i;
  let digits = 0;
  let seps = 0;
  let groups = 0;
  let lastDigit = -1;
  let sepRun = 0;
  let pending = 0; // separators since the last digit; they count only if another digit follows
  if (t.charCodeAt(k) === 0x2b) k++;
  for (; k < t.length && digits <= 20; k++) {
    const u = t.charCodeAt(k);
    if (isDigit(u)) {
      if (lastDigit < 0 || lastDigit !== k - 1) groups++;
      seps |= pending;
      pending = 0;
      digits++;
      lastDigit = k;
      sepRun = 0;
    } else {
      const bit = sepBit(u);
      if (bit === 0 || ++sepRun > 2) break;
      if (digits > 0) pending |= bit;
    }
  }
  if (lastDigit < 0) return null;
  const end = lastDigit + 1;
  const after = end < t.length ? t.charCodeAt(end) : 0x20;
  // `415-555-2671x12`: an extension glued on (pii-phones.ts reads it); any other letter glues a word
  const ext = after === 0x78 && isDigit(t.charCodeAt(end + 1));
  if ((isAsciiAlnum(after) && !ext) || (after === 0x2e && isDigit(t.charCodeAt(end + 1)))) return null;
  // an opening parenthesis closed nowhere in the number is the text's, not the number's: `(078-05-1120, …)`
  run.start = t.charCodeAt(i) === 0x28 && !t.slice(i, end).includes(")") ? i + 1 : i;
  run.end = end;
  run.digits = digits;
  run.seps = seps;
  run.groups = groups;
  return run;
}

function num2(s: string, k: number): number {
  return (s.charCodeAt(k) - 0x30) * 10 + (s.charCodeAt(k + 1) - 0x30);
}

/** A calendar date of 10 characters at `k`, not glued to a preceding digit. */
function isDateAt(s: string, k: number): boolean {
  if (k > 0 && isDigit(s.charCodeAt(k - 1))) return false;
  const d = (i: number): boolean => isDigit(s.charCodeAt(k + i));
  const sep = (i: number): boolean => "-/.".includes(s[k + i] ?? "x");
  // yyyy-mm-dd, yyyy/mm/dd, yyyy.mm.dd
  if (d(0) && d(1) && d(2) && d(3) && d(5) && d(6) && d(8) && d(9) && sep(4) && s[k + 7] === s[k + 4]) {
    const m = num2(s, k + 5);
    const day = num2(s, k + 8);
    return m >= 1 && m <= 12 && day >= 1 && day <= 31;
  }
  // dd/mm/yyyy, mm-dd-yyyy, dd.mm.yyyy
  if (d(0) && d(1) && d(3) && d(4) && d(6) && d(7) && d(8) && d(9) && sep(2) && s[k + 5] === s[k + 2]) {
    const a = num2(s, k);
    const b = num2(s, k + 3);
    return a >= 1 && b >= 1 && a <= 31 && b <= 31 && (a <= 12 || b <= 12);
  }
  return false;
}

/** A number that starts or ends with a calendar date ("2026-01-15 10:30" reads as a phone number otherwise). */
function looksLikeDate(t: string, r: NumRun): boolean {
  return r.end - r.start >= 10 && (isDateAt(t, r.start) || isDateAt(t, r.end - 10));
}

export function numbers(c: Ctx, regions: readonly CountryCode[]): void {
  const t = c.t;
  let work = 0;
  for (let i = 0; i < t.length; i++) {
    if ((++work & DEADLINE_EVERY) === 0) checkDeadline(c.deadline);
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
    const nd = r.digits;
    const dotsOnly = r.seps === SEP_DOT;
    const plus = t.charCodeAt(r.start) === 0x2b;
    if (dotsOnly && r.groups === 4 && !plus) {
      const ip = parseIpv4(t.slice(r.start, r.end));
      const before = t.slice(Math.max(0, r.start - 10), r.start);
      // "v1.2.3.4" / "version 1.2.3.4" are versions; the regex runs on ≤ 10 chars
      const score = ip === null ? 0 : ipv4Score(ip);
      // loopback, unspecified, broadcast and documentation addresses identify nobody: not findings
      if (score > 0 && !before.includes("version") && !/v\s?$/.test(before))
        add(c, "ipv4", r.start, r.end, score, "ip");
      // `4111.1111.1111.1111` is a card written with dots
      else if (ip === null && nd === 16 && r.end - r.start === 19) cardCandidate(c, r, true);
      continue;
    }
    if (nd < 7) continue;
    if (dotsOnly && r.groups > 3 && !plus) {
      // version numbers, OIDs; but `06.12.34.56.78` (pairs after a trunk 0) is how France writes phones
      if (r.groups === 5 && nd === 10 && r.end - r.start === 14 && t.charCodeAt(r.start) === 0x30)
        phoneCandidate(c, r.start, r.end, regions);
      continue;
    }
    if (looksLikeDate(t, r)) continue;
    if (nationalNumber(c, r.start, r.end, nd)) continue;
    if (nd === 9 && ssnCandidate(c, r)) continue;
    if (nd >= 12 && nd <= 19 && cardCandidate(c, r)) continue;
    if (nd > 15) continue;
    phoneCandidate(c, r.start, r.end, regions);
  }
}

function ssnCandidate(c: Ctx, r: NumRun): boolean {
  const s = c.t.slice(r.start, r.end);
  const sep = s.length === 11 && s[6] === s[3] ? s[3] : "";
  const grouped = sep === "-" || sep === " ";
  // `536.22.8193` only next to its name (dotted 3-2-4 is rarer, and reads as other numbers too)
  const named = contextNear(c, "ssn", r.start, r.end);
  if (!grouped && !((r.groups === 1 || sep === ".") && named)) return false;
  const d = digitsOf(c.t, r.start, r.end);
  if (!ssnValid(d)) {
    // a published example (078-05-1120, 123-45-6789) written as someone's SSN is redacted all the same
    if (named && (grouped || r.groups === 1) && ssnExample(d)) add(c, "ssn", r.start, r.end, 0.3);
    return grouped;
  }
  add(c, "ssn", r.start, r.end, grouped ? 0.7 : 0.6);
  return true;
}

function cardCandidate(c: Ctx, r: NumRun, dotted = false): boolean {
  if (r.seps !== 0 && r.seps !== SEP_SPACE && r.seps !== SEP_DASH && !dotted) return false;
  if (r.start < c.t.length && c.t.charCodeAt(r.start) === 0x2b) return false;
  const d = digitsOf(c.t, r.start, r.end);
  let same = true;
  for (let k = 1; k < d.length; k++) if (d[k] !== d[0]) same = false;
  if (same || !luhnValid(d, 0, d.length)) return false;
  if (dotted && !knownCardIssuer(d)) return false;
  add(c, "payment_card", r.start, r.end, knownCardIssuer(d) ? 0.85 : 0.45, "card");
  return true;
}

/** Longest IBAN (the registry's maximum is 33). */
const compact = new Uint16Array(34);

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
  // read into a scratch array, not a string: `de00 ` × N starts a candidate every five characters
  let n = 0;
  let k = i;
  let end = i;
  while (k < L && n < want) {
    const u = t.charCodeAt(k);
    if (isAsciiAlnum(u)) {
      compact[n++] = u;
      end = ++k;
    } else if (u === 0x20 && k + 1 < L && isAsciiAlnum(t.charCodeAt(k + 1))) k++;
    else break;
  }
  if (n !== want || (end < L && isAsciiAlnum(t.charCodeAt(end)))) return -1;
  if (!ibanChecksumCodes(compact, n)) return -1;
  add(c, "iban", i, end, 0.9);
  return end;
}

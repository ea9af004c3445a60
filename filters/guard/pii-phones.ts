/**
 * Phone numbers as people write them: `+44 20 7946 0958`, `(555) 123-4567`, `020 7946 0958`,
 * `06 12 34 56 78`, `+49 (0)30 1234567`, `1-800-555-0199 ext. 12`. The number pass of pii-numbers.ts
 * hands every 7–15 digit run here; the written shape decides what it takes to be a phone, and
 * libphonenumber's metadata (the `+country` code, else each default region in turn) decides how sure:
 *
 * | shape                                                           | valid | possible only | no context needed |
 * | `+` country code                                                | 0.75  | 0.55          | yes               |
 * | `00` / `011` international prefix written out (`0049 30 …`)    | 0.75  | 0.4 (0.55 `001`+NANP) | valid only |
 * | NANP `ddd-ddd-dddd` / `(ddd) ddd-dddd` / `ddd.ddd.dddd` (± `1-`) | 0.65  | 0.55          | yes               |
 * | trunk `0` in groups (`020 7946 0958`), `(area)` in parentheses  | 0.65  | 0.4           | valid only        |
 * | anything else (a bare run, `612 345 678`, `98765 43210`)        | 0.45  | 0.35 (≥2 groups, not `1 234 567`) | never |
 *
 * A context word (phone, tel, mobile, Handy, téléphone, 電話, …) adds 0.2, so every shape is a finding
 * with one, and a bare digit run without one is never even parsed: order numbers, timestamps, amounts
 * (`1 234 567`), ISBNs and year ranges are not phones. Corpora write fictional `555` numbers and
 * drama ranges that metadata calls "possible" but not "valid"; the strong shapes carry them.
 *
 * libphonenumber costs ~6 µs a parse and a national number may need one per region, so at most
 * {@link MAX_PHONE_PARSES} parses per text; past that a strong shape is scored by its shape alone.
 */
import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js/max";
import { add, contextNear, type Ctx } from "./pii-context.ts";
import { isAsciiAlnum, isAsciiAlpha, isDigit } from "./text-util.ts";

/** At most this many libphonenumber parses per text (each ~6 µs); later candidates get a shape score. */
export const MAX_PHONE_PARSES = 48;

/** Scores before the context boost (+0.2), by shape and what metadata says. */
const PLUS_VALID = 0.75;
const PLUS_POSSIBLE = 0.55;
const STRONG_VALID = 0.65;
const NANP_SHAPE = 0.55;
const STRONG_POSSIBLE = 0.4;
const WEAK_VALID = 0.45;
const WEAK_POSSIBLE = 0.35;
/** Past the parse budget: a `+` number by its shape alone. */
const PLUS_UNPARSED = 0.5;

const VALID = 2;
const POSSIBLE = 1;

/** Digit-group lengths of the candidate (≤ 8 groups are looked at), reused per call. */
const groups = new Int32Array(8);

interface Shape {
  /** Number of digit groups. */
  n: number;
  /** A `(` opens the number or a group (`(415) 555-2671`, `(02) 9876 5432`). */
  parens: boolean;
  /** Separators used between groups, as a set of characters. */
  seps: string;
}

const shape: Shape = { n: 0, parens: false, seps: "" };

function readShape(t: string, s: number, e: number): Shape {
  let n = 0;
  let inGroup = false;
  let seps = "";
  let parens = false;
  for (let k = s; k < e; k++) {
    const u = t.charCodeAt(k);
    if (isDigit(u)) {
      if (!inGroup) {
        if (n < groups.length) groups[n] = 0;
        n++;
        inGroup = true;
      }
      if (n <= groups.length) groups[n - 1]!++;
    } else {
      inGroup = false;
      if (u === 0x28) parens = true;
      else if (u !== 0x29 && u !== 0x2b && !seps.includes(t[k]!)) seps += t[k];
    }
  }
  shape.n = n;
  shape.parens = parens;
  shape.seps = seps;
  return shape;
}

/** 3-3-4, optionally after a `1` group, with one kind of separator (or `(area)` then space/dash). */
function isNanp(sh: Shape, first: number): boolean {
  const o = sh.n === 4 && groups[0] === 1 && first === 0x31 ? 1 : 0;
  if (sh.n !== 3 + o || groups[o] !== 3 || groups[o + 1] !== 3 || groups[o + 2] !== 4) return false;
  return sh.seps.length === 1 || (sh.parens && sh.seps.length <= 2 && !sh.seps.includes("."));
}

/** `1 234 567`, `12.345.678`: thousands grouping, an amount unless a context word says otherwise. */
function isThousands(sh: Shape): boolean {
  if (sh.n < 2 || sh.n > groups.length || (groups[0] ?? 0) > 3) return false;
  for (let k = 1; k < sh.n; k++) if (groups[k] !== 3) return false;
  return true;
}

/** A trunk `0` or an `(area)`, in groups of at least two digits, separated by one kind of separator. */
function isTrunkGrouped(sh: Shape, first: number): boolean {
  if (sh.n < 2 || sh.n > groups.length) return false;
  for (let k = 0; k < sh.n; k++) if ((groups[k] ?? 0) < 2) return false;
  if (sh.parens) return sh.seps.length <= 2 && !sh.seps.includes(".");
  return first === 0x30 && sh.seps.length === 1;
}

const CACHE_MAX = 512;
const cache = new Map<string, number>();

/** VALID, POSSIBLE or 0 for `candidate` in any of `regions` (or by its `+country`). */
function classify(
  c: Ctx,
  candidate: string,
  regions: readonly CountryCode[],
  plus: boolean,
  leadingZero: boolean,
): number {
  const key = plus ? candidate : `${regions.join("")}:${candidate}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let best = 0;
  if (plus) {
    c.phoneParses++;
    const p = parsePhoneNumberFromString(candidate, { extract: false });
    best = p === undefined ? 0 : p.isValid() ? VALID : p.isPossible() ? POSSIBLE : 0;
  } else {
    for (const region of regions) {
      // NANP numbers never start with 0 nationally
      if (leadingZero && (region === "US" || region === "CA")) continue;
      if (c.phoneParses >= MAX_PHONE_PARSES) return best;
      c.phoneParses++;
      const p = parsePhoneNumberFromString(candidate, { defaultCountry: region, extract: false });
      if (p === undefined) continue;
      if (p.isValid()) {
        best = VALID;
        break;
      }
      if (p.isPossible()) best = POSSIBLE;
    }
  }
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(key, best);
  return best;
}

/**
 * The digit run `t[s, e)` (7–15 digits, single separators, maybe a leading `+`): add it as a phone if its
 * shape and metadata say so. Returns whether it was added.
 */
export function phoneCandidate(c: Ctx, s: number, e: number, regions: readonly CountryCode[]): boolean {
  const t = c.t;
  const plus = t.charCodeAt(s) === 0x2b;
  let firstDigit = s;
  while (firstDigit < e && !isDigit(t.charCodeAt(firstDigit))) firstDigit++;
  const first = t.charCodeAt(firstDigit);
  const sh = readShape(t, s, e);
  const nanp = !plus && isNanp(sh, first);
  const thousands = isThousands(sh);
  const strong = plus || nanp || (!thousands && isTrunkGrouped(sh, first));
  if (!strong && (isIsbn(t, s, sh) || !contextNear(c, "phone", s, e))) return false;
  const end = extensionEnd(t, e);
  let base = 0;
  // `00 44 …` / `011 44 …` / `001-555-…`: the international call prefix spelled out, read as `+`
  const idd = plus ? -1 : iddEnd(t, firstDigit, e);
  if (idd > 0 && c.phoneParses < MAX_PHONE_PARSES) {
    // possible-only needs more than a `+` here (`0042-1234-5678` is an invoice): `001` + a NANP shape
    const k = classify(c, `+${t.slice(idd, e)}`, regions, true, false);
    const nanpAfter = sh.n === 4 && groups[0] === 3 && groups[1] === 3 && groups[2] === 3 && groups[3] === 4;
    base = k === VALID ? PLUS_VALID : k === POSSIBLE ? (nanpAfter ? NANP_SHAPE : STRONG_POSSIBLE) : 0;
  }
  if (base > 0) {
    // scored as an international number
  } else if (c.phoneParses >= MAX_PHONE_PARSES) {
    if (!plus && !nanp) return false;
    base = plus ? PLUS_UNPARSED : NANP_SHAPE;
  } else {
    const k = classify(c, t.slice(s, e), regions, plus, first === 0x30);
    if (plus) base = k === VALID ? PLUS_VALID : k === POSSIBLE ? PLUS_POSSIBLE : 0;
    else if (strong) base = k === VALID ? STRONG_VALID : nanp ? NANP_SHAPE : k === POSSIBLE ? STRONG_POSSIBLE : 0;
    // amount-like grouping (`12 345 678`) must be a valid number even next to a phone word
    else base = k === VALID ? WEAK_VALID : k === POSSIBLE && sh.n >= 2 && !thousands ? WEAK_POSSIBLE : 0;
  }
  if (base === 0) return false;
  add(c, "phone", s, end, base);
  return true;
}

/**
 * Where the number after an international call prefix starts (`00` then not `0`, or North America's
 * `011`), if at least 8 digits follow it; else -1.
 */
function iddEnd(t: string, k: number, e: number): number {
  const pos = [-1, -1, -1];
  let n = 0;
  for (let i = k; i < e && n < 3; i++) if (isDigit(t.charCodeAt(i))) pos[n++] = i;
  if (n < 3) return -1;
  const d = (j: number): number => t.charCodeAt(pos[j]!);
  let after: number;
  if (d(0) === 0x30 && d(1) === 0x30 && d(2) !== 0x30) after = pos[1]! + 1;
  else if (d(0) === 0x30 && d(1) === 0x31 && d(2) === 0x31) after = pos[2]! + 1;
  else return -1;
  let rest = 0;
  for (let i = after; i < e; i++) if (isDigit(t.charCodeAt(i))) rest++;
  return rest >= 8 ? after : -1;
}

/** `978-3-16-148410-0`: ISBN-13 grouping (a 1-digit group inside) or the word `isbn` just before. */
function isIsbn(t: string, s: number, sh: Shape): boolean {
  if (sh.n >= 4 && groups[sh.n - 1] === 1) return true;
  // a bounded window: lastIndexOf from `s` would walk back through the whole text per candidate
  return t.slice(Math.max(0, s - 8), s).includes("isbn");
}

const EXT_WORDS = ["extension", "ext.", "extn", "ext", "x", "#"] as const;

/** The end of an extension written after a phone number (` ext. 12`, `x123`, ` #4`), or `e`. */
export function extensionEnd(t: string, e: number): number {
  let k = e;
  if (t.charCodeAt(k) === 0x20 || t.charCodeAt(k) === 0x2c) k++;
  if (t.charCodeAt(k) === 0x20) k++;
  for (const w of EXT_WORDS) {
    if (!t.startsWith(w, k)) continue;
    let j = k + w.length;
    if (isAsciiAlpha(t.charCodeAt(j))) continue;
    if (t.charCodeAt(j) === 0x3a || t.charCodeAt(j) === 0x2e) j++;
    if (t.charCodeAt(j) === 0x20) j++;
    const from = j;
    while (j < t.length && j - from < 6 && isDigit(t.charCodeAt(j))) j++;
    if (j === from || (j < t.length && isAsciiAlnum(t.charCodeAt(j)))) return e;
    return j;
  }
  return e;
}

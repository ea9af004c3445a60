/**
 * National identifiers (issue #9): UK NHS/NINO, NL BSN, ES DNI/NIE, IT codice fiscale, FR NIR,
 * DE Steuer-IdNr, BR CPF/CNPJ, IN Aadhaar/PAN, CA SIN, AU TFN — each its own subtype, validated by
 * its check digit where one is defined (pii-national-checks.ts).
 *
 * All-digit identifiers ride on the number pass of pii-numbers.ts ({@link nationalNumber} sees every
 * number it reads); identifiers with letters come from one pass over token starts
 * ({@link nationalTokens}) that reads at most {@link MAX_TOKEN} characters per candidate.
 *
 * Scores: a checksum-valid number in its official layout (NHS `943 476 5919`, CPF `000.000.000-00`) is
 * a finding by itself; a checksum-valid number written compact, and every weak format (no check
 * digit, or a 9–11 digit run that ordinary numbers pass by chance: NINO, BSN, Steuer-IdNr, SIN, TFN,
 * PAN), is reported only with a context word ("BSN", "tax file number", …) near, as 0.45 + 0.2.
 */
import { checkDeadline, DEADLINE_EVERY } from "./deadline.ts";
import { add, contextNear, type Ctx } from "./pii-context.ts";
import {
  aadhaarValid,
  bsnValid,
  cnpjValid,
  codiceFiscaleValid,
  cpfValid,
  dniValid,
  nhsValid,
  ninoValid,
  nirValid,
  panValid,
  sinValid,
  steuerIdValid,
  tfnValid,
} from "./pii-national-checks.ts";
import { isAsciiAlnum, isAsciiAlpha, isDigit } from "./text-util.ts";

/** Checksum-valid and in the issuer's own layout: a finding without context. */
const OFFICIAL = 0.55;
/** Compact, or a weak format: over the threshold only with a context word (+0.2). */
const NEEDS_CONTEXT = 0.45;
/** A check letter over the whole code (1 in 23 or 26 by chance) and a layout prose never has. */
const LETTER_CHECKED = 0.6;

/** Official layouts, digits written as `d`. */
const LAYOUT: Readonly<Record<string, readonly string[]>> = {
  uk_nhs: ["ddd ddd dddd", "ddd-ddd-dddd"],
  br_cpf: ["ddd.ddd.ddd-dd"],
  br_cnpj: ["dd.ddd.ddd/dddd-dd"],
  in_aadhaar: ["dddd dddd dddd"],
  fr_nir: ["d dd dd dd ddd ddd dd"],
};

/**
 * Numbers that pass a subtype's check digit in its official layout by chance and read as something else:
 * reported only next to their name. Three years in a row ("2023 2024 2025") pass Verhoeff one time in ten.
 */
const LOOKS_LIKE_OTHER: Readonly<Record<string, (digits: string) => boolean>> = {
  in_aadhaar: allYears,
};

/** Candidates per digit count, strongest first: [subtype, validator, has a check digit worth a finding alone]. */
type Check = readonly [string, (d: string) => boolean, boolean];
const BY_LENGTH: ReadonlyMap<number, readonly Check[]> = new Map<number, readonly Check[]>([
  [8, [["au_tfn", tfnValid, false]]],
  [
    9,
    [
      ["nl_bsn", bsnValid, false],
      ["ca_sin", sinValid, false],
      ["au_tfn", tfnValid, false],
    ],
  ],
  [10, [["uk_nhs", nhsValid, true]]],
  [
    11,
    [
      ["br_cpf", cpfValid, true],
      ["de_tax_id", steuerIdValid, false],
    ],
  ],
  [12, [["in_aadhaar", aadhaarValid, true]]],
  [14, [["br_cnpj", cnpjValid, true]]],
  [15, [["fr_nir", nirValid, true]]],
]);

/** `t[s, e)` with digits written as `d` (only for numbers of a national-id length; ≤ ~40 characters). */
function layoutOf(t: string, s: number, e: number): string {
  let out = "";
  for (let k = s; k < e; k++) out += isDigit(t.charCodeAt(k)) ? "d" : t[k];
  return out;
}

/**
 * A number of `nd` digits read by the number pass at `t[s, e)`: add the national identifier it is, if
 * any. When several validate (a 9-digit run can pass the BSN, SIN and TFN checks), the one with a
 * context word wins, else the first.
 *
 * Returns true when the number is claimed: next to its identifier's own name ("Aadhaar 6608 …"), or
 * an Aadhaar in its 4-4-4 layout (the only 12-digit cards are Maestro, far rarer than Aadhaar numbers,
 * and a tenth of Aadhaar numbers pass Luhn). Otherwise phones, cards and SSNs are still tried on the
 * number, and overlap resolution keeps the higher score (a valid US phone written 3-3-4 beats an NHS
 * number without context).
 */
export function nationalNumber(c: Ctx, s: number, e: number, nd: number): boolean {
  const checks = BY_LENGTH.get(nd);
  if (checks === undefined || c.t.charCodeAt(s) === 0x2b) return false;
  let d = "";
  for (let k = s; k < e; k++) if (isDigit(c.t.charCodeAt(k))) d += c.t[k];
  let pick: Check | undefined;
  let named = false;
  for (const ch of checks) {
    if (!ch[1](d)) continue;
    if (contextNear(c, ch[0], s, e)) {
      pick = ch;
      named = true;
      break;
    }
    pick ??= ch;
  }
  if (pick === undefined) return false;
  const [subtype, , checked] = pick;
  const official =
    checked && (LAYOUT[subtype]?.includes(layoutOf(c.t, s, e)) ?? false) && !(LOOKS_LIKE_OTHER[subtype]?.(d) ?? false);
  // like an SSN without dashes: an unnamed number in no official layout is not reported at all
  if (!official && !named) return false;
  add(c, subtype, s, e, official ? OFFICIAL : NEEDS_CONTEXT);
  return named || (official && nd === 12);
}

/** Every 4-digit group of `d` reads as a year 1900–2099. */
function allYears(d: string): boolean {
  for (let k = 0; k + 4 <= d.length; k += 4) {
    const y = Number(d.slice(k, k + 4));
    if (y < 1900 || y > 2099) return false;
  }
  return true;
}

/** Longest identifier with letters (codice fiscale). */
const MAX_TOKEN = 16;
const compact = new Uint16Array(MAX_TOKEN);
/** ends[n]: offset just after the n-th compact character. */
const ends = new Int32Array(MAX_TOKEN + 1);

const SEP_NONE = 0;
const SEP_SPACE = 1;
const SEP_DASH = 2;

/** Read up to `max` alphanumerics from `i`, single separators of `seps` allowed between them: how many. */
function readCompact(t: string, i: number, max: number, seps: number): number {
  let n = 0;
  let k = i;
  while (k < t.length && n < max) {
    const u = t.charCodeAt(k);
    if (isAsciiAlnum(u)) {
      compact[n++] = u;
      ends[n] = ++k;
    } else if (
      n > 0 &&
      ((u === 0x20 && seps & SEP_SPACE) || (u === 0x2d && seps & SEP_DASH)) &&
      isAsciiAlnum(t.charCodeAt(k + 1))
    )
      k++;
    else break;
  }
  return n;
}

/** The first `n` compact characters as a string, if they end at a token boundary; else "". */
function compactAt(t: string, n: number, got: number): string {
  if (got < n) return "";
  const e = ends[n] ?? 0;
  if (e < t.length && isAsciiAlnum(t.charCodeAt(e))) return "";
  return String.fromCharCode(...compact.subarray(0, n));
}

/** One identifier with letters starting at token start `i`: its end, or -1. */
function tokenAt(c: Ctx, i: number): number {
  const t = c.t;
  let letters = 0;
  while (letters < 8 && isAsciiAlpha(t.charCodeAt(i + letters))) letters++;
  const next = t.charCodeAt(i + letters);
  if (letters === 0) {
    // ES DNI `12345678Z` / `12345678-Z`; FR NIR of a Corsican department (`2A`/`2B`)
    // cheap shape checks first: most digit tokens are ordinary numbers
    const l8 = t.charCodeAt(i + 8);
    if (digitsAt(t, i, 8) && (isAsciiAlpha(l8) || (l8 === 0x2d && isAsciiAlpha(t.charCodeAt(i + 9))))) {
      const s = compactAt(t, 9, readCompact(t, i, 9, SEP_DASH));
      if (s !== "" && dniValid(s)) return found(c, "es_dni", i, 9, LETTER_CHECKED);
    }
    // a Corsican NIR has `2a`/`2b` as its 6th–7th characters
    if (readCompact(t, i, 7, SEP_SPACE) < 7 || compact[5] !== 0x32 || (compact[6] !== 0x61 && compact[6] !== 0x62))
      return -1;
    const s = compactAt(t, 15, readCompact(t, i, 15, SEP_SPACE));
    if (s !== "" && nirValid(s)) {
      const official = (ends[15] ?? 0) - i === 21; // `1 85 05 2A 006 084 36`
      return found(c, "fr_nir", i, 15, official ? OFFICIAL : NEEDS_CONTEXT);
    }
    return -1;
  }
  if (letters === 1 && isDigit(next)) {
    const s = compactAt(t, 9, readCompact(t, i, 9, SEP_DASH));
    return s !== "" && dniValid(s) ? found(c, "es_nie", i, 9, LETTER_CHECKED) : -1;
  }
  if (letters === 2 && (isDigit(next) || (next === 0x20 && isDigit(t.charCodeAt(i + 3))))) {
    const s = compactAt(t, 9, readCompact(t, i, 9, SEP_SPACE));
    return s !== "" && ninoValid(s) ? found(c, "uk_nino", i, 9, NEEDS_CONTEXT) : -1;
  }
  if (letters === 5 && isDigit(next)) {
    const s = compactAt(t, 10, readCompact(t, i, 10, SEP_NONE));
    return s !== "" && panValid(s) ? found(c, "in_pan", i, 10, NEEDS_CONTEXT) : -1;
  }
  // six letters of name, then the year: digits, or letters in a fully "omocodic" code
  if ((letters === 6 && isDigit(next)) || letters === 8) {
    const s = compactAt(t, 16, readCompact(t, i, 16, SEP_NONE));
    return s !== "" && codiceFiscaleValid(s) ? found(c, "it_codice_fiscale", i, 16, 0.7) : -1;
  }
  return -1;
}

/** `t[i, i + n)` are all digits. */
function digitsAt(t: string, i: number, n: number): boolean {
  for (let k = i; k < i + n; k++) if (!isDigit(t.charCodeAt(k))) return false;
  return true;
}

/** Add the identifier of `n` compact characters at `s` (a weak one only when named nearby): its end. */
function found(c: Ctx, subtype: string, s: number, n: number, base: number): number {
  const e = ends[n] ?? s;
  if (base > NEEDS_CONTEXT || contextNear(c, subtype, s, e)) add(c, subtype, s, e, base);
  return e;
}

/**
 * Identifiers containing letters, from one pass over token starts. Each start reads at most
 * MAX_TOKEN characters (and only after its first letters fit a format), then the scan skips the
 * token: linear in the text.
 */
export function nationalTokens(c: Ctx): void {
  const t = c.t;
  let work = 0;
  for (let i = 0; i < t.length; i++) {
    if (!isAsciiAlnum(t.charCodeAt(i))) continue;
    if ((++work & DEADLINE_EVERY) === 0) checkDeadline(c.deadline);
    if (i === 0 || !isGlue(t.charCodeAt(i - 1))) {
      const end = tokenAt(c, i);
      if (end > 0) {
        i = end - 1;
        continue;
      }
    }
    while (i + 1 < t.length && isAsciiAlnum(t.charCodeAt(i + 1))) i++;
  }
}

/** Characters that make what follows part of a longer word, path or number (`x.y`, `a_b`, `/p`). */
function isGlue(u: number): boolean {
  return isAsciiAlnum(u) || u === 0x2e || u === 0x5f || u === 0x2f || u === 0x2d || u === 0x40;
}

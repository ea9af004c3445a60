/**
 * Check digits and format rules of national identifiers, from each issuer's published definition.
 * Inputs are already-isolated candidates: `d` is a string of ASCII digits, `s` lowercase compact
 * alphanumerics (as in the normalized text). Every function is a bounded loop over a short string.
 */

const dig = (s: string, k: number): number => s.charCodeAt(k) - 0x30;

/** All characters the same ("000000000", "1111111111"): placeholders, never issued. */
export function allSame(d: string): boolean {
  for (let k = 1; k < d.length; k++) if (d.charCodeAt(k) !== d.charCodeAt(0)) return false;
  return true;
}

/** Σ d[k]·w[k] over the first w.length digits. */
function weighted(d: string, w: readonly number[]): number {
  let sum = 0;
  for (let k = 0; k < w.length; k++) sum += dig(d, k) * (w[k] ?? 0);
  return sum;
}

/** UK NHS number: weights 10…2 over nine digits, check = 11 − (sum mod 11); 11 → 0, 10 is never issued. */
export function nhsValid(d: string): boolean {
  if (d.length !== 10 || allSame(d)) return false;
  const check = 11 - (weighted(d, [10, 9, 8, 7, 6, 5, 4, 3, 2]) % 11);
  if (check === 10) return false;
  return (check === 11 ? 0 : check) === dig(d, 9);
}

/** Letters never used in a NINO's first (D F I Q U V) or second (also O) position, and unallocated prefixes. */
const NINO_BAD_1 = "dfiquv";
const NINO_BAD_2 = "dfiquvo";
const NINO_BAD_PREFIX = new Set(["bg", "gb", "kn", "nk", "nt", "tn", "zz"]);

/** UK National Insurance number `aa999999a` (compact, lowercase): allocated prefix, suffix a–d. No check digit. */
export function ninoValid(s: string): boolean {
  if (s.length !== 9) return false;
  const a = s[0] ?? "";
  const b = s[1] ?? "";
  if (!isLower(s, 0) || !isLower(s, 1) || NINO_BAD_1.includes(a) || NINO_BAD_2.includes(b)) return false;
  if (NINO_BAD_PREFIX.has(a + b)) return false;
  for (let k = 2; k < 8; k++) if (!isDig(s, k)) return false;
  const suffix = s.charCodeAt(8);
  return suffix >= 0x61 && suffix <= 0x64;
}

/** NL BSN "11-proof": Σ d[k]·(9−k) for k < 8, minus the last digit, is a multiple of 11 (and not 0). */
export function bsnValid(d: string): boolean {
  if (d.length !== 9 || allSame(d)) return false;
  const sum = weighted(d, [9, 8, 7, 6, 5, 4, 3, 2]) - dig(d, 8);
  return sum > 0 && sum % 11 === 0;
}

/** ES DNI/NIE control letters, indexed by the number mod 23. */
const DNI_LETTERS = "trwagmyfpdxbnjzsqvhlcke";

/** ES DNI `99999999a` or NIE `x9999999a` (x/y/z stand for 0/1/2), compact lowercase. */
export function dniValid(s: string): boolean {
  if (s.length !== 9) return false;
  let n = 0;
  const first = s.charCodeAt(0);
  const nie = first >= 0x78 && first <= 0x7a; // x y z
  if (nie) n = first - 0x78;
  for (let k = nie ? 1 : 0; k < 8; k++) {
    if (!isDig(s, k)) return false;
    n = n * 10 + dig(s, k);
  }
  return !allSame(s.slice(nie ? 1 : 0, 8)) && s[8] === DNI_LETTERS[n % 23];
}

/** Codice fiscale: values of characters in odd (1st, 3rd, …) positions; digits share the values of a–j. */
const CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
const CF_MONTHS = "abcdehlmprst";
/** Letters that replace digits in "omocodia" codes (duplicates), standing for 0–9. */
const CF_OMOCODE = "lmnpqrstuv";
/** Positions that are digits in a regular code (or omocode letters). */
const CF_DIGIT_AT = [6, 7, 9, 10, 12, 13, 14];

/** IT codice fiscale (16 characters, compact lowercase): layout and the check letter from the odd/even tables. */
export function codiceFiscaleValid(s: string): boolean {
  if (s.length !== 16) return false;
  for (const k of [0, 1, 2, 3, 4, 5, 8, 11, 15]) if (!isLower(s, k)) return false;
  for (const k of CF_DIGIT_AT) if (!isDig(s, k) && !CF_OMOCODE.includes(s[k] ?? "0")) return false;
  if (!CF_MONTHS.includes(s[8] ?? "0")) return false;
  let sum = 0;
  for (let k = 0; k < 15; k++) {
    const u = s.charCodeAt(k);
    const v = u <= 0x39 ? u - 0x30 : u - 0x61;
    sum += k % 2 === 0 ? (CF_ODD[v] ?? 0) : v;
  }
  return s.charCodeAt(15) === 0x61 + (sum % 26);
}

/**
 * FR NIR (numéro de sécurité sociale), 15 characters compact: sex digit, year, month, department
 * (2a/2b for Corsica, counted as 19/18), commune, order, then key = 97 − (first 13 mod 97).
 */
export function nirValid(s: string): boolean {
  if (s.length !== 15) return false;
  const sex = s[0];
  if (sex !== "1" && sex !== "2" && sex !== "3" && sex !== "4" && sex !== "7" && sex !== "8") return false;
  let body = s.slice(0, 13);
  if (body[5] === "2" && (body[6] === "a" || body[6] === "b"))
    body = `${body.slice(0, 5)}${body[6] === "a" ? "19" : "18"}${body.slice(7)}`;
  for (let k = 0; k < 15; k++) if (!isDig(k < 13 ? body : s, k)) return false;
  const month = Number(body.slice(3, 5));
  if (month < 1 || (month > 12 && month < 20) || (month > 42 && month < 50)) return false;
  let rem = 0;
  for (let k = 0; k < 13; k++) rem = (rem * 10 + dig(body, k)) % 97;
  return 97 - rem === Number(s.slice(13, 15));
}

/**
 * DE Steuerliche Identifikationsnummer: 11 digits, no leading 0; in the first ten exactly one digit
 * occurs two or three times (never three in a row) and the rest at most once; check digit by
 * ISO 7064 MOD 11,10.
 */
export function steuerIdValid(d: string): boolean {
  if (d.length !== 11 || d[0] === "0") return false;
  const counts = new Uint8Array(10);
  for (let k = 0; k < 10; k++) {
    const v = dig(d, k);
    counts[v] = (counts[v] ?? 0) + 1;
  }
  let repeated = 0;
  for (let v = 0; v < 10; v++) {
    const n = counts[v] ?? 0;
    if (n > 3) return false;
    if (n >= 2) repeated++;
  }
  if (repeated !== 1) return false;
  for (let k = 2; k < 10; k++) if (d[k] === d[k - 1] && d[k] === d[k - 2]) return false;
  let product = 10;
  for (let k = 0; k < 10; k++) {
    let sum = (dig(d, k) + product) % 10;
    if (sum === 0) sum = 10;
    product = (sum * 2) % 11;
  }
  const check = 11 - product;
  return (check === 10 ? 0 : check) === dig(d, 10);
}

/** mod-11 check digit of Brazilian documents: r = sum mod 11, digit = r < 2 ? 0 : 11 − r. */
function brDigit(sum: number): number {
  const r = sum % 11;
  return r < 2 ? 0 : 11 - r;
}

/** BR CPF: two check digits (weights 10…2, then 11…2), all-same numbers rejected. */
export function cpfValid(d: string): boolean {
  if (d.length !== 11 || allSame(d)) return false;
  return (
    brDigit(weighted(d, [10, 9, 8, 7, 6, 5, 4, 3, 2])) === dig(d, 9) &&
    brDigit(weighted(d, [11, 10, 9, 8, 7, 6, 5, 4, 3, 2])) === dig(d, 10)
  );
}

/** BR CNPJ: two check digits (weights 5…2,9…2 then 6…2,9…2), all-same numbers rejected. */
export function cnpjValid(d: string): boolean {
  if (d.length !== 14 || allSame(d)) return false;
  return (
    brDigit(weighted(d, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])) === dig(d, 12) &&
    brDigit(weighted(d, [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])) === dig(d, 13)
  );
}

/** Verhoeff multiplication table (the dihedral group D5). */
const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
/** Verhoeff permutations: p[k] is the k-th power of p[1]. */
const VERHOEFF_P: number[][] = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
];
for (let k = 2; k < 8; k++) VERHOEFF_P.push(VERHOEFF_P[1]!.map((v) => VERHOEFF_P[k - 1]![v]!));

/** IN Aadhaar: 12 digits, first 2–9, valid under Verhoeff. */
export function aadhaarValid(d: string): boolean {
  if (d.length !== 12 || d[0] === "0" || d[0] === "1" || allSame(d)) return false;
  let c = 0;
  for (let k = 0; k < 12; k++) c = VERHOEFF_D[c]![VERHOEFF_P[k % 8]![dig(d, 11 - k)]!]!;
  return c === 0;
}

/** Holder types of an Indian PAN (its 4th letter): person, company, HUF, firm, AOP, trust, BOI, local authority, juridical person, government. */
const PAN_HOLDER = "pchfatbljg";

/** IN PAN `aaaaa9999a` (compact lowercase) with a known holder type. No check character is published. */
export function panValid(s: string): boolean {
  if (s.length !== 10) return false;
  for (const k of [0, 1, 2, 3, 4, 9]) if (!isLower(s, k)) return false;
  for (let k = 5; k < 9; k++) if (!isDig(s, k)) return false;
  return PAN_HOLDER.includes(s[3] ?? "0") && !allSame(s.slice(5, 9));
}

/** CA SIN: 9 digits, Luhn-valid, not starting with 0 or 8 (never assigned). */
export function sinValid(d: string): boolean {
  if (d.length !== 9 || d[0] === "0" || d[0] === "8" || allSame(d)) return false;
  let sum = 0;
  for (let k = 0; k < 9; k++) {
    let v = dig(d, k);
    if (k % 2 === 1) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
    sum += v;
  }
  return sum % 10 === 0;
}

/** AU TFN: weighted sum mod 11 = 0 (9 digits: 1 4 3 7 5 8 6 9 10; old 8-digit: 10 7 8 4 6 3 5 1). */
export function tfnValid(d: string): boolean {
  if ((d.length !== 9 && d.length !== 8) || allSame(d)) return false;
  const w = d.length === 9 ? [1, 4, 3, 7, 5, 8, 6, 9, 10] : [10, 7, 8, 4, 6, 3, 5, 1];
  return weighted(d, w) % 11 === 0;
}

function isDig(s: string, k: number): boolean {
  const u = s.charCodeAt(k);
  return u >= 0x30 && u <= 0x39;
}

function isLower(s: string, k: number): boolean {
  const u = s.charCodeAt(k);
  return u >= 0x61 && u <= 0x7a;
}

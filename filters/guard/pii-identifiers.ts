/**
 * Identifiers that only mean something next to their name: driver's licences, passports and dates of
 * birth. A licence number is any of ~50 state formats (`D1234567`, `S123-456-78-910-0`, `123456789`)
 * and a birth date is a date; without "driver's license" / "passport" / "DOB" before them they are
 * ordinary codes and dates, so each is read only right after its trigger phrase.
 *
 * One regex finds the trigger phrases of all three (a literal alternation: ~8 µs over 4 KB); after each
 * trigger the detector skips at most {@link MAX_FILLER} characters of punctuation and filler words
 * ("number", "no.", "is", "(CA)", "on", "le") and reads one candidate: linear, a bounded read per trigger.
 *
 * - `drivers_license`: US state formats (the AAMVA layouts: digits only, a letter + 3–14 digits, two
 *   letters + digits, `ddd ll dddd` Iowa, `dd lll ddddd` New Hampshire, `WDL…` Washington, …) score 0.7;
 *   the UK 16-character licence 0.7; any other 6–16 character code with ≥ 4 digits (other countries)
 *   0.55.
 * - `passport`: US/UK 9 digits, a letter + 7–8 digits (US, India, China) 0.7; other 6–9 character
 *   codes with ≥ 4 digits (DE `C01X00T47`, FR `12AB34567`, CA `AB123456`) 0.6.
 * - `date_of_birth`: `12/03/1985`, `1985-03-12`, `12.03.85`, `12 March 1985`, `March 12, 1985`,
 *   `12 de marzo de 1985`, `15. März 1985`, `1985年3月12日` — month names in English, German, French,
 *   Spanish, Italian, Dutch and Portuguese — a real calendar date with a year from 1900 to 2099: 0.7.
 */
import { checkDeadline, DEADLINE_EVERY } from "./deadline.ts";
import { add, type Ctx } from "./pii-context.ts";
import { isAsciiAlnum, isAsciiAlpha, isDigit } from "./text-util.ts";

/** Characters between a trigger and its value that may be skipped. */
const MAX_FILLER = 40;
/** Longest value read after a trigger (the New York 18-digit form, with separators). */
const MAX_VALUE = 24;

const DL_TRIGGERS = [
  "driver's license",
  "driver’s license",
  "drivers license",
  "driver license",
  "driver's licence",
  "driver’s licence",
  "drivers licence",
  "driving licence",
  "driving license",
  "driver's lic",
  "driver lic",
  "dl",
  "d/l",
  "license number",
  "licence number",
  "license no",
  "licence no",
  "license #",
  "lic no",
  "lic",
  "fuhrerschein",
  "fuhrerscheinnummer",
  "permis de conduire",
  "licencia de conducir",
  "licencia de manejo",
  "carnet de conducir",
  "patente di guida",
  "rijbewijs",
  "carteira de motorista",
];
const PASSPORT_TRIGGERS = [
  "passport",
  "passports",
  "reisepass",
  "reisepassnummer",
  "passnummer",
  "pass-nr",
  "passeport",
  "pasaporte",
  "passaporto",
  "paspoort",
  "passaporte",
  "護照",
  "护照",
  "パスポート",
  "여권",
];
const DOB_TRIGGERS = [
  "dob",
  "d.o.b",
  "date of birth",
  "birth date",
  "birthdate",
  "birthday",
  "born",
  "born on",
  "geboren",
  "geboren am",
  "geburtsdatum",
  "geb",
  "ne le",
  "nee le",
  "ne(e) le",
  "date de naissance",
  "fecha de nacimiento",
  "nacido el",
  "nacida el",
  "data di nascita",
  "nato il",
  "nata il",
  "geboortedatum",
  "data de nascimento",
  "nascido em",
  "nascida em",
  "生年月日",
  "出生日期",
  "생년월일",
];

type Kind = 0 | 1 | 2;
const DL: Kind = 0;
const PASSPORT: Kind = 1;
const DOB: Kind = 2;

const KIND = new Map<string, Kind>();
for (const w of DL_TRIGGERS) KIND.set(w, DL);
for (const w of PASSPORT_TRIGGERS) KIND.set(w, PASSPORT);
for (const w of DOB_TRIGGERS) KIND.set(w, DOB);

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
/** First characters of the phrases: a class lookahead before the alternation halves the regex's cost. */
const FIRSTS = [...new Set([...KIND.keys()].map((w) => w[0]!))].join("").replace(/[\]\\^-]/g, "\\$&");
/** Longest first, so "born on" wins over "born" at the same start. */
const TRIGGER = new RegExp(
  `(?=[${FIRSTS}])(?<![a-z0-9])(?:${[...KIND.keys()]
    .sort((a, b) => b.length - a.length)
    .map(esc)
    .join("|")})(?![a-z])`,
  "g",
);

/** Words that may stand between a trigger and its value. */
const FILLER = new Set(
  (
    "number numbers no nr nbr num nummer numero n is was are id of the my his her their your on at am le el il la " +
    "de du di da em des card state issued issue expires valid geboren nee ne ist est es e"
  ).split(" "),
);

/** Skip punctuation and filler words after a trigger: where the value starts, or -1. */
function valueStart(t: string, k: number): number {
  const limit = Math.min(t.length, k + MAX_FILLER);
  while (k < limit) {
    const u = t.charCodeAt(k);
    if (isDigit(u)) return k;
    if (isAsciiAlpha(u)) {
      let e = k;
      while (e < t.length && isAsciiAlpha(t.charCodeAt(e))) e++;
      // a filler word, or a 1–2 letter word (a state code, `n°`) that is not the start of the value
      if (!(FILLER.has(t.slice(k, e)) || (e - k <= 2 && !isDigit(t.charCodeAt(e))))) return k;
      k = e;
      continue;
    }
    if (u === 0x20 || u === 0x3a || u === 0x23 || u === 0x3d || u === 0x2e || u === 0x2c || u === 0x2d) k++;
    else if (u === 0x28 || u === 0x29 || u === 0x27 || u === 0x22 || u === 0xb0 || u === 0xba || u === 0x3a0) k++;
    else if (u === 0x9 || u === 0xa || u === 0xff1a) k++;
    else return -1;
  }
  return -1;
}

const compact = new Uint16Array(MAX_VALUE);
let compactLen = 0;

/** Read a code at `k`: alphanumerics with single `-` or (between digits) ` ` inside. Its end, or -1. */
function readCode(t: string, k: number): number {
  compactLen = 0;
  let e = k;
  let i = k;
  while (i < t.length && i - k < MAX_VALUE) {
    const u = t.charCodeAt(i);
    if (isAsciiAlnum(u)) {
      if (compactLen === MAX_VALUE) return -1;
      compact[compactLen++] = u;
      e = ++i;
    } else if (
      (u === 0x2d && isAsciiAlnum(t.charCodeAt(i + 1))) ||
      (u === 0x20 && isDigit(t.charCodeAt(i - 1)) && isDigit(t.charCodeAt(i + 1)))
    )
      i++;
    else break;
  }
  if (e < t.length && isAsciiAlnum(t.charCodeAt(e))) return -1;
  return compactLen > 0 ? e : -1;
}

/** The compact code as a layout: `d` per digit, `l` per letter (`d1234567` → `ldddddd d`). */
function layout(): string {
  let s = "";
  for (let k = 0; k < compactLen; k++) s += isDigit(compact[k]!) ? "d" : "l";
  return s;
}

function digitCount(): number {
  let n = 0;
  for (let k = 0; k < compactLen; k++) if (isDigit(compact[k]!)) n++;
  return n;
}

/** US state layouts (AAMVA), as regexes over the `d`/`l` layout; and the UK licence. */
const US_DL =
  /^(?:d{5,14}|d{16}|ld{3,14}|ld{18}|l{2}d{2,7}|l{2}d{6}l|l{3}d{6}|d{3}l{2}d{4}|d{2}l{3}d{5}|d{7,9}l{1,2}|ld{6}l|ldldl)$/;
const UK_DL = /^[a-z9]{5}\d{6}[a-z9]{2}\d[a-z]{2}$/;

function licence(t: string, k: number): [number, number] {
  const e = readCode(t, k);
  if (e < 0 || compactLen < 5) return [-1, 0];
  const code = String.fromCharCode(...compact.subarray(0, compactLen));
  if (UK_DL.test(code)) return [e, 0.7];
  if (code.startsWith("wdl") && compactLen === 12) return [e, 0.7]; // Washington
  const digits = digitCount();
  if (digits === 0) return [-1, 0];
  if (US_DL.test(layout())) return [e, 0.7];
  return compactLen >= 6 && compactLen <= 16 && digits >= 4 ? [e, 0.55] : [-1, 0];
}

function passport(t: string, k: number): [number, number] {
  const e = readCode(t, k);
  if (e < 0 || compactLen < 6 || compactLen > 9) return [-1, 0];
  const l = layout();
  if (l === "ddddddddd" || l === "ldddddddd" || l === "lddddddd") return [e, 0.7];
  return digitCount() >= 4 ? [e, 0.6] : [-1, 0];
}

const MONTHS: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  const names = [
    "jan january januar janvier enero gennaio januari janeiro",
    "feb february februar fevrier febrero febbraio februari fevereiro",
    "mar march marz mars marzo maart marco",
    "apr april avril abril aprile",
    "may mai mayo maggio mei maio",
    "jun june juni juin junio giugno junho",
    "jul july juli juillet julio luglio julho",
    "aug august aout agosto augustus",
    "sep sept september septembre septiembre setiembre settembre setembro",
    "oct october oktober octobre octubre ottobre outubro okt",
    "nov november novembre noviembre novembro",
    "dec december dezember decembre diciembre dicembre dezembro dez",
  ];
  names.forEach((line, i) => {
    for (const n of line.split(" ")) m.set(n, i + 1);
  });
  return m;
})();

const MONTH_ALT = [...MONTHS.keys()].sort((a, b) => b.length - a.length).join("|");
const DAY_FIRST = new RegExp(
  `(\\d{1,2})(?:st|nd|rd|th|er|º|°)?\\.?(?:\\s+of)?\\s+(?:de\\s+)?(${MONTH_ALT})\\.?,?\\s+(?:de\\s+)?(\\d{4})(?!\\d)`,
  "y",
);
const MONTH_FIRST = new RegExp(`(${MONTH_ALT})\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})(?!\\d)`, "y");
const NUMERIC = /(\d{1,4})([./-])(\d{1,2})\2(\d{2,4})(?![\d.]\d)/y;
const CJK = /(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?/y;

function realDate(y: number, m: number, d: number): boolean {
  if (y < 100) y += y > 30 ? 1900 : 2000;
  if (y < 1900 || y > 2099 || m < 1 || m > 12 || d < 1) return false;
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return d <= days[m - 1]!;
}

/** A date starting at `k`: its end, or -1. */
function dateAt(t: string, k: number): number {
  let m: RegExpExecArray | null;
  NUMERIC.lastIndex = k;
  if ((m = NUMERIC.exec(t)) !== null) {
    const a = Number(m[1]);
    const b = Number(m[3]);
    const c = Number(m[4]);
    const ok =
      m[1]!.length === 4
        ? m[4]!.length <= 2 && realDate(a, b, c)
        : m[1]!.length <= 2 && m[4]!.length !== 3 && (realDate(c, b, a) || realDate(c, a, b));
    return ok ? k + m[0].length : -1;
  }
  DAY_FIRST.lastIndex = k;
  if ((m = DAY_FIRST.exec(t)) !== null)
    return realDate(Number(m[3]), MONTHS.get(m[2]!) ?? 0, Number(m[1])) ? k + m[0].length : -1;
  MONTH_FIRST.lastIndex = k;
  if ((m = MONTH_FIRST.exec(t)) !== null)
    return realDate(Number(m[3]), MONTHS.get(m[1]!) ?? 0, Number(m[2])) ? k + m[0].length : -1;
  CJK.lastIndex = k;
  if ((m = CJK.exec(t)) !== null) return realDate(Number(m[1]), Number(m[2]), Number(m[3])) ? k + m[0].length : -1;
  return -1;
}

/** Context-triggered identifiers: every trigger phrase, then one bounded read after it. */
export function triggeredIdentifiers(c: Ctx): void {
  const t = c.t;
  let work = 0;
  TRIGGER.lastIndex = 0;
  for (let m = TRIGGER.exec(t); m !== null; m = TRIGGER.exec(t)) {
    if ((++work & DEADLINE_EVERY) === 0) checkDeadline(c.deadline);
    const kind = KIND.get(m[0]);
    const after = m.index + m[0].length;
    const k = valueStart(t, after);
    if (k < 0) continue;
    if (kind === DOB) {
      const e = dateAt(t, k);
      if (e > 0) add(c, "date_of_birth", k, e, 0.7, "-");
      continue;
    }
    const [e, score] = kind === PASSPORT ? passport(t, k) : licence(t, k);
    if (e > 0) {
      add(c, kind === PASSPORT ? "passport" : "drivers_license", k, e, score, "-");
      TRIGGER.lastIndex = Math.max(TRIGGER.lastIndex, e);
    }
  }
}

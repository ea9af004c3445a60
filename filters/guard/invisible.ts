/**
 * Invisible-text scanner: characters that render as nothing but carry meaning to a model.
 *
 * Findings (subtype, default score):
 *   tag_characters            U+E0000–E007F outside an emoji subdivision flag; `detail` = decoded ASCII
 *   variation_selector_smuggling  runs of variation selectors (bytes hidden one per selector); `detail` decoded
 *   variation_selector        a single selector after a base that does not take one (ASCII letter)
 *   bidi_override             LRO/RLO (Trojan Source reordering)
 *   bidi_control              embeddings/isolates in text without right-to-left letters
 *   zero_width                ZWSP/ZWNJ/ZWJ/WJ/BOM-in-text and other fillers, scored by run length
 *   soft_hyphen               soft hyphens packed into a word or repeated, beyond hyphenation hints
 *   bidi_mark                 LRM/RLM/ALM in text without right-to-left letters (low score)
 * Not findings: emoji ZWJ sequences, subdivision flags (🏴 + tags + cancel tag), keycaps, emoji + VS16,
 * ZWJ/ZWNJ between letters of Arabic/Indic scripts, marks in right-to-left text, a BOM at offset 0.
 */
import { checkDeadline, DEADLINE_EVERY } from "./deadline.ts";
import type { Finding, ScanOptions } from "./types.ts";
import type { NormalizedText } from "./normalize.ts";
import { isEmojiLike, isIdeograph, isJoiningScriptLetter, isRtlLetter } from "./unicode.ts";

/** Cheap prefilter: one character class (linear); nearly all text has none of these. */
const SUSPECT =
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: U+034F and surrogate halves are matched as single units on purpose
  /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\u3164\ufe00-\ufe0f\ufeff\uffa0]|\udb40[\udc00-\uddef]/;

const MAX_DETAIL = 256;
const SCATTER_BOOST_COUNT = 3;

function cpAt(s: string, i: number): number {
  return i < s.length ? (s.codePointAt(i) ?? 0) : -1;
}

function cpBefore(s: string, i: number): number {
  if (i <= 0) return -1;
  const u = s.charCodeAt(i - 1);
  if (u >= 0xdc00 && u <= 0xdfff && i >= 2) {
    const h = s.charCodeAt(i - 2);
    if (h >= 0xd800 && h <= 0xdbff) return ((h - 0xd800) << 10) + (u - 0xdc00) + 0x10000;
  }
  return u;
}

function width(cp: number): number {
  return cp > 0xffff ? 2 : 1;
}

function isTag(cp: number): boolean {
  return cp >= 0xe0000 && cp <= 0xe007f;
}
function isVs(cp: number): boolean {
  return (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef);
}
function isBidiControl(cp: number): boolean {
  return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}
function isZeroWidth(cp: number): boolean {
  return (
    (cp >= 0x200b && cp <= 0x200d) ||
    (cp >= 0x2060 && cp <= 0x2064) ||
    cp === 0xfeff ||
    cp === 0x180e ||
    cp === 0x34f ||
    cp === 0x115f ||
    cp === 0x1160 ||
    cp === 0x3164 ||
    cp === 0xffa0 ||
    cp === 0x17b4 ||
    cp === 0x17b5
  );
}
function isLetterish(cp: number): boolean {
  return (
    (cp >= 0x61 && cp <= 0x7a) ||
    (cp >= 0x41 && cp <= 0x5a) ||
    (cp >= 0xc0 && cp !== 0xd7 && cp !== 0xf7 && cp !== 0xad && !(cp >= 0x2000 && cp <= 0x2bff))
  );
}

/** The emoji base before position `i`, skipping modifiers that may sit between it and a ZWJ. */
function emojiBaseBefore(s: string, i: number): number {
  let j = i;
  for (let guard = 0; guard < 8; guard++) {
    const cp = cpBefore(s, j);
    if (cp === 0xfe0f || cp === 0xfe0e || cp === 0x20e3 || (cp >= 0x1f3fb && cp <= 0x1f3ff) || isTag(cp)) {
      j -= width(cp);
      continue;
    }
    return cp;
  }
  return -1;
}

function decodeTags(s: string, start: number, end: number): string {
  let out = "";
  for (let i = start; i < end && out.length < MAX_DETAIL; ) {
    const cp = cpAt(s, i);
    i += width(cp);
    const c = cp - 0xe0000;
    if (c >= 0x20 && c <= 0x7e) out += String.fromCharCode(c);
  }
  return out;
}

const latin1 = new TextDecoder("utf-8");

/** Scratch for {@link decodeSelectors} (scanning is synchronous). */
const selectorBytes = new Uint8Array(MAX_DETAIL * 4);

/** Variation-selector smuggling hides one byte per selector: VS1–16 = 0–15, VS17–256 = 16–255. */
function decodeSelectors(s: string, start: number, end: number): string {
  let n = 0;
  let ascii = true;
  for (let i = start; i < end && n < MAX_DETAIL * 4; ) {
    const cp = cpAt(s, i);
    i += width(cp);
    const b = cp <= 0xfe0f ? cp - 0xfe00 : cp - 0xe0100 + 16;
    selectorBytes[n++] = b;
    if (b >= 0x80) ascii = false;
  }
  let out = "";
  if (ascii) {
    // what the UTF-8 decode below gives for ASCII, without a decoder call per run of selectors
    for (let k = 0; k < n && out.length < MAX_DETAIL; k++) {
      const c = selectorBytes[k] ?? 0;
      if (c >= 0x20 && c !== 0x7f) out += String.fromCharCode(c);
    }
    return out;
  }
  for (const ch of latin1.decode(selectorBytes.subarray(0, n))) {
    const c = ch.codePointAt(0) ?? 0;
    if (c >= 0x20 && c !== 0x7f && c !== 0xfffd) out += ch;
    if (out.length >= MAX_DETAIL) break;
  }
  return out;
}

function runEnd(s: string, i: number, pred: (cp: number) => boolean): number {
  let j = i;
  for (;;) {
    const cp = cpAt(s, j);
    if (cp < 0 || !pred(cp)) return j;
    j += width(cp);
  }
}

function zeroWidthScore(n: number): number {
  return n >= 8 ? 0.95 : n >= 3 ? 0.8 : n === 2 ? 0.65 : 0.5;
}

/** Scan the ORIGINAL text for invisible characters; `normalized` is unused (kept for the scanner signature). */
export function scanInvisible(text: string, _normalized?: NormalizedText, opts?: ScanOptions): Finding[] {
  if (!SUSPECT.test(text)) return [];
  const out: Finding[] = [];
  let rtl = -1;
  const hasRtl = (): boolean => {
    if (rtl < 0) {
      rtl = 0;
      for (let k = 0; k < text.length; k++) {
        const u = text.charCodeAt(k);
        if (u >= 0x590 && isRtlLetter(cpAt(text, k))) {
          rtl = 1;
          break;
        }
      }
    }
    return rtl === 1;
  };
  const add = (subtype: string, start: number, end: number, score: number, detail?: string): void => {
    out.push(
      detail === undefined
        ? { type: "invisible_text", subtype, start, end, score }
        : { type: "invisible_text", subtype, start, end, score, detail },
    );
  };

  const len = text.length;
  const deadline = opts?.deadline;
  let zwSingles = 0;
  let work = 0;
  for (let i = 0; i < len; ) {
    if ((++work & DEADLINE_EVERY) === 0) checkDeadline(deadline);
    const u = text.charCodeAt(i);
    if (u < 0xad) {
      i++;
      continue;
    }
    const cp = cpAt(text, i);
    if (isTag(cp)) {
      const j = runEnd(text, i, isTag);
      if (!isSubdivisionFlag(text, i, j)) {
        const payload = decodeTags(text, i, j);
        add("tag_characters", i, j, payload.length > 0 ? 0.95 : 0.7, payload);
      }
      i = j;
    } else if (isVs(cp)) {
      const j = runEnd(text, i, isVs);
      const n = countCodePoints(text, i, j);
      if (n >= 2) add("variation_selector_smuggling", i, j, n >= 4 ? 0.9 : 0.7, decodeSelectors(text, i, j));
      else if (!selectorFitsBase(cpBefore(text, i), cp)) add("variation_selector", i, j, 0.45);
      i = j;
    } else if (isBidiControl(cp)) {
      const j = runEnd(text, i, isBidiControl);
      let override = false;
      for (let k = i; k < j; k++) if (text.charCodeAt(k) === 0x202d || text.charCodeAt(k) === 0x202e) override = true;
      if (override) add("bidi_override", i, j, 0.9);
      else add("bidi_control", i, j, hasRtl() ? 0.35 : 0.7);
      i = j;
    } else if (isZeroWidth(cp)) {
      const j = runEnd(text, i, isZeroWidth);
      const n = j - i;
      if (!(n === 1 && zeroWidthIsLegit(text, i, cp))) {
        add("zero_width", i, j, zeroWidthScore(n));
        if (n === 1) zwSingles++;
      }
      i = j;
    } else if (cp === 0xad) {
      i = softHyphen(text, i, add);
    } else if (cp === 0x200e || cp === 0x200f || cp === 0x61c) {
      const j = runEnd(text, i, (c) => c === 0x200e || c === 0x200f || c === 0x61c);
      if (!hasRtl()) add("bidi_mark", i, j, 0.4);
      i = j;
    } else i += width(cp);
  }
  if (zwSingles >= SCATTER_BOOST_COUNT) {
    // many single zero-width characters sprinkled through text: smuggling or filter evasion. Raised in
    // place: these objects were made above and are not shared yet (a copy each doubled the allocation
    // of text that is one zero-width character every other unit)
    for (const f of out) if (f.subtype === "zero_width" && f.score < 0.8) (f as { score: number }).score = 0.8;
  }
  const min = opts?.minScore ?? 0;
  return min > 0 ? out.filter((f) => f.score >= min) : out;
}

function countCodePoints(s: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i += width(cpAt(s, i))) n++;
  return n;
}

/** 🏴 + 2–7 tag letters/digits + CANCEL TAG: an RGI-style subdivision flag (e.g. Scotland). */
function isSubdivisionFlag(s: string, start: number, end: number): boolean {
  if (cpBefore(s, start) !== 0x1f3f4) return false;
  if (cpBefore(s, end) !== 0xe007f) return false;
  const n = (end - start) / 2 - 1;
  if (n < 2 || n > 7) return false;
  for (let i = start; i < end - 2; i += 2) {
    const c = cpAt(s, i) - 0xe0000;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a))) return false;
  }
  return true;
}

/** VS15/VS16 after emoji/symbols/keycap bases, other selectors after ideographs and symbols. */
function selectorFitsBase(base: number, vs: number): boolean {
  if (base < 0) return false;
  if (vs === 0xfe0e || vs === 0xfe0f) {
    return isEmojiLike(base) || (base >= 0x30 && base <= 0x39) || base === 0x23 || base === 0x2a || base >= 0x2000;
  }
  return isIdeograph(base) || (base >= 0x1800 && base <= 0x18af) || (base >= 0x2000 && base <= 0x2bff);
}

function zeroWidthIsLegit(s: string, i: number, cp: number): boolean {
  if (cp === 0xfeff && i === 0) return true; // byte order mark
  if (cp !== 0x200d && cp !== 0x200c) return false;
  const next = cpAt(s, i + 1);
  const prev = cpBefore(s, i);
  if (cp === 0x200d && isEmojiLike(emojiBaseBefore(s, i)) && (isEmojiLike(next) || next === 0x2640 || next === 0x2642))
    return true;
  return isJoiningScriptLetter(prev) && (isJoiningScriptLetter(next) || next === 0x20 || next < 0);
}

/**
 * Soft hyphens are hyphenation hints inside long words (Donau­dampf­schiff). Suspicious: repeated ones,
 * ones outside words, and words chopped into 1–2 letter pieces (i­g­n­o­r­e) to dodge keyword filters.
 */
function softHyphen(s: string, i: number, add: (st: string, a: number, b: number, sc: number) => void): number {
  const runStop = runEnd(s, i, (c) => c === 0xad);
  if (runStop - i >= 2) {
    add("soft_hyphen", i, runStop, 0.7);
    return runStop;
  }
  if (!isLetterish(cpBefore(s, i)) || !isLetterish(cpAt(s, i + 1))) {
    add("soft_hyphen", i, i + 1, 0.45);
    return i + 1;
  }
  // the whole word around it: letters and soft hyphens
  let ws = i;
  while (ws > 0 && (isLetterish(cpBefore(s, ws)) || s.charCodeAt(ws - 1) === 0xad)) ws -= width(cpBefore(s, ws));
  let we = i;
  let first = -1;
  let last = -1;
  let shy = 0;
  let letters = 0;
  for (;;) {
    const c = cpAt(s, we);
    if (c === 0xad) {
      if (first < 0) first = we;
      last = we;
      shy++;
    } else if (isLetterish(c)) letters++;
    else break;
    we += width(c);
  }
  for (let k = ws; k < i; k++) if (s.charCodeAt(k) !== 0xad) letters++;
  if (shy >= 3 && letters / (shy + 1) < 2.5) add("soft_hyphen", Math.min(first, i), last + 1, 0.75);
  return we;
}

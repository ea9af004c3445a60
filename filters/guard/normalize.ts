/**
 * The normalized copy every matcher runs on, with a map back to the original text.
 *
 * Per code point: NFKD compatibility decomposition (fullwidth, ligatures, math alphanumerics, circled
 * digits → ASCII), combining diacritics dropped (so `précédentes` matches `precedentes` and Zalgo text
 * collapses), NFC recomposition (kana voicing marks, Hangul), invisible format characters removed,
 * lowercased. Applying this per code point instead of NFKC on the whole string is what makes the offset
 * map exact; the only difference from whole-string NFKC is composition ACROSS code points, which does
 * not matter once diacritics are dropped.
 *
 * Confusables: Cyrillic and Greek letters that look like Latin ones are folded to Latin inside words that
 * mix scripts (`іgnоrе` with Cyrillic і/о/е) and inside words made only of lookalikes (`ѕау`). Words with
 * a Cyrillic/Greek letter that has no Latin lookalike are left alone, so real Russian or Greek text is
 * still matched by the Russian/Greek lexicon (which goes through this same function).
 *
 * Pure-ASCII input, the common case, takes a fast path: `toLowerCase()` and an identity map. Other
 * input is processed as runs of characters that normalize to their own lowercase (ASCII, most CJK,
 * Cyrillic, emoji: one `toLowerCase` slice per run, ASCII skipped with a one-class regex) and the few
 * characters between runs that fold to something else; the offset map is a list of segments, not a
 * per-unit array, so text with a few accents, quotes or emoji costs little more than ASCII.
 *
 * @example
 *   const n = normalize("Ｉgnore\u200B previous");
 *   n.text;                        // "ignore previous"
 *   toOriginal(n, 0, 6);           // [0, 6]  (the zero-width space after it is not part of the word)
 */
import { checkDeadline, DEADLINE_EVERY } from "./deadline.ts";
import { isDiacritic, isInvisible, isWordUnit } from "./unicode.ts";

export interface NormalizedText {
  /** The text the caller passed in. */
  readonly original: string;
  /** Normalized, lowercased copy. */
  readonly text: string;
  /** Segments mapping normalized offsets back to the original; `null` when offsets are identical (ASCII input). */
  readonly map: OffsetMap | null;
  /**
   * Normalized offsets of lookalike letters folded inside words that mix scripts (`іgnоrе`), ascending.
   * Mixing scripts inside a word is itself a sign of obfuscation; whole-word folds are not listed.
   */
  readonly homoglyphs?: readonly number[];
}

/**
 * The normalized text as segments, ascending by normalized start: either an ASCII run copied unit for
 * unit (`width` 0), or all the units produced by one original code point of `width` 1 or 2.
 */
export interface OffsetMap {
  readonly norm: Int32Array;
  readonly orig: Int32Array;
  readonly width: Uint8Array;
}

/** Cyrillic/Greek letters (either case) → the Latin lowercase letter they are mistaken for. */
const CONFUSABLE_PAIRS =
  // Cyrillic
  "аaАaвbВbеeЕeкkКkмmМmнhНhоoОoрpРpсcСcтtТtуyУyхxХxѕsЅsіiІiјjЈjһhҺhԁdԛqԚqԝwԜwӏlӀlёeЁeґrѵvѴvүyҮy" +
  // Greek
  "αaΑaβbΒbεeΕeζzΖzηnΗhιiΙiκkΚkμuΜmνvΝnοoΟoρpΡpτtΤtυuΥyχxΧxγyϲcϹcϳjϜfɡgı" +
  "i";
const CONFUSABLE = new Map<number, number>();
for (let i = 0; i + 1 < CONFUSABLE_PAIRS.length; i += 2) {
  CONFUSABLE.set(CONFUSABLE_PAIRS.charCodeAt(i), CONFUSABLE_PAIRS.charCodeAt(i + 1));
}

/** Letters of the scripts we fold from, for the "has a non-lookalike foreign letter" test. */
function isCyrillicOrGreek(u: number): boolean {
  return (u >= 0x370 && u <= 0x52f) || (u >= 0x1f00 && u <= 0x1fff);
}

interface Folded {
  /** Lowercased replacement; may be empty or several units. */
  readonly out: string;
  /** Latin lowercase code the (single-unit) `out` is a lookalike of, or 0. */
  readonly latin: number;
}

const FOLD_CACHE_MAX = 8192;
const foldCache = new Map<number, Folded>();

/** Typographic quotes and apostrophes → ASCII, so `don’t` and `“quoted”` match like `don't` and `"quoted"`. */
const PUNCT: ReadonlyMap<number, string> = new Map([
  [0x2018, "'"],
  [0x2019, "'"],
  [0x201b, "'"],
  [0x2032, "'"],
  [0x201c, '"'],
  [0x201d, '"'],
  [0x201e, '"'],
  [0x2033, '"'],
  [0x2010, "-"],
  [0x2011, "-"],
  [0x2012, "-"],
  [0x2013, "-"],
  [0x2014, "-"],
]);

function foldCodePoint(cp: number): Folded {
  const hit = foldCache.get(cp);
  if (hit !== undefined) return hit;
  const punct = PUNCT.get(cp);
  if (punct !== undefined) {
    const f: Folded = { out: punct, latin: 0 };
    foldCache.set(cp, f);
    return f;
  }
  const decomposed = String.fromCodePoint(cp).normalize("NFKD");
  let kept = "";
  for (let i = 0; i < decomposed.length; i++) {
    const c = decomposed.codePointAt(i) ?? 0;
    if (c > 0xffff) i++;
    if (isDiacritic(c) || isInvisible(c)) continue;
    kept += String.fromCodePoint(c);
  }
  kept = kept.normalize("NFC");
  let latin = 0;
  if (kept.length === 1) latin = CONFUSABLE.get(kept.charCodeAt(0)) ?? 0;
  const f: Folded = { out: kept.toLowerCase(), latin };
  if (foldCache.size < FOLD_CACHE_MAX) foldCache.set(cp, f);
  return f;
}

// Segment scratch buffers reused across calls (scanning is synchronous); grown on demand.
let segNorm = new Int32Array(256);
let segOrig = new Int32Array(256);
let segWidth = new Uint8Array(256);
const NON_ASCII = /[^\x00-\x7f]/; // single character class: linear, no backtracking
const NON_ASCII_G = /[^\x00-\x7f]/g;
/** ASCII runs up to this long are skipped with a loop: a regex exec per run costs more. */
const SHORT_ASCII_RUN = 24;

function growSegments(): void {
  const n = segNorm.length * 2;
  const a = new Int32Array(n);
  a.set(segNorm);
  segNorm = a;
  const b = new Int32Array(n);
  b.set(segOrig);
  segOrig = b;
  const c = new Uint8Array(n);
  c.set(segWidth);
  segWidth = c;
}

/** Per BMP unit, how normalization treats it (computed lazily). Low 3 bits: class; higher bits: flags. */
const UNKNOWN = 0;
const STABLE = 1; // normalizes to its own lowercase, one unit: part of a sliced run
const CHANGED = 2; // folds to something else (é → e, Ａ → a, ﬁ → fi, quotes)
const LOOKALIKE = 3; // Cyrillic/Greek lookalike: stable or folded depending on its word
const DROPPED = 4; // invisible or combining mark
const CLASS_MASK = 7;
const F_WORD = 8; // continues a word (dropped units do too: they are transparent)
const F_LATIN = 16; // a real Latin letter after folding
const F_FOREIGN = 32; // a Cyrillic/Greek letter with no Latin lookalike
const UNIT_INFO = new Uint8Array(0x10000);
/** For LOOKALIKE units: the Latin letter they fold to (so the hot loop needs no fold-cache lookup). */
const LATIN_OF = new Uint8Array(0x10000);

function infoOf(cp: number): number {
  const cached = cp < 0x10000 ? (UNIT_INFO[cp] ?? UNKNOWN) : UNKNOWN;
  if (cached !== UNKNOWN) return cached;
  let info: number;
  if (cp < 0x80) {
    const letter = (cp >= 0x61 && cp <= 0x7a) || (cp >= 0x41 && cp <= 0x5a);
    info = STABLE | (letter ? F_WORD | F_LATIN : cp >= 0x30 && cp <= 0x39 ? F_WORD : 0);
  } else if (isInvisible(cp) || isDiacritic(cp)) info = DROPPED | F_WORD;
  else {
    const f = foldCodePoint(cp);
    const c = f.out.charCodeAt(0);
    info = f.latin !== 0 ? LOOKALIKE : f.out === String.fromCodePoint(cp).toLowerCase() ? STABLE : CHANGED;
    if (f.latin !== 0 && cp < 0x10000) LATIN_OF[cp] = f.latin;
    if (f.out.length > 0 && isWordUnit(c)) info |= F_WORD;
    if (f.latin === 0 && c >= 0x61 && c <= 0x7a) info |= F_LATIN;
    if (f.latin === 0 && isCyrillicOrGreek(c)) info |= F_FOREIGN;
  }
  if (cp < 0x10000) UNIT_INFO[cp] = info;
  return info;
}

interface WordFold {
  /** Original offset where the word ends. */
  readonly end: number;
  /** Fold the word's lookalikes to Latin. */
  readonly fold: boolean;
  /** The word also has real Latin letters (a homoglyph attack rather than a lookalike-only word). */
  readonly mixed: boolean;
}

function cpAt(o: string, k: number): number {
  const u = o.charCodeAt(k);
  return u >= 0xd800 && u <= 0xdbff ? (o.codePointAt(k) ?? u) : u;
}

/**
 * Classify the word around original offset `i` (a lookalike letter): fold it when it mixes Latin with
 * lookalikes, or when it is made only of lookalikes (2+ letters); leave real Cyrillic/Greek words alone.
 */
function wordAround(o: string, i: number): WordFold {
  let ws = i;
  while (ws > 0) {
    const u = o.charCodeAt(ws - 1);
    const cp = u >= 0xdc00 && u <= 0xdfff && ws >= 2 ? (o.codePointAt(ws - 2) ?? u) : u;
    if ((infoOf(cp) & F_WORD) === 0) break;
    ws -= cp > 0xffff ? 2 : 1;
  }
  let flags = 0;
  let letters = 0;
  let k = ws;
  while (k < o.length) {
    const cp = cpAt(o, k);
    const info = infoOf(cp);
    if ((info & F_WORD) === 0) break;
    k += cp > 0xffff ? 2 : 1;
    flags |= info;
    if ((info & CLASS_MASK) !== DROPPED) letters++;
  }
  const latin = (flags & F_LATIN) !== 0;
  return { end: k, fold: latin || ((flags & F_FOREIGN) === 0 && letters >= 2), mixed: latin };
}

/**
 * Normalize `original` for matching; see the module comment for what is folded. `deadline` (a
 * `performance.now()` value) makes a long non-ASCII input throw `guard.scan_timeout` (see deadline.ts).
 */
export function normalize(original: string, deadline?: number): NormalizedText {
  if (!NON_ASCII.test(original)) return { original, text: original.toLowerCase(), map: null };
  const len = original.length;
  let text = "";
  let nlen = 0;
  let segs = 0;
  let word: WordFold = { end: -1, fold: false, mixed: false };
  let homoglyphs: number[] | undefined;
  const segment = (at: number, width: number): void => {
    if (segs === segNorm.length) growSegments();
    segNorm[segs] = nlen;
    segOrig[segs] = at;
    segWidth[segs++] = width;
  };
  let run = 0; // start of the pending run of units that normalize to their own lowercase
  let i = 0;
  let work = 0;
  while (i < len) {
    if ((++work & DEADLINE_EVERY) === 0) checkDeadline(deadline);
    const u = original.charCodeAt(i);
    if (u < 0x80) {
      // short ASCII runs (between the letters of a homoglyph word) by hand, long ones by one regex exec
      const stop = Math.min(len, i + SHORT_ASCII_RUN);
      do i++;
      while (i < stop && original.charCodeAt(i) < 0x80);
      if (i === stop && i < len) {
        NON_ASCII_G.lastIndex = i;
        i = NON_ASCII_G.exec(original)?.index ?? len;
      }
      continue;
    }
    const cp = u >= 0xd800 && u <= 0xdbff ? (original.codePointAt(i) ?? u) : u;
    const cls = infoOf(cp) & CLASS_MASK;
    const w = cp > 0xffff ? 2 : 1;
    if (cls === STABLE || (cls === LOOKALIKE && !(i >= word.end ? (word = wordAround(original, i)) : word).fold)) {
      i += w;
      continue;
    }
    if (i > run) {
      segment(run, 0);
      text += original.slice(run, i).toLowerCase(); // no copy when the run has no capitals
      nlen += i - run;
    }
    if (cls === LOOKALIKE) {
      segment(i, w); // lookalikes are BMP letters that fold to one unit
      text += String.fromCharCode(LATIN_OF[cp] ?? 0);
      if (word.mixed) (homoglyphs ??= []).push(nlen);
      nlen++;
    } else if (cls !== DROPPED) {
      const f = foldCodePoint(cp);
      if (f.out.length > 0) {
        segment(i, w);
        text += f.out;
        nlen += f.out.length;
      }
    }
    i += w;
    run = i;
  }
  if (len > run) {
    segment(run, 0);
    text += original.slice(run, len).toLowerCase();
  }
  const map: OffsetMap = { norm: segNorm.slice(0, segs), orig: segOrig.slice(0, segs), width: segWidth.slice(0, segs) };
  return homoglyphs === undefined ? { original, text, map } : { original, text, map, homoglyphs };
}

/** Index of the segment holding normalized offset `i` (the last segment starting at or before it). */
function segmentOf(m: OffsetMap, i: number): number {
  let lo = 0;
  let hi = m.norm.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((m.norm[mid] ?? 0) <= i) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Map a span of the normalized text back to the original: `[start, end)` in normalized units →
 * `[start, end)` in original UTF-16 offsets, covering every original character that produced it and
 * no dropped invisible characters around it.
 */
export function toOriginal(n: NormalizedText, start: number, end: number): [number, number] {
  const m = n.map;
  const len = n.text.length;
  const s0 = Math.min(Math.max(start, 0), len);
  const e0 = Math.min(Math.max(end, s0), len);
  if (m === null) return [s0, e0];
  if (s0 >= len || m.norm.length === 0) return [n.original.length, n.original.length];
  let k = segmentOf(m, s0);
  const os = m.width[k] === 0 ? (m.orig[k] ?? 0) + s0 - (m.norm[k] ?? 0) : (m.orig[k] ?? 0);
  if (e0 === s0) return [os, os];
  k = segmentOf(m, e0 - 1);
  const w = m.width[k] ?? 0;
  const oe = w === 0 ? (m.orig[k] ?? 0) + e0 - (m.norm[k] ?? 0) : (m.orig[k] ?? 0) + w;
  return [os, oe];
}

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
 * Pure-ASCII input, the common case, takes a fast path: `toLowerCase()` and an identity map.
 *
 * @example
 *   const n = normalize("Ｉgnore\u200B previous");
 *   n.text;                        // "ignore previous"
 *   toOriginal(n, 0, 6);           // [0, 6]  (the zero-width space after it is not part of the word)
 */
import { isDiacritic, isInvisible, isWordUnit } from "./unicode.ts";

export interface NormalizedText {
  /** The text the caller passed in. */
  readonly original: string;
  /** Normalized, lowercased copy. */
  readonly text: string;
  /**
   * `map[i]` is the original offset normalized unit `i` came from; `map[text.length] === original.length`.
   * `null` when the normalized text has the same offsets as the original (ASCII input).
   */
  readonly map: Int32Array | null;
  /**
   * Normalized offsets of lookalike letters folded inside words that mix scripts (`іgnоrе`), sorted.
   * Mixing scripts inside a word is itself a sign of obfuscation; whole-word folds are not listed.
   */
  readonly homoglyphs?: readonly number[];
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

// Scratch buffers reused across calls (scanning is synchronous); grown on demand.
let outBuf = new Uint16Array(4096);
let mapBuf = new Int32Array(4097);
let confPos = new Int32Array(64);
let confLatin = new Uint16Array(64);
const NON_ASCII = /[^\x00-\x7f]/; // a single character class: linear, no backtracking

/** Grow the scratch buffers to hold `need` units, keeping the first `keep`. */
function grow(need: number, keep: number): void {
  let cap = outBuf.length;
  while (cap < need + 1) cap *= 2;
  const o = new Uint16Array(cap);
  o.set(outBuf.subarray(0, keep));
  outBuf = o;
  const m = new Int32Array(cap + 1);
  m.set(mapBuf.subarray(0, keep));
  mapBuf = m;
}

function growConf(): void {
  const p = new Int32Array(confPos.length * 2);
  p.set(confPos);
  confPos = p;
  const l = new Uint16Array(confLatin.length * 2);
  l.set(confLatin);
  confLatin = l;
}

/** Normalize `original` for matching; see the module comment for what is folded. */
export function normalize(original: string): NormalizedText {
  if (!NON_ASCII.test(original)) return { original, text: original.toLowerCase(), map: null };
  const len = original.length;
  if (outBuf.length < len * 2 + 8) grow(len * 2 + 8, 0);
  // locals, not captured by closures: this loop is the hot path for non-ASCII text
  let out = outBuf;
  let map = mapBuf;
  let n = 0;
  let wordStart = -1; // confusable folding state of the current word
  let wordLatin = false;
  let wordForeign = false;
  let nConf = 0;
  let homoglyphs: number[] | undefined;
  for (let i = 0; i < len; ) {
    const from = i;
    const u = original.charCodeAt(i);
    let f: Folded | null = null;
    if (u < 0x80) i++;
    else {
      const cp = original.codePointAt(i) ?? u;
      i += cp > 0xffff ? 2 : 1;
      if (isInvisible(cp) || isDiacritic(cp)) continue;
      f = foldCodePoint(cp);
      if (n + f.out.length + (len - i) + 8 > out.length) {
        grow(n + f.out.length + (len - i) + 8, n);
        out = outBuf;
        map = mapBuf;
      }
    }
    const count = f === null ? 1 : f.out.length;
    for (let k = 0; k < count; k++) {
      const c = f === null ? (u >= 0x41 && u <= 0x5a ? u + 32 : u) : f.out.charCodeAt(k);
      const latin = f === null ? 0 : f.latin;
      if (c < 0x80 ? (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) : isWordUnit(c)) {
        if (wordStart < 0) wordStart = n;
        if (latin !== 0) {
          if (nConf === confPos.length) growConf();
          confPos[nConf] = n;
          confLatin[nConf++] = latin;
        } else if (c >= 0x61 && c <= 0x7a) wordLatin = true;
        else if (c >= 0x370 && isCyrillicOrGreek(c)) wordForeign = true;
      } else if (wordStart >= 0) {
        if (nConf > 0 && (wordLatin || (!wordForeign && n - wordStart >= 2))) homoglyphs = foldWord(out, nConf, wordLatin, homoglyphs);
        wordStart = -1;
        wordLatin = false;
        wordForeign = false;
        nConf = 0;
      }
      out[n] = c;
      map[n++] = from;
    }
  }
  if (wordStart >= 0 && nConf > 0 && (wordLatin || (!wordForeign && n - wordStart >= 2))) homoglyphs = foldWord(out, nConf, wordLatin, homoglyphs);
  map[n] = len;
  const text = Buffer.from(out.buffer, out.byteOffset, n * 2).toString("utf16le");
  const res = { original, text, map: map.slice(0, n + 1) };
  return homoglyphs === undefined ? res : { ...res, homoglyphs };
}

/** Replace the lookalikes recorded for the word just ended with their Latin letters. */
function foldWord(out: Uint16Array, nConf: number, mixed: boolean, homoglyphs: number[] | undefined): number[] | undefined {
  let h = homoglyphs;
  for (let k = 0; k < nConf; k++) {
    const p = confPos[k] ?? 0;
    out[p] = confLatin[k] ?? 0;
    if (mixed) (h ??= []).push(p);
  }
  return h;
}

/** Whether the original code unit(s) ending at `end` are dropped by normalization. */
function droppedBefore(s: string, end: number): number {
  const u = s.charCodeAt(end - 1);
  if (u >= 0xdc00 && u <= 0xdfff && end >= 2) {
    const cp = s.codePointAt(end - 2) ?? 0;
    return cp > 0xffff && (isInvisible(cp) || isDiacritic(cp)) ? 2 : 0;
  }
  return isInvisible(u) || isDiacritic(u) ? 1 : 0;
}

/**
 * Map a span of the normalized text back to the original: `[start, end)` in normalized units →
 * `[start, end)` in original UTF-16 offsets, covering every original character that produced it and
 * no dropped invisible characters after it.
 */
export function toOriginal(n: NormalizedText, start: number, end: number): [number, number] {
  const map = n.map;
  const len = n.text.length;
  const s0 = start < 0 ? 0 : start > len ? len : start;
  const e0 = end < s0 ? s0 : end > len ? len : end;
  if (map === null) return [s0, e0];
  const os = map[s0] ?? n.original.length;
  if (e0 === s0) return [os, os];
  let oe: number;
  if (e0 >= len) oe = n.original.length;
  else {
    // several normalized units can come from one original character (ﬁ → fi): end after all of them
    const last = map[e0 - 1];
    let j = e0;
    while (j < len && map[j] === last) j++;
    oe = j < len ? (map[j] ?? n.original.length) : n.original.length;
  }
  const orig = n.original;
  for (let d = droppedBefore(orig, oe); oe - d > os && d > 0; d = droppedBefore(orig, oe)) oe -= d;
  return [os, oe];
}

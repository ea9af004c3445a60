/**
 * Code point classes shared by the normalizer and the invisible-text scanner. Plain range checks:
 * they run once per non-ASCII code point on the hot path, so no tables, no regex, no allocation.
 */

/** Format/control characters that render as nothing and are dropped from the normalized copy. */
export function isInvisible(cp: number): boolean {
  if (cp < 0xad) return false;
  if (cp <= 0x2064) {
    return (
      cp === 0xad || // soft hyphen
      cp === 0x34f || // combining grapheme joiner
      cp === 0x61c || // arabic letter mark
      cp === 0x115f ||
      cp === 0x1160 || // hangul fillers
      cp === 0x17b4 ||
      cp === 0x17b5 || // khmer inherent vowels
      (cp >= 0x180b && cp <= 0x180f) || // mongolian variation selectors / vowel separator
      (cp >= 0x200b && cp <= 0x200f) || // zero-width space/non-joiner/joiner, LRM, RLM
      (cp >= 0x202a && cp <= 0x202e) || // bidi embeddings and overrides
      cp >= 0x2060 // word joiner, invisible math operators
    );
  }
  return (
    (cp >= 0x2066 && cp <= 0x206f) || // bidi isolates, deprecated format chars
    cp === 0x3164 ||
    (cp >= 0xfe00 && cp <= 0xfe0f) || // variation selectors 1-16
    cp === 0xfeff || // zero-width no-break space / BOM
    cp === 0xffa0 ||
    (cp >= 0x1bca0 && cp <= 0x1bca3) ||
    (cp >= 0x1d173 && cp <= 0x1d17a) ||
    (cp >= 0xe0000 && cp <= 0xe007f) || // tag characters
    (cp >= 0xe0100 && cp <= 0xe01ef) // variation selectors 17-256
  );
}

/** Combining diacritics (Latin/Greek/Cyrillic accents, Zalgo stacking). Dropped for matching. */
export function isDiacritic(cp: number): boolean {
  return (
    (cp >= 0x300 && cp <= 0x36f) ||
    (cp >= 0x1ab0 && cp <= 0x1aff) ||
    (cp >= 0x1dc0 && cp <= 0x1dff) ||
    (cp >= 0x20d0 && cp <= 0x20ff) ||
    (cp >= 0xfe20 && cp <= 0xfe2f)
  );
}

/** Letters of right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, NKo and their presentation forms). */
export function isRtlLetter(cp: number): boolean {
  return (
    (cp >= 0x590 && cp <= 0x8ff && cp !== 0x61c) ||
    (cp >= 0xfb1d && cp <= 0xfdff) ||
    (cp >= 0xfe70 && cp <= 0xfefe) ||
    (cp >= 0x10800 && cp <= 0x10fff) ||
    (cp >= 0x1e800 && cp <= 0x1efff)
  );
}

/** Scripts where ZWJ/ZWNJ are part of normal spelling (Arabic/Persian, Indic, Sinhala, Myanmar, Khmer...). */
export function isJoiningScriptLetter(cp: number): boolean {
  return (
    (cp >= 0x600 && cp <= 0x8ff) ||
    (cp >= 0x900 && cp <= 0xdff) ||
    (cp >= 0x1000 && cp <= 0x109f) ||
    (cp >= 0x1780 && cp <= 0x17ff) ||
    (cp >= 0xa8e0 && cp <= 0xa8ff) ||
    (cp >= 0xfb50 && cp <= 0xfdff) ||
    (cp >= 0xfe70 && cp <= 0xfefe)
  );
}

/**
 * Code points that start or continue emoji sequences: pictographs, dingbats, misc symbols, regional
 * indicators, skin-tone modifiers. Deliberately broad: it only decides whether a ZWJ or VS16 has a
 * plausible emoji neighbour, never whether something is a finding on its own.
 */
export function isEmojiLike(cp: number): boolean {
  return (
    (cp >= 0x1f000 && cp <= 0x1faff) ||
    (cp >= 0x2600 && cp <= 0x27bf) ||
    (cp >= 0x2190 && cp <= 0x21ff) ||
    (cp >= 0x2300 && cp <= 0x23ff) ||
    (cp >= 0x2b00 && cp <= 0x2bff) ||
    (cp >= 0x2900 && cp <= 0x297f) ||
    (cp >= 0x3030 && cp <= 0x303d) ||
    cp === 0x3297 ||
    cp === 0x3299 ||
    cp === 0xa9 ||
    cp === 0xae ||
    cp === 0x203c ||
    cp === 0x2049 ||
    cp === 0x2122 ||
    cp === 0x2139 ||
    (cp >= 0x25a0 && cp <= 0x25ff) ||
    cp === 0x24c2
  );
}

/** Ideographs that take standardized / ideographic variation selectors. */
export function isIdeograph(cp: number): boolean {
  return (
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x20000 && cp <= 0x3134f)
  );
}

/** Han, kana and Hangul: scripts the injection lexicon matches by substring rather than by word. */
export function isCjk(cp: number): boolean {
  return (
    (cp >= 0x3040 && cp <= 0x30ff) || // hiragana, katakana
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xac00 && cp <= 0xd7af) || // hangul syllables
    (cp >= 0x1100 && cp <= 0x11ff) ||
    (cp >= 0x3130 && cp <= 0x318f) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xff66 && cp <= 0xff9f)
  );
}

/** Rough "part of a word" test for UTF-16 units at or above U+00C0 (letters of most scripts). */
export function isWordUnit(u: number): boolean {
  if (u < 0x80) return (u >= 0x61 && u <= 0x7a) || (u >= 0x30 && u <= 0x39) || (u >= 0x41 && u <= 0x5a);
  if (u < 0xc0) return false;
  if (u === 0xd7 || u === 0xf7) return false;
  if (u >= 0x2000 && u <= 0x2bff) return false; // punctuation, symbols, arrows, math, boxes
  if (u >= 0x3000 && u <= 0x303f) return false; // CJK punctuation
  if (u >= 0xd800 && u <= 0xdfff) return false; // astral: after NFKC mostly emoji and symbols
  if (u >= 0xfe30 && u <= 0xfe4f) return false;
  if (u >= 0xff00 && u <= 0xff0f) return false;
  return true;
}

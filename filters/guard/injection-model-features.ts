/**
 * Hashed features of the learned prompt-injection tier, over the guard's normalized text. Mirrored
 * unit for unit by scripts/train-injection/features.py; filters/guard/models/test-vectors.json pins
 * both to the same indices (test/unit/guard/injection-model.test.ts).
 *
 * 1. Compact: whitespace runs become one space, ASCII digits become `0`, every other UTF-16 unit is
 *    kept; the text is framed by a space on each side. Each compact unit remembers its normalized offset.
 * 2. Character n-grams, n = 2..5, over the compact units: FNV-1a over the n units, bucket = top
 *    {@link HASH_BITS} bits of murmur3's fmix32. A feature belongs to the position where it starts.
 * 3. Words (maximal runs of {@link isWordUnit} units; the first {@link WORD_MAX} units are hashed):
 *    a unigram and a bigram with the previous word, both at the word's start.
 *
 * @example
 *   const c = compact(normalize("Ignore  ALL 42 rules").text); // " ignore all 00 rules "
 *   forEachFeature(c, 0, c.length, (pos, bucket) => { … });
 */
import { isWordUnit } from "./unicode.ts";

export const HASH_BITS = 18;
export const NGRAM_MIN = 2;
export const NGRAM_MAX = 5;
export const WORD_MAX = 24;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const WORD_SEED = 0x2f2c6c2b;
const UNIGRAM_SALT = 0x5bd1e995;
const BIGRAM_MUL = 0x9e3779b1;
const SHIFT = 32 - HASH_BITS;
const SPACE = 0x20;

/** The compact form of a normalized text: `units[0, length)` and, per unit, its normalized offset. */
export interface Compact {
  readonly units: Uint16Array;
  readonly pos: Int32Array;
  readonly length: number;
}

function isSpace(u: number): boolean {
  return (
    u <= 0x20 ||
    u === 0x85 ||
    u === 0xa0 ||
    (u >= 0x2000 && u <= 0x200a) ||
    u === 0x2028 ||
    u === 0x2029 ||
    u === 0x202f ||
    u === 0x205f ||
    u === 0x3000
  );
}

export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

let scratchUnits = new Uint16Array(4096);
let scratchPos = new Int32Array(4096);

/**
 * Compact `norm[0, end)` (see the module comment). The result views scratch buffers reused by the next
 * call (the guard scans one text at a time): copy it to keep it.
 */
export function compact(norm: string, end = norm.length): Compact {
  if (scratchUnits.length < end + 2) {
    const size = Math.max(end + 2, scratchUnits.length * 2);
    scratchUnits = new Uint16Array(size);
    scratchPos = new Int32Array(size);
  }
  const units = scratchUnits;
  const pos = scratchPos;
  let n = 0;
  units[n] = SPACE;
  pos[n++] = 0;
  let space = true;
  for (let i = 0; i < end; i++) {
    let u = norm.charCodeAt(i);
    if (isSpace(u)) {
      if (space) continue;
      u = SPACE;
      space = true;
    } else {
      if (u >= 0x30 && u <= 0x39) u = 0x30;
      space = false;
    }
    units[n] = u;
    pos[n++] = i;
  }
  if (!space) {
    units[n] = SPACE;
    pos[n++] = end;
  }
  return { units, pos, length: n };
}

/**
 * What {@link forEachFeature} visits, summed per position: `qsum[i + 1 - from]` is set to the sum of
 * the weights of the features at position i and `count[i + 1 - from]` to their number (callers turn
 * them into prefix sums). The same loop written out, as this is the hot path; the test vectors check
 * both against Python.
 */
export function accumulate(
  c: Compact,
  from: number,
  to: number,
  weights: Int8Array,
  qsum: Int32Array,
  count: Int32Array,
): void {
  const u = c.units;
  const len = c.length;
  let prevWord = 0;
  let havePrev = false;
  let inWord = from > 0 && isWordUnit(u[from - 1]!);
  for (let i = from; i < to; i++) {
    let h = FNV_OFFSET;
    const max = Math.min(NGRAM_MAX, len - i);
    let q = 0;
    let k = 0;
    for (; k < max; k++) {
      h = Math.imul(h ^ u[i + k]!, FNV_PRIME);
      if (k + 1 >= NGRAM_MIN) q += weights[fmix32(h) >>> SHIFT]!;
    }
    let n = max >= NGRAM_MIN ? max - NGRAM_MIN + 1 : 0;
    const w = isWordUnit(u[i]!);
    if (w && !inWord) {
      const hw = wordHash(u, i, len);
      q += weights[fmix32(hw ^ UNIGRAM_SALT) >>> SHIFT]!;
      n++;
      if (havePrev) {
        q += weights[fmix32(Math.imul(prevWord, BIGRAM_MUL) ^ hw) >>> SHIFT]!;
        n++;
      }
      prevWord = hw;
      havePrev = true;
    }
    inWord = w;
    qsum[i + 1 - from] = q;
    count[i + 1 - from] = n;
  }
}

/**
 * Call `visit(position, bucket)` for every feature starting in `[from, to)` of `c` (n-grams may read
 * past `to`, up to the end of `c`). Order: per position, the n-grams by length, then word features.
 * A word that starts before `from` is skipped and the first word in range has no bigram, so a region
 * is scored from its own text alone.
 */
export function forEachFeature(
  c: Compact,
  from: number,
  to: number,
  visit: (pos: number, bucket: number) => void,
): void {
  const u = c.units;
  const len = c.length;
  let prevWord = 0;
  // a word that starts before `from` belongs to its start; the first word in range has no bigram
  let havePrev = false;
  let inWord = from > 0 && isWordUnit(u[from - 1]!);
  for (let i = from; i < to; i++) {
    let h = FNV_OFFSET;
    const max = Math.min(NGRAM_MAX, len - i);
    for (let k = 0; k < max; k++) {
      h = Math.imul(h ^ u[i + k]!, FNV_PRIME);
      if (k + 1 >= NGRAM_MIN) visit(i, fmix32(h) >>> SHIFT);
    }
    const w = isWordUnit(u[i]!);
    if (w && !inWord) {
      const hw = wordHash(u, i, len);
      visit(i, fmix32(hw ^ UNIGRAM_SALT) >>> SHIFT);
      if (havePrev) visit(i, fmix32(Math.imul(prevWord, BIGRAM_MUL) ^ hw) >>> SHIFT);
      prevWord = hw;
      havePrev = true;
    }
    inWord = w;
  }
}

function wordHash(u: Uint16Array, start: number, len: number): number {
  let h = WORD_SEED;
  const end = Math.min(len, start + WORD_MAX);
  for (let k = start; k < end && isWordUnit(u[k]!); k++) h = Math.imul(h ^ u[k]!, FNV_PRIME);
  return h >>> 0;
}

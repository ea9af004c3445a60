/** Small character-level helpers shared by the scanners (all linear, allocation-free where possible). */

/** Character classes of UTF-16 units below 128, as bits of {@link ASCII_CLASS}. */
export const CH_DIGIT = 1;
export const CH_LOWER = 2;
export const CH_UPPER = 4;
export const CH_B64 = 8; // base64 / base64url alphabet without padding
export const CH_ALNUM = CH_DIGIT | CH_LOWER | CH_UPPER;
export const ASCII_CLASS = new Uint8Array(128);
for (let u = 0; u < 128; u++) {
  let c = 0;
  if (u >= 0x30 && u <= 0x39) c |= CH_DIGIT | CH_B64;
  if (u >= 0x61 && u <= 0x7a) c |= CH_LOWER | CH_B64;
  if (u >= 0x41 && u <= 0x5a) c |= CH_UPPER | CH_B64;
  if (u === 0x2b || u === 0x2f || u === 0x2d || u === 0x5f) c |= CH_B64;
  ASCII_CLASS[u] = c;
}

/** Whether unit `u` is ASCII and in any of the classes `bits`. */
export function isClass(u: number, bits: number): boolean {
  return u < 128 && ((ASCII_CLASS[u] ?? 0) & bits) !== 0;
}

export function isDigit(u: number): boolean {
  return u >= 0x30 && u <= 0x39;
}

/** Whether any of `words` occurs as a whole word in `lower[from, to)`. */
export function wordNear(lower: string, words: readonly string[], from: number, to: number): boolean {
  const a = Math.max(from, 0);
  const b = Math.min(to, lower.length);
  if (b <= a) return false;
  const win = lower.slice(a, b);
  for (const w of words) {
    for (let i = win.indexOf(w); i !== -1; i = win.indexOf(w, i + 1)) {
      const before = i > 0 ? win.charCodeAt(i - 1) : a > 0 ? lower.charCodeAt(a - 1) : 0x20;
      const at = i + w.length;
      const after = at < win.length ? win.charCodeAt(at) : b < lower.length ? lower.charCodeAt(b) : 0x20;
      if (!isAsciiAlpha(before) && !isAsciiAlpha(after)) return true;
    }
  }
  return false;
}

/** A direct window search costs about this many characters of a whole-text search besides its length. */
const WINDOW_CALL_COST = 256;

/**
 * "Does one of `words` lie wholly inside `t[from, to)`?" for many windows of one text (a context window
 * per candidate). Windows are searched directly until together they cost as much as searching the whole
 * text (each window its length plus WINDOW_CALL_COST: a slice and a call per word); then every occurrence in the whole text is indexed once (sorted by end, with the latest start
 * so far), so each further window is a binary search instead of |words| searches over it. Candidates
 * packed every few characters made the windows overlap and the work O(n · window · words); this way it
 * is at most twice a pass over the text, and texts with a few candidates never build the index.
 * With `wholeWord`, an occurrence counts only between non-letters (as in {@link wordNear}).
 */
export class WindowWords {
  readonly #t: string;
  readonly #words: readonly string[];
  readonly #wholeWord: boolean;
  /** Characters searched directly so far. */
  #searched = 0;
  #ends: Int32Array | null = null;
  /** maxStart[k]: the largest start among occurrences 0..k (by end). */
  #maxStart: Int32Array | null = null;

  constructor(t: string, words: readonly string[], wholeWord: boolean) {
    this.#t = t;
    this.#words = words;
    this.#wholeWord = wholeWord;
  }

  has(from: number, to: number): boolean {
    const a = Math.max(from, 0);
    const b = Math.min(to, this.#t.length);
    if (b <= a) return false;
    if (this.#ends === null && (this.#searched += b - a + WINDOW_CALL_COST) <= this.#t.length) {
      if (this.#wholeWord) return wordNear(this.#t, this.#words, a, b);
      const win = this.#t.slice(a, b);
      for (const w of this.#words) if (win.includes(w)) return true;
      return false;
    }
    if (this.#ends === null) this.#index();
    const ends = this.#ends!;
    let lo = 0;
    let hi = ends.length; // first occurrence ending after b
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((ends[mid] ?? 0) <= b) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && (this.#maxStart![lo - 1] ?? -1) >= a;
  }

  #index(): void {
    const t = this.#t;
    const occ: number[] = []; // start, end pairs
    for (const w of this.#words) {
      for (let i = t.indexOf(w); i !== -1; i = t.indexOf(w, i + 1)) {
        const e = i + w.length;
        if (this.#wholeWord && (isAsciiAlpha(t.charCodeAt(i - 1)) || isAsciiAlpha(t.charCodeAt(e)))) continue;
        occ.push(i, e);
      }
    }
    const order = Array.from({ length: occ.length / 2 }, (_, k) => k).sort(
      (x, y) => (occ[2 * x + 1] ?? 0) - (occ[2 * y + 1] ?? 0),
    );
    const ends = new Int32Array(order.length);
    const maxStart = new Int32Array(order.length);
    let best = -1;
    for (let k = 0; k < order.length; k++) {
      const o = order[k] ?? 0;
      ends[k] = occ[2 * o + 1] ?? 0;
      best = Math.max(best, occ[2 * o] ?? 0);
      maxStart[k] = best;
    }
    this.#ends = ends;
    this.#maxStart = maxStart;
  }
}

export function isAsciiAlpha(u: number): boolean {
  return (u >= 0x61 && u <= 0x7a) || (u >= 0x41 && u <= 0x5a);
}

export function isAsciiAlnum(u: number): boolean {
  return u < 128 && ((ASCII_CLASS[u] ?? 0) & CH_ALNUM) !== 0;
}

export function isHex(u: number): boolean {
  return isDigit(u) || (u >= 0x61 && u <= 0x66) || (u >= 0x41 && u <= 0x46);
}

export function isSpace(u: number): boolean {
  return (
    u === 0x20 ||
    (u >= 0x09 && u <= 0x0d) ||
    u === 0xa0 ||
    u === 0x3000 ||
    (u >= 0x2000 && u <= 0x200a) ||
    u === 0x2028 ||
    u === 0x2029
  );
}

/** Base64 / base64url alphabet without padding. */
export function isBase64Char(u: number): boolean {
  return u < 128 && ((ASCII_CLASS[u] ?? 0) & CH_B64) !== 0;
}

/** Index of the first unit at or after `from` for which `pred` fails (or `limit`). */
export function spanWhile(s: string, from: number, limit: number, pred: (u: number) => boolean): number {
  const end = Math.min(limit, s.length);
  let i = from;
  while (i < end && pred(s.charCodeAt(i))) i++;
  return i;
}

/**
 * An ASCII character class as a lookup table, for {@link spanTable}: detectors read tokens with a dozen
 * different predicates, and one `spanWhile` shared by all of them calls its predicate for every unit
 * (a megamorphic call), where a table lookup is a load.
 */
export function classTable(pred: (u: number) => boolean): Uint8Array {
  const t = new Uint8Array(128);
  for (let u = 0; u < 128; u++) t[u] = pred(u) ? 1 : 0;
  return t;
}

/** {@link spanWhile} for an ASCII class built by {@link classTable} (non-ASCII units never match). */
export function spanTable(s: string, from: number, limit: number, table: Uint8Array): number {
  const end = Math.min(limit, s.length);
  let i = from;
  while (i < end) {
    const u = s.charCodeAt(i);
    if (u >= 128 || table[u] === 0) break;
    i++;
  }
  return i;
}

const counts = new Int32Array(128);
/** Which buckets of {@link counts} are non-zero, as four 32-bit words (so only those are visited and reset). */
const present = new Int32Array(4);

/**
 * Shannon entropy in bits per character of `s[start, end)`, over ASCII (non-ASCII counted as one bucket).
 * Random base62 tokens score ~5.5+, hex ~3.7+, English words and placeholders well below 3.
 * Buckets are summed in ascending order (the result is the same double whatever the token), but only
 * the buckets the token uses are visited: the cost is the token's length, not 128 per call.
 */
export function entropy(s: string, start: number, end: number): number {
  const n = end - start;
  if (n <= 0) return 0;
  for (let i = start; i < end; i++) {
    const u = s.charCodeAt(i);
    const k = u < 128 ? u : 0;
    const c = counts[k] ?? 0;
    counts[k] = c + 1;
    if (c === 0) present[k >> 5] = (present[k >> 5] ?? 0) | (1 << (k & 31));
  }
  let h = 0;
  for (let w = 0; w < 4; w++) {
    let bits = present[w] ?? 0;
    present[w] = 0;
    while (bits !== 0) {
      const low = bits & -bits;
      const k = (w << 5) | (31 - Math.clz32(low));
      bits ^= low;
      const p = (counts[k] ?? 0) / n;
      counts[k] = 0;
      h -= p * Math.log2(p);
    }
  }
  return h;
}

/** Luhn check over the digits of `s[start, end)` (non-digits skipped). */
export function luhnValid(s: string, start: number, end: number): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = end - 1; i >= start; i--) {
    const u = s.charCodeAt(i);
    if (!isDigit(u)) continue;
    let d = u - 0x30;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/**
 * Whether `s[start, end)` looks like a placeholder rather than a real value: one repeated character,
 * long runs of x / * / 0, or words such as "example", "your", "placeholder", "dummy", "redacted"
 * (ASCII case-insensitive, read in place: no copy per candidate).
 */
export function looksPlaceholder(s: string, start: number, end: number): boolean {
  const n = end - start;
  if (n <= 0) return true;
  const first = s.charCodeAt(start);
  let same = true;
  let run = 1;
  let maxRun = 1;
  for (let i = start + 1; i < end; i++) {
    const u = s.charCodeAt(i);
    if (u !== first) same = false;
    if (u === s.charCodeAt(i - 1)) {
      run++;
      if (run > maxRun) maxRun = run;
    } else run = 1;
  }
  if (same || maxRun >= 6) return true;
  for (let i = start; i < end; i++) {
    const c = lowerAscii(s.charCodeAt(i));
    if (c >= 128 || PLACEHOLDER_FIRST[c] === 0) continue;
    for (const w of PLACEHOLDER_BY_FIRST[c] ?? []) if (i + w.length <= end && startsWithFolded(s, i, w)) return true;
  }
  return false;
}

/** ASCII letters lowercased; every other unit as is (the words are ASCII; no other unit lowercases into a, c, d, …). */
function lowerAscii(u: number): number {
  return u >= 0x41 && u <= 0x5a ? u | 0x20 : u;
}

function startsWithFolded(s: string, at: number, lower: string): boolean {
  for (let k = 1; k < lower.length; k++) if (lowerAscii(s.charCodeAt(at + k)) !== lower.charCodeAt(k)) return false;
  return true;
}

const PLACEHOLDER_WORDS = [
  "example",
  "your",
  "placeholder",
  "dummy",
  "redacted",
  "sample",
  "changeme",
  "xxxx",
  "<",
  "${",
  "{{",
  "1234567890",
  "abcdef0123",
  "abcdefgh",
];
/** The words above by their first unit (all are ASCII), and which units start one. */
const PLACEHOLDER_BY_FIRST: (string[] | undefined)[] = new Array<string[] | undefined>(128).fill(undefined);
const PLACEHOLDER_FIRST = new Uint8Array(128);
for (const w of PLACEHOLDER_WORDS) {
  (PLACEHOLDER_BY_FIRST[w.charCodeAt(0)] ??= []).push(w);
  PLACEHOLDER_FIRST[w.charCodeAt(0)] = 1;
}

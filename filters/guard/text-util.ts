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

const counts = new Int32Array(128);

/**
 * Shannon entropy in bits per character of `s[start, end)`, over ASCII (non-ASCII counted as one bucket).
 * Random base62 tokens score ~5.5+, hex ~3.7+, English words and placeholders well below 3.
 */
export function entropy(s: string, start: number, end: number): number {
  const n = end - start;
  if (n <= 0) return 0;
  counts.fill(0);
  for (let i = start; i < end; i++) {
    const u = s.charCodeAt(i);
    counts[u < 128 ? u : 0]!++;
  }
  let h = 0;
  for (let k = 0; k < 128; k++) {
    const c = counts[k] ?? 0;
    if (c === 0) continue;
    const p = c / n;
    h -= p * Math.log2(p);
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
 * long runs of x / * / 0, or words such as "example", "your", "placeholder", "dummy", "redacted".
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
  const sub = s.slice(start, end).toLowerCase(); // only for candidates, never the whole text
  for (const w of PLACEHOLDER_WORDS) if (sub.includes(w)) return true;
  return false;
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

/**
 * Format checks used by the secrets scanner that need decoding (kept apart so the scanner stays flat).
 *
 * The JWT header check runs at every `eyJ` token start, so it must stay cheap on hostile input: the
 * segment is decoded into a reused byte buffer (no Buffer, no string) and read by a small validating
 * JSON reader that never throws. `JSON.parse` throwing costs microseconds per call (an Error with a
 * stack), which made text like `eyJhbGciOi.` × N cost ~50× prose per byte.
 */

const MAX_HEADER = 2048;
const bytes = new Uint8Array((MAX_HEADER / 4) * 3 + 3);

/** base64url alphabet → 6-bit value (−1 outside it). */
const B64URL = new Int8Array(128).fill(-1);
for (let k = 0; k < 64; k++)
  B64URL["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".charCodeAt(k)] = k;

/**
 * Decode base64url `s[start, end)` into {@link bytes} exactly as `Buffer.from(…, "base64url")` does for
 * unpadded input (a trailing single character is dropped, spare bits ignored). −1 on a character
 * outside the alphabet.
 */
function decodeInto(s: string, start: number, end: number): number {
  let n = 0;
  let acc = 0;
  let bits = 0;
  for (let i = start; i < end; i++) {
    const u = s.charCodeAt(i);
    const v = u < 128 ? (B64URL[u] ?? -1) : -1;
    if (v < 0) return -1;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[n++] = (acc >> bits) & 0xff;
    }
  }
  return n;
}

/**
 * Whether base64url `s[start, end)` (by default the whole string) decodes to a JSON object whose
 * top-level `alg` is a string — what `JSON.parse` of the UTF-8 decoding would say, without throwing.
 */
export function jwtHeaderHasAlg(s: string, start = 0, end = s.length): boolean {
  if (end - start > MAX_HEADER || end - start < 14) return false; // `{"alg":""}` is 10 bytes, 14 chars
  len = decodeInto(s, start, end);
  if (len < 10 || bytes[0] !== 0x7b) return false;
  pos = 0;
  algIsString = false;
  if (!object(true)) return false;
  ws();
  return pos === len && algIsString;
}

// Reader state (scanning is synchronous). Bytes ≥ 0x80 are valid only inside strings, exactly as their
// UTF-8 decoding would be (a bad sequence becomes U+FFFD and never swallows the ASCII byte after it).
let pos = 0;
let len = 0;
let algIsString = false;

function ws(): void {
  while (pos < len) {
    const b = bytes[pos];
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) pos++;
    else return;
  }
}

function isHexByte(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46));
}

/** A string starting at `pos` (a quote); `pos` ends after the closing quote. */
function string(): boolean {
  pos++;
  while (pos < len) {
    const b = bytes[pos++]!;
    if (b === 0x22) return true;
    if (b < 0x20) return false;
    if (b !== 0x5c) continue;
    const e = bytes[pos++];
    if (e === 0x75) {
      if (
        !(isHexByte(bytes[pos]) && isHexByte(bytes[pos + 1]) && isHexByte(bytes[pos + 2]) && isHexByte(bytes[pos + 3]))
      )
        return false;
      pos += 4;
    } else if (
      !(e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74)
    )
      return false;
  }
  return false;
}

function hexValue(b: number): number {
  return b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x61 + 10;
}

/** Whether the string token `bytes[start, end)` (quotes included) is the key `alg` once unescaped. */
function isAlgKey(start: number, end: number): boolean {
  let k = start + 1;
  const want = [0x61, 0x6c, 0x67];
  for (let w = 0; w < 3; w++) {
    if (k >= end - 1) return false;
    let u = bytes[k]!;
    if (u === 0x5c) {
      const e = bytes[k + 1]!;
      if (e === 0x75) {
        u = (hexValue(bytes[k + 2]!) << 12) | (hexValue(bytes[k + 3]!) << 8) | (hexValue(bytes[k + 4]!) << 4);
        u |= hexValue(bytes[k + 5]!);
        k += 6;
      } else return false; // \" \\ \/ \b … never spell a, l or g
    } else k++;
    if (u !== want[w]) return false;
  }
  return k === end - 1;
}

function number(): boolean {
  if (bytes[pos] === 0x2d) pos++;
  const d0 = bytes[pos];
  if (d0 === 0x30) pos++;
  else if (d0 !== undefined && d0 >= 0x31 && d0 <= 0x39) digits();
  else return false;
  if (bytes[pos] === 0x2e) {
    pos++;
    if (!digits()) return false;
  }
  const e = bytes[pos];
  if (e === 0x65 || e === 0x45) {
    pos++;
    if (bytes[pos] === 0x2b || bytes[pos] === 0x2d) pos++;
    if (!digits()) return false;
  }
  return true;
}

function digits(): boolean {
  const from = pos;
  while (pos < len && bytes[pos]! >= 0x30 && bytes[pos]! <= 0x39) pos++;
  return pos > from;
}

function literal(word: string): boolean {
  for (let k = 0; k < word.length; k++) if (bytes[pos + k] !== word.charCodeAt(k) || pos + k >= len) return false;
  pos += word.length;
  return true;
}

/** Nesting is bounded by the header size (MAX_HEADER), so the recursion is too. */
function value(): boolean {
  ws();
  if (pos >= len) return false;
  const b = bytes[pos];
  if (b === 0x7b) return object(false);
  if (b === 0x5b) return array();
  if (b === 0x22) return string();
  if (b === 0x74) return literal("true");
  if (b === 0x66) return literal("false");
  if (b === 0x6e) return literal("null");
  return number();
}

function array(): boolean {
  pos++;
  ws();
  if (bytes[pos] === 0x5d && pos < len) {
    pos++;
    return true;
  }
  for (;;) {
    if (!value()) return false;
    ws();
    if (pos >= len) return false;
    const b = bytes[pos++];
    if (b === 0x5d) return true;
    if (b !== 0x2c) return false;
  }
}

/** An object at `pos`; at the top level, records whether the last `alg` key holds a string. */
function object(top: boolean): boolean {
  pos++;
  ws();
  if (bytes[pos] === 0x7d && pos < len) {
    pos++;
    return true;
  }
  for (;;) {
    ws();
    if (pos >= len || bytes[pos] !== 0x22) return false;
    const keyStart = pos;
    if (!string()) return false;
    const alg = top && pos - keyStart <= 20 && isAlgKey(keyStart, pos);
    ws();
    if (pos >= len || bytes[pos++] !== 0x3a) return false;
    ws();
    if (alg) algIsString = bytes[pos] === 0x22 && pos < len;
    if (!value()) return false;
    ws();
    if (pos >= len) return false;
    const b = bytes[pos++];
    if (b === 0x7d) return true;
    if (b !== 0x2c) return false;
  }
}

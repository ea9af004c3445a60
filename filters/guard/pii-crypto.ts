/**
 * Checksums of cryptocurrency addresses, for the wallet detector (pii-wallets.ts): Base58Check
 * (Bitcoin/Litecoin P2PKH and P2SH: double SHA-256), bech32/bech32m (BIP-173/BIP-350 segwit), EIP-55
 * mixed-case (Keccak-256 of the lowercase hex), Monero (its block base58 and a Keccak-256 checksum).
 * Node's crypto has SHA3-256 but not the original Keccak padding Ethereum and Monero use, so Keccak-256
 * is written here (32-bit lane halves; ~5 µs per short input). Every input is an isolated candidate of
 * at most ~100 characters.
 */
import { createHash } from "node:crypto";

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const B58_INDEX = new Int8Array(128).fill(-1);
for (let k = 0; k < B58.length; k++) B58_INDEX[B58.charCodeAt(k)] = k;

export function isBase58(u: number): boolean {
  return u < 128 && (B58_INDEX[u] ?? -1) >= 0;
}

/** Base58 (Bitcoin alphabet) to bytes, leading `1`s as zero bytes; null on a character outside it. */
export function base58Decode(s: string): Uint8Array | null {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    let carry = u < 128 ? (B58_INDEX[u] ?? -1) : -1;
    if (carry < 0) return null;
    for (let k = 0; k < bytes.length; k++) {
      carry += bytes[k]! * 58;
      bytes[k] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  for (let i = 0; i < s.length && s[i] === "1"; i++) bytes.push(0);
  return Uint8Array.from(bytes.reverse());
}

function sha256(b: Uint8Array): Buffer {
  return createHash("sha256").update(b).digest();
}

/** The version byte of a valid 25-byte Base58Check address (payload + 4 checksum bytes), or -1. */
export function base58CheckVersion(s: string): number {
  const b = base58Decode(s);
  if (b === null || b.length !== 25) return -1;
  const sum = sha256(sha256(b.subarray(0, 21)));
  for (let k = 0; k < 4; k++) if (sum[k] !== b[21 + k]) return -1;
  return b[0]!;
}

const BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32_INDEX = new Int8Array(128).fill(-1);
for (let k = 0; k < BECH32.length; k++) BECH32_INDEX[BECH32.charCodeAt(k)] = k;
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymodStep(chk: number, v: number): number {
  const top = chk >>> 25;
  let c = ((chk & 0x1ffffff) << 5) ^ v;
  for (let k = 0; k < 5; k++) if ((top >>> k) & 1) c ^= GEN[k]!;
  return c >>> 0;
}

/**
 * A lowercase segwit address `hrp1…` with a valid checksum for its witness version (bech32 for v0,
 * bech32m for v1+) and a program length that version allows.
 */
export function segwitValid(s: string, hrp: string): boolean {
  if (!s.startsWith(`${hrp}1`) || s.length > 90) return false;
  const data = s.slice(hrp.length + 1);
  if (data.length < 7) return false;
  let chk = 1;
  for (let k = 0; k < hrp.length; k++) chk = polymodStep(chk, hrp.charCodeAt(k) >> 5);
  chk = polymodStep(chk, 0);
  for (let k = 0; k < hrp.length; k++) chk = polymodStep(chk, hrp.charCodeAt(k) & 31);
  const values: number[] = [];
  for (let k = 0; k < data.length; k++) {
    const u = data.charCodeAt(k);
    const v = u < 128 ? (BECH32_INDEX[u] ?? -1) : -1;
    if (v < 0) return false;
    values.push(v);
    chk = polymodStep(chk, v);
  }
  const version = values[0]!;
  if (version > 16 || chk !== (version === 0 ? 1 : 0x2bc830a3)) return false;
  // the program: 5-bit groups after the version, without the 6 checksum characters
  const bits = (values.length - 7) * 5;
  const len = Math.floor(bits / 8);
  if (bits - len * 8 > 4) return false;
  if (version === 0) return len === 20 || len === 32;
  return len >= 2 && len <= 40;
}

// --- Keccak-256 (original padding), lanes as [hi, lo] 32-bit halves ---

const RC_HI = Uint32Array.from([
  0, 0, 0x80000000, 0x80000000, 0, 0, 0x80000000, 0x80000000, 0, 0, 0, 0, 0, 0x80000000, 0x80000000, 0x80000000,
  0x80000000, 0x80000000, 0, 0x80000000, 0x80000000, 0x80000000, 0, 0x80000000,
]);
const RC_LO = Uint32Array.from([
  0x00000001, 0x00008082, 0x0000808a, 0x80008000, 0x0000808b, 0x80000001, 0x80008081, 0x00008009, 0x0000008a,
  0x00000088, 0x80008009, 0x8000000a, 0x8000808b, 0x0000008b, 0x00008089, 0x00008003, 0x00008002, 0x00000080,
  0x0000800a, 0x8000000a, 0x80008081, 0x00008080, 0x80000001, 0x80008008,
]);
/** Rotation per lane x + 5y. */
const ROT = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14];

const sHi = new Uint32Array(25);
const sLo = new Uint32Array(25);
const bHi = new Uint32Array(25);
const bLo = new Uint32Array(25);
const cHi = new Uint32Array(5);
const cLo = new Uint32Array(5);

function keccakF(): void {
  for (let round = 0; round < 24; round++) {
    for (let x = 0; x < 5; x++) {
      cHi[x] = sHi[x]! ^ sHi[x + 5]! ^ sHi[x + 10]! ^ sHi[x + 15]! ^ sHi[x + 20]!;
      cLo[x] = sLo[x]! ^ sLo[x + 5]! ^ sLo[x + 10]! ^ sLo[x + 15]! ^ sLo[x + 20]!;
    }
    for (let x = 0; x < 5; x++) {
      const h1 = cHi[(x + 1) % 5]!;
      const l1 = cLo[(x + 1) % 5]!;
      const dHi = cHi[(x + 4) % 5]! ^ ((h1 << 1) | (l1 >>> 31));
      const dLo = cLo[(x + 4) % 5]! ^ ((l1 << 1) | (h1 >>> 31));
      for (let y = 0; y < 25; y += 5) {
        sHi[x + y]! ^= dHi;
        sLo[x + y]! ^= dLo;
      }
    }
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) {
        const i = x + 5 * y;
        const j = y + 5 * ((2 * x + 3 * y) % 5);
        const r = ROT[i]!;
        const h = sHi[i]!;
        const l = sLo[i]!;
        if (r === 0) {
          bHi[j] = h;
          bLo[j] = l;
        } else if (r < 32) {
          bHi[j] = (h << r) | (l >>> (32 - r));
          bLo[j] = (l << r) | (h >>> (32 - r));
        } else if (r === 32) {
          bHi[j] = l;
          bLo[j] = h;
        } else {
          const m = r - 32;
          bHi[j] = (l << m) | (h >>> (32 - m));
          bLo[j] = (h << m) | (l >>> (32 - m));
        }
      }
    }
    for (let y = 0; y < 25; y += 5) {
      for (let x = 0; x < 5; x++) {
        sHi[x + y] = bHi[x + y]! ^ (~bHi[((x + 1) % 5) + y]! & bHi[((x + 2) % 5) + y]!);
        sLo[x + y] = bLo[x + y]! ^ (~bLo[((x + 1) % 5) + y]! & bLo[((x + 2) % 5) + y]!);
      }
    }
    sHi[0]! ^= RC_HI[round]!;
    sLo[0]! ^= RC_LO[round]!;
  }
}

const RATE = 136;

/** Keccak-256 of `msg` (`pad` 0x01: Keccak as Ethereum and Monero use it; 0x06 would be SHA3-256). */
export function keccak256(msg: Uint8Array, pad = 0x01): Uint8Array {
  sHi.fill(0);
  sLo.fill(0);
  const block = new Uint8Array(RATE);
  let off = 0;
  for (;;) {
    const n = Math.min(RATE, msg.length - off);
    block.fill(0);
    block.set(msg.subarray(off, off + n));
    const last = n < RATE;
    if (last) {
      block[n]! |= pad;
      block[RATE - 1]! |= 0x80;
    }
    for (let k = 0; k < RATE / 8; k++) {
      const p = k * 8;
      sLo[k]! ^= (block[p]! | (block[p + 1]! << 8) | (block[p + 2]! << 16) | (block[p + 3]! << 24)) >>> 0;
      sHi[k]! ^= (block[p + 4]! | (block[p + 5]! << 8) | (block[p + 6]! << 16) | (block[p + 7]! << 24)) >>> 0;
    }
    keccakF();
    off += n;
    if (last) break;
  }
  const out = new Uint8Array(32);
  for (let k = 0; k < 4; k++) {
    const lo = sLo[k]!;
    const hi = sHi[k]!;
    for (let b = 0; b < 4; b++) {
      out[k * 8 + b] = (lo >>> (8 * b)) & 0xff;
      out[k * 8 + 4 + b] = (hi >>> (8 * b)) & 0xff;
    }
  }
  return out;
}

/** EIP-55: each hex letter of the 40-digit address is uppercase iff its nibble of keccak(lowercase) is ≥ 8. */
export function eip55Valid(hex40: string): boolean {
  const lower = hex40.toLowerCase();
  const h = keccak256(Buffer.from(lower, "latin1"));
  for (let k = 0; k < 40; k++) {
    const u = hex40.charCodeAt(k);
    if (u < 0x41) continue; // a digit
    const nibble = (h[k >> 1]! >> (k & 1 ? 0 : 4)) & 0xf;
    if (nibble >= 8 !== u <= 0x46) return false;
  }
  return true;
}

/** Monero base58: 8-byte blocks as 11 characters; a shorter last block's length by its byte count. */
const XMR_BLOCK_CHARS = [0, 2, 3, 5, 6, 7, 9, 10, 11];

function xmrDecode(s: string): Uint8Array | null {
  const full = Math.floor(s.length / 11);
  const rest = s.length - full * 11;
  const restBytes = XMR_BLOCK_CHARS.indexOf(rest);
  if (restBytes < 0) return null;
  const out = new Uint8Array(full * 8 + restBytes);
  for (let b = 0; b <= full; b++) {
    const chunk = s.slice(b * 11, b === full ? s.length : b * 11 + 11);
    if (chunk.length === 0) break;
    const size = b === full ? restBytes : 8;
    let v = 0n;
    for (let i = 0; i < chunk.length; i++) {
      const u = chunk.charCodeAt(i);
      const d = u < 128 ? (B58_INDEX[u] ?? -1) : -1;
      if (d < 0) return null;
      v = v * 58n + BigInt(d);
    }
    if (v >> BigInt(size * 8) !== 0n) return null;
    for (let k = size - 1; k >= 0; k--) {
      out[b * 8 + k] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  return out;
}

/** A 95-character Monero standard address (network byte 18) or subaddress (42) with a valid checksum. */
export function moneroValid(s: string): boolean {
  if (s.length !== 95) return false;
  const b = xmrDecode(s);
  if (b === null || b.length !== 69 || (b[0] !== 18 && b[0] !== 42)) return false;
  const h = keccak256(b.subarray(0, 65));
  for (let k = 0; k < 4; k++) if (h[k] !== b[65 + k]) return false;
  return true;
}

/**
 * Checksums that providers embed in their tokens, each as documented by the provider:
 * - GitHub (2021 token format) and npm (same design): the last 6 characters are the CRC32 of the 30
 *   random characters, in base62 (`0-9A-Za-z`), left-padded with `0`.
 * - GitLab routable tokens: the last 7 characters are the CRC32 of everything before them (prefix,
 *   base64 payload, `.`, the 2-character payload length), in base36, left-padded with `0`.
 * - Grafana service-account tokens `glsa_<32>_<8 hex>`: the CRC32 (IEEE) of `glsa_<32>`, its four
 *   bytes little-endian, in hex.
 * - age secret keys: Bech32 (BIP 173) with the human-readable part `age-secret-key-`.
 * Tokens are ASCII, so CRC32 over the UTF-16 units equals CRC32 over their UTF-8 bytes.
 */
import { crc32 } from "node:zlib";
import type { Checksum } from "./rule.ts";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz";

function encode(n: number, alphabet: string, width: number): string {
  let s = "";
  let v = n;
  while (v > 0) {
    s = alphabet[v % alphabet.length] + s;
    v = Math.floor(v / alphabet.length);
  }
  return s.padStart(width, "0");
}

/**
 * GitHub / npm: 30 random characters after the prefix (`prefixLength` long), then the CRC32 of those 30
 * in 6 base62 characters. Tokens of another length are another format (no checksum to check).
 */
export function crc32Base62(prefixLength: number): Checksum {
  return {
    name: "CRC32 of the random part, base62 (last 6)",
    verify: (t, s, e) =>
      e - s !== prefixLength + 36
        ? null
        : t.slice(e - 6, e) === encode(crc32(t.slice(s + prefixLength, e - 6)), BASE62, 6),
    make: (unsigned) => encode(crc32(unsigned.slice(prefixLength)), BASE62, 6),
  };
}

/** Whether `t[s, e)` holds a `.` (read in place: never past the token). */
function hasDot(t: string, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (t.charCodeAt(i) === 0x2e) return true;
  return false;
}

/** GitLab routable tokens: CRC32 of everything before the last 7 characters, base36. */
export const GITLAB_ROUTABLE: Checksum = {
  name: "CRC32 of the token, base36 (last 7)",
  verify: (t, s, e) => (!hasDot(t, s, e) ? null : t.slice(e - 7, e) === encode(crc32(t.slice(s, e - 7)), BASE36, 7)),
  make: (unsigned) => encode(crc32(unsigned), BASE36, 7),
};

function crcLittleEndianHex(s: string): string {
  const c = crc32(s);
  let out = "";
  for (let k = 0; k < 4; k++) out += ((c >>> (8 * k)) & 0xff).toString(16).padStart(2, "0");
  return out;
}

/** Grafana `glsa_<secret>_<crc>`: CRC32 of `glsa_<secret>`, little-endian bytes in hex. */
export const GRAFANA_SA: Checksum = {
  name: "CRC32 of the token, little-endian hex (last 8)",
  verify: (t, s, e) => e - s > 9 && t.slice(e - 8, e) === crcLittleEndianHex(t.slice(s, e - 9)),
  make: (unsigned) => crcLittleEndianHex(unsigned.replace(/_$/, "")),
};

const BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32_GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= BECH32_GEN[i]!;
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) >> 5);
  out.push(0);
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) & 31);
  return out;
}

/** Bech32 over a whole `hrp1data` string (case-insensitive, as BIP 173 allows one case throughout). */
export function bech32Valid(s: string): boolean {
  const low = s.toLowerCase();
  const sep = low.lastIndexOf("1");
  if (sep < 1 || low.length - sep - 1 < 6) return false;
  const data: number[] = [];
  for (let i = sep + 1; i < low.length; i++) {
    const v = BECH32.indexOf(low[i]!);
    if (v < 0) return false;
    data.push(v);
  }
  return polymod([...hrpExpand(low.slice(0, sep)), ...data]) === 1;
}

/** The 6 Bech32 checksum characters for `hrp1data` (uppercase when the input is). */
function bech32Checksum(unsigned: string): string {
  const low = unsigned.toLowerCase();
  const sep = low.lastIndexOf("1");
  const data = [...low.slice(sep + 1)].map((c) => BECH32.indexOf(c));
  const pm = polymod([...hrpExpand(low.slice(0, sep)), ...data, 0, 0, 0, 0, 0, 0]) ^ 1;
  let out = "";
  for (let i = 0; i < 6; i++) out += BECH32[(pm >>> (5 * (5 - i))) & 31];
  return unsigned === low ? out : out.toUpperCase();
}

export const AGE_BECH32: Checksum = {
  name: "Bech32 (hrp age-secret-key-)",
  verify: (t, s, e) => bech32Valid(t.slice(s, e)),
  make: bech32Checksum,
};

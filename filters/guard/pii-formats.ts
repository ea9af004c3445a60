/**
 * Validators behind the PII scanner: IBAN (length table + ISO 7064 mod-97), payment-card IIN ranges,
 * US SSN ranges, IPv4/IPv6 parsing. Inputs are already-isolated candidates (lowercase, as in the
 * normalized text), so every function here is a bounded loop over a short string.
 */
import { isDigit, isHex } from "./text-util.ts";

/** IBAN length per country (SWIFT IBAN registry). */
const IBAN_LENGTH: ReadonlyMap<string, number> = new Map(
  (
    "ad24 ae23 al28 at20 az28 ba20 be16 bg22 bh22 bi27 br29 by28 ch21 cr22 cy28 cz24 de22 dj27 dk18 do28 " +
    "ee20 eg29 es24 fi18 fk18 fo18 fr27 gb22 ge22 gi23 gl18 gr27 gt28 hr21 hu28 ie22 il23 iq23 is26 it27 " +
    "jo30 kw30 kz20 lb28 lc32 li21 lt20 lu20 lv21 ly25 mc27 md24 me22 mk19 mn20 mr27 mt31 mu30 ni28 nl18 " +
    "no15 om23 pk24 pl28 ps29 pt25 qa29 ro24 rs22 ru33 sa24 sc31 sd18 se24 si19 sk24 sm27 so23 st25 sv28 " +
    "tl23 tn24 tr26 ua29 va22 vg24 xk20 ye30"
  )
    .split(" ")
    .map((e) => [e.slice(0, 2), Number(e.slice(2))] as const),
);

export function ibanLength(country: string): number | undefined {
  return IBAN_LENGTH.get(country);
}

/** ISO 7064 mod-97-10 over a compact lowercase IBAN (letters a–z count 10–35). */
export function ibanChecksumValid(iban: string): boolean {
  const n = iban.length;
  const codes = new Uint16Array(n);
  for (let k = 0; k < n; k++) codes[k] = iban.charCodeAt(k);
  return ibanChecksumCodes(codes, n);
}

/** {@link ibanChecksumValid} over the first `n` units in `codes` (the scanner reads candidates into a scratch array). */
export function ibanChecksumCodes(codes: Uint16Array, n: number): boolean {
  let rem = 0;
  for (let k = 0; k < n; k++) {
    const u = codes[(k + 4) % n] ?? 0;
    if (isDigit(u)) rem = (rem * 10 + (u - 0x30)) % 97;
    else if (u >= 0x61 && u <= 0x7a) rem = (rem * 100 + (u - 0x61 + 10)) % 97;
    else return false;
  }
  return rem === 1;
}

/** Whether a card number (digits only) starts with a known issuer range valid for its length. */
export function knownCardIssuer(d: string): boolean {
  const L = d.length;
  const p2 = Number(d.slice(0, 2));
  const p3 = Number(d.slice(0, 3));
  const p4 = Number(d.slice(0, 4));
  const p6 = Number(d.slice(0, 6));
  if (d[0] === "4") return L === 13 || L === 16 || L === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return L === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return L === 15; // American Express
  if (p4 >= 2200 && p4 <= 2204) return L >= 16 && L <= 19; // Mir
  if (p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65 || (p6 >= 622126 && p6 <= 622925)) return L >= 16 && L <= 19; // Discover
  if (p4 >= 3528 && p4 <= 3589) return L >= 16 && L <= 19; // JCB
  if ((p3 >= 300 && p3 <= 305) || p4 === 3095 || p2 === 36 || p2 === 38 || p2 === 39) return L >= 14 && L <= 19; // Diners
  if (p2 === 62) return L >= 16 && L <= 19; // UnionPay
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return L >= 12 && L <= 19; // Maestro
  return false;
}

/** Numbers published as examples (and never issued), or built from sequential/repeated digits. */
const SSN_EXAMPLES = new Set(["078051120", "219099999", "123456789", "987654320", "012345678"]);

/** A published example SSN (Woolworth's 078-05-1120, 123-45-6789, …): never issued, but written as one. */
export function ssnExample(d: string): boolean {
  return SSN_EXAMPLES.has(d);
}

/** US SSN validity from its 9 digits: area not 000/666/9xx, group not 00, serial not 0000, no examples. */
export function ssnValid(d: string): boolean {
  if (d.length !== 9) return false;
  const area = Number(d.slice(0, 3));
  if (area === 0 || area === 666 || area >= 900) return false;
  if (d.slice(3, 5) === "00" || d.slice(5) === "0000") return false;
  if (SSN_EXAMPLES.has(d)) return false;
  let same = true;
  for (let k = 1; k < 9; k++) if (d[k] !== d[0]) same = false;
  return !same;
}

/** Parse dotted-quad IPv4 (no leading zeros, each part ≤ 255). Returns the four parts or null. */
export function parseIpv4(s: string): [number, number, number, number] | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (p.length === 0 || p.length > 3 || (p.length > 1 && p[0] === "0")) return null;
    for (let k = 0; k < p.length; k++) if (!isDigit(p.charCodeAt(k))) return null;
    const v = Number(p);
    if (v > 255) return null;
    out.push(v);
  }
  return out as [number, number, number, number];
}

/**
 * Sensitivity of an IPv4 address: 0 (not personal: loopback, unspecified, broadcast, documentation
 * ranges) < private < public.
 */
export function ipv4Score(a: readonly number[]): number {
  const [x = 0, y = 0, z = 0] = a;
  if (x === 127 || x === 0 || x === 255) return 0;
  if ((x === 192 && y === 0 && z === 2) || (x === 198 && y === 51 && z === 100) || (x === 203 && y === 0 && z === 113))
    return 0;
  if (
    x === 10 ||
    (x === 172 && y >= 16 && y <= 31) ||
    (x === 192 && y === 168) ||
    (x === 169 && y === 254) ||
    (x === 100 && y >= 64 && y <= 127)
  )
    return 0.45;
  return 0.65;
}

/**
 * Parse an IPv6 address (RFC 4291 text forms: 8 groups, one `::`, optional trailing IPv4).
 * Returns the number of hex digits seen, or -1 if it does not parse.
 */
export function parseIpv6(s: string): number {
  if (s.length < 2 || s.length > 45) return -1;
  const dbl = s.indexOf("::");
  if (dbl !== -1 && s.indexOf("::", dbl + 1) !== -1) return -1;
  const halves = dbl === -1 ? [s] : [s.slice(0, dbl), s.slice(dbl + 2)];
  let groups = 0;
  let hexDigits = 0;
  for (let h = 0; h < halves.length; h++) {
    const half = halves[h] ?? "";
    if (half === "") continue;
    const parts = half.split(":");
    for (let k = 0; k < parts.length; k++) {
      const p = parts[k] ?? "";
      const last = h === halves.length - 1 && k === parts.length - 1;
      if (last && p.includes(".")) {
        if (!parseIpv4(p)) return -1;
        groups += 2;
        continue;
      }
      if (p.length === 0 || p.length > 4) return -1;
      for (let c = 0; c < p.length; c++) if (!isHex(p.charCodeAt(c))) return -1;
      hexDigits += p.length;
      groups++;
    }
  }
  if (dbl === -1 ? groups !== 8 : groups > 7) return -1;
  return hexDigits;
}

/** 0 for loopback, unspecified and documentation ranges; link-local and unique-local rate below global. */
export function ipv6Score(s: string): number {
  if (s === "::1" || s === "::" || s.startsWith("2001:db8:")) return 0;
  if (s.startsWith("fe80:") || s.startsWith("fc") || s.startsWith("fd")) return 0.3;
  return 0.6;
}

/**
 * Cryptocurrency wallet addresses and MAC addresses.
 *
 * Wallets (subtype `crypto_wallet`), validated by their own checksums (pii-crypto.ts) on the ORIGINAL
 * text, since Base58 and EIP-55 are case-sensitive: Bitcoin/Litecoin Base58Check P2PKH/P2SH (`1…`,
 * `3…`, `L…`, `M…`), bech32/bech32m segwit (`bc1…`, `ltc1…`), Ethereum `0x` + 40 hex (EIP-55 when mixed
 * case; all-lower/all-upper carries no checksum and scores lower), Monero (`4…`/`8…`, 95 characters).
 * A wallet-shaped token whose checksum fails is reported only with a context word ("wallet", "BTC", …).
 * Solana keys have no checksum (any 32–44 Base58 token) and are not detected.
 *
 * MAC addresses (`mac_address`): `00:1a:2b:3c:4d:5e`, `00-1A-2B-3C-4D-5E`, `001a.2b3c.4d5e`, found from
 * the separators with fixed-offset checks (O(1) per `:`/`-`/`.`). All-zero and broadcast addresses
 * identify no device and are not findings; six decimal pairs (`10:20:30:40:50:60`) need a context word.
 */
import { checkDeadline, DEADLINE_EVERY } from "./deadline.ts";
import { add, addOriginal, type Ctx } from "./pii-context.ts";
import { base58CheckVersion, eip55Valid, moneroValid, segwitValid } from "./pii-crypto.ts";
import { isAsciiAlnum, isDigit, isHex } from "./text-util.ts";

/** Checksum computations per text (SHA-256 ×2 or Keccak, a few µs each); later candidates score by shape. */
export const MAX_WALLET_CHECKS = 32;

const CHECKED = 0.85;
/** EIP-55 says nothing about single-case hex. */
const ETH_SINGLE_CASE = 0.55;
/** Wallet-shaped, checksum failed or not computed: a finding only with a context word. */
const SHAPE_ONLY = 0.35;

/**
 * Token starts of every wallet form; the length bounds keep each attempt short, the look-arounds make
 * only whole tokens candidates (so a start inside a longer token never matches).
 */
const WALLET =
  /(?<![A-Za-z0-9])(?:[13LM][1-9A-HJ-NP-Za-km-z]{25,34}|(?:bc|BC|ltc|LTC)1[02-9ac-hj-np-zAC-HJ-NP-Z]{11,87}|0x[0-9a-fA-F]{40}|[48][1-9A-HJ-NP-Za-km-z]{94})(?![A-Za-z0-9])/g;

export function wallets(c: Ctx): void {
  const o = c.n.original;
  const budget = { left: MAX_WALLET_CHECKS };
  let work = 0;
  WALLET.lastIndex = 0;
  for (let m = WALLET.exec(o); m !== null; m = WALLET.exec(o)) {
    if ((++work & DEADLINE_EVERY) === 0) checkDeadline(c.deadline);
    const s = m.index;
    const w = m[0];
    const e = s + w.length;
    const a = w.charCodeAt(0);
    let score = SHAPE_ONLY;
    if (a === 0x30) {
      const hex = w.slice(2);
      const lower = hex.toLowerCase();
      const upper = hex.toUpperCase();
      if (hex === lower || hex === upper) score = ETH_SINGLE_CASE;
      else if (check(budget, () => eip55Valid(hex))) score = CHECKED;
    } else if (a === 0x62 || a === 0x42 || a === 0x6c || a === 0x4c) {
      if (a === 0x4c && w.charCodeAt(1) !== 0x54 && w.length <= 35) {
        // `L…` Base58 Litecoin, not `LTC1…`
        if (check(budget, () => litecoin(base58CheckVersion(w)))) score = CHECKED;
      } else {
        const lw = w.toLowerCase();
        if (lw !== w && w.toUpperCase() !== w) continue; // bech32 is never mixed case
        if (check(budget, () => segwitValid(lw, lw.charCodeAt(0) === 0x62 ? "bc" : "ltc"))) score = CHECKED;
      }
    } else if (w.length === 95) {
      if (check(budget, () => moneroValid(w))) score = CHECKED;
    } else if (w.length <= 35) {
      let v = -1;
      check(budget, () => (v = base58CheckVersion(w)) >= 0);
      if ((a === 0x31 && v === 0) || (a === 0x33 && v === 5) || (a === 0x4d && litecoin(v))) score = CHECKED;
    }
    // a shape-only token must at least mix digits and letters (a run of one kind is an id or a word)
    if (score === SHAPE_ONLY && !mixed(w)) continue;
    addOriginal(c, "crypto_wallet", s, e, score);
  }
}

/** Run a checksum test while the text's budget lasts (false once it is spent). */
function check(budget: { left: number }, test: () => boolean): boolean {
  if (budget.left <= 0) return false;
  budget.left--;
  return test();
}

function litecoin(version: number): boolean {
  return version === 0x30 || version === 0x32 || version === 0x05;
}

function mixed(w: string): boolean {
  let digits = 0;
  for (let k = 0; k < w.length; k++) if (isDigit(w.charCodeAt(k))) digits++;
  return digits >= 3 && digits < w.length - 3;
}

// --- MAC addresses ---

const MAC_PLAIN = 0.6;
const MAC_DOTTED = 0.55;
const MAC_DECIMAL = 0.45;

function hexAt(t: string, k: number, n: number): boolean {
  for (let j = k; j < k + n; j++) if (!isHex(t.charCodeAt(j))) return false;
  return true;
}

/** Characters that make a MAC-shaped run part of something longer (an IPv6 address, a hash, a path). */
function glues(u: number): boolean {
  return isAsciiAlnum(u) || u === 0x3a || u === 0x2d || u === 0x2e || u === 0x5f;
}

/** `hh?hh?hh?hh?hh?hh` with one separator `sep` starting at `s`; whole token. */
function sixPairs(t: string, s: number, sep: number): boolean {
  if (s > 0 && glues(t.charCodeAt(s - 1))) return false;
  for (let g = 0; g < 6; g++) {
    if (!hexAt(t, s + 3 * g, 2)) return false;
    if (g < 5 && t.charCodeAt(s + 3 * g + 2) !== sep) return false;
  }
  const after = t.charCodeAt(s + 17);
  return !(glues(after) && (after !== 0x2e || isAsciiAlnum(t.charCodeAt(s + 18))));
}

/** `hhhh.hhhh.hhhh` starting at `s`; whole token (a sentence's full stop may follow). */
function threeQuads(t: string, s: number): boolean {
  if (s > 0 && glues(t.charCodeAt(s - 1))) return false;
  if (!hexAt(t, s, 4) || t.charCodeAt(s + 4) !== 0x2e || !hexAt(t, s + 5, 4)) return false;
  if (t.charCodeAt(s + 9) !== 0x2e || !hexAt(t, s + 10, 4)) return false;
  const after = t.charCodeAt(s + 14);
  return !(glues(after) && (after !== 0x2e || isAsciiAlnum(t.charCodeAt(s + 15))));
}

function macScore(t: string, s: number, e: number, base: number): number {
  let zero = true;
  let ff = true;
  let letters = false;
  for (let k = s; k < e; k++) {
    const u = t.charCodeAt(k);
    if (!isHex(u)) continue;
    if (u !== 0x30) zero = false;
    if (u !== 0x66) ff = false;
    if (!isDigit(u)) letters = true;
  }
  if (zero || ff) return 0;
  return letters ? base : MAC_DECIMAL;
}

export function macs(c: Ctx): void {
  const t = c.t;
  let work = 0;
  for (const sep of [0x3a, 0x2d]) {
    const ch = String.fromCharCode(sep);
    for (let i = t.indexOf(ch); i !== -1; i = t.indexOf(ch, i + 1)) {
      if ((++work & DEADLINE_EVERY) === 0) checkDeadline(c.deadline);
      // `i` as the first separator: the address starts two characters before
      const s = i - 2;
      if (s < 0 || !sixPairs(t, s, sep)) continue;
      const score = macScore(t, s, s + 17, MAC_PLAIN);
      if (score > 0) add(c, "mac_address", s, s + 17, score);
      i = s + 16;
    }
  }
  for (let i = t.indexOf("."); i !== -1; i = t.indexOf(".", i + 1)) {
    if ((++work & DEADLINE_EVERY) === 0) checkDeadline(c.deadline);
    const s = i - 4;
    if (s < 0 || !threeQuads(t, s)) continue;
    const score = macScore(t, s, s + 14, MAC_DOTTED);
    if (score > 0) add(c, "mac_address", s, s + 14, score);
    i = s + 13;
  }
}

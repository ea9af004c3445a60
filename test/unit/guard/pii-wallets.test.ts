import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { normalize } from "../../../filters/guard/normalize.ts";
import { scanPii } from "../../../filters/guard/pii.ts";
import {
  base58CheckVersion,
  eip55Valid,
  keccak256,
  moneroValid,
  segwitValid,
} from "../../../filters/guard/pii-crypto.ts";
import { MAX_WALLET_CHECKS } from "../../../filters/guard/pii-wallets.ts";
import { expectPiiFinding } from "./helpers.ts";

const scan = (t: string) => scanPii(t, normalize(t));
const of = (t: string, subtype: string) => scan(t).filter((f) => f.subtype === subtype && f.score >= 0.5);

// published examples: the genesis coinbase address, BIP-13/BIP-173/BIP-350 and EIP-55 test vectors,
// Litecoin and Monero addresses from their projects' documentation
const BTC_P2PKH = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa";
const BTC_P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy";
const BECH32_V0 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
const BECH32_P2WSH = "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3";
const TAPROOT = "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297";
const ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const LTC = "LaMT348PWRnrqeeWArpwQPbuanpXDZGEUz";
const XMR = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";

describe("checksums", () => {
  it("Keccak-256 matches the published empty-input digest, and SHA3-256 with SHA3's padding", () => {
    expect(Buffer.from(keccak256(new Uint8Array(0))).toString("hex")).toBe(
      "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    );
    for (const n of [0, 1, 135, 136, 137, 300]) {
      const m = Buffer.alloc(n, n & 0xff);
      expect(Buffer.from(keccak256(m, 0x06)).toString("hex")).toBe(createHash("sha3-256").update(m).digest("hex"));
    }
  });

  it.each([
    ["5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", true],
    ["fB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", true],
    ["dbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", true],
    ["D1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb", true],
    ["5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", false],
  ])("EIP-55 %s → %s", (a, ok) => {
    expect(eip55Valid(a)).toBe(ok);
  });

  it("Base58Check versions, segwit and Monero checksums", () => {
    expect(base58CheckVersion(BTC_P2PKH)).toBe(0);
    expect(base58CheckVersion(BTC_P2SH)).toBe(5);
    expect(base58CheckVersion(LTC)).toBe(0x30);
    expect(base58CheckVersion(`${BTC_P2PKH.slice(0, -1)}b`)).toBe(-1);
    for (const a of [BECH32_V0, BECH32_P2WSH, TAPROOT]) expect(segwitValid(a, "bc")).toBe(true);
    expect(segwitValid(`${BECH32_V0.slice(0, -1)}5`, "bc")).toBe(false);
    expect(moneroValid(XMR)).toBe(true);
    expect(moneroValid(`${XMR.slice(0, -1)}B`)).toBe(false);
  });
});

describe("crypto wallets", () => {
  it.each([
    ["Bitcoin P2PKH", `send 0.1 BTC to ${BTC_P2PKH} please`, BTC_P2PKH],
    ["Bitcoin P2SH", `${BTC_P2SH}.`, BTC_P2SH],
    ["bech32 segwit v0", `addr ${BECH32_V0}`, BECH32_V0],
    ["bech32 P2WSH", BECH32_P2WSH, BECH32_P2WSH],
    ["bech32 uppercase", BECH32_V0.toUpperCase(), BECH32_V0.toUpperCase()],
    ["bech32m taproot", `(${TAPROOT})`, TAPROOT],
    ["Ethereum EIP-55", `my wallet: ${ETH}`, ETH],
    ["Ethereum lowercase", `to ${ETH.toLowerCase()}`, ETH.toLowerCase()],
    ["Litecoin", `LTC ${LTC}`, LTC],
    ["Monero", `XMR: ${XMR}`, XMR],
    [
      "a wallet-shaped token with a bad checksum, named",
      `bitcoin wallet 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3`,
      "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3",
    ],
  ])("finds %s", (_n, text, value) => {
    expectPiiFinding(scan(text), text, "crypto_wallet", value);
  });

  it.each([
    ["git SHA (40 hex, no 0x)", "commit da39a3ee5e6b4b0d3255bfef95601890afd80709"],
    ["32-byte hash with 0x", `tx 0x${"ab".repeat(32)}`],
    ["EIP-55 checksum broken", `0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD`],
    ["Base58 with a bad checksum and no context", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"],
    ["bech32 with a bad checksum", `${BECH32_V0.slice(0, -1)}5`],
    ["mixed-case bech32", `bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4`],
    ["a long number", "12345678901234567890123456789"],
    ["a base64 blob", "MjAyNi0wMS0xNVQxMDozMDowMFoxMjM0NTY3ODkw"],
    ["a UUID", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"],
    ["a word", "Lorem ipsum dolor sit amet consectetur"],
  ])("ignores %s", (_n, text) => {
    expect(of(text, "crypto_wallet")).toEqual([]);
  });

  it("keeps scoring by shape past the checksum budget", () => {
    const text = Array.from({ length: MAX_WALLET_CHECKS + 8 }, () => `wallet ${ETH}`).join(" ");
    const fs = of(text, "crypto_wallet");
    expect(fs).toHaveLength(MAX_WALLET_CHECKS + 8);
  });

  it("maps offsets back when the text is not ASCII", () => {
    const text = `Überweisung an ${BTC_P2PKH} — danke`;
    expectPiiFinding(scan(text), text, "crypto_wallet", BTC_P2PKH);
  });
});

describe("MAC addresses", () => {
  it.each([
    ["colons", "mac 00:1A:2B:3C:4D:5E on eth0", "00:1A:2B:3C:4D:5E"],
    ["dashes", "adapter 00-1a-2b-3c-4d-5e.", "00-1a-2b-3c-4d-5e"],
    ["Cisco dots", "001a.2b3c.4d5e", "001a.2b3c.4d5e"],
    ["decimal pairs with a context word", "device MAC 00:11:22:33:44:55", "00:11:22:33:44:55"],
    ["fullwidth", "ｍａｃ ０ａ：１ｂ：２ｃ：３ｄ：４ｅ：５ｆ", "０ａ：１ｂ：２ｃ：３ｄ：４ｅ：５ｆ"],
  ])("finds %s", (_n, text, value) => {
    expectPiiFinding(scan(text), text, "mac_address", value);
  });

  it.each([
    ["all zeros", "00:00:00:00:00:00"],
    ["broadcast", "ff:ff:ff:ff:ff:ff"],
    ["an IPv6 address", "2001:4860:4860:0000:0000:0000:0000:8888"],
    ["seven pairs", "00:1a:2b:3c:4d:5e:6f"],
    ["a hex hash", "a3f5b2c1d4e6a3f5b2c1d4e6"],
    ["a time code", "at 10:20:30:40:50:60"],
    ["a UUID", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"],
    ["a version", "1.2.3"],
    ["dashed hex words", "ab-cd-ef-ab-cd-ef-12"],
  ])("ignores %s", (_n, text) => {
    expect(of(text, "mac_address")).toEqual([]);
  });
});

/** Test data builders for the guard tests: synthetic secrets (never real ones) from a seeded generator. */
import { expect } from "vitest";

/** Deterministic pseudo-random string over `alphabet` (xorshift32), so tests are stable. */
export function fake(alphabet: string, len: number, seed: number): string {
  let x = seed >>> 0 || 0x9e3779b9;
  let out = "";
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out += alphabet[x % alphabet.length];
  }
  return out;
}

export const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export const UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
export const LOWER_HEX = "0123456789abcdef";
export const B64 = `${ALNUM}+/`;
export const B64URL = `${ALNUM}-_`;

/** The substring a finding points at. */
export function spanOf(text: string, f: { start: number; end: number }): string {
  return text.slice(f.start, f.end);
}

/** A PII finding of `subtype` in `findings` covering exactly `value` of `text`, at or above the default threshold. */
export function expectPiiFinding(
  findings: readonly { type: string; subtype: string; start: number; end: number; score: number }[],
  text: string,
  subtype: string,
  value: string,
): void {
  const f = findings.find((x) => x.subtype === subtype);
  expect(f, JSON.stringify(findings)).toBeDefined();
  expect(text.slice(f!.start, f!.end)).toBe(value);
  expect(f!.score).toBeGreaterThanOrEqual(0.5);
  expect(f!.type).toBe("pii");
}

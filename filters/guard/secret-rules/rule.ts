/**
 * The shape of one secret format, as data: where a token starts (a literal prefix, or a context word it
 * follows), which characters its body holds and how many, how random the body must look, an optional
 * structure check and checksum, and a confidence score. The scanner (secrets.ts) turns every prefix and
 * context word into one trigger alternation and runs the matching rules at each trigger.
 *
 * Every rule carries its own examples. `match` strings are templates: `[[a:30]]` is 30 random characters
 * of class `a` (see {@link TEMPLATE_ALPHABETS}), `[[sum]]` is the rule's checksum over everything before
 * it, and `«…»` marks the part the finding must span (the whole string when absent). Templates are
 * expanded at test time with a seeded generator, so no realistic token is ever committed.
 */
import { classTable, isAsciiAlnum, isDigit, isHex } from "../text-util.ts";

/** A verifiable checksum embedded in a token. */
export interface Checksum {
  /** What it is, for the documentation table: e.g. `crc32 base62 (last 6)`. */
  readonly name: string;
  /**
   * Whether the token `text[start, end)` (prefix included) carries a valid checksum; `null` when this
   * variant of the format has none (GitLab's legacy 20-character tokens).
   */
  readonly verify: (text: string, start: number, end: number) => boolean | null;
  /** The checksum characters for `unsigned` (the token up to where the checksum goes): tests build valid tokens with it. */
  readonly make: (unsigned: string) => string;
}

/** An example computed from random strings (for formats a template cannot spell, e.g. base64 of digits). */
export type ExampleFn = (random: (alphabet: string, length: number) => string) => string;

export interface RuleExamples {
  /** Templates of values the rule finds (see the module comment), or functions building one. */
  readonly match: readonly (string | ExampleFn)[];
  /** Literal texts (templates allowed) in which the rule finds nothing. */
  readonly nomatch: readonly string[];
}

export interface SecretRule {
  /** Provider or product, e.g. `GitHub`. */
  readonly provider: string;
  /** `<provider>_<kind>`, the finding's subtype. */
  readonly subtype: string;
  /**
   * Case-sensitive literal where the token starts; the finding spans prefix and body. The token must
   * start the text or follow a character outside `[A-Za-z0-9_-]` (with `anywhere`, any character).
   */
  readonly prefix?: string;
  /** With `prefix`: the literal may sit anywhere (URL parts such as `hooks.slack.com/services/`). */
  readonly anywhere?: boolean;
  /**
   * Case-insensitive context words (at a word start). The value is the first token of the body's shape
   * within {@link CONTEXT_WINDOW} characters after one; the finding spans the value only.
   */
  readonly context?: readonly string[];
  /** The body's characters, as a table built by {@link classTable}. */
  readonly body: Uint8Array;
  /** Body length bounds (after the prefix; for context rules, the value's). */
  readonly min: number;
  readonly max: number;
  /** Confidence when the token is found (and its checksum, if any, verifies). */
  readonly score: number;
  /** Confidence when a checksum exists and fails (default `score - 0.25`). */
  readonly unverified?: number;
  /** Bits/char floor for the body (Shannon, see text-util.ts `entropy`). */
  readonly entropy: number;
  /** Structure check on the token `text[start, end)` (prefix included): dash groups, dots, decoded headers. */
  readonly shape?: (text: string, start: number, end: number) => boolean;
  readonly checksum?: Checksum;
  /**
   * Characters of the token BEFORE the prefix (e.g. the 32 hex of a Mailchimp key before `-us6`, the
   * bot id before a Telegram token's `:AA`): read backwards from the prefix, `min`..`max` of `table`,
   * and the character before them must not be in `table`.
   */
  readonly lead?: { readonly table: Uint8Array; readonly min: number; readonly max: number };
  /** With `context`: how far after the word the value may start (default {@link CONTEXT_WINDOW}; at most 128). */
  readonly window?: number;
  readonly examples: RuleExamples;
}

/** How far after a context word its value may start. */
export const CONTEXT_WINDOW = 64;

// Body classes. Names say what is in them; each is a 128-entry table.
const dash = (u: number): boolean => u === 0x2d;
const under = (u: number): boolean => u === 0x5f;
const dot = (u: number): boolean => u === 0x2e;
const upperAlnumPred = (u: number): boolean => isDigit(u) || (u >= 0x41 && u <= 0x5a);
const lowerAlnumPred = (u: number): boolean => isDigit(u) || (u >= 0x61 && u <= 0x7a);
const b64Pred = (u: number): boolean => isAsciiAlnum(u) || u === 0x2b || u === 0x2f;

export const ALNUM = classTable(isAsciiAlnum);
export const UPPER_ALNUM = classTable(upperAlnumPred);
export const LOWER_ALNUM = classTable(lowerAlnumPred);
export const DIGITS = classTable(isDigit);
export const HEX = classTable(isHex);
export const LOWER_HEX = classTable((u) => isDigit(u) || (u >= 0x61 && u <= 0x66));
export const UPPER_HEX = classTable((u) => isDigit(u) || (u >= 0x41 && u <= 0x46));
/** base64url without padding: `[A-Za-z0-9_-]`. */
export const B64URL = classTable((u) => isAsciiAlnum(u) || dash(u) || under(u));
export const ALNUM_UNDER = classTable((u) => isAsciiAlnum(u) || under(u));
export const ALNUM_DASH = classTable((u) => isAsciiAlnum(u) || dash(u));
export const B64URL_DOT = classTable((u) => isAsciiAlnum(u) || dash(u) || under(u) || dot(u));
export const ALNUM_DOT = classTable((u) => isAsciiAlnum(u) || dot(u));
export const UPPER_ALNUM_DOT = classTable((u) => upperAlnumPred(u) || dot(u));
export const LOWER_ALNUM_DASH = classTable((u) => lowerAlnumPred(u) || dash(u));
/** Standard base64 with padding. */
export const B64 = classTable((u) => b64Pred(u) || u === 0x3d);
/** base64url with padding (`=`), e.g. Atlassian tokens' `=` before their hex tail. */
export const B64URL_PAD = classTable((u) => isAsciiAlnum(u) || dash(u) || under(u) || u === 0x3d);
/** UUIDs and other dashed hex. */
export const HEX_DASH = classTable((u) => isHex(u) || dash(u));

/** Alphabets of the `[[x:n]]` example templates. */
export const TEMPLATE_ALPHABETS: Readonly<Record<string, string>> = {
  a: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
  u: "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
  l: "abcdefghijklmnopqrstuvwxyz0123456789",
  L: "abcdefghijklmnopqrstuvwxyz",
  U: "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
  d: "0123456789",
  h: "0123456789abcdef",
  H: "0123456789ABCDEF",
  b: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
  w: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
  /** Bech32 data characters, upper case (age keys). */
  B: "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
  /** base32 (RFC 4648) upper case. */
  Z: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
  /** base32 lower case. */
  z: "abcdefghijklmnopqrstuvwxyz234567",
};

/**
 * Score bands, so rules read as intent. With the secret scanner's `threshold` (policy.ts) a route picks
 * what it acts on: 0.9 keeps checksummed tokens and long unique prefixes (and PEM keys, JWK private keys);
 * the default 0.5 adds short prefixes, provider formats found by their context word (0.75), generic
 * assignments that look random (0.6–0.65) and GitLab, Grafana and age tokens whose checksum fails (GitHub
 * and npm keep 0.95 / 0.9 then: their prefixes alone are near-certain, and a verified one scores 0.99); test-mode keys
 * (0.4), weak generic assignments (0.35–0.45) and publishable keys (0.2–0.45) stay below it.
 */
export const SCORE = {
  /** Long unique prefix with a checksum that verified. */
  checksummed: 0.99,
  /** Long unique prefix (≥ 5 characters, or a structured token). */
  unique: 0.92,
  /** Shorter or more generic prefix. */
  prefixed: 0.8,
  /** A shape found only after its provider's context word. */
  context: 0.75,
  /** Publishable / identifier-like values that are not secrets on their own. */
  weak: 0.45,
  /** Test-mode keys. */
  test: 0.4,
} as const;

/** The value `text[start, end)` split at `sep`: the lengths of its parts (a few parts, read in place). */
export function partLengths(text: string, start: number, end: number, sep: number): number[] {
  const out: number[] = [];
  let from = start;
  for (let i = start; i < end; i++) {
    if (text.charCodeAt(i) === sep) {
      out.push(i - from);
      from = i + 1;
    }
  }
  out.push(end - from);
  return out;
}

/** Whether `text[start, end)` has parts (split at `sep`) of exactly these lengths (a range as [min, max]). */
export function partsAre(
  text: string,
  start: number,
  end: number,
  sep: number,
  want: readonly (number | readonly [number, number])[],
): boolean {
  const got = partLengths(text, start, end, sep);
  if (got.length !== want.length) return false;
  for (let k = 0; k < got.length; k++) {
    const w = want[k]!;
    const n = got[k]!;
    if (typeof w === "number" ? n !== w : n < w[0] || n > w[1]) return false;
  }
  return true;
}

/** Whether every unit of `text[start, end)` is in `table`. */
export function allIn(text: string, start: number, end: number, table: Uint8Array): boolean {
  for (let i = start; i < end; i++) {
    const u = text.charCodeAt(i);
    if (u >= 128 || table[u] === 0) return false;
  }
  return true;
}

/** A UUID (8-4-4-4-12 hex, either case) exactly at `text[start, end)`. */
export function isUuid(text: string, start: number, end: number): boolean {
  return end - start === 36 && partsAre(text, start, end, 0x2d, [8, 4, 4, 4, 12]) && allIn(text, start, end, HEX_DASH);
}

/**
 * A format read by a hand-written detector (secret-detectors.ts) rather than by prefix and body class:
 * PEM blocks, JWTs, URL credentials, PuTTY keys, Docker config `auth`, generic assignments. Listed as
 * data so every format has its examples and the rule table counts it.
 */
export interface DetectorRule {
  readonly provider: string;
  readonly subtype: string;
  /** Which detector reads it, by name (documentation). */
  readonly detector: string;
  /** The detector's confidence (or the top of its range). */
  readonly score: number;
  readonly examples: RuleExamples;
}

/**
 * A format known only by the word before it (`NAME=<value>`): a fixed-length `body` after one of
 * `context`, scored as such, with its examples from `template` (a placeholder value is a no-match).
 */
export function contextRule(
  provider: string,
  subtype: string,
  context: readonly string[],
  body: Uint8Array,
  length: number,
  template: string,
  placeholder = "<your key>",
): SecretRule {
  const name = context[0]!.toUpperCase();
  return {
    provider,
    subtype,
    context,
    body,
    min: length,
    max: length,
    score: SCORE.context,
    entropy: 3.0,
    examples: { match: [`${name}=«${template}»`], nomatch: [`${name}=[[a:8]]`, `${name}=${placeholder}`] },
  };
}

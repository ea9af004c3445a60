/**
 * Hand-written secret detectors, for formats a prefix and a body class cannot describe (the declarative
 * rules are in secret-rules/): PEM blocks (multi-line, `\n`-escaped or on one line), PuTTY keys, JWK
 * private members, JWTs, URL credentials, Docker config `auth`, Twilio's context-bound values. Each is
 * called by the secrets scanner at a trigger, reads by hand with a character class and length bounds,
 * and skips documented example values and placeholders. Tokens are case-sensitive, so all of this runs
 * on the ORIGINAL text.
 *
 * Cost: triggers can be packed every few characters, so every read from a trigger is bounded by a
 * constant (the token's maximum length or a context window) — never "to the next separator" or "to the
 * end of the text" — except the walks that remember how far they read, so that each part of the text is
 * read once per scan however many triggers precede it: the PEM walk ({@link pemAt}), the PuTTY search
 * ({@link puttyAt}) and the JWK `"kty"` pointer ({@link jwkPrivateAt}).
 */
import type { Finding } from "./types.ts";
import {
  classTable,
  entropy,
  isAsciiAlnum,
  isDigit,
  isHex,
  looksPlaceholder,
  spanTable,
  spanWhile,
} from "./text-util.ts";
import { jwtHeaderHasAlg } from "./secrets-formats.ts";

/** Documented example values (AWS, Azure emulator, GitHub docs, Stripe docs, jwt.io). Exact tokens; never findings. */
const ALLOW = new Set([
  "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
  "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
  "pk_test_TYooMQauvdEDq54NiTphI7jx",
  "AKIAIOSFODNN7EXAMPLE",
  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
  "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
]);

const ALLOW_LENGTHS = new Uint8Array(256);
for (const a of ALLOW) ALLOW_LENGTHS[a.length] = 1;

/** `text[s, e)` is a documented example value (hashed only when its length matches one). */
export function allowed(text: string, s: number, e: number): boolean {
  return e - s < 256 && ALLOW_LENGTHS[e - s] === 1 && ALLOW.has(text.slice(s, e));
}

export const alnum = isAsciiAlnum;
export const alnumDash = (u: number): boolean => alnum(u) || u === 0x2d || u === 0x5f;
const lowerHex = (u: number): boolean => isDigit(u) || (u >= 0x61 && u <= 0x66);
const b64 = (u: number): boolean => alnum(u) || u === 0x2b || u === 0x2f;
const b64Pad = (u: number): boolean => b64(u) || u === 0x3d;
const ALNUM_DASH = classTable(alnumDash);
const B64_PAD = classTable(b64Pad);
const LOWER_HEX = classTable(lowerHex);
const HEX = classTable(isHex);

export function pushFinding(out: Finding[], subtype: string, start: number, end: number, score: number): void {
  out.push({ type: "secret", subtype, start, end, score });
}

/** Separators between a context word and its value: spaces, quotes, `:`, `=`, `,`, `(`. */
function isAssignSep(u: number): boolean {
  return (
    u === 0x20 ||
    u === 0x09 ||
    u === 0x3a ||
    u === 0x3d ||
    u === 0x22 ||
    u === 0x27 ||
    u === 0x60 ||
    u === 0x2c ||
    u === 0x28 ||
    u === 0x0d ||
    u === 0x0a
  );
}

/**
 * The first token of `min`..`max` body characters that starts within `limit` chars after `from`
 * (e.g. the 40-char value after `aws_secret_access_key = `). Tokens of other lengths are skipped, and
 * only as far as the window: a keyword repeated with no separator must not read to the end each time.
 */
export function tokenAfter(
  text: string,
  from: number,
  limit: number,
  min: number,
  max: number,
  body: Uint8Array,
): [number, number] | null {
  const stop = Math.min(text.length, from + limit);
  let i = from;
  while (i < stop) {
    while (i < stop && isAssignSep(text.charCodeAt(i))) i++;
    if (i >= stop) return null;
    const end = spanTable(text, i, i + max + 1, body);
    const n = end - i;
    if (n >= min && n <= max && (end >= text.length || !alnum(text.charCodeAt(end)))) return [i, end];
    i = spanWhile(text, end, stop, (u) => !isAssignSep(u));
  }
  return null;
}

/** The 32-hex Twilio auth token after an `auth_token`-style keyword ending at `from`. */
export function twilioTokenAfter(text: string, from: number, out: Finding[]): void {
  const tok = tokenAfter(text, from, 60, 32, 32, HEX);
  if (!tok) return;
  const [s, e] = tok;
  if (entropy(text, s, e) < 3.0 || looksPlaceholder(text, s, e)) return;
  pushFinding(out, "twilio_auth_token", s, e, 0.8);
}

/** Twilio account SIDs (`AC` + 32 hex): identifiers, reported only when Twilio context is present. */
export function twilioAccountSids(text: string, out: Finding[]): void {
  for (let i = text.indexOf("AC"); i !== -1; i = text.indexOf("AC", i + 2)) {
    if (i > 0 && alnum(text.charCodeAt(i - 1))) continue;
    const end = spanTable(text, i + 2, i + 35, LOWER_HEX);
    if (end - i - 2 !== 32 || (end < text.length && alnum(text.charCodeAt(end)))) continue;
    if (entropy(text, i + 2, end) < 3.0 || looksPlaceholder(text, i + 2, end)) continue;
    pushFinding(out, "twilio_account_sid", i, end, 0.7);
  }
}

const PEM_MIN_BODY = 64;
/** Encryption headers (`Proc-Type:`, `DEK-Info:`) have their colon this close to the line start. */
const PEM_HEADER_COLON = 20;

/** Length of a line break at `k`: CRLF, LF, CR, or the two characters `\n` of a JSON/env-escaped PEM. */
function lineBreakAt(text: string, k: number): number {
  const u = text.charCodeAt(k);
  if (u === 0x0d) return text.charCodeAt(k + 1) === 0x0a ? 2 : 1;
  if (u === 0x0a) return 1;
  if (u === 0x5c && (text.charCodeAt(k + 1) === 0x6e || text.charCodeAt(k + 1) === 0x72)) {
    return text.charCodeAt(k + 2) === 0x5c && text.charCodeAt(k + 3) === 0x6e ? 4 : 2; // \n or \r\n
  }
  return 0;
}

/** A colon in `text[from, from + PEM_HEADER_COLON)`. */
function colonNear(text: string, from: number): boolean {
  const stop = Math.min(text.length, from + PEM_HEADER_COLON);
  for (let k = from; k < stop; k++) if (text.charCodeAt(k) === 0x3a) return true;
  return false;
}

/**
 * The lines after a BEGIN line that the last {@link pemAt} walk read: `(from, until)`. A later BEGIN
 * line that ends (at its line break) strictly inside can only be an encryption-header line read while
 * no body had been seen (base64 lines hold no `-`), and its own walk would go on from that line break
 * in exactly the state the earlier walk was in there — the same body, the same end: a finding inside
 * the earlier one (same score) or none. So it is skipped, which keeps `-----BEGIN :PRIVATE KEY-----\n`
 * × N linear (each walk used to re-read every later line).
 */
export interface PemWalk {
  from: number;
  until: number;
}

/**
 * `-----BEGIN … PRIVATE KEY-----` followed by a real body: lines of base64 (optionally after
 * `Proc-Type:`/`DEK-Info:` headers), with real or `\n`-escaped line breaks, at least
 * PEM_MIN_BODY base64 characters. Spans through the END line, or the body if the block is cut off.
 * The walk has no length cap: it reads each line once, and `walk` (see {@link PemWalk}) stops later
 * BEGIN lines from reading the same lines again.
 */
export function pemAt(text: string, i: number, out: Finding[], walk: PemWalk): void {
  const close = text.indexOf("-----", i + 11); // amortized: never past the next trigger's own dashes
  if (close === -1 || close - i > 80) return;
  const label = text.slice(i + 11, close);
  if (!label.endsWith("PRIVATE KEY") && label !== "PGP PRIVATE KEY BLOCK") return;
  let k = close + 5;
  if (k > walk.from && k < walk.until) return; // see PemWalk
  const limit = text.length;
  if (lineBreakAt(text, k) === 0) {
    pemInline(text, i, k, out);
    return;
  }
  let body = 0;
  let end = k;
  walk.from = k;
  while (k < limit) {
    const br = lineBreakAt(text, k);
    if (br === 0) break;
    k += br;
    const lineStart = k;
    k = spanTable(text, k, limit, B64_PAD); // standard base64 (PEM never uses - or _): stops at any line break
    const n = k - lineStart;
    if (lineBreakAt(text, k) > 0 || k >= text.length) {
      body += n; // a base64 line, or the blank line after encryption headers
      if (n > 0) end = k;
      continue;
    }
    // not a base64 line: an encryption header (before any body), or the end of the block
    if (body === 0 && colonNear(text, lineStart)) {
      k = lineStart;
      while (k < limit && lineBreakAt(text, k) === 0) k++;
      continue;
    }
    k = lineStart;
    break;
  }
  walk.until = k;
  if (body < PEM_MIN_BODY) return;
  const rest = text.slice(k, k + 9);
  if (text.startsWith("-----END ", k)) {
    const tail = text.indexOf("-----", k + 9);
    // no closing dashes yet: the text was cut inside the END line (a stream still arriving)
    end = tail !== -1 && tail - k < 80 ? tail + 5 : tail === -1 && text.length - k < 80 ? text.length : k + 9;
  } else if (k + rest.length === text.length && "-----END ".startsWith(rest)) end = text.length;
  pushFinding(out, "private_key", i, end, 0.95);
}

/**
 * A PEM key pasted on one line (an environment variable, a chat message): `-----BEGIN … KEY-----`, the
 * base64 body with single spaces or nothing between its lines, then the END line. Reads one run of
 * base64 and spaces, which a later BEGIN line cannot be inside (its dashes end the run).
 */
function pemInline(text: string, i: number, from: number, out: Finding[]): void {
  let j = from;
  let body = 0;
  let last = from;
  for (;;) {
    const s = j;
    j = spanTable(text, j, text.length, B64_PAD);
    body += j - s;
    if (j > s) last = j;
    if (text.charCodeAt(j) === 0x20 && B64_PAD[text.charCodeAt(j + 1)] === 1) j++;
    else break;
  }
  if (body < PEM_MIN_BODY) return;
  let end = last;
  if (text.startsWith("-----END ", last) || text.startsWith(" -----END ", last)) {
    const at = text.indexOf("-----END ", last);
    const tail = text.indexOf("-----", at + 9);
    end = tail !== -1 && tail - at < 80 ? tail + 5 : at + 9;
  }
  pushFinding(out, "private_key", i, end, 0.9);
}

/** JWTs: three base64url parts whose first decodes to a JSON header with `alg`. */
export function jwtAt(text: string, i: number, out: Finding[]): void {
  const a = spanTable(text, i, i + 4096, ALNUM_DASH);
  if (a - i < 10 || text.charCodeAt(a) !== 0x2e) return;
  const b = spanTable(text, a + 1, a + 1 + 65536, ALNUM_DASH);
  if (b - a - 1 < 10 || text.charCodeAt(b) !== 0x2e) return;
  const c = spanTable(text, b + 1, b + 1 + 4096, ALNUM_DASH);
  if (!jwtHeaderHasAlg(text, i, a) || allowed(text, i, c)) return;
  pushFinding(out, "jwt", i, c, c - b - 1 >= 16 ? 0.85 : 0.7);
}

const URL_PASSWORD_PLACEHOLDERS = new Set([
  "pass",
  "password",
  "passwd",
  "pwd",
  "secret",
  "changeme",
  "xxx",
  "xxxx",
  "***",
  "****",
  "*****",
  "******",
  "pw",
  "p@ssw0rd",
  "mypassword",
  "yourpassword",
  "...",
]);

/** `scheme://user:password@host` — only the password is spanned. */
export function urlCredentialsAt(text: string, i: number, out: Finding[]): void {
  {
    let s = i;
    while (s > 0 && i - s < 32) {
      const u = text.charCodeAt(s - 1);
      if (alnum(u) || u === 0x2b || u === 0x2e || u === 0x2d) s--;
      else break;
    }
    if (s === i) return;
    const from = i + 3;
    let colon = -1;
    let at = -1;
    for (let k = from; k < text.length && k < from + 512; k++) {
      const u = text.charCodeAt(k);
      if (u === 0x40) {
        at = k;
        break;
      }
      if (u === 0x2f || u === 0x3f || u === 0x23 || u <= 0x20 || u === 0x22 || u === 0x27 || u === 0x3c || u === 0x3e)
        break;
      if (u === 0x3a && colon === -1) colon = k;
    }
    if (colon === -1 || at === -1 || at - colon < 2) return;
    const host = text.charCodeAt(at + 1);
    if (!(alnum(host) || host === 0x5b)) return;
    const pw = text.slice(colon + 1, at);
    const low = pw.toLowerCase();
    const c0 = pw.charCodeAt(0);
    // `$VAR`, `%s`, `{{x}}`, `<password>`, `[redacted]`, `***`: templates, not credentials
    if (c0 === 0x24 || c0 === 0x25 || c0 === 0x7b || c0 === 0x3c || c0 === 0x5b || c0 === 0x2a) return;
    if (URL_PASSWORD_PLACEHOLDERS.has(low) || low.includes("password") || looksPlaceholder(pw, 0, pw.length)) return;
    // `postgres:postgres@`, `guest:guest@`: a default account, the user name repeated
    if (colon - (i + 3) === pw.length && text.startsWith(pw, i + 3)) return;
    pushFinding(out, "url_credentials", colon + 1, at, 0.85);
  }
}

/**
 * Where the last {@link puttyAt} search for `Private-Lines:` ended: the occurrence it found (or −1,
 * none up to the end). A later trigger before that occurrence reuses it, so each part of the text is
 * searched once however many `PuTTY-User-Key-File-` lines precede it.
 */
export interface PuttyWalk {
  found: number;
  searched: boolean;
}

/** A `Private-Lines:` header this far after the file's first line at most. */
const PUTTY_WINDOW = 4096;
const PUTTY_MAX_LINES = 64;

/**
 * A PuTTY `.ppk` private key: `PuTTY-User-Key-File-N:` … `Private-Lines: N`, N base64 lines, and
 * the `Private-MAC:` line. Spans from the first line through the MAC (or the private lines).
 */
export function puttyAt(text: string, i: number, out: Finding[], walk: PuttyWalk): void {
  if (!(walk.searched && (walk.found === -1 || walk.found >= i))) {
    walk.found = text.indexOf("Private-Lines:", i);
    walk.searched = true;
  }
  const p = walk.found;
  if (p === -1 || p - i > PUTTY_WINDOW) return;
  let k = p + 14;
  while (text.charCodeAt(k) === 0x20) k++;
  let lines = 0;
  for (let d = 0; d < 3 && isDigit(text.charCodeAt(k)); d++, k++) lines = lines * 10 + text.charCodeAt(k) - 0x30;
  if (lines === 0 || lines > PUTTY_MAX_LINES) return;
  let body = 0;
  let end = k;
  for (let n = 0; n < lines; n++) {
    const br = lineBreakAt(text, k);
    if (br === 0) return;
    k += br;
    const from = k;
    k = spanTable(text, k, k + 128, B64_PAD);
    if (k === from) return;
    body += k - from;
    end = k;
  }
  if (body < 40) return;
  const br = lineBreakAt(text, k);
  if (br > 0 && text.startsWith("Private-MAC:", k + br)) {
    let m = k + br + 12;
    while (text.charCodeAt(m) === 0x20) m++;
    const macEnd = spanTable(text, m, m + 129, HEX);
    if (macEnd > m) end = macEnd;
  }
  pushFinding(out, "private_key", i, end, 0.95);
}

const MAX_DOCKER_AUTH = 1024;

/** Docker `config.json` / `.dockerconfigjson`: `"auth": "<base64 of user:password>"` after the `"auth"` key at `i`. */
export function dockerAuthAt(text: string, i: number, out: Finding[]): void {
  let k = i + 6;
  while (text.charCodeAt(k) === 0x20) k++;
  if (text.charCodeAt(k) !== 0x3a) return;
  k++;
  while (text.charCodeAt(k) === 0x20) k++;
  if (text.charCodeAt(k) !== 0x22) return;
  const s = k + 1;
  const e = spanTable(text, s, s + MAX_DOCKER_AUTH + 1, B64_PAD);
  if (e - s < 8 || e - s > MAX_DOCKER_AUTH || text.charCodeAt(e) !== 0x22) return;
  const plain = Buffer.from(text.slice(s, e), "base64").toString("latin1");
  const colon = plain.indexOf(":");
  if (colon < 1 || colon === plain.length - 1) return;
  for (let c = 0; c < plain.length; c++) {
    const u = plain.charCodeAt(c);
    if (u < 0x20 || u > 0x7e) return;
  }
  const pw = plain.slice(colon + 1).toLowerCase();
  if (looksPlaceholder(plain, colon + 1, plain.length) || URL_PASSWORD_PLACEHOLDERS.has(pw) || pw.includes("password"))
    return;
  pushFinding(out, "docker_config_auth", s, e, 0.85);
}

/**
 * The last `"kty"` before the current `"d"` trigger and the next one after it: triggers arrive in
 * order, so the two pointers only move forward (each `"kty"` is found once per scan).
 */
export interface JwkWalk {
  last: number;
  next: number;
  started: boolean;
}

/** A JWK's private member this close after its `"kty"` at most. */
const JWK_WINDOW = 2048;
const JWK_MIN_D = 32;

/**
 * JSON Web Keys with private parts: `"d": "<base64url>"` (RSA, EC, OKP private exponent or scalar)
 * within JWK_WINDOW after a `"kty"` member. The finding spans the `d` value.
 */
export function jwkPrivateAt(text: string, i: number, out: Finding[], walk: JwkWalk): void {
  if (!walk.started) {
    walk.next = text.indexOf('"kty"');
    walk.started = true;
  }
  while (walk.next !== -1 && walk.next < i) {
    walk.last = walk.next;
    walk.next = text.indexOf('"kty"', walk.next + 1);
  }
  if (walk.last === -1 || i - walk.last > JWK_WINDOW) return;
  let k = i + 3;
  while (text.charCodeAt(k) === 0x20) k++;
  if (text.charCodeAt(k) !== 0x3a) return;
  k++;
  while (text.charCodeAt(k) === 0x20) k++;
  if (text.charCodeAt(k) !== 0x22) return;
  const s = k + 1;
  const e = spanTable(text, s, s + 1025, ALNUM_DASH);
  if (e - s < JWK_MIN_D || e - s > 1024 || text.charCodeAt(e) !== 0x22) return;
  if (entropy(text, s, e) < 4.0 || looksPlaceholder(text, s, e)) return;
  pushFinding(out, "jwk_private_key", s, e, 0.9);
}

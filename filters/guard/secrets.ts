/**
 * Secrets scanner. Every detector starts from a fixed prefix or context keyword found with `indexOf`
 * (the prefilter), then reads the token by hand with a character class and exact/min/max lengths,
 * then applies an entropy floor to the random part and the example/placeholder allow-list.
 * Runs on the ORIGINAL text (tokens are case-sensitive); context keywords are looked up in the
 * normalized copy. Findings span the whole token (prefix included) so redaction hides all of it;
 * for credentials in URLs only the password is spanned.
 */
import type { Finding, ScanOptions } from "./types.ts";
import { type NormalizedText, normalize, toOriginal } from "./normalize.ts";
import { entropy, isAsciiAlnum, isBase64Char, isDigit, isHex, looksPlaceholder, spanWhile } from "./text-util.ts";
import { jwtHeaderHasAlg } from "./secrets-formats.ts";

/** Documented example values (AWS, Azure emulator, GitHub docs, jwt.io). Exact tokens; never findings. */
const ALLOW = new Set([
  "AKIAIOSFODNN7EXAMPLE",
  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
  "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
]);

const alnum = isAsciiAlnum;
const upperAlnum = (u: number): boolean => isDigit(u) || (u >= 0x41 && u <= 0x5a);
const alnumDash = (u: number): boolean => alnum(u) || u === 0x2d || u === 0x5f;
const alnumUnderscore = (u: number): boolean => alnum(u) || u === 0x5f;
const alnumDashDot = (u: number): boolean => alnumDash(u) || u === 0x2e;
const lowerHex = (u: number): boolean => isDigit(u) || (u >= 0x61 && u <= 0x66);
const b64 = (u: number): boolean => alnum(u) || u === 0x2b || u === 0x2f;
const b64Pad = (u: number): boolean => b64(u) || u === 0x3d;

interface PrefixRule {
  readonly prefix: string;
  readonly subtype: string;
  readonly body: (u: number) => boolean;
  readonly min: number;
  readonly max: number;
  readonly score: number;
  /** Bits/char floor for the body. */
  readonly entropy: number;
}

const PREFIX_RULES: readonly PrefixRule[] = [
  { prefix: "AKIA", subtype: "aws_access_key_id", body: upperAlnum, min: 16, max: 16, score: 0.9, entropy: 2.5 },
  { prefix: "ASIA", subtype: "aws_access_key_id", body: upperAlnum, min: 16, max: 16, score: 0.9, entropy: 2.5 },
  { prefix: "AIza", subtype: "gcp_api_key", body: alnumDash, min: 35, max: 35, score: 0.9, entropy: 3.2 },
  { prefix: "ghp_", subtype: "github_token", body: alnum, min: 30, max: 255, score: 0.95, entropy: 3.5 },
  { prefix: "gho_", subtype: "github_token", body: alnum, min: 30, max: 255, score: 0.95, entropy: 3.5 },
  { prefix: "ghu_", subtype: "github_token", body: alnum, min: 30, max: 255, score: 0.95, entropy: 3.5 },
  { prefix: "ghs_", subtype: "github_token", body: alnum, min: 30, max: 255, score: 0.95, entropy: 3.5 },
  { prefix: "ghr_", subtype: "github_token", body: alnum, min: 30, max: 255, score: 0.95, entropy: 3.5 },
  { prefix: "github_pat_", subtype: "github_token", body: alnumUnderscore, min: 50, max: 255, score: 0.95, entropy: 3.5 },
  { prefix: "glpat-", subtype: "gitlab_token", body: alnumDashDot, min: 20, max: 255, score: 0.9, entropy: 3.0 },
  { prefix: "npm_", subtype: "npm_token", body: alnum, min: 36, max: 36, score: 0.9, entropy: 3.5 },
  { prefix: "xoxb-", subtype: "slack_token", body: alnumDash, min: 10, max: 255, score: 0.9, entropy: 3.0 },
  { prefix: "xoxp-", subtype: "slack_token", body: alnumDash, min: 10, max: 255, score: 0.9, entropy: 3.0 },
  { prefix: "xoxa-", subtype: "slack_token", body: alnumDash, min: 10, max: 255, score: 0.9, entropy: 3.0 },
  { prefix: "xoxr-", subtype: "slack_token", body: alnumDash, min: 10, max: 255, score: 0.9, entropy: 3.0 },
  { prefix: "xoxs-", subtype: "slack_token", body: alnumDash, min: 10, max: 255, score: 0.9, entropy: 3.0 },
  { prefix: "xapp-", subtype: "slack_token", body: alnumDash, min: 10, max: 255, score: 0.9, entropy: 3.0 },
  { prefix: "sk_live_", subtype: "stripe_key", body: alnum, min: 20, max: 255, score: 0.95, entropy: 3.5 },
  { prefix: "rk_live_", subtype: "stripe_key", body: alnum, min: 20, max: 255, score: 0.95, entropy: 3.5 },
  { prefix: "sk_test_", subtype: "stripe_test_key", body: alnum, min: 20, max: 255, score: 0.4, entropy: 3.5 },
  { prefix: "SK", subtype: "twilio_api_key", body: lowerHex, min: 32, max: 32, score: 0.8, entropy: 3.0 },
  { prefix: "hooks.slack.com/services/", subtype: "slack_webhook", body: (u) => alnum(u) || u === 0x2f || u === 0x5f, min: 20, max: 255, score: 0.9, entropy: 3.0 },
];

function pushFinding(out: Finding[], subtype: string, start: number, end: number, score: number): void {
  out.push({ type: "secret", subtype, start, end, score });
}

function prefixRules(text: string, lower: string, out: Finding[]): void {
  for (const r of PREFIX_RULES) {
    const p = r.prefix;
    for (let i = text.indexOf(p); i !== -1; i = text.indexOf(p, i + 1)) {
      if (i > 0 && alnumDash(text.charCodeAt(i - 1)) && !p.startsWith("hooks.")) continue;
      const bodyStart = i + p.length;
      const end = spanWhile(text, bodyStart, bodyStart + r.max + 1, r.body);
      const n = end - bodyStart;
      if (n < r.min || n > r.max) continue;
      if (end < text.length && (alnum(text.charCodeAt(end)) || r.body(text.charCodeAt(end)))) continue;
      if (entropy(text, bodyStart, end) < r.entropy || looksPlaceholder(text, lower, bodyStart, end)) continue;
      if (ALLOW.has(text.slice(i, end))) continue;
      pushFinding(out, r.subtype, i, end, r.score);
    }
  }
}

/** OpenAI (`sk-…`, `sk-proj-…`), Anthropic (`sk-ant-…`) and other `sk-` provider keys. */
function llmKeys(text: string, lower: string, out: Finding[]): void {
  for (let i = text.indexOf("sk-"); i !== -1; i = text.indexOf("sk-", i + 3)) {
    if (i > 0 && alnumDash(text.charCodeAt(i - 1))) continue;
    const end = spanWhile(text, i + 3, i + 3 + 512, alnumDash);
    const n = end - i - 3;
    if (n < 32 || n >= 512) continue;
    if (entropy(text, i + 3, end) < 3.5 || looksPlaceholder(text, lower, i + 3, end)) continue;
    if (text.startsWith("ant-", i + 3)) pushFinding(out, "anthropic_key", i, end, 0.95);
    else if (text.startsWith("proj-", i + 3) || text.startsWith("svcacct-", i + 3) || text.startsWith("admin-", i + 3)) pushFinding(out, "openai_key", i, end, 0.95);
    else if (text.indexOf("T3BlbkFJ", i) !== -1 && text.indexOf("T3BlbkFJ", i) < end) pushFinding(out, "openai_key", i, end, 0.95);
    else pushFinding(out, "llm_api_key", i, end, 0.7);
  }
}

/** SendGrid: `SG.` + 22 + `.` + 43 (base64url). */
function sendgrid(text: string, lower: string, out: Finding[]): void {
  for (let i = text.indexOf("SG."); i !== -1; i = text.indexOf("SG.", i + 3)) {
    if (i > 0 && alnumDash(text.charCodeAt(i - 1))) continue;
    const a = spanWhile(text, i + 3, i + 3 + 64, alnumDash);
    if (a - i - 3 < 16 || text.charCodeAt(a) !== 0x2e) continue;
    const b = spanWhile(text, a + 1, a + 1 + 128, alnumDash);
    if (b - a - 1 < 30 || b - a - 1 > 100) continue;
    if (entropy(text, a + 1, b) < 3.5 || looksPlaceholder(text, lower, i + 3, b)) continue;
    pushFinding(out, "sendgrid_key", i, b, 0.95);
  }
}

/** Azure storage `AccountKey=` (88-char base64) and Service Bus / Event Hubs `SharedAccessKey=` (44). */
function azure(text: string, lower: string, out: Finding[]): void {
  for (const [key, min, subtype] of [["accountkey=", 80, "azure_storage_key"], ["sharedaccesskey=", 40, "azure_shared_access_key"]] as const) {
    for (let k = lower.indexOf(key); k !== -1; k = lower.indexOf(key, k + key.length)) {
      const start = k + key.length;
      const end = spanWhile(text, start, start + 200, b64Pad);
      const n = end - start;
      if (n < min || n > 100 || text.charCodeAt(end - 1) !== 0x3d) continue;
      if (entropy(text, start, end) < 4.0 || looksPlaceholder(text, lower, start, end) || ALLOW.has(text.slice(start, end))) continue;
      pushFinding(out, subtype, start, end, 0.95);
    }
  }
}

/** Separators between a context word and its value: spaces, quotes, `:`, `=`, `,`, `(`. */
function isAssignSep(u: number): boolean {
  return u === 0x20 || u === 0x09 || u === 0x3a || u === 0x3d || u === 0x22 || u === 0x27 || u === 0x60 || u === 0x2c || u === 0x28 || u === 0x0d || u === 0x0a;
}

/**
 * The first token of exactly `want` body characters that starts within `limit` chars after `from`
 * (e.g. the 40-char value after `aws_secret_access_key = `). Tokens of other lengths are skipped.
 */
function tokenAfter(text: string, from: number, limit: number, want: number, body: (u: number) => boolean): [number, number] | null {
  const stop = Math.min(text.length, from + limit);
  let i = from;
  while (i < stop) {
    while (i < stop && isAssignSep(text.charCodeAt(i))) i++;
    if (i >= stop) return null;
    const end = spanWhile(text, i, i + want + 1, body);
    if (end - i === want && (end >= text.length || !body(text.charCodeAt(end)))) return [i, end];
    i = spanWhile(text, end, text.length, (u) => !isAssignSep(u));
  }
  return null;
}

/** Secrets recognised only next to their context words: AWS secret keys, Twilio SIDs and auth tokens. */
function contextual(text: string, n: NormalizedText, lower: string, out: Finding[]): void {
  const at = (normIdx: number): number => toOriginal(n, normIdx, normIdx)[0];
  for (const kw of ["aws_secret_access_key", "secret_access_key", "secretaccesskey", "aws_secret_key", "secret access key", "aws secret key", "aws_secret"]) {
    for (let k = n.text.indexOf(kw); k !== -1; k = n.text.indexOf(kw, k + kw.length)) {
      const tok = tokenAfter(text, at(k + kw.length), 80, 40, b64Pad);
      if (!tok) continue;
      const [s, e] = tok;
      if (entropy(text, s, e) < 4.0 || looksPlaceholder(text, lower, s, e) || ALLOW.has(text.slice(s, e))) continue;
      pushFinding(out, "aws_secret_access_key", s, e, 0.9);
    }
  }
  if (n.text.indexOf("twilio") === -1 && n.text.indexOf("auth_token") === -1 && n.text.indexOf("authtoken") === -1 && n.text.indexOf("account_sid") === -1) return;
  for (let i = text.indexOf("AC"); i !== -1; i = text.indexOf("AC", i + 2)) {
    if (i > 0 && alnum(text.charCodeAt(i - 1))) continue;
    const end = spanWhile(text, i + 2, i + 35, lowerHex);
    if (end - i - 2 !== 32 || (end < text.length && alnum(text.charCodeAt(end)))) continue;
    if (entropy(text, i + 2, end) < 3.0 || looksPlaceholder(text, lower, i + 2, end)) continue;
    pushFinding(out, "twilio_account_sid", i, end, 0.7);
  }
  for (const kw of ["auth_token", "authtoken", "auth token"]) {
    for (let k = n.text.indexOf(kw); k !== -1; k = n.text.indexOf(kw, k + kw.length)) {
      const tok = tokenAfter(text, at(k + kw.length), 60, 32, isHex);
      if (!tok) continue;
      const [s, e] = tok;
      if (entropy(text, s, e) < 3.0 || looksPlaceholder(text, lower, s, e)) continue;
      pushFinding(out, "twilio_auth_token", s, e, 0.8);
    }
  }
}

const PEM_MIN_BODY = 64;
const PEM_MAX_SPAN = 64 * 1024;

/** `-----BEGIN … PRIVATE KEY-----` blocks with a real base64 body (not `...`), up to the END line. */
function pem(text: string, out: Finding[]): void {
  for (let i = text.indexOf("-----BEGIN "); i !== -1; i = text.indexOf("-----BEGIN ", i + 11)) {
    const close = text.indexOf("-----", i + 11);
    if (close === -1 || close - i > 80) continue;
    const label = text.slice(i + 11, close);
    if (!label.endsWith("PRIVATE KEY") && label !== "PGP PRIVATE KEY BLOCK") continue;
    const bodyStart = close + 5;
    const endMark = text.indexOf("-----END ", bodyStart);
    const limit = Math.min(text.length, bodyStart + PEM_MAX_SPAN, endMark === -1 ? text.length : endMark);
    let body = 0;
    for (let k = bodyStart; k < limit; k++) if (isBase64Char(text.charCodeAt(k))) body++;
    if (body < PEM_MIN_BODY) continue;
    let end = limit;
    if (endMark !== -1 && endMark === limit) {
      const tail = text.indexOf("-----", endMark + 9);
      end = tail !== -1 && tail - endMark < 80 ? tail + 5 : endMark + 9;
    }
    pushFinding(out, "private_key", i, end, 0.95);
    i = end - 11 > i ? end - 11 : i;
  }
}

/** JWTs: three base64url parts whose first decodes to a JSON header with `alg`. */
function jwt(text: string, out: Finding[]): void {
  for (let i = text.indexOf("eyJ"); i !== -1; i = text.indexOf("eyJ", i + 3)) {
    if (i > 0 && alnumDash(text.charCodeAt(i - 1))) continue;
    const a = spanWhile(text, i, i + 4096, alnumDash);
    if (a - i < 10 || text.charCodeAt(a) !== 0x2e) continue;
    const b = spanWhile(text, a + 1, a + 1 + 65536, alnumDash);
    if (b - a - 1 < 10 || text.charCodeAt(b) !== 0x2e) continue;
    const c = spanWhile(text, b + 1, b + 1 + 4096, alnumDash);
    if (!jwtHeaderHasAlg(text.slice(i, a))) continue;
    if (ALLOW.has(text.slice(i, c))) {
      i = c;
      continue;
    }
    pushFinding(out, "jwt", i, c, c - b - 1 >= 16 ? 0.85 : 0.7);
    i = c;
  }
}

const URL_PASSWORD_PLACEHOLDERS = new Set(["pass", "password", "passwd", "pwd", "secret", "changeme", "xxx", "xxxx", "***", "****", "*****", "******", "pw", "p@ssw0rd", "mypassword", "yourpassword", "..."]);

/** `scheme://user:password@host` — only the password is spanned. */
function urlCredentials(text: string, out: Finding[]): void {
  for (let i = text.indexOf("://"); i !== -1; i = text.indexOf("://", i + 3)) {
    let s = i;
    while (s > 0 && i - s < 32) {
      const u = text.charCodeAt(s - 1);
      if (alnum(u) || u === 0x2b || u === 0x2e || u === 0x2d) s--;
      else break;
    }
    if (s === i) continue;
    const from = i + 3;
    let colon = -1;
    let at = -1;
    for (let k = from; k < text.length && k < from + 512; k++) {
      const u = text.charCodeAt(k);
      if (u === 0x40) {
        at = k;
        break;
      }
      if (u === 0x2f || u === 0x3f || u === 0x23 || u <= 0x20 || u === 0x22 || u === 0x27 || u === 0x3c || u === 0x3e) break;
      if (u === 0x3a && colon === -1) colon = k;
    }
    if (colon === -1 || at === -1 || at - colon < 2) continue;
    const host = text.charCodeAt(at + 1);
    if (!(alnum(host) || host === 0x5b)) continue;
    const pw = text.slice(colon + 1, at);
    const low = pw.toLowerCase();
    const c0 = pw.charCodeAt(0);
    // `$VAR`, `%s`, `{{x}}`, `<password>`, `[redacted]`, `***`: templates, not credentials
    if (c0 === 0x24 || c0 === 0x25 || c0 === 0x7b || c0 === 0x3c || c0 === 0x5b || c0 === 0x2a) continue;
    if (URL_PASSWORD_PLACEHOLDERS.has(low) || low.includes("password") || looksPlaceholder(pw, low, 0, pw.length)) continue;
    pushFinding(out, "url_credentials", colon + 1, at, 0.85);
  }
}

/** Drop findings contained in a higher-or-equal scoring finding (e.g. a JWT inside a URL password). */
function dedupe(found: Finding[]): Finding[] {
  if (found.length < 2) return found;
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Finding[] = [];
  for (const f of found) {
    const prev = out[out.length - 1];
    if (prev && f.start >= prev.start && f.end <= prev.end && prev.score >= f.score) continue;
    out.push(f);
  }
  return out;
}

/**
 * Scan for credentials and keys.
 * @example scanSecrets("token ghp_…", normalize("token ghp_…")) // [{ type: "secret", subtype: "github_token", … }]
 */
export function scanSecrets(text: string, normalized?: NormalizedText, opts?: ScanOptions): Finding[] {
  const n = normalized ?? normalize(text);
  // `lower` must share offsets with `text`; the normalized copy only does when its map is the identity.
  let lower = n.text;
  if (n.map !== null) {
    const tl = text.toLowerCase();
    lower = tl.length === text.length ? tl : text;
  }
  const out: Finding[] = [];
  prefixRules(text, lower, out);
  llmKeys(text, lower, out);
  sendgrid(text, lower, out);
  azure(text, lower, out);
  contextual(text, n, lower, out);
  pem(text, out);
  jwt(text, out);
  urlCredentials(text, out);
  const min = opts?.minScore ?? 0;
  return dedupe(min > 0 ? out.filter((f) => f.score >= min) : out);
}

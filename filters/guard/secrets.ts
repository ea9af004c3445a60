/**
 * Secrets scanner. One RE2 pass over the ORIGINAL text finds every trigger — token prefixes
 * (`AKIA`, `ghp_`, `sk-`, `eyJ`, …), structural markers (`://`, `-----BEGIN `) and context keywords
 * (`aws_secret_access_key`, `AccountKey=`, `auth_token`, case-insensitive) — and each trigger runs
 * its hand-written detector (secret-detectors.ts). One linear-time alternation is cheaper than an
 * `indexOf` per prefix (measured ~9 µs vs ~22 µs on 4 KB) and than a character loop with a dispatch
 * table, and it cannot backtrack. Findings span the whole token (prefix included) so redaction hides
 * all of it; for credentials in URLs only the password is spanned.
 */
import RE2 from "re2";
import type { Finding, ScanOptions } from "./types.ts";
import type { NormalizedText } from "./normalize.ts";
import {
  alnumDash,
  awsSecretAfter,
  azureKeyAt,
  jwtAt,
  llmKeyAt,
  pemAt,
  PREFIX_RULES,
  sendgridAt,
  tryRule,
  twilioAccountSids,
  twilioTokenAfter,
  urlCredentialsAt,
} from "./secret-detectors.ts";

type Handler = (text: string, lower: string, at: number, end: number, out: Finding[], ctx: { twilio: boolean }) => void;

const TOKEN_START: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ...PREFIX_RULES.filter((r) => !r.prefix.startsWith("hooks.")).map((r): [string, Handler] => [r.prefix, (t, l, at, _e, out) => tryRule(r, t, l, at, out)]),
  ["sk-", (t, l, at, _e, out) => llmKeyAt(t, l, at, out)],
  ["SG.", (t, l, at, _e, out) => sendgridAt(t, l, at, out)],
  ["eyJ", (t, l, at, _e, out) => jwtAt(t, l, at, out)],
]);

const ANYWHERE: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ...PREFIX_RULES.filter((r) => r.prefix.startsWith("hooks.")).map((r): [string, Handler] => [r.prefix, (t, l, at, _e, out) => tryRule(r, t, l, at, out)]),
  ["://", (t, _l, at, _e, out) => urlCredentialsAt(t, at, out)],
  ["-----BEGIN ", (t, _l, at, _e, out) => pemAt(t, at, out)],
]);

const AWS_KEYWORDS = ["aws_secret_access_key", "secret_access_key", "secretaccesskey", "aws_secret_key", "secret access key", "aws secret key", "aws_secret"];
const AUTH_KEYWORDS = ["auth_token", "authtoken", "auth token"];

/** Case-insensitive keywords, keyed lowercase. */
const KEYWORDS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ["accountkey=", (t, l, _at, end, out) => azureKeyAt(t, l, end, 80, "azure_storage_key", out)],
  ["sharedaccesskey=", (t, l, _at, end, out) => azureKeyAt(t, l, end, 40, "azure_shared_access_key", out)],
  ...AWS_KEYWORDS.map((k): [string, Handler] => [k, (t, l, _at, end, out) => awsSecretAfter(t, l, end, out)]),
  ...AUTH_KEYWORDS.map((k): [string, Handler] => [k, (t, l, _at, end, out, ctx) => {
    ctx.twilio = true;
    twilioTokenAfter(t, l, end, out);
  }]),
  ["twilio", (_t, _l, _at, _e, _out, ctx) => { ctx.twilio = true; }],
  ["account_sid", (_t, _l, _at, _e, _out, ctx) => { ctx.twilio = true; }],
]);

function escape(s: string): string {
  let o = "";
  for (const ch of s) o += ".*+?^${}()|[]\\/".includes(ch) ? `\\${ch}` : ch;
  return o;
}

/** Longest alternatives first: RE2 alternation is leftmost-first, like Perl. */
function alternation(words: Iterable<string>): string {
  return [...words].sort((a, b) => b.length - a.length).map(escape).join("|");
}

const TRIGGERS = new RE2(`${alternation([...TOKEN_START.keys(), ...ANYWHERE.keys()])}|(?i:${alternation(KEYWORDS.keys())})`, "g");

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
 * Scan for credentials and keys in `text` (the original; `normalized` is used only for its lowercase
 * copy when that shares offsets with `text`).
 * @example scanSecrets("token ghp_…")  // [{ type: "secret", subtype: "github_token", start: 6, … }]
 */
export function scanSecrets(text: string, normalized?: NormalizedText, opts?: ScanOptions): Finding[] {
  let lower = normalized && normalized.map === null ? normalized.text : text.toLowerCase();
  if (lower.length !== text.length) lower = text;
  const out: Finding[] = [];
  const ctx = { twilio: false };
  TRIGGERS.lastIndex = 0;
  for (let m = TRIGGERS.exec(text); m !== null; m = TRIGGERS.exec(text)) {
    const at = m.index;
    const word = m[0];
    const end = at + word.length;
    const tok = TOKEN_START.get(word);
    if (tok !== undefined) {
      if (at === 0 || !alnumDash(text.charCodeAt(at - 1))) tok(text, lower, at, end, out, ctx);
      continue;
    }
    (ANYWHERE.get(word) ?? KEYWORDS.get(word.toLowerCase()))?.(text, lower, at, end, out, ctx);
  }
  if (ctx.twilio) twilioAccountSids(text, lower, out);
  const min = opts?.minScore ?? 0;
  return dedupe(min > 0 ? out.filter((f) => f.score >= min) : out);
}

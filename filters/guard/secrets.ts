/**
 * Secrets scanner. One regex pass over the ORIGINAL text finds every trigger — token prefixes
 * (`AKIA`, `ghp_`, `sk-`, `eyJ`, …), structural markers (`://`, `-----BEGIN `) and context keywords
 * (`aws_secret_access_key`, `AccountKey=`, `auth_token`, case-insensitive) — and each trigger runs
 * its hand-written detector (secret-detectors.ts). One alternation is cheaper than an `indexOf` per
 * prefix (measured ~9 µs vs ~22 µs on 4 KB) and than a character loop with a dispatch table.
 *
 * The pattern is V8's own RegExp, not RE2: it is an alternation of literals behind a one-character
 * guard class, with no quantifier anywhere, so an attempt at one position compares at most the longest
 * literal and the pass is linear (V8 scans prose as fast as RE2, ~1.4 ns/byte). What RE2 cost was the
 * native call per match (~1 µs: result arrays and strings built across the binding), which made
 * trigger-dense text (`AKIA AKIA …`, `http://` × N) 12–16× as expensive per byte as prose; a V8 match
 * costs ~35 ns. Anything with a quantifier would need RE2 again.
 *
 * Findings span the whole token (prefix included) so redaction hides all of it; for credentials in
 * URLs only the password is spanned.
 */
import { checkDeadline, DEADLINE_EVERY } from "./deadline.ts";
import type { Finding, ScanOptions } from "./types.ts";
import type { NormalizedText } from "./normalize.ts";
import {
  alnumDash,
  awsSecretAfter,
  azureKeyAt,
  jwtAt,
  llmKeyAt,
  pemAt,
  type PemWalk,
  PREFIX_RULES,
  sendgridAt,
  tryRule,
  twilioAccountSids,
  twilioTokenAfter,
  urlCredentialsAt,
} from "./secret-detectors.ts";

/** What one scan's detectors share. */
interface ScanState {
  /** A Twilio context word was seen: account SIDs are reported. */
  twilio: boolean;
  /** Lines the last PEM walk read (see PemWalk): a BEGIN line inside them adds nothing. */
  readonly pem: PemWalk;
}

type Handler = (text: string, at: number, end: number, out: Finding[], st: ScanState) => void;

/**
 * Prefixes too short and common for the trigger pass ("SK" is in every word in capitals: a match for each
 * match would dominate); found with indexOf instead.
 */
const SHORT_PREFIXES = PREFIX_RULES.filter((r) => r.prefix.length < 3);

const TOKEN_START: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ...PREFIX_RULES.filter((r) => !r.prefix.startsWith("hooks.") && r.prefix.length >= 3).map((r): [string, Handler] => [
    r.prefix,
    (t, at, _e, out) => tryRule(r, t, at, out),
  ]),
  ["sk-", (t, at, _e, out) => llmKeyAt(t, at, out)],
  ["SG.", (t, at, _e, out) => sendgridAt(t, at, out)],
  ["eyJ", (t, at, _e, out) => jwtAt(t, at, out)],
]);

const ANYWHERE: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ...PREFIX_RULES.filter((r) => r.prefix.startsWith("hooks.")).map((r): [string, Handler] => [
    r.prefix,
    (t, at, _e, out) => tryRule(r, t, at, out),
  ]),
  ["://", (t, at, _e, out) => urlCredentialsAt(t, at, out)],
  ["-----BEGIN ", (t, at, _e, out, st) => pemAt(t, at, out, st.pem)],
]);

const AWS_KEYWORDS = [
  "aws_secret_access_key",
  "secret_access_key",
  "secretaccesskey",
  "aws_secret_key",
  "secret access key",
  "aws secret key",
  "aws_secret",
];
const AUTH_KEYWORDS = ["auth_token", "authtoken", "auth token"];

/** Case-insensitive keywords, keyed lowercase. */
const KEYWORDS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ["accountkey=", (t, _at, end, out) => azureKeyAt(t, end, 80, "azure_storage_key", out)],
  ["sharedaccesskey=", (t, _at, end, out) => azureKeyAt(t, end, 40, "azure_shared_access_key", out)],
  ...AWS_KEYWORDS.map((k): [string, Handler] => [k, (t, _at, end, out) => awsSecretAfter(t, end, out)]),
  ...AUTH_KEYWORDS.map((k): [string, Handler] => [
    k,
    (t, _at, end, out, st) => {
      st.twilio = true;
      twilioTokenAfter(t, end, out);
    },
  ]),
  [
    "twilio",
    (_t, _at, _e, _out, st) => {
      st.twilio = true;
    },
  ],
  [
    "account_sid",
    (_t, _at, _e, _out, st) => {
      st.twilio = true;
    },
  ],
]);

const REGEX_SPECIAL = new Set([".", "*", "+", "?", "^", "$", "{", "}", "(", ")", "|", "[", "]", "\\", "/"]);

function escapeRegex(s: string): string {
  let o = "";
  for (const ch of s) o += REGEX_SPECIAL.has(ch) ? `\\${ch}` : ch;
  return o;
}

/** Longest alternatives first: JavaScript alternation is leftmost-first. */
function alternation(words: Iterable<string>): string {
  return [...words]
    .sort((a, b) => b.length - a.length)
    .map(escapeRegex)
    .join("|");
}

/**
 * Token prefixes only where a token starts (guard: start of input or a character outside
 * [A-Za-z0-9_-], consumed as part of the match), so base64 blobs full of `eyJ`/`sk-` substrings
 * produce no matches at all; then markers and keywords anywhere. No quantifiers: see the module comment.
 * `u` keeps RE2's Unicode semantics: keywords fold case as Unicode does (the Kelvin sign is a `k`), and
 * the guard is a whole code point.
 */
const TRIGGERS = new RegExp(
  `(?:^|[^A-Za-z0-9_-])(${alternation(TOKEN_START.keys())})|${alternation(ANYWHERE.keys())}|(?i:${alternation(KEYWORDS.keys())})`,
  "gu",
);

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
 * Scan for credentials and keys in `text`. Tokens are case-sensitive, so this reads the original text;
 * `normalized` is accepted for the common scanner signature and not needed.
 * @example scanSecrets("token ghp_…")  // [{ type: "secret", subtype: "github_token", start: 6, … }]
 */
export function scanSecrets(text: string, _normalized?: NormalizedText, opts?: ScanOptions): Finding[] {
  const deadline = opts?.deadline;
  const out: Finding[] = [];
  const st: ScanState = { twilio: false, pem: { from: 0, until: 0 } };
  let work = 0;
  TRIGGERS.lastIndex = 0;
  for (let m = TRIGGERS.exec(text); m !== null; m = TRIGGERS.exec(text)) {
    const end = m.index + m[0].length;
    const prefix = m[1];
    if (prefix !== undefined) TOKEN_START.get(prefix)?.(text, end - prefix.length, end, out, st);
    else (ANYWHERE.get(m[0]) ?? KEYWORDS.get(m[0].toLowerCase()))?.(text, m.index, end, out, st);
    // the next match may need this match's last character as its token-start guard ("x://ghp_…")
    TRIGGERS.lastIndex = end - 1;
    if ((++work & DEADLINE_EVERY) === 0) checkDeadline(deadline);
  }
  for (const r of SHORT_PREFIXES) {
    for (let i = text.indexOf(r.prefix); i !== -1; i = text.indexOf(r.prefix, i + 1)) {
      if (i === 0 || !alnumDash(text.charCodeAt(i - 1))) tryRule(r, text, i, out);
      if ((++work & DEADLINE_EVERY) === 0) checkDeadline(deadline);
    }
  }
  if (st.twilio) twilioAccountSids(text, out);
  const min = opts?.minScore ?? 0;
  return dedupe(min > 0 ? out.filter((f) => f.score >= min) : out);
}

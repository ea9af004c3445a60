/**
 * Secrets scanner. One regex pass over the ORIGINAL text finds every trigger — token prefixes of the
 * declarative rules (`AKIA`, `ghp_`, `sk-proj-`, `xoxb-`, … see secret-rules/), structural markers
 * (`://`, `-----BEGIN `, `hooks.slack.com/services/`) and context words (`datadog`, `accountkey=`,
 * `password`, case-insensitive) — and each trigger runs its rules or hand-written detector
 * (secret-rules/engine.ts, secret-detectors.ts). One alternation is cheaper than an `indexOf` per
 * prefix (measured ~9 µs vs ~22 µs on 4 KB with 25 prefixes) and than a character loop with a dispatch
 * table. With ~530 literals 4 KB of prose takes ~20 µs (~8 µs with ~45): what costs is each guarded
 * group and each short unguarded literal, not the count of alternatives (dropping the 90 that extend
 * another changed nothing measurable), so there is one guarded group and markers under 4 characters
 * (`://`, `Q~`, `"d"`) are found with `indexOf`.
 *
 * A literal that contains another trigger's word (`x-postmark-server-token` holds `token`, the
 * prefix `secret_` holds `secret`) runs that word's handlers too: the pass consumes the longer literal,
 * so the shorter one is never matched on its own there.
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
  dockerAuthAt,
  type JwkWalk,
  jwkPrivateAt,
  jwtAt,
  pemAt,
  type PemWalk,
  type PuttyWalk,
  puttyAt,
  twilioAccountSids,
  twilioTokenAfter,
  urlCredentialsAt,
} from "./secret-detectors.ts";
import { tryContextRule, tryPrefixRule } from "./secret-rules/engine.ts";
import { GENERIC_WORDS, genericAssignmentAt, SECRET_RULES, type SecretRule } from "./secret-rules/index.ts";

/** What one scan's detectors share. */
interface ScanState {
  /** A Twilio context word was seen: account SIDs are reported. */
  twilio: boolean;
  /** Lines the last PEM walk read (see PemWalk): a BEGIN line inside them adds nothing. */
  readonly pem: PemWalk;
  readonly putty: PuttyWalk;
  readonly jwk: JwkWalk;
  /** Per prefix rule, how far its last long-body read went (see engine.ts). */
  readonly readUntil: Int32Array;
}

/**
 * `at`: where the literal starts; `end`: where it ends. Returns whether it found something. `wordsOnly`:
 * run only the context words in and around the literal (a token prefix right after `_` or `-` starts
 * no token).
 */
type Handler = (text: string, at: number, end: number, out: Finding[], st: ScanState, wordsOnly?: boolean) => boolean;

const PREFIX_RULES = SECRET_RULES.filter((r) => r.prefix !== undefined);
const RULE_INDEX: ReadonlyMap<SecretRule, number> = new Map(PREFIX_RULES.map((r, k) => [r, k]));

function prefixHandler(r: SecretRule): Handler {
  const idx = RULE_INDEX.get(r)!;
  return (t, at, _e, out, st) => tryPrefixRule(r, idx, t, at, out, st.readUntil);
}

/** Hand-written detectors behind a literal (the same prefix fallback applies: `eyJrIjoi` falls back to `eyJ`). */
const SPECIAL_TOKEN_START: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  [
    "eyJ",
    (t, at, _e, out) => {
      const n = out.length;
      jwtAt(t, at, out);
      return out.length > n;
    },
  ],
]);

const SPECIAL_ANYWHERE: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  [
    '"d"',
    (t, at, _e, out, st) => {
      jwkPrivateAt(t, at, out, st.jwk);
      return false;
    },
  ],
  [
    "://",
    (t, at, _e, out) => {
      urlCredentialsAt(t, at, out);
      return false;
    },
  ],
  [
    "-----BEGIN ",
    (t, at, _e, out, st) => {
      pemAt(t, at, out, st.pem);
      return false;
    },
  ],
  [
    "PuTTY-User-Key-File-",
    (t, at, _e, out, st) => {
      puttyAt(t, at, out, st.putty);
      return false;
    },
  ],
]);

/**
 * For each literal, the attempts at it: the rules (and detectors) of every literal that is a prefix
 * of it, longest first, until one finds its token.
 */
function prefixChains(rules: readonly SecretRule[], specials: ReadonlyMap<string, Handler>): Map<string, Handler[]> {
  const byPrefix = new Map<string, Handler[]>();
  for (const r of rules) {
    const list = byPrefix.get(r.prefix!) ?? [];
    list.push(prefixHandler(r));
    byPrefix.set(r.prefix!, list);
  }
  for (const [lit, h] of specials) byPrefix.set(lit, [...(byPrefix.get(lit) ?? []), h]);
  const literals = [...byPrefix.keys()].sort((a, b) => b.length - a.length);
  const chains = new Map<string, Handler[]>();
  for (const lit of literals)
    chains.set(
      lit,
      literals.filter((p) => lit.startsWith(p)).flatMap((p) => byPrefix.get(p)!),
    );
  return chains;
}

const TOKEN_START = prefixChains(
  PREFIX_RULES.filter((r) => !r.anywhere),
  SPECIAL_TOKEN_START,
);
const ANYWHERE = prefixChains(
  PREFIX_RULES.filter((r) => r.anywhere),
  SPECIAL_ANYWHERE,
);

// Context words: each word's handlers (context rules, the generic assignment reader, Twilio's flags).
const wordHandlers = new Map<string, Handler[]>();
function addWord(word: string, h: Handler): void {
  const w = word.toLowerCase();
  wordHandlers.set(w, [...(wordHandlers.get(w) ?? []), h]);
}
for (const r of SECRET_RULES)
  for (const w of r.context ?? []) addWord(w, (t, _at, end, out) => tryContextRule(r, t, end, out));
for (const w of GENERIC_WORDS) {
  addWord(w, (t, at, end, out) => {
    genericAssignmentAt(t, at, end, w, out);
    return false;
  });
}
const twilioContext: Handler = (_t, _at, _e, _out, st) => {
  st.twilio = true;
  return false;
};
for (const w of ["auth_token", "authtoken", "auth token"]) {
  addWord(w, (t, _at, end, out, st) => {
    st.twilio = true;
    twilioTokenAfter(t, end, out);
    return false;
  });
}
// Docker config `"auth": "<base64 user:password>"` (the generic reader also runs on `auth`; dedupe keeps this one)
addWord("auth", (t, at, _e, out) => {
  if (t.charCodeAt(at - 1) === 0x22 && t.charCodeAt(at + 4) === 0x22) dockerAuthAt(t, at - 1, out);
  return false;
});
addWord("twilio", twilioContext);
addWord("account_sid", twilioContext);

/**
 * Words are matched at a word start (after a character outside [A-Za-z0-9], so `DB_PASSWORD` counts);
 * inside camelCase identifiers (`dbPassword`, `clientSecret`, `awsSecretAccessKey`) their capitalized
 * spelling is matched anywhere, case-sensitively: an unguarded case-insensitive group would cost as
 * much per byte as the guarded one.
 */
const CAMEL_WORDS: ReadonlyMap<string, string> = new Map([
  ["Password", "password"],
  ["Passwd", "passwd"],
  ["Passphrase", "passphrase"],
  ["Secret", "secret"],
  ["Token", "token"],
  ["ApiKey", "apikey"],
  ["SecretAccessKey", "secretaccesskey"],
  // and in one-word upper-case names (`PGPASSWORD`, `GITHUBTOKEN`)
  ["PASSWORD", "password"],
  ["SECRET", "secret"],
  ["TOKEN", "token"],
]);

/** Whether `t` spells the lowercase ASCII word `w` at `at`, ignoring ASCII case (no copy). */
function spellsAt(t: string, at: number, w: string): boolean {
  if (at + w.length > t.length) return false;
  for (let k = 0; k < w.length; k++) {
    const u = t.charCodeAt(at + k);
    if ((u >= 0x41 && u <= 0x5a ? u | 0x20 : u) !== w.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * A literal's own handlers plus those of every word inside it (case-insensitively), each called with
 * that word's position, and of every longer word that starts with it when the text spells that word
 * there (`SCW` is a Scaleway prefix and `scw_secret_key` a context word: the pass matched the prefix).
 * Prefix chains stop at the first rule that finds its token; word handlers all run.
 */
function withInnerWords(literal: string, own: readonly Handler[], ownIsChain: boolean): Handler {
  const low = literal.toLowerCase();
  const inner: [number, number, Handler][] = [];
  const longer: [string, Handler][] = [];
  for (const [w, hs] of wordHandlers) {
    if (w === low && !ownIsChain) continue; // a word's own handlers are `own`; a prefix spelled as a word runs it
    if (w.length > low.length && w.startsWith(low)) for (const h of hs) longer.push([w, h]);
    for (let k = low.indexOf(w); k !== -1; k = low.indexOf(w, k + 1))
      for (const h of hs) inner.push([k, k + w.length, h]);
  }
  return (t, at, end, out, st, wordsOnly) => {
    let found = false;
    if (!wordsOnly) {
      for (const h of own) {
        if (h(t, at, end, out, st)) {
          found = true;
          if (ownIsChain) break;
        }
      }
    }
    for (const [a, b, h] of inner) h(t, at + a, at + b, out, st);
    for (const [w, h] of longer) if (spellsAt(t, at, w)) h(t, at, at + w.length, out, st);
    return found;
  };
}

const TOKEN_HANDLERS: ReadonlyMap<string, Handler> = new Map(
  [...TOKEN_START].map(([lit, chain]): [string, Handler] => [lit, withInnerWords(lit, chain, true)]),
);
const WORD_HANDLERS: ReadonlyMap<string, Handler> = new Map(
  [...wordHandlers].map(([w, hs]): [string, Handler] => [w, withInnerWords(w, hs, false)]),
);
const ANYWHERE_ALL: ReadonlyMap<string, Handler> = new Map([
  ...[...ANYWHERE].map(([lit, chain]): [string, Handler] => [lit, withInnerWords(lit, chain, true)]),
  ...[...CAMEL_WORDS].map(([camel, w]): [string, Handler] => [camel, WORD_HANDLERS.get(w)!]),
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
 * Markers shorter than this are found with `indexOf` instead (`Q~`, `-us`, `://`, `@o`, `:AA`): in the
 * alternation a short literal shortens every skip V8's lookahead can make, and one `indexOf` per
 * literal costs ~0.1 µs per 4 KB.
 */
const SHORT_MARKER = 4;
const ANYWHERE_HANDLERS: ReadonlyMap<string, Handler> = new Map(
  [...ANYWHERE_ALL].filter(([lit]) => lit.length >= SHORT_MARKER),
);
const SHORT_ANYWHERE: readonly (readonly [string, Handler])[] = [...ANYWHERE_ALL].filter(
  ([lit]) => lit.length < SHORT_MARKER,
);

/**
 * One guard for token prefixes and context words — start of input, a `\n`/`\r`/`\t` escape (text
 * inside a JSON or shell string) or a character outside [A-Za-z0-9], consumed as part of the match —
 * so base64 blobs full of `eyJ`/`sk-` substrings produce
 * no matches at all (each guarded group costs about as much as the rest of the pass: there is one).
 * A prefix right after `_` or `-` is not a token start (the loop checks). Then markers and camelCase
 * words anywhere. No quantifiers: see the module comment. `u` keeps RE2's Unicode semantics: words
 * fold case as Unicode does (the Kelvin sign is a `k`), and the guard is a whole code point.
 */
const TRIGGERS = new RegExp(
  `(?:^|\\\\[nrt]|[^A-Za-z0-9])(?:(${alternation(TOKEN_HANDLERS.keys())})|(?i:(${alternation(wordHandlers.keys())})))` +
    `|${alternation(ANYWHERE_HANDLERS.keys())}`,
  "gu",
);

const isGeneric = (f: Finding): boolean => f.subtype.startsWith("generic_");

/**
 * Drop generic assignments that overlap a provider format (`token: sk_test_…` is a Stripe test key at
 * its own, lower score, not a generic secret at 0.6), then findings contained in a higher-or-equal
 * scoring finding (e.g. a JWT inside a URL password). `found` is sorted by start.
 */
function dedupe(found: Finding[]): Finding[] {
  if (found.length < 2) return found;
  found.sort((a, b) => a.start - b.start || b.end - a.end || b.score - a.score);
  const drop = new Uint8Array(found.length);
  let lastEnd = -1; // of provider findings starting at or before this one
  for (let k = 0; k < found.length; k++) {
    const f = found[k]!;
    if (!isGeneric(f)) lastEnd = Math.max(lastEnd, f.end);
    else if (f.start < lastEnd) drop[k] = 1;
  }
  let nextStart = Number.POSITIVE_INFINITY; // of provider findings starting at or after this one
  for (let k = found.length - 1; k >= 0; k--) {
    const f = found[k]!;
    if (!isGeneric(f)) nextStart = Math.min(nextStart, f.start);
    else if (nextStart < f.end) drop[k] = 1;
  }
  const out: Finding[] = [];
  for (let k = 0; k < found.length; k++) {
    const f = found[k]!;
    if (drop[k] === 1) continue;
    const prev = out[out.length - 1];
    if (prev && f.start >= prev.start && f.end <= prev.end && prev.score >= f.score) continue;
    out.push(f);
  }
  return out;
}

const readUntil = new Int32Array(PREFIX_RULES.length);

/**
 * Scan for credentials and keys in `text`. Tokens are case-sensitive, so this reads the original text;
 * `normalized` is accepted for the common scanner signature and not needed.
 * @example scanSecrets("token ghp_…")  // [{ type: "secret", subtype: "github_token", start: 6, … }]
 */
export function scanSecrets(text: string, _normalized?: NormalizedText, opts?: ScanOptions): Finding[] {
  const deadline = opts?.deadline;
  const out: Finding[] = [];
  readUntil.fill(0); // scanning is synchronous: one table serves every scan
  const st: ScanState = {
    twilio: false,
    pem: { from: 0, until: 0 },
    putty: { found: -1, searched: false },
    jwk: { last: -1, next: -1, started: false },
    readUntil,
  };
  let work = 0;
  TRIGGERS.lastIndex = 0;
  for (let m = TRIGGERS.exec(text); m !== null; m = TRIGGERS.exec(text)) {
    const end = m.index + m[0].length;
    const prefix = m[1];
    const word = m[2];
    if (prefix !== undefined) {
      const at = end - prefix.length;
      const g = at > 0 ? text.charCodeAt(at - 1) : 0;
      TOKEN_HANDLERS.get(prefix)?.(text, at, end, out, st, g === 0x5f || g === 0x2d);
    } else if (word !== undefined) WORD_HANDLERS.get(word.toLowerCase())?.(text, end - word.length, end, out, st);
    else ANYWHERE_HANDLERS.get(m[0])?.(text, m.index, end, out, st);
    // the next match may need this match's last character as its token-start guard ("x://ghp_…")
    TRIGGERS.lastIndex = end - 1;
    if ((++work & DEADLINE_EVERY) === 0) checkDeadline(deadline);
  }
  for (const [lit, h] of SHORT_ANYWHERE) {
    for (let i = text.indexOf(lit); i !== -1; i = text.indexOf(lit, i + 1)) {
      h(text, i, i + lit.length, out, st);
      if ((++work & DEADLINE_EVERY) === 0) checkDeadline(deadline);
    }
  }
  if (st.twilio) twilioAccountSids(text, out);
  const min = opts?.minScore ?? 0;
  const kept = dedupe(out); // before the score filter: a low-scoring format still hides a generic finding over it
  return min > 0 ? kept.filter((f) => f.score >= min) : kept;
}

/** Every trigger literal, for the cost tests (hostile text made of triggers). */
export const TRIGGER_LITERALS: readonly string[] = [
  ...TOKEN_HANDLERS.keys(),
  ...ANYWHERE_ALL.keys(),
  ...wordHandlers.keys(),
];

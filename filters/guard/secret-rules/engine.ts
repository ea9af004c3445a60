/**
 * Runs one declarative rule (rule.ts) at a trigger. A prefix rule reads its body forward from the
 * prefix (at most `max + 1` characters) and its lead backwards (at most `lead.max`); a context rule
 * reads the first token of its shape within CONTEXT_WINDOW after the word. Both bounds are constants.
 * Bodies that may contain a token-start guard character (`/`, `+`, `.`) and run long (base64 blobs)
 * could be re-read from every trigger inside them; `readUntil` remembers how far each such rule read,
 * and a trigger inside that stretch is skipped (it would read a suffix of the same run).
 */
import type { Finding } from "../types.ts";
import { entropy, isAsciiAlnum, looksPlaceholder, spanTable } from "../text-util.ts";
import { allowed, pushFinding, tokenAfter } from "../secret-detectors.ts";
import { CONTEXT_WINDOW, type SecretRule } from "./rule.ts";

/** Bodies at least this long are tracked in `readUntil`. */
export const LONG_BODY = 256;

/**
 * Whether at least half the neighbours in `t[s, e)` differ by one (`abcdef123456…`, `0123456789abcdef…`):
 * a typed sequence, not a random body (random base62 does that for 1 pair in 31).
 */
export function mostlySequential(t: string, s: number, e: number): boolean {
  if (e - s < 8) return false;
  let steps = 0;
  for (let i = s + 1; i < e; i++) {
    const d = t.charCodeAt(i) - t.charCodeAt(i - 1);
    if (d === 1 || d === -1) steps++;
  }
  return steps * 2 >= e - s - 1;
}

function inTable(table: Uint8Array, u: number): boolean {
  return u < 128 && table[u] === 1;
}

/**
 * Try prefix rule `r` (number `idx`) with its prefix at `text[i]`. Pushes a finding and returns true
 * when the token is there.
 */
export function tryPrefixRule(
  r: SecretRule,
  idx: number,
  text: string,
  i: number,
  out: Finding[],
  readUntil: Int32Array,
): boolean {
  const prefix = r.prefix!;
  let start = i;
  if (r.lead) {
    const { table, min, max } = r.lead;
    let s = i;
    while (s > 0 && i - s < max && inTable(table, text.charCodeAt(s - 1))) s--;
    if (i - s < min || (s > 0 && inTable(table, text.charCodeAt(s - 1)))) return false;
    start = s;
  }
  const bodyStart = i + prefix.length;
  const long = r.max >= LONG_BODY;
  if (long && i < (readUntil[idx] ?? 0)) return false;
  const end = spanTable(text, bodyStart, bodyStart + r.max + 1, r.body);
  if (long) readUntil[idx] = end;
  const n = end - bodyStart;
  if (n < r.min || n > r.max) return false;
  if (end < text.length && isAsciiAlnum(text.charCodeAt(end))) return false;
  // the random part: the body, or the lead when that is the longer part (Mailchimp's 32 hex before `-us6`)
  const leadLonger = i - start > n;
  const rs = leadLonger ? start : bodyStart;
  const re = leadLonger ? i : end;
  if (re > rs && (entropy(text, rs, re) < r.entropy || looksPlaceholder(text, rs, re))) return false;
  if (mostlySequential(text, rs, re)) return false;
  if (r.shape && !r.shape(text, start, end)) return false;
  if (allowed(text, start, end)) return false;
  let score = r.score;
  if (r.checksum && r.checksum.verify(text, start, end) === false) score = r.unverified ?? r.score - 0.25;
  pushFinding(out, r.subtype, start, end, score);
  return true;
}

/** Try context rule `r` for a context word ending at `from`. */
export function tryContextRule(r: SecretRule, text: string, from: number, out: Finding[]): boolean {
  const tok = tokenAfter(text, from, Math.min(r.window ?? CONTEXT_WINDOW, 128), r.min, r.max, r.body);
  if (!tok) return false;
  const [s, e] = tok;
  if (entropy(text, s, e) < r.entropy || looksPlaceholder(text, s, e) || mostlySequential(text, s, e)) return false;
  if (r.shape && !r.shape(text, s, e)) return false;
  if (allowed(text, s, e)) return false;
  pushFinding(out, r.subtype, s, e, r.score);
  return true;
}

/**
 * Prompt-injection scanner: scored heuristics per attack class, over the normalized text.
 *
 * Classes (finding subtypes):
 *   instruction_override  override verb × instructions noun (+ prior/above/your qualifier), same clause, ≤ 7 words apart
 *   prompt_extraction     extraction verb × system-prompt / your-instructions / "the words above"
 *   role_hijack           "you are now", "act as", DAN-style personas, "developer mode" (noisy-OR of signals)
 *   template_token        chat-template / delimiter tokens and injected turn markers
 *   exfiltration          markdown/HTML images and links whose URL carries data; "send the history to …"
 *   tool_manipulation     tool-call JSON/XML in text, "call the tool …", "without telling the user"
 *   encoded_payload       base64 blobs that decode to an injection (rescanned once)
 *   learned_classifier    the learned tier (injection-model.ts), when no rule reaches the flagging score
 *   model                 the optional local model (see {@link setInjectionModel}) when it outscores the rules
 * Obfuscation (leetspeak, spaced letters, homoglyphs) raises a class's score; questions about the topic
 * ("how do I …", "what is a …") and quoted examples in text that discusses injection lower it.
 */
import { checkDeadline, DEADLINE_EVERY } from "./deadline.ts";
import type { Finding, ScanOptions } from "./types.ts";
import { type NormalizedText, normalize, toOriginal } from "./normalize.ts";
import { C } from "./injection-lexicon.ts";
import { findHits, POS_WORD } from "./injection-matcher.ts";
import { type Signal, templateSignals } from "./injection-patterns.ts";
import {
  exfiltration,
  extraction,
  fromSignals,
  HitIndex,
  type Occurrence,
  override,
  indirectInstruction,
  roleHijack,
  toolManipulation,
} from "./injection-rules.ts";
import { defaultLinearModel, type LinearInjectionModel } from "./injection-model.ts";
import { isBase64Char } from "./text-util.ts";

const OBFUSCATION_BONUS = 0.1;
const QUESTION_DAMPING = 0.6;
const DISCUSSION_DAMPING = 0.5;
const CROSS_CLASS_BOOST = 0.3;
/** Weaker occurrences are noise: they are neither reported nor allowed to boost other classes. */
const MIN_OCCURRENCE = 0.25;
/** Shortest base64 run decoded and rescanned (exported for scan.ts, which rescans such payloads alone). */
export const MIN_B64 = 20;
const MAX_B64_BLOBS = 8;
const MAX_B64_DECODED = 16 * 1024;

/** An optional local classifier: probability in [0, 1] that `text` is an injection. Must be synchronous. */
export type InjectionModel = (text: string) => number;

let model: InjectionModel | null = null;

/** The learned score at which the calibrated classifier flags (its ≤ 1 % FPR operating point). */
export const LEARNED_FLAG_SCORE = 0.5;

let learned: LinearInjectionModel | null = defaultLinearModel();

/** Replace (or with `null`, turn off) the learned tier; on by default with the committed model. */
export function setLearnedInjectionModel(m: LinearInjectionModel | null): void {
  learned = m;
}

/**
 * Install (or with `null`, remove) a local model. Off by default. Its score is used when it exceeds the
 * heuristic score for the text; a model that throws or returns a non-number is ignored for that text.
 */
export function setInjectionModel(fn: InjectionModel | null): void {
  model = fn;
}

/**
 * Runs of at least MIN_B64 base64 characters in `o`. Skips ahead: if the character MIN_B64-1 ahead is
 * not base64, no qualifying run can start before it, so most prose is looked at once every ~5 chars.
 */
function base64Runs(o: string, visit: (start: number, end: number) => boolean): void {
  const len = o.length;
  let i = 0;
  while (i + MIN_B64 <= len) {
    if (!isBase64Char(o.charCodeAt(i + MIN_B64 - 1))) {
      i += MIN_B64;
      continue;
    }
    let k = i + MIN_B64 - 2;
    while (k >= i && isBase64Char(o.charCodeAt(k))) k--;
    if (k >= i) {
      i = k + 1;
      continue;
    }
    let j = i + MIN_B64;
    while (j < len && isBase64Char(o.charCodeAt(j))) j++;
    let end = j;
    while (end < len && end - j < 2 && o.charCodeAt(end) === 0x3d) end++;
    if (!visit(i, end)) return;
    i = end + 1;
  }
}

/** Base64 blobs (original text: base64 is case-sensitive) that decode to text which itself scores as injection. */
function encoded(n: NormalizedText, out: Occurrence[], depth: number, deadline: number | undefined): void {
  if (depth > 0) return;
  const o = n.original;
  let blobs = 0;
  let decodedTotal = 0;
  base64Runs(o, (i, end) => {
    if (blobs >= MAX_B64_BLOBS || decodedTotal >= MAX_B64_DECODED) return false;
    blobs++;
    const text = decodePrintable(o.slice(i, Math.min(end, i + MAX_B64_DECODED * 2)));
    if (text === null) return true;
    decodedTotal += text.length;
    let best = 0;
    for (const f of scanInjectionAt(text, normalize(text, deadline), 0, depth + 1, deadline))
      if (f.score > best) best = f.score;
    if (best >= 0.4)
      out.push({
        subtype: "encoded_payload",
        score: Math.min(best + 0.1, 0.97),
        start: i,
        end,
        obf: true,
        original: true,
      });
    return true;
  });
}

function decodePrintable(b64: string): string | null {
  const buf = Buffer.from(b64, b64.includes("-") || b64.includes("_") ? "base64url" : "base64");
  if (buf.length < 12) return null;
  let printable = 0;
  for (const b of buf) if ((b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x0d || b === 0x09 || b >= 0x80) printable++;
  if (printable / buf.length < 0.9) return null;
  return buf.toString("utf8");
}

/** A quote opened earlier on the same line counts only this far back. */
const QUOTE_LOOKBACK = 500;
/** Occurrences checked by reading their line, before {@link Quotes} indexes the whole text. */
const DIRECT_QUOTE_CHECKS = 8;

function isDoubleQuote(u: number): boolean {
  return u === 0x22 || u === 0xab || u === 0xbb || u === 0x300c || u === 0x300d;
}

/**
 * "Is `[start, end)` inside quotes on its line?" for the occurrences of one text. The first few read
 * back up to QUOTE_LOOKBACK characters; after that, quote parities (prefix sums mod 2) and line starts
 * are indexed once, so each check is O(log n): occurrences packed along one long line made this
 * O(n · 500), and the `lastIndexOf("\n")` before it O(n) per occurrence when the text had no newline.
 */
class Quotes {
  readonly #t: string;
  #direct = 0;
  /** Bit 0: odd number of double quotes in t[0, k); bit 1: odd number of backticks. */
  #parity: Uint8Array | null = null;
  #newlines: number[] = [];

  constructor(t: string) {
    this.#t = t;
  }

  inside(start: number, end: number): boolean {
    const t = this.#t;
    if (t.charCodeAt(start) === 0x0a) {
      // its line starts after it: no quote before it on its line
    } else if (this.#parity === null && this.#direct++ < DIRECT_QUOTE_CHECKS) {
      let ls = Math.max(start - QUOTE_LOOKBACK, 0);
      for (let k = start - 1; k >= ls; k--)
        if (t.charCodeAt(k) === 0x0a) {
          ls = k + 1;
          break;
        }
      let dq = 0;
      let bt = 0;
      for (let k = ls; k < start; k++) {
        const u = t.charCodeAt(k);
        if (isDoubleQuote(u)) dq++;
        else if (u === 0x60) bt++;
      }
      if (dq % 2 === 1 || bt % 2 === 1) return true;
    } else {
      if (this.#parity === null) this.#index();
      const nl = this.#newlines;
      let lo = 0;
      let hi = nl.length; // first newline at or after start
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((nl[mid] ?? 0) < start) lo = mid + 1;
        else hi = mid;
      }
      const ls = Math.max(lo > 0 ? (nl[lo - 1] ?? 0) + 1 : 0, start - QUOTE_LOOKBACK);
      const p = this.#parity!;
      if (((p[start] ?? 0) ^ (p[ls] ?? 0)) !== 0) return true;
    }
    const before = t.charCodeAt(start - 1) === 0x27 || t.charCodeAt(start - 2) === 0x27;
    const after = t.charCodeAt(end) === 0x27 || t.charCodeAt(end + 1) === 0x27;
    return before && after;
  }

  #index(): void {
    const t = this.#t;
    const p = new Uint8Array(t.length + 1);
    let bits = 0;
    for (let k = 0; k < t.length; k++) {
      const u = t.charCodeAt(k);
      if (isDoubleQuote(u)) bits ^= 1;
      else if (u === 0x60) bits ^= 2;
      else if (u === 0x0a) this.#newlines.push(k);
      p[k + 1] = bits;
    }
    this.#parity = p;
  }
}

/** Whether the normalized span `[s, e)` contains a lookalike folded inside a mixed-script word. */
function homoglyphs(n: NormalizedText, s: number, e: number): boolean {
  const h = n.homoglyphs;
  if (h === undefined) return false;
  let lo = 0;
  let hi = h.length; // ascending: the first at or after s
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((h[mid] ?? 0) < s) lo = mid + 1;
    else hi = mid;
  }
  return lo < h.length && (h[lo] ?? e) < e;
}

function scanInjectionAt(
  text: string,
  n: NormalizedText,
  minScore: number,
  depth: number,
  deadline: number | undefined,
): Finding[] {
  const t = n.text;
  const ix = new HitIndex(findHits(t, deadline));
  checkDeadline(deadline);
  const occ: Occurrence[] = [];
  override(ix, t, occ);
  extraction(ix, occ);
  roleHijack(ix, n, occ);
  indirectInstruction(ix, t, occ);
  const tpl: Signal[] = [];
  templateSignals(t, tpl);
  fromSignals("template_token", tpl, occ);
  exfiltration(ix, t, occ);
  toolManipulation(ix, t, occ);
  encoded(n, occ, depth, deadline);

  checkDeadline(deadline);
  let discussed = false;
  for (const h of ix.hits) if ((h.bits & C.META) !== 0) discussed = true;
  const quotes = new Quotes(t);
  const classMax = new Map<string, number>();
  const findings: Finding[] = [];
  let work = 0;
  for (const o of occ) {
    if ((++work & DEADLINE_EVERY) === 0) checkDeadline(deadline);
    if (o.score < MIN_OCCURRENCE) continue;
    const [start, end] = o.original ? [o.start, o.end] : toOriginal(n, o.start, o.end);
    let score = o.score;
    if (o.obf || (!o.original && homoglyphs(n, o.start, o.end))) score += OBFUSCATION_BONUS;
    if (!o.original && o.subtype !== "exfiltration" && o.subtype !== "tool_manipulation") {
      const a = o.anchor;
      if (a !== undefined && ix.find(C.META_Q, a.pos - 12 * POS_WORD, a.pos, a.clause) !== undefined)
        score *= QUESTION_DAMPING;
      if (discussed && quotes.inside(o.start, o.end)) score *= DISCUSSION_DAMPING;
    }
    score = Math.min(score, 0.99);
    findings.push({ type: "prompt_injection", subtype: o.subtype, start, end, score });
    if (score > (classMax.get(o.subtype) ?? 0)) classMax.set(o.subtype, score);
  }
  // independent classes agreeing is stronger evidence than either alone
  if (classMax.size >= 2) {
    for (let k = 0; k < findings.length; k++) {
      const f = findings[k]!;
      let other = 0;
      for (const [sub, m] of classMax) if (sub !== f.subtype && m >= 0.3 && m > other) other = m;
      if (other > 0) findings[k] = { ...f, score: Math.min(0.99, 1 - (1 - f.score) * (1 - CROSS_CLASS_BOOST * other)) };
    }
  }
  if (depth === 0 && learned !== null) applyLearned(learned, n, findings, minScore, deadline);
  if (depth === 0 && model !== null) applyModel(text, findings);
  return merge(findings).filter((f) => f.score >= minScore && f.score > 0);
}

function applyLearned(
  m: LinearInjectionModel,
  n: NormalizedText,
  findings: Finding[],
  minScore: number,
  deadline: number | undefined,
): void {
  const flag = Math.max(minScore, LEARNED_FLAG_SCORE);
  for (const f of findings) if (f.score >= flag) return;
  checkDeadline(deadline);
  const r = m.score(n, deadline);
  if (!(r.score >= flag)) return;
  const [start, end] = toOriginal(n, r.start, r.end);
  findings.push({
    type: "prompt_injection",
    subtype: "learned_classifier",
    start,
    end,
    score: Math.min(r.score, 0.99),
  });
}

function applyModel(text: string, findings: Finding[]): void {
  let m: number;
  try {
    m = model ? model(text) : Number.NaN;
  } catch {
    return;
  }
  if (typeof m !== "number" || !Number.isFinite(m)) return;
  let best = 0;
  for (const f of findings) if (f.score > best) best = f.score;
  if (m > best)
    findings.push({
      type: "prompt_injection",
      subtype: "model",
      start: 0,
      end: text.length,
      score: Math.min(Math.max(m, 0), 1),
    });
}

/** Overlapping findings of one subtype merge into one: the union of their spans, the highest score. */
function merge(fs: Finding[]): Finding[] {
  fs.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Finding[] = [];
  const last = new Map<string, number>(); // subtype → index in `out` of its last finding
  for (const f of fs) {
    const k = last.get(f.subtype);
    const prev = k === undefined ? undefined : out[k];
    if (k !== undefined && prev !== undefined && f.start < prev.end) {
      out[k] = { ...prev, end: Math.max(prev.end, f.end), score: Math.max(prev.score, f.score) };
      continue;
    }
    last.set(f.subtype, out.length);
    out.push(f);
  }
  return out;
}

/**
 * Scan for prompt injection. Scores are in [0, 1]; compare with the route's threshold (default 0.5).
 * @example scanInjection("Ignore all previous instructions", normalize(…))[0].subtype // "instruction_override"
 */
export function scanInjection(text: string, normalized?: NormalizedText, opts?: ScanOptions): Finding[] {
  const deadline = opts?.deadline;
  return scanInjectionAt(text, normalized ?? normalize(text, deadline), opts?.minScore ?? 0, 0, deadline);
}

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
 *   model                 the optional local model (see {@link setInjectionModel}) when it outscores the rules
 * Obfuscation (leetspeak, spaced letters, homoglyphs) raises a class's score; questions about the topic
 * ("how do I …", "what is a …") and quoted examples in text that discusses injection lower it.
 */
import type { Finding, ScanOptions } from "./types.ts";
import { type NormalizedText, normalize, toOriginal } from "./normalize.ts";
import { C } from "./injection-lexicon.ts";
import { findHits, type Hit } from "./injection-matcher.ts";
import { exfilSignals, type Signal, templateSignals, toolSignals } from "./injection-patterns.ts";
import { isBase64Char } from "./text-util.ts";

/** Words apart (positions) within which a verb and its object are paired. */
const WINDOW = 7;
const OBFUSCATION_BONUS = 0.1;
const QUESTION_DAMPING = 0.6;
const DISCUSSION_DAMPING = 0.5;
const CROSS_CLASS_BOOST = 0.3;
/** Weaker occurrences are noise: they are neither reported nor allowed to boost other classes. */
const MIN_OCCURRENCE = 0.25;
const MIN_B64 = 20;
const MAX_B64_BLOBS = 8;
const MAX_B64_DECODED = 16 * 1024;

/** An optional local classifier: probability in [0, 1] that `text` is an injection. Must be synchronous. */
export type InjectionModel = (text: string) => number;

let model: InjectionModel | null = null;

/**
 * Install (or with `null`, remove) a local model. Off by default. Its score is used when it exceeds the
 * heuristic score for the text; a model that throws or returns a non-number is ignored for that text.
 */
export function setInjectionModel(fn: InjectionModel | null): void {
  model = fn;
}

interface Occurrence {
  subtype: string;
  score: number;
  start: number;
  end: number;
  obf: boolean;
}

/** Hits ordered by position, with helpers for "is there a hit with these bits between positions a and b". */
class HitIndex {
  readonly hits: Hit[];
  constructor(hits: Hit[]) {
    this.hits = hits.slice().sort((a, b) => a.pos - b.pos);
  }
  lower(pos: number): number {
    let lo = 0;
    let hi = this.hits.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.hits[mid]?.pos ?? 0) < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /**
   * First hit with any of `bits` in clause `clause` with pos in [a, b], or undefined. Hits inside
   * `except`'s span are skipped ("system" inside "system prompt" does not qualify it).
   */
  find(bits: number, a: number, b: number, clause: number, except?: Hit): Hit | undefined {
    for (let k = this.lower(a); k < this.hits.length; k++) {
      const h = this.hits[k]!;
      if (h.pos > b) break;
      if (except !== undefined && h.start >= except.start && h.start < except.end) continue;
      if (h.clause === clause && (h.bits & bits) !== 0) return h;
    }
    return undefined;
  }
  near(h: Hit, w: number): Hit[] {
    const out: Hit[] = [];
    for (let k = this.lower(h.pos - w); k < this.hits.length; k++) {
      const o = this.hits[k]!;
      if (o.pos > h.pos + w) break;
      if (o !== h && o.clause === h.clause) out.push(o);
    }
    return out;
  }
}

const GAP_FILLERS = new Set(["the", "a", "an", "of", "all", "this", "that", "these", "those", "any", "every", "and", "just", "please", "everything"]);

function onlyFillersBetween(t: string, a: number, b: number): boolean {
  if (b - a > 40) return false;
  for (const w of t.slice(a, b).split(/[\s,]+/)) if (w !== "" && !GAP_FILLERS.has(w)) return false; // short, bounded gap
  return true;
}

function override(ix: HitIndex, t: string, out: Occurrence[]): void {
  for (const v of ix.hits) {
    if ((v.bits & (C.OVERRIDE | C.FOLLOW)) === 0) continue;
    const negated = ix.find(C.NEG, v.pos - 2.01, v.pos - 0.01, v.clause, v) !== undefined;
    if ((v.bits & C.OVERRIDE) !== 0 ? negated : !negated) continue;
    let best = 0;
    let s = v.start;
    let e = v.end;
    let obf = v.obf;
    for (const h of ix.near(v, WINDOW)) {
      const lo = Math.min(v.pos, h.pos) - 2.01;
      const hi = Math.max(v.pos, h.pos);
      let sc = 0;
      if ((h.bits & C.SYSPROMPT) !== 0) sc = 0.9;
      else if ((h.bits & C.INSTR) !== 0) {
        if (ix.find(C.SELF, lo, hi, v.clause) !== undefined) sc = 0.35;
        else sc = ix.find(C.PRIOR | C.POSS | C.ALL, lo, hi, v.clause, h) !== undefined ? 0.9 : 0.45;
      } else if ((h.bits & C.ALL) !== 0 && h.pos > v.pos) {
        if (ix.find(C.PRIOR | C.NOMINAL, h.pos + 0.01, h.pos + 3, v.clause) !== undefined) sc = 0.75;
      } else if ((h.bits & C.NOMINAL) !== 0 && h.pos > v.pos && h.pos - v.pos <= 3.5 && onlyFillersBetween(t, v.end, h.start)) sc = 0.7;
      if (sc > best) {
        best = sc;
        s = Math.min(v.start, h.start);
        e = Math.max(v.end, h.end);
        obf = v.obf || h.obf;
      }
    }
    if (best > 0) out.push({ subtype: "instruction_override", score: best, start: s, end: e, obf });
  }
  for (const n of ix.hits) {
    if ((n.bits & C.NEW) === 0) continue;
    const instr = ix.find(C.INSTR, n.pos + 0.01, n.pos + 2, n.clause);
    if (!instr) continue;
    const poss = ix.find(C.POSS, n.pos - 2, n.pos, n.clause) !== undefined;
    out.push({ subtype: "instruction_override", score: poss ? 0.45 : 0.35, start: n.start, end: instr.end, obf: n.obf || instr.obf });
  }
}

function extraction(ix: HitIndex, out: Occurrence[]): void {
  for (const x of ix.hits) {
    if ((x.bits & C.EXTRACT) === 0) continue;
    const strong = x.weight >= 1;
    let best = 0;
    let s = x.start;
    let e = x.end;
    let obf = x.obf;
    for (const h of ix.near(x, WINDOW)) {
      const lo = Math.min(x.pos, h.pos) - 2.01;
      const hi = Math.max(x.pos, h.pos);
      let sc = 0;
      if ((h.bits & C.SYSPROMPT) !== 0) {
        const qual = ix.find(C.POSS | C.PRIOR | C.VERBATIM, lo, hi, x.clause, h) !== undefined;
        sc = qual ? (strong ? 0.9 : 0.85) : strong ? 0.55 : 0.35;
      } else if ((h.bits & C.INSTR) !== 0) {
        const poss = ix.find(C.POSS, lo, hi, x.clause) !== undefined;
        const prior = ix.find(C.PRIOR | C.VERBATIM, lo, hi + 2, x.clause, h) !== undefined;
        if (strong) sc = poss && prior ? 0.85 : poss || prior ? 0.75 : 0.3;
        else sc = poss ? (prior ? 0.7 : 0.45) : 0.2;
      } else if ((h.bits & (C.TEXT | C.ALL)) !== 0 && h.pos > x.pos) {
        if (ix.find(C.PRIOR | C.NOMINAL, h.pos + 0.01, h.pos + 3, x.clause) !== undefined) sc = strong ? 0.65 : 0.4;
      }
      if (sc > best) {
        best = sc;
        s = Math.min(x.start, h.start);
        e = Math.max(x.end, h.end);
        obf = x.obf || h.obf;
      }
    }
    if (best === 0) continue;
    if (ix.find(C.VERBATIM, x.pos - WINDOW, x.pos + WINDOW * 2, x.clause) !== undefined) best += 0.1;
    out.push({ subtype: "prompt_extraction", score: Math.min(best, 0.95), start: s, end: e, obf });
  }
}

/** 1 - Π(1 - w) over distinct signals, each counted once at its highest weight. */
function noisyOr(weights: Map<number | string, number>): number {
  let p = 1;
  for (const w of weights.values()) p *= 1 - w;
  return 1 - p;
}

function roleHijack(ix: HitIndex, n: NormalizedText, out: Occurrence[]): void {
  const weights = new Map<number | string, number>();
  let s = Number.POSITIVE_INFINITY;
  let e = -1;
  let anchor = false;
  let obf = false;
  for (const h of ix.hits) {
    if ((h.bits & (C.ROLE | C.PERSONA)) === 0) continue;
    let w = h.weight;
    if (h.end - h.start === 3 && n.text.startsWith("dan", h.start)) {
      const [os, oe] = toOriginal(n, h.start, h.end);
      w = n.original.slice(os, oe) === "DAN" ? 0.45 : 0.1; // the persona is written in capitals; "Dan" is a name
    }
    if (w > (weights.get(h.id) ?? 0)) weights.set(h.id, w);
    if (w >= 0.25) anchor = true;
    s = Math.min(s, h.start);
    e = Math.max(e, h.end);
    obf ||= h.obf;
  }
  if (!anchor) return;
  out.push({ subtype: "role_hijack", score: Math.min(noisyOr(weights), 0.97), start: s, end: e, obf });
}

function fromSignals(subtype: string, signals: readonly Signal[], out: Occurrence[]): void {
  if (signals.length === 0) return;
  const weights = new Map<number | string, number>();
  let s = Number.POSITIVE_INFINITY;
  let e = -1;
  for (const g of signals) {
    if (g.weight > (weights.get(g.kind) ?? 0)) weights.set(g.kind, g.weight);
    s = Math.min(s, g.start);
    e = Math.max(e, g.end);
  }
  out.push({ subtype, score: Math.min(noisyOr(weights), 0.97), start: s, end: e, obf: false });
}

function toolManipulation(ix: HitIndex, t: string, out: Occurrence[]): void {
  const signals: Signal[] = [];
  toolSignals(t, signals);
  for (const h of ix.hits) {
    if ((h.bits & C.STEALTH) !== 0) signals.push({ kind: `stealth:${h.id}`, weight: h.weight, start: h.start, end: h.end });
    if ((h.bits & C.CALL) !== 0) {
      const tool = ix.find(C.TOOL, h.pos - 3, h.pos + 3, h.clause, h);
      if (tool) signals.push({ kind: "call_tool", weight: 0.35, start: Math.min(h.start, tool.start), end: Math.max(h.end, tool.end) });
    }
  }
  fromSignals("tool_manipulation", signals, out);
}

function exfiltration(ix: HitIndex, t: string, out: Occurrence[]): void {
  const signals: Signal[] = [];
  exfilSignals(t, signals);
  for (const g of signals) out.push({ subtype: "exfiltration", score: g.weight, start: g.start, end: g.end, obf: false });
  for (const h of ix.hits) {
    if ((h.bits & C.SEND) === 0) continue;
    const data = ix.find(C.DATA, h.pos + 0.01, h.pos + 4, h.clause, h);
    if (!data) continue;
    const url = t.indexOf("http", data.end);
    const w = url !== -1 && url - data.end < 100 ? 0.65 : 0.45;
    out.push({ subtype: "exfiltration", score: w, start: h.start, end: data.end, obf: h.obf || data.obf });
  }
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
function encoded(n: NormalizedText, out: Occurrence[], depth: number): void {
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
    for (const f of scanInjectionAt(text, normalize(text), 0, depth + 1)) if (f.score > best) best = f.score;
    // start/end are original offsets already: stored negated so the caller does not map them again
    if (best >= 0.4) out.push({ subtype: "encoded_payload", score: Math.min(best + 0.1, 0.97), start: -1 - i, end: -1 - end, obf: true });
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

function insideQuotes(t: string, start: number, end: number): boolean {
  const ls = Math.max(t.lastIndexOf("\n", start) + 1, start - 500);
  let dq = 0;
  let bt = 0;
  for (let k = ls; k < start; k++) {
    const u = t.charCodeAt(k);
    if (u === 0x22 || u === 0xab || u === 0xbb || u === 0x300c || u === 0x300d) dq++;
    else if (u === 0x60) bt++;
  }
  if (dq % 2 === 1 || bt % 2 === 1) return true;
  const before = t.charCodeAt(start - 1) === 0x27 || t.charCodeAt(start - 2) === 0x27;
  const after = t.charCodeAt(end) === 0x27 || t.charCodeAt(end + 1) === 0x27;
  return before && after;
}

/** Whether the normalized span `[s, e)` contains a lookalike folded inside a mixed-script word. */
function homoglyphs(n: NormalizedText, s: number, e: number): boolean {
  const h = n.homoglyphs;
  if (h === undefined) return false;
  for (const p of h) if (p >= s && p < e) return true;
  return false;
}

function scanInjectionAt(text: string, n: NormalizedText, minScore: number, depth: number): Finding[] {
  const t = n.text;
  const ix = new HitIndex(findHits(t));
  const occ: Occurrence[] = [];
  override(ix, t, occ);
  extraction(ix, occ);
  roleHijack(ix, n, occ);
  const tpl: Signal[] = [];
  templateSignals(t, tpl);
  fromSignals("template_token", tpl, occ);
  exfiltration(ix, t, occ);
  toolManipulation(ix, t, occ);
  encoded(n, occ, depth);

  let discussed = false;
  for (const h of ix.hits) if ((h.bits & C.META) !== 0) discussed = true;
  const classMax = new Map<string, number>();
  const findings: Finding[] = [];
  for (const o of occ) {
    if (o.score < MIN_OCCURRENCE) continue;
    let start: number;
    let end: number;
    if (o.start < 0) [start, end] = [-1 - o.start, -1 - o.end];
    else [start, end] = toOriginal(n, o.start, o.end);
    let score = o.score;
    if (o.obf || (o.start >= 0 && homoglyphs(n, o.start, o.end))) score += OBFUSCATION_BONUS;
    if (o.start >= 0 && o.subtype !== "exfiltration" && o.subtype !== "tool_manipulation") {
      const clauseHit = ix.hits.find((h) => h.start <= o.start && h.end >= o.start);
      if (clauseHit && ix.find(C.META_Q, clauseHit.pos - 12, clauseHit.pos, clauseHit.clause) !== undefined) score *= QUESTION_DAMPING;
      if (discussed && insideQuotes(t, o.start, o.end)) score *= DISCUSSION_DAMPING;
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
  if (depth === 0 && model !== null) applyModel(text, findings);
  return dedupe(findings.filter((f) => f.score >= minScore && f.score > 0));
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
  if (m > best) findings.push({ type: "prompt_injection", subtype: "model", start: 0, end: text.length, score: Math.min(Math.max(m, 0), 1) });
}

/** One finding per subtype and overlapping span: keep the higher score. */
function dedupe(fs: Finding[]): Finding[] {
  fs.sort((a, b) => a.start - b.start || b.score - a.score);
  const out: Finding[] = [];
  for (const f of fs) {
    const dup = out.find((g) => g.subtype === f.subtype && f.start < g.end && g.start < f.end);
    if (dup) continue;
    out.push(f);
  }
  return out;
}

/**
 * Scan for prompt injection. Scores are in [0, 1]; compare with the route's threshold (default 0.5).
 * @example scanInjection("Ignore all previous instructions", normalize(…))[0].subtype // "instruction_override"
 */
export function scanInjection(text: string, normalized?: NormalizedText, opts?: ScanOptions): Finding[] {
  return scanInjectionAt(text, normalized ?? normalize(text), opts?.minScore ?? 0, 0);
}

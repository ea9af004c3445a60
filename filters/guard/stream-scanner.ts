/**
 * Scanning a streamed response (text deltas at SSE event boundaries) without a silent bypass.
 *
 * Window: every push scans `context + held`, where `context` is the last `window` (≥ the longest
 * pattern, default 512) characters already released — extended back to a space, so it never starts
 * inside a token — and `held` is text received but not yet released. A match that straddles event
 * boundaries is therefore seen whole, and memory stays bounded by `window + 128 + maxHold` (plus the
 * delta being pushed), whatever the stream length.
 *
 * Incremental: a push is scanned only once the text pushed since the last scan is at least a quarter of the
 * context (and holds a word boundary, or `maxHold` is reached): each scan covers `context + held` ≤ about
 * 5 × what is new, so every character is scanned a bounded number of times (≤ ~5 once the context is
 * full, instead of once per pushed delta — a 64-word stream of one word per event scanned each word ~60
 * times). Early in a stream the context is short, so scans, and releases, follow every word; later, text
 * is released in steps of ~`window / 4` characters (about a line). Every finding of up to `window`
 * characters still lies whole inside one scan: consecutive scans overlap by the whole context.
 *
 * Hold-back: text is released only up to a point where nothing could still turn into a finding —
 * before the trailing unfinished token (a secret is one token), before a trailing run of digit groups
 * (cards, IBANs, phones are written with spaces), before an unterminated `-----BEGIN … KEY-----`, and
 * never inside a finding to be redacted. So a secret split across events is complete, and redacted,
 * before any part of it leaves. Released text is handed back per pushed item (one per SSE event), in
 * order, so a proxy can forward untouched events byte-for-byte and rewrite only events that changed;
 * the cost is a delay of about one word.
 *
 * Block: a finding whose scanner action is `block` ends the stream (the caller sends the provider's
 * error event). A redaction that would have to reach into already-released text (`maxHold` forced a
 * release mid-token — e.g. a private key longer than `maxHold` — or a context word arrived after its
 * value) cannot be honoured and also blocks: fail closed, never a partial leak.
 *
 * Findings: block findings are returned with the block; redact/annotate findings once, when the text
 * they cover has been released. Offsets are into the whole stream (all pushed text, concatenated).
 *
 * @example
 *   const s = new StreamScanner<SseEvent>({ policy });
 *   const step = s.push(delta, ev);
 *   if (step.action === "block") return endWithError(step.findings);
 *   for (const r of step.released) forward(r.changed ? rewrite(r.tag, r.text) : r.tag.raw);
 */
import { DEFAULT_GUARD_POLICY, type GuardPolicy } from "./policy.ts";
import { actionFor, type RedactStyle, redactionLabel, scanText } from "./scan.ts";
import { isDigit, isSpace } from "./text-util.ts";
import type { Finding } from "./types.ts";

export const DEFAULT_WINDOW = 512;
/** Holds a whole RSA-4096 PEM block (~3.3 KB) so it can be redacted rather than blocked. */
export const DEFAULT_MAX_HOLD = 4096;
/** A scan waits for new text of at least context ÷ this (see the module comment). */
const CONTEXT_PER_SCAN = 4;
/** How far back a run of digit groups (card, IBAN, phone) is held. */
const NUMBER_RUN_MAX = 64;

export interface StreamScannerOptions {
  readonly policy?: GuardPolicy;
  /** Characters of released text kept as matching context; at least the longest pattern. */
  readonly window?: number;
  /** Most characters held back before a forced release. */
  readonly maxHold?: number;
  readonly redactStyle?: RedactStyle;
  /** Wall-time budget per push/end scan (ms); over it the scan throws `guard.scan_timeout`. Default: none. */
  readonly budgetMs?: number;
}

export interface Released<T> {
  readonly tag: T;
  /** The item's text as it may be sent: the original, or with redactions applied. */
  readonly text: string;
  readonly changed: boolean;
}

export type StreamStep<T> =
  | { readonly action: "pass"; readonly released: Released<T>[]; readonly findings: Finding[] }
  | {
      readonly action: "block";
      readonly findings: Finding[];
      /** What may still go out before the stream ends (text before the first blocking finding). */
      readonly released?: Released<T>[];
    };

interface Item<T> {
  readonly tag: T;
  readonly start: number;
  readonly end: number;
}

interface Span {
  readonly start: number;
  readonly end: number;
  readonly type: Finding["type"];
  /** What a label redaction writes (scan.ts redactionLabel). */
  readonly name: string;
}

/** Shared answers that carry nothing (never written to: a step's lists are only read). */
const BLOCKED: StreamStep<never> = Object.freeze({ action: "block", findings: Object.freeze([]) as never });
const NOTHING_YET: StreamStep<never> = Object.freeze({
  action: "pass",
  released: Object.freeze([]) as never,
  findings: Object.freeze([]) as never,
});

export class StreamScanner<T = undefined> {
  readonly #policy: GuardPolicy;
  readonly #window: number;
  readonly #maxHold: number;
  readonly #style: RedactStyle;
  readonly #budgetMs: number | undefined;
  #ctx = ""; // released original text, last `window` chars
  #held = ""; // received, unreleased
  #released = 0; // stream offset where #held starts
  #items: Item<T>[] = [];
  /**
   * Redactions already (partly) applied, whole: a finding whose start has left the context window can no
   * longer be detected, but the rest of it must still be masked when released.
   */
  #redacted: Span[] = [];
  #reported = new Set<string>();
  #blocked: Finding[] | null = null;
  /** Characters pushed since the last scan, and whether they hold a word boundary. */
  #fresh = 0;
  #freshBoundary = false;
  #scanned = 0;

  constructor(opts: StreamScannerOptions = {}) {
    this.#policy = opts.policy ?? DEFAULT_GUARD_POLICY;
    this.#window = opts.window ?? DEFAULT_WINDOW;
    this.#maxHold = opts.maxHold ?? DEFAULT_MAX_HOLD;
    this.#style = opts.redactStyle ?? "label";
    this.#budgetMs = opts.budgetMs;
    if (this.#budgetMs !== undefined && !(this.#budgetMs > 0)) throw new TypeError("budgetMs must be > 0");
    if (!(Number.isInteger(this.#window) && this.#window >= 64)) throw new TypeError("window must be an integer ≥ 64");
    if (!(Number.isInteger(this.#maxHold) && this.#maxHold >= this.#window))
      throw new TypeError("maxHold must be an integer ≥ window");
  }

  /** Stream offset of the first unreleased character. */
  get released(): number {
    return this.#released;
  }

  /** Characters handed to the scanners so far (context rescans included): the incremental-scan bound. */
  get scanned(): number {
    return this.#scanned;
  }

  /** Characters held in memory (context + unreleased): bounded by `window + 128 + maxHold` plus one push. */
  get buffered(): number {
    return this.#ctx.length + this.#held.length;
  }

  /** Add one item's text (one SSE event's delta; may be empty) and release what is safe. */
  push(text: string, tag: T): StreamStep<T> {
    if (this.#blocked) return BLOCKED;
    this.#append(text, tag);
    return this.#due() ? this.#step(false) : NOTHING_YET;
  }

  /**
   * Add one item's text without scanning yet, when more of the same chunk follows: the scan waits for
   * {@link flush} (or for `maxHold` characters held), so a chunk of many events is scanned once rather than
   * once per event. `add`s then `flush` release what `push`es would by the end of the chunk, from fewer,
   * longer scans (each finding still lies whole inside one).
   */
  add(text: string, tag: T): StreamStep<T> {
    if (this.#blocked) return BLOCKED;
    this.#append(text, tag);
    return this.#held.length >= this.#maxHold ? this.#step(false) : NOTHING_YET;
  }

  /** After {@link add}s: scan and release as a `push` of their text would have. */
  flush(): StreamStep<T> {
    if (this.#blocked) return BLOCKED;
    return this.#fresh > 0 && this.#due() ? this.#step(false) : NOTHING_YET;
  }

  #append(text: string, tag: T): void {
    const start = this.#released + this.#held.length;
    this.#items.push({ tag, start, end: start + text.length });
    this.#held += text;
    this.#fresh += text.length;
    if (!this.#freshBoundary) this.#freshBoundary = hasBoundary(text);
  }

  /**
   * A scan is due unless nothing is held, or too little new text arrived to be worth a scan of the context
   * and there is room to wait (the text is scanned before it leaves).
   */
  #due(): boolean {
    return !(
      this.#held.length > 0 &&
      this.#held.length < this.#maxHold &&
      (!this.#freshBoundary || this.#fresh * CONTEXT_PER_SCAN < this.#ctx.length)
    );
  }

  /** End of stream: scan and release everything left. */
  end(): StreamStep<T> {
    if (this.#blocked) return BLOCKED;
    return this.#step(true);
  }

  #step(final: boolean): StreamStep<T> {
    this.#fresh = 0;
    this.#freshBoundary = false;
    const base = this.#released - this.#ctx.length;
    const text = this.#ctx + this.#held;
    this.#scanned += text.length;
    const { findings } = scanText(
      text,
      this.#policy,
      this.#budgetMs === undefined ? {} : { deadline: performance.now() + this.#budgetMs },
    );
    const shifted = findings.map((f) => ({ ...f, start: f.start + base, end: f.end + base }));
    const blocking = shifted.filter((f) => actionFor(f, this.#policy) === "block");
    const redactions = shifted.filter((f) => actionFor(f, this.#policy) === "redact");
    if (blocking.length > 0) return this.#blockAfter(blocking, redactions, text, base);

    let rp = final ? this.#released + this.#held.length : base + holdFrom(text, this.#ctx.length);
    if (!final && rp < this.#released + this.#held.length - this.#maxHold)
      rp = this.#released + this.#held.length - this.#maxHold;
    for (let pass = 0; pass < 2 && !final; pass++) {
      for (const f of redactions) {
        if (f.start < rp && f.end > rp) rp = f.start;
        if (f.end >= base + text.length && f.start < rp) rp = f.start; // may still grow
      }
    }
    if (rp < this.#released) rp = this.#released;
    // a redaction reaching into released text must continue one already applied, or we cannot honour it
    for (const f of redactions) {
      if (f.start < this.#released && !this.#covered(f.start, Math.min(f.end, this.#released))) return this.#block([f]);
    }
    const released = this.#releaseRedacted(rp, redactions);
    // redact/annotate findings are reported once, when the text they cover has been released
    const noted: Finding[] = [];
    for (const f of shifted) {
      if (f.end > this.#released || this.#reported.has(key(f))) continue;
      this.#reported.add(key(f));
      noted.push(f);
    }
    this.#prune();
    return { action: "pass", released, findings: noted };
  }

  /**
   * A block found by a scan: the text before its first blocking finding was scanned whole with it, so it
   * goes out first (redacted as the scan says), then nothing more. With one scan per chunk this keeps what
   * a scan per event would have released before the block.
   */
  #blockAfter(blocking: Finding[], redactions: Finding[], text: string, base: number): StreamStep<T> {
    let rp = Math.min(...blocking.map((f) => f.start));
    // and the hold-back as if the text ended there: the token, digit run or PEM block the blocking finding
    // sits in (a private JWK's other members before its "d", say) is held, as it was before the scan
    rp = Math.min(rp, base + holdFrom(text.slice(0, Math.max(0, rp - base)), this.#ctx.length));
    for (let pass = 0; pass < 2; pass++) for (const f of redactions) if (f.start < rp && f.end > rp) rp = f.start;
    const honoured = redactions.every(
      (f) => f.start >= this.#released || this.#covered(f.start, Math.min(f.end, this.#released)),
    );
    if (rp <= this.#released || !honoured) return this.#block(blocking);
    const released = this.#releaseRedacted(rp, redactions);
    this.#block(blocking);
    return { action: "block", findings: blocking, released };
  }

  /** Release up to `rp` with these redactions (and those already applied) masked. */
  #releaseRedacted(rp: number, redactions: readonly Finding[]): Released<T>[] {
    const spans: Span[] = redactions.map((f) => ({
      start: f.start,
      end: f.end,
      type: f.type,
      name: redactionLabel(f),
    }));
    return this.#release(rp, mergeSpans([...spans, ...this.#redacted]));
  }

  #block(findings: Finding[]): StreamStep<T> {
    this.#blocked = findings;
    this.#held = "";
    this.#items = [];
    return { action: "block", findings };
  }

  #covered(s: number, e: number): boolean {
    let at = s;
    for (const r of this.#redacted) if (r.start <= at && r.end > at) at = r.end;
    return at >= e;
  }

  #release(rp: number, spans: Span[]): Released<T>[] {
    const out: Released<T>[] = [];
    let k = 0;
    for (; k < this.#items.length; k++) {
      const it = this.#items[k]!;
      if (it.end > rp || (it.start === it.end && it.start > rp)) break;
      const raw = this.#held.slice(it.start - this.#released, it.end - this.#released);
      const red = redactSegment(raw, it.start, spans, this.#style);
      out.push({ tag: it.tag, text: red, changed: red !== raw });
    }
    if (k === 0) return out;
    const upTo = this.#items[k - 1]!.end;
    this.#items = this.#items.slice(k);
    const releasedText = this.#held.slice(0, upTo - this.#released);
    this.#held = this.#held.slice(upTo - this.#released);
    this.#ctx = trimContext(this.#ctx + releasedText, this.#window);
    // `spans` already includes every earlier redaction: keep those that have started leaving
    this.#redacted = spans.filter((sp) => sp.start < upTo);
    this.#released = upTo;
    return out;
  }

  #prune(): void {
    const base = this.#released - this.#ctx.length;
    this.#redacted = this.#redacted.filter((r) => r.end > base);
    if (this.#reported.size > 256) {
      for (const k of this.#reported) if (Number(k.split(":")[2]) < base) this.#reported.delete(k);
    }
  }
}

/** Slack allowed beyond `window` so the context can start at a space. */
const CONTEXT_SLACK = 128;

/**
 * At least the last `window` characters of released text, extended back to a space where one is near:
 * a context that starts inside a token could make its tail look like a token ("xAKIA…" → "AKIA…").
 */
function trimContext(s: string, window: number): string {
  if (s.length <= window) return s;
  let cut = s.length - window;
  const stop = Math.max(0, cut - CONTEXT_SLACK);
  while (cut > stop && !isSpace(s.charCodeAt(cut - 1))) cut--;
  return cut > stop || cut === 0 ? s.slice(cut) : s.slice(s.length - window);
}

function key(f: Finding): string {
  return `${f.type}:${f.subtype}:${f.end}:${f.start}`;
}

function hasBoundary(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (isSpace(s.charCodeAt(i))) return true;
  return false;
}

function isNumberRunChar(u: number): boolean {
  return (
    isDigit(u) ||
    u === 0x20 ||
    u === 0x2d ||
    u === 0x2b ||
    u === 0x28 ||
    u === 0x29 ||
    u === 0x2e ||
    (u >= 0x41 && u <= 0x5a)
  );
}

/** Local index from which `text` must be held back (≥ `min`): see the module comment. */
export function holdFrom(text: string, min: number): number {
  const len = text.length;
  let i = len;
  while (i > min && !isSpace(text.charCodeAt(i - 1))) i--;
  let j = i;
  let digits = 0;
  while (j > min && len - j < NUMBER_RUN_MAX && isNumberRunChar(text.charCodeAt(j - 1))) {
    if (isDigit(text.charCodeAt(j - 1))) digits++;
    j--;
  }
  if (digits >= 4) {
    while (j < i && text.charCodeAt(j) === 0x20) j++;
    i = j;
  }
  const pem = text.lastIndexOf("-----BEGIN ");
  if (pem !== -1 && text.indexOf("-----END ", pem) === -1) i = Math.min(i, Math.max(pem, min));
  return i;
}

function mergeSpans(fs: readonly Span[]): Span[] {
  const sorted = fs.slice().sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const f of sorted) {
    const last = out[out.length - 1];
    if (last && f.start < last.end) {
      const visible = last.type === "invisible_text" ? f : last;
      out[out.length - 1] = {
        start: last.start,
        end: Math.max(last.end, f.end),
        type: visible.type,
        name: visible.name,
      };
    } else out.push({ start: f.start, end: f.end, type: f.type, name: f.name });
  }
  return out;
}

/** Redact the part of `spans` inside one item's text (`at` = its stream offset). */
function redactSegment(raw: string, at: number, spans: readonly Span[], style: RedactStyle): string {
  let out = "";
  let p = 0;
  for (const s of spans) {
    const a = Math.max(s.start - at, 0);
    const b = Math.min(s.end - at, raw.length);
    if (b <= a || a < p) continue;
    out += raw.slice(p, a);
    if (s.type !== "invisible_text")
      out += style === "mask" ? "*".repeat(b - a) : s.start >= at ? `[REDACTED:${s.name}]` : "";
    p = b;
  }
  return p === 0 && out === "" ? raw : out + raw.slice(p);
}

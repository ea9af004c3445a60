/**
 * Guarding a streamed (SSE) model response chunk by chunk, for one request.
 *
 * Envoy hands us body chunks at arbitrary byte boundaries; we answer each with the bytes that may go
 * out now. SSE events are parsed incrementally and classified by the provider adapter (see
 * filters/guard/adapters/stream-event.ts): each text **delta** goes to the StreamScanner of its stream
 * (one per choice / output part / tool call / content block), which holds back text that could still
 * become a finding; events are released whole and in order. When an event's turn comes, its
 * **snapshots** (done/completed events repeating a stream's whole text) take the stream's redacted text
 * if they match what was streamed, and everything else in it — snapshots that do not match, and plain
 * text — is scanned as one document. So a span redacted in the deltas is redacted in every later copy,
 * and a secret that appears only in a done event is still found.
 *
 * Untouched events go out byte-for-byte; changed ones are re-serialized. A blocking finding ends the
 * stream with the provider's own error event and drops everything after it. Memory is bounded by the
 * parser's event cap, the scanners' windows, and the per-stream text kept for snapshot matching (capped
 * at one event's size: a longer snapshot could not arrive anyway).
 */
import { anthropicStreamError, anthropicStreamEvent } from "../../filters/guard/adapters/anthropic-stream.ts";
import {
  openAiStreamError,
  openAiStreamEvent,
  type StreamErrorInfo,
} from "../../filters/guard/adapters/openai-stream.ts";
import { type SseEvent, SseParser } from "../../filters/guard/adapters/sse.ts";
import { type EventView, rewriteEvent, type StreamSlot } from "../../filters/guard/adapters/stream-event.ts";
import type { GuardPolicy } from "../../filters/guard/policy.ts";
import { scanSlots } from "../../filters/guard/scan-slots.ts";
import { type Released, StreamScanner, type StreamStep } from "../../filters/guard/stream-scanner.ts";
import type { Finding } from "../../filters/guard/types.ts";
import { isHexrError } from "../../filters/errors.ts";
import type { FailMode, StreamProvider } from "./guard-routes.ts";

/** Largest single SSE event we buffer while waiting for its end. */
export const MAX_STREAM_EVENT_BYTES = 256 * 1024;
/** Most text streams scanned at once per response (choices × parts × tool calls); more is unscannable. */
const MAX_STREAMS = 64;
/** Most streams whose text is kept for snapshot matching; later ones are scanned directly. */
const MAX_TRACKED = 256;

interface ProviderStream {
  event(ev: SseEvent): EventView;
  error(e: StreamErrorInfo): string;
}

const PROVIDERS: Record<StreamProvider, ProviderStream> = {
  openai: { event: openAiStreamEvent, error: openAiStreamError },
  anthropic: { event: anthropicStreamEvent, error: anthropicStreamError },
};

interface Pending {
  readonly ev: SseEvent;
  readonly view: EventView;
  waiting: number;
  /** Released text per delta slot index. */
  readonly texts: Map<number, string>;
}

interface Tag {
  readonly entry: Pending;
  readonly slot: number;
}

/** One stream's text so far, original and as released, for matching snapshots. */
interface Tracked {
  orig: string;
  red: string;
  releasedOrig: number;
  overflow: boolean;
}

export interface StreamChunkResult {
  /**
   * Text to send in place of this chunk (written to the wire as UTF-8 by the ext_proc codec, without an
   * intermediate byte copy); undefined = send the chunk unchanged.
   */
  text: string | undefined;
  blocked: boolean;
  redacted: boolean;
  /** Set when the stream could not be scanned (bad UTF-8, oversized event, malformed data). */
  error?: string;
  findings: Finding[];
}

class Blocked {
  readonly findings: Finding[];
  /** Text that goes out before the error event (released before the block). */
  readonly before: string;
  constructor(findings: Finding[], before = "") {
    this.findings = findings;
    this.before = before;
  }
}

/** The policy for streams that cannot be redacted: every redact action becomes block. */
function redactBlocks(p: GuardPolicy): GuardPolicy {
  const scanners = { ...p.scanners };
  for (const k of Object.keys(scanners) as (keyof typeof scanners)[])
    if (scanners[k].action === "redact") scanners[k] = { ...scanners[k], action: "block" };
  return { ...p, scanners };
}

export class StreamGuard {
  readonly #provider: ProviderStream;
  readonly #policy: GuardPolicy;
  readonly #strict: GuardPolicy;
  readonly #failMode: FailMode;
  readonly #parser = new SseParser({ maxEventSize: MAX_STREAM_EVENT_BYTES });
  readonly #scanners = new Map<string, StreamScanner<Tag>>();
  readonly #tracked = new Map<string, Tracked>();
  /** Scanners given text by the chunk being read, to scan when it is read (ended ones leave it). */
  readonly #touched = new Set<StreamScanner<Tag>>();
  #queue: Pending[] = [];
  #redacted = false;
  #state: "scanning" | "blocked" | "passthrough" = "scanning";

  /** Wall-time budget for scanning what one chunk brings (ms); over it, the fail mode. */
  readonly #budgetMs: number | undefined;

  /** Sees each event's parsed data (telemetry reads model and usage from it; never text). */
  readonly #onDoc: ((doc: unknown) => void) | undefined;

  constructor(
    provider: StreamProvider,
    policy: GuardPolicy,
    failMode: FailMode = "closed",
    budgetMs?: number,
    onDoc?: (doc: unknown) => void,
  ) {
    this.#budgetMs = budgetMs;
    this.#onDoc = onDoc;
    this.#provider = PROVIDERS[provider];
    this.#policy = policy;
    this.#strict = redactBlocks(policy);
    this.#failMode = failMode;
  }

  push(chunk: Uint8Array, endOfStream: boolean): StreamChunkResult {
    if (this.#state === "blocked") return { text: "", blocked: false, redacted: false, findings: [] };
    if (this.#state === "passthrough") return { text: undefined, blocked: false, redacted: false, findings: [] };
    let out = "";
    const findings: Finding[] = [];
    this.#redacted = false;
    // nothing held from earlier chunks: if nothing is held after this one either, and nothing changed, the
    // output is this chunk byte for byte, and it goes out unchanged (no re-encoding, no body mutation)
    const clean = this.#queue.length === 0 && this.#parser.idle;
    let idleAfter = false;
    try {
      let done = false;
      // the chunk's deltas are added to their streams' scanners and scanned together once the chunk is
      // read (StreamScanner.add/flush): one scan for a chunk of many events, not one per event; events
      // that need no scan (nothing held before them) still go out in order
      const touched = this.#touched;
      for (const ev of this.#parser.push(chunk)) {
        const view = this.#provider.event(ev);
        if (this.#onDoc !== undefined && view.doc !== undefined) this.#onDoc(view.doc);
        const entry: Pending = { ev, view, waiting: 0, texts: new Map() };
        this.#queue.push(entry);
        for (let i = 0; i < view.slots.length; i++) {
          const s = view.slots[i]!;
          if (s.stream?.kind !== "delta") continue;
          entry.waiting++;
          this.#track(s.stream.key, s.text);
          const sc = this.#scanner(s.stream.key, s);
          touched.add(sc);
          this.#apply(sc.add(s.text, { entry, slot: i }), findings);
        }
        for (const prefix of view.ends) this.#end(prefix, findings);
        if (view.done) done = true;
        if (touched.size === 0) out += this.#flush(findings);
      }
      for (const sc of touched) this.#apply(sc.flush(), findings);
      touched.clear();
      if (done || endOfStream) this.#end("", findings);
      out += this.#flush(findings);
      // read before end(), which empties the parser: an unterminated final block makes this chunk changed
      idleAfter = this.#parser.idle;
      // an unterminated final block is discarded by SSE clients; it is not forwarded unscanned either
      if (endOfStream) this.#parser.end();
    } catch (e) {
      const pending = [...this.#touched];
      this.#touched.clear();
      if (e instanceof Blocked) return this.#blockedResult(out + e.before, e.findings);
      const reason = isHexrError(e) ? e.code : "guard.stream_error";
      if (this.#failMode === "open") {
        // what the chunk added but had not scanned yet is scanned now where it can be, so the redactions
        // (and blocks) a scan per event would have applied before the error still are
        try {
          for (const sc of pending) this.#apply(sc.flush(), findings);
          out += this.#flush(findings);
        } catch (e2) {
          if (e2 instanceof Blocked) return this.#blockedResult(out + e2.before, e2.findings);
          // a scanner that cannot scan: the rest passes as the fail mode says
        }
        this.#state = "passthrough";
        return {
          text: out + this.#flushAll(),
          blocked: false,
          redacted: false,
          error: reason,
          findings,
        };
      }
      this.#state = "blocked";
      const text =
        out +
        this.#provider.error({
          message: "the Hexr LLM guard could not scan this stream; ended by policy",
          type: "hexr_guard_unscannable",
          code: reason,
        });
      return { text, blocked: false, redacted: false, error: reason, findings };
    }
    if (clean && idleAfter && !this.#redacted && this.#queue.length === 0)
      return { text: undefined, blocked: false, redacted: false, findings };
    return { text: out, blocked: false, redacted: this.#redacted, findings };
  }

  #scanner(key: string, s: StreamSlot): StreamScanner<Tag> {
    let sc = this.#scanners.get(key);
    if (!sc) {
      if (this.#scanners.size >= MAX_STREAMS) throw new Error("too many parallel text streams to scan");
      sc = new StreamScanner<Tag>({
        policy: s.redactable === false ? this.#strict : this.#policy,
        ...(this.#budgetMs !== undefined ? { budgetMs: this.#budgetMs } : {}),
      });
      this.#scanners.set(key, sc);
    }
    return sc;
  }

  #track(key: string, text: string): void {
    let t = this.#tracked.get(key);
    if (!t) {
      t = { orig: "", red: "", releasedOrig: 0, overflow: this.#tracked.size >= MAX_TRACKED };
      this.#tracked.set(key, t);
    }
    if (t.overflow) return;
    t.orig += text;
    if (t.orig.length > MAX_STREAM_EVENT_BYTES) {
      t.overflow = true;
      t.orig = t.red = "";
    }
  }

  /** End (release everything of) the streams whose key starts with `prefix`. */
  #end(prefix: string, findings: Finding[]): void {
    for (const [key, sc] of this.#scanners) {
      if (!key.startsWith(prefix)) continue;
      this.#apply(sc.end(), findings);
      this.#scanners.delete(key);
      this.#touched.delete(sc);
    }
  }

  #apply(step: StreamStep<Tag>, findings: Finding[]): void {
    if (step.action === "block") {
      // what was scanned clean before the block goes out ahead of the error event, whole events only
      // (released by this scanner's last step or by other streams' scanners earlier in the chunk)
      if (step.released) this.#take(step.released);
      throw new Blocked(step.findings, this.#flush([], true));
    }
    for (const f of step.findings) findings.push(f);
    this.#take(step.released);
  }

  #take(released: readonly Released<Tag>[]): void {
    for (const r of released) {
      const { entry, slot } = r.tag;
      const s = entry.view.slots[slot]!;
      entry.texts.set(slot, r.text);
      entry.waiting--;
      const t = this.#tracked.get(s.stream!.key);
      if (t && !t.overflow) {
        t.red += r.text;
        t.releasedOrig += s.text.length;
      }
    }
  }

  /**
   * Events whose every delta is released, in order, each resolved (snapshots, plain text) and rewritten.
   * `deltasOnly` (before a block): up to the first event with text of its own to scan (a snapshot, plain
   * text), which is not sent unscanned, so nothing more is scanned.
   */
  #flush(findings: Finding[], deltasOnly = false): string {
    let out = "";
    let k = 0;
    try {
      for (; k < this.#queue.length; k++) {
        const p = this.#queue[k]!;
        if (p.waiting > 0) break;
        if (deltasOnly && p.view.slots.some((s) => s.stream?.kind !== "delta")) break;
        out += this.#resolve(p, findings);
      }
    } catch (e) {
      // an event's own text blocked: the events resolved before it still go out ahead of the error
      if (e instanceof Blocked) throw new Blocked(e.findings, out + e.before);
      throw e;
    }
    if (k > 0) this.#queue = this.#queue.slice(k);
    return out;
  }

  #resolve(p: Pending, findings: Finding[]): string {
    const { slots } = p.view;
    const texts = new Map<number, string>();
    const direct: number[] = [];
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      if (s.stream?.kind === "delta") {
        const t = p.texts.get(i);
        if (t !== undefined && t !== s.text) texts.set(i, t);
        continue;
      }
      if (s.stream?.kind === "snapshot") {
        const t = this.#tracked.get(s.stream.key);
        if (t && !t.overflow && t.releasedOrig === t.orig.length && t.orig === s.text) {
          if (t.red !== s.text) texts.set(i, t.red);
          continue;
        }
      }
      direct.push(i);
    }
    if (direct.length > 0) {
      const r = scanSlots(
        direct.map((i) => slots[i]!),
        this.#policy,
        "label",
        this.#budgetMs === undefined ? undefined : performance.now() + this.#budgetMs,
      );
      if (r.action === "block") throw new Blocked(r.findings);
      for (const f of r.findings) findings.push(f);
      for (const [j, t] of r.rewrites) texts.set(direct[j]!, t);
    }
    if (texts.size === 0) return p.ev.raw;
    this.#redacted = true;
    return rewriteEvent(p.ev, p.view, texts);
  }

  /**
   * Fail-open: whatever is queued goes out unscanned from here on — but with the redactions already
   * decided for its released deltas (an email redacted earlier in the chunk stays redacted).
   */
  #flushAll(): string {
    let out = "";
    for (const p of this.#queue) {
      const changed = new Map<number, string>();
      for (const [i, t] of p.texts) if (t !== p.view.slots[i]!.text) changed.set(i, t);
      out += changed.size === 0 ? p.ev.raw : rewriteEvent(p.ev, p.view, changed);
    }
    this.#queue = [];
    return out;
  }

  #blockedResult(out: string, blocking: Finding[]): StreamChunkResult {
    this.#state = "blocked";
    this.#queue = [];
    const kinds = [...new Set(blocking.map((f) => `${f.type}/${f.subtype}`))].join(", ");
    const text =
      out +
      this.#provider.error({
        message: `blocked by the Hexr LLM guard: ${kinds}`,
        type: "hexr_guard_blocked",
        code: "content_blocked",
      });
    return { text, blocked: true, redacted: false, findings: blocking };
  }
}

/**
 * Guarding a streamed (SSE) model response chunk by chunk, for one request.
 *
 * Envoy hands us body chunks at arbitrary byte boundaries; we answer each with the bytes that may go
 * out now. SSE events are parsed incrementally; each event's text deltas go to a StreamScanner per
 * text index (choice), which holds back text that could still become a finding and releases whole
 * events in order. Untouched events go out byte-for-byte; events whose text was redacted are
 * re-serialized. A blocking finding ends the stream with the provider's own error event and drops
 * everything after it. Memory is bounded by the parser's event cap and the scanners' windows.
 */
import {
  anthropicStreamDeltas,
  anthropicStreamError,
  anthropicWithDeltas,
} from "../../filters/guard/adapters/anthropic-stream.ts";
import {
  openAiStreamDeltas,
  openAiStreamError,
  openAiWithDeltas,
  type StreamDeltas,
  type StreamErrorInfo,
} from "../../filters/guard/adapters/openai-stream.ts";
import { type SseEvent, SseParser } from "../../filters/guard/adapters/sse.ts";
import type { GuardPolicy } from "../../filters/guard/policy.ts";
import { StreamScanner, type StreamStep } from "../../filters/guard/stream-scanner.ts";
import type { Finding } from "../../filters/guard/types.ts";
import { isHexrError } from "../../filters/errors.ts";
import type { FailMode, StreamProvider } from "./guard-routes.ts";

/** Largest single SSE event we buffer while waiting for its end. */
export const MAX_STREAM_EVENT_BYTES = 256 * 1024;
/** Most text indices (choices) tracked per stream; more is treated as unscannable. */
const MAX_STREAM_INDICES = 16;

interface ProviderStream {
  deltas(ev: SseEvent): StreamDeltas;
  withDeltas(ev: SseEvent, texts: ReadonlyMap<number, string>): string;
  error(e: StreamErrorInfo): string;
}

const PROVIDERS: Record<StreamProvider, ProviderStream> = {
  openai: { deltas: openAiStreamDeltas, withDeltas: openAiWithDeltas, error: openAiStreamError },
  anthropic: { deltas: anthropicStreamDeltas, withDeltas: anthropicWithDeltas, error: anthropicStreamError },
};

interface Pending {
  readonly ev: SseEvent;
  waiting: number;
  changed: boolean;
  readonly texts: Map<number, string>;
}

export interface StreamChunkResult {
  /** Bytes to send in place of this chunk; undefined = send the chunk unchanged. */
  bytes: Uint8Array | undefined;
  blocked: boolean;
  redacted: boolean;
  /** Set when the stream could not be scanned (bad UTF-8, oversized event, malformed data). */
  error?: string;
  findings: Finding[];
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array();

export class StreamGuard {
  readonly #provider: ProviderStream;
  readonly #policy: GuardPolicy;
  readonly #failMode: FailMode;
  readonly #parser = new SseParser({ maxEventSize: MAX_STREAM_EVENT_BYTES });
  readonly #scanners = new Map<number, StreamScanner<Pending>>();
  #queue: Pending[] = [];
  #state: "scanning" | "blocked" | "passthrough" = "scanning";

  constructor(provider: StreamProvider, policy: GuardPolicy, failMode: FailMode = "closed") {
    this.#provider = PROVIDERS[provider];
    this.#policy = policy;
    this.#failMode = failMode;
  }

  push(chunk: Uint8Array, endOfStream: boolean): StreamChunkResult {
    if (this.#state === "blocked") return { bytes: EMPTY, blocked: false, redacted: false, findings: [] };
    if (this.#state === "passthrough") return { bytes: undefined, blocked: false, redacted: false, findings: [] };
    let out = "";
    let redacted = false;
    const findings: Finding[] = [];
    try {
      const events = this.#parser.push(chunk);
      let done = false;
      for (const ev of events) {
        const { deltas, done: last } = this.#provider.deltas(ev);
        const entry: Pending = { ev, waiting: deltas.length, changed: false, texts: new Map() };
        this.#queue.push(entry);
        for (const d of deltas) {
          const blocked = this.#apply(this.#scanner(d.index).push(d.text, entry), d.index, findings);
          if (blocked) return this.#blockedResult(out + this.#flush(), blocked);
        }
        if (last) done = true;
      }
      if (done || endOfStream) {
        for (const [index, s] of this.#scanners) {
          const blocked = this.#apply(s.end(), index, findings);
          if (blocked) return this.#blockedResult(out + this.#flush(), blocked);
        }
      }
      out += this.#flush();
      // an unterminated final block is discarded by SSE clients; it is not forwarded unscanned either
      if (endOfStream) this.#parser.end();
    } catch (e) {
      const reason = isHexrError(e) ? e.code : "guard.stream_error";
      if (this.#failMode === "open") {
        this.#state = "passthrough";
        return {
          bytes: encoder.encode(out + this.#flushAll()),
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
      return { bytes: encoder.encode(text), blocked: false, redacted: false, error: reason, findings };
    }
    for (const p of this.#lastReleased) if (p.changed) redacted = true;
    this.#lastReleased = [];
    return { bytes: encoder.encode(out), blocked: false, redacted, findings };
  }

  #lastReleased: Pending[] = [];

  #scanner(index: number): StreamScanner<Pending> {
    let s = this.#scanners.get(index);
    if (!s) {
      if (this.#scanners.size >= MAX_STREAM_INDICES) throw new Error("too many parallel choices to scan");
      s = new StreamScanner<Pending>({ policy: this.#policy });
      this.#scanners.set(index, s);
    }
    return s;
  }

  /** Applies a scanner step; returns the blocking findings if the stream must end. */
  #apply(step: StreamStep<Pending>, index: number, findings: Finding[]): Finding[] | undefined {
    if (step.action === "block") return step.findings;
    for (const f of step.findings) findings.push(f);
    for (const r of step.released) {
      r.tag.texts.set(index, r.text);
      if (r.changed) r.tag.changed = true;
      r.tag.waiting--;
      this.#lastReleased.push(r.tag);
    }
    return undefined;
  }

  /** Events whose every delta is released, in order. */
  #flush(): string {
    let out = "";
    let k = 0;
    for (; k < this.#queue.length; k++) {
      const p = this.#queue[k]!;
      if (p.waiting > 0) break;
      out += p.changed ? this.#provider.withDeltas(p.ev, p.texts) : p.ev.raw;
    }
    if (k > 0) this.#queue = this.#queue.slice(k);
    return out;
  }

  /** Fail-open: whatever is queued goes out as received. */
  #flushAll(): string {
    const out = this.#queue.map((p) => p.ev.raw).join("");
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
    return { bytes: encoder.encode(text), blocked: true, redacted: false, findings: blocking };
  }
}

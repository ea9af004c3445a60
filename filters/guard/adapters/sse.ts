/**
 * Incremental `text/event-stream` parser (WHATWG HTML "Server-sent events", interpretation rules):
 * LF, CR and CRLF line endings (a CRLF split across chunks included), `data:` lines joined with "\n",
 * `event:`, `id:` (no NUL; persists), `retry:` (digits only), `:` comments, one optional space after the
 * colon, a leading BOM ignored, and chunks split at any byte (UTF-8 decoded in streaming mode).
 *
 * As a proxy needs more than a browser does, every block (text up to and including the blank line)
 * is returned with its exact `raw` text, including blocks the spec does not dispatch (keep-alive
 * comments, `event:` without data) — concatenating `raw` of everything returned, plus {@link SseParser.end}'s
 * tail, reproduces the input exactly. Memory is bounded: a block longer than `maxEventSize` throws
 * `guard.sse_event_too_large`; invalid UTF-8 throws `guard.bad_utf8`.
 *
 * @example
 *   const p = new SseParser();
 *   for (const ev of p.push(chunk)) if (ev.dispatched) handle(ev.event, ev.data);
 */
import { HexrError } from "../../errors.ts";

export interface SseEvent {
  /** `event:` field; "message" when the block set none. */
  readonly event: string;
  /** `data:` lines joined with "\n". */
  readonly data: string;
  /** Last event ID as of this block (it persists across blocks). */
  readonly id: string;
  /** `retry:` value if this block set one. */
  readonly retry?: number;
  /** Whether the spec dispatches this block (it has at least one `data` line). */
  readonly dispatched: boolean;
  /** The block exactly as received, through its terminating blank line. */
  readonly raw: string;
}

export interface SseParserOptions {
  /** Largest block (UTF-16 units of raw text), default 1 MiB. */
  readonly maxEventSize?: number;
}

export const DEFAULT_MAX_EVENT_SIZE = 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;

export class SseParser {
  readonly #max: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  #buf = ""; // text after the last complete line
  #raw = ""; // complete lines of the current block
  #data = "";
  #hasData = false;
  #event = "";
  #retry: number | undefined;
  #lastId = "";
  #crPending = false;
  /** The last chunk ended inside a UTF-8 sequence (the decoder holds its first bytes). */
  #carry = false;
  #started = false;
  #failed: HexrError | null = null;

  constructor(opts: SseParserOptions = {}) {
    const max = opts.maxEventSize ?? DEFAULT_MAX_EVENT_SIZE;
    if (!(Number.isInteger(max) && max > 0)) throw new TypeError("maxEventSize must be a positive integer");
    this.#max = max;
  }

  /**
   * Nothing of the input is held: every byte pushed so far is in a returned block's `raw`. While true
   * before and after a push, that push's blocks are exactly its chunk (a proxy can forward it as is).
   */
  get idle(): boolean {
    return this.#buf === "" && this.#raw === "" && !this.#carry;
  }

  /** Feed a chunk (bytes or already-decoded text); returns the blocks it completed. */
  push(chunk: Uint8Array | string): SseEvent[] {
    if (this.#failed) throw this.#failed;
    let text: string;
    if (typeof chunk === "string") text = chunk;
    else {
      try {
        text = this.#decoder.decode(chunk, { stream: true });
        this.#carry = endsInsideUtf8(chunk);
      } catch (e) {
        throw this.#fail(new HexrError("guard.bad_utf8", "event stream is not valid UTF-8", { cause: e }));
      }
    }
    const out: SseEvent[] = [];
    if (text.length === 0) return out;
    let s = this.#buf + text;
    let p = 0;
    if (this.#crPending) {
      this.#crPending = false;
      if (s.charCodeAt(0) === LF) {
        this.#raw += "\n"; // second half of a CRLF split across chunks
        p = 1;
      }
    }
    let nextLf = s.indexOf("\n", p);
    let nextCr = s.indexOf("\r", p);
    while (nextLf !== -1 || nextCr !== -1) {
      const e = nextLf === -1 ? nextCr : nextCr === -1 ? nextLf : Math.min(nextLf, nextCr);
      let term = 1;
      if (s.charCodeAt(e) === CR) {
        if (e + 1 < s.length) {
          if (s.charCodeAt(e + 1) === LF) term = 2;
        } else this.#crPending = true;
      }
      this.#line(s.slice(p, e), s.slice(p, e + term), out);
      p = e + term;
      if (nextLf !== -1 && nextLf < p) nextLf = s.indexOf("\n", p);
      if (nextCr !== -1 && nextCr < p) nextCr = s.indexOf("\r", p);
    }
    s = s.slice(p);
    this.#buf = s;
    if (this.#buf.length + this.#raw.length > this.#max) {
      throw this.#fail(
        new HexrError("guard.sse_event_too_large", `event stream block is over maxEventSize (${this.#max})`),
      );
    }
    return out;
  }

  /**
   * End of stream. Returns the raw text of an unterminated final block (the spec discards it; a proxy
   * may still forward it). Throws `guard.bad_utf8` if the stream ended inside a UTF-8 sequence.
   */
  end(): string {
    if (this.#failed) throw this.#failed;
    let rest: string;
    try {
      rest = this.#decoder.decode();
    } catch (e) {
      throw this.#fail(new HexrError("guard.bad_utf8", "event stream ended inside a UTF-8 sequence", { cause: e }));
    }
    const tail = this.#raw + this.#buf + rest;
    this.#raw = "";
    this.#buf = "";
    this.#resetBlock();
    return tail;
  }

  #fail(e: HexrError): HexrError {
    this.#failed = e;
    return e;
  }

  #resetBlock(): void {
    this.#data = "";
    this.#hasData = false;
    this.#event = "";
    this.#retry = undefined;
  }

  #line(line: string, raw: string, out: SseEvent[]): void {
    this.#raw += raw;
    if (!this.#started) {
      this.#started = true;
      if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    }
    if (line.length === 0) {
      const ev: SseEvent = {
        event: this.#event === "" ? "message" : this.#event,
        data: this.#hasData ? this.#data.slice(0, -1) : "",
        id: this.#lastId,
        dispatched: this.#hasData,
        raw: this.#raw,
        ...(this.#retry === undefined ? {} : { retry: this.#retry }),
      };
      out.push(ev);
      this.#raw = "";
      this.#resetBlock();
      return;
    }
    if (line.charCodeAt(0) === 0x3a) return; // comment
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    switch (field) {
      case "event":
        this.#event = value;
        break;
      case "data":
        this.#data += `${value}\n`;
        this.#hasData = true;
        break;
      case "id":
        if (!value.includes("\0")) this.#lastId = value;
        break;
      case "retry":
        if (value.length > 0 && value.length <= 15 && isDigits(value)) this.#retry = Number(value);
        break;
    }
  }
}

function isDigits(s: string): boolean {
  for (let k = 0; k < s.length; k++) {
    const u = s.charCodeAt(k);
    if (u < 0x30 || u > 0x39) return false;
  }
  return true;
}

/** Split `s` into lines, each keeping its terminator (CRLF, LF or CR). */
function linesWithEndings(s: string): string[] {
  const out: string[] = [];
  let p = 0;
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u === LF || u === CR) {
      if (u === CR && s.charCodeAt(i + 1) === LF) i++;
      out.push(s.slice(p, i + 1));
      p = i + 1;
    }
  }
  if (p < s.length) out.push(s.slice(p));
  return out;
}

function dataLines(data: string): string {
  let out = "";
  for (const l of linesWithEndings(data)) {
    let end = l.length;
    while (end > 0 && (l.charCodeAt(end - 1) === LF || l.charCodeAt(end - 1) === CR)) end--;
    out += `data: ${l.slice(0, end)}\n`;
  }
  const last = data.charCodeAt(data.length - 1);
  if (data.length === 0 || last === LF || last === CR) out += "data: \n";
  return out;
}

/** Format one event block: optional `event:`/`id:` lines, one `data:` line per line of `data`, blank line. */
export function formatSseEvent(e: { readonly event?: string; readonly id?: string; readonly data: string }): string {
  let s = "";
  if (e.event !== undefined && e.event !== "message") s += `event: ${e.event}\n`;
  if (e.id !== undefined) s += `id: ${e.id}\n`;
  return `${s}${dataLines(e.data)}\n`;
}

/**
 * Rewrite a block's data while keeping its other lines (event, id, comments, retry) and their order:
 * the first `data:` line becomes the new data, other data lines are dropped.
 */
export function replaceEventData(raw: string, data: string): string {
  let out = "";
  let done = false;
  for (const l of linesWithEndings(raw)) {
    if (l.startsWith("data:") || l === "data\n" || l === "data\r\n" || l === "data\r" || l === "data") {
      if (!done) out += dataLines(data);
      done = true;
      continue;
    }
    out += l;
  }
  return out;
}

/**
 * Whether `b` ends inside a UTF-8 sequence (its last lead byte's sequence is incomplete). A short chunk of
 * only continuation bytes may or may not complete one begun earlier: true then ("held" errs towards not
 * forwarding a chunk as is).
 */
function endsInsideUtf8(b: Uint8Array): boolean {
  const n = b.length;
  for (let k = 1; k <= 4 && k <= n; k++) {
    const x = b[n - k] as number;
    if (x < 0x80) return false; // ASCII: complete
    if (x >= 0xc0) return k < (x >= 0xf0 ? 4 : x >= 0xe0 ? 3 : 2); // lead byte: complete after its length
  }
  return n > 0 && n < 4;
}

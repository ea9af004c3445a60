/**
 * The LLM guard as an ext_proc processor for one request on a guarded route.
 *
 *   request headers  → ask for the buffered request body; drop accept-encoding so responses come back
 *                      uncompressed and scannable
 *   request body     → JSON (or no content type): strict parse (a duplicate key is a 400) → the
 *                      adapter's text slots → scan → block (403) | redact (body mutation) | annotate
 *                      (header) | continue; any other content type is scanned as UTF-8 text
 *   response headers → SSE: stream (see stream-guard.ts); anything else: ask for the buffered body;
 *                      binary media (audio, images, …) cannot be scanned: fail mode
 *   response body    → JSON: as the request; NDJSON: every line's strings; anything else (text/plain,
 *                      no content type): the body as one text — never forwarded unscanned
 *
 * Anything that cannot be scanned — over the size cap, an unknown content-encoding, invalid UTF-8 or
 * JSON, binary media — gets the route's fail mode (closed by default), and is logged and counted.
 * Findings carry types and offsets only; the matched text never leaves this file.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { isHexrError } from "../../filters/errors.ts";
import { jsonText } from "../../filters/guard/adapters/json-text.ts";
import { parseStrictJson } from "../../filters/guard/adapters/strict-json.ts";
import {
  clearLogprobs,
  formatPath,
  type GuardAdapter,
  setAtPath,
  type TextSlot,
} from "../../filters/guard/adapters/types.ts";
import type { GuardPolicy } from "../../filters/guard/policy.ts";
import type { ScanAction } from "../../filters/guard/scan.ts";
import { scanSlots } from "../../filters/guard/scan-slots.ts";
import type { Finding } from "../../filters/guard/types.ts";
import type { Logger } from "../logger.ts";
import type { GuardOutcome, StreamTelemetry } from "../telemetry/guard.ts";
import { readRequestFacts, readResponseFacts } from "../../filters/telemetry/llm-facts.ts";
import { prebuild } from "./codec.ts";
import { type Answer, CONTINUE, deepFreeze, type Processor, streamed } from "./processor.ts";
import type { GuardRoute } from "./guard-routes.ts";
import { type StreamChunkResult, StreamGuard } from "./stream-guard.ts";
import {
  type CommonResponse,
  type Headers,
  type HttpBody,
  type ProcessingResponse,
  type ProtocolConfiguration,
  setHeader,
} from "./types.ts";

const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });
const FINDINGS_HEADER = "x-hexr-guard-findings";

/** How a body is read: a JSON document, JSON lines, or plain UTF-8 text. */
type BodyKind = "json" | "ndjson" | "text";

/** Content types whose bodies are binary media: no text to scan, so the fail mode applies. */
const BINARY_TYPES = ["audio/", "image/", "video/", "application/octet-stream", "application/pdf", "application/zip"];

/** How a body of this content type is scanned; undefined: it cannot be (binary media). */
export function bodyKind(contentType: string | undefined, absent: BodyKind): BodyKind | undefined {
  const t = (contentType ?? "").trim().toLowerCase();
  if (t === "") return absent;
  if (t.includes("ndjson") || t.includes("jsonl") || t.includes("json-seq")) return "ndjson";
  if (t.includes("json")) return "json";
  for (const b of BINARY_TYPES) if (t.startsWith(b)) return undefined;
  return "text";
}

export interface GuardStats {
  scanned: number;
  blocked: number;
  redacted: number;
  unscannable: number;
}

export function newGuardStats(): GuardStats {
  return { scanned: 0, blocked: 0, redacted: 0, unscannable: 0 };
}

/** A finding as reported outside: where and what, never the text. */
export interface ReportedFinding {
  type: Finding["type"];
  subtype: string;
  path: string;
  start: number;
  end: number;
  score: number;
}

interface DocScan {
  action: ScanAction;
  findings: ReportedFinding[];
  body?: Uint8Array;
}

/** Why a body was not scanned: `invalid` is the client's error (400), `unscannable` gets the fail mode. */
type NotScanned = { readonly failure: "invalid" | "unscannable"; readonly code: string };

/** An unscannable cause as a metric label (a fixed set). */
function causeOf(code: string): string {
  if (code === "guard.too_large") return "too_large";
  if (code === "guard.scan_timeout") return "timeout";
  if (code === "guard.bad_utf8" || code === "guard.encoding") return "encoding";
  return "parse";
}

/** Provider and GenAI operation of a route, for telemetry. */
function llmKind(route: GuardRoute): { provider: string; operation: string } {
  const n = route.name;
  const provider =
    route.stream ?? (n.startsWith("openai") ? "openai" : n.startsWith("anthropic") ? "anthropic" : "unknown");
  return { provider, operation: n.includes("embedding") ? "embeddings" : "chat" };
}

const EMPTY = new Uint8Array();
const NOTHING: readonly ProcessingResponse[] = Object.freeze([]);

/** The prebuilt header answers (frozen: the codec sends them as prebuilt bytes). */
const REQUEST_HEADERS_MUTATION: CommonResponse = {
  status: "CONTINUE",
  header_mutation: { remove_headers: ["accept-encoding"] },
};
const REQUEST_HEADERS_BODY: ProcessingResponse = deepFreeze({
  request_headers: { response: REQUEST_HEADERS_MUTATION },
  mode_override: { request_body_mode: "BUFFERED", response_body_mode: "NONE" },
});
const REQUEST_HEADERS_NO_BODY: ProcessingResponse = deepFreeze({
  request_headers: { response: REQUEST_HEADERS_MUTATION },
  mode_override: { request_body_mode: "NONE", response_body_mode: "NONE" },
});
const DUPLEX_REQUEST_HEADERS: ProcessingResponse = deepFreeze({
  request_headers: { response: REQUEST_HEADERS_MUTATION },
});
const STREAM_HEADERS: ProcessingResponse = deepFreeze({
  response_headers: { response: { status: "CONTINUE", header_mutation: { remove_headers: ["content-length"] } } },
});
const STREAM_HEADERS_STREAMED: ProcessingResponse = deepFreeze({
  ...STREAM_HEADERS,
  mode_override: { response_body_mode: "STREAMED" },
});
const BUFFER_RESPONSE: ProcessingResponse = deepFreeze({
  response_headers: { response: { status: "CONTINUE" } },
  mode_override: { response_body_mode: "BUFFERED" },
});
for (const r of [
  REQUEST_HEADERS_BODY,
  REQUEST_HEADERS_NO_BODY,
  DUPLEX_REQUEST_HEADERS,
  STREAM_HEADERS,
  STREAM_HEADERS_STREAMED,
  BUFFER_RESPONSE,
])
  prebuild(r);

function jsonResponse(status: number, body: object, details: string): ProcessingResponse {
  return {
    immediate_response: {
      status: { code: status },
      headers: { set_headers: [setHeader("content-type", "application/json")] },
      body: encoder.encode(JSON.stringify(body)),
      details,
    },
  };
}

/** A duplex body refused because the thread's gather budget is spent (not the body's fault: 503). */
const GATHER_BUDGET_ERROR: ProcessingResponse = deepFreeze(
  jsonResponse(
    503,
    {
      error: {
        type: "hexr_guard_busy",
        message: "the Hexr LLM guard is holding too many response bodies to scan this one; try again",
      },
    },
    "hexr_guard_busy",
  ),
);
prebuild(GATHER_BUDGET_ERROR);

/** A guarded route whose response is FULL_DUPLEX_STREAMED but whose request body is not BUFFERED. */
const ROUTE_MODE_ERROR: ProcessingResponse = deepFreeze(
  jsonResponse(
    500,
    {
      error: {
        type: "hexr_guard_route_mode",
        message:
          "this guarded route streams responses FULL_DUPLEX_STREAMED but does not buffer request bodies for the guard; refusing",
      },
    },
    "hexr_guard_route_mode",
  ),
);
prebuild(ROUTE_MODE_ERROR);

export function blockedResponse(
  phase: "request" | "response",
  findings: readonly ReportedFinding[],
): ProcessingResponse {
  return jsonResponse(
    403,
    {
      error: {
        type: "hexr_guard_blocked",
        phase,
        message: `blocked by the Hexr LLM guard: ${summary(findings)}`,
        findings,
      },
    },
    "hexr_guard_blocked",
  );
}

function summary(findings: readonly ReportedFinding[]): string {
  const kinds = new Set(findings.map((f) => `${f.type}/${f.subtype}`));
  return [...kinds].join(", ");
}

/** Decode a body per content-encoding; undefined means "cannot" (the caller applies the fail mode). */
export function decodeBody(body: Uint8Array, encoding: string | undefined, maxBytes: number): Uint8Array | undefined {
  const enc = (encoding ?? "").trim().toLowerCase();
  const opts = { maxOutputLength: maxBytes };
  try {
    if (enc === "" || enc === "identity") return body;
    if (enc === "gzip" || enc === "x-gzip") return gunzipSync(body, opts);
    if (enc === "deflate") return inflateSync(body, opts);
    if (enc === "br") return brotliDecompressSync(body, opts);
  } catch {
    return undefined; // corrupt or over the cap
  }
  return undefined; // an encoding we do not know cannot be scanned
}

/**
 * Most bytes of duplex response bodies gathered at once by one guard thread, all streams together: past
 * it, a body gets the route's fail mode (as over its own cap), so many large answers at once cannot grow
 * the thread's heap without bound. Envoy's own per-stream buffer limit held these bodies before.
 */
export const DUPLEX_GATHER_BUDGET_BYTES = 64 * 1024 * 1024;
let gatheredTotal = 0;

/** Bytes gathered now by this thread's duplex bodies (for tests). */
export function gatheredBytes(): number {
  return gatheredTotal;
}

export class GuardProcessor implements Processor {
  readonly #route: GuardRoute;
  readonly #log: Logger;
  readonly #stats: GuardStats;
  #requestEncoding: string | undefined;
  #requestKind: BodyKind | undefined;
  #responseEncoding: string | undefined;
  #responseKind: BodyKind | undefined;
  #stream: StreamGuard | undefined;

  readonly #tel: StreamTelemetry | undefined;

  /** The route sends the response body FULL_DUPLEX_STREAMED (and the request body BUFFERED, statically). */
  readonly #duplexRoute: boolean;
  readonly #requestBuffered: boolean;
  /**
   * How this response's body is answered on a duplex route: `stream` (SSE, through the stream guard),
   * `buffer` (gathered, scanned whole, answered at its end), `echo` (each chunk as received: fail open, or
   * after a gathered body was released), `drop` (refused: chunks still in flight are not answered);
   * undefined before the response headers.
   */
  #duplexBody: "stream" | "buffer" | "echo" | "drop" | undefined;
  #gathered: Buffer | undefined;
  #gatheredLen = 0;
  #closed = false;
  readonly duplex: { responseTrailers(): Answer } | undefined;

  /** `modes`: how Envoy sends this route's bodies (the stream's `protocol_config`), when it said. */
  constructor(route: GuardRoute, log: Logger, stats: GuardStats, tel?: StreamTelemetry, modes?: ProtocolConfiguration) {
    this.#route = route;
    this.#log = log;
    this.#stats = stats;
    this.#tel = tel;
    this.#duplexRoute = modes?.response_body_mode === "FULL_DUPLEX_STREAMED";
    this.#requestBuffered = modes?.request_body_mode === "BUFFERED";
    this.duplex = this.#duplexRoute ? { responseTrailers: () => this.#duplexTrailers() } : undefined;
    if (tel) {
      const k = llmKind(route);
      tel.route(route.name, k.provider, k.operation);
    }
  }

  /** Telemetry of a scanned body's outcome: the worst action, and every finding by type and subtype. */
  #report(
    phase: "request" | "response",
    action: GuardOutcome,
    findings: readonly { type: string; subtype: string }[],
  ): void {
    this.#tel?.outcome(phase, action, findings);
  }

  requestHeaders(headers: Headers, endOfStream: boolean): ProcessingResponse {
    this.#requestEncoding = headers.get("content-encoding");
    // provider APIs take JSON: a body without a content type is read (strictly) as JSON
    this.#requestKind = bodyKind(headers.get("content-type"), "json");
    if (this.#duplexRoute) {
      // the route's modes are static (an override here would replace the response's FULL_DUPLEX_STREAMED,
      // and one into it is unreliable in Envoy): the request body must already be BUFFERED, or it would
      // go upstream unseen — refused whatever the fail mode, it is a configuration error
      if (!endOfStream && !this.#requestBuffered) return ROUTE_MODE_ERROR;
      return DUPLEX_REQUEST_HEADERS;
    }
    return endOfStream ? REQUEST_HEADERS_NO_BODY : REQUEST_HEADERS_BODY;
  }

  requestBody(body: HttpBody): ProcessingResponse {
    const raw = body.body ?? new Uint8Array();
    if (this.#requestKind === undefined) return this.#unscannable("request", CONTINUE.requestBody, "media");
    const kind = this.#requestKind;
    const scan = this.#scanBody("request", raw, kind, this.#requestEncoding, this.#route.requestPolicy);
    if ("failure" in scan) {
      if (scan.failure === "invalid") {
        this.#report("request", "invalid", []);
        return invalidRequest(scan.code);
      }
      return this.#unscannable("request", CONTINUE.requestBody, causeOf(scan.code));
    }
    if (scan.action === "block") return blockedResponse("request", scan.findings);
    const mutation = this.#mutation(scan, this.#requestEncoding);
    return mutation ? { request_body: { response: mutation } } : CONTINUE.requestBody;
  }

  responseHeaders(headers: Headers, endOfStream: boolean): Answer {
    if (endOfStream) {
      if (this.#duplexRoute) this.#duplexBody = "echo"; // no body will come
      return CONTINUE.responseHeaders;
    }
    const a = this.#responseHeaders(headers);
    if (this.#duplexRoute) {
      // on a duplex route the body comes whatever we answer (an override would race its first chunks):
      // refused at the headers, chunks still in flight get no answer; passed (fail open), echoed
      if (!Array.isArray(a) && (a as ProcessingResponse).immediate_response) this.#duplexBody = "drop";
      else this.#duplexBody ??= "echo";
    }
    return a;
  }

  #responseHeaders(headers: Headers): Answer {
    this.#responseEncoding = headers.get("content-encoding");
    const type = (headers.get("content-type") ?? "").toLowerCase();
    if (type.startsWith("text/event-stream")) {
      if (!this.#route.stream) return this.#unscannable("response", CONTINUE.responseHeaders, "stream");
      const enc = (this.#responseEncoding ?? "").trim().toLowerCase();
      if (enc !== "" && enc !== "identity") return this.#unscannable("response", CONTINUE.responseHeaders, "encoding");
      const tel = this.#tel;
      this.#stream = new StreamGuard(
        this.#route.stream,
        this.#route.responsePolicy,
        this.#route.failMode,
        this.#route.scanBudgetMs,
        tel ? (doc) => readResponseFacts(doc, tel.facts) : undefined,
      );
      if (!this.#duplexRoute) return STREAM_HEADERS_STREAMED;
      // chunks come without waiting for answers; each answer is what goes on
      this.#duplexBody = "stream";
      return STREAM_HEADERS;
    }
    // JSON, NDJSON and text (an HTML error page, text/plain, no content type) are all model output
    // that may carry text: buffered and scanned; binary media cannot be, and gets the fail mode
    this.#responseKind = bodyKind(type, "text");
    if (this.#responseKind === undefined) return this.#unscannable("response", CONTINUE.responseHeaders, "media");
    if (!this.#duplexRoute) return BUFFER_RESPONSE;
    // duplex: the body is gathered here and the headers' answer waits for it (Envoy holds the headers
    // until then, and sets no message timer on a duplex direction), so a block is still a 403
    this.#duplexBody = "buffer";
    return NOTHING;
  }

  responseBody(body: HttpBody): Answer {
    const chunk = body.body ?? EMPTY;
    const end = body.end_of_stream === true;
    const duplex = this.#duplexBody;
    if (duplex === "stream") {
      const out = this.#streamChunk(chunk, end);
      // unchanged: the chunk as received; nothing released yet: no answer until something is
      if (out.text === undefined) return streamed(chunk, end);
      if (out.text === "" && !end) return NOTHING;
      return streamed(out.text, end);
    }
    if (duplex === "buffer") return this.#gather(chunk, end);
    if (duplex === "drop") return NOTHING;
    if (duplex === "echo") return streamed(chunk, end);
    // a duplex body before its headers: Envoy never sends one; should it, it does not pass unscanned
    if (this.#duplexRoute) throw new Error("guard: a duplex response body before its headers");
    if (this.#stream) {
      const out = this.#streamChunk(chunk, end);
      if (out.text === undefined) return CONTINUE.responseBody;
      return { response_body: { response: { status: "CONTINUE", body_mutation: { body: out.text } } } };
    }
    const scan = this.#scanResponse(chunk);
    if ("failure" in scan) return this.#unscannable("response", CONTINUE.responseBody, causeOf(scan.code));
    if (scan.action === "block") return blockedResponse("response", scan.findings);
    const mutation = this.#mutation(scan, this.#responseEncoding);
    return mutation ? { response_body: { response: mutation } } : CONTINUE.responseBody;
  }

  #scanResponse(raw: Uint8Array): DocScan | NotScanned {
    const kind = this.#responseKind ?? "text";
    return this.#scanBody("response", raw, kind, this.#responseEncoding, this.#route.responsePolicy);
  }

  /**
   * A duplex body that is not a stream: gathered (copied into one buffer: the chunks are views of
   * received messages) up to the route's cap, then scanned whole; the headers' answer goes first, then
   * the body as one piece. `end`: the piece ends the body (false when trailers follow).
   */
  #gather(chunk: Uint8Array, end: boolean, last = end): Answer {
    if (this.#closed) return NOTHING;
    this.#append(chunk);
    if (gatheredTotal > DUPLEX_GATHER_BUDGET_BYTES) {
      // the thread's budget, not this body, ran out: refused whatever the route's fail mode (passing it
      // unscanned would let other streams' load open this one), and nothing of it kept
      this.#dropGathered();
      this.#duplexBody = "drop";
      this.#stats.unscannable++;
      this.#tel?.unscannable("response", "too_large");
      this.#log.warn({
        event: "guard_gather_budget",
        route: this.#route.name,
        budget_bytes: DUPLEX_GATHER_BUDGET_BYTES,
      });
      return GATHER_BUDGET_ERROR;
    }
    if (this.#gatheredLen > this.#route.maxBodyBytes) {
      const u = this.#unscannable("response", CONTINUE.responseHeaders, "too_large");
      if (u !== CONTINUE.responseHeaders) return this.#refuse(u); // closed: the headers never went on
      return this.#release([u, streamed(this.#takeGathered(), last)]);
    }
    if (!last) return NOTHING;
    const raw = this.#takeGathered();
    const scan = this.#scanResponse(raw);
    if ("failure" in scan) {
      const u = this.#unscannable("response", CONTINUE.responseHeaders, causeOf(scan.code));
      return u === CONTINUE.responseHeaders ? this.#release([u, streamed(raw, end)]) : this.#refuse(u);
    }
    if (scan.action === "block") return this.#refuse(blockedResponse("response", scan.findings));
    const m = this.#mutation(scan, this.#responseEncoding);
    const headers: ProcessingResponse = m?.header_mutation
      ? { response_headers: { response: { status: "CONTINUE", header_mutation: m.header_mutation } } }
      : CONTINUE.responseHeaders;
    return this.#release([headers, streamed(scan.body ?? raw, end)]);
  }

  #append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const need = this.#gatheredLen + chunk.length;
    let buf = this.#gathered;
    if (buf === undefined || need > buf.length) {
      // doubling, so a body of many tiny chunks costs what its bytes do; the capacity is what is counted
      const next = Buffer.allocUnsafe(Math.max(16 * 1024, 2 ** Math.ceil(Math.log2(need))));
      if (buf !== undefined) buf.copy(next, 0, 0, this.#gatheredLen);
      gatheredTotal += next.length - (buf?.length ?? 0);
      buf = this.#gathered = next;
    }
    buf.set(chunk, this.#gatheredLen);
    this.#gatheredLen = need;
  }

  /** An immediate response ends the stream: chunks still in flight, and trailers, get no answer. */
  #refuse(r: ProcessingResponse): ProcessingResponse {
    this.#dropGathered();
    this.#duplexBody = "drop";
    return r;
  }

  /** The rest of the body goes on as it comes (fail open past the cap, or the whole body answered). */
  #release(answers: ProcessingResponse[]): Answer {
    this.#duplexBody = "echo";
    return answers;
  }

  #takeGathered(): Buffer {
    const b = Buffer.from(this.#gathered?.subarray(0, this.#gatheredLen) ?? EMPTY);
    this.#dropGathered();
    return b;
  }

  #dropGathered(): void {
    gatheredTotal -= this.#gathered?.length ?? 0;
    this.#gathered = undefined;
    this.#gatheredLen = 0;
  }

  close(): void {
    this.#closed = true;
    this.#dropGathered();
  }

  /**
   * Trailers on a duplex route: what is still held goes out before them (for a stream, the end of an event
   * cut off by the trailers is dropped, as at the end of any stream), never ending the body. After an
   * immediate response, nothing.
   */
  #duplexTrailers(): Answer {
    const state = this.#duplexBody;
    if (state === "drop") return NOTHING;
    if (state === "buffer") {
      const a = this.#gather(EMPTY, false, true);
      const list = Array.isArray(a) ? (a as readonly ProcessingResponse[]) : [a as ProcessingResponse];
      return list.length === 1 && list[0]!.immediate_response ? list : [...list, CONTINUE.responseTrailers];
    }
    if (state !== "stream") return CONTINUE.responseTrailers;
    const out = this.#streamChunk(EMPTY, true);
    if (out.text === undefined || out.text === "") return CONTINUE.responseTrailers;
    return [streamed(out.text, false), CONTINUE.responseTrailers];
  }

  /** One chunk of an SSE stream through the stream guard, with its outcome reported. */
  #streamChunk(chunk: Uint8Array, end: boolean): StreamChunkResult {
    const out = this.#stream!.push(chunk, end);
    const reported = out.findings.map(strip);
    if (out.blocked) this.#report("response", "block", reported);
    else if (out.error) this.#tel?.unscannable("response", "stream");
    else if (out.findings.length > 0) this.#report("response", out.redacted ? "redact" : "annotate", reported);
    if (out.blocked) {
      this.#stats.blocked++;
      this.#log.warn({ event: "guard_stream_blocked", route: this.#route.name, findings: reported });
    } else if (out.error) {
      // the stream guard already ended the stream (closed) or switched to pass-through (open)
      this.#stats.unscannable++;
      this.#log.warn({
        event: "guard_unscannable",
        phase: "response",
        route: this.#route.name,
        fail_mode: this.#route.failMode,
        code: out.error,
      });
    }
    if (out.redacted) this.#stats.redacted++;
    return out;
  }

  /** Scan every text of a body (see the module comment for the kinds). */
  #scanBody(
    phase: "request" | "response",
    raw: Uint8Array,
    kind: BodyKind,
    encoding: string | undefined,
    policy: GuardPolicy,
  ): DocScan | NotScanned {
    if (raw.length === 0) return { action: "allow", findings: [] };
    const route = this.#route;
    const decoded = decodeBody(raw, encoding, route.maxBodyBytes);
    if (!decoded || decoded.length > route.maxBodyBytes) return { failure: "unscannable", code: "guard.too_large" };
    let read: Readable;
    try {
      read = readBody(utf8.decode(decoded), kind, route.adapter, phase);
    } catch (e) {
      const code = isHexrError(e) ? e.code : "guard.bad_utf8";
      this.#log.warn({ event: "guard_unparseable", phase, route: route.name, code });
      // a duplicate key in a request is the client's error: refused whatever the fail mode
      const invalid = phase === "request" && code === "guard.duplicate_key";
      return { failure: invalid ? "invalid" : "unscannable", code };
    }
    this.#stats.scanned++;
    const tel = this.#tel;
    if (tel) {
      tel.scanned(phase);
      if (read.doc !== undefined) (phase === "request" ? readRequestFacts : readResponseFacts)(read.doc, tel.facts);
    }
    let result: ReturnType<typeof scanSlots>;
    try {
      result = scanSlots(read.slots, policy, "label", performance.now() + route.scanBudgetMs);
    } catch (e) {
      // one text over the scanner's cap, or the scan past the route's time budget
      const code = isHexrError(e) ? e.code : "guard.scan_error";
      if (code === "guard.scan_timeout") {
        this.#log.warn({ event: "guard_scan_timeout", phase, route: route.name, budget_ms: route.scanBudgetMs });
      }
      return { failure: "unscannable", code };
    }
    const { action } = result;
    const findings: ReportedFinding[] = result.findings.map((f) => ({
      ...strip(f),
      path: formatPath(shownPath(read.slots[f.slot]!)),
    }));
    if (action === "block") {
      this.#stats.blocked++;
      this.#report(phase, "block", findings);
      this.#log.warn({ event: "guard_blocked", phase, route: route.name, findings });
      return { action, findings };
    }
    if (result.rewrites.size === 0) {
      this.#report(phase, findings.length > 0 ? "annotate" : "allow", findings);
      return { action, findings };
    }
    this.#report(phase, "redact", findings);
    const text = read.rewrite(result.rewrites);
    this.#stats.redacted++;
    this.#log.info({ event: "guard_redacted", phase, route: route.name, findings });
    return { action, findings, body: encoder.encode(text) };
  }

  #mutation(scan: DocScan, encoding: string | undefined) {
    if (scan.findings.length === 0) return undefined;
    const set = [setHeader(FINDINGS_HEADER, summary(scan.findings))];
    if (!scan.body) return { status: "CONTINUE" as const, header_mutation: { set_headers: set } };
    set.push(setHeader("content-length", String(scan.body.length)));
    const enc = (encoding ?? "").trim().toLowerCase();
    return {
      status: "CONTINUE" as const,
      header_mutation: {
        set_headers: set,
        ...(enc && enc !== "identity" ? { remove_headers: ["content-encoding"] } : {}),
      },
      body_mutation: { body: scan.body },
    };
  }

  #unscannable(phase: "request" | "response", pass: ProcessingResponse, cause: string): ProcessingResponse {
    this.#stats.unscannable++;
    this.#tel?.unscannable(phase, cause);
    const route = this.#route;
    this.#log.warn({ event: "guard_unscannable", phase, route: route.name, fail_mode: route.failMode });
    if (route.failMode === "open") return pass;
    return jsonResponse(
      phase === "request" ? 413 : 502,
      {
        error: {
          type: "hexr_guard_unscannable",
          phase,
          message: "the Hexr LLM guard could not scan this body (size, encoding or format); refusing by policy",
        },
      },
      "hexr_guard_unscannable",
    );
  }
}

/** A body read for scanning: its slots, and how to serialize it with some slots rewritten. */
interface Readable {
  readonly slots: TextSlot[];
  /** The parsed JSON document (kind json), for the call's telemetry facts. */
  readonly doc?: unknown;
  rewrite(texts: ReadonlyMap<number, string>): string;
}

/** Throws HexrError (bad JSON, duplicate key, too deep) when the body cannot be read as `kind`. */
function readBody(text: string, kind: BodyKind, adapter: GuardAdapter, phase: "request" | "response"): Readable {
  if (kind === "text") {
    return { slots: [{ path: [], text }], rewrite: (t) => t.get(0) ?? text };
  }
  if (kind === "json") {
    const doc = parseStrictJson(text);
    const slots = phase === "request" ? adapter.extractRequest(doc) : adapter.extractResponse(doc);
    return {
      slots,
      doc,
      rewrite(texts) {
        for (const [i, t] of texts) {
          adapter.rewrite(doc, slots[i]!, t);
          clearLogprobs(doc, slots[i]!.path);
        }
        return JSON.stringify(doc);
      },
    };
  }
  // NDJSON: each non-empty line is a document; its slots are grouped per line, rewritten lines re-serialized
  const lines = text.split("\n");
  const docs: unknown[] = [];
  const slots: TextSlot[] = [];
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.endsWith("\r") ? lines[n]!.slice(0, -1) : lines[n]!;
    if (line.trim() === "") {
      docs.push(undefined);
      continue;
    }
    const doc = parseStrictJson(line);
    docs.push(doc);
    for (const s of jsonText.extractResponse(doc))
      slots.push({
        ...s,
        path: [n, ...s.path],
        ...(s.shownPath ? { shownPath: [n, ...s.shownPath] } : {}),
        group: `${n}/${s.group ?? ""}`,
      });
  }
  return {
    slots,
    rewrite(texts) {
      const changed = new Set<number>();
      for (const [i, t] of texts) {
        const sl = slots[i]!;
        const n = sl.path[0] as number;
        if (sl.path.length === 1) docs[n] = t;
        else setAtPath(docs, sl.path, t);
        changed.add(n);
      }
      const cr = (l: string) => (l.endsWith("\r") ? "\r" : "");
      return lines.map((l, n) => (changed.has(n) ? JSON.stringify(docs[n]) + cr(l) : l)).join("\n");
    },
  };
}

const shownPath = (s: TextSlot) => s.shownPath ?? s.path;

/** 400 for a body the guard refuses to read (duplicate keys): the reason only, never body content. */
function invalidRequest(code: string): ProcessingResponse {
  return jsonResponse(
    400,
    {
      error: {
        type: "hexr_guard_invalid_json",
        code,
        message:
          "the request body repeats a JSON object key; refused so that the guard and the provider cannot read it differently",
      },
    },
    "hexr_guard_invalid_json",
  );
}

function strip(f: Finding): Omit<ReportedFinding, "path"> {
  return { type: f.type, subtype: f.subtype, start: f.start, end: f.end, score: Math.round(f.score * 1000) / 1000 };
}

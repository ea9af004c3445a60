/**
 * ext_proc for inbound A2A calls (the route tags its stream `x-hexr-route: a2a`), after ext_authz has
 * classified, validated and authorized the request:
 *
 *  - **Request**: the text parts of the incoming message are untrusted text for the target agent (a task
 *    from a compromised agent): scanned by the LLM guard (prompt injection, secrets, …) under the request
 *    policy — blocked in the protocol's own error format, or redacted in place.
 *  - **Response, JSON**: agent cards are validated against the negotiated version, refused when they
 *    advertise loopback, link-local or private endpoints, and their interface URLs rewritten to the
 *    proxy's address when configured; task/message results have their artifact and message text scanned
 *    (secrets, PII) under the response policy.
 *  - **Response, SSE** (`SendStreamingMessage`, `SubscribeToTask`): every event is validated as a stream
 *    response of the negotiated version and its text scanned; an invalid or blocked event ends the stream
 *    with a protocol error event, and nothing after it reaches the caller.
 *
 * Each byte of a stream is parsed once: complete events are handled as they arrive, a partial one waits
 * for the next chunk (bounded by `maxEventBytes`).
 */
import { a2aErrorResponse } from "../../filters/a2a/errors.ts";
import type { A2aBinding, A2aVersion } from "../../filters/a2a/types.ts";
import { urlRefusal } from "../../filters/a2a/urls.ts";
import { type A2aSchemas, loadA2aSchemas, textParts } from "../../filters/a2a/validate.ts";
import type { TextSlot } from "../../filters/guard/adapters/types.ts";
import { type GuardPolicy, parseGuardPolicy } from "../../filters/guard/policy.ts";
import { scanSlots } from "../../filters/guard/scan-slots.ts";
import { CONTINUE, type Processor } from "./processor.ts";
import { type Headers, type HttpBody, type ProcessingResponse, setHeader } from "./types.ts";

export const DEFAULT_MAX_EVENT_BYTES = 1 << 20;
const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });
/** Set by ext_authz on allowed inbound A2A calls (sidecars/authz/pipeline.ts `A2A_CALL_HEADER`). */
const CALL_HEADER = "x-hexr-a2a-call";
const CRLF_OR_CR = /\r\n?/g;

export interface A2aProcessorOptions {
  readonly schemas: A2aSchemas;
  readonly requestPolicy: GuardPolicy;
  readonly responsePolicy: GuardPolicy;
  /** The proxy's public base URL: agent-card interface URLs are rewritten to it. */
  readonly publicUrl?: string;
  /** Private endpoints in cards are refused unless they are the configured public URL's. */
  readonly maxEventBytes?: number;
}

type Mutation = ProcessingResponse;

function bodyMutation(phase: "request_body" | "response_body", body: string): Mutation {
  return { [phase]: { response: { status: "CONTINUE", body_mutation: { body: encoder.encode(body) } } } };
}

/**
 * The processor's settings from the sidecar's `a2a` section: the schemas, and the guard policies the issue
 * asks for — injection and secrets in incoming messages, secrets and PII in outgoing answers, with the LLM
 * routes' actions (block injection and secrets, redact PII).
 */
export function a2aProcessorOptions(c: { schemasDir?: string; publicUrl?: string }): A2aProcessorOptions {
  return {
    schemas: loadA2aSchemas(c.schemasDir),
    requestPolicy: parseGuardPolicy({ scanners: { pii: "off" } }),
    responsePolicy: parseGuardPolicy({ scanners: { prompt_injection: "off", pii: "redact", secret: "block" } }),
    ...(c.publicUrl ? { publicUrl: c.publicUrl } : {}),
  };
}

/** The text of a JSON-RPC error object (`error.message`), as a span the guard can rewrite in place. */
function errorSpans(doc: unknown): ReturnType<typeof textParts> {
  const err = (doc as { error?: unknown } | null)?.error;
  if (err === null || typeof err !== "object") return [];
  const e = err as Record<string, unknown>;
  return typeof e.message === "string"
    ? [{ path: "error.message", text: e.message, container: e, key: "message" }]
    : [];
}

export class A2aProcessor implements Processor {
  readonly #o: A2aProcessorOptions;
  #version: A2aVersion = "0.3";
  #binding: A2aBinding = "jsonrpc";
  #jsonrpcId: string | number | null = null;
  #card = false;
  #sse = false;
  #pending = "";
  #ended = false;

  constructor(o: A2aProcessorOptions) {
    this.#o = o;
  }

  requestHeaders(h: Headers, endOfStream: boolean): ProcessingResponse {
    // the call as ext_authz classified it (binding and version): never re-derived here from the path
    const m = /^(jsonrpc|rest|grpc|agent_card);(1\.0|0\.3)$/.exec(h.get(CALL_HEADER) ?? "");
    if (!m) {
      return this.#refuse(
        "a2a.unclassified: the request reached the A2A processor without ext_authz's classification",
        500,
      );
    }
    this.#binding = m[1] as A2aBinding;
    this.#version = m[2] as A2aVersion;
    this.#card = this.#binding === "agent_card";
    const strip = { header_mutation: { remove_headers: [CALL_HEADER] } };
    if (this.#binding === "grpc") {
      return { request_headers: { response: { status: "CONTINUE", ...strip } } } as ProcessingResponse;
    }
    return {
      request_headers: { response: { status: "CONTINUE", ...strip } },
      mode_override: { request_body_mode: endOfStream ? "NONE" : "BUFFERED", response_body_mode: "NONE" },
    } as ProcessingResponse;
  }

  requestBody(body: HttpBody): ProcessingResponse {
    const doc = this.#parse(body.body);
    if (doc === undefined) return CONTINUE.requestBody; // ext_authz validated it; nothing more to read
    const d = doc as { id?: unknown; params?: { message?: unknown }; message?: unknown };
    if (typeof d.id === "string" || typeof d.id === "number") this.#jsonrpcId = d.id;
    const message = this.#binding === "jsonrpc" ? d.params?.message : d.message;
    if (message === undefined) return CONTINUE.requestBody;
    const verdict = this.#scan(textParts(this.#version, "message", message), this.#o.requestPolicy);
    if (verdict === "block") return this.#refuse("guard: the message's text was blocked by the request policy");
    return verdict === "redacted" ? bodyMutation("request_body", JSON.stringify(doc)) : CONTINUE.requestBody;
  }

  responseHeaders(h: Headers, endOfStream: boolean): ProcessingResponse {
    if (endOfStream || this.#binding === "grpc") return CONTINUE.responseHeaders;
    const ct = (h.get("content-type") ?? "").toLowerCase();
    this.#sse = ct.startsWith("text/event-stream");
    if (!this.#sse && !ct.includes("json")) return CONTINUE.responseHeaders;
    return {
      response_headers: {
        response: { status: "CONTINUE", header_mutation: { remove_headers: ["content-length"] } },
      },
      mode_override: { response_body_mode: this.#sse ? "STREAMED" : "BUFFERED" },
    } as ProcessingResponse;
  }

  responseBody(body: HttpBody): ProcessingResponse {
    return this.#sse ? this.#streamChunk(body) : this.#document(body);
  }

  /** A buffered JSON answer: an agent card, or a result whose text is scanned. */
  #document(body: HttpBody): ProcessingResponse {
    const doc = this.#parse(body.body);
    if (doc === undefined) return CONTINUE.responseBody;
    if (this.#card) {
      const bad = this.#o.schemas.validateAgentCard(this.#version, doc, { binding: this.#binding });
      if (bad) return this.#refuse(`a2a.invalid_agent_card: ${bad.message}`, 502);
      const rewritten = this.#cardUrls(doc);
      if (rewritten === "private")
        return this.#refuse("a2a.private_endpoint: the agent card advertises a private address", 502);
      return rewritten ? bodyMutation("response_body", JSON.stringify(doc)) : CONTINUE.responseBody;
    }
    const result = this.#binding === "jsonrpc" ? (doc as { result?: unknown }).result : doc;
    if (result === undefined) {
      // a JSON-RPC error from the agent: its message may carry what an exception held (a key, a record)
      const verdict = this.#scan(errorSpans(doc), this.#o.responsePolicy);
      if (verdict === "block") return this.#refuse("guard: the agent's error was blocked by the response policy", 502);
      return verdict === "redacted" ? bodyMutation("response_body", JSON.stringify(doc)) : CONTINUE.responseBody;
    }
    // v1.0 answers wrap the task or message (SendMessageResponse: task | message), like a stream event
    const verdict = this.#scan(textParts(this.#version, "stream", result), this.#o.responsePolicy);
    if (verdict === "block") return this.#refuse("guard: the agent's answer was blocked by the response policy", 502);
    return verdict === "redacted" ? bodyMutation("response_body", JSON.stringify(doc)) : CONTINUE.responseBody;
  }

  /** SSE: complete events validated and scanned as they arrive; a bad one ends the stream. */
  #streamChunk(body: HttpBody): ProcessingResponse {
    if (this.#ended) return bodyMutation("response_body", "");
    let text: string;
    try {
      text = this.#pending + utf8.decode(body.body ?? new Uint8Array(), { stream: !body.end_of_stream });
    } catch {
      return this.#endStream("a2a.invalid_event: the stream is not UTF-8");
    }
    // SSE lines end in CRLF, CR or LF: read them all as LF (a CR at the end of a chunk may be half a CRLF)
    let held = "";
    if (!body.end_of_stream && text.endsWith("\r")) {
      held = "\r";
      text = text.slice(0, -1);
    }
    text = text.replace(CRLF_OR_CR, "\n");
    let out = "";
    let at = 0;
    for (;;) {
      const end = text.indexOf("\n\n", at);
      if (end === -1) break;
      const event = text.slice(at, end + 2);
      at = end + 2;
      const handled = this.#event(event);
      if (handled === undefined) return this.#endStream(this.#stopReason, out);
      out += handled;
    }
    this.#pending = text.slice(at) + held;
    if (this.#pending.length > (this.#o.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES)) {
      return this.#endStream("a2a.invalid_event: an event is larger than the limit", out);
    }
    if (body.end_of_stream && this.#pending.trim() !== "") {
      return this.#endStream("a2a.invalid_event: the stream ended inside an event", out);
    }
    return bodyMutation("response_body", out);
  }

  #stopReason = "";

  /** One SSE event as it goes on (possibly redacted), or undefined to end the stream (#stopReason says why). */
  #event(event: string): string | undefined {
    const data = event
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).replace(/^ /, ""))
      .join("\n");
    if (data === "") return event; // comments, keep-alives
    let doc: unknown;
    try {
      doc = JSON.parse(data);
    } catch {
      this.#stopReason = "a2a.invalid_event: an event is not JSON";
      return undefined;
    }
    const payload = this.#binding === "jsonrpc" ? (doc as { result?: unknown; error?: unknown }) : { result: doc };
    if (payload.error !== undefined && payload.result === undefined) {
      const verdict = this.#scan(errorSpans(doc), this.#o.responsePolicy);
      if (verdict === "block") {
        this.#stopReason = "guard: an error event was blocked by the response policy";
        return undefined;
      }
      return verdict === "redacted" ? `data: ${JSON.stringify(doc)}\n\n` : event;
    }
    const bad = this.#o.schemas.validateStreamEvent(this.#version, payload.result, { binding: this.#binding });
    if (bad) {
      this.#stopReason = `a2a.invalid_event: ${bad.message}`;
      return undefined;
    }
    const verdict = this.#scan(textParts(this.#version, "stream", payload.result), this.#o.responsePolicy);
    if (verdict === "block") {
      this.#stopReason = "guard: an event was blocked by the response policy";
      return undefined;
    }
    return verdict === "redacted" ? `data: ${JSON.stringify(doc)}\n\n` : event;
  }

  /** The events so far, then a protocol error event; the rest of the stream is dropped. */
  #endStream(reason: string, before = ""): ProcessingResponse {
    this.#ended = true;
    const err = a2aErrorResponse(
      { binding: this.#binding, version: this.#version, jsonrpcId: this.#jsonrpcId },
      { reasons: [reason] },
    );
    return bodyMutation("response_body", `${before}data: ${err.body}\n\n`);
  }

  /** Scans text spans; rewrites them in place on redaction. */
  #scan(spans: ReturnType<typeof textParts>, policy: GuardPolicy): "ok" | "redacted" | "block" {
    if (spans.length === 0) return "ok";
    const slots: TextSlot[] = spans.map((s, i) => ({ path: [s.path], text: s.text, group: `p${i}` }));
    const r = scanSlots(slots, policy);
    if (r.action === "block") return "block";
    if (r.rewrites.size === 0) return "ok";
    for (const [i, t] of r.rewrites) {
      const s = spans[i];
      if (s) (s.container as Record<string | number, unknown>)[s.key] = t;
    }
    return "redacted";
  }

  /** Rewrites interface URLs to the proxy; "private" when one points at a private address. */
  #cardUrls(card: unknown): boolean | "private" {
    const c = card as { url?: unknown; supportedInterfaces?: unknown; additionalInterfaces?: unknown };
    const ifaces = [
      ...(Array.isArray(c.supportedInterfaces) ? c.supportedInterfaces : []),
      ...(Array.isArray(c.additionalInterfaces) ? c.additionalInterfaces : []),
    ] as Array<{ url?: unknown }>;
    const targets: Array<{ holder: Record<string, unknown>; key: string }> = [];
    if (typeof c.url === "string") targets.push({ holder: c as Record<string, unknown>, key: "url" });
    for (const i of ifaces)
      if (typeof i?.url === "string") targets.push({ holder: i as Record<string, unknown>, key: "url" });
    const pub = this.#o.publicUrl;
    let changed = false;
    for (const t of targets) {
      let u: URL;
      try {
        u = new URL(t.holder[t.key] as string);
      } catch {
        return "private";
      }
      if (pub !== undefined) {
        const p = new URL(pub);
        t.holder[t.key] = `${p.origin}${u.pathname}${u.search}`;
        changed = true;
      } else if (urlRefusal(u.href) !== undefined) {
        return "private";
      }
    }
    return changed;
  }

  #parse(body: Uint8Array | undefined): unknown {
    if (body === undefined || body.length === 0) return undefined;
    try {
      return JSON.parse(utf8.decode(body));
    } catch {
      return undefined;
    }
  }

  #refuse(reason: string, status?: number): ProcessingResponse {
    const err = a2aErrorResponse(
      { binding: this.#binding, version: this.#version, jsonrpcId: this.#jsonrpcId },
      { reasons: [reason] },
    );
    const headers = Object.entries(err.headers).map(([k, v]) => setHeader(k, v));
    return {
      immediate_response: {
        status: { code: status ?? err.status },
        headers: { set_headers: headers },
        body: encoder.encode(err.body),
        details: "hexr_a2a_refused",
      },
    } as ProcessingResponse;
  }
}

/** The A2A processor factory a {@link GuardRouter} takes (`c`: where the schemas are, the public URL). */
export function a2aProcessors(c: { schemasDir?: string; publicUrl?: string }): () => Processor {
  const opts = a2aProcessorOptions(c);
  return () => new A2aProcessor(opts);
}

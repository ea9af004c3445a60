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
import { CONTINUE, type Processor } from "./processor.ts";
import type { GuardRoute } from "./guard-routes.ts";
import { StreamGuard } from "./stream-guard.ts";
import { type Headers, type HttpBody, type ProcessingResponse, setHeader } from "./types.ts";

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

  constructor(route: GuardRoute, log: Logger, stats: GuardStats, tel?: StreamTelemetry) {
    this.#route = route;
    this.#log = log;
    this.#stats = stats;
    this.#tel = tel;
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
    return {
      request_headers: { response: { status: "CONTINUE", header_mutation: { remove_headers: ["accept-encoding"] } } },
      mode_override: { request_body_mode: endOfStream ? "NONE" : "BUFFERED", response_body_mode: "NONE" },
    };
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

  responseHeaders(headers: Headers, endOfStream: boolean): ProcessingResponse {
    if (endOfStream) return CONTINUE.responseHeaders;
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
      return {
        response_headers: { response: { status: "CONTINUE", header_mutation: { remove_headers: ["content-length"] } } },
        mode_override: { response_body_mode: "STREAMED" },
      };
    }
    // JSON, NDJSON and text (an HTML error page, text/plain, no content type) are all model output
    // that may carry text: buffered and scanned; binary media cannot be, and gets the fail mode
    this.#responseKind = bodyKind(type, "text");
    if (this.#responseKind === undefined) return this.#unscannable("response", CONTINUE.responseHeaders, "media");
    return {
      response_headers: { response: { status: "CONTINUE" } },
      mode_override: { response_body_mode: "BUFFERED" },
    };
  }

  responseBody(body: HttpBody): ProcessingResponse {
    if (this.#stream) {
      const out = this.#stream.push(body.body ?? new Uint8Array(), body.end_of_stream === true);
      const reported = out.findings.map(strip);
      if (out.blocked) this.#report("response", "block", reported);
      else if (out.error) this.#tel?.unscannable("response", "stream");
      else if (out.findings.length > 0) this.#report("response", out.redacted ? "redact" : "annotate", reported);
      if (out.blocked) {
        this.#stats.blocked++;
        this.#log.warn({ event: "guard_stream_blocked", route: this.#route.name, findings: out.findings.map(strip) });
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
      if (out.text === undefined) return CONTINUE.responseBody;
      return { response_body: { response: { status: "CONTINUE", body_mutation: { body: out.text } } } };
    }
    const raw = body.body ?? new Uint8Array();
    const kind = this.#responseKind ?? "text";
    const scan = this.#scanBody("response", raw, kind, this.#responseEncoding, this.#route.responsePolicy);
    if ("failure" in scan) return this.#unscannable("response", CONTINUE.responseBody, causeOf(scan.code));
    if (scan.action === "block") return blockedResponse("response", scan.findings);
    const mutation = this.#mutation(scan, this.#responseEncoding);
    return mutation ? { response_body: { response: mutation } } : CONTINUE.responseBody;
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

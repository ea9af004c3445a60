/**
 * The LLM guard as an ext_proc processor for one request on a guarded route.
 *
 *   request headers  → ask for the buffered request body; drop accept-encoding so responses come back
 *                      uncompressed and scannable
 *   request body     → adapter finds the prompt texts → scan → block (403) | redact (body mutation) |
 *                      annotate (header) | continue
 *   response headers → JSON: ask for the buffered body; SSE: ask for the streamed body
 *   response body    → buffered: scan model output (redact / block); streamed: see stream-guard.ts
 *
 * Anything that cannot be scanned — over the size cap, an unknown content-encoding, invalid UTF-8 or
 * JSON — gets the route's fail mode (closed by default), and is logged and counted. Findings carry
 * types and offsets only; the matched text never leaves this file.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { isHexrError } from "../../filters/errors.ts";
import type { TextSlot } from "../../filters/guard/adapters/types.ts";
import { formatPath } from "../../filters/guard/adapters/types.ts";
import type { GuardPolicy } from "../../filters/guard/policy.ts";
import { redact, type ScanAction, scanText } from "../../filters/guard/scan.ts";
import type { Finding } from "../../filters/guard/types.ts";
import type { Logger } from "../logger.ts";
import { CONTINUE, type Processor } from "./processor.ts";
import type { GuardRoute } from "./guard-routes.ts";
import { StreamGuard } from "./stream-guard.ts";
import { type Headers, type HttpBody, type ProcessingResponse, setHeader } from "./types.ts";

const encoder = new TextEncoder();
const FINDINGS_HEADER = "x-hexr-guard-findings";
const RANK: Record<ScanAction, number> = { allow: 0, annotate: 1, redact: 2, block: 3 };

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
  #responseEncoding: string | undefined;
  #stream: StreamGuard | undefined;

  constructor(route: GuardRoute, log: Logger, stats: GuardStats) {
    this.#route = route;
    this.#log = log;
    this.#stats = stats;
  }

  requestHeaders(headers: Headers, endOfStream: boolean): ProcessingResponse {
    this.#requestEncoding = headers.get("content-encoding");
    return {
      request_headers: { response: { status: "CONTINUE", header_mutation: { remove_headers: ["accept-encoding"] } } },
      mode_override: { request_body_mode: endOfStream ? "NONE" : "BUFFERED", response_body_mode: "NONE" },
    };
  }

  requestBody(body: HttpBody): ProcessingResponse {
    const raw = body.body ?? new Uint8Array();
    const scan = this.#scanDocument("request", raw, this.#requestEncoding, this.#route.requestPolicy);
    if (!scan) return this.#unscannable("request", CONTINUE.requestBody);
    if (scan.action === "block") return blockedResponse("request", scan.findings);
    const mutation = this.#mutation(scan, this.#requestEncoding);
    return mutation ? { request_body: { response: mutation } } : CONTINUE.requestBody;
  }

  responseHeaders(headers: Headers, endOfStream: boolean): ProcessingResponse {
    if (endOfStream) return CONTINUE.responseHeaders;
    this.#responseEncoding = headers.get("content-encoding");
    const type = (headers.get("content-type") ?? "").toLowerCase();
    if (type.startsWith("text/event-stream")) {
      if (!this.#route.stream) return this.#unscannable("response", CONTINUE.responseHeaders);
      const enc = (this.#responseEncoding ?? "").trim().toLowerCase();
      if (enc !== "" && enc !== "identity") return this.#unscannable("response", CONTINUE.responseHeaders);
      this.#stream = new StreamGuard(this.#route.stream, this.#route.responsePolicy, this.#route.failMode);
      return {
        response_headers: { response: { status: "CONTINUE", header_mutation: { remove_headers: ["content-length"] } } },
        mode_override: { response_body_mode: "STREAMED" },
      };
    }
    if (type.includes("json")) {
      return {
        response_headers: { response: { status: "CONTINUE" } },
        mode_override: { response_body_mode: "BUFFERED" },
      };
    }
    return CONTINUE.responseHeaders; // not model output we know how to read (e.g. an HTML error page)
  }

  responseBody(body: HttpBody): ProcessingResponse {
    if (this.#stream) {
      const out = this.#stream.push(body.body ?? new Uint8Array(), body.end_of_stream === true);
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
      if (out.bytes === undefined) return CONTINUE.responseBody;
      return { response_body: { response: { status: "CONTINUE", body_mutation: { body: out.bytes } } } };
    }
    const raw = body.body ?? new Uint8Array();
    const scan = this.#scanDocument("response", raw, this.#responseEncoding, this.#route.responsePolicy);
    if (!scan) return this.#unscannable("response", CONTINUE.responseBody);
    if (scan.action === "block") return blockedResponse("response", scan.findings);
    const mutation = this.#mutation(scan, this.#responseEncoding);
    return mutation ? { response_body: { response: mutation } } : CONTINUE.responseBody;
  }

  /** Scan every text slot of a JSON body; undefined when the body cannot be scanned. */
  #scanDocument(
    phase: "request" | "response",
    raw: Uint8Array,
    encoding: string | undefined,
    policy: GuardPolicy,
  ): DocScan | undefined {
    if (raw.length === 0) return { action: "allow", findings: [] };
    const route = this.#route;
    const decoded = decodeBody(raw, encoding, route.maxBodyBytes);
    if (!decoded || decoded.length > route.maxBodyBytes) return undefined;
    let doc: unknown;
    let slots: TextSlot[];
    try {
      doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(decoded));
      slots = phase === "request" ? route.adapter.extractRequest(doc) : route.adapter.extractResponse(doc);
    } catch (e) {
      this.#log.warn({
        event: "guard_unparseable",
        phase,
        route: route.name,
        code: isHexrError(e) ? e.code : "guard.bad_json",
      });
      return undefined;
    }
    this.#stats.scanned++;
    let action: ScanAction = "allow";
    const findings: ReportedFinding[] = [];
    const rewrites: Array<[TextSlot, string]> = [];
    for (const s of slots) {
      let result: ReturnType<typeof scanText>;
      try {
        result = scanText(s.text, policy);
      } catch {
        return undefined; // guard.too_large for one slot
      }
      if (result.findings.length === 0) continue;
      if (RANK[result.action] > RANK[action]) action = result.action;
      const path = formatPath(s.path);
      for (const f of result.findings) findings.push({ ...strip(f), path });
      const toRedact = result.findings.filter((f) => policy.scanners[f.type].action === "redact");
      if (toRedact.length) rewrites.push([s, redact(s.text, toRedact)]);
    }
    if (action === "block") {
      this.#stats.blocked++;
      this.#log.warn({ event: "guard_blocked", phase, route: route.name, findings });
      return { action, findings };
    }
    if (rewrites.length === 0) return { action, findings };
    for (const [s, text] of rewrites) route.adapter.rewrite(doc, s, text);
    this.#stats.redacted++;
    this.#log.info({ event: "guard_redacted", phase, route: route.name, findings });
    return { action, findings, body: encoder.encode(JSON.stringify(doc)) };
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

  #unscannable(phase: "request" | "response", pass: ProcessingResponse): ProcessingResponse {
    this.#stats.unscannable++;
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

function strip(f: Finding): Omit<ReportedFinding, "path"> {
  return { type: f.type, subtype: f.subtype, start: f.start, end: f.end, score: Math.round(f.score * 1000) / 1000 };
}

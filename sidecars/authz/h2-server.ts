/**
 * ext_authz `Check` (and `grpc.health.v1.Health/Check`) on plain `node:http2`, without grpc-js: the
 * `authz.listen.server: http2` option, for a Unix-socket listener. Measured in the benchmark's helper
 * scenarios (bench/RESULTS.md): grpc-js costs ~70 MB of resident memory under load and ~0.08 CPU-second
 * per 1000 Checks over plain http2.
 *
 * What a unary gRPC server must do, and this one does (gRPC over HTTP/2 spec):
 * - `POST` with `content-type: application/grpc[+proto]`; anything else → HTTP 415 (not gRPC at all).
 * - One length-prefixed message; a compressed one (flag 1) → UNIMPLEMENTED (no `grpc-encoding` is offered);
 *   more than `maxMessageBytes` → RESOURCE_EXHAUSTED, read no further; a truncated frame, trailing bytes or a
 *   CheckRequest the codec refuses → INTERNAL. Envoy fails closed on every non-OK status.
 * - An unknown method → UNIMPLEMENTED, trailers-only.
 * - Answers: `:status 200`, `content-type: application/grpc`, the message, then `grpc-status` trailers.
 * - Drain: health goes NOT_SERVING (the caller's {@link HealthService}), each session gets GOAWAY, in-flight
 *   Checks finish up to the timeout, then sessions are destroyed.
 * Envoy's `grpc-timeout` is not enforced here: the pipeline has its own deadlines, shorter than Envoy's.
 */
import { rmSync } from "node:fs";
import http2 from "node:http2";
import type { HealthService } from "../health.ts";
import type { Logger } from "../logger.ts";
import { CodecError, decodeCheckRequest, decodeHealthCheckRequest, encodeCheckResponse } from "./codec.ts";
import type { AuthzPipeline } from "./pipeline.ts";

export const CHECK_PATH = "/envoy.service.auth.v3.Authorization/Check";
export const HEALTH_CHECK_PATH = "/grpc.health.v1.Health/Check";
export const DEFAULT_MAX_MESSAGE_BYTES = 8 << 20;

const GRPC = { OK: 0, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13 } as const;
const HEALTH_STATUS = { SERVING: 1, NOT_SERVING: 2 } as const;
const RESPONSE_HEADERS = Object.freeze({ ":status": 200, "content-type": "application/grpc" });
const OK_TRAILERS = Object.freeze({ "grpc-status": "0" });

/**
 * `grpc-message` as the gRPC HTTP/2 spec writes it: printable ASCII except `%` as is, everything else as
 * `%XX` of its UTF-8 bytes (encodeURIComponent would also escape `:` and spaces, which clients show raw).
 */
export function grpcMessage(text: string): string {
  let out = "";
  for (const b of Buffer.from(text, "utf8")) {
    out +=
      b >= 0x20 && b <= 0x7e && b !== 0x25
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** The 5-byte gRPC message prefix + message. */
function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

export interface H2CheckServerOptions {
  readonly maxMessageBytes?: number;
  readonly logger?: Logger;
}

export class H2CheckServer {
  readonly #pipeline: Pick<AuthzPipeline, "check">;
  readonly #health: HealthService;
  readonly #max: number;
  readonly #logger: Logger | undefined;
  // Node caps a session's nghttp2 buffers at 10 MB by default and then refuses new streams on it
  // (ENHANCE_YOUR_CALM); Envoy multiplexes every agent's Checks on one connection, so reaching it would fail
  // everyone's. Bodies are read out as they arrive and bounded per stream (maxMessageBytes) and by Envoy
  // (max_request_bytes), so the cap is lifted, as grpc-js lifts it for the server it runs.
  readonly #server = http2.createServer({
    settings: { enableConnectProtocol: false },
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
  });
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  #socket: string | undefined;
  #inFlight = 0;
  #idle: (() => void) | undefined;

  constructor(pipeline: Pick<AuthzPipeline, "check">, health: HealthService, o: H2CheckServerOptions = {}) {
    this.#pipeline = pipeline;
    this.#health = health;
    this.#max = o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#logger = o.logger;
    this.#server.on("session", (s) => {
      this.#sessions.add(s);
      s.once("close", () => this.#sessions.delete(s));
      s.on("error", () => {}); // a broken connection is the client's problem; its streams are closed
    });
    this.#server.on("stream", (stream, headers) => this.#stream(stream, headers));
  }

  /** Listens on a Unix socket (a stale socket file is removed first). */
  listen(socket: string): Promise<void> {
    rmSync(socket, { force: true });
    this.#socket = socket;
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(socket, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
  }

  #stream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on("error", () => {});
    const type = String(headers["content-type"] ?? "");
    if (headers[":method"] !== "POST" || !(type === "application/grpc" || type.startsWith("application/grpc+"))) {
      stream.respond({ ":status": 415 }, { endStream: true });
      return;
    }
    const path = headers[":path"];
    if (path !== CHECK_PATH && path !== HEALTH_CHECK_PATH) {
      this.#status(stream, GRPC.UNIMPLEMENTED, `unknown method ${String(path).slice(0, 200)}`);
      stream.resume();
      return;
    }
    const parts: Buffer[] = [];
    let n = 0;
    let refused = false;
    stream.on("data", (c: Buffer) => {
      if (refused) return;
      n += c.length;
      if (n > this.#max + 5) {
        refused = true;
        this.#status(stream, GRPC.RESOURCE_EXHAUSTED, `message larger than ${this.#max} bytes`);
        return;
      }
      parts.push(c);
    });
    stream.on("end", () => {
      if (refused) return;
      const body = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, n);
      if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) {
        this.#status(stream, GRPC.INTERNAL, "not one length-prefixed gRPC message");
        return;
      }
      if (body[0] !== 0) {
        this.#status(stream, GRPC.UNIMPLEMENTED, "compressed messages are not supported");
        return;
      }
      const message = body.subarray(5);
      if (path === HEALTH_CHECK_PATH) this.#healthCheck(stream, message);
      else this.#check(stream, message, headers);
    });
  }

  #check(stream: http2.ServerHttp2Stream, message: Buffer, headers: http2.IncomingHttpHeaders): void {
    let request: ReturnType<typeof decodeCheckRequest>;
    try {
      request = decodeCheckRequest(message);
    } catch (e) {
      this.#status(
        stream,
        GRPC.INTERNAL,
        e instanceof CodecError ? `malformed CheckRequest: ${e.message}` : "internal",
      );
      return;
    }
    const tp = headers.traceparent;
    const ts = headers.tracestate;
    const trace =
      typeof tp === "string" ? { traceparent: tp, ...(typeof ts === "string" ? { tracestate: ts } : {}) } : undefined;
    // pipeline.check never throws and its promise never rejects: every outcome is a CheckResponse
    const result = this.#pipeline.check(request as never, trace);
    if (!(result instanceof Promise)) {
      this.#answer(stream, result);
      return;
    }
    this.#inFlight++;
    result
      .then(
        (r) => this.#answer(stream, r),
        () => this.#status(stream, GRPC.INTERNAL, "authorization failed"),
      )
      .finally(() => {
        if (--this.#inFlight === 0) this.#idle?.();
      });
  }

  /** The response's bytes, or INTERNAL if it cannot be encoded (Envoy then fails closed); never a throw. */
  #answer(stream: http2.ServerHttp2Stream, response: Parameters<typeof encodeCheckResponse>[0]): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeCheckResponse(response);
    } catch {
      this.#status(stream, GRPC.INTERNAL, "authorization failed");
      return;
    }
    this.#reply(stream, bytes);
  }

  #healthCheck(stream: http2.ServerHttp2Stream, message: Buffer): void {
    let service: string;
    try {
      service = decodeHealthCheckRequest(message);
    } catch (e) {
      this.#status(
        stream,
        GRPC.INTERNAL,
        e instanceof CodecError ? `malformed HealthCheckRequest: ${e.message}` : "internal",
      );
      return;
    }
    const st = this.#health.status(service);
    if (st === undefined) {
      this.#status(stream, GRPC.NOT_FOUND, "unknown service");
      return;
    }
    this.#reply(stream, Uint8Array.of(0x08, HEALTH_STATUS[st]));
  }

  #reply(stream: http2.ServerHttp2Stream, message: Uint8Array): void {
    if (stream.destroyed || stream.closed) return;
    stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers(OK_TRAILERS));
    stream.end(frame(message));
  }

  /** A trailers-only answer with a non-OK status (a reason without request data). */
  #status(stream: http2.ServerHttp2Stream, code: number, message: string): void {
    if (stream.destroyed || stream.closed || stream.headersSent) {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      return;
    }
    stream.respond(
      { ...RESPONSE_HEADERS, "grpc-status": String(code), "grpc-message": grpcMessage(message) },
      { endStream: true },
    );
    if (code === GRPC.INTERNAL) this.#logger?.warn({ msg: "authz call failed", grpc_status: code, reason: message });
  }

  /** Immediate stop: every connection reset, the socket removed. */
  kill(): void {
    this.#server.close();
    for (const s of this.#sessions) s.destroy();
    if (this.#socket) rmSync(this.#socket, { force: true });
  }

  /** Stops accepting, sends GOAWAY, lets in-flight Checks finish up to `timeoutMs`, then closes everything. */
  async drain(timeoutMs: number): Promise<void> {
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    for (const s of this.#sessions) s.close(); // GOAWAY: no new streams, open ones finish
    const idle = this.#inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => (this.#idle = r));
    const timer = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
    await Promise.race([Promise.all([idle, closed]), timer]);
    for (const s of this.#sessions) s.destroy();
    if (this.#socket) rmSync(this.#socket, { force: true });
  }
}

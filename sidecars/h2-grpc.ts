/**
 * A gRPC server on plain `node:http2`, without grpc-js: what the sidecar's Unix-socket listeners run by
 * default (`listen.server: http2`). Two kinds of method, which is all Envoy calls: unary
 * (`Authorization/Check`, `Health/Check`) and bidirectional streams (`ExternalProcessor/Process`).
 * Measured in the benchmark's helper scenarios (bench/RESULTS.md): grpc-js costs ~70 MB of resident
 * memory under load and ~0.08 CPU-second per 1000 Checks over this.
 *
 * What the gRPC over HTTP/2 spec asks of a server, and this one does:
 * - `POST` with `content-type: application/grpc[+proto]`; anything else → HTTP 415 (not gRPC at all).
 * - Length-prefixed messages; a compressed one (flag 1) → UNIMPLEMENTED (no `grpc-encoding` is offered);
 *   one longer than `maxMessageBytes` → RESOURCE_EXHAUSTED, read no further. Unary: exactly one message,
 *   else INTERNAL. Streams: messages are handed over as they complete, however the bytes were split.
 * - An unknown method → UNIMPLEMENTED, trailers-only.
 * - Answers: `:status 200`, `content-type: application/grpc`, the messages, then `grpc-status` trailers;
 *   a failure before any message is trailers-only.
 * - Drain: health goes NOT_SERVING (the caller's {@link HealthService}), each session gets GOAWAY, in-flight
 *   calls and open streams finish up to the timeout, then sessions are destroyed.
 * Envoy's `grpc-timeout` is not enforced here: the handlers have their own deadlines, shorter than Envoy's.
 */
import { rmSync } from "node:fs";
import http2 from "node:http2";
import type { HealthService } from "./health.ts";
import type { Logger } from "./logger.ts";
import { CodecError, decodeHealthCheckRequest, grpcFrame as frame } from "./proto-wire.ts";

export const HEALTH_CHECK_PATH = "/grpc.health.v1.Health/Check";
export const DEFAULT_MAX_MESSAGE_BYTES = 8 << 20;
/**
 * Streams one connection may have open (SETTINGS_MAX_CONCURRENT_STREAMS; Node's default is unbounded).
 * Above Envoy's default circuit breaker (1024 requests per cluster), so Envoy's own limit applies first.
 */
const MAX_CONCURRENT_STREAMS = 2048;

/** gRPC status codes (the subset these servers answer with). */
export const GRPC = {
  OK: 0,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const;
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

/** A non-OK answer from a handler: the call ends with this status and message. */
export class GrpcFailure {
  readonly code: number;
  readonly message: string;
  constructor(code: number, message: string) {
    this.code = code;
    this.message = message;
  }
}

/**
 * `decode(message)`, or INTERNAL naming what could not be read (the codec's reason: wire types and field
 * names, never the bytes). Envoy fails closed on it.
 */
export function decoded<T>(decode: (m: Uint8Array) => T, message: Uint8Array, what: string): T | GrpcFailure {
  try {
    return decode(message);
  } catch (e) {
    return new GrpcFailure(GRPC.INTERNAL, e instanceof CodecError ? `malformed ${what}: ${e.message}` : "internal");
  }
}

/** One request message → the response message, or a failure. May answer later (a promise that never rejects). */
export type UnaryHandler = (
  message: Buffer,
  headers: http2.IncomingHttpHeaders,
) => Uint8Array | GrpcFailure | Promise<Uint8Array | GrpcFailure>;

/** The server side of one bidirectional stream. */
export interface BidiCall {
  readonly headers: http2.IncomingHttpHeaders;
  /** Sends one message (response headers go out with the first). */
  write(message: Uint8Array): void;
  /** Sends one message already length-prefixed (5-byte gRPC prefix + message), as is. */
  writeFrame(framed: Uint8Array): void;
  /** Ends the call: OK, or `failure`'s status. Later writes and ends are ignored. */
  end(failure?: GrpcFailure): void;
}

/** What a stream handler does with the client's side of the stream. */
export interface BidiHandlers {
  /** One complete message, in order. */
  message(message: Buffer): void;
  /** The client half-closed: every message has been delivered. */
  end(): void;
  /** The stream is gone (ended, reset or the connection lost); called once, last. */
  close(): void;
}

/** Opens a stream: its handlers, or undefined when it was refused (ended with a failure at once). */
export type BidiHandler = (call: BidiCall) => BidiHandlers | undefined;

const EMPTY = Buffer.alloc(0);

/**
 * Length-prefixed messages out of DATA chunks as they arrive (Node emits one chunk per DATA frame). A whole
 * message inside one chunk is handed over as a view of it; a partial one is kept in one buffer that grows by
 * doubling up to the announced length (checked against the limit before anything is kept). So a peer
 * sending 1-byte frames costs bytes, never one retained object per frame, and memory stays within twice
 * what was actually received. A buffer that messages were handed out of is never written again.
 */
export class Reassembler {
  readonly #max: number;
  #buf = EMPTY;
  #held = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** Bytes of an unfinished message. */
  get pending(): number {
    return this.#held;
  }

  /** Bytes allocated for it. */
  get capacity(): number {
    return this.#buf.length;
  }

  release(): void {
    this.#buf = EMPTY;
    this.#held = 0;
  }

  /** Hands each complete message to `each` (until it returns false); a failure ends reading. */
  push(chunk: Buffer, each: (m: Buffer) => boolean): GrpcFailure | undefined {
    let view = chunk;
    if (this.#held > 0) {
      const need = this.#held + chunk.length;
      if (need > this.#buf.length) this.#grow(need);
      chunk.copy(this.#buf, this.#held);
      view = this.#buf.subarray(0, need);
    }
    let p = 0;
    while (view.length - p >= 5) {
      const len = view.readUInt32BE(p + 1);
      if (len > this.#max) return new GrpcFailure(GRPC.RESOURCE_EXHAUSTED, `message larger than ${this.#max} bytes`);
      if (view[p] !== 0) return new GrpcFailure(GRPC.UNIMPLEMENTED, "compressed messages are not supported");
      if (view.length - p - 5 < len) break;
      const m = view.subarray(p + 5, p + 5 + len);
      p += 5 + len;
      if (!each(m)) return undefined;
    }
    const rest = view.length - p;
    if (rest === 0) this.release();
    else if (p > 0 || this.#held === 0) {
      // a fresh buffer for the rest: the old one (or the chunk) may back messages just handed out
      const old = view;
      this.#buf = EMPTY;
      this.#held = 0;
      this.#grow(rest);
      old.copy(this.#buf, 0, p);
      this.#held = rest;
    } else this.#held = view.length;
    return undefined;
  }

  /** Room for `n` bytes: doubling, at most the message's announced size once its prefix is in. */
  #grow(n: number): void {
    let size = Math.max(n, this.#buf.length * 2, 64);
    const b = this.#buf;
    if (this.#held >= 5) size = Math.min(size, Math.max(n, 5 + b.readUInt32BE(1)));
    const grown = Buffer.allocUnsafe(size);
    b.copy(grown, 0, 0, this.#held);
    this.#buf = grown;
  }
}

export interface H2GrpcServerOptions {
  readonly maxMessageBytes?: number;
  readonly logger?: Logger;
}

export class H2GrpcServer {
  readonly #health: HealthService;
  readonly #max: number;
  readonly #logger: Logger | undefined;
  readonly #unary = new Map<string, UnaryHandler>();
  readonly #bidi = new Map<string, BidiHandler>();
  // Node caps a session's nghttp2 buffers at 10 MB by default and then refuses new streams on it
  // (ENHANCE_YOUR_CALM); Envoy multiplexes every agent's calls on one connection, so reaching it would fail
  // everyone's. Bodies are read out as they arrive and bounded per message (maxMessageBytes) and by Envoy
  // (max_request_bytes), so the cap is lifted, as grpc-js lifts it for the server it runs.
  readonly #server = http2.createServer({
    settings: { enableConnectProtocol: false, maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
  });
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  #socket: string | undefined;
  #inFlight = 0;
  #idle: (() => void) | undefined;

  constructor(health: HealthService, o: H2GrpcServerOptions = {}) {
    this.#health = health;
    this.#max = o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#logger = o.logger;
    this.#server.on("session", (s) => {
      this.#sessions.add(s);
      s.once("close", () => this.#sessions.delete(s));
      s.on("error", () => {}); // a broken connection is the client's problem; its streams are closed
    });
    this.#server.on("stream", (stream, headers) => this.#stream(stream, headers));
    this.unary(HEALTH_CHECK_PATH, (m) => this.#healthCheck(m));
  }

  unary(path: string, handler: UnaryHandler): void {
    this.#unary.set(path, handler);
  }

  bidi(path: string, handler: BidiHandler): void {
    this.#bidi.set(path, handler);
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
      stream.resume();
      return;
    }
    const path = String(headers[":path"]);
    const unary = this.#unary.get(path);
    const bidi = this.#bidi.get(path);
    if (unary) this.#unaryCall(stream, headers, unary);
    else if (bidi) this.#bidiCall(stream, headers, bidi);
    else {
      this.#status(stream, GRPC.UNIMPLEMENTED, `unknown method ${path.slice(0, 200)}`);
      stream.resume();
    }
  }

  #unaryCall(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, handler: UnaryHandler): void {
    const reader = new Reassembler(this.#max);
    let message: Buffer | undefined;
    let refused = false;
    const refuse = (f: GrpcFailure) => {
      refused = true;
      reader.release();
      this.#status(stream, f.code, f.message);
    };
    stream.on("data", (c: Buffer) => {
      if (refused) return;
      let extra = false;
      const failed = reader.push(c, (m) => {
        if (message === undefined) message = m;
        else extra = true;
        return !extra;
      });
      if (failed) refuse(failed);
      else if (extra || (message !== undefined && reader.pending > 0))
        refuse(new GrpcFailure(GRPC.INTERNAL, "not one length-prefixed gRPC message"));
    });
    stream.on("end", () => {
      if (refused) return;
      if (message === undefined || reader.pending > 0) {
        this.#status(stream, GRPC.INTERNAL, "not one length-prefixed gRPC message");
        return;
      }
      const body = message;
      let result: ReturnType<UnaryHandler>;
      try {
        result = handler(body, headers);
      } catch {
        // handlers answer failures as GrpcFailure; a throw is a bug, and Envoy fails closed on INTERNAL
        result = new GrpcFailure(GRPC.INTERNAL, "internal");
      }
      if (!(result instanceof Promise)) {
        this.#unaryAnswer(stream, result);
        return;
      }
      this.#inFlight++;
      result
        .then(
          (r) => this.#unaryAnswer(stream, r),
          () => this.#status(stream, GRPC.INTERNAL, "internal"),
        )
        .finally(() => this.#done());
    });
  }

  #unaryAnswer(stream: http2.ServerHttp2Stream, result: Uint8Array | GrpcFailure): void {
    if (result instanceof GrpcFailure) {
      this.#status(stream, result.code, result.message);
      return;
    }
    if (stream.destroyed || stream.closed) return;
    stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers(OK_TRAILERS));
    stream.end(frame(result));
  }

  #bidiCall(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, open: BidiHandler): void {
    let responded = false;
    let ended = false;
    let trailers: http2.OutgoingHttpHeaders = OK_TRAILERS;
    let paused = false;
    const reader = new Reassembler(this.#max);
    const call: BidiCall = {
      headers,
      write: (message) => call.writeFrame(frame(message)),
      writeFrame: (framed) => {
        if (ended || stream.destroyed || stream.closed) return;
        if (!responded) {
          responded = true;
          stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
          stream.once("wantTrailers", () => stream.sendTrailers(trailers));
        }
        // the peer reads answers slower than it sends: stop reading until they drain (HTTP/2 flow control
        // then holds the peer back), so answers never pile up without bound
        if (!stream.write(framed) && !paused) {
          paused = true;
          stream.pause();
          stream.once("drain", () => {
            paused = false;
            stream.resume();
          });
        }
      },
      end: (failure) => {
        if (ended) return;
        ended = true;
        reader.release();
        if (!responded) {
          if (failure) this.#status(stream, failure.code, failure.message);
          else if (!stream.destroyed && !stream.closed)
            stream.respond({ ...RESPONSE_HEADERS, ...OK_TRAILERS }, { endStream: true });
          return;
        }
        if (failure) {
          trailers = { "grpc-status": String(failure.code), "grpc-message": grpcMessage(failure.message) };
          this.#logFailure(failure);
        }
        if (!stream.destroyed && !stream.closed) stream.end();
      },
    };
    const handlers = open(call);
    if (!handlers) {
      stream.resume();
      return;
    }
    this.#inFlight++;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      handlers.close();
      this.#done();
    };
    stream.once("close", close);
    stream.on("data", (chunk: Buffer) => {
      if (ended) return;
      const failed = reader.push(chunk, (m) => {
        try {
          handlers.message(m);
        } catch {
          call.end(new GrpcFailure(GRPC.INTERNAL, "internal"));
        }
        return !ended;
      });
      if (failed) call.end(failed);
    });
    stream.on("end", () => {
      if (ended) return;
      if (reader.pending > 0) {
        call.end(new GrpcFailure(GRPC.INTERNAL, "stream ended inside a length-prefixed message"));
        return;
      }
      handlers.end();
    });
  }

  #done(): void {
    if (--this.#inFlight === 0) this.#idle?.();
  }

  #healthCheck(message: Buffer): Uint8Array | GrpcFailure {
    const service = decoded(decodeHealthCheckRequest, message, "HealthCheckRequest");
    if (service instanceof GrpcFailure) return service;
    const st = this.#health.status(service);
    if (st === undefined) return new GrpcFailure(GRPC.NOT_FOUND, "unknown service");
    return Uint8Array.of(0x08, HEALTH_STATUS[st]);
  }

  #logFailure(f: GrpcFailure): void {
    if (f.code === GRPC.INTERNAL)
      this.#logger?.warn({ msg: "gRPC call failed", grpc_status: f.code, reason: f.message });
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
    this.#logFailure(new GrpcFailure(code, message));
  }

  /** Immediate stop: every connection reset, the socket removed. */
  kill(): void {
    this.#server.close();
    for (const s of this.#sessions) s.destroy();
    if (this.#socket) rmSync(this.#socket, { force: true });
  }

  /** Stops accepting, sends GOAWAY, lets in-flight calls finish up to `timeoutMs`, then closes everything. */
  async drain(timeoutMs: number): Promise<void> {
    this.#health.drain();
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    for (const s of this.#sessions) s.close(); // GOAWAY: no new streams, open ones finish
    const idle = this.#inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => (this.#idle = r));
    const timer = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
    await Promise.race([Promise.all([idle, closed]), timer]);
    for (const s of this.#sessions) s.destroy();
    if (this.#socket) rmSync(this.#socket, { force: true });
  }
}

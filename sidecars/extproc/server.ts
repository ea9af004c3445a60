/**
 * envoy.service.ext_proc.v3.ExternalProcessor/Process: the stream loop. It receives phase messages,
 * picks a processor on request headers, and answers each message in order. Any processor error ends the
 * request with a 500 ImmediateResponse (fail closed) rather than letting the message through.
 *
 * One loop ({@link ExtProcStreams}), two transports, both with the hand-written codec (`codec.ts`):
 * grpc-js ({@link addExtProcService}: TCP, or a socket shared with ext_authz) and the plain node:http2
 * server ({@link addExtProcH2}: a socket of its own, the default).
 */
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "../logger.ts";
import type { GuardTelemetry, StreamTelemetry } from "../telemetry/guard.ts";
import { decoded, GRPC, GrpcFailure, type H2GrpcServer } from "../h2-grpc.ts";
import {
  CodecError,
  decodeProcessingRequest,
  encodeProcessingFrame,
  encodeProcessingResponse,
  prebuild,
} from "./codec.ts";
import {
  type Answer,
  CONTINUE,
  DUPLEX_PASS_THROUGH,
  deepFreeze,
  PASS_THROUGH,
  type Processor,
  type ProcessorRouter,
} from "./processor.ts";
import { type ProcessingRequest, type ProcessingResponse, type ProtocolConfiguration, readHeaders } from "./types.ts";

export const PROCESS_PATH = "/envoy.service.ext_proc.v3.ExternalProcessor/Process";

const encoder = new TextEncoder();
const INTERNAL_ERROR: ProcessingResponse = deepFreeze({
  immediate_response: {
    status: { code: 500 },
    body: encoder.encode(JSON.stringify({ error: "hexr ext_proc: request processing failed" })),
    details: "hexr_ext_proc_error",
  },
});
prebuild(INTERNAL_ERROR);

export interface ExtProcStats {
  streams: number;
  errors: number;
}

/** Bounds on one ext_proc server (the worker thread sets them; in-process use may leave them out). */
export interface ExtProcLimits {
  /** Most streams open at once; more are refused with RESOURCE_EXHAUSTED (Envoy: status_on_error). */
  readonly maxStreams: number;
  /** Shared counter of open streams. */
  readonly open: { open: number };
  readonly onRefused?: () => void;
  /** Called after each answered message. */
  readonly afterMessage?: () => void;
}

/** The ext_proc phase a message carries, as a metric label. */
function phaseOf(m: ProcessingRequest): string {
  if (m.request_headers) return "request_headers";
  if (m.request_body) return "request_body";
  if (m.response_headers) return "response_headers";
  if (m.response_body) return "response_body";
  if (m.request_trailers) return "request_trailers";
  if (m.response_trailers) return "response_trailers";
  return "other";
}

/** Stream metadata Envoy sets per route (ExtProcPerRoute `grpc_initial_metadata`): which processor serves it. */
const ROUTE_TAG = "x-hexr-route";

/** A stream's gRPC metadata (initial metadata: HTTP/2 headers), by lower-case key. */
type Metadata = (key: string) => string | undefined;

/** One ext_proc stream: each phase message → its answer, in order. */
export class ExtProcStream {
  readonly #streams: ExtProcStreams;
  readonly #meta: Metadata;
  readonly #tel: StreamTelemetry | undefined;
  #processor: Processor | undefined;
  /** How Envoy sends this stream's bodies (the first message's protocol_config), when it said. */
  #modes: ProtocolConfiguration | undefined;
  /** The response body comes FULL_DUPLEX_STREAMED. */
  #duplex = false;
  /** A message was seen (protocol_config is read from the first only). */
  #started = false;
  #closed = false;

  constructor(streams: ExtProcStreams, meta: Metadata, tel: StreamTelemetry | undefined) {
    this.#streams = streams;
    this.#meta = meta;
    this.#tel = tel;
  }

  message(msg: ProcessingRequest): Answer {
    const s = this.#streams;
    const tel = this.#tel;
    let out: Answer;
    const started = tel ? performance.now() : 0;
    try {
      out = this.#answer(msg);
    } catch (e) {
      s.stats.errors++;
      s.logger.error({ event: "ext_proc_error", error: e instanceof Error ? e.name : "unknown" });
      out = INTERNAL_ERROR;
    }
    if (tel) s.telemetry?.message(phaseOf(msg), performance.now() - started);
    return out;
  }

  #answer(msg: ProcessingRequest): Answer {
    const processor = this.#processor;
    // the stream's first message says how Envoy sends this route's bodies (ExtProcPerRoute); a later one
    // cannot change it (Envoy sends it once: a stream answered in one form is never switched to another)
    const modes = this.#started ? undefined : msg.protocol_config;
    this.#started = true;
    if (modes !== undefined) {
      this.#modes = modes;
      if (modes.request_body_mode === "FULL_DUPLEX_STREAMED") {
        // every processor here reads a request body whole (or not at all): refused, never half-read
        this.#streams.logger.error({ event: "ext_proc_unsupported_mode", request_body_mode: modes.request_body_mode });
        return INTERNAL_ERROR;
      }
      this.#duplex = modes.response_body_mode === "FULL_DUPLEX_STREAMED";
    }
    const duplex = this.#duplex;
    if (msg.request_headers) {
      const headers = readHeaders(msg.request_headers);
      this.#tel?.requestTrace(headers.get("traceparent"));
      const p = this.#streams.router.select(headers, this.#tel, this.#meta(ROUTE_TAG), this.#modes);
      if (duplex && p.duplex === undefined) {
        // an answer in the wrong form would be a protocol error mid-body; refused up front instead
        this.#streams.logger.error({ event: "ext_proc_unsupported_mode", response_body_mode: "FULL_DUPLEX_STREAMED" });
        return INTERNAL_ERROR;
      }
      this.#processor = p;
      return p.requestHeaders(headers, msg.request_headers.end_of_stream === true);
    }
    if (!processor) {
      // Envoy sends response phases without request headers when an earlier filter answered locally
      // (an ext_authz 403, say): nothing went upstream, so there is nothing to scan.
      this.#processor = duplex ? DUPLEX_PASS_THROUGH : PASS_THROUGH;
      if (duplex) return this.#answer(msg);
      return msg.response_headers
        ? CONTINUE.responseHeaders
        : msg.response_body
          ? CONTINUE.responseBody
          : msg.request_trailers
            ? CONTINUE.requestTrailers
            : msg.response_trailers
              ? CONTINUE.responseTrailers
              : INTERNAL_ERROR;
    }
    if (msg.request_body) return processor.requestBody(msg.request_body);
    if (msg.response_headers)
      return processor.responseHeaders(readHeaders(msg.response_headers), msg.response_headers.end_of_stream === true);
    if (msg.response_body) {
      this.#tel?.firstChunk();
      return processor.responseBody(msg.response_body);
    }
    if (msg.request_trailers) return CONTINUE.requestTrailers;
    if (msg.response_trailers) return duplex ? processor.duplex!.responseTrailers() : CONTINUE.responseTrailers;
    return INTERNAL_ERROR;
  }

  /** The stream is gone: its slot and its span are released (once). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#processor?.close?.();
    this.#tel?.end();
    if (this.#streams.limits) this.#streams.limits.open.open--;
  }
}

/** What every stream of one server shares: the router, counters, bounds and telemetry. */
export class ExtProcStreams {
  readonly router: ProcessorRouter;
  readonly logger: Logger;
  readonly stats: ExtProcStats;
  readonly limits: ExtProcLimits | undefined;
  readonly telemetry: GuardTelemetry | undefined;

  constructor(
    router: ProcessorRouter,
    logger: Logger,
    stats: ExtProcStats = { streams: 0, errors: 0 },
    limits?: ExtProcLimits,
    telemetry?: GuardTelemetry,
  ) {
    this.router = router;
    this.logger = logger;
    this.stats = stats;
    this.limits = limits;
    this.telemetry = telemetry;
  }

  /** A new stream, or undefined when `maxStreams` are open (refuse it with RESOURCE_EXHAUSTED). */
  open(meta: Metadata): ExtProcStream | undefined {
    const l = this.limits;
    if (l) {
      if (l.open.open >= l.maxStreams) {
        l.onRefused?.();
        return undefined;
      }
      l.open.open++;
    }
    this.stats.streams++;
    // Envoy's ext_proc span, when Envoy traces: our stream span is its child
    const tel = this.telemetry?.begin({ traceparent: meta("traceparent"), tracestate: meta("tracestate") });
    return new ExtProcStream(this, meta, tel);
  }
}

const TOO_MANY = "hexr ext_proc: too many open streams";

const notAClient = (): never => {
  throw new CodecError("this definition serves Process; clients use envoy-protos.ts externalProcessorService()");
};

/**
 * `ExternalProcessor` for grpc-js with the hand-written codec: the Envoy proto closure is not loaded for it.
 * Answers are written as encoded bytes.
 */
export const EXT_PROC_SERVICE: grpc.ServiceDefinition = {
  Process: {
    path: PROCESS_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: notAClient,
    requestDeserialize: (b: Buffer) => decodeProcessingRequest(b),
    responseSerialize: (b: Buffer) => b, // answers are encoded by the loop (`encoded`), never thrown here
    responseDeserialize: notAClient,
    originalName: "process",
  },
};

/** `Process` on a grpc-js server (TCP, or the socket shared with ext_authz). */
export function addExtProcService(server: grpc.Server, streams: ExtProcStreams): ExtProcStats {
  server.addService(EXT_PROC_SERVICE, {
    Process(call: grpc.ServerDuplexStream<ProcessingRequest, Uint8Array>) {
      const s = streams.open((key) => {
        const v = call.metadata.get(key)[0];
        return typeof v === "string" ? v : undefined;
      });
      if (!s) {
        call.emit("error", { code: GRPC.RESOURCE_EXHAUSTED, details: TOO_MANY });
        return;
      }
      const close = () => s.close();
      call.on("finish", close);
      call.on("close", close);
      call.on("cancelled", close);
      call.on("error", close); // Envoy cancels streams on client disconnect; nothing else to clean up
      call.on("data", (msg: ProcessingRequest) => {
        writeAnswer(s.message(msg), streams, encodeProcessingResponse, (b) => call.write(b));
        streams.limits?.afterMessage?.();
      });
      call.on("end", () => call.end());
    },
  });
  return streams.stats;
}

/**
 * Writes an answer's responses by `encode` (unframed for grpc-js, framed for node:http2), in order. One
 * that cannot be encoded is a bug: the request fails (500) and nothing after it is written, so no piece
 * goes out unprocessed or after the failure.
 */
function writeAnswer(
  a: Answer,
  streams: ExtProcStreams,
  encode: (r: ProcessingResponse) => Buffer,
  write: (b: Buffer) => void,
): void {
  // one response (every message outside FULL_DUPLEX_STREAMED): no list made for it
  if (!Array.isArray(a)) {
    writeOne(a as ProcessingResponse, streams, encode, write);
    return;
  }
  for (const r of a as readonly ProcessingResponse[]) if (!writeOne(r, streams, encode, write)) return;
}

/** Writes one response; false when it could not be encoded (a 500 went out instead). */
function writeOne(
  r: ProcessingResponse,
  streams: ExtProcStreams,
  encode: (r: ProcessingResponse) => Buffer,
  write: (b: Buffer) => void,
): boolean {
  let b: Buffer;
  try {
    b = encode(r);
  } catch (e) {
    streams.stats.errors++;
    streams.logger.error({ event: "ext_proc_error", error: e instanceof Error ? e.name : "unknown" });
    write(encode(INTERNAL_ERROR));
    return false;
  }
  write(b);
  return true;
}

/** `Process` on the plain node:http2 gRPC server. */
export function addExtProcH2(server: H2GrpcServer, streams: ExtProcStreams): void {
  server.bidi(PROCESS_PATH, (call) => {
    const s = streams.open((key) => {
      const v = call.headers[key];
      return typeof v === "string" ? v : undefined;
    });
    if (!s) {
      call.end(new GrpcFailure(GRPC.RESOURCE_EXHAUSTED, TOO_MANY));
      return undefined;
    }
    return {
      message(bytes) {
        const msg = decoded(decodeProcessingRequest, bytes, "ProcessingRequest");
        if (msg instanceof GrpcFailure) {
          call.end(msg);
          return;
        }
        writeAnswer(s.message(msg), streams, encodeProcessingFrame, (b) => call.writeFrame(b));
        streams.limits?.afterMessage?.();
      },
      end: () => call.end(),
      close: () => s.close(),
    };
  });
}

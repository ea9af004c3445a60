/**
 * envoy.service.ext_proc.v3.ExternalProcessor/Process: the stream loop. It receives phase messages,
 * picks a processor on request headers, and answers each message in order. Any processor error ends the
 * request with a 500 ImmediateResponse (fail closed) rather than letting the message through.
 */
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "../logger.ts";
import type { GuardTelemetry } from "../telemetry/guard.ts";
import { externalProcessorService } from "../envoy-protos.ts";
import { CONTINUE, PASS_THROUGH, type Processor, type ProcessorRouter } from "./processor.ts";
import { type ProcessingRequest, type ProcessingResponse, readHeaders } from "./types.ts";

const encoder = new TextEncoder();
/** grpc.status.RESOURCE_EXHAUSTED (the import is type-only here). */
const RESOURCE_EXHAUSTED = 8;
const INTERNAL_ERROR: ProcessingResponse = {
  immediate_response: {
    status: { code: 500 },
    body: encoder.encode(JSON.stringify({ error: "hexr ext_proc: request processing failed" })),
    details: "hexr_ext_proc_error",
  },
};

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

function metadataValue(call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>, key: string) {
  const v = call.metadata.get(key)[0];
  return typeof v === "string" ? v : undefined;
}

export function addExtProcService(
  server: grpc.Server,
  router: ProcessorRouter,
  logger: Logger,
  stats: ExtProcStats = { streams: 0, errors: 0 },
  limits?: ExtProcLimits,
  telemetry?: GuardTelemetry,
): ExtProcStats {
  server.addService(externalProcessorService().service, {
    Process(call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) {
      if (limits) {
        if (limits.open.open >= limits.maxStreams) {
          limits.onRefused?.();
          call.emit("error", { code: RESOURCE_EXHAUSTED, details: "hexr ext_proc: too many open streams" });
          return;
        }
        limits.open.open++;
        let closed = false;
        const release = () => {
          if (closed) return;
          closed = true;
          limits.open.open--;
        };
        call.on("finish", release);
        call.on("close", release);
        call.on("cancelled", release);
        call.on("error", release);
      }
      stats.streams++;
      let processor: Processor | undefined;
      // Envoy's ext_proc span, when Envoy traces: our stream span is its child
      const tel = telemetry?.begin({
        traceparent: metadataValue(call, "traceparent"),
        tracestate: metadataValue(call, "tracestate"),
      });
      if (tel) {
        const end = () => tel.end();
        call.on("finish", end);
        call.on("close", end);
        call.on("cancelled", end);
        call.on("error", end);
      }
      call.on("data", (msg: ProcessingRequest) => {
        let out: ProcessingResponse;
        const started = tel ? performance.now() : 0;
        try {
          if (msg.request_headers) {
            const headers = readHeaders(msg.request_headers);
            tel?.requestTrace(headers.get("traceparent"));
            processor = router.select(headers, tel, metadataValue(call, ROUTE_TAG));
            out = processor.requestHeaders(headers, msg.request_headers.end_of_stream === true);
          } else if (!processor) {
            // Envoy sends response phases without request headers when an earlier filter answered locally
            // (an ext_authz 403, say): nothing went upstream, so there is nothing to scan.
            processor = PASS_THROUGH;
            out = msg.response_headers
              ? CONTINUE.responseHeaders
              : msg.response_body
                ? CONTINUE.responseBody
                : msg.request_trailers
                  ? CONTINUE.requestTrailers
                  : msg.response_trailers
                    ? CONTINUE.responseTrailers
                    : INTERNAL_ERROR;
          } else if (msg.request_body) {
            out = processor.requestBody(msg.request_body);
          } else if (msg.response_headers) {
            out = processor.responseHeaders(
              readHeaders(msg.response_headers),
              msg.response_headers.end_of_stream === true,
            );
          } else if (msg.response_body) {
            tel?.firstChunk();
            out = processor.responseBody(msg.response_body);
          } else if (msg.request_trailers) {
            out = CONTINUE.requestTrailers;
          } else if (msg.response_trailers) {
            out = CONTINUE.responseTrailers;
          } else {
            out = INTERNAL_ERROR;
          }
        } catch (e) {
          stats.errors++;
          logger.error({ event: "ext_proc_error", error: e instanceof Error ? e.name : "unknown" });
          out = INTERNAL_ERROR;
        }
        call.write(out);
        if (tel) telemetry?.message(phaseOf(msg), performance.now() - started);
        limits?.afterMessage?.();
      });
      call.on("end", () => call.end());
      call.on("error", () => undefined); // Envoy cancels streams on client disconnect; nothing to clean up
    },
  });
  return stats;
}

/**
 * A per-request processor: one method per phase. The server owns the stream; processors only map a
 * phase message to a response. Processors are chosen per request by route (see router.ts).
 */
import type { StreamTelemetry } from "../telemetry/guard.ts";
import type { Headers, HttpBody, ProcessingResponse } from "./types.ts";

export interface Processor {
  requestHeaders(headers: Headers, endOfStream: boolean): ProcessingResponse;
  requestBody(body: HttpBody): ProcessingResponse;
  responseHeaders(headers: Headers, endOfStream: boolean): ProcessingResponse;
  responseBody(body: HttpBody): ProcessingResponse;
}

/** Frozen all the way down: the codec sends these as prebuilt bytes, so a change in place would never go out. */
export function deepFreeze<T>(o: T): T {
  // typed arrays cannot be frozen (their bytes are module constants nobody writes)
  if (typeof o === "object" && o !== null && !ArrayBuffer.isView(o) && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Prebuilt CONTINUE responses, shared by every request. */
export const CONTINUE = {
  requestHeaders: deepFreeze({ request_headers: { response: { status: "CONTINUE" } } }) as ProcessingResponse,
  requestBody: deepFreeze({ request_body: { response: { status: "CONTINUE" } } }) as ProcessingResponse,
  responseHeaders: deepFreeze({ response_headers: { response: { status: "CONTINUE" } } }) as ProcessingResponse,
  responseBody: deepFreeze({ response_body: { response: { status: "CONTINUE" } } }) as ProcessingResponse,
  requestTrailers: deepFreeze({ request_trailers: {} }) as ProcessingResponse,
  responseTrailers: deepFreeze({ response_trailers: {} }) as ProcessingResponse,
};

/** Everything that is not a scanned route: header-only, continue unchanged. Stateless, so one instance. */
export const PASS_THROUGH: Processor = {
  requestHeaders: () => CONTINUE.requestHeaders,
  requestBody: () => CONTINUE.requestBody,
  responseHeaders: () => CONTINUE.responseHeaders,
  responseBody: () => CONTINUE.responseBody,
};

/** Picks the processor for a request from its request headers (`:authority`, `:path`, `:method`). */
export interface ProcessorRouter {
  /**
   * `tel`: the stream's telemetry, for a processor that reports what it did. `tag`: the route's
   * `x-hexr-route` stream metadata (Envoy sets it per route: `a2a` on the inbound listener).
   */
  select(headers: Headers, tel?: StreamTelemetry, tag?: string): Processor;
}

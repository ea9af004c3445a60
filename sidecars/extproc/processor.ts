/**
 * A per-request processor: one method per phase. The server owns the stream; processors only map a
 * phase message to a response. Processors are chosen per request by route (see router.ts).
 */
import type { StreamTelemetry } from "../telemetry/guard.ts";
import type { Headers, HttpBody, ProcessingResponse, ProtocolConfiguration } from "./types.ts";

/**
 * What a message is answered with: one response, or — on a FULL_DUPLEX_STREAMED response, where answers
 * are not paired with messages — any number of them, none included (a chunk held back whole).
 */
export type Answer = ProcessingResponse | readonly ProcessingResponse[];

export interface Processor {
  requestHeaders(headers: Headers, endOfStream: boolean): ProcessingResponse;
  requestBody(body: HttpBody): ProcessingResponse;
  responseHeaders(headers: Headers, endOfStream: boolean): Answer;
  responseBody(body: HttpBody): Answer;
  /**
   * Set on a processor that answers a FULL_DUPLEX_STREAMED response body (`streamed_response`s) — the
   * stream loop refuses such a stream to any other. Such a processor also answers its response trailers:
   * what it still holds goes out before them.
   */
  readonly duplex?: { responseTrailers(): Answer };
  /** The stream is gone (ended, or cancelled mid-body): release what it holds. */
  close?(): void;
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

/** A FULL_DUPLEX_STREAMED body piece: Envoy forwards exactly these bytes, and ends the body after `end`. */
export function streamed(body: Uint8Array | string, end: boolean): ProcessingResponse {
  return { response_body: { response: { body_mutation: { streamed_response: { body, end_of_stream: end } } } } };
}

const EMPTY = new Uint8Array();

/** PASS_THROUGH on a FULL_DUPLEX_STREAMED route: every chunk goes on as received. */
export const DUPLEX_PASS_THROUGH: Processor = {
  ...PASS_THROUGH,
  responseBody: (b) => streamed(b.body ?? EMPTY, b.end_of_stream === true),
  duplex: { responseTrailers: () => CONTINUE.responseTrailers },
};

/** Picks the processor for a request from its request headers (`:authority`, `:path`, `:method`). */
export interface ProcessorRouter {
  /**
   * `tel`: the stream's telemetry, for a processor that reports what it did. `tag`: the route's
   * `x-hexr-route` stream metadata (Envoy sets it per route: `a2a` on the inbound listener). `duplex`:
   * how Envoy sends this route's bodies (the stream's `protocol_config`), when it said.
   */
  select(headers: Headers, tel?: StreamTelemetry, tag?: string, modes?: ProtocolConfiguration): Processor;
}

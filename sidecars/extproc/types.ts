/**
 * The subset of envoy.service.ext_proc.v3 messages we read and write, as plain objects
 * (proto-loader keepCase). Header values arrive in `raw_value` (bytes) on current Envoy; `value` on older.
 */
export interface HeaderValue {
  key: string;
  value?: string;
  raw_value?: Uint8Array;
}

export interface HttpHeaders {
  headers?: { headers?: HeaderValue[] };
  end_of_stream?: boolean;
}

export interface HttpBody {
  body?: Uint8Array;
  end_of_stream?: boolean;
}

/** How Envoy sends bodies on this stream (`ProcessingRequest.protocol_config`, on a stream's first message). */
export type BodySendMode = "NONE" | "STREAMED" | "BUFFERED" | "BUFFERED_PARTIAL" | "FULL_DUPLEX_STREAMED";

export interface ProtocolConfiguration {
  request_body_mode?: BodySendMode;
  response_body_mode?: BodySendMode;
}

export interface ProcessingRequest {
  protocol_config?: ProtocolConfiguration;
  request_headers?: HttpHeaders;
  response_headers?: HttpHeaders;
  request_body?: HttpBody;
  response_body?: HttpBody;
  request_trailers?: unknown;
  response_trailers?: unknown;
  request?: string; // oneof discriminator (proto-loader `oneofs: true`)
}

export interface HeaderMutation {
  set_headers?: Array<{ header: { key: string; raw_value: Uint8Array }; append_action?: string }>;
  remove_headers?: string[];
}

export interface CommonResponse {
  status?: "CONTINUE" | "CONTINUE_AND_REPLACE";
  header_mutation?: HeaderMutation;
  /** `body`: bytes, or text the codec writes as UTF-8 (the same wire bytes). */
  body_mutation?: { body?: Uint8Array | string; clear_body?: boolean; streamed_response?: StreamedBodyResponse };
}

/** A piece of the body that goes on, in FULL_DUPLEX_STREAMED mode: Envoy forwards exactly what these carry. */
export interface StreamedBodyResponse {
  body?: Uint8Array | string;
  end_of_stream?: boolean;
}

export interface ProcessingMode {
  request_header_mode?: "DEFAULT" | "SEND" | "SKIP";
  response_header_mode?: "DEFAULT" | "SEND" | "SKIP";
  request_body_mode?: BodySendMode;
  response_body_mode?: BodySendMode;
  request_trailer_mode?: "DEFAULT" | "SEND" | "SKIP";
  response_trailer_mode?: "DEFAULT" | "SEND" | "SKIP";
}

export interface ImmediateResponse {
  status: { code: number };
  headers?: HeaderMutation;
  body?: Uint8Array;
  details?: string;
}

export interface ProcessingResponse {
  request_headers?: { response?: CommonResponse };
  response_headers?: { response?: CommonResponse };
  request_body?: { response?: CommonResponse };
  response_body?: { response?: CommonResponse };
  request_trailers?: Record<string, never>;
  response_trailers?: Record<string, never>;
  immediate_response?: ImmediateResponse;
  mode_override?: ProcessingMode;
  dynamic_metadata?: unknown;
}

/** Lowercased header name → value (first occurrence wins). */
export type Headers = Map<string, string>;

const decoder = new TextDecoder();

export function readHeaders(h: HttpHeaders | undefined): Headers {
  const out: Headers = new Map();
  for (const hv of h?.headers?.headers ?? []) {
    const k = hv.key.toLowerCase();
    if (out.has(k)) continue;
    out.set(k, hv.value !== undefined && hv.value !== "" ? hv.value : hv.raw_value ? decoder.decode(hv.raw_value) : "");
  }
  return out;
}

const encoder = new TextEncoder();

export function setHeader(
  key: string,
  value: string,
): { header: { key: string; raw_value: Uint8Array }; append_action: string } {
  return { header: { key, raw_value: encoder.encode(value) }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" };
}

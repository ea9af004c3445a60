/**
 * The ext_proc wire codec: `envoy.service.ext_proc.v3.ProcessingRequest` bytes → the plain object the
 * processors read (`types.ts`: the shape @grpc/proto-loader gives with `keepCase`, `enums: String`,
 * `defaults: false`), and `ProcessingResponse` objects → bytes. Field numbers are those of the envoy-api
 * protos the npm registry ships (`@grpc/grpc-js-xds` deps/envoy-api: external_processor.proto,
 * processing_mode.proto, config/core/v3/base.proto, type/v3/http_status.proto); the unit test checks
 * both directions against those protos through proto-loader.
 *
 * Why not proto-loader: the guard serves one method, and loading the Envoy API closure for it cost the
 * guard thread's isolate its own copy of every Envoy message type; every body chunk was decoded into a
 * protobufjs object and every answer encoded field by field. Here a body chunk is one pass and a view of
 * the received bytes (no copy), and the prebuilt CONTINUE answers are prebuilt bytes.
 *
 * Read: the `request` oneof (request/response headers, bodies, trailers; the last one present wins, as
 * the protobuf spec says), headers' `headers` and `end_of_stream`, bodies' `body` and `end_of_stream`.
 * Everything else (metadata_context, attributes, observability_mode, protocol_config, trailer values) is
 * skipped by wire type. Malformed bytes throw {@link CodecError}: the stream ends with INTERNAL and
 * Envoy applies the filter's `failure_mode_allow` (false here: the request fails).
 *
 * Written: every field `types.ts` names, each when present. A field the codec does not know
 * (`dynamic_metadata`, say), or a second member of a oneof, throws rather than being dropped: an answer
 * that silently loses a mutation would let through what the processor meant to change.
 */
import {
  CodecError,
  expect,
  grpcFrame as frame,
  type HeaderOption,
  headerMap,
  headerOption,
  Reader,
  WIRE_LEN,
  WIRE_VARINT,
  Writer,
} from "../proto-wire.ts";
import { CONTINUE } from "./processor.ts";
import type {
  CommonResponse,
  HeaderMutation,
  HttpBody,
  HttpHeaders,
  ImmediateResponse,
  BodySendMode,
  ProcessingMode,
  ProcessingRequest,
  ProcessingResponse,
  ProtocolConfiguration,
} from "./types.ts";

export { CodecError };

// ---- ProcessingRequest ----------------------------------------------------------------------------------

/** ProcessingRequest's `request` oneof: field number → property. */
const REQUEST_FIELDS: Readonly<Record<number, keyof ProcessingRequest>> = {
  2: "request_headers",
  3: "response_headers",
  4: "request_body",
  5: "response_body",
  6: "request_trailers",
  7: "response_trailers",
};

/** ProcessingRequest.protocol_config: how Envoy sends bodies on this stream (its first message only). */
const PROTOCOL_CONFIG = 11;

function httpHeaders(r: Reader): HttpHeaders {
  const out: HttpHeaders = {};
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (f === 1) {
      expect(w, WIRE_LEN, "HttpHeaders.headers");
      out.headers = headerMap(r.sub()) as HttpHeaders["headers"];
    } else if (f === 3) {
      expect(w, WIRE_VARINT, "HttpHeaders.end_of_stream");
      out.end_of_stream = r.bool();
    } else r.skip(w);
  }
  return out;
}

function httpBody(r: Reader): HttpBody {
  const out: HttpBody = {};
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (f === 1) {
      expect(w, WIRE_LEN, "HttpBody.body");
      out.body = r.view();
    } else if (f === 2) {
      expect(w, WIRE_VARINT, "HttpBody.end_of_stream");
      out.end_of_stream = r.bool();
    } else r.skip(w);
  }
  return out;
}

/** BodySendMode (processing_mode.proto) by number and by name. */
const BODY_MODE_NAMES = ["NONE", "STREAMED", "BUFFERED", "BUFFERED_PARTIAL", "FULL_DUPLEX_STREAMED"] as const;

function bodyMode(r: Reader, what: string): BodySendMode {
  const n = r.int32();
  const name = BODY_MODE_NAMES[n];
  // a mode this codec does not know means bodies in a form no processor here reads: refused
  if (name === undefined) throw new CodecError(`${what}: unknown body mode ${n}`);
  return name;
}

/** ProtocolConfiguration: `request_body_mode = 1`, `response_body_mode = 2` (the rest is skipped). */
function protocolConfig(r: Reader): ProtocolConfiguration {
  const out: ProtocolConfiguration = {};
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (f === 1) {
      expect(w, WIRE_VARINT, "ProtocolConfiguration.request_body_mode");
      out.request_body_mode = bodyMode(r, "ProtocolConfiguration.request_body_mode");
    } else if (f === 2) {
      expect(w, WIRE_VARINT, "ProtocolConfiguration.response_body_mode");
      out.response_body_mode = bodyMode(r, "ProtocolConfiguration.response_body_mode");
    } else r.skip(w);
  }
  return out;
}

/** Trailers are forwarded unchanged, so only their presence is read. */
function httpTrailers(r: Reader): Record<string, never> {
  for (let t = r.next(); t >= 0; t = r.next()) r.skip(t & 7);
  return {};
}

/**
 * ProcessingRequest bytes → an object with the one phase it carries (none when Envoy sent none: the
 * server answers that with a 500). `body` is a view of `buf`. Throws {@link CodecError}.
 */
export function decodeProcessingRequest(buf: Uint8Array): ProcessingRequest {
  const r = new Reader(buf);
  let key: keyof ProcessingRequest | undefined;
  let value: unknown;
  let config: ProtocolConfiguration | undefined;
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (f === PROTOCOL_CONFIG) {
      expect(w, WIRE_LEN, "ProcessingRequest.protocol_config");
      config = protocolConfig(r.sub());
      continue;
    }
    const k = REQUEST_FIELDS[f];
    if (k === undefined) {
      r.skip(w);
      continue;
    }
    expect(w, WIRE_LEN, `ProcessingRequest.${k}`);
    const sub = r.sub();
    key = k;
    value = f <= 3 ? httpHeaders(sub) : f <= 5 ? httpBody(sub) : httpTrailers(sub);
  }
  const out = (key === undefined ? {} : { [key]: value }) as ProcessingRequest;
  if (config !== undefined) out.protocol_config = config;
  return out;
}

// ---- ProcessingResponse ---------------------------------------------------------------------------------

const RESPONSE_STATUS: Readonly<Record<string, number>> = { CONTINUE: 0, CONTINUE_AND_REPLACE: 1 };
const HEADER_SEND_MODE: Readonly<Record<string, number>> = { DEFAULT: 0, SEND: 1, SKIP: 2 };
const BODY_SEND_MODE: Readonly<Record<string, number>> = Object.fromEntries(BODY_MODE_NAMES.map((n, i) => [n, i]));

function enumValue(table: Readonly<Record<string, number>>, v: string, what: string): number {
  if (!Object.hasOwn(table, v)) throw new CodecError(`unknown ${what} ${v}`);
  return table[v] as number;
}

const RESPONSE_ONEOF = [
  "request_headers",
  "response_headers",
  "request_body",
  "response_body",
  "request_trailers",
  "response_trailers",
  "immediate_response",
] as const;
const BODY_ONEOF = ["body", "clear_body", "streamed_response"] as const;
const MODE_FIELDS = [
  ["request_header_mode", HEADER_SEND_MODE],
  ["response_header_mode", HEADER_SEND_MODE],
  ["request_body_mode", BODY_SEND_MODE],
  ["response_body_mode", BODY_SEND_MODE],
  ["request_trailer_mode", HEADER_SEND_MODE],
  ["response_trailer_mode", HEADER_SEND_MODE],
] as const;

/** The fields each message is written with (anything else set is refused, see the module comment). */
const FIELDS = {
  HeaderMutation: new Set(["set_headers", "remove_headers"]),
  CommonResponse: new Set(["status", "header_mutation", "body_mutation"]),
  BodyMutation: new Set<string>(BODY_ONEOF),
  StreamedBodyResponse: new Set(["body", "end_of_stream"]),
  HeadersResponse: new Set(["response"]),
  BodyResponse: new Set(["response"]),
  ImmediateResponse: new Set(["status", "headers", "body", "details"]),
  ProcessingMode: new Set<string>(MODE_FIELDS.map(([k]) => k)),
  ProcessingResponse: new Set<string>([...RESPONSE_ONEOF, "mode_override"]),
} as const;
type MessageName = keyof typeof FIELDS;

function known(o: object, what: MessageName): void {
  const fields = FIELDS[what];
  for (const k in o) {
    if (!fields.has(k) && (o as Record<string, unknown>)[k] !== undefined)
      throw new CodecError(`${what}.${k} is not written by this codec`);
  }
}

/**
 * A oneof with more than one member set is refused: writing one would silently drop the other (an
 * ImmediateResponse beside a CONTINUE is a block that would never go out).
 */
function oneMember(o: object, members: readonly string[], what: string): void {
  let n = 0;
  for (const k of members) if ((o as Record<string, unknown>)[k] !== undefined) n++;
  if (n > 1) throw new CodecError(`${what}: more than one of ${members.join(", ")}`);
}

function headerMutation(m: HeaderMutation): Writer {
  known(m, "HeaderMutation");
  const w = new Writer();
  for (const h of m.set_headers ?? []) w.message(1, headerOption(h as HeaderOption));
  for (const name of m.remove_headers ?? []) w.string(2, name);
  return w;
}

function commonResponse(c: CommonResponse): Writer {
  known(c, "CommonResponse");
  const w = new Writer();
  if (c.status !== undefined) w.uint(1, enumValue(RESPONSE_STATUS, c.status, "CommonResponse.status"));
  if (c.header_mutation !== undefined) w.message(2, headerMutation(c.header_mutation));
  if (c.body_mutation !== undefined) {
    const b = c.body_mutation;
    known(b, "BodyMutation");
    oneMember(b, BODY_ONEOF, "BodyMutation");
    const bw = new Writer();
    // a oneof: one of the two, as the processors set it
    if (typeof b.body === "string") bw.string(1, b.body);
    else if (b.body !== undefined) bw.bytes(1, b.body);
    else if (b.clear_body !== undefined) bw.uint(2, b.clear_body ? 1 : 0);
    else if (b.streamed_response !== undefined) {
      const sr = b.streamed_response;
      known(sr, "StreamedBodyResponse");
      const sw = new Writer();
      if (typeof sr.body === "string") sw.string(1, sr.body);
      else if (sr.body !== undefined) sw.bytes(1, sr.body);
      if (sr.end_of_stream !== undefined) sw.uint(2, sr.end_of_stream ? 1 : 0);
      bw.message(3, sw);
    }
    w.message(3, bw);
  }
  return w;
}

/** HeadersResponse / BodyResponse: `response = 1`. */
function withCommon(r: { response?: CommonResponse }, what: "HeadersResponse" | "BodyResponse"): Writer {
  known(r, what);
  const w = new Writer();
  if (r.response !== undefined) w.message(1, commonResponse(r.response));
  return w;
}

function immediateResponse(i: ImmediateResponse): Writer {
  known(i, "ImmediateResponse");
  const w = new Writer();
  const st = new Writer();
  st.uint(1, i.status.code);
  w.message(1, st);
  if (i.headers !== undefined) w.message(2, headerMutation(i.headers));
  if (i.body !== undefined) w.bytes(3, i.body);
  if (i.details !== undefined) w.string(5, i.details);
  return w;
}

function processingMode(m: ProcessingMode): Writer {
  known(m, "ProcessingMode");
  const w = new Writer();
  for (let i = 0; i < MODE_FIELDS.length; i++) {
    const [k, table] = MODE_FIELDS[i]!;
    const v = m[k];
    if (v !== undefined) w.uint(i + 1, enumValue(table, v, `ProcessingMode.${k}`));
  }
  return w;
}

function encode(r: ProcessingResponse): Buffer {
  known(r, "ProcessingResponse");
  oneMember(r, RESPONSE_ONEOF, "ProcessingResponse");
  const w = new Writer();
  if (r.request_headers !== undefined) w.message(1, withCommon(r.request_headers, "HeadersResponse"));
  else if (r.response_headers !== undefined) w.message(2, withCommon(r.response_headers, "HeadersResponse"));
  else if (r.request_body !== undefined) w.message(3, withCommon(r.request_body, "BodyResponse"));
  else if (r.response_body !== undefined) w.message(4, withCommon(r.response_body, "BodyResponse"));
  else if (r.request_trailers !== undefined) w.message(5, new Writer());
  else if (r.response_trailers !== undefined) w.message(6, new Writer());
  else if (r.immediate_response !== undefined) w.message(7, immediateResponse(r.immediate_response));
  if (r.mode_override !== undefined) w.message(9, processingMode(r.mode_override));
  return w.finish();
}

/** The shared CONTINUE answers, encoded once (and framed once): most messages of a stream get one of these. */
const PREBUILT = new Map<ProcessingResponse, Buffer>();
const PREBUILT_FRAMES = new Map<ProcessingResponse, Buffer>();

/** Registers a response object that never changes (a module constant), so it is encoded once. */
export function prebuild(r: ProcessingResponse): void {
  const bytes = encode(r);
  PREBUILT.set(r, bytes);
  PREBUILT_FRAMES.set(r, frame(bytes));
}
for (const r of Object.values(CONTINUE)) prebuild(r);

/**
 * ProcessingResponse object → bytes; the same bytes protobufjs writes for it. Throws {@link CodecError}
 * on a field or enum value it does not know.
 */
export function encodeProcessingResponse(r: ProcessingResponse): Buffer {
  return PREBUILT.get(r) ?? encode(r);
}

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

function putVarint(out: Buffer, at: number, n: number): number {
  let p = at;
  let x = n;
  while (x >= 0x80) {
    out[p++] = (x & 0x7f) | 0x80;
    x >>>= 7;
  }
  out[p++] = x;
  return p;
}

/**
 * `{ request_body | response_body: { response: { status: CONTINUE, body_mutation: { body } } } }` and
 * `{ response_body: { response: { body_mutation: { streamed_response: { body, end_of_stream } } } } }`
 * (FULL_DUPLEX_STREAMED), and nothing else — the answers to every stream chunk — framed in one buffer of
 * the exact size: no nested writers, and a text body written as UTF-8 straight into place. Other shapes →
 * undefined.
 */
function bodyReplacementFrame(r: ProcessingResponse): Buffer | undefined {
  let field: number;
  let br: { response?: CommonResponse } | undefined;
  let keys = 0;
  for (const _ in r) keys++;
  if (keys !== 1) return undefined;
  if (r.response_body !== undefined) {
    field = 4;
    br = r.response_body;
  } else if (r.request_body !== undefined) {
    field = 3;
    br = r.request_body;
  } else return undefined;
  const c = br.response;
  if (c === undefined || c.header_mutation !== undefined) return undefined;
  const m = c.body_mutation;
  if (m === undefined) return undefined;
  for (const k in br) if (k !== "response") return undefined;
  for (const k in c) if (k !== "status" && k !== "body_mutation") return undefined;
  // the generic encoder refuses what it does not know; so does this one
  let keysM = 0;
  for (const k in m) {
    if (k !== "body" && k !== "streamed_response") return undefined;
    keysM++;
  }
  if (keysM !== 1) return undefined;
  const sr = m.streamed_response;
  let body: Uint8Array | string;
  // end_of_stream as the generic encoder writes it: whenever set, false included
  let eos: boolean | undefined;
  if (sr !== undefined) {
    // a streamed piece is a response body's (FULL_DUPLEX_STREAMED is served for responses only)
    if (field !== 4 || c.status !== undefined || sr.body === undefined) return undefined;
    for (const k in sr) if (k !== "body" && k !== "end_of_stream") return undefined;
    body = sr.body;
    eos = sr.end_of_stream;
  } else {
    if (c.status !== "CONTINUE" || m.body === undefined) return undefined;
    body = m.body;
  }
  const n = typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.length;
  // BodyMutation: body = 1 | streamed_response = 3 (StreamedBodyResponse: body = 1, end_of_stream = 2)
  const sl = sr === undefined ? 0 : 1 + varintSize(n) + n + (eos === undefined ? 0 : 2);
  const bm = sr === undefined ? 1 + varintSize(n) + n : 1 + varintSize(sl) + sl;
  const cr = (sr === undefined ? 2 : 0) + 1 + varintSize(bm) + bm; // CommonResponse: status = 1, body_mutation = 3
  const bl = 1 + varintSize(cr) + cr; // BodyResponse: response = 1
  const pr = 1 + varintSize(bl) + bl; // ProcessingResponse: request_body = 3 | response_body = 4
  const out = Buffer.allocUnsafe(5 + pr);
  out[0] = 0;
  out.writeUInt32BE(pr, 1);
  let p = 5;
  out[p++] = (field << 3) | WIRE_LEN;
  p = putVarint(out, p, bl);
  out[p++] = (1 << 3) | WIRE_LEN;
  p = putVarint(out, p, cr);
  if (sr === undefined) {
    out[p++] = 1 << 3; // status, varint: CONTINUE (0)
    out[p++] = 0;
  }
  out[p++] = (3 << 3) | WIRE_LEN;
  p = putVarint(out, p, bm);
  if (sr !== undefined) {
    out[p++] = (3 << 3) | WIRE_LEN;
    p = putVarint(out, p, sl);
  }
  out[p++] = (1 << 3) | WIRE_LEN;
  p = putVarint(out, p, n);
  if (typeof body === "string") p += out.write(body, p, n, "utf8");
  else {
    out.set(body, p);
    p += n;
  }
  if (eos !== undefined) {
    out[p++] = 2 << 3; // end_of_stream, varint
    out[p++] = eos ? 1 : 0;
  }
  return out;
}

/**
 * The response as one length-prefixed gRPC message, ready to write (the node:http2 server): prebuilt
 * answers as prebuilt frames, body replacements written in place, everything else encoded and framed.
 * Its bytes after the prefix are {@link encodeProcessingResponse}'s. Throws {@link CodecError}.
 */
export function encodeProcessingFrame(r: ProcessingResponse): Buffer {
  return PREBUILT_FRAMES.get(r) ?? bodyReplacementFrame(r) ?? frame(encode(r));
}

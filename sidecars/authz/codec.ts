/**
 * The ext_authz wire codec: `envoy.service.auth.v3.CheckRequest` bytes → the plain object the pipeline reads
 * (`filters/identity/envoy-types.ts`: exactly the shape @grpc/proto-loader gives with `keepCase`,
 * `longs: Number`, `enums: String`, `defaults: false`), and `CheckResponse` objects (`response.ts`) → bytes.
 * Only the fields the data plane reads are decoded; every other field is skipped by its wire type, as a
 * proto3 decoder skips unknown fields. Field numbers are those of the envoy-api protos the npm registry
 * ships (`@grpc/grpc-js-xds` deps/envoy-api: attribute_context.proto, external_auth.proto, base.proto,
 * address.proto; googleapis' rpc/status.proto); the unit test decodes and encodes against those protos
 * through proto-loader and compares.
 *
 * Why not proto-loader: loading the Envoy API closure to serve one method costs ~35 MB of resident memory
 * per sidecar and decodes every field of every message, certificate PEM and all headers into protobufjs
 * objects first. Here one pass over the bytes builds the plain object; responses are written directly.
 *
 * Malformed input (a truncated varint, a length past the end, field number 0, the deprecated group wire
 * types 3 and 4, which Envoy never sends) throws {@link CodecError}; grpc-js answers that call with INTERNAL
 * and Envoy fails closed. Stricter than protobufjs there, on purpose. Invalid UTF-8 is replaced, as protobufjs
 * does. A singular message field that appears twice replaces the first, as protobufjs does (the protobuf spec
 * merges them; only Envoy writes these bytes).
 */

import {
  CodecError,
  expect,
  type HeaderOption,
  headerMap,
  headerOption,
  Reader,
  WIRE_LEN,
  WIRE_VARINT,
  Writer,
} from "../proto-wire.ts";

export { CodecError };

type Mutable<T> = { -readonly [K in keyof T]?: T[K] };
type Obj = Record<string, unknown>;

/** `map<string, string>` entry (key = 1, value = 2) into `into`. */
function mapEntry(r: Reader, into: Record<string, string>, what: string): void {
  let key = "";
  let value = "";
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (f === 1) {
      expect(w, WIRE_LEN, `${what} key`);
      key = r.string();
    } else if (f === 2) {
      expect(w, WIRE_LEN, `${what} value`);
      value = r.string();
    } else r.skip(w);
  }
  // an own property even for "__proto__" (a valid header name), as protobufjs stores it: assigning it would
  // set the object's prototype instead and drop the entry
  if (key === "__proto__")
    Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  else into[key] = value;
}

function socketAddress(r: Reader): Obj {
  const out: Obj = {};
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (f === 2 && w === WIRE_LEN) out.address = r.string();
    else if (f === 3 && w === WIRE_VARINT) {
      out.port_value = r.varint() >>> 0;
      out.port_specifier = "port_value"; // the oneof's set member, as `oneofs: true` names it
    } else r.skip(w);
  }
  return out;
}

function address(r: Reader): Obj {
  const out: Obj = {};
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (f === 1 && w === WIRE_LEN) {
      out.socket_address = socketAddress(r.sub());
      out.address = "socket_address"; // proto-loader's `oneofs: true` names the set member
    } else r.skip(w);
  }
  return out;
}

function peer(r: Reader): Obj {
  const out: Obj = {};
  let labels: Record<string, string> | undefined;
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (w !== WIRE_LEN) {
      r.skip(w);
      continue;
    }
    if (f === 1) out.address = address(r.sub());
    else if (f === 2) out.service = r.string();
    else if (f === 3) mapEntry(r.sub(), (labels ??= {}), "labels");
    else if (f === 4) out.principal = r.string();
    else if (f === 5) out.certificate = r.string();
    else r.skip(w);
  }
  if (labels) out.labels = labels;
  return out;
}

const HTTP_STRINGS: Record<number, string> = {
  1: "id",
  2: "method",
  4: "path",
  5: "host",
  6: "scheme",
  7: "query",
  8: "fragment",
  10: "protocol",
  11: "body",
};

function httpRequest(r: Reader): Obj {
  const out: Obj = {};
  let headers: Record<string, string> | undefined;
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    const name = HTTP_STRINGS[f];
    if (name !== undefined && w === WIRE_LEN) out[name] = r.string();
    else if (f === 3 && w === WIRE_LEN) mapEntry(r.sub(), (headers ??= {}), "headers");
    else if (f === 9 && w === WIRE_VARINT) out.size = r.int64();
    else if (f === 12 && w === WIRE_LEN) out.raw_body = r.bytes();
    else if (f === 13 && w === WIRE_LEN) out.header_map = headerMap(r.sub());
    else r.skip(w);
  }
  if (headers) out.headers = headers;
  return out;
}

function timestamp(r: Reader): Obj {
  const out: Obj = {};
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (f === 1 && w === WIRE_VARINT) out.seconds = r.int64();
    else if (f === 2 && w === WIRE_VARINT) out.nanos = r.int32();
    else r.skip(w);
  }
  return out;
}

function request(r: Reader): Obj {
  const out: Obj = {};
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (f === 1 && w === WIRE_LEN) out.time = timestamp(r.sub());
    else if (f === 2 && w === WIRE_LEN) out.http = httpRequest(r.sub());
    else r.skip(w);
  }
  return out;
}

function attributes(r: Reader): Obj {
  const out: Obj = {};
  let ext: Record<string, string> | undefined;
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (w !== WIRE_LEN) {
      r.skip(w);
      continue;
    }
    if (f === 1) out.source = peer(r.sub());
    else if (f === 2) out.destination = peer(r.sub());
    else if (f === 4) out.request = request(r.sub());
    else if (f === 10) mapEntry(r.sub(), (ext ??= {}), "context_extensions");
    else if (f === 12) {
      const s = r.sub();
      const tls: Obj = {};
      for (let u = s.next(); u >= 0; u = s.next()) {
        const tf = u >>> 3;
        const tw = u & 7;
        if (tf === 1 && tw === WIRE_LEN) tls.sni = s.string();
        else s.skip(tw);
      }
      out.tls_session = tls;
    } else r.skip(w);
  }
  if (ext) out.context_extensions = ext;
  return out;
}

/** CheckRequest bytes → `{ attributes? }` (see the module comment). Throws {@link CodecError}. */
export function decodeCheckRequest(buf: Uint8Array): { attributes?: Mutable<Obj> } {
  const r = new Reader(buf);
  const out: { attributes?: Obj } = {};
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (f === 1 && w === WIRE_LEN) out.attributes = attributes(r.sub());
    else r.skip(w);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// CheckResponse

export interface CheckResponseLike {
  readonly status: { readonly code: number; readonly message?: string };
  readonly ok_response?: { readonly headers: readonly HeaderOption[]; readonly headers_to_remove: readonly string[] };
  readonly denied_response?: {
    readonly status: { readonly code: number };
    readonly headers: readonly HeaderOption[];
    readonly body: string;
  };
}

/**
 * CheckResponse object → bytes: the fields `response.ts` sets, each written when present (defaults too),
 * in field order — the bytes protobufjs writes for the same object, which the unit test checks.
 */
export function encodeCheckResponse(r: CheckResponseLike): Buffer {
  const out = new Writer();
  const st = new Writer();
  st.tag(1, WIRE_VARINT);
  st.varint(r.status.code);
  if (r.status.message !== undefined) st.string(2, r.status.message);
  out.message(1, st);
  if (r.denied_response) {
    const d = r.denied_response;
    const dw = new Writer();
    const hs = new Writer();
    hs.tag(1, WIRE_VARINT);
    hs.varint(d.status.code);
    dw.message(1, hs);
    for (const h of d.headers) dw.message(2, headerOption(h));
    dw.string(3, d.body);
    out.message(2, dw);
  } else if (r.ok_response) {
    const o = r.ok_response;
    const ow = new Writer();
    for (const h of o.headers) ow.message(2, headerOption(h));
    for (const name of o.headers_to_remove) ow.string(5, name);
    out.message(3, ow);
  }
  return out.finish();
}

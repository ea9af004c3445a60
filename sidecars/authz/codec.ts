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

export class CodecError extends Error {
  override name = "CodecError";
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** A cursor over one message's bytes. */
class Reader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  varint(): number {
    // up to 10 bytes; values above 2^53 lose precision, as `longs: Number` does
    let result = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new CodecError("truncated varint");
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * shift;
      if (b < 0x80) return result;
      shift *= 128;
    }
    throw new CodecError("varint longer than 10 bytes");
  }

  /** The varint's full 64 bits (a float sum loses the low bits of the ten-byte encodings of negatives). */
  varint64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new CodecError("truncated varint");
      const b = this.buf[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
      shift += 7n;
    }
    throw new CodecError("varint longer than 10 bytes");
  }

  /** A signed 64-bit varint as a Number (two's complement for negatives), as `longs: Number` gives it. */
  int64(): number {
    return Number(BigInt.asIntN(64, this.varint64()));
  }

  /** A signed 32-bit varint (int32: negatives are ten-byte sign-extended varints; the low 32 bits count). */
  int32(): number {
    return Number(BigInt.asIntN(32, this.varint64()));
  }

  /** The [start, end) of a length-delimited field's payload; advances past it. */
  span(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) throw new CodecError("length-delimited field runs past the end");
    this.pos = end;
    return [start, end];
  }

  string(): string {
    const [s, e] = this.span();
    return utf8.decode(this.buf.subarray(s, e));
  }

  /** A copy (the request buffer is not kept alive by one field of it), as a Buffer like proto-loader's. */
  bytes(): Buffer {
    const [s, e] = this.span();
    return Buffer.from(this.buf.subarray(s, e));
  }

  sub(): Reader {
    const [s, e] = this.span();
    return new Reader(this.buf, s, e);
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.advance(8);
        return;
      case WIRE_LEN:
        this.span();
        return;
      case WIRE_I32:
        this.advance(4);
        return;
      default:
        throw new CodecError(`wire type ${wire} cannot be skipped`);
    }
  }

  advance(n: number): void {
    if (this.pos + n > this.end) throw new CodecError("fixed-width field runs past the end");
    this.pos += n;
  }

  /**
   * The next field's tag (`field << 3 | wire type`), or -1 at the end of the message. A plain method, not a
   * generator: the decoder calls it once per field of every Check, and a generator allocates per step.
   */
  next(): number {
    if (this.pos >= this.end) return -1;
    const tag = this.varint();
    if (tag < 8) throw new CodecError("field number 0");
    if (tag > 0xffffffff) throw new CodecError("field number out of range");
    return tag;
  }
}

function expect(wire: number, want: number, what: string): void {
  if (wire !== want) throw new CodecError(`${what}: wire type ${wire}, expected ${want}`);
}

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

function headerMap(r: Reader): Obj {
  const headers: Obj[] = [];
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (f === 1 && w === WIRE_LEN) {
      const h: Obj = {};
      const s = r.sub();
      for (let u = s.next(); u >= 0; u = s.next()) {
        const hf = u >>> 3;
        const hw = u & 7;
        if (hf === 1 && hw === WIRE_LEN) h.key = s.string();
        else if (hf === 2 && hw === WIRE_LEN) h.value = s.string();
        else if (hf === 3 && hw === WIRE_LEN) h.raw_value = s.bytes();
        else s.skip(hw);
      }
      headers.push(h);
    } else r.skip(w);
  }
  return headers.length > 0 ? { headers } : {};
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

/**
 * `grpc.health.v1.HealthCheckRequest` bytes → its `service` (field 1; "" when absent), with the same reader
 * and the same refusals as a CheckRequest. Throws {@link CodecError}.
 */
export function decodeHealthCheckRequest(buf: Uint8Array): string {
  const r = new Reader(buf);
  let service = "";
  for (let t = r.next(); t >= 0; t = r.next()) {
    if (t >>> 3 === 1) {
      expect(t & 7, WIRE_LEN, "HealthCheckRequest.service");
      service = r.string();
    } else r.skip(t & 7);
  }
  return service;
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

const APPEND_ACTIONS: Record<string, number> = {
  APPEND_IF_EXISTS_OR_ADD: 0,
  ADD_IF_ABSENT: 1,
  OVERWRITE_IF_EXISTS_OR_ADD: 2,
  OVERWRITE_IF_EXISTS: 3,
};

/**
 * Writes protobuf fields into one growing buffer (a few allocations per response, not one per field: this
 * runs for every Check). A nested message is written into its own Writer and copied in behind its length.
 */
class Writer {
  #buf = Buffer.allocUnsafe(256);
  #len = 0;

  get length(): number {
    return this.#len;
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(grown, 0, 0, this.#len);
    this.#buf = grown;
  }

  varint(v: number): void {
    if (!Number.isInteger(v) || v < -(2 ** 31)) throw new CodecError(`not a varint: ${v}`);
    this.#room(10);
    if (v < 0) {
      // int32 negatives: ten-byte two's complement, as every protobuf encoder writes them
      let x = BigInt.asUintN(64, BigInt(v));
      for (let i = 0; i < 10; i++) {
        this.#buf[this.#len++] = Number(x & 0x7fn) | (i < 9 ? 0x80 : 0);
        x >>= 7n;
      }
      return;
    }
    let x = v;
    while (x >= 0x80) {
      this.#buf[this.#len++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.#buf[this.#len++] = x;
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  string(field: number, s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.tag(field, WIRE_LEN);
    this.varint(n);
    this.#room(n);
    this.#len += this.#buf.write(s, this.#len, n, "utf8");
  }

  message(field: number, w: Writer): void {
    this.tag(field, WIRE_LEN);
    this.varint(w.#len);
    this.#room(w.#len);
    w.#buf.copy(this.#buf, this.#len, 0, w.#len);
    this.#len += w.#len;
  }

  finish(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }
}

interface HeaderOption {
  readonly header: { readonly key: string; readonly value: string };
  readonly append_action?: string;
}

function headerOption(h: HeaderOption): Writer {
  const hv = new Writer();
  hv.string(1, h.header.key);
  hv.string(2, h.header.value);
  const w = new Writer();
  w.message(1, hv);
  if (h.append_action !== undefined) {
    const action = APPEND_ACTIONS[h.append_action];
    if (action === undefined) throw new CodecError(`unknown append_action ${h.append_action}`);
    w.tag(3, WIRE_VARINT);
    w.varint(action);
  }
  return w;
}

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

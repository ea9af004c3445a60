/**
 * Protocol Buffers wire format, read and written by hand (https://protobuf.dev/programming-guides/encoding/):
 * the cursor and the writer the hand-written Envoy codecs (ext_authz `authz/codec.ts`, ext_proc
 * `extproc/codec.ts`) are built on. Decoders read the fields they need and skip the rest by wire type, as
 * a proto3 decoder skips unknown fields; malformed input throws {@link CodecError}.
 */

export class CodecError extends Error {
  override name = "CodecError";
}

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** A cursor over one message's bytes. */
export class Reader {
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

  /**
   * The payload as a view of the message buffer, not a copy: for a field that is most of the message (an
   * ext_proc body chunk), read once and not kept.
   */
  view(): Uint8Array {
    const [s, e] = this.span();
    return this.buf.subarray(s, e);
  }

  bool(): boolean {
    return this.varint() !== 0;
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

export function expect(wire: number, want: number, what: string): void {
  if (wire !== want) throw new CodecError(`${what}: wire type ${wire}, expected ${want}`);
}

/**
 * Writes protobuf fields into one growing buffer (a few allocations per response, not one per field: this
 * runs for every Check). A nested message is written into its own Writer and copied in behind its length.
 */
export class Writer {
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

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(b.length);
    this.#room(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  /** A varint field (enums, bools as 0/1, unsigned ints). */
  uint(field: number, v: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
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

/** One gRPC message as sent on HTTP/2: the 5-byte prefix (uncompressed, big-endian length) + the message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// envoy.config.core.v3 messages both Envoy codecs read or write (base.proto)

/** `HeaderMap` (headers = 1, each `HeaderValue` key = 1, value = 2, raw_value = 3) → `{ headers? }`. */
export function headerMap(r: Reader): Record<string, unknown> {
  const headers: Record<string, unknown>[] = [];
  for (let t = r.next(); t >= 0; t = r.next()) {
    const f = t >>> 3;
    const w = t & 7;
    if (f === 1 && w === WIRE_LEN) {
      const h: Record<string, unknown> = {};
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

/** `HeaderValueOption.append_action` (`HeaderAppendAction`). */
const APPEND_ACTIONS: Record<string, number> = {
  APPEND_IF_EXISTS_OR_ADD: 0,
  ADD_IF_ABSENT: 1,
  OVERWRITE_IF_EXISTS_OR_ADD: 2,
  OVERWRITE_IF_EXISTS: 3,
};

export interface HeaderOption {
  readonly header: { readonly key: string; readonly value?: string; readonly raw_value?: Uint8Array };
  readonly append_action?: string;
}

/** `HeaderValueOption` (header = 1, append_action = 3); the header's value and raw_value when present. */
export function headerOption(h: HeaderOption): Writer {
  const hv = new Writer();
  hv.string(1, h.header.key);
  if (h.header.value !== undefined) hv.string(2, h.header.value);
  if (h.header.raw_value !== undefined) hv.bytes(3, h.header.raw_value);
  const w = new Writer();
  w.message(1, hv);
  if (h.append_action !== undefined) {
    const action = APPEND_ACTIONS[h.append_action];
    if (action === undefined) throw new CodecError(`unknown append_action ${h.append_action}`);
    w.uint(3, action);
  }
  return w;
}

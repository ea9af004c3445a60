/**
 * A small, strict reader for the tar archives inside OPA bundles (ustar, with PAX and GNU long-name
 * extensions because Go's archive/tar emits them for long paths). Regular files and directories only:
 * links, devices and FIFOs have no place in a policy bundle and are refused.
 *
 * @example
 *   for (const { name, data } of readTar(bytes, { maxEntries: 512 })) console.log(name, data.length);
 */
import { HexrError } from "../errors.ts";

const BLOCK = 512;

export interface TarEntry {
  /** The path as stored (may start with `/`; OPA writes absolute names). Not normalized. */
  readonly name: string;
  /** A view into the archive buffer, not a copy. */
  readonly data: Uint8Array;
}

export interface TarReadLimits {
  /** Most file entries accepted (directories and extension headers do not count). */
  readonly maxEntries: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

function corrupt(message: string): HexrError {
  return new HexrError("bundle.corrupt", message);
}

function cString(buf: Uint8Array, start: number, len: number): string {
  let end = start;
  const stop = start + len;
  while (end < stop && buf[end] !== 0) end++;
  return utf8.decode(buf.subarray(start, end));
}

function octal(buf: Uint8Array, start: number, len: number, field: string): number {
  if (((buf[start] ?? 0) & 0x80) !== 0) throw corrupt(`tar ${field} uses base-256 encoding (not supported)`);
  let value = 0;
  let seen = false;
  for (let i = start; i < start + len; i++) {
    const c = buf[i] ?? 0;
    if (c === 0 || c === 0x20) {
      if (seen) break;
      continue;
    }
    if (c < 0x30 || c > 0x37) throw corrupt(`tar ${field} is not octal`);
    value = value * 8 + (c - 0x30);
    seen = true;
  }
  if (!Number.isSafeInteger(value)) throw corrupt(`tar ${field} out of range`);
  return value;
}

function isZeroBlock(buf: Uint8Array, off: number): boolean {
  for (let i = off; i < off + BLOCK; i++) if (buf[i] !== 0) return false;
  return true;
}

function checksumOk(buf: Uint8Array, off: number): boolean {
  const stored = octal(buf, off + 148, 8, "checksum");
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) {
    sum += i >= 148 && i < 156 ? 0x20 : (buf[off + i] ?? 0);
  }
  return sum === stored;
}

/** PAX extended header records: `<len> <key>=<value>\n`, `len` in bytes. Only `path` and `size` matter here. */
function parsePax(data: Uint8Array): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let i = 0;
  while (i < data.length) {
    let sp = i;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = Number(utf8.decode(data.subarray(i, sp)));
    if (
      sp === data.length ||
      !Number.isInteger(len) ||
      len <= sp - i + 1 ||
      i + len > data.length ||
      data[i + len - 1] !== 0x0a
    ) {
      throw corrupt("tar PAX record is malformed");
    }
    const record = data.subarray(sp + 1, i + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq === -1) throw corrupt("tar PAX record without '='");
    const key = utf8.decode(record.subarray(0, eq));
    const value = utf8.decode(record.subarray(eq + 1));
    if (key === "path") out.path = value;
    else if (key === "size") {
      if (!/^\d+$/.test(value)) throw corrupt("tar PAX size is not a number");
      out.size = Number(value);
    }
    i += len;
  }
  return out;
}

/** Reads every regular file. Throws `bundle.corrupt` on any malformed header or truncated data. */
export function readTar(buf: Uint8Array, limits: TarReadLimits): TarEntry[] {
  const entries: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  let pax: { path?: string; size?: number } | undefined;

  while (off + BLOCK <= buf.length) {
    if (isZeroBlock(buf, off)) return entries; // end-of-archive marker
    if (!checksumOk(buf, off)) throw corrupt("tar header checksum mismatch");

    const type = String.fromCharCode(buf[off + 156] ?? 0);
    let size = octal(buf, off + 124, 12, "size");
    if (pax?.size !== undefined) size = pax.size;
    const dataStart = off + BLOCK;
    if (dataStart + size > buf.length) throw corrupt("tar entry data truncated");
    const data = buf.subarray(dataStart, dataStart + size);
    const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    let name = cString(buf, off, 100);
    const magic = cString(buf, off + 257, 6);
    if (magic === "ustar") {
      const prefix = cString(buf, off + 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (longName !== undefined) name = longName;
    if (pax?.path !== undefined) name = pax.path;

    switch (type) {
      case "x": // PAX header for the next entry
        pax = parsePax(data);
        off = next;
        continue;
      case "g": // PAX global header: nothing we use
        off = next;
        continue;
      case "L": // GNU long name for the next entry
        longName = cString(data, 0, data.length);
        off = next;
        continue;
      case "0":
      case "\0":
      case "7":
        if (entries.length >= limits.maxEntries) {
          throw new HexrError("bundle.too_large", `bundle has more than ${limits.maxEntries} files`);
        }
        entries.push({ name, data });
        break;
      case "5": // directory
        break;
      default:
        throw corrupt(`tar entry type '${type === "\0" ? "NUL" : type}' is not allowed in a bundle`);
    }
    longName = undefined;
    pax = undefined;
    off = next;
  }
  if (off !== buf.length) throw corrupt("tar archive truncated");
  return entries;
}

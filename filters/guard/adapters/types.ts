/**
 * What a provider adapter does: find the texts to scan in a JSON body (as {@link TextSlot}s with their
 * path) and write a replacement text back to the same place. Adapters work on the parsed document:
 * `parseJsonBody` once, extract, scan, `rewrite` the slots that need it, `JSON.stringify` once.
 */
import { HexrError } from "../../errors.ts";

export type JsonPath = readonly (string | number)[];

export interface TextSlot {
  /** Where the string lives, from the document root, e.g. `["messages", 2, "content", 0, "text"]`. */
  readonly path: JsonPath;
  readonly text: string;
  /** Speaker when the format has one (`system`, `user`, `assistant`, `tool`, …). */
  readonly role?: string;
}

export interface GuardAdapter {
  readonly name: string;
  /** Texts in a request body (prompt side). `body` is a parsed document or raw JSON text/bytes. */
  extractRequest(body: unknown): TextSlot[];
  /** Texts in a (non-streamed) response body. */
  extractResponse(body: unknown): TextSlot[];
  /** Replace the string at `slot.path` in the parsed document `doc` (mutates it). */
  rewrite(doc: unknown, slot: TextSlot, newText: string): void;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parse a JSON body. Strings and bytes are parsed (bytes must be valid UTF-8); anything else is taken
 * as an already-parsed document. Throws `guard.bad_json` / `guard.bad_utf8`.
 */
export function parseJsonBody(body: unknown): unknown {
  let text: string;
  if (typeof body === "string") text = body;
  else if (body instanceof Uint8Array) {
    try {
      text = utf8.decode(body);
    } catch (e) {
      throw new HexrError("guard.bad_utf8", "body is not valid UTF-8", { cause: e });
    }
  } else return body;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HexrError("guard.bad_json", "body is not valid JSON", { cause: e });
  }
}

/** The document as an object, or `guard.bad_shape` when the top level is not a JSON object. */
export function rootObject(body: unknown): Record<string, unknown> {
  const doc = parseJsonBody(body);
  if (!isRecord(doc)) throw new HexrError("guard.bad_shape", "body must be a JSON object");
  return doc;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Set the string at `path`; throws `guard.bad_path` when the path does not lead to a string. */
export function setAtPath(doc: unknown, path: JsonPath, value: string): void {
  if (path.length === 0) throw new HexrError("guard.bad_path", "cannot rewrite the document root");
  let cur: unknown = doc;
  for (let k = 0; k < path.length - 1; k++) {
    const seg = path[k]!;
    cur = typeof seg === "number" ? (Array.isArray(cur) ? cur[seg] : undefined) : isRecord(cur) ? cur[seg] : undefined;
  }
  const last = path[path.length - 1]!;
  if (typeof last === "number" && Array.isArray(cur) && typeof cur[last] === "string") cur[last] = value;
  else if (typeof last === "string" && isRecord(cur) && typeof cur[last] === "string") cur[last] = value;
  else throw new HexrError("guard.bad_path", `no string at ${formatPath(path)}`);
}

export function formatPath(path: JsonPath): string {
  let s = "$";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : `.${p}`;
  return s;
}

/** Push `{type:"text", text}`-style parts of an array (and plain strings) as slots under `base`. */
export function pushTextParts(
  out: TextSlot[],
  parts: unknown,
  base: JsonPath,
  role: string | undefined,
  textTypes: ReadonlySet<string> | null,
): void {
  if (typeof parts === "string") {
    out.push(slot(base, parts, role));
    return;
  }
  if (!Array.isArray(parts)) return;
  for (let j = 0; j < parts.length; j++) {
    const p: unknown = parts[j];
    if (typeof p === "string") out.push(slot([...base, j], p, role));
    else if (
      isRecord(p) &&
      typeof p.text === "string" &&
      (textTypes === null || p.type === undefined || textTypes.has(String(p.type)))
    ) {
      out.push(slot([...base, j, "text"], p.text, role));
    }
  }
}

export function slot(path: JsonPath, text: string, role: string | undefined): TextSlot {
  return role === undefined ? { path, text } : { path, text, role };
}

export function roleOf(v: unknown): string | undefined {
  return isRecord(v) && typeof v.role === "string" ? v.role : undefined;
}

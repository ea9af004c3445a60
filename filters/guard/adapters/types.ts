/**
 * What a provider adapter does: find the texts to scan in a JSON body (as {@link TextSlot}s with their
 * path) and write a replacement text back to the same place. Adapters work on the parsed document:
 * `parseJsonBody` once, extract, scan (`scanSlots`), `rewrite` the slots that need it, `JSON.stringify` once.
 */
import { HexrError } from "../../errors.ts";
import { parseStrictJson } from "./strict-json.ts";

export type JsonPath = readonly (string | number)[];

export interface TextSlot {
  /** Where the string lives, from the document root, e.g. `["messages", 2, "content", 0, "text"]`. */
  readonly path: JsonPath;
  /**
   * `path` as it may be reported (findings, logs): object keys that are text — free-form keys, schema
   * property names, which may be the very secret found — shown as "*". Absent: `path` is safe to show.
   */
  readonly shownPath?: JsonPath;
  readonly text: string;
  /**
   * Slots of one group are scanned as one text, in order, the way the model reads them (one message,
   * one tool definition). No group: the slot is scanned on its own.
   */
  readonly group?: string;
  /** What joins the slot to the previous one of its group: "" between text parts of one message, else "\n". */
  readonly sep?: string;
  /**
   * false: this text cannot be rewritten (an object key, a transcript of audio we cannot edit, a decoded
   * view of an escaped string), so a finding that should be redacted here blocks instead.
   */
  readonly redactable?: boolean;
  /** The string is JSON text (tool-call arguments): a redaction that breaks its syntax blocks instead. */
  readonly json?: boolean;
  /**
   * An identifier or enum value of a request (`model`, `*_id`, `user`-less ids, …): not text the model
   * reads, so PII and injection scanners do not look at it, but a credential pasted there still leaves the
   * pod, so the secrets scanner does. All of a document's such slots form one group ({@link ID_GROUP}).
   */
  readonly secretsOnly?: boolean;
}

/** The group of a document's {@link TextSlot.secretsOnly} slots: scanned together, for secrets only. */
export const ID_GROUP = "\u0000ids";

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
 * Parse a JSON body. Strings and bytes are parsed (bytes must be valid UTF-8; duplicate keys and
 * excessive nesting are refused, see strict-json.ts); anything else is taken as an already-parsed
 * document. Throws `guard.bad_json` / `guard.bad_utf8` / `guard.duplicate_key` / `guard.too_deep`.
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
  return parseStrictJson(text);
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

/** Nearest enclosing `logprobs` of `path`, emptied: token lists would carry the text a rewrite removed. */
export function clearLogprobs(doc: unknown, path: JsonPath): void {
  const chain: unknown[] = [doc];
  let cur: unknown = doc;
  for (let k = 0; k < path.length - 1; k++) {
    const seg = path[k]!;
    cur = typeof seg === "number" ? (Array.isArray(cur) ? cur[seg] : undefined) : isRecord(cur) ? cur[seg] : undefined;
    chain.push(cur);
  }
  for (let k = chain.length - 1; k >= 0; k--) {
    const o = chain[k];
    if (isRecord(o) && Object.hasOwn(o, "logprobs")) {
      if (o.logprobs !== null) o.logprobs = Array.isArray(o.logprobs) ? [] : null;
      return;
    }
  }
}

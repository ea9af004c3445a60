/**
 * Every string of a JSON document that reaches the model (or the client), as {@link TextSlot}s.
 *
 * Default: scan. A string is left out only when the API defines it as not text — identifiers
 * (`id`, `*_id`, `model`), enums (`type`, `role`, `status`, `finish_reason`, `tool_choice`, …), opaque
 * or binary payloads (`signature`, `encrypted_content`, base64 `data`, `data:` URLs, `b64_json`), and
 * `logprobs` (a token-by-token copy of text scanned elsewhere; cleared when that text is rewritten).
 * A field nobody listed is therefore scanned, not skipped.
 *
 * Keys are text where the model reads them: inside free-form values (`input`, `arguments` objects,
 * `metadata`, `headers`) every key and every string is scanned, with no exceptions; in JSON schemas the
 * property names (`properties`, `patternProperties`, `$defs`, `definitions`) are scanned. Keys cannot be
 * redacted in place, so their slots are not redactable (a redact finding there blocks).
 *
 * Tool-call arguments are JSON text: their raw string is scanned (redacted by path) and, when it uses
 * `\u` escapes that could hide a word from the raw view, its decoded strings are scanned too (not
 * redactable). Adjacent text parts of one parts array (`content[j].text`, system blocks) are joined with
 * "" — the model reads them as one text, so a secret split across parts is one secret; other strings of
 * a group are joined with "\n", which neither creates nor splits a token.
 */
import { HexrError } from "../../errors.ts";
import { MAX_JSON_DEPTH } from "./strict-json.ts";
import { ID_GROUP, isRecord, type JsonPath, type TextSlot } from "./types.ts";

/** String values at these keys are identifiers, enums or opaque tokens, never text the model reads. */
const NOT_TEXT = new Set([
  "type",
  "role",
  "model",
  "object",
  "id",
  "status",
  "finish_reason",
  "stop_reason",
  "media_type",
  "mime_type",
  "signature",
  "encrypted_content",
  "detail",
  "voice",
  "service_tier",
  "system_fingerprint",
  "reasoning_effort",
  "effort",
  "truncation",
  "format",
  "obfuscation",
  "include",
  "modalities",
  "tool_choice",
  "file_data",
  "b64_json",
  "partial_image_b64",
]);
/**
 * Of those, the opaque payloads: binary, encrypted or random by design (scanning them for secrets would
 * flag their randomness). The other ids, enums and model names of a request are scanned for secrets only.
 */
const OPAQUE = new Set(["signature", "encrypted_content", "file_data", "b64_json", "partial_image_b64", "obfuscation"]);
/**
 * Which id and enum values are worth a secrets scan: 16 characters or more (the shortest credential
 * formats are 16+) with a digit or an upper-case letter (never `user`, `assistant`, `function_call`).
 * No upper bound: an id field holding a whole private key is exactly what must not pass unread.
 */
const MIN_ID_SECRET = 16;
const ID_WORTH_SCANNING = /[0-9A-Z]/;
/** Subtrees never scanned: token-level copies of text that is scanned (and cleared on rewrite). */
const SKIP_SUBTREE = new Set(["logprobs", "top_logprobs"]);
/** Object values at these keys are free-form: every key and string inside is scanned. */
const FREE_FORM = new Set(["input", "arguments", "metadata", "headers"]);
/** Object values at these keys map names to schemas: the names are text the model reads. */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs", "definitions"]);
/** Parent `type`s whose `data`/`result` string is binary or opaque. */
const BINARY_PARENTS = new Set(["base64", "redacted_thinking", "image_generation_call"]);
/** Objects at these keys carry base64 audio in `data`. */
const AUDIO_OBJECTS = new Set(["audio", "input_audio"]);

export type GroupOf = (path: JsonPath) => string | undefined;

/** A `data:…;base64,` URL: binary, never scanned. */
export const isDataUrl = (s: string): boolean => s.startsWith("data:") && s.indexOf(";base64,", 5) !== -1;

/** How a string value is read: as text, as an id or enum (secrets only, when asked), or not at all. */
type Reading = "text" | "id" | "skip";

/**
 * A string at this key is never read as text: opaque, or an id/enum (scanned for secrets only when ids are
 * asked for, which stream events never do). The stream adapter's fast path holds its skipped fields to it.
 */
export function isNotTextKey(key: string): boolean {
  return OPAQUE.has(key) || NOT_TEXT.has(key) || key.endsWith("_id") || key.endsWith("_ids");
}

function reading(key: string | number | undefined, parent: unknown, parentKey: unknown, value: string): Reading {
  if (isDataUrl(value)) return "skip";
  if (typeof key !== "string") return "text";
  if (OPAQUE.has(key)) return "skip";
  if (isNotTextKey(key)) {
    const worth = value.length >= MIN_ID_SECRET && ID_WORTH_SCANNING.test(value);
    return worth ? "id" : "skip";
  }
  if ((key === "data" || key === "result") && isRecord(parent)) {
    if (typeof parent.type === "string" && BINARY_PARENTS.has(parent.type)) return "skip";
    if (key === "data" && typeof parentKey === "string" && AUDIO_OBJECTS.has(parentKey)) return "skip";
  }
  return "text";
}

/** `…, <array>, j, "text"`: one text part of a parts array. */
function isTextPart(path: JsonPath): boolean {
  const n = path.length;
  return n >= 2 && path[n - 1] === "text" && typeof path[n - 2] === "number";
}

function sameArray(a: JsonPath, b: JsonPath): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length - 2; k++) if (a[k] !== b[k]) return false;
  return true;
}

class Walker {
  readonly out: TextSlot[];
  readonly #group: GroupOf;
  readonly #last = new Map<string | undefined, JsonPath>();
  readonly #path: (string | number)[];
  /** `#path` as it may be reported: keys that are text (free-form, schema names) shown as "*". */
  readonly #shown: (string | number)[];
  #masked = 0;
  readonly #decode: boolean;
  readonly #ids: boolean;

  constructor(out: TextSlot[], base: JsonPath, group: GroupOf, decode = true, ids = false) {
    this.#ids = ids;
    this.out = out;
    this.#path = [...base];
    this.#shown = [...base];
    this.#group = group;
    this.#decode = decode;
  }

  /** The key under which the current value's parent object sits. */
  #parentKey(): string | number | undefined {
    const p = this.#path;
    for (let k = p.length - 2; k >= 0; k--) if (typeof p[k] === "string") return p[k];
    return undefined;
  }

  emit(text: string, extra: Partial<TextSlot>, at: JsonPath = this.#path.slice()): void {
    if (text.length === 0) return;
    const group = this.#group(at);
    const prev = this.#last.get(group);
    const sep = prev && isTextPart(prev) && isTextPart(at) && sameArray(prev, at) ? "" : "\n";
    this.#last.set(group, at);
    const shown = this.#masked > 0 ? { shownPath: this.#shown.slice() } : {};
    this.out.push({ path: at, text, ...(group === undefined ? {} : { group }), sep, ...shown, ...extra });
  }

  walk(node: unknown, key: string | number | undefined, parent: unknown, free: boolean, depth: number): void {
    if (depth > MAX_JSON_DEPTH) throw new HexrError("guard.too_deep", `JSON nesting is deeper than ${MAX_JSON_DEPTH}`);
    if (typeof node === "string") {
      const r = free ? "text" : reading(key, parent, this.#parentKey(), node);
      if (r === "text") this.#string(node, key, free);
      else if (r === "id" && this.#ids) {
        const shown = this.#masked > 0 ? { shownPath: this.#shown.slice() } : {};
        this.out.push({
          path: this.#path.slice(),
          text: node,
          group: ID_GROUP,
          sep: "\n",
          secretsOnly: true,
          ...shown,
        });
      }
      return;
    }
    if (typeof node !== "object" || node === null) return;
    const path = this.#path;
    const shown = this.#shown;
    if (Array.isArray(node)) {
      for (let j = 0; j < node.length; j++) {
        path.push(j);
        shown.push(j);
        this.walk(node[j], typeof key === "string" ? key : undefined, node, free, depth + 1);
        path.pop();
        shown.pop();
      }
      return;
    }
    const rec = node as Record<string, unknown>;
    const keysAreText = free || (typeof key === "string" && SCHEMA_MAPS.has(key));
    for (const k of Object.keys(rec)) {
      const v = rec[k];
      path.push(k);
      shown.push(keysAreText ? "*" : k);
      if (keysAreText) {
        this.#masked++;
        this.emit(k, { redactable: false });
      }
      if (free) this.walk(v, k, rec, true, depth + 1);
      else if (!SKIP_SUBTREE.has(k)) this.walk(v, k, rec, FREE_FORM.has(k) && isRecord(v), depth + 1);
      if (keysAreText) this.#masked--;
      path.pop();
      shown.pop();
    }
  }

  #string(s: string, key: string | number | undefined, free: boolean): void {
    if (key !== "arguments" || free) {
      this.emit(s, {});
      return;
    }
    this.emit(s, { json: true });
    if (!this.#decode || !s.includes("\\u")) return;
    let decoded: unknown;
    try {
      decoded = JSON.parse(s);
    } catch {
      return; // not JSON: the raw text is what anyone reads
    }
    // the decoded view is scanned in the same group, reported at the arguments' path, never rewritten
    const at = this.#path.slice();
    const shownAt = this.#shown.slice();
    const from = this.out.length;
    new Walker(this.out, at, () => this.#group(at)).walk(decoded, undefined, undefined, true, at.length);
    for (let k = from; k < this.out.length; k++)
      this.out[k] = { ...this.out[k]!, path: at, shownPath: shownAt, redactable: false };
  }
}

/**
 * Push every text string under `node` (which sits at `base` in its document) onto `out`, grouped by
 * `group(path)`. `decodeArguments: false` skips the decoded view of escaped arguments (stream deltas,
 * which are fragments). `ids: true` (requests) adds id and enum values that could hold a credential as
 * secrets-only slots. Throws `guard.too_deep` past {@link MAX_JSON_DEPTH}.
 */
export function walkStrings(
  node: unknown,
  base: JsonPath,
  out: TextSlot[],
  group: GroupOf,
  opts: { readonly decodeArguments?: boolean; readonly ids?: boolean } = {},
): void {
  const key = base.length > 0 ? base[base.length - 1] : undefined;
  new Walker(out, base, group, opts.decodeArguments ?? true, opts.ids ?? false).walk(
    node,
    key,
    undefined,
    false,
    base.length,
  );
}

/** Group by the top-level field, or by the element of a top-level array (`messages[3]`, `tools[0]`). */
export function groupByItem(path: JsonPath): string | undefined {
  if (path.length === 0) return undefined;
  return typeof path[1] === "number" ? `${path[0]}/${path[1]}` : String(path[0]);
}

/**
 * Throw `guard.token_input` when a prompt is given as token ids (`input`/`prompt` as integers or
 * arrays of integers — embeddings and legacy completions accept them): the model reads text the guard
 * cannot see, so the body is unscannable (the route's fail mode).
 */
export function refuseTokenInput(doc: unknown): void {
  if (!isRecord(doc)) return;
  for (const k of ["input", "prompt"]) {
    const v = doc[k];
    if (!Array.isArray(v) || v.length === 0) continue;
    const first = Array.isArray(v[0]) ? v[0][0] : v[0];
    if (typeof first === "number") throw new HexrError("guard.token_input", `${k} is given as token ids`);
  }
}

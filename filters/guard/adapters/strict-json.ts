/**
 * JSON as the guard must read it: one meaning only. `JSON.parse` keeps the last of duplicate object
 * keys, other parsers keep the first or fail, so `{"content":"benign","content":"<attack>"}` could be
 * scanned as one text and read by the provider (or the client) as another. {@link parseStrictJson}
 * refuses a repeat (decoded, so `"a"` and `"\u0061"` collide) and nesting deeper than
 * {@link MAX_JSON_DEPTH}; {@link checkJsonKeys} checks text that is parsed elsewhere. Linear in the input.
 *
 * @example
 *   parseStrictJson('{"a":1,"a":2}'); // throws HexrError guard.duplicate_key
 */
import { HexrError } from "../../errors.ts";

/** Deepest nesting accepted (objects and arrays); deeper documents throw `guard.too_deep`. */
export const MAX_JSON_DEPTH = 256;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Throw `guard.duplicate_key` when an object repeats a key, `guard.too_deep` past {@link MAX_JSON_DEPTH}.
 * Syntax errors are left to `JSON.parse` (the scan stops at the first structure it cannot follow).
 */
export function checkJsonKeys(text: string): void {
  // one key set per open container; null marks an array
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const u = text.charCodeAt(i);
    if (u === QUOTE) {
      const start = i;
      i++;
      let escaped = false;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === BACKSLASH) {
          escaped = true;
          i++;
        } else if (c === QUOTE) break;
        i++;
      }
      if (i >= n) return; // unterminated string: JSON.parse reports it
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        let key = text.slice(start + 1, i);
        if (escaped) {
          try {
            key = JSON.parse(text.slice(start, i + 1)) as string;
          } catch {
            return; // bad escape: JSON.parse reports it
          }
        }
        if (top.has(key)) throw new HexrError("guard.duplicate_key", "a JSON object repeats a key");
        top.add(key);
        expectKey = false;
      }
    } else if (u === 0x7b || u === 0x5b) {
      if (stack.length >= MAX_JSON_DEPTH)
        throw new HexrError("guard.too_deep", `JSON nesting is deeper than ${MAX_JSON_DEPTH}`);
      stack.push(u === 0x7b ? new Set() : null);
      expectKey = u === 0x7b;
    } else if (u === 0x7d || u === 0x5d) {
      stack.pop();
      expectKey = false;
    } else if (u === 0x2c) {
      expectKey = stack[stack.length - 1] != null;
    }
  }
}

/**
 * Keys in `text` — strings in key position, duplicates included — exact for valid JSON (for anything else
 * JSON.parse throws). Throws `guard.too_deep` past {@link MAX_JSON_DEPTH}. No key is copied or kept.
 */
function countKeys(text: string): number {
  // per open container: 1 object, 0 array (depth is bounded, so is the stack)
  const stack = OPEN;
  let depth = 0;
  let keys = 0;
  let expectKey = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const u = text.charCodeAt(i);
    if (u === QUOTE) {
      for (i++; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c === BACKSLASH) i++;
        else if (c === QUOTE) break;
      }
      if (expectKey) {
        keys++;
        expectKey = false;
      }
    } else if (u === 0x7b || u === 0x5b) {
      if (depth >= MAX_JSON_DEPTH)
        throw new HexrError("guard.too_deep", `JSON nesting is deeper than ${MAX_JSON_DEPTH}`);
      stack[depth++] = u === 0x7b ? 1 : 0;
      expectKey = u === 0x7b;
    } else if (u === 0x7d || u === 0x5d) {
      if (depth > 0) depth--;
      expectKey = false;
    } else if (u === 0x2c) {
      expectKey = depth > 0 && stack[depth - 1] === 1;
    }
  }
  return keys;
}
const OPEN = new Uint8Array(MAX_JSON_DEPTH);

/** Own keys of every object in a parsed document (its depth is bounded by countKeys before the parse). */
function parsedKeys(v: unknown): number {
  if (typeof v !== "object" || v === null) return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) n += parsedKeys(v[i]);
    return n;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) continue;
    n += 1 + parsedKeys(o[k]);
  }
  return n;
}

/**
 * `JSON.parse` with one meaning only: throws `guard.duplicate_key`, `guard.too_deep` or `guard.bad_json`
 * (with `badJson` as its message). Duplicates are found by count — JSON.parse keeps one property per
 * repeated key, so a document has a repeat exactly when it has fewer own keys, summed over its objects,
 * than key strings in its text — which costs a pass over the text and one over the result, allocating
 * nothing (checkJsonKeys keeps a set per object; this runs for every event of a streamed answer).
 */
export function parseStrictJson(text: string, badJson = "body is not valid JSON"): unknown {
  const keys = countKeys(text);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new HexrError("guard.bad_json", badJson, { cause: e });
  }
  if (parsedKeys(doc) !== keys) throw new HexrError("guard.duplicate_key", "a JSON object repeats a key");
  return doc;
}

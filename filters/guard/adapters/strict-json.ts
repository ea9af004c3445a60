/**
 * JSON as the guard must read it: one meaning only. `JSON.parse` keeps the last of duplicate object
 * keys, other parsers keep the first or fail, so `{"content":"benign","content":"<attack>"}` could be
 * scanned as one text and read by the provider (or the client) as another. Before parsing, one pass
 * over the text tracks the keys of every open object (decoded, so `"a"` and `"\u0061"` collide) and
 * rejects a repeat, and nesting deeper than {@link MAX_JSON_DEPTH}. Linear in the input.
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

/** `checkJsonKeys` then `JSON.parse`; throws `guard.duplicate_key`, `guard.too_deep` or `guard.bad_json`. */
export function parseStrictJson(text: string): unknown {
  checkJsonKeys(text);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HexrError("guard.bad_json", "body is not valid JSON", { cause: e });
  }
}

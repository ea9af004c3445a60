/**
 * RFC 6902 JSON Patch operations as the injector emits them: only `add`, with RFC 6901 pointers.
 * `kubectl` and the API server refuse an `add` into an array or object that does not exist, so callers
 * add a missing array or map whole and append (`/-`) or insert (`/<i>`) only into existing ones.
 */
export interface JsonPatchOp {
  op: "add";
  path: string;
  value: unknown;
}

/** One pointer segment: `~` → `~0`, then `/` → `~1` (`hexr.io/injected` → `hexr.io~1injected`). */
export function escapePointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

export function pointer(...segments: (string | number)[]): string {
  return segments.map((s) => `/${escapePointer(String(s))}`).join("");
}

/**
 * Appends `items` to the array at `path` (`existing` is its current value): the whole array when it is
 * absent, else one `add …/-` per item. `prepend` inserts at 0, 1, … instead (each insert shifts the rest).
 */
export function addToArray(
  ops: JsonPatchOp[],
  path: string,
  existing: unknown,
  items: unknown[],
  prepend = false,
): void {
  if (items.length === 0) return;
  if (!Array.isArray(existing)) {
    ops.push({ op: "add", path, value: items });
    return;
  }
  items.forEach((value, i) => {
    ops.push({ op: "add", path: `${path}/${prepend ? i : "-"}`, value });
  });
}

/** Sets keys of the map at `path`: the whole map when absent, else one `add` per key (replacing a value). */
export function addToMap(ops: JsonPatchOp[], path: string, existing: unknown, entries: Record<string, string>): void {
  const keys = Object.keys(entries);
  if (keys.length === 0) return;
  if (existing === null || typeof existing !== "object" || Array.isArray(existing)) {
    ops.push({ op: "add", path, value: entries });
    return;
  }
  for (const k of keys) ops.push({ op: "add", path: `${path}/${escapePointer(k)}`, value: entries[k] });
}

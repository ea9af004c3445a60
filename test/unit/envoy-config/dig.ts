/** Typed navigation through rendered Envoy objects for assertions (no `any`). */

export type Path = ReadonlyArray<string | number>;

/** The value at `path`, or throws naming the first missing step. */
export function dig(value: unknown, ...path: Path): unknown {
  let cur = value;
  for (let i = 0; i < path.length; i++) {
    const step = path[i] as string | number;
    if (cur === null || typeof cur !== "object" || !(step in cur)) {
      throw new Error(`missing ${path.slice(0, i + 1).join(".")}`);
    }
    cur = (cur as Record<string | number, unknown>)[step];
  }
  return cur;
}

export function list(value: unknown, ...path: Path): unknown[] {
  const v = dig(value, ...path);
  if (!Array.isArray(v)) throw new Error(`${path.join(".")} is not a list`);
  return v;
}

/** The element of a list whose `name` is `name`. */
export function named(items: unknown[], name: string): unknown {
  const found = items.find((i) => (i as { name?: unknown }).name === name);
  if (found === undefined) throw new Error(`no element named ${name}`);
  return found;
}

/** The HttpConnectionManager config of a rendered listener. */
export function hcmOf(listener: unknown): unknown {
  return dig(listener, "filter_chains", 0, "filters", 0, "typed_config");
}

export function httpFilterNames(listener: unknown): string[] {
  return list(hcmOf(listener), "http_filters").map((f) => String((f as { name: string }).name));
}

/**
 * SPIRE selectors (`type:value`, as `spire-server entry create -selector` writes them), parsed where the
 * config is read: a module of its own, so reading the config never loads the gRPC client that sends them
 * (`delegated.ts`).
 */
export interface Selector {
  readonly type: string;
  readonly value: string;
}

/** `unix:uid:1001` → `{ type: "unix", value: "uid:1001" }` (the type is everything before the first colon). */
export function parseSelector(s: string): Selector | undefined {
  const i = s.indexOf(":");
  if (i <= 0 || i === s.length - 1) return undefined;
  return { type: s.slice(0, i), value: s.slice(i + 1) };
}

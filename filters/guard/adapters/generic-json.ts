/**
 * An adapter for any JSON API, configured with simple JSON paths: `$.prompt`, `$.messages[*].content`,
 * `$.data[0]['text']`, `$.items.*.body`. A path that ends on a string yields it; on an array or object,
 * every text string inside it (walk.ts rules). Paths compile once at construction.
 *
 * @example
 *   const a = createGenericAdapter({ request: ["$.prompt"], response: ["$.completion"] });
 */
import { HexrError } from "../../errors.ts";
import { type GuardAdapter, isRecord, type JsonPath, rootObject, setAtPath, type TextSlot } from "./types.ts";
import { walkStrings } from "./walk.ts";

const WILDCARD = Symbol("wildcard");
type CompiledStep = string | number | typeof WILDCARD;

export interface GenericAdapterConfig {
  readonly name?: string;
  readonly request: readonly string[];
  readonly response?: readonly string[];
}

const isNameChar = (u: number): boolean =>
  (u >= 0x30 && u <= 0x39) ||
  (u >= 0x41 && u <= 0x5a) ||
  (u >= 0x61 && u <= 0x7a) ||
  u === 0x5f ||
  u === 0x2d ||
  u === 0x24;

/** Compile `$.a[*].b['c'][0]` into steps. Throws `guard.bad_path` naming the path. */
export function compileJsonPath(path: string): CompiledStep[] {
  const bad = (why: string): HexrError => new HexrError("guard.bad_path", `JSON path ${JSON.stringify(path)}: ${why}`);
  if (!path.startsWith("$")) throw bad("must start with $");
  const steps: CompiledStep[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i];
    if (c === ".") {
      i++;
      if (path[i] === "*") {
        steps.push(WILDCARD);
        i++;
        continue;
      }
      const s = i;
      while (i < path.length && isNameChar(path.charCodeAt(i))) i++;
      if (i === s) throw bad(`expected a name at ${s}`);
      steps.push(path.slice(s, i));
    } else if (c === "[") {
      const close = path.indexOf("]", i);
      if (close === -1) throw bad("unclosed [");
      const inner = path.slice(i + 1, close).trim();
      if (inner === "*") steps.push(WILDCARD);
      else if (/^\d{1,9}$/.test(inner))
        steps.push(Number(inner)); // bounded, anchored: config-time only
      else if (inner.length >= 2 && (inner[0] === "'" || inner[0] === '"') && inner[inner.length - 1] === inner[0])
        steps.push(inner.slice(1, -1));
      else throw bad(`bad index [${inner}]`);
      i = close + 1;
    } else throw bad(`unexpected ${JSON.stringify(c)} at ${i}`);
  }
  return steps;
}

function collect(
  node: unknown,
  steps: readonly CompiledStep[],
  k: number,
  at: (string | number)[],
  out: TextSlot[],
): void {
  if (k === steps.length) {
    if (typeof node === "string") out.push({ path: at.slice(), text: node });
    else if (typeof node === "object" && node !== null) walkStrings(node, at, out, () => undefined);
    return;
  }
  const step = steps[k]!;
  if (step === WILDCARD) {
    if (Array.isArray(node)) for (let j = 0; j < node.length; j++) collect(node[j], steps, k + 1, [...at, j], out);
    else if (isRecord(node)) for (const key of Object.keys(node)) collect(node[key], steps, k + 1, [...at, key], out);
  } else if (typeof step === "number") {
    if (Array.isArray(node) && step < node.length) collect(node[step], steps, k + 1, [...at, step], out);
  } else if (isRecord(node) && Object.hasOwn(node, step)) collect(node[step], steps, k + 1, [...at, step], out);
}

export function createGenericAdapter(config: GenericAdapterConfig): GuardAdapter {
  const req = config.request.map(compileJsonPath);
  const res = (config.response ?? []).map(compileJsonPath);
  const run = (body: unknown, paths: readonly CompiledStep[][]): TextSlot[] => {
    const doc = rootObject(body);
    const out: TextSlot[] = [];
    for (const p of paths) collect(doc, p, 0, [], out);
    return out;
  };
  return {
    name: config.name ?? "generic-json",
    extractRequest: (body) => run(body, req),
    extractResponse: (body) => run(body, res),
    rewrite(doc, s, newText) {
      setAtPath(doc, s.path as JsonPath, newText);
    },
  };
}

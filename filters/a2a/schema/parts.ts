/**
 * The text an A2A message, artifact, task or stream event carries, with the JSON path of each string,
 * so the guard can scan it and redact it in place. Both versions' part shapes: v1.0 `Part` has `text`
 * (or `data`, a google.protobuf.Value) directly; v0.3 JSON-RPC parts are `{kind: "text", text}` and
 * `{kind: "data", data}`; v0.3 REST/gRPC (its proto) has `Message.content` and `DataPart {data}`.
 * Data parts contribute every string leaf. Call it on a validated object.
 */
import { childPath } from "./proto.ts";

export type PartsKind = "message" | "artifact" | "task" | "stream";

/** One string to scan; `container[key]` is the string, for in-place redaction. */
export interface TextSpan {
  readonly path: string;
  readonly text: string;
  readonly container: Record<string, unknown> | unknown[];
  readonly key: string | number;
}

type Obj = Record<string, unknown>;
function obj(v: unknown): Obj | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

/** `obj[a] ?? obj[b]` with the key that held it. */
function pick(o: Obj, ...keys: string[]): [string, unknown] | undefined {
  for (const k of keys) if (o[k] !== undefined && o[k] !== null) return [k, o[k]];
  return undefined;
}

function leaves(
  v: unknown,
  container: Obj | unknown[],
  key: string | number,
  path: string,
  out: TextSpan[],
  depth: number,
): void {
  if (typeof v === "string") {
    out.push({ path, text: v, container, key });
  } else if (depth > 64) {
    return;
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) leaves(v[i], v, i, `${path}[${i}]`, out, depth + 1);
  } else if (obj(v)) {
    const o = v as Obj;
    for (const k in o) leaves(o[k], o, k, childPath(path, k), out, depth + 1);
  }
}

function parts(list: unknown, path: string, out: TextSpan[]): void {
  if (!Array.isArray(list)) return;
  for (let i = 0; i < list.length; i++) {
    const part = obj(list[i]);
    if (!part) continue;
    const ppath = `${path}[${i}]`;
    if (typeof part.text === "string")
      out.push({ path: `${ppath}.text`, text: part.text, container: part, key: "text" });
    if (part.data !== undefined && part.data !== null) leaves(part.data, part, "data", `${ppath}.data`, out, 0);
  }
}

function message(m: unknown, path: string, out: TextSpan[]): void {
  const o = obj(m);
  if (!o) return;
  const p = pick(o, "parts", "content");
  if (p) parts(p[1], childPath(path, p[0]), out);
}

function artifact(a: unknown, path: string, out: TextSpan[]): void {
  const o = obj(a);
  if (o) parts(o.parts, childPath(path, "parts"), out);
}

function status(s: unknown, path: string, out: TextSpan[]): void {
  const o = obj(s);
  if (!o) return;
  const m = pick(o, "message", "update");
  if (m) message(m[1], childPath(path, m[0]), out);
}

function task(t: unknown, path: string, out: TextSpan[]): void {
  const o = obj(t);
  if (!o) return;
  status(o.status, childPath(path, "status"), out);
  if (Array.isArray(o.artifacts)) {
    for (let i = 0; i < o.artifacts.length; i++) artifact(o.artifacts[i], `${childPath(path, "artifacts")}[${i}]`, out);
  }
  if (Array.isArray(o.history)) {
    for (let i = 0; i < o.history.length; i++) message(o.history[i], `${childPath(path, "history")}[${i}]`, out);
  }
}

function streamEvent(e: unknown, path: string, out: TextSpan[]): void {
  const o = obj(e);
  if (!o) return;
  // v0.3 JSON-RPC: the kind says which
  if (o.kind === "task") task(o, path, out);
  else if (o.kind === "message") message(o, path, out);
  else if (o.kind === "status-update") status(o.status, childPath(path, "status"), out);
  else if (o.kind === "artifact-update") artifact(o.artifact, childPath(path, "artifact"), out);
  if (o.kind !== undefined) return;
  // v1.0 StreamResponse / SendMessageResponse, v0.3 proto StreamResponse (`msg`)
  const t = pick(o, "task");
  const m = pick(o, "message", "msg");
  const s = pick(o, "statusUpdate", "status_update");
  const a = pick(o, "artifactUpdate", "artifact_update");
  if (t) task(t[1], childPath(path, t[0]), out);
  else if (m) message(m[1], childPath(path, m[0]), out);
  else if (s) status(obj(s[1])?.status, childPath(childPath(path, s[0]), "status"), out);
  else if (a) artifact(obj(a[1])?.artifact, childPath(childPath(path, a[0]), "artifact"), out);
}

export function collectText(kind: PartsKind, value: unknown, root: string): TextSpan[] {
  const out: TextSpan[] = [];
  if (kind === "message") message(value, root, out);
  else if (kind === "artifact") artifact(value, root, out);
  else if (kind === "task") task(value, root, out);
  else streamEvent(value, root, out);
  return out;
}

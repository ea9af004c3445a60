/**
 * Field readers for the sidecar config: each checks one value and, when it is wrong, throws
 * `config.invalid` naming the field (`authz.decision_cache.max_entries: must be an integer ≥ 0`).
 */
import { HexrError } from "../filters/errors.ts";
import { tryParseSpiffeId } from "../filters/identity/index.ts";

export type Obj = Record<string, unknown>;

export function fail(field: string, msg: string): never {
  throw new HexrError("config.invalid", `${field}: ${msg}`);
}

export function obj(v: unknown, field: string): Obj {
  if (v === null || typeof v !== "object" || Array.isArray(v)) fail(field, "must be a mapping");
  return v as Obj;
}

export function onlyKeys(o: Obj, field: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) fail(field ? `${field}.${k}` : k, `unknown field (allowed: ${allowed.join(", ")})`);
  }
}

export function str(v: unknown, field: string): string {
  if (typeof v !== "string" || v.length === 0) fail(field, "must be a non-empty string");
  return v;
}

export function int(v: unknown, field: string, min: number, dflt: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    fail(
      field,
      max === Number.MAX_SAFE_INTEGER ? `must be an integer ≥ ${min}` : `must be an integer in [${min}, ${max}]`,
    );
  }
  return v;
}

export function bool(v: unknown, field: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") fail(field, "must be true or false");
  return v;
}

export function spiffeId(v: unknown, field: string): string {
  const s = str(v, field);
  const r = tryParseSpiffeId(s);
  if (!r.ok) fail(field, `must be a SPIFFE ID (${r.error.code})`);
  return r.id.uri;
}

export function hostPort(v: unknown, field: string): string {
  const t = str(v, field);
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(t);
  if (!m || Number(m[2]) > 65535) fail(field, "must be host:port");
  return t;
}

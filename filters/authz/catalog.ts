/**
 * The service catalog: which cloud service and action a request is, from its method, host and path.
 * Declarative entries are validated and compiled once; `resolve` is a map lookup plus a short scan.
 *
 * Host patterns: `s3.amazonaws.com` (exact), `*.s3.amazonaws.com` (a leading `*.` is one or more
 * labels: any subdomain, never the bare domain), `s3.*.amazonaws.com` (an inner `*` is exactly one
 * label). Hosts compare lowercase, without port or trailing dot.
 * Path patterns: `*` is exactly one non-empty segment, a trailing `**` one or more segments; a trailing
 * slash is ignored. The first action whose method and path match wins, so list specific ones first.
 *
 * @example
 *   const catalog = ServiceCatalog.compile(DEFAULT_CATALOG);
 *   catalog.resolve("GET", "my-bucket.s3.amazonaws.com:443", "/reports/q1.csv");
 *   // → { service: "aws_s3", action: "GetObject", credentials: "aws" }
 */
import { HexrError } from "../errors.ts";

export type CredentialKind = "aws" | "gcp" | "azure";

export interface CatalogAction {
  /** HTTP method, or `*` for any. */
  readonly method: string;
  readonly path: string;
  readonly action: string;
}

export interface CatalogEntry {
  readonly service: string;
  readonly hosts: readonly string[];
  readonly actions: readonly CatalogAction[];
  readonly credentials?: CredentialKind;
}

export interface ResolvedService {
  readonly service: string;
  readonly action: string;
  readonly credentials: CredentialKind | undefined;
}

/** The action for a known host whose method/path no pattern covers (the policy decides). */
export const UNKNOWN_ACTION = "unknown";
export const MAX_CATALOG_ENTRIES = 1_000;
const HOST_CACHE_MAX = 4_096;

const SERVICE_RE = /^[a-z][a-z0-9_]{0,62}$/;
const ACTION_RE = /^[A-Za-z0-9_.:-]{1,128}$/;
const METHOD_RE = /^(?:\*|[A-Z]{1,20})$/;
const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SEGMENT_RE = /^[A-Za-z0-9._~!$&'()+,;=:@%-]+$/;
const CREDENTIALS = new Set(["aws", "gcp", "azure"]);

interface CompiledAction {
  readonly method: string;
  readonly segments: readonly string[];
  readonly rest: boolean;
  readonly result: ResolvedService;
}

interface CompiledEntry {
  readonly actions: readonly CompiledAction[];
  readonly unknown: ResolvedService;
}

interface WildcardHost {
  /** Labels after a leading `*.` (or all labels when `anyPrefix` is false); `*` = one label. */
  readonly labels: readonly string[];
  readonly anyPrefix: boolean;
  readonly literals: number;
  readonly entry: CompiledEntry;
}

function invalid(where: string, message: string): never {
  throw new HexrError("catalog.invalid", `${where}: ${message}`);
}

/** Lowercase, port and trailing dot removed: `S3.AmazonAWS.com.:443` → `s3.amazonaws.com`. */
export function normalizeHost(host: string): string {
  let h = host;
  if (h.startsWith("[")) {
    const close = h.indexOf("]");
    h = close === -1 ? h : h.slice(0, close + 1);
  } else {
    const colon = h.indexOf(":");
    if (colon !== -1 && h.indexOf(":", colon + 1) === -1) h = h.slice(0, colon);
  }
  if (h.endsWith(".")) h = h.slice(0, -1);
  return h.toLowerCase();
}

/** Path segments, or undefined when the path is not origin-form or has dot segments (never matched). */
function splitPath(path: string): string[] | undefined {
  let end = path.length;
  const q = path.indexOf("?");
  if (q !== -1) end = q;
  const f = path.indexOf("#");
  if (f !== -1 && f < end) end = f;
  if (path.charCodeAt(0) !== 0x2f) return undefined;
  const segs = path.slice(1, end).split("/");
  if (segs[segs.length - 1] === "") segs.pop();
  for (const s of segs) {
    if (s === "." || s === "..") return undefined;
    if (s.includes("%")) {
      const d = s.toLowerCase().replaceAll("%2e", ".");
      if (d === "." || d === "..") return undefined;
    }
  }
  return segs;
}

function matches(a: CompiledAction, segs: readonly string[]): boolean {
  const n = a.segments.length;
  if (a.rest ? segs.length <= n : segs.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const p = a.segments[i];
    const s = segs[i] as string;
    if (p === "*" ? s.length === 0 : p !== s) return false;
  }
  return true;
}

function compilePath(where: string, pattern: unknown): { segments: string[]; rest: boolean } {
  if (typeof pattern !== "string" || !pattern.startsWith("/")) invalid(where, "path must be a string starting with /");
  if (pattern === "/") return { segments: [], rest: false };
  const segs = pattern.slice(1).split("/");
  if (segs[segs.length - 1] === "") segs.pop();
  let rest = false;
  segs.forEach((s, i) => {
    if (s === "**") {
      if (i !== segs.length - 1) invalid(where, "** is only allowed as the last segment");
      rest = true;
    } else if (s !== "*" && (!SEGMENT_RE.test(s) || s.includes("*") || s === "." || s === "..")) {
      invalid(where, `bad path segment ${JSON.stringify(s)}`);
    }
  });
  return { segments: rest ? segs.slice(0, -1) : segs, rest };
}

function compileEntry(raw: unknown, i: number): { entry: CompiledEntry; hosts: string[] } {
  const where = `catalog[${i}]`;
  if (raw === null || typeof raw !== "object") invalid(where, "must be a mapping");
  const e = raw as Record<string, unknown>;
  if (typeof e.service !== "string" || !SERVICE_RE.test(e.service))
    invalid(`${where}.service`, "must match [a-z][a-z0-9_]*");
  const service = e.service;
  if (e.credentials !== undefined && !CREDENTIALS.has(e.credentials as string)) {
    invalid(`${where}.credentials`, "must be aws, gcp or azure");
  }
  const credentials = e.credentials as CredentialKind | undefined;
  if (!Array.isArray(e.hosts) || e.hosts.length === 0) invalid(`${where}.hosts`, "must be a non-empty list");
  if (!Array.isArray(e.actions)) invalid(`${where}.actions`, "must be a list");
  const actions = (e.actions as unknown[]).map((a, j): CompiledAction => {
    const aw = `${where}.actions[${j}]`;
    const act = (a ?? {}) as Record<string, unknown>;
    if (typeof act.method !== "string" || !METHOD_RE.test(act.method))
      invalid(`${aw}.method`, "must be an upper-case method or *");
    if (typeof act.action !== "string" || !ACTION_RE.test(act.action))
      invalid(`${aw}.action`, "must match [A-Za-z0-9_.:-]{1,128}");
    const { segments, rest } = compilePath(`${aw}.path`, act.path);
    return { method: act.method, segments, rest, result: Object.freeze({ service, action: act.action, credentials }) };
  });
  const hosts = (e.hosts as unknown[]).map((h, j) => {
    if (typeof h !== "string") invalid(`${where}.hosts[${j}]`, "must be a string");
    const labels = h.split(".");
    const literal = labels.filter((l) => l !== "*");
    const ok =
      literal.every((l) => LABEL_RE.test(l)) &&
      literal.length >= 2 &&
      labels.slice(1).every((l, k) => l !== "*" || k < labels.length - 3);
    if (!ok)
      invalid(
        `${where}.hosts[${j}]`,
        `bad host pattern ${JSON.stringify(h)} (lowercase labels, * for one label, at least two fixed labels)`,
      );
    return h;
  });
  return { entry: { actions, unknown: Object.freeze({ service, action: UNKNOWN_ACTION, credentials }) }, hosts };
}

export class ServiceCatalog {
  readonly #exact = new Map<string, CompiledEntry>();
  readonly #wildcards: WildcardHost[] = [];
  readonly #hostCache = new Map<string, CompiledEntry | null>();
  /** Every service name the catalog can produce. */
  readonly services: ReadonlySet<string>;

  private constructor(entries: readonly unknown[]) {
    const services = new Set<string>();
    const seen = new Set<string>();
    entries.forEach((raw, i) => {
      const { entry, hosts } = compileEntry(raw, i);
      services.add((raw as CatalogEntry).service);
      for (const h of hosts) {
        if (seen.has(h)) invalid(`catalog[${i}].hosts`, `host pattern ${h} appears twice`);
        seen.add(h);
        if (!h.includes("*")) {
          this.#exact.set(h, entry);
          continue;
        }
        const labels = h.split(".");
        const anyPrefix = labels[0] === "*";
        const tail = anyPrefix ? labels.slice(1) : labels;
        this.#wildcards.push({ labels: tail, anyPrefix, literals: tail.filter((l) => l !== "*").length, entry });
      }
    });
    // Most specific pattern first; ties keep declaration order (Array.prototype.sort is stable).
    this.#wildcards.sort((a, b) => b.literals - a.literals);
    this.services = services;
  }

  /** Validates and compiles entries (e.g. parsed from YAML); throws `catalog.invalid` naming the field. */
  static compile(entries: readonly CatalogEntry[] | unknown): ServiceCatalog {
    if (!Array.isArray(entries)) invalid("catalog", "must be a list of entries");
    if (entries.length > MAX_CATALOG_ENTRIES) invalid("catalog", `more than ${MAX_CATALOG_ENTRIES} entries`);
    return new ServiceCatalog(entries);
  }

  /** The service and action for a request; undefined when no entry claims the host. */
  resolve(method: string, host: string, path: string): ResolvedService | undefined {
    const entry = this.#entryFor(normalizeHost(host));
    if (!entry) return undefined;
    const segs = splitPath(path);
    if (!segs) return entry.unknown;
    for (const a of entry.actions) {
      if ((a.method === "*" || a.method === method) && matches(a, segs)) return a.result;
    }
    return entry.unknown;
  }

  #entryFor(host: string): CompiledEntry | undefined {
    const exact = this.#exact.get(host);
    if (exact) return exact;
    const cached = this.#hostCache.get(host);
    if (cached !== undefined) return cached ?? undefined;
    const labels = host.split(".");
    let found: CompiledEntry | null = null;
    for (const w of this.#wildcards) {
      const n = w.labels.length;
      if (w.anyPrefix ? labels.length <= n : labels.length !== n) continue;
      const off = labels.length - n;
      let ok = true;
      for (let i = 0; i < n && ok; i++) {
        const p = w.labels[i];
        const l = labels[off + i] as string;
        ok = p === "*" ? l.length > 0 : p === l;
      }
      if (ok && (!w.anyPrefix || labels.slice(0, off).every((l) => l.length > 0))) {
        found = w.entry;
        break;
      }
    }
    if (this.#hostCache.size >= HOST_CACHE_MAX) this.#hostCache.clear();
    this.#hostCache.set(host, found);
    return found ?? undefined;
  }
}

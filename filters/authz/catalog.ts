/**
 * The service catalog: which cloud service and operation a request is, named the way the cloud's IAM names
 * it — from method, host, path, query subresources and the headers that change the operation. Entries are
 * validated and compiled once; `classify` is a host map lookup, one parse of path and query, and either a
 * short pattern scan (declarative `actions`) or a built-in classifier (`classifier: aws_s3 | azure_blob |
 * gcp_storage`, in `operations/`).
 *
 * Host patterns: `s3.amazonaws.com` (exact), `*.s3.amazonaws.com` (a leading `*.` is one or more
 * labels: any subdomain, never the bare domain; a classifier receives those labels, e.g. the bucket),
 * `s3.*.amazonaws.com` (an inner `*` is exactly one label). Hosts compare lowercase, without port or
 * trailing dot.
 * Path patterns: `*` is exactly one non-empty segment, `{project}` is one captured into the resource facts,
 * a trailing `**` one or more segments; a trailing slash is ignored. The first action whose method and path
 * match wins, so list specific ones first. Declarative entries do not read the query (their APIs take
 * parameters there, not operations).
 *
 * Never a nearest guess: a known host whose request no rule explains precisely — dot segments, malformed
 * or repeated query parameters, a method-override header naming another method, an unknown subresource —
 * is action `unknown`.
 *
 * @example
 *   const catalog = ServiceCatalog.compile(DEFAULT_CATALOG);
 *   catalog.classify("PUT", "my-bucket.s3.amazonaws.com:443", "/q1.csv", { "x-amz-copy-source": "other/k" });
 *   // → { service: "aws_s3", action: "s3:PutObject", credentials: "aws",
 *   //     resource: { bucket: "my-bucket", key: "q1.csv", copy_source: { bucket: "other", key: "k" } },
 *   //     actions: [{ action: "s3:PutObject", … }, { action: "s3:GetObject", resource: { bucket: "other", key: "k" } }] }
 */
import { HexrError } from "../errors.ts";
import { classifyS3 } from "./operations/aws-s3.ts";
import { classifyAzureBlob } from "./operations/azure-blob.ts";
import { classifyGcs } from "./operations/gcp-storage.ts";
import type { CatalogRequest, Classified, Classifier, RequiredAction, Resource } from "./operations/types.ts";
import { decodeName, EMPTY_RESOURCE, hasDotSegment } from "./operations/types.ts";

export type CredentialKind = "aws" | "gcp" | "azure";
export type ClassifierName = "aws_s3" | "azure_blob" | "gcp_storage";

export interface CatalogAction {
  /** HTTP method, or `*` for any. */
  readonly method: string;
  readonly path: string;
  readonly action: string;
}

export interface CatalogEntry {
  readonly service: string;
  readonly hosts: readonly string[];
  /** Declarative rules; or name a built-in `classifier` for APIs whose operation hides in query and headers. */
  readonly actions?: readonly CatalogAction[];
  readonly classifier?: ClassifierName;
  readonly credentials?: CredentialKind;
}

/** What the policy is told about a request. */
export interface Operation extends Classified {
  readonly service: string;
  readonly credentials: CredentialKind | undefined;
}

/** The action for a known host whose request no rule explains precisely (the policy decides). */
export const UNKNOWN_ACTION = "unknown";
export const MAX_CATALOG_ENTRIES = 1_000;
/** More query parameters than this is not a request any cloud API documents: `unknown`. */
export const MAX_QUERY_PARAMS = 64;
/**
 * Headers that make some front ends (Google's among them) run another method than the request line's.
 * They never reach the upstream (the pipeline removes them); one naming another method makes the request
 * `unknown`, so the policy never judges a method the client did not mean.
 */
export const METHOD_OVERRIDE_HEADERS: readonly string[] = Object.freeze([
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
]);
/** Query parameters some frameworks read as a method override (compared lowercase): always `unknown`. */
const OVERRIDE_PARAMS = new Set([
  "_method",
  "method",
  "$method",
  "httpmethod",
  "$httpmethod",
  ...METHOD_OVERRIDE_HEADERS,
]);
const HOST_CACHE_MAX = 4_096;

const SERVICE_RE = /^[a-z][a-z0-9_]{0,62}$/;
const ACTION_RE = /^[A-Za-z0-9_.:/-]{1,128}$/;
const METHOD_RE = /^(?:\*|[A-Z]{1,20})$/;
const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SEGMENT_RE = /^[A-Za-z0-9._~!$&'()+,;=:@%-]+$/;
const CAPTURE_RE = /^\{([a-z_]+)\}$/;
const CREDENTIALS = new Set(["aws", "gcp", "azure"]);
const CAPTURES = new Set([
  "bucket",
  "key",
  "object",
  "account",
  "container",
  "blob",
  "project",
  "dataset",
  "table",
  "job",
]);
const CLASSIFIERS: Readonly<Record<ClassifierName, Classifier>> = {
  aws_s3: classifyS3,
  azure_blob: classifyAzureBlob,
  gcp_storage: classifyGcs,
};
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const NO_QUERY: ReadonlyMap<string, string> = new Map();

interface CompiledAction {
  readonly method: string;
  /** Literal segment, `*`, or `{name}` (captured). */
  readonly segments: readonly string[];
  /** `[segment index, resource field]` of each `{name}`. */
  readonly captures: readonly (readonly [number, string])[];
  readonly rest: boolean;
  /** Prebuilt when nothing is captured. */
  readonly result: Operation;
}

interface CompiledEntry {
  readonly service: string;
  readonly credentials: CredentialKind | undefined;
  readonly actions: readonly CompiledAction[];
  readonly classifier: Classifier | undefined;
  readonly unknown: Operation;
}

interface HostMatch {
  readonly entry: CompiledEntry;
  /** Labels matched by a leading `*.`. */
  readonly prefix: string;
  /**
   * Two patterns claim the host and read it differently (`s3.dualstack.s3.amazonaws.com` is path-style by
   * `s3.dualstack.*.amazonaws.com` and the bucket `s3.dualstack` by `*.s3.amazonaws.com`): which bucket the
   * cloud acts on is not known here, so every request to it is `unknown`.
   */
  readonly ambiguous?: boolean;
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

/** Decoded query parameters; undefined when malformed, repeated, too many, or a method override. */
function parseQuery(qs: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  let start = 0;
  while (start < qs.length) {
    let end = qs.indexOf("&", start);
    if (end === -1) end = qs.length;
    if (end > start) {
      const eq = qs.indexOf("=", start);
      const hasValue = eq !== -1 && eq < end;
      const name = decodeQueryPart(qs.slice(start, hasValue ? eq : end));
      const value = hasValue ? decodeQueryPart(qs.slice(eq + 1, end)) : "";
      if (name === undefined || value === undefined || name === "" || out.has(name)) return undefined;
      if (OVERRIDE_PARAMS.has(name.toLowerCase())) return undefined;
      out.set(name, value);
      if (out.size > MAX_QUERY_PARAMS) return undefined;
    }
    start = end + 1;
  }
  return out;
}

function decodeQueryPart(s: string): string | undefined {
  if (!s.includes("%") && !s.includes("+")) return s;
  try {
    return decodeURIComponent(s.replaceAll("+", " "));
  } catch {
    return undefined;
  }
}

/** A method-override header that names another method than the request's. */
function overridden(method: string, headers: Readonly<Record<string, string>>): boolean {
  for (const name of METHOD_OVERRIDE_HEADERS) {
    const v = headers[name];
    if (v !== undefined && v.trim().toUpperCase() !== method) return true;
  }
  return false;
}

/** Path segments for declarative rules (trailing slash ignored). */
function splitSegments(path: string): string[] {
  const segs = path.slice(1).split("/");
  if (segs[segs.length - 1] === "") segs.pop();
  return segs;
}

function matches(a: CompiledAction, segs: readonly string[]): boolean {
  const n = a.segments.length;
  if (a.rest ? segs.length <= n : segs.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const p = a.segments[i] as string;
    const s = segs[i] as string;
    if (p === "*" || p.charCodeAt(0) === 0x7b /* { */ ? s.length === 0 : p !== s) return false;
  }
  return true;
}

function compilePath(
  where: string,
  pattern: unknown,
): { segments: string[]; rest: boolean; captures: [number, string][] } {
  if (typeof pattern !== "string" || !pattern.startsWith("/")) invalid(where, "path must be a string starting with /");
  if (pattern === "/") return { segments: [], rest: false, captures: [] };
  const segs = pattern.slice(1).split("/");
  if (segs[segs.length - 1] === "") segs.pop();
  let rest = false;
  const captures: [number, string][] = [];
  segs.forEach((s, i) => {
    const capture = CAPTURE_RE.exec(s)?.[1];
    if (s === "**") {
      if (i !== segs.length - 1) invalid(where, "** is only allowed as the last segment");
      rest = true;
    } else if (capture !== undefined) {
      if (!CAPTURES.has(capture)) invalid(where, `unknown capture {${capture}} (one of ${[...CAPTURES].join(", ")})`);
      captures.push([i, capture]);
    } else if (s !== "*" && (!SEGMENT_RE.test(s) || s.includes("*") || s === "." || s === "..")) {
      invalid(where, `bad path segment ${JSON.stringify(s)}`);
    }
  });
  return { segments: rest ? segs.slice(0, -1) : segs, rest, captures };
}

function operation(service: string, credentials: CredentialKind | undefined, c: Classified): Operation {
  return { service, credentials, action: c.action, actions: c.actions, resource: c.resource };
}

function frozenOperation(service: string, credentials: CredentialKind | undefined, action: string): Operation {
  const actions: readonly RequiredAction[] = Object.freeze([Object.freeze({ action, resource: EMPTY_RESOURCE })]);
  return Object.freeze({ service, credentials, action, actions, resource: EMPTY_RESOURCE });
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
  let classifier: Classifier | undefined;
  if (e.classifier !== undefined) {
    if (typeof e.classifier !== "string" || !Object.hasOwn(CLASSIFIERS, e.classifier))
      invalid(`${where}.classifier`, `must be one of ${Object.keys(CLASSIFIERS).join(", ")}`);
    if (e.actions !== undefined) invalid(`${where}.actions`, "must be absent when a classifier is named");
    classifier = CLASSIFIERS[e.classifier as ClassifierName];
  } else if (!Array.isArray(e.actions)) {
    invalid(`${where}.actions`, "must be a list (or name a classifier)");
  }
  const actions = ((e.actions ?? []) as unknown[]).map((a, j): CompiledAction => {
    const aw = `${where}.actions[${j}]`;
    const act = (a ?? {}) as Record<string, unknown>;
    if (typeof act.method !== "string" || !METHOD_RE.test(act.method))
      invalid(`${aw}.method`, "must be an upper-case method or *");
    if (typeof act.action !== "string" || !ACTION_RE.test(act.action))
      invalid(`${aw}.action`, "must match [A-Za-z0-9_.:/-]{1,128}");
    const { segments, rest, captures } = compilePath(`${aw}.path`, act.path);
    return {
      method: act.method,
      segments,
      rest,
      captures,
      result: frozenOperation(service, credentials, act.action),
    };
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
  const unknown = frozenOperation(service, credentials, UNKNOWN_ACTION);
  return { entry: { service, credentials, actions, classifier, unknown }, hosts };
}

function declarative(entry: CompiledEntry, method: string, path: string): Operation {
  const segs = splitSegments(path);
  for (const a of entry.actions) {
    if ((a.method !== "*" && a.method !== method) || !matches(a, segs)) continue;
    if (a.captures.length === 0) return a.result;
    const resource: Record<string, string> = {};
    for (const [index, field] of a.captures) {
      const v = decodeName(segs[index] as string);
      if (v === undefined) return entry.unknown;
      resource[field] = v;
    }
    const r = resource as Resource;
    return { ...a.result, actions: [{ action: a.result.action, resource: r }], resource: r };
  }
  return entry.unknown;
}

export class ServiceCatalog {
  readonly #exact = new Map<string, HostMatch>();
  readonly #wildcards: WildcardHost[] = [];
  readonly #hostCache = new Map<string, HostMatch | null>();
  /** Every service name the catalog can produce. */
  readonly services: ReadonlySet<string>;

  private constructor(entries: readonly unknown[]) {
    const services = new Set<string>();
    const seen = new Set<string>();
    entries.forEach((raw, i) => {
      const { entry, hosts } = compileEntry(raw, i);
      services.add(entry.service);
      for (const h of hosts) {
        if (seen.has(h)) invalid(`catalog[${i}].hosts`, `host pattern ${h} appears twice`);
        seen.add(h);
        if (!h.includes("*")) {
          this.#exact.set(h, { entry, prefix: "" });
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

  /**
   * The service, actions and resource facts of a request; undefined when no entry claims the host.
   * `path` is the request's `:path` (query included); `headers` have lowercase names, as in a CheckRequest.
   */
  classify(
    method: string,
    host: string,
    path: string,
    headers: Readonly<Record<string, string>> = NO_HEADERS,
  ): Operation | undefined {
    const match = this.#entryFor(normalizeHost(host));
    if (!match) return undefined;
    const { entry } = match;
    if (match.ambiguous) return entry.unknown;
    if (path.charCodeAt(0) !== 0x2f || path.includes("#") || overridden(method, headers)) return entry.unknown;
    const q = path.indexOf("?");
    const bare = q === -1 ? path : path.slice(0, q);
    if (hasDotSegment(bare)) return entry.unknown;
    const query = q === -1 || q === path.length - 1 ? NO_QUERY : parseQuery(path.slice(q + 1));
    if (!query) return entry.unknown;
    if (!entry.classifier) return declarative(entry, method, bare);
    const req: CatalogRequest = { method, path: bare, query, headers, hostPrefix: match.prefix };
    const c = entry.classifier(req);
    return c ? operation(entry.service, entry.credentials, c) : entry.unknown;
  }

  #entryFor(host: string): HostMatch | undefined {
    const exact = this.#exact.get(host);
    if (exact) return exact;
    const cached = this.#hostCache.get(host);
    if (cached !== undefined) return cached ?? undefined;
    const labels = host.split(".");
    let found: HostMatch | null = null;
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
      const prefix = labels.slice(0, off);
      if (ok && (!w.anyPrefix || prefix.every((l) => l.length > 0))) {
        const here = { entry: w.entry, prefix: prefix.join(".") };
        if (found === null) {
          found = here;
          continue;
        }
        if (found.entry !== here.entry || found.prefix !== here.prefix) {
          found = { ...found, ambiguous: true };
          break;
        }
      }
    }
    if (this.#hostCache.size >= HOST_CACHE_MAX) this.#hostCache.clear();
    this.#hostCache.set(host, found);
    return found ?? undefined;
  }
}

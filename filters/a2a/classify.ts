/**
 * Which A2A operation an inbound request is, read strictly from the wire: the negotiated version
 * (`A2A-Version` header or query parameter, A2A §3.6; empty or absent is 0.3), the binding (gRPC by
 * content type and service path, the public agent card, HTTP+JSON/REST by path pattern, else JSON-RPC for
 * a POST of JSON), and for JSON-RPC one strict parse of the body. Method names come out canonical (v1.0).
 *
 * Never a nearest guess: a request that is A2A but not exactly one operation of the negotiated version is
 * an {@link A2aError} in the protocol's own terms (see errors.ts for the answer), e.g. a v0.3 method name
 * under `A2A-Version: 1.0` (-32601 naming both), a JSON-RPC batch, a repeated key, an id that is not a
 * string. A request that is not A2A at all (a health probe, another gRPC service, a GET of an unknown
 * path) is `undefined`: the inbound pipeline must deny it (there is no A2A operation for the policy to
 * judge); health endpoints belong on a listener or route that does not run ext_authz.
 *
 * Sources: A2A v1.0 specification §3.6 (versioning), §5.3 (method mapping), §9 (JSON-RPC), §10 (gRPC,
 * service `lf.a2a.v1.A2AService`), §11 (HTTP+JSON, with the `/{tenant}` additional bindings of
 * specification/a2a.proto); v0.3 names and `/v1/…` paths as the official @a2a-js/sdk 1.3 serves them
 * (v0.3 gRPC service `a2a.v1.A2AService`).
 *
 * @example
 *   classifyA2a({ method: "POST", path: "/", headers: { "content-type": "application/json", "a2a-version": "1.0" },
 *                 body: '{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"t1"}}' });
 *   // → { version: "1.0", binding: "jsonrpc", method: "GetTask", wireMethod: "GetTask", taskId: "t1",
 *   //     jsonrpcId: 1, streaming: false }
 */
import { checkJsonKeys } from "../guard/adapters/strict-json.ts";
import { isHexrError } from "../errors.ts";
import { type A2aBinding, type A2aCall, A2aError, type A2aMethod, type A2aVersion } from "./types.ts";

export interface A2aRequest {
  readonly method: string;
  /** `:path`, query included. */
  readonly path: string;
  /** Lowercase names, as in a CheckRequest. */
  readonly headers: Readonly<Record<string, string>>;
  /** The complete body (the caller caps its size); needed for JSON-RPC, optional for REST. */
  readonly body?: Uint8Array | string;
}

export interface A2aClassifyOptions {
  /** Path prefix of the HTTP+JSON interface (the agent card's interface URL path), e.g. `/a2a/rest`. */
  readonly restBase?: string;
}

/** An {@link A2aError} raised while classifying, carrying what errors.ts needs to answer in kind. */
export class A2aRequestError extends A2aError {
  readonly binding: A2aBinding;
  readonly version: A2aVersion;
  readonly jsonrpcId: string | number | null | undefined;

  constructor(
    where: { binding: A2aBinding; version: A2aVersion; jsonrpcId?: string | number | null },
    code: `a2a.${string}`,
    message: string,
    rpcCode: number,
    httpStatus: number,
    path?: string,
  ) {
    super(code, message, rpcCode, httpStatus, path);
    this.binding = where.binding;
    this.version = where.version;
    this.jsonrpcId = where.jsonrpcId;
  }
}

export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INVALID_PARAMS = -32602;
/** A2A VersionNotSupportedError. */
export const RPC_VERSION_NOT_SUPPORTED = -32009;

export const AGENT_CARD_PATH = "/.well-known/agent-card.json";
export const GRPC_SERVICE_V1 = "lf.a2a.v1.A2AService";
export const GRPC_SERVICE_V03 = "a2a.v1.A2AService";

const V1_JSONRPC: ReadonlyMap<string, A2aMethod> = new Map(
  (
    [
      "SendMessage",
      "SendStreamingMessage",
      "GetTask",
      "ListTasks",
      "CancelTask",
      "SubscribeToTask",
      "CreateTaskPushNotificationConfig",
      "GetTaskPushNotificationConfig",
      "ListTaskPushNotificationConfigs",
      "DeleteTaskPushNotificationConfig",
      "GetExtendedAgentCard",
    ] as const
  ).map((m) => [m, m]),
);
const V03_JSONRPC: ReadonlyMap<string, A2aMethod> = new Map([
  ["message/send", "SendMessage"],
  ["message/stream", "SendStreamingMessage"],
  ["tasks/get", "GetTask"],
  ["tasks/cancel", "CancelTask"],
  ["tasks/resubscribe", "SubscribeToTask"],
  ["tasks/pushNotificationConfig/set", "CreateTaskPushNotificationConfig"],
  ["tasks/pushNotificationConfig/get", "GetTaskPushNotificationConfig"],
  ["tasks/pushNotificationConfig/list", "ListTaskPushNotificationConfigs"],
  ["tasks/pushNotificationConfig/delete", "DeleteTaskPushNotificationConfig"],
  ["agent/getAuthenticatedExtendedCard", "GetExtendedAgentCard"],
]);
const V1_GRPC = V1_JSONRPC;
/** v0.3 gRPC names (a2a.v1 package); `GetAgentCard` there is the authenticated card, as the SDK maps it. */
const V03_GRPC: ReadonlyMap<string, A2aMethod> = new Map([
  ["SendMessage", "SendMessage"],
  ["SendStreamingMessage", "SendStreamingMessage"],
  ["GetTask", "GetTask"],
  ["CancelTask", "CancelTask"],
  ["TaskSubscription", "SubscribeToTask"],
  ["CreateTaskPushNotificationConfig", "CreateTaskPushNotificationConfig"],
  ["GetTaskPushNotificationConfig", "GetTaskPushNotificationConfig"],
  ["ListTaskPushNotificationConfig", "ListTaskPushNotificationConfigs"],
  ["DeleteTaskPushNotificationConfig", "DeleteTaskPushNotificationConfig"],
  ["GetAgentCard", "GetExtendedAgentCard"],
]);
const STREAMING: ReadonlySet<A2aMethod> = new Set(["SendStreamingMessage", "SubscribeToTask"]);
const CARD_METHODS: ReadonlySet<A2aMethod> = new Set(["GetExtendedAgentCard"]);
const REQUEST_KEYS: ReadonlySet<string> = new Set(["jsonrpc", "id", "method", "params"]);
const JSON_TYPES: ReadonlySet<string> = new Set(["application/json", "application/a2a+json"]);
const VERSION_RE = /^(\d{1,3})\.(\d{1,3})(?:\.\d{1,3})?$/;
const VERSION_PARAM = "a2a-version";

const utf8 = new TextDecoder("utf-8", { fatal: true });

// ---------------------------------------------------------------- version

type Where = { binding: A2aBinding; version: A2aVersion; jsonrpcId?: string | number | null };

/** `1.0` / `0.3` (patch ignored, §3.6); an A2aRequestError for anything else or two differing values. */
function negotiate(
  headers: Readonly<Record<string, string>>,
  query: string,
  binding: A2aBinding,
): A2aVersion | A2aRequestError {
  const fallback: Where = { binding, version: "1.0" };
  let fromQuery: string | undefined;
  for (const part of query.split("&")) {
    const eq = part.indexOf("=");
    const rawName = eq === -1 ? part : part.slice(0, eq);
    if (rawName.length !== VERSION_PARAM.length && !rawName.includes("%")) continue;
    const name = decode(rawName);
    if (name === undefined) {
      // an undecodable name could be the version parameter in disguise: refuse rather than guess
      return new A2aRequestError(
        fallback,
        "a2a.bad_version",
        "malformed query parameter name",
        RPC_INVALID_REQUEST,
        400,
      );
    }
    if (name.toLowerCase() !== VERSION_PARAM) continue;
    const value = decode(eq === -1 ? "" : part.slice(eq + 1).replaceAll("+", " "));
    if (value === undefined || fromQuery !== undefined) {
      return new A2aRequestError(
        fallback,
        "a2a.bad_version",
        "A2A-Version query parameter is malformed or repeated",
        RPC_INVALID_REQUEST,
        400,
      );
    }
    fromQuery = value.trim();
  }
  const fromHeader = headers[VERSION_PARAM]?.trim();
  if (fromHeader !== undefined && fromQuery !== undefined && fromHeader !== fromQuery) {
    return new A2aRequestError(
      fallback,
      "a2a.version_ambiguous",
      "A2A-Version header and query parameter differ",
      RPC_INVALID_REQUEST,
      400,
    );
  }
  const v = fromHeader ?? fromQuery ?? "";
  if (v === "") return "0.3";
  const m = VERSION_RE.exec(v);
  if (m?.[1] === "1" && m[2] === "0") return "1.0";
  if (m?.[1] === "0" && m[2] === "3") return "0.3";
  return new A2aRequestError(
    fallback,
    "a2a.version_not_supported",
    "A2A-Version is not 1.0 or 0.3",
    RPC_VERSION_NOT_SUPPORTED,
    400,
  );
}

function decode(s: string): string | undefined {
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function other(v: A2aVersion): A2aVersion {
  return v === "1.0" ? "0.3" : "1.0";
}

// ---------------------------------------------------------------- entry

/**
 * The A2A call a request is, an A2aError (an {@link A2aRequestError}: it knows its binding, version and
 * JSON-RPC id) when it is A2A but not a valid call of the negotiated version, or undefined when it is not
 * A2A at all.
 */
export function classifyA2a(req: A2aRequest, options: A2aClassifyOptions = {}): A2aCall | A2aError | undefined {
  const q = req.path.indexOf("?");
  const bare = q === -1 ? req.path : req.path.slice(0, q);
  const query = q === -1 ? "" : req.path.slice(q + 1);
  if (bare.charCodeAt(0) !== 0x2f || bare.includes("#")) return undefined;
  const contentType = mediaType(req.headers["content-type"]);

  if (contentType === "application/grpc" || contentType.startsWith("application/grpc+")) {
    return classifyGrpc(req.method, bare, req.headers, query);
  }
  if (bare === AGENT_CARD_PATH) {
    const version = negotiate(req.headers, query, "agent_card");
    if (version instanceof A2aError) return version;
    if (req.method !== "GET") {
      return new A2aRequestError(
        { binding: "agent_card", version },
        "a2a.method_not_allowed",
        "the agent card is fetched with GET",
        RPC_METHOD_NOT_FOUND,
        405,
      );
    }
    return {
      version,
      binding: "agent_card",
      method: "GetAgentCard",
      wireMethod: `GET ${AGENT_CARD_PATH}`,
      streaming: false,
    };
  }
  const base = options.restBase ?? "";
  const rel = base === "" ? bare : bare === base || bare.startsWith(`${base}/`) ? bare.slice(base.length) : undefined;
  const rest = rel === undefined ? undefined : classifyRest(req, rel, query);
  if (rest !== undefined) return rest;
  if (req.method === "POST" && JSON_TYPES.has(contentType)) return classifyJsonRpc(req, query);
  return undefined;
}

function mediaType(v: string | undefined): string {
  if (v === undefined) return "";
  const semi = v.indexOf(";");
  return (semi === -1 ? v : v.slice(0, semi)).trim().toLowerCase();
}

// ---------------------------------------------------------------- gRPC

function classifyGrpc(
  method: string,
  path: string,
  headers: Readonly<Record<string, string>>,
  query: string,
): A2aCall | A2aError | undefined {
  const slash = path.indexOf("/", 1);
  if (slash === -1) return undefined;
  const service = path.slice(1, slash);
  const name = path.slice(slash + 1);
  const served: A2aVersion | undefined =
    service === GRPC_SERVICE_V1 ? "1.0" : service === GRPC_SERVICE_V03 ? "0.3" : undefined;
  if (served === undefined) return undefined; // another gRPC service (e.g. grpc.health.v1): not A2A
  const version = negotiate(headers, query, "grpc");
  if (version instanceof A2aError) return version;
  const where: Where = { binding: "grpc", version };
  if (method !== "POST") {
    return new A2aRequestError(where, "a2a.invalid_request", "gRPC requests are POST", RPC_INVALID_REQUEST, 400);
  }
  const table = served === "1.0" ? V1_GRPC : V03_GRPC;
  const canonical = table.get(name);
  if (canonical === undefined || name.includes("/")) {
    return new A2aRequestError(where, "a2a.method_not_found", `no such ${service} method`, RPC_METHOD_NOT_FOUND, 404);
  }
  if (served !== version) {
    return new A2aRequestError(
      where,
      "a2a.method_not_found",
      `${service}/${name} is A2A ${served}; the request's A2A-Version is ${version}`,
      RPC_METHOD_NOT_FOUND,
      404,
    );
  }
  return { version, binding: "grpc", method: canonical, wireMethod: path, streaming: STREAMING.has(canonical) };
}

// ---------------------------------------------------------------- HTTP+JSON

interface Route {
  readonly verbs: readonly string[];
  /** Literal segments, `{id}` / `{config}` captures; a capture may carry a `:verb` suffix. */
  readonly segments: readonly string[];
  readonly method: A2aMethod;
  readonly wire: string;
}

function route(verbs: string, pattern: string, method: A2aMethod): Route {
  return { verbs: verbs.split(","), segments: pattern.slice(1).split("/"), method, wire: `${verbs} ${pattern}` };
}

/** specification/a2a.proto `google.api.http`; SubscribeToTask takes GET or POST, as the SDK serves it. */
const V1_ROUTES: readonly Route[] = [
  route("POST", "/message:send", "SendMessage"),
  route("POST", "/message:stream", "SendStreamingMessage"),
  route("GET", "/tasks", "ListTasks"),
  route("GET", "/tasks/{id}", "GetTask"),
  route("POST", "/tasks/{id}:cancel", "CancelTask"),
  route("GET,POST", "/tasks/{id}:subscribe", "SubscribeToTask"),
  route("POST", "/tasks/{id}/pushNotificationConfigs", "CreateTaskPushNotificationConfig"),
  route("GET", "/tasks/{id}/pushNotificationConfigs", "ListTaskPushNotificationConfigs"),
  route("GET", "/tasks/{id}/pushNotificationConfigs/{config}", "GetTaskPushNotificationConfig"),
  route("DELETE", "/tasks/{id}/pushNotificationConfigs/{config}", "DeleteTaskPushNotificationConfig"),
  route("GET", "/extendedAgentCard", "GetExtendedAgentCard"),
];
/** v0.3 HTTP+JSON: `/v1/…`, no ListTasks, `/v1/card` for the authenticated card, no tenant prefix. */
const V03_ROUTES: readonly Route[] = [
  route("POST", "/v1/message:send", "SendMessage"),
  route("POST", "/v1/message:stream", "SendStreamingMessage"),
  route("GET", "/v1/tasks/{id}", "GetTask"),
  route("POST", "/v1/tasks/{id}:cancel", "CancelTask"),
  route("GET,POST", "/v1/tasks/{id}:subscribe", "SubscribeToTask"),
  route("POST", "/v1/tasks/{id}/pushNotificationConfigs", "CreateTaskPushNotificationConfig"),
  route("GET", "/v1/tasks/{id}/pushNotificationConfigs", "ListTaskPushNotificationConfigs"),
  route("GET", "/v1/tasks/{id}/pushNotificationConfigs/{config}", "GetTaskPushNotificationConfig"),
  route("DELETE", "/v1/tasks/{id}/pushNotificationConfigs/{config}", "DeleteTaskPushNotificationConfig"),
  route("GET", "/v1/card", "GetExtendedAgentCard"),
];
/** First segments of v1.0 routes: never read as a `{tenant}`, so no path has two readings. */
const V1_ROOTS: ReadonlySet<string> = new Set(["message:send", "message:stream", "tasks", "extendedAgentCard"]);

interface Matched {
  /** Every route of this shape (they differ by verb only). */
  readonly routes: readonly Route[];
  /** Decoded task id, or `false` when a capture is malformed (ambiguous between parsers). */
  readonly taskId: string | undefined | false;
}

/**
 * The routes a path has the shape of (ignoring the verb). A capture never holds a raw `:` (that is the
 * verb suffix); decoded, it must not hold `/` or `:` either, which a parser that decodes first would split.
 */
function match(routes: readonly Route[], segs: readonly string[]): Matched | undefined {
  const found: Route[] = [];
  let taskId: string | undefined | false;
  for (const r of routes) {
    if (r.segments.length !== segs.length) continue;
    let ok = true;
    let id: string | undefined | false;
    for (let i = 0; i < segs.length && ok; i++) {
      const p = r.segments[i] as string;
      const s = segs[i] as string;
      if (p.charCodeAt(0) !== 0x7b /* { */) {
        ok = p === s;
        continue;
      }
      const suffix = p.slice(p.indexOf("}") + 1);
      const raw = s.slice(0, s.length - suffix.length);
      ok = s.endsWith(suffix) && raw.length > 0 && !raw.includes(":");
      if (!ok) continue;
      const value = decode(raw);
      if (value === undefined || value.includes("/") || value.includes(":")) id = false;
      else if (p.startsWith("{id}") && id !== false) id = value;
    }
    if (ok) {
      found.push(r);
      taskId = id;
    }
  }
  return found.length === 0 ? undefined : { routes: found, taskId };
}

/** v1.0 routes, bare or behind one `{tenant}` segment that is not itself a route word. */
function matchV1(segs: readonly string[]): Matched | undefined {
  const bare = match(V1_ROUTES, segs);
  if (bare !== undefined || segs.length < 2) return bare;
  const tenant = segs[0] as string;
  if (V1_ROOTS.has(tenant) || tenant.includes(":") || decode(tenant) === undefined) return undefined;
  return match(V1_ROUTES, segs.slice(1));
}

function looksA2a(segs: readonly string[]): boolean {
  const [a = "", b = ""] = segs;
  return V1_ROOTS.has(a) || (a === "v1" && (V1_ROOTS.has(b) || b === "card")) || (segs.length > 1 && V1_ROOTS.has(b));
}

function classifyRest(req: A2aRequest, rel: string, query: string): A2aCall | A2aError | undefined {
  const segs = rel.slice(1).split("/");
  if (segs.some((s) => s === "" || s === "." || s === "..")) {
    if (!looksA2a(segs.filter((s) => s !== ""))) return undefined;
    const version = negotiate(req.headers, query, "rest");
    if (version instanceof A2aError) return version;
    return new A2aRequestError(
      { binding: "rest", version },
      "a2a.not_found",
      "path has empty or dot segments",
      RPC_METHOD_NOT_FOUND,
      404,
    );
  }
  const v1 = matchV1(segs);
  const v03 = match(V03_ROUTES, segs);
  if (v1 === undefined && v03 === undefined && !looksA2a(segs)) return undefined;
  const version = negotiate(req.headers, query, "rest");
  if (version instanceof A2aError) return version;
  const where: Where = { binding: "rest", version };
  const m = version === "1.0" ? v1 : v03;
  if (m === undefined) {
    const theirs = version === "1.0" ? v03 : v1;
    if (theirs !== undefined) {
      return new A2aRequestError(
        where,
        "a2a.method_not_found",
        `${(theirs.routes[0] as Route).wire} is A2A ${other(version)}; the request's A2A-Version is ${version}`,
        RPC_METHOD_NOT_FOUND,
        404,
      );
    }
    return new A2aRequestError(
      where,
      "a2a.not_found",
      `no A2A ${version} operation at this path`,
      RPC_METHOD_NOT_FOUND,
      404,
    );
  }
  const picked = m.routes.find((r) => r.verbs.includes(req.method));
  if (picked === undefined) {
    const verbs = m.routes.flatMap((r) => r.verbs);
    return new A2aRequestError(
      where,
      "a2a.method_not_allowed",
      `this path takes ${verbs.join(" or ")}`,
      RPC_METHOD_NOT_FOUND,
      405,
    );
  }
  if (m.taskId === false) {
    return new A2aRequestError(
      where,
      "a2a.bad_path",
      "a path id is malformed or holds / or :",
      RPC_INVALID_PARAMS,
      400,
    );
  }
  const method = picked.method;
  const call: A2aCall = {
    version,
    binding: "rest",
    method,
    wireMethod: picked.wire,
    ...(m.taskId !== undefined ? { taskId: m.taskId } : {}),
    streaming: STREAMING.has(method),
  };
  if ((method !== "SendMessage" && method !== "SendStreamingMessage") || !hasBody(req.body)) return call;
  // The message's task and context live in the body (SendMessageRequest.message).
  const doc = parseBody(req.body as Uint8Array | string, where);
  if (doc instanceof A2aError) return doc;
  if (!isRecord(doc))
    return new A2aRequestError(where, "a2a.invalid_params", "body must be a JSON object", RPC_INVALID_PARAMS, 400, "$");
  const ids = messageIds(doc, "$", version, where);
  return ids instanceof A2aError ? ids : { ...call, ...ids };
}

function hasBody(body: Uint8Array | string | undefined): boolean {
  return body !== undefined && body.length > 0;
}

// ---------------------------------------------------------------- JSON-RPC

/** Bodies classification parsed, so validation reads the same document without parsing it again. */
const parsed = new WeakMap<Uint8Array, unknown>();

/** The JSON document classification parsed from `body` (a body it classified), or undefined. */
export function parsedBody(body: Uint8Array): unknown {
  return parsed.get(body);
}

function parseBody(body: Uint8Array | string, where: Where): unknown {
  let text: string;
  try {
    text = typeof body === "string" ? body : utf8.decode(body);
  } catch {
    return new A2aRequestError(where, "a2a.parse_error", "body is not valid UTF-8", RPC_PARSE_ERROR, 400);
  }
  try {
    checkJsonKeys(text);
  } catch (e) {
    // A repeated key lets two parsers read two different requests (methods, ids): refuse it.
    const code = isHexrError(e) && e.code === "guard.too_deep" ? "a2a.too_deep" : "a2a.duplicate_key";
    return new A2aRequestError(
      where,
      code,
      code === "a2a.too_deep" ? "JSON nesting too deep" : "a JSON object repeats a key",
      RPC_INVALID_REQUEST,
      400,
    );
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof body !== "string") parsed.set(body, doc);
    return doc;
  } catch {
    return new A2aRequestError(where, "a2a.parse_error", "body is not valid JSON", RPC_PARSE_ERROR, 400);
  }
}

function classifyJsonRpc(req: A2aRequest, query: string): A2aCall | A2aError {
  const version = negotiate(req.headers, query, "jsonrpc");
  if (version instanceof A2aError) return version;
  const where: Where = { binding: "jsonrpc", version, jsonrpcId: null };
  if (!hasBody(req.body)) {
    return new A2aRequestError(where, "a2a.invalid_request", "JSON-RPC request has no body", RPC_INVALID_REQUEST, 400);
  }
  const doc = parseBody(req.body as Uint8Array | string, where);
  if (doc instanceof A2aError) return doc;
  if (Array.isArray(doc)) {
    // One HTTP request is one policy decision and one answer stream; A2A defines no batches.
    return new A2aRequestError(
      where,
      "a2a.batch_not_supported",
      "JSON-RPC batches are not accepted",
      RPC_INVALID_REQUEST,
      400,
      "$",
    );
  }
  if (!isRecord(doc)) {
    return new A2aRequestError(
      where,
      "a2a.invalid_request",
      "JSON-RPC request must be an object",
      RPC_INVALID_REQUEST,
      400,
      "$",
    );
  }
  if (doc.jsonrpc !== "2.0") {
    return new A2aRequestError(
      where,
      "a2a.invalid_request",
      'jsonrpc must be "2.0"',
      RPC_INVALID_REQUEST,
      400,
      "$.jsonrpc",
    );
  }
  if (!Object.hasOwn(doc, "id")) {
    return new A2aRequestError(
      where,
      "a2a.invalid_request",
      "notifications (requests without id) are not A2A",
      RPC_INVALID_REQUEST,
      400,
      "$.id",
    );
  }
  const id = doc.id;
  if (!(typeof id === "string" || id === null || (typeof id === "number" && Number.isSafeInteger(id)))) {
    return new A2aRequestError(
      where,
      "a2a.invalid_request",
      "id must be a string, an integer or null",
      RPC_INVALID_REQUEST,
      400,
      "$.id",
    );
  }
  const at: Where = { ...where, jsonrpcId: id };
  for (const k of Object.keys(doc)) {
    if (!REQUEST_KEYS.has(k))
      return new A2aRequestError(at, "a2a.invalid_request", "unknown request member", RPC_INVALID_REQUEST, 400, "$");
  }
  if (typeof doc.method !== "string") {
    return new A2aRequestError(
      at,
      "a2a.invalid_request",
      "method must be a string",
      RPC_INVALID_REQUEST,
      400,
      "$.method",
    );
  }
  const wire = doc.method;
  const table = version === "1.0" ? V1_JSONRPC : V03_JSONRPC;
  const method = table.get(wire);
  if (method === undefined) {
    const theirs = (version === "1.0" ? V03_JSONRPC : V1_JSONRPC).has(wire);
    const message = theirs
      ? `${wire} is an A2A ${other(version)} method; the request's A2A-Version is ${version}`
      : `no such A2A ${version} method`;
    return new A2aRequestError(at, "a2a.method_not_found", message, RPC_METHOD_NOT_FOUND, 404, "$.method");
  }
  const params = doc.params;
  if (params === undefined && CARD_METHODS.has(method)) {
    return { version, binding: "jsonrpc", method, wireMethod: wire, jsonrpcId: id, streaming: false };
  }
  if (!isRecord(params)) {
    return new A2aRequestError(
      at,
      "a2a.invalid_params",
      "params must be an object",
      RPC_INVALID_PARAMS,
      400,
      "$.params",
    );
  }
  const ids = paramIds(method, params, version, at);
  if (ids instanceof A2aError) return ids;
  return {
    version,
    binding: "jsonrpc",
    method,
    wireMethod: wire,
    ...ids,
    jsonrpcId: id,
    streaming: STREAMING.has(method),
  };
}

// ---------------------------------------------------------------- ids

interface Ids {
  taskId?: string;
  contextId?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A string field read the way proto-JSON parsers read it (v1.0 accepts `taskId` and `task_id`): both
 * spellings present is refused, since parsers disagree which wins; a non-string is refused rather than
 * stringified. `""` is proto3's unset.
 */
function field(
  obj: Record<string, unknown>,
  camel: string,
  snake: string | undefined,
  path: string,
  where: Where,
): string | undefined | A2aError {
  const hasCamel = Object.hasOwn(obj, camel);
  const hasSnake = snake !== undefined && Object.hasOwn(obj, snake);
  if (hasCamel && hasSnake) {
    return new A2aRequestError(
      where,
      "a2a.invalid_params",
      `both ${camel} and ${snake} are set`,
      RPC_INVALID_PARAMS,
      400,
      `${path}.${camel}`,
    );
  }
  const name = hasSnake ? (snake as string) : camel;
  const v = obj[name];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") {
    return new A2aRequestError(
      where,
      "a2a.invalid_params",
      `${name} must be a string`,
      RPC_INVALID_PARAMS,
      400,
      `${path}.${name}`,
    );
  }
  return v;
}

function ids(taskId: string | undefined | A2aError, contextId?: string | undefined | A2aError): Ids | A2aError {
  if (taskId instanceof A2aError) return taskId;
  if (contextId instanceof A2aError) return contextId;
  return { ...(taskId !== undefined ? { taskId } : {}), ...(contextId !== undefined ? { contextId } : {}) };
}

function messageIds(params: Record<string, unknown>, path: string, version: A2aVersion, where: Where): Ids | A2aError {
  const message = params.message;
  if (message === undefined || message === null) return {};
  if (!isRecord(message)) {
    return new A2aRequestError(
      where,
      "a2a.invalid_params",
      "message must be an object",
      RPC_INVALID_PARAMS,
      400,
      `${path}.message`,
    );
  }
  const snake = version === "1.0";
  const p = `${path}.message`;
  return ids(
    field(message, "taskId", snake ? "task_id" : undefined, p, where),
    field(message, "contextId", snake ? "context_id" : undefined, p, where),
  );
}

/** Where each method carries its task (and context) id, per version (v0.3 push config calls name the task `id`). */
function paramIds(
  method: A2aMethod,
  params: Record<string, unknown>,
  version: A2aVersion,
  where: Where,
): Ids | A2aError {
  const p = "$.params";
  const v1 = version === "1.0";
  switch (method) {
    case "SendMessage":
    case "SendStreamingMessage":
      return messageIds(params, p, version, where);
    case "GetTask":
    case "CancelTask":
    case "SubscribeToTask":
      return ids(field(params, "id", undefined, p, where));
    case "ListTasks":
      return ids(undefined, field(params, "contextId", "context_id", p, where));
    case "CreateTaskPushNotificationConfig":
      return ids(field(params, "taskId", v1 ? "task_id" : undefined, p, where));
    case "GetTaskPushNotificationConfig":
    case "ListTaskPushNotificationConfigs":
    case "DeleteTaskPushNotificationConfig":
      return ids(v1 ? field(params, "taskId", "task_id", p, where) : field(params, "id", undefined, p, where));
    default:
      return {};
  }
}

/**
 * The `ext_proc` section of the sidecar config: where to listen and which routes the guard scans.
 *
 *   ext_proc:
 *     listen: { socket: /run/hexr/ext-proc.sock }   # server: http2 (default here) | grpc-js
 *     routes:                       # default: OpenAI chat/responses + Anthropic messages
 *       - name: openai-chat
 *         hosts: [api.openai.com]
 *         path_prefix: /v1/chat/completions
 *         adapter: openai-chat      # openai-chat | openai-responses | anthropic-messages | generic
 *         stream: openai            # SSE format of streamed responses
 *         fail_mode: closed         # closed (default) | open
 *         max_body_bytes: 524288
 *         policy: { scanners: { prompt_injection: { action: block, threshold: 0.5 }, pii: redact } }
 *         response_policy: { scanners: { secret: block, pii: redact } }
 */
import { HexrError } from "../../filters/errors.ts";
import { compileGuardRoutes, DEFAULT_GUARD_ROUTES, type GuardRoute, type GuardRouteConfig } from "./guard-routes.ts";

export interface ExtProcListen {
  socket?: string;
  tcp?: string;
  /**
   * What serves Process: `http2` (plain node:http2, the default for a socket of its own on the guard
   * thread) or `grpc-js` (TCP, inline isolation, a socket shared with ext_authz).
   */
  server?: "grpc-js" | "http2";
}

export interface ExtProcConfig {
  listen: ExtProcListen;
  routes: GuardRoute[];
  /** The routes as written (plain data), for the worker thread to compile on its own. */
  routesRaw: unknown;
  /**
   * `thread` (default): the guard runs on a worker thread of its own, off the ext_authz event loop.
   * `inline`: on the sidecar's main thread (only for an ext_proc sharing the authz listener).
   */
  isolation: "thread" | "inline";
  /** Most ext_proc streams open at once (thread mode). */
  maxStreams: number;
  /** The thread's V8 old-generation heap cap, MiB. */
  heapMb: number;
}

export const DEFAULT_EXT_PROC_MAX_STREAMS = 256;
export const DEFAULT_EXT_PROC_HEAP_MB = 256;

function fail(field: string, msg: string): never {
  throw new HexrError("config.invalid", `${field}: ${msg}`);
}

function positiveInt(v: unknown, field: string, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max)
    fail(field, `must be an integer in [1, ${max}]`);
  return v;
}

export function parseExtProcSection(raw: unknown, resolvePath: (p: string) => string): ExtProcConfig {
  const field = "ext_proc";
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) fail(field, "must be a mapping");
  const o = raw as Record<string, unknown>;
  const known = ["listen", "routes", "isolation", "max_streams", "heap_mb"];
  for (const k of Object.keys(o))
    if (!known.includes(k)) fail(`${field}.${k}`, `unknown field (allowed: ${known.join(", ")})`);
  const isolation = o.isolation ?? "thread";
  if (isolation !== "thread" && isolation !== "inline") fail(`${field}.isolation`, "must be thread or inline");
  const maxStreams = positiveInt(o.max_streams, `${field}.max_streams`, DEFAULT_EXT_PROC_MAX_STREAMS, 100_000);
  const heapMb = positiveInt(o.heap_mb, `${field}.heap_mb`, DEFAULT_EXT_PROC_HEAP_MB, 16_384);
  const l = o.listen;
  if (l === null || typeof l !== "object" || Array.isArray(l)) fail(`${field}.listen`, "must be a mapping");
  const lo = l as Record<string, unknown>;
  for (const k of Object.keys(lo)) {
    if (k !== "socket" && k !== "tcp" && k !== "server")
      fail(`${field}.listen.${k}`, "unknown field (allowed: socket, tcp, server)");
  }
  const listen: ExtProcListen = {};
  if (typeof lo.socket === "string" && lo.socket) listen.socket = resolvePath(lo.socket);
  if (typeof lo.tcp === "string" && lo.tcp) listen.tcp = lo.tcp;
  if (!listen.socket && !listen.tcp) fail(`${field}.listen`, "needs socket and/or tcp");
  if (lo.server !== undefined) {
    if (lo.server !== "grpc-js" && lo.server !== "http2") fail(`${field}.listen.server`, "must be grpc-js or http2");
    if (lo.server === "http2" && (listen.tcp || isolation === "inline"))
      fail(`${field}.listen.server`, "http2 serves a Unix socket of the guard thread only (no tcp, no inline)");
    listen.server = lo.server;
  } else listen.server = listen.socket && !listen.tcp && isolation === "thread" ? "http2" : "grpc-js";
  const routesRaw = o.routes ?? DEFAULT_GUARD_ROUTES;
  if (!Array.isArray(routesRaw)) fail(`${field}.routes`, "must be a list");
  try {
    return {
      listen,
      routes: compileGuardRoutes(routesRaw as GuardRouteConfig[]),
      routesRaw,
      isolation,
      maxStreams,
      heapMb,
    };
  } catch (e) {
    if (e instanceof HexrError && e.code === "guard.bad_policy") fail(`${field}.routes`, e.message);
    throw e;
  }
}

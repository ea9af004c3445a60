/** HTTP filters (ext_authz, ext_proc, router) and their per-route settings. */
import { duration, typed } from "./common.ts";
import {
  DEFAULT_AUTHZ_CLUSTER,
  DEFAULT_AUTHZ_TIMEOUT_MS,
  DEFAULT_EXT_PROC_CLUSTER,
  DEFAULT_EXT_PROC_MAX_MESSAGE_TIMEOUT_MS,
  DEFAULT_EXT_PROC_MESSAGE_TIMEOUT_MS,
} from "./defaults.ts";
import type { AuthzOptions, BodyMode, EnvoyHttpFilter, ExtProcOptions, JsonObject, RouteExtProc } from "./types.ts";

export const EXT_AUTHZ_FILTER = "envoy.filters.http.ext_authz";
export const EXT_PROC_FILTER = "envoy.filters.http.ext_proc";
export const ROUTER_FILTER = "envoy.filters.http.router";
/** The network filter the HTTP filters above live in. */
export const HCM_FILTER = "envoy.filters.network.http_connection_manager";

const EXT_AUTHZ_PKG = "envoy.extensions.filters.http.ext_authz.v3";
const EXT_PROC_PKG = "envoy.extensions.filters.http.ext_proc.v3";

const STATUS_NAMES = { 403: "Forbidden", 503: "ServiceUnavailable" } as const;

/**
 * ext_authz over gRPC. Fails closed: `failure_mode_allow: false`, so an unreachable, slow or erroring
 * authz service yields `status_on_error` (403 by default) and the request is never forwarded.
 * The peer certificate is sent so the server can derive the caller's SPIFFE ID; bodies are not.
 */
export function extAuthzFilter(authz: AuthzOptions): EnvoyHttpFilter {
  return {
    name: EXT_AUTHZ_FILTER,
    typed_config: typed(`${EXT_AUTHZ_PKG}.ExtAuthz`, {
      grpc_service: {
        envoy_grpc: { cluster_name: authz.clusterName ?? DEFAULT_AUTHZ_CLUSTER },
        timeout: duration(authz.timeoutMs ?? DEFAULT_AUTHZ_TIMEOUT_MS),
      },
      transport_api_version: "V3",
      failure_mode_allow: false,
      status_on_error: { code: STATUS_NAMES[authz.statusOnError ?? 403] },
      include_peer_certificate: true,
      // Reject (500) header mutations that are not valid HTTP instead of forwarding them.
      validate_mutations: true,
    }),
  };
}

const HEADERS_ONLY = {
  request_header_mode: "SEND",
  response_header_mode: "SEND",
  request_body_mode: "NONE",
  response_body_mode: "NONE",
  request_trailer_mode: "SKIP",
  response_trailer_mode: "SKIP",
} as const;

/**
 * ext_proc after ext_authz. Headers only by default; `allow_mode_override` lets the server ask for bodies
 * per request (e.g. once it sees an LLM or A2A content type). Fails closed like ext_authz. The processor
 * may not touch pseudo-headers / Host, and the route chosen before it ran is kept, so it cannot re-route a
 * request around the authorization decision.
 *
 * `status_on_error` is the ext_authz one (403 unless configured): with the sidecar down, a guarded LLM route
 * answers exactly like any other route, so "the data plane refused" has one status, not 403 here and 500 there.
 */
export function extProcFilter(extProc: ExtProcOptions, statusOnError: 403 | 503 = 403): EnvoyHttpFilter {
  return {
    name: EXT_PROC_FILTER,
    typed_config: typed(`${EXT_PROC_PKG}.ExternalProcessor`, {
      grpc_service: { envoy_grpc: { cluster_name: extProc.clusterName ?? DEFAULT_EXT_PROC_CLUSTER } },
      failure_mode_allow: false,
      status_on_error: { code: STATUS_NAMES[statusOnError] },
      processing_mode: { ...HEADERS_ONLY },
      allow_mode_override: true,
      message_timeout: duration(extProc.messageTimeoutMs ?? DEFAULT_EXT_PROC_MESSAGE_TIMEOUT_MS),
      max_message_timeout: duration(extProc.maxMessageTimeoutMs ?? DEFAULT_EXT_PROC_MAX_MESSAGE_TIMEOUT_MS),
      mutation_rules: { disallow_system: true },
      route_cache_action: "RETAIN",
    }),
  };
}

/** Terminal router. Envoy's `x-envoy-*` headers are not sent to upstreams (cloud/LLM APIs). */
export function routerFilter(): EnvoyHttpFilter {
  return {
    name: ROUTER_FILTER,
    typed_config: typed("envoy.extensions.filters.http.router.v3.Router", { suppress_envoy_headers: true }),
  };
}

/** Per-route ext_authz settings: context the authz server reads from `CheckRequest.attributes.context_extensions`. */
export function authzPerRoute(contextExtensions: Record<string, string>, bodyBytes?: number): JsonObject {
  return typed(`${EXT_AUTHZ_PKG}.ExtAuthzPerRoute`, {
    check_settings: {
      context_extensions: contextExtensions,
      // whole bodies as bytes (raw_body), for a signature over their hash; a bigger one is a 413, never a partial hash
      ...(bodyBytes !== undefined
        ? { with_request_body: { max_request_bytes: bodyBytes, allow_partial_message: false, pack_as_bytes: true } }
        : {}),
    },
  });
}

/** Per-route ext_proc settings, or undefined to inherit the filter config. */
export function extProcPerRoute(mode: RouteExtProc | undefined): JsonObject | undefined {
  if (mode === undefined) return undefined;
  if (mode === "off") return typed(`${EXT_PROC_PKG}.ExtProcPerRoute`, { disabled: true });
  const bodies: { request_body_mode: BodyMode; response_body_mode: BodyMode } = {
    request_body_mode: mode.requestBody ?? "NONE",
    response_body_mode: mode.responseBody ?? "NONE",
  };
  const metadata = Object.entries(mode.metadata ?? {}).map(([key, value]) => ({ key, value }));
  // FULL_DUPLEX_STREAMED: Envoy sends body chunks without waiting for answers, and the answers carry the
  // body that goes on; a trailer then ends the body, so trailers must reach the processor too
  const trailers =
    bodies.response_body_mode === "FULL_DUPLEX_STREAMED" ? { response_trailer_mode: "SEND" as const } : {};
  return typed(`${EXT_PROC_PKG}.ExtProcPerRoute`, {
    overrides: {
      processing_mode: { ...HEADERS_ONLY, ...bodies, ...trailers },
      ...(metadata.length > 0 ? { grpc_initial_metadata: metadata } : {}),
    },
  });
}

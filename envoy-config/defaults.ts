/** Named defaults for the Envoy templates, and the options `hexr envoy render` uses without a file. */
import type { RouteExtProc, SidecarEnvoyOptions } from "./types.ts";

export const DEFAULT_ADMIN = { address: "127.0.0.1", port: 0 } as const;
export const DEFAULT_NODE = { id: "hexr-sidecar", cluster: "hexr" } as const;

export const DEFAULT_AUTHZ_CLUSTER = "hexr_authz";
export const DEFAULT_EXT_PROC_CLUSTER = "hexr_ext_proc";
export const SPIRE_AGENT_CLUSTER = "spire_agent";
export const LOCAL_AGENT_CLUSTER = "local_agent";

/**
 * ext_proc on an LLM upstream's routes with the response FULL_DUPLEX_STREAMED (request bodies buffered for
 * the guard, see {@link RouteExtProc}). Served, and not the default: measured beside the guard's own
 * per-request `mode_override` (STREAMED), it was never better, and cost more sidecar CPU per request
 * before the stream guard scanned once per chunk (Envoy already hands over a streamed answer in one or two
 * chunks, and every duplex answer carries the bytes back); bench `hexr-guard-stream-duplex`, RESULTS.md.
 */
export const FULL_DUPLEX_EXT_PROC = {
  requestBody: "BUFFERED",
  responseBody: "FULL_DUPLEX_STREAMED",
} as const satisfies RouteExtProc;

/** Per-Check gRPC deadline. The authz server answers from caches in well under this. */
export const DEFAULT_AUTHZ_TIMEOUT_MS = 250;
/** Per-message ext_proc deadline (Envoy's own default is 200 ms; scanning a large prompt needs more). */
export const DEFAULT_EXT_PROC_MESSAGE_TIMEOUT_MS = 500;
/** How far the ext_proc server may extend a message deadline (e.g. while buffering an LLM response). */
export const DEFAULT_EXT_PROC_MAX_MESSAGE_TIMEOUT_MS = 5_000;
/** Connect timeout to the local gRPC sidecars and the SPIRE agent (Unix sockets: effectively instant). */
export const LOCAL_CONNECT_TIMEOUT_MS = 250;
export const UPSTREAM_CONNECT_TIMEOUT_MS = 5_000;
/** Route timeout: LLM completions stream for minutes; Envoy's 15 s default would cut them. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 300_000;
export const DEFAULT_MAX_REQUEST_HEADERS_KB = 60;
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/**
 * Downstream connection lifetime cap: well below SPIRE's default 1 h X.509-SVID TTL (rotated at half-life),
 * so every agent connection re-handshakes on a current SVID at least every 10 minutes.
 */
export const DEFAULT_MAX_CONNECTION_DURATION_MS = 600_000;
/** Bounds for `http.maxConnectionDurationMs`. */
export const MAX_CONNECTION_DURATION_RANGE_MS = { min: 1_000, max: 86_400_000 } as const;
/** Circuit-breaker thresholds: high enough never to be the limit; the overload manager caps load instead. */
export const CIRCUIT_BREAKER_LIMIT = 1_000_000;
/** Debian/Ubuntu system CA bundle, used to verify public upstreams when no `caFile` is given. */
export const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
/** SPIRE's default SDS resource name for all bundles (local + federated). */
export const SPIRE_ALL_BUNDLES = "ALL";
/**
 * How Envoy re-opens the SDS stream to a SPIRE agent that went away: the agent is a local socket, so a
 * restart should be noticed within a couple of seconds, not after Envoy's 30 s xDS default cap.
 */
export const DEFAULT_SDS_RETRY_BACKOFF = { baseMs: 250, maxMs: 2_000 } as const;

export const DEFAULT_AUTHZ_SOCKET = "/run/hexr/authz.sock";
export const DEFAULT_EXT_PROC_SOCKET = "/run/hexr/ext-proc.sock";
export const DEFAULT_SPIRE_SOCKET = "/run/spire/sockets/agent.sock";
export const DEFAULT_TRUST_DOMAIN = "hexr.cloud";

/** Istio's default root namespace: policies and filters there apply mesh-wide (to the pods they select). */
export const ISTIO_ROOT_NAMESPACE = "istio-system";
/** Defaults of the `istio` snippet's options (`IstioSnippetOptions`). */
export const DEFAULT_ISTIO = {
  namespace: ISTIO_ROOT_NAMESPACE,
  providerName: "hexr-ext-authz",
  authzHost: "hexr-ext-authz.local",
  authzPort: 9191,
  /** The injector's volume for `/run/hexr` (sidecars/injector/containers.ts `VOLUME.run`). */
  socketVolume: "hexr-run",
  inboundAuthzBodyBytes: 1024 * 1024,
} as const;

/**
 * What `hexr envoy render` produces without `--options`: SPIRE mode, outbound on 127.0.0.1:15001, authz on
 * {@link DEFAULT_AUTHZ_SOCKET}, no upstreams (every host gets 404 until upstreams are configured).
 * The SVID is SPIRE's `default` one, since the pod's SPIFFE ID is not known to a generic template.
 */
export function defaultSidecarOptions(): SidecarEnvoyOptions {
  return {
    tls: {
      mode: "spire",
      sdsSocket: DEFAULT_SPIRE_SOCKET,
      spiffeId: "default",
      trustDomain: DEFAULT_TRUST_DOMAIN,
      sdsRetryBackoff: { ...DEFAULT_SDS_RETRY_BACKOFF },
    },
    outbound: { address: "127.0.0.1", port: 15001 },
    authz: { socket: DEFAULT_AUTHZ_SOCKET, timeoutMs: DEFAULT_AUTHZ_TIMEOUT_MS },
    upstreams: [],
  };
}

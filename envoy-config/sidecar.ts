/**
 * The sidecar Envoy bootstrap: an `outbound` listener for the pod's agents (mTLS required), an optional
 * `outbound_jwt` listener for agents that carry only a JWT-SVID (server-only TLS), an optional
 * `inbound` listener for agent-to-agent calls, ext_authz → (ext_proc) → router on both, and one virtual
 * host per configured upstream. Any other Host gets a 404 from Envoy itself: this is not an open proxy.
 *
 * @example
 *   const bootstrap = renderSidecarBootstrap(options);
 *   writeFileSync("envoy.yaml", toYaml(bootstrap));
 */
import { duration, grpcCluster, socketAddress, spireAgentCluster, typed, upstreamCluster } from "./common.ts";
import {
  DEFAULT_ADMIN,
  DEFAULT_AUTHZ_CLUSTER,
  DEFAULT_EXT_PROC_CLUSTER,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_REQUEST_HEADERS_KB,
  DEFAULT_NODE,
  DEFAULT_ROUTE_TIMEOUT_MS,
  LOCAL_AGENT_CLUSTER,
  LOCAL_CONNECT_TIMEOUT_MS,
  UPSTREAM_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTION_DURATION_MS,
} from "./defaults.ts";
import {
  authzPerRoute,
  EXT_AUTHZ_FILTER,
  EXT_PROC_FILTER,
  extAuthzFilter,
  extProcFilter,
  extProcPerRoute,
  routerFilter,
} from "./filters.ts";
import { checkSidecarOptions } from "./options.ts";
import { agentPrefixes, downstreamTlsSocket, grpcMtlsSocket, serverOnlyTlsSocket, upstreamTlsSocket } from "./tls.ts";
import type {
  EnvoyBootstrap,
  EnvoyCluster,
  EnvoyListener,
  JsonObject,
  RouteExtProc,
  SidecarEnvoyOptions,
  TracingOptions,
} from "./types.ts";

const HCM = "envoy.filters.network.http_connection_manager";
const HCM_TYPE = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
/** Slow-loris guard: a client has this long to send its request headers. */
const REQUEST_HEADERS_TIMEOUT_MS = 10_000;
export const DENY_VHOST = "deny_unknown_hosts";
/** Keys the authz server finds in `CheckRequest.attributes.context_extensions`. */
export const CTX_DIRECTION = "hexr.direction";
export const CTX_UPSTREAM = "hexr.upstream";
/** On outbound routes to another agent: its SPIFFE ID (the A2A target). */
export const CTX_A2A_TARGET = "hexr.a2a.target";

/** Access-log fields: no query strings, no header values except the decision and request ids. */
const ACCESS_LOG_FORMAT = {
  time: "%START_TIME%",
  request_id: "%REQ(X-REQUEST-ID)%",
  decision_id: "%REQ(X-HEXR-DECISION-ID)%",
  denied_decision_id: "%RESP(X-HEXR-DECISION-ID)%",
  peer: "%DOWNSTREAM_PEER_URI_SAN%",
  method: "%REQ(:METHOD)%",
  authority: "%REQ(:AUTHORITY)%",
  path: "%PATH(NQ)%",
  status: "%RESPONSE_CODE%",
  flags: "%RESPONSE_FLAGS%",
  details: "%RESPONSE_CODE_DETAILS%",
  upstream: "%UPSTREAM_CLUSTER%",
  duration_ms: "%DURATION%",
  bytes_in: "%BYTES_RECEIVED%",
  bytes_out: "%BYTES_SENT%",
};

function httpFilters(o: SidecarEnvoyOptions): JsonObject[] {
  const filters = [extAuthzFilter(o.authz)];
  if (o.extProc) filters.push(extProcFilter(o.extProc, o.authz.statusOnError));
  filters.push(routerFilter());
  return filters;
}

/** Per-vhost filter settings: authz context always; ext_proc only when the filter exists. */
function perFilter(
  o: SidecarEnvoyOptions,
  ctx: Record<string, string>,
  extProc: RouteExtProc | undefined,
  authzBodyBytes?: number,
): JsonObject {
  const out: JsonObject = { [EXT_AUTHZ_FILTER]: authzPerRoute(ctx, authzBodyBytes) };
  const ep = o.extProc ? extProcPerRoute(extProc) : undefined;
  if (ep) out[EXT_PROC_FILTER] = ep;
  return out;
}

function httpConnectionManager(
  o: SidecarEnvoyOptions,
  statPrefix: string,
  virtualHosts: JsonObject[],
  /** Inbound: tell the local agent who called (verified URI SAN); outbound: just strip. */
  xfcc: "SANITIZE" | "SANITIZE_SET",
): JsonObject {
  const hcm: JsonObject = {
    stat_prefix: statPrefix,
    codec_type: "AUTO",
    use_remote_address: true,
    normalize_path: true,
    merge_slashes: true,
    path_with_escaped_slashes_action: o.http?.escapedSlashes ?? "REJECT_REQUEST",
    strip_any_host_port: true,
    max_request_headers_kb: o.http?.maxRequestHeadersKb ?? DEFAULT_MAX_REQUEST_HEADERS_KB,
    request_headers_timeout: duration(REQUEST_HEADERS_TIMEOUT_MS),
    // `x_hexr_...` must not smuggle past header checks that look for `x-hexr-...`.
    // A connection lives no longer than this: Envoy checks a client SVID at the handshake only, so the cap
    // (below any SVID lifetime) bounds how long a lapsed or revoked identity's connection can stay open.
    common_http_protocol_options: {
      headers_with_underscores_action: "REJECT_REQUEST",
      max_connection_duration: duration(o.http?.maxConnectionDurationMs ?? DEFAULT_MAX_CONNECTION_DURATION_MS),
    },
    // A client-supplied x-forwarded-client-cert is never trusted.
    forward_client_cert_details: xfcc,
    http_filters: httpFilters(o),
    route_config: { name: statPrefix, virtual_hosts: virtualHosts },
  };
  if (xfcc === "SANITIZE_SET") hcm.set_current_client_cert_details = { uri: true };
  if (o.tracing) hcm.tracing = hcmTracing(o.tracing);
  if (o.accessLog ?? true) {
    hcm.access_log = [
      {
        name: "envoy.access_loggers.stdout",
        typed_config: typed("envoy.extensions.access_loggers.stream.v3.StdoutAccessLog", {
          log_format: { json_format: { listener: statPrefix, ...ACCESS_LOG_FORMAT } },
        }),
      },
    ];
  }
  return hcm;
}

export const OTLP_CLUSTER = "hexr_otlp";

/**
 * Envoy's OpenTelemetry tracer: a span per request (joined to an incoming `traceparent`, else sampled at
 * `samplingPercent`), W3C context sent upstream and on its ext_authz / ext_proc gRPC calls. Envoy's
 * spans carry no request headers unless told to (no custom tags here): nothing secret is exported.
 */
function hcmTracing(t: TracingOptions): JsonObject {
  return {
    random_sampling: { value: t.samplingPercent ?? 100 },
    provider: {
      name: "envoy.tracers.opentelemetry",
      typed_config: typed("envoy.config.trace.v3.OpenTelemetryConfig", {
        grpc_service: { envoy_grpc: { cluster_name: OTLP_CLUSTER }, timeout: duration(1000) },
        service_name: t.serviceName ?? "hexr-envoy",
      }),
    },
  };
}

function listener(
  name: string,
  address: { address: string; port: number },
  transportSocket: JsonObject,
  hcm: JsonObject,
): EnvoyListener {
  return {
    name,
    address: socketAddress(address),
    filter_chains: [
      { transport_socket: transportSocket, filters: [{ name: HCM, typed_config: typed(HCM_TYPE, hcm) }] },
    ],
  };
}

function localTrustDomains(o: SidecarEnvoyOptions): string[] {
  if (o.tls.mode === "spire") return [o.tls.trustDomain];
  return o.tls.trustDomain !== undefined ? [o.tls.trustDomain] : [];
}

/** One virtual host per upstream, then the catch-all that answers 404 (after authz). */
function outboundVirtualHosts(o: SidecarEnvoyOptions): JsonObject[] {
  const vhosts: JsonObject[] = o.upstreams.map((u) => ({
    name: u.name,
    domains: u.domains,
    routes: [
      {
        match: { prefix: "/" },
        route: { cluster: u.name, timeout: duration(u.timeoutMs ?? DEFAULT_ROUTE_TIMEOUT_MS) },
      },
    ],
    typed_per_filter_config: perFilter(
      o,
      {
        [CTX_DIRECTION]: "outbound",
        [CTX_UPSTREAM]: u.name,
        ...(u.a2aTarget ? { [CTX_A2A_TARGET]: u.a2aTarget } : {}),
      },
      u.extProc,
      u.authzBodyBytes,
    ),
  }));
  // Unknown hosts still go through authz (the attempt is audited), then get 404 from Envoy: never forwarded.
  vhosts.push({
    name: DENY_VHOST,
    domains: ["*"],
    routes: [
      {
        match: { prefix: "/" },
        direct_response: { status: 404, body: { inline_string: "hexr: no upstream is configured for this host\n" } },
      },
    ],
    typed_per_filter_config: perFilter(o, { [CTX_DIRECTION]: "outbound", [CTX_UPSTREAM]: "" }, "off"),
  });
  return vhosts;
}

/** The listener the pod's agents call: mTLS (local agents only), then authz, ext_proc, upstream routing. */
export function renderOutboundListener(opts: SidecarEnvoyOptions): EnvoyListener {
  const o = checkSidecarOptions(opts);
  const prefixes = o.outbound.allowedPeerPrefixes ?? agentPrefixes(localTrustDomains(o));
  return listener(
    "outbound",
    o.outbound,
    downstreamTlsSocket(o.tls, prefixes, false),
    httpConnectionManager(o, "outbound", outboundVirtualHosts(o), "SANITIZE"),
  );
}

/**
 * The listener for agents that carry only a JWT-SVID: the same routes and filters as `outbound`, behind
 * TLS that authenticates only Envoy. With no peer certificate, ext_authz accepts a request only on a valid
 * JWT-SVID.
 */
export function renderOutboundJwtListener(opts: SidecarEnvoyOptions): EnvoyListener {
  const o = checkSidecarOptions(opts);
  if (!o.outboundJwt) throw new TypeError("renderOutboundJwtListener: options.outboundJwt is required");
  return listener(
    "outbound_jwt",
    o.outboundJwt,
    serverOnlyTlsSocket(o.tls),
    httpConnectionManager(o, "outbound_jwt", outboundVirtualHosts(o), "SANITIZE"),
  );
}

/** The agent-to-agent listener: mTLS with the caller's SPIFFE ID checked, then authz, ext_proc, the local agent. */
export function renderInboundListener(opts: SidecarEnvoyOptions): EnvoyListener {
  const o = checkSidecarOptions(opts);
  const inbound = o.inbound;
  if (!inbound) throw new TypeError("renderInboundListener: options.inbound is required");
  const federated = o.tls.mode === "spire" ? (o.tls.federatedTrustDomains ?? []) : [];
  const prefixes = inbound.allowedPeerPrefixes ?? agentPrefixes([...localTrustDomains(o), ...federated]);
  const vhost = {
    name: LOCAL_AGENT_CLUSTER,
    domains: ["*"],
    routes: [
      {
        match: { prefix: "/" },
        route: { cluster: LOCAL_AGENT_CLUSTER, timeout: duration(inbound.timeoutMs ?? DEFAULT_ROUTE_TIMEOUT_MS) },
      },
    ],
    typed_per_filter_config: perFilter(o, { [CTX_DIRECTION]: "inbound" }, inbound.extProc, inbound.authzBodyBytes),
  };
  return listener(
    "inbound",
    inbound,
    downstreamTlsSocket(o.tls, prefixes, true),
    httpConnectionManager(o, "inbound", [vhost], "SANITIZE_SET"),
  );
}

function clusters(o: SidecarEnvoyOptions): EnvoyCluster[] {
  const authz = grpcCluster(o.authz.clusterName ?? DEFAULT_AUTHZ_CLUSTER, o.authz);
  if (o.authz.tls) authz.transport_socket = grpcMtlsSocket(o.tls, o.authz.tls.serverIds);
  const out = [authz];
  if (o.extProc) out.push(grpcCluster(o.extProc.clusterName ?? DEFAULT_EXT_PROC_CLUSTER, o.extProc));
  if (o.tls.mode === "spire") out.push(spireAgentCluster(o.tls.sdsSocket));
  for (const u of o.upstreams) {
    out.push(
      upstreamCluster(u.name, u, UPSTREAM_CONNECT_TIMEOUT_MS, u.tls ? upstreamTlsSocket(u.tls, o.tls) : undefined),
    );
  }
  if (o.inbound) out.push(upstreamCluster(LOCAL_AGENT_CLUSTER, o.inbound.app, LOCAL_CONNECT_TIMEOUT_MS));
  if (o.tracing) out.push(grpcCluster(OTLP_CLUSTER, { tcp: o.tracing.collector }));
  return out;
}

/** The whole sidecar bootstrap. Throws HexrError `config.invalid` naming the bad option. */
/**
 * Runtime flags the data plane depends on. `ext_proc_graceful_grpc_close`: without it Envoy resets every
 * ext_proc stream at the end of a request, and Node's HTTP/2 rapid-reset protection answers the resets with
 * GOAWAY about once a second under load, failing the requests in flight on that connection (measured by
 * the benchmark suite: ~0.1% 500s at 1000 rps, none with the flag).
 */
export const STATIC_RUNTIME: JsonObject = {
  "envoy.reloadable_features.ext_proc_graceful_grpc_close": true,
};

export function renderSidecarBootstrap(opts: SidecarEnvoyOptions): EnvoyBootstrap {
  const o = checkSidecarOptions(opts);
  const listeners = [renderOutboundListener(o)];
  if (o.outboundJwt) listeners.push(renderOutboundJwtListener(o));
  if (o.inbound) listeners.push(renderInboundListener(o));
  const node: JsonObject = { ...(o.node ?? DEFAULT_NODE) };
  // Pin SPIRE to serve validation contexts with Envoy's SPIFFE validator, whatever the agent-wide
  // default: `ALL` (federation) is only served in that form, and it keeps trust domains isolated.
  if (o.tls.mode === "spire") node.metadata = { disable_spiffe_cert_validation: false };
  const admin = o.admin ?? DEFAULT_ADMIN;
  return {
    node,
    admin: { address: socketAddress(admin) },
    static_resources: { listeners, clusters: clusters(o) },
    layered_runtime: {
      layers: [
        {
          name: "hexr_static",
          static_layer: o.tracing
            ? {
                ...STATIC_RUNTIME,
                // the OpenTelemetry tracer's batch: sent every interval, or as soon as one span is ready
                "tracing.opentelemetry.flush_interval_ms": o.tracing.flushIntervalMs ?? 1000,
                "tracing.opentelemetry.min_flush_spans": 5,
              }
            : STATIC_RUNTIME,
        },
      ],
    },
    overload_manager: {
      resource_monitors: [
        {
          name: "envoy.resource_monitors.global_downstream_max_connections",
          typed_config: typed(
            "envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
            {
              max_active_downstream_connections: o.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
            },
          ),
        },
      ],
    },
  };
}

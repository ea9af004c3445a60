/**
 * Option types for the Envoy templates, and the (deliberately loose) shapes of what they render.
 * Options use camelCase; rendered objects use Envoy's own v3 field names so they serialize as-is.
 */

/** A TCP address. `port: 0` lets the kernel pick (tests). */
export interface SocketAddress {
  address: string;
  port: number;
}

/** Where a gRPC service listens: a Unix socket (preferred in a pod) or TCP. Exactly one is set. */
export interface GrpcTarget {
  socket?: string;
  tcp?: SocketAddress;
}

/** Test mode: the sidecar's certificate, key and client CA come from PEM files. */
export interface FilesTls {
  mode: "files";
  certChain: string;
  privateKey: string;
  /** CA that signs client (and peer) certificates. */
  clientCa: string;
  /**
   * When set, peers are checked with Envoy's SPIFFE validator (`clientCa` is this trust domain's
   * bundle) and peer ID prefixes default to `spiffe://<trustDomain>/agent/`.
   */
  trustDomain?: string;
}

/** Production mode: the SVID and trust bundles come from the SPIRE agent's SDS API. */
export interface SpireTls {
  mode: "spire";
  /** SPIRE agent socket (SDS and Workload API share it). */
  sdsSocket: string;
  /** SDS resource name of this Envoy's X.509-SVID: its SPIFFE ID, or SPIRE's `default_svid_name` ("default"). */
  spiffeId: string;
  /** Local trust domain, without `spiffe://`. */
  trustDomain: string;
  /** Federated trust domains whose agents may call the inbound listener. Switches the bundle to SPIRE's `ALL`. */
  federatedTrustDomains?: string[];
  /**
   * Backoff for re-opening the SDS stream after the agent went away (agent restart, upgrade). Without it
   * Envoy uses its xDS default (500 ms base, 30 s cap), which can leave a returning agent unseen for half a
   * minute; the agent is a local socket, so retrying every couple of seconds costs nothing.
   */
  sdsRetryBackoff?: { baseMs: number; maxMs: number };
}

export type SidecarTls = FilesTls | SpireTls;

export interface AuthzOptions extends GrpcTarget {
  /** gRPC deadline for each Check call; default {@link DEFAULT_AUTHZ_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Only `false` is accepted: an unreachable or slow authz service means the request is refused. */
  failureModeAllow?: false;
  /** HTTP status Envoy answers with when the Check call fails (error, timeout); default 403. */
  statusOnError?: 403 | 503;
  clusterName?: string;
  /**
   * mTLS to a `tcp` authz server with this sidecar's identity (`tls` of the bootstrap: the SVID from SDS in
   * SPIRE mode); the server must present one of `serverIds` (exact SPIFFE IDs). A Unix socket needs no TLS.
   */
  tls?: { serverIds: string[] };
}

export type BodyMode = "NONE" | "STREAMED" | "BUFFERED" | "BUFFERED_PARTIAL" | "FULL_DUPLEX_STREAMED";

export interface ExtProcOptions extends GrpcTarget {
  /** Timeout for each message on the processing stream; default {@link DEFAULT_EXT_PROC_MESSAGE_TIMEOUT_MS}. */
  messageTimeoutMs?: number;
  /** Upper bound the server may extend a message timeout to; default {@link DEFAULT_EXT_PROC_MAX_MESSAGE_TIMEOUT_MS}. */
  maxMessageTimeoutMs?: number;
  /** Only `false` is accepted: a failed processor means the request is refused. */
  failureModeAllow?: false;
  clusterName?: string;
}

/**
 * Per-route ext_proc behaviour. Default (undefined): the filter config (headers only, the server may ask
 * for bodies per request). `"off"` skips ext_proc for the route; an object sets body modes up front.
 * `responseBody: "FULL_DUPLEX_STREAMED"` ({@link FULL_DUPLEX_EXT_PROC}) needs `requestBody: "BUFFERED"`
 * and sends response trailers to the processor too (they end the body); request bodies are never duplex.
 */
export type RouteExtProc =
  | "off"
  | {
      requestBody?: BodyMode;
      responseBody?: BodyMode;
      /** Stream metadata for the processor (`x-hexr-route: a2a` picks the A2A processor). */
      metadata?: Record<string, string>;
    };

/**
 * TLS that Envoy originates to an upstream. `public` (default): server certificate checked against
 * `caFile` (default: the system bundle) and its DNS SAN against `sni`. `spiffe`: mTLS with this sidecar's
 * own SVID, the peer checked against the sidecar's trust bundle and `peerIdPrefixes` (agent-to-agent).
 */
export type UpstreamTls =
  | { mode?: "public"; sni: string; caFile?: string }
  | { mode: "spiffe"; sni?: string; peerIdPrefixes: string[] };

export interface UpstreamOptions {
  /** Cluster and virtual host name: `[A-Za-z0-9_.-]+`. */
  name: string;
  /** Host header values routed here (Envoy domain syntax: `api.openai.com`, `*.amazonaws.com`). */
  domains: string[];
  address: string;
  port: number;
  tls?: UpstreamTls;
  /** Route timeout; default {@link DEFAULT_ROUTE_TIMEOUT_MS} (LLM completions stream for minutes). 0 disables. */
  timeoutMs?: number;
  extProc?: RouteExtProc;
  /**
   * Send request bodies up to this many bytes to ext_authz on this upstream (`with_request_body`, whole bodies
   * only: a larger one is answered 413). Needed where an injected AWS credential signs the body's SHA-256
   * (every AWS service but S3, which is signed `UNSIGNED-PAYLOAD`). Off by default: a Check carries headers only.
   */
  authzBodyBytes?: number;
  /**
   * This upstream is another agent (A2A) with this SPIFFE ID: its Checks carry it (`hexr.a2a.target`), so
   * the sidecar applies the agent-to-agent policy and adds a delegation-chain link. Use with `tls.mode:
   * spiffe` naming the same ID and `authzBodyBytes` (the A2A method is in the body).
   */
  a2aTarget?: string;
}

/** Agent-to-agent listener: mTLS with the peer SPIFFE ID checked, then authz/ext_proc, then the local agent. */
export interface InboundOptions extends SocketAddress {
  /** The local agent's plain-HTTP port. */
  app: SocketAddress;
  /** URI SAN prefixes accepted from callers; default `spiffe://<td>/agent/` for each trust domain. */
  allowedPeerPrefixes?: string[];
  timeoutMs?: number;
  extProc?: RouteExtProc;
  /**
   * Send request bodies up to this many bytes to ext_authz (`with_request_body`; larger ones get 413): the
   * A2A method and ids are in JSON-RPC bodies, so the agent-to-agent policy decides with the body.
   */
  authzBodyBytes?: number;
}

export interface OutboundOptions extends SocketAddress {
  /** URI SAN prefixes accepted from local agents; default `spiffe://<local td>/agent/` (none in files mode without a trust domain). */
  allowedPeerPrefixes?: string[];
}

export interface HttpHardening {
  /** Default {@link DEFAULT_MAX_REQUEST_HEADERS_KB}. */
  maxRequestHeadersKb?: number;
  /** What to do with `%2F` / `%5C` in paths; default REJECT_REQUEST. */
  escapedSlashes?: "REJECT_REQUEST" | "UNESCAPE_AND_REDIRECT";
  /**
   * Longest life of a downstream connection (Envoy drains it after this); default
   * {@link DEFAULT_MAX_CONNECTION_DURATION_MS}. Keep it below the SVID lifetime.
   */
  maxConnectionDurationMs?: number;
}

/**
 * Everything the sidecar bootstrap needs.
 *
 * @example
 *   renderSidecarBootstrap({
 *     tls: { mode: "spire", sdsSocket: "/run/spire/sockets/agent.sock", spiffeId: "default", trustDomain: "hexr.cloud" },
 *     outbound: { address: "127.0.0.1", port: 15001 },
 *     authz: { socket: "/run/hexr/authz.sock" },
 *     upstreams: [{ name: "openai", domains: ["api.openai.com"], address: "api.openai.com", port: 443, tls: { sni: "api.openai.com" } }],
 *   });
 */
export interface SidecarEnvoyOptions {
  node?: { id: string; cluster: string };
  /** Default 127.0.0.1:0; the admin access log is off. */
  admin?: SocketAddress;
  /** This sidecar's identity, used by every listener and by `spiffe` upstreams. */
  tls: SidecarTls;
  /** The listener agents call. Client certificates are required. */
  outbound: OutboundOptions;
  /**
   * A second outbound listener for agents that carry only a JWT-SVID: TLS with the sidecar's certificate,
   * no client certificate requested, same routes and filters. ext_authz sees no peer identity there, so a
   * valid JWT-SVID is the only way through. (A separate port rather than optional client certificates on
   * `outbound`: Envoy's SPIFFE validator, which SPIRE's SDS bundles use, always requires a client certificate.)
   */
  outboundJwt?: SocketAddress;
  inbound?: InboundOptions;
  authz: AuthzOptions;
  /** ext_proc filter after ext_authz; omitted → no ext_proc filter. */
  extProc?: ExtProcOptions;
  upstreams: UpstreamOptions[];
  http?: HttpHardening;
  /** Overload-manager cap on downstream connections; default {@link DEFAULT_MAX_CONNECTIONS}. */
  maxConnections?: number;
  /** Worker threads. Envoy takes this on the command line (`--concurrency`); kept here for the runner. */
  concurrency?: number;
  /** JSON access log on stdout (no query strings, no header values beyond the decision id). Default true. */
  accessLog?: boolean;
  /**
   * Envoy's own spans (OpenTelemetry tracer, OTLP gRPC to `collector`), with W3C `traceparent` propagated
   * to the upstream and to the ext_authz / ext_proc calls, so the sidecar's spans join the same trace.
   */
  tracing?: TracingOptions;
  /** Only read by the `istio` snippet (`hexr envoy render --snippet istio`); the bootstrap ignores it. */
  istio?: IstioSnippetOptions;
}

/**
 * The `istio` snippet: hexr's ext_authz and ext_proc behind an existing Istio sidecar (istio-proxy) instead
 * of hexr's own Envoy. The gRPC services stay on the Unix sockets of `authz.socket` / `extProc.socket`, which
 * istio-proxy (uid 1337, like the hexr sidecar) mounts; timeouts and statuses come from `authz` / `extProc`.
 */
export interface IstioSnippetOptions {
  /**
   * Namespace of the ServiceEntry, AuthorizationPolicy and EnvoyFilters; default Istio's root namespace
   * `istio-system`, where a policy or filter applies to the selected pods of every namespace.
   */
  namespace?: string;
  /** Name of the extension provider in the mesh config, and of the policy's `provider`; default `hexr-ext-authz`. */
  providerName?: string;
  /** Host of the ServiceEntry the provider names (its endpoint is the authz socket); default `hexr-ext-authz.local`. */
  authzHost?: string;
  /**
   * Port of that ServiceEntry: only a name for Istio's cluster (traffic goes to the socket), but Istio opens an
   * outbound HTTP listener on it in every sidecar, so pick one the agents do not call. Default 9191.
   */
  authzPort?: number;
  /** Pod labels the policy and filters select; default `hexr.io/inject: "true"`. `{}`: every pod of `namespace`. */
  selector?: Record<string, string>;
  /** Pod volume holding the sockets, mounted into istio-proxy by annotation; default the injector's `hexr-run`. */
  socketVolume?: string;
  /** Inbound (agent-to-agent) request bodies sent to ext_authz, in bytes (A2A methods are in the body); default 1 MiB. */
  inboundAuthzBodyBytes?: number;
}

export interface TracingOptions {
  /** The OTLP gRPC receiver (a node-local collector), plaintext. */
  collector: SocketAddress;
  /** Default "hexr-envoy". */
  serviceName?: string;
  /** Share of requests Envoy starts a trace for when none came with the request, 0–100; default 100. */
  samplingPercent?: number;
  /** How often Envoy sends its buffered spans; default 1000 ms (Envoy's own default is 5 s). */
  flushIntervalMs?: number;
}

// ---- rendered shapes ------------------------------------------------------------------------------

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface EnvoyListener extends JsonObject {
  name: string;
}

export interface EnvoyCluster extends JsonObject {
  name: string;
}

export interface EnvoyHttpFilter extends JsonObject {
  name: string;
}

export interface EnvoyBootstrap extends JsonObject {
  static_resources: { listeners: EnvoyListener[]; clusters: EnvoyCluster[] };
}

/**
 * Paste-able pieces for an Envoy that already exists (Istio, a gateway): the ext_authz and ext_proc
 * filters with their clusters, and SPIRE SDS identity. Each top-level key says where it goes. The `istio`
 * snippet is Istio's own resources instead (envoy-config/istio.ts).
 * The committed examples in `envoy-config/snippets/*.yaml` are `renderSnippetYaml(name)` output;
 * a unit test keeps them equal.
 *
 * @example
 *   const { http_filters, clusters } = renderExtAuthzFilterSnippet({ socket: "/run/hexr/authz.sock" });
 */
import { grpcCluster, socketAddress, spireAgentCluster, typed, upstreamCluster } from "./common.ts";
import {
  DEFAULT_ADMIN,
  DEFAULT_AUTHZ_CLUSTER,
  DEFAULT_EXT_PROC_CLUSTER,
  DEFAULT_EXT_PROC_SOCKET,
  defaultSidecarOptions,
  LOCAL_CONNECT_TIMEOUT_MS,
} from "./defaults.ts";
import { extAuthzFilter, extProcFilter, HCM_FILTER, routerFilter } from "./filters.ts";
import { ISTIO_API_VERSION, type IstioSnippet, renderIstioSnippet } from "./istio.ts";
import { checkAuthzOptions, checkExtProcOptions, checkSidecarOptions, checkTlsOptions } from "./options.ts";
import { agentPrefixes, downstreamTlsSocket, identityTlsContext } from "./tls.ts";
import type {
  AuthzOptions,
  EnvoyBootstrap,
  EnvoyCluster,
  EnvoyHttpFilter,
  ExtProcOptions,
  JsonObject,
  SidecarEnvoyOptions,
  SpireTls,
} from "./types.ts";
import { toYaml } from "./yaml.ts";

export interface HttpFilterSnippet {
  /** Insert into the HttpConnectionManager's `http_filters`, before `envoy.filters.http.router`. */
  http_filters: EnvoyHttpFilter[];
  /** Add to `static_resources.clusters`. */
  clusters: EnvoyCluster[];
}

export interface SpireSdsSnippet {
  /** Merge into the bootstrap's `node`. */
  node: JsonObject;
  /** Add to `static_resources.clusters`. */
  clusters: EnvoyCluster[];
  /** A listener filter chain's `transport_socket`: mTLS, client SVID required and its SPIFFE ID checked. */
  downstream_transport_socket: JsonObject;
  /** A cluster's `transport_socket`: mTLS to another SPIFFE workload, its SPIFFE ID checked. */
  upstream_transport_socket: JsonObject;
}

export type SpireSdsSnippetOptions = Omit<SpireTls, "mode"> & {
  /** Peer URI SAN prefixes; default `spiffe://<td>/agent/` for the local and federated trust domains. */
  peerIdPrefixes?: string[];
};

/** The ext_authz http_filter (fail-closed, explicit timeout, peer certificate included) and its HTTP/2 cluster. */
export function renderExtAuthzFilterSnippet(authz: AuthzOptions): HttpFilterSnippet {
  checkAuthzOptions(authz);
  return {
    http_filters: [extAuthzFilter(authz)],
    clusters: [grpcCluster(authz.clusterName ?? DEFAULT_AUTHZ_CLUSTER, authz)],
  };
}

/** The ext_proc http_filter (headers only, server may ask for bodies; fail-closed) and its HTTP/2 cluster. */
export function renderExtProcFilterSnippet(extProc: ExtProcOptions): HttpFilterSnippet {
  checkExtProcOptions(extProc);
  return {
    http_filters: [extProcFilter(extProc)],
    clusters: [grpcCluster(extProc.clusterName ?? DEFAULT_EXT_PROC_CLUSTER, extProc)],
  };
}

/** The SPIRE agent SDS cluster and TLS transport sockets that take the SVID and bundles from it. */
export function renderSpireSdsSnippet(opts: SpireSdsSnippetOptions): SpireSdsSnippet {
  const { peerIdPrefixes, ...rest } = opts;
  const tls = checkTlsOptions({ mode: "spire", ...rest }) as SpireTls;
  const prefixes = peerIdPrefixes ?? agentPrefixes([tls.trustDomain, ...(tls.federatedTrustDomains ?? [])]);
  return {
    node: { metadata: { disable_spiffe_cert_validation: false } },
    clusters: [spireAgentCluster(tls.sdsSocket)],
    downstream_transport_socket: downstreamTlsSocket(tls, prefixes, true),
    upstream_transport_socket: {
      name: "envoy.transport_sockets.tls",
      typed_config: typed("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", {
        common_tls_context: identityTlsContext(tls, prefixes, true),
      }),
    },
  };
}

/** The snippets that are pieces of Envoy config (each embeds in a bootstrap as-is). */
export const SNIPPET_NAMES = ["ext-authz", "spire-sds", "ext-proc"] as const;
export type SnippetName = (typeof SNIPPET_NAMES)[number];
/** Kubernetes documents for an Istio mesh (envoy-config/istio.ts), rendered as multi-document YAML. */
export const ISTIO_SNIPPET = "istio";
/** Every `hexr envoy render --snippet` name. */
export const ALL_SNIPPET_NAMES = [...SNIPPET_NAMES, ISTIO_SNIPPET] as const;
export type AnySnippetName = (typeof ALL_SNIPPET_NAMES)[number];
export type AnySnippet = HttpFilterSnippet | SpireSdsSnippet | IstioSnippet;

const HEADERS: Record<SnippetName, string[]> = {
  "ext-authz": [
    "Hexr ext_authz for an existing Envoy (v3 API; checked with `envoy --mode validate`).",
    "http_filters: insert before envoy.filters.http.router in your HttpConnectionManager.",
    "clusters: add to static_resources.clusters (gRPC over HTTP/2 to the hexr sidecar).",
    "Fails closed: if the authz service errors or times out, Envoy answers 403 and never forwards.",
  ],
  "spire-sds": [
    "SPIRE SDS identity for an existing Envoy (v3 API; checked with `envoy --mode validate` and run against a",
    "live SPIRE 1.13 agent in test/integration/spire-envoy.test.ts).",
    "node: merge into your bootstrap's node (SPIRE then serves bundles with the SPIFFE validator).",
    "clusters: add to static_resources.clusters (the SPIRE agent socket, gRPC over HTTP/2).",
    "downstream_transport_socket: a listener filter chain's transport_socket (client SVID required).",
    "upstream_transport_socket: a cluster's transport_socket for mTLS to another agent.",
    "Secret names the agent serves: the SVID as `default` or by its SPIFFE ID (register Envoy as a workload,",
    "e.g. selectors unix:uid + unix:path of the envoy binary); the local bundle as `spiffe://<td>` or `ROOTCA`;",
    "local + federated bundles as `ALL`. retry_policy caps the SDS reconnect backoff at 2 s (agent restarts).",
  ],
  "ext-proc": [
    "Hexr ext_proc for an existing Envoy (v3 API; checked with `envoy --mode validate`).",
    "http_filters: insert after envoy.filters.http.ext_authz, before envoy.filters.http.router.",
    "clusters: add to static_resources.clusters (gRPC over HTTP/2 to the hexr sidecar).",
    "Headers only unless the server asks for bodies (allow_mode_override); fails closed.",
    "Also set the runtime flag envoy.reloadable_features.ext_proc_graceful_grpc_close: true (layered_runtime):",
    "without it Envoy resets each stream and the sidecar's HTTP/2 reset protection fails requests under load.",
  ],
};

/** A snippet rendered from sidecar options (the CLI's `--options` file, or the defaults). */
export function renderSnippet(name: SnippetName, opts?: SidecarEnvoyOptions): HttpFilterSnippet | SpireSdsSnippet;
export function renderSnippet(name: typeof ISTIO_SNIPPET, opts?: SidecarEnvoyOptions): IstioSnippet;
export function renderSnippet(name: AnySnippetName, opts?: SidecarEnvoyOptions): AnySnippet;
export function renderSnippet(name: AnySnippetName, opts: SidecarEnvoyOptions = defaultSidecarOptions()): AnySnippet {
  const o = checkSidecarOptions(opts);
  switch (name) {
    case ISTIO_SNIPPET:
      return renderIstioSnippet({
        authz: o.authz,
        extProc: o.extProc ?? { socket: DEFAULT_EXT_PROC_SOCKET },
        ...(o.istio !== undefined ? { istio: o.istio } : {}),
      });
    case "ext-authz":
      return renderExtAuthzFilterSnippet(o.authz);
    case "ext-proc":
      return renderExtProcFilterSnippet(o.extProc ?? { socket: DEFAULT_EXT_PROC_SOCKET });
    case "spire-sds": {
      if (o.tls.mode !== "spire") throw new TypeError("the spire-sds snippet needs tls.mode: spire");
      const { mode: _mode, ...spire } = o.tls;
      return renderSpireSdsSnippet(spire);
    }
  }
}

const comment = (lines: readonly string[]): string => lines.map((l) => `# ${l}\n`).join("");

/** A snippet as commented YAML, exactly as committed under `envoy-config/snippets/`. */
export function renderSnippetYaml(name: AnySnippetName, opts?: SidecarEnvoyOptions): string {
  if (name === ISTIO_SNIPPET) return istioYaml(renderSnippet(name, opts));
  const header = comment([...HEADERS[name], `Regenerate with: hexr envoy render --snippet ${name}`]);
  return header + toYaml(renderSnippet(name, opts));
}

/** What each Istio document is for, in the order of `IstioSnippet.resources`, keyed by kind/name. */
const ISTIO_DOCS: Record<string, string[]> = {
  ServiceEntry: [
    "Registers the authz socket as a service: Istio resolves a provider's service in its registry only.",
    "The port is only a name for Istio's cluster; Istio opens an outbound HTTP listener on it in every sidecar.",
  ],
  AuthorizationPolicy: [
    "Sends every inbound request of the selected pods to the hexr provider (rules [{}] matches all).",
    "Istio allows at most one CUSTOM provider per workload: with a second one it denies every request.",
  ],
  "EnvoyFilter/hexr-ext-proc": [
    "The ext-proc snippet's cluster and filter (same code), before the router of every outbound HTTP",
    "connection manager: the guard sees the agent's outbound calls. Fails closed.",
  ],
  "EnvoyFilter/hexr-ext-authz": [
    "Inbound routes tell the authz service their direction and send it bodies (A2A methods are in the body);",
    "the ServiceEntry's outbound route is removed, so the agent cannot reach the authz socket via istio-proxy.",
  ],
};

function istioYaml(s: IstioSnippet): string {
  const annotations = Object.entries(s.podAnnotations).map(([k, v]) => `  ${k}: '${v}'`);
  const header = comment([
    "Hexr ext_authz + ext_proc in an Istio mesh: istio-proxy calls the hexr sidecar instead of hexr's Envoy.",
    `Checked against the CRD schemas and the MeshConfig proto of istio.io/api ${ISTIO_API_VERSION}.`,
    "Document 1 is a MeshConfig fragment, not a Kubernetes object: merge its extensionProviders entry into the",
    "`mesh` key of ConfigMap istio in istio-system (`kubectl edit configmap istio -n istio-system`, as Istio's",
    "External Authorization task does; with Helm, under istiod's meshConfig values). Do it first: Istio denies",
    "every request to a workload whose CUSTOM policy names an unknown provider.",
    "Documents 2-5 are Kubernetes objects:",
    "  hexr envoy render --snippet istio | sed '1,/^---$/d' | kubectl apply -f -",
    "Agent pods need these annotations (istio-proxy mounts the sockets; ext_proc's graceful-close runtime flag):",
    ...annotations,
    "ext_authz fails closed: failOpen false, the status below when the service errs or times out.",
    "The guard sees only what istio-proxy parses as HTTP: an agent calling https:// directly is TLS passthrough;",
    "use Istio's egress TLS origination (the agent calls http://, istio-proxy originates TLS).",
    "Checks carry Istio's peer identity (source.principal): Istio must issue hexr SPIFFE IDs (SPIRE integration).",
    `Regenerate with: hexr envoy render --snippet ${ISTIO_SNIPPET}`,
  ]);
  const docs = s.resources.map((r) => {
    const kind = String(r.kind);
    const name = String((r.metadata as JsonObject).name);
    return comment(ISTIO_DOCS[`${kind}/${name}`] ?? ISTIO_DOCS[kind] ?? []) + toYaml(r);
  });
  return [header + toYaml(s.meshConfig), ...docs].join("---\n");
}

/**
 * The smallest bootstrap that uses a snippet the way its comments say: filters in an HCM before the
 * router, transport sockets on a listener and a cluster. `hexr envoy validate --snippet` and the tests
 * run `envoy --mode validate` on it.
 */
export function embedSnippet(input: AnySnippet): EnvoyBootstrap {
  const snippet = "resources" in input ? istioEnvoyPieces(input) : input;
  const filters = "http_filters" in snippet ? snippet.http_filters : [];
  const route: JsonObject = { match: { prefix: "/" }, route: { cluster: "peer" } };
  if ("route" in snippet) Object.assign(route, snippet.route);
  const hcm = typed("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", {
    stat_prefix: "snippet",
    http_filters: [...filters, routerFilter()],
    route_config: { virtual_hosts: [{ name: "all", domains: ["*"], routes: [route] }] },
  });
  const chain: JsonObject = { filters: [{ name: HCM_FILTER, typed_config: hcm }] };
  const peer: EnvoyCluster = upstreamCluster("peer", { address: "127.0.0.1", port: 1 }, LOCAL_CONNECT_TIMEOUT_MS);
  const bootstrap: EnvoyBootstrap = {
    node: { id: "snippet", cluster: "snippet" },
    admin: { address: socketAddress(DEFAULT_ADMIN) },
    static_resources: {
      listeners: [
        { name: "snippet", address: socketAddress({ address: "127.0.0.1", port: 0 }), filter_chains: [chain] },
      ],
      clusters: [...snippet.clusters, peer],
    },
  };
  if ("downstream_transport_socket" in snippet) {
    chain.transport_socket = snippet.downstream_transport_socket;
    peer.transport_socket = snippet.upstream_transport_socket;
    bootstrap.node = { id: "snippet", cluster: "snippet", ...snippet.node };
  }
  return bootstrap;
}

/**
 * The Envoy config inside the Istio snippet's EnvoyFilters: added clusters, inserted HTTP filters, and what
 * is merged into routes. Kubernetes checks a patch `value` against nothing (the CRD keeps it as-is) and istiod
 * only when it builds the proxy config, so `embedSnippet` gives these to the real Envoy.
 */
function istioEnvoyPieces(s: IstioSnippet): HttpFilterSnippet & { route: JsonObject } {
  const out = { http_filters: [] as EnvoyHttpFilter[], clusters: [] as EnvoyCluster[], route: {} as JsonObject };
  for (const r of s.resources) {
    if (r.kind !== "EnvoyFilter") continue;
    for (const p of ((r.spec as JsonObject).configPatches ?? []) as JsonObject[]) {
      const value = (p.patch as JsonObject).value as JsonObject | undefined;
      if (p.applyTo === "CLUSTER" && value) out.clusters.push(value as EnvoyCluster);
      if (p.applyTo === "HTTP_FILTER" && value) out.http_filters.push(value as EnvoyHttpFilter);
      if (p.applyTo === "HTTP_ROUTE" && value) Object.assign(out.route, value);
    }
  }
  return out;
}

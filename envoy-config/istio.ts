/**
 * The `istio` snippet: Hexr's ext_authz and ext_proc behind an existing Istio sidecar (istio-proxy) instead
 * of hexr's own Envoy. What Istio needs, as Istio's own APIs:
 *
 * - a MeshConfig fragment: the `envoyExtAuthzGrpc` extension provider (fail-closed, hexr's timeout);
 * - a ServiceEntry: Istio resolves a provider's `service` in its registry only (a Kubernetes Service or a
 *   ServiceEntry; no `localhost` shortcut), so a pod-local server needs an entry of its own. Its endpoint is
 *   the authz Unix socket (`unix://`, STATIC): reachable by istio-proxy (uid 1337, like the hexr sidecar)
 *   once it mounts the socket volume, and not by the agent, which on loopback TCP could send the authz
 *   service forged Checks (any `source.principal`) and read the credentials it injects;
 * - an AuthorizationPolicy `action: CUSTOM` naming the provider, for the selected pods' inbound requests;
 * - EnvoyFilter `hexr-ext-proc`: the ext_proc cluster and filter of the `ext-proc` snippet (same code), before
 *   the router of every SIDECAR_OUTBOUND HTTP connection manager: the guard sees the agent's outbound calls;
 * - EnvoyFilter `hexr-ext-authz`: inbound routes tell the authz service their direction (as hexr's own
 *   inbound listener does) and send it request bodies (A2A methods are in the body); and the ServiceEntry's
 *   outbound route is removed, so the agent cannot reach the authz socket through its own istio-proxy.
 *
 * @example
 *   const { meshConfig, resources, podAnnotations } = renderIstioSnippet({ istio: { namespace: "agents" } });
 */
import path from "node:path";
import { LABEL } from "../sidecars/kube/identity.ts";
import { duration } from "./common.ts";
import {
  DEFAULT_AUTHZ_SOCKET,
  DEFAULT_AUTHZ_TIMEOUT_MS,
  DEFAULT_EXT_PROC_SOCKET,
  DEFAULT_ISTIO,
  ISTIO_ROOT_NAMESPACE,
} from "./defaults.ts";
import { authzPerRoute, EXT_AUTHZ_FILTER, HCM_FILTER, ROUTER_FILTER } from "./filters.ts";
import { checkAuthzOptions, checkExtProcOptions, checkIstioOptions } from "./options.ts";
import { CTX_DIRECTION, STATIC_RUNTIME } from "./sidecar.ts";
import { renderExtProcFilterSnippet } from "./snippets.ts";
import type { AuthzOptions, ExtProcOptions, IstioSnippetOptions, JsonObject } from "./types.ts";
import { HexrError } from "../filters/errors.ts";

/** The Istio releases whose CRDs and MeshConfig proto the unit tests check these documents against. */
export const ISTIO_API_VERSION = "v1.29.0";

export interface IstioSnippetInput {
  /** Where the ext_authz server listens (a Unix socket), its timeout and error status; default the sidecar's. */
  authz?: AuthzOptions;
  /** Where the ext_proc server listens (a Unix socket) and its timeouts; default the sidecar's socket. */
  extProc?: ExtProcOptions;
  istio?: IstioSnippetOptions;
}

export interface IstioSnippet {
  /**
   * A MeshConfig fragment, not a Kubernetes object: merge `extensionProviders` into the `mesh` key of
   * ConfigMap `istio` in istio-system (Istio's External Authorization task does it with
   * `kubectl edit configmap istio -n istio-system`); with Helm it goes under istiod's `meshConfig:` values.
   */
  meshConfig: JsonObject;
  /** Complete Kubernetes objects (apiVersion, kind, metadata.name and .namespace), to apply after the mesh config. */
  resources: JsonObject[];
  /** Annotations for the agents' pod template: istio-proxy mounts the socket volume and sets a runtime flag. */
  podAnnotations: Record<string, string>;
}

const ANNOTATION_USER_VOLUME_MOUNT = "sidecar.istio.io/userVolumeMount";
const ANNOTATION_PROXY_CONFIG = "proxy.istio.io/config";

function socketOf(target: AuthzOptions | ExtProcOptions, field: string): string {
  if (target.socket === undefined) {
    throw new HexrError(
      "config.invalid",
      `${field}: the istio snippet needs ${field}.socket: on loopback TCP the agent could call the service itself`,
    );
  }
  return target.socket;
}

/** The documents of the `istio` snippet. Throws HexrError `config.invalid` naming the bad option. */
export function renderIstioSnippet(input: IstioSnippetInput = {}): IstioSnippet {
  const authz = checkAuthzOptions(input.authz ?? { socket: DEFAULT_AUTHZ_SOCKET }, "authz");
  const extProc = checkExtProcOptions(input.extProc ?? { socket: DEFAULT_EXT_PROC_SOCKET }, "extProc");
  const ist = checkIstioOptions(input.istio ?? {}, "istio");
  const namespace = ist.namespace ?? DEFAULT_ISTIO.namespace;
  const provider = ist.providerName ?? DEFAULT_ISTIO.providerName;
  const host = ist.authzHost ?? DEFAULT_ISTIO.authzHost;
  const port = ist.authzPort ?? DEFAULT_ISTIO.authzPort;
  const selector = ist.selector ?? { [LABEL.inject]: "true" };
  const volume = ist.socketVolume ?? DEFAULT_ISTIO.socketVolume;
  if (Object.keys(selector).length === 0 && namespace === ISTIO_ROOT_NAMESPACE) {
    throw new HexrError(
      "config.invalid",
      `istio.selector: {} in the root namespace ${ISTIO_ROOT_NAMESPACE} would put the fail-closed filters on every workload of the mesh`,
    );
  }
  const authzSocket = socketOf(authz, "authz");
  const socketDir = path.posix.dirname(authzSocket);
  if (path.posix.dirname(socketOf(extProc, "extProc")) !== socketDir) {
    fail("extProc.socket", `must be in the directory of authz.socket (${socketDir}): istio-proxy mounts one volume`);
  }

  const meshConfig: JsonObject = {
    extensionProviders: [
      {
        name: provider,
        envoyExtAuthzGrpc: {
          // `[<Namespace>/]<Hostname>`: the namespace makes the ServiceEntry below the only possible match
          service: `${namespace}/${host}`,
          port,
          timeout: duration(authz.timeoutMs ?? DEFAULT_AUTHZ_TIMEOUT_MS),
          failOpen: false,
          statusOnError: String(authz.statusOnError ?? 403),
        },
      },
    ],
  };

  const metadata = (name: string): JsonObject => ({ name, namespace });
  const workloadSelector = Object.keys(selector).length > 0 ? { labels: { ...selector } } : undefined;

  const serviceEntry: JsonObject = {
    apiVersion: "networking.istio.io/v1",
    kind: "ServiceEntry",
    metadata: metadata(provider),
    spec: {
      hosts: [host],
      // every namespace's sidecars need the cluster the provider resolves to, whatever defaultServiceExportTo says
      exportTo: ["*"],
      ports: [{ number: port, name: "grpc", protocol: "GRPC" }],
      resolution: "STATIC",
      endpoints: [{ address: `unix://${authzSocket}` }],
    },
  };

  const policy: JsonObject = {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: metadata(provider),
    spec: {
      ...(workloadSelector ? { selector: { matchLabels: { ...selector } } } : {}),
      action: "CUSTOM",
      provider: { name: provider },
      rules: [{}],
    },
  };

  const guard = renderExtProcFilterSnippet(extProc);
  const extProcFilter: JsonObject = {
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: metadata("hexr-ext-proc"),
    spec: {
      ...(workloadSelector ? { workloadSelector } : {}),
      configPatches: [
        ...guard.clusters.map((value) => ({
          applyTo: "CLUSTER",
          match: { context: "SIDECAR_OUTBOUND" },
          patch: { operation: "ADD", value },
        })),
        ...guard.http_filters.map((value) => ({
          applyTo: "HTTP_FILTER",
          match: {
            context: "SIDECAR_OUTBOUND",
            listener: { filterChain: { filter: { name: HCM_FILTER, subFilter: { name: ROUTER_FILTER } } } },
          },
          patch: { operation: "INSERT_BEFORE", value },
        })),
      ],
    },
  };

  const inbound = authzPerRoute(
    { [CTX_DIRECTION]: "inbound" },
    ist.inboundAuthzBodyBytes ?? DEFAULT_ISTIO.inboundAuthzBodyBytes,
  );
  const authzFilter: JsonObject = {
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: metadata("hexr-ext-authz"),
    spec: {
      ...(workloadSelector ? { workloadSelector } : {}),
      configPatches: [
        {
          applyTo: "HTTP_ROUTE",
          match: { context: "SIDECAR_INBOUND" },
          patch: { operation: "MERGE", value: { typed_per_filter_config: { [EXT_AUTHZ_FILTER]: inbound } } },
        },
        {
          // Istio names outbound virtual hosts `<host>:<port>` (route configuration `<port>`)
          applyTo: "VIRTUAL_HOST",
          match: {
            context: "SIDECAR_OUTBOUND",
            routeConfiguration: { portNumber: port, vhost: { name: `${host}:${port}` } },
          },
          patch: { operation: "REMOVE" },
        },
      ],
    },
  };

  const runtimeValues = Object.fromEntries(Object.entries(STATIC_RUNTIME).map(([k, v]) => [k, String(v)]));
  return {
    meshConfig,
    resources: [serviceEntry, policy, extProcFilter, authzFilter],
    podAnnotations: {
      [ANNOTATION_USER_VOLUME_MOUNT]: JSON.stringify({ [volume]: { mountPath: socketDir, readOnly: true } }),
      [ANNOTATION_PROXY_CONFIG]: JSON.stringify({ runtimeValues }),
    },
  };
}

function fail(field: string, msg: string): never {
  throw new HexrError("config.invalid", `${field}: ${msg}`);
}

/**
 * What the injector renders per pod: the Envoy bootstrap (envoy-config's sidecar template in SPIRE mode,
 * plus a probe listener) and the hexr sidecar's config, both as YAML text the `hexr-config` init
 * container writes into the pod. Pure: the pod's identity and the injector config in, text out.
 *
 * @example
 *   const { envoy, sidecar } = renderDataPlane(identity, cfg, {});
 */
import { DEFAULT_AUTHZ_TIMEOUT_MS } from "../../envoy-config/defaults.ts";
import {
  DEFAULT_SDS_RETRY_BACKOFF,
  type EnvoyBootstrap,
  type JsonObject,
  renderSidecarBootstrap,
  type SidecarEnvoyOptions,
  toYaml,
} from "../../envoy-config/index.ts";
import { DEFAULT_L2_WAIT_MS } from "../../filters/credentials/cache.ts";
import { HexrError, isHexrError } from "../../filters/errors.ts";
import { DEFAULT_EXCHANGE_TIMEOUT_MS } from "../authz/credentials-config.ts";
import { parseConfig } from "../config.ts";
import { fail, type Obj } from "../config-fields.ts";
import { podSelectors } from "../kube/identity.ts";
import type { InjectorConfig } from "./config.ts";

/** Where things are inside the pod (fixed: the images and the rendered configs agree on them). */
export const PATHS = {
  config: "/etc/hexr/config",
  run: "/run/hexr",
  spire: "/run/spire/sockets",
  spireAdmin: "/run/spire/admin",
  policy: "/etc/hexr/policy",
  tmp: "/tmp",
} as const;
export const FILES = { envoy: "envoy.yaml", sidecar: "hexr.yaml" } as const;
export const SOCKETS = {
  authz: `${PATHS.run}/authz.sock`,
  extProc: `${PATHS.run}/ext-proc.sock`,
  /** Envoy's admin API on a Unix socket: the agent shares the pod's network namespace, so a loopback
   * admin port would let it drain listeners or stop Envoy; the socket's directory is not mounted for it. */
  envoyAdmin: `${PATHS.run}/envoy-admin.sock`,
} as const;
export const HEALTH_LISTENER = "hexr_health";
export const ADMIN_CLUSTER = "hexr_envoy_admin";

/** The pod facts the data plane depends on. */
export interface PodIdentity {
  namespace: string;
  serviceAccount: string;
  tenant: string;
  agent: string;
  role: string;
  /** `spiffe://<td>/agent/<tenant>/<agent>/<role>` */
  spiffeId: string;
}

export interface RenderOptions {
  /** The agent's own port for agent-to-agent calls (`hexr.io/inbound-port`): adds Envoy's inbound listener. */
  inboundAppPort?: number;
}

/**
 * Stands for the pod's UID in the rendered sidecar config: a pod has no UID at admission, so the
 * `hexr-config` init container replaces it with the downward API's `metadata.uid` when it writes the file.
 * No label value or config name can contain `{`, so the token appears only where it was put.
 */
export const POD_UID_TOKEN = "{hexr:pod-uid}";

/**
 * The selectors the hexr sidecar hands the SPIRE agent's Delegated Identity API for this pod's agent
 * (`credentials.delegated.agents`): exactly the registrar's entry selectors ({@link podSelectors}), the
 * UID filled in inside the pod. SPIRE returns the entries whose selectors are a subset of these.
 */
export function agentSelectors(id: PodIdentity): string[] {
  return podSelectors(id.namespace, id.serviceAccount, POD_UID_TOKEN);
}

/** Headroom over the sidecar's own deadline, for the gRPC hop and a busy event loop. */
const AUTHZ_TIMEOUT_HEADROOM_MS = 250;

/**
 * Envoy's ext_authz timeout for the pod. Without credentials, Envoy's default (250 ms). With them, a
 * request that misses every cache waits for the issuer (`credentials.exchange_timeout_ms`) and, with a
 * shared L2, for another sidecar's fill first: Envoy must wait longer than that, or the first request of
 * every agent would be answered by Envoy's timeout instead of by the sidecar. An explicit
 * `envoy.authz.timeoutMs` wins; the config check refuses one shorter than this.
 */
export function authzTimeoutMs(cfg: InjectorConfig): number {
  const c = cfg.sidecar.credentials as Obj | undefined;
  if (c === undefined) return DEFAULT_AUTHZ_TIMEOUT_MS;
  const exchange = typeof c.exchange_timeout_ms === "number" ? c.exchange_timeout_ms : DEFAULT_EXCHANGE_TIMEOUT_MS;
  const l2 = (c.cache as Obj | undefined)?.l2 !== undefined ? DEFAULT_L2_WAIT_MS : 0;
  return exchange + l2 + AUTHZ_TIMEOUT_HEADROOM_MS;
}

export function envoyOptions(id: PodIdentity, cfg: InjectorConfig, opts: RenderOptions): SidecarEnvoyOptions {
  const e = cfg.envoy;
  const o: SidecarEnvoyOptions = {
    node: { id: `sidecar~${id.namespace}~${id.agent}.${id.role}`, cluster: id.tenant },
    tls: {
      mode: "spire",
      sdsSocket: `${PATHS.spire}/${cfg.spire.socketName}`,
      spiffeId: id.spiffeId,
      trustDomain: cfg.trustDomain,
      ...(cfg.federatedTrustDomains.length > 0 ? { federatedTrustDomains: [...cfg.federatedTrustDomains] } : {}),
      sdsRetryBackoff: { ...DEFAULT_SDS_RETRY_BACKOFF },
    },
    outbound: { address: "127.0.0.1", port: cfg.ports.outbound, ...(e.outbound ?? {}) },
    authz: { socket: SOCKETS.authz, timeoutMs: authzTimeoutMs(cfg), ...(e.authz ?? {}) },
    upstreams: structuredClone(e.upstreams),
  };
  if (cfg.sidecar.ext_proc !== undefined) o.extProc = { socket: SOCKETS.extProc, ...(e.extProc ?? {}) };
  if (e.jwtListener && cfg.ports.outboundJwt !== undefined)
    o.outboundJwt = { address: "127.0.0.1", port: cfg.ports.outboundJwt };
  if (opts.inboundAppPort !== undefined) {
    o.inbound = {
      ...(structuredClone(e.inbound ?? {}) as object),
      address: "0.0.0.0",
      port: cfg.ports.inbound,
      app: { address: "127.0.0.1", port: opts.inboundAppPort },
    };
  }
  for (const k of ["http", "maxConnections", "concurrency", "accessLog", "tracing"] as const) {
    if (e[k] !== undefined) (o as unknown as Obj)[k] = structuredClone(e[k]);
  }
  return o;
}

/**
 * The bootstrap plus what a pod needs around it: admin on a Unix socket, and a plain-HTTP listener on
 * the pod IP that answers kubelet's probes with Envoy's own `/ready` (only that path, only GET).
 */
export function renderEnvoyBootstrap(id: PodIdentity, cfg: InjectorConfig, opts: RenderOptions): EnvoyBootstrap {
  const b = renderSidecarBootstrap(envoyOptions(id, cfg, opts));
  b.admin = { address: { pipe: { path: SOCKETS.envoyAdmin, mode: 0o600 } } };
  const route: JsonObject = {
    match: { path: "/ready", headers: [{ name: ":method", string_match: { exact: "GET" } }] },
    route: { cluster: ADMIN_CLUSTER, timeout: "1s" },
  };
  b.static_resources.listeners.push({
    name: HEALTH_LISTENER,
    address: { socket_address: { address: "0.0.0.0", port_value: cfg.ports.envoyHealth } },
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type":
                "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: HEALTH_LISTENER,
              route_config: {
                name: HEALTH_LISTENER,
                virtual_hosts: [{ name: "probe", domains: ["*"], routes: [route] }],
              },
              http_filters: [
                {
                  name: "envoy.filters.http.router",
                  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
                },
              ],
            },
          },
        ],
      },
    ],
  });
  b.static_resources.clusters.push({
    name: ADMIN_CLUSTER,
    type: "STATIC",
    connect_timeout: "0.25s",
    load_assignment: {
      cluster_name: ADMIN_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: SOCKETS.envoyAdmin } } } }] }],
    },
  });
  return b;
}

function section(base: Obj, key: string): Obj {
  const v = base[key];
  return v !== null && typeof v === "object" && !Array.isArray(v) ? structuredClone(v as Obj) : {};
}

/** The hexr sidecar's config for this pod: the operator's base sections plus the per-pod fields. */
export function renderSidecarConfig(id: PodIdentity, cfg: InjectorConfig): Obj {
  const base = cfg.sidecar;
  const out: Obj = structuredClone(base);
  out.trust_domains = [cfg.trustDomain, ...cfg.federatedTrustDomains];
  out.workload_api = { socket: `unix://${PATHS.spire}/${cfg.spire.socketName}` };
  out.authz = {
    ...section(base, "authz"),
    listen: { socket: SOCKETS.authz },
    bundle: `${PATHS.policy}/${cfg.policy.bundleKey}`,
  };
  if (base.ext_proc !== undefined) out.ext_proc = { ...section(base, "ext_proc"), listen: { socket: SOCKETS.extProc } };
  out.telemetry = { ...section(base, "telemetry"), admin: { listen: `0.0.0.0:${cfg.ports.sidecarAdmin}` } };
  if (base.credentials !== undefined && cfg.spire.adminSocket) {
    out.credentials = {
      ...section(base, "credentials"),
      delegated: {
        socket: `${PATHS.spireAdmin}/${cfg.spire.adminSocket.name}`,
        agents: { [id.spiffeId]: agentSelectors(id) },
      },
    };
  }
  if (base.a2a !== undefined) out.a2a = { ...section(base, "a2a"), target: id.spiffeId };
  return out;
}

export interface RenderedDataPlane {
  envoy: string;
  sidecar: string;
}

/** Both files as YAML. Throws HexrError `config.invalid` (envoy-config's checks) on options Envoy would refuse. */
export function renderDataPlane(id: PodIdentity, cfg: InjectorConfig, opts: RenderOptions): RenderedDataPlane {
  return { envoy: toYaml(renderEnvoyBootstrap(id, cfg, opts)), sidecar: toYaml(renderSidecarConfig(id, cfg)) };
}

export const SAMPLE_IDENTITY: PodIdentity = {
  namespace: "tenant-sample",
  serviceAccount: "default",
  tenant: "sample",
  agent: "agent",
  role: "role",
  spiffeId: "",
};

/** A stand-in for files the sidecar config names (keys): 32 bytes of hex, which every key reader accepts. */
const STUB_FILE = "00".repeat(32);

/**
 * Renders a sample pod with `cfg` and runs the sidecar's own config parser on the result, so a bad Envoy
 * option or sidecar field fails the injector at start (`envoy.upstreams[0].port: …`, `sidecar.authz.…`).
 */
export function validateWithSamplePod(cfg: InjectorConfig): void {
  const id = { ...SAMPLE_IDENTITY, spiffeId: `spiffe://${cfg.trustDomain}/agent/sample/agent/role` };
  for (const u of cfg.envoy.upstreams) {
    const n = (u as { name?: unknown })?.name;
    if (n === ADMIN_CLUSTER) fail("envoy.upstreams", `${ADMIN_CLUSTER} is reserved for the probe listener`);
  }
  try {
    renderEnvoyBootstrap(id, cfg, { inboundAppPort: 8080 });
  } catch (e) {
    if (isHexrError(e)) throw new HexrError("config.invalid", `envoy.${e.message}`);
    throw e;
  }
  try {
    parseConfig(toYaml(renderSidecarConfig(id, cfg)), `${PATHS.config}/${FILES.sidecar}`, () => STUB_FILE);
  } catch (e) {
    if (isHexrError(e)) throw new HexrError("config.invalid", `sidecar.${e.message}`);
    throw e;
  }
}

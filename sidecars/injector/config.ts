/**
 * The injector's configuration: one YAML file (rendered by the chart), validated once at start into a
 * typed config. Every error names the field (`images.envoy: must be a non-empty string`), like the
 * sidecar config.
 *
 * Fail-closed notes: the webhook runs with `failurePolicy: Fail` for opted-in namespaces, so a config that
 * cannot render a data plane must stop the injector at start, not refuse pods one by one; that is why
 * {@link parseInjectorConfig} renders a sample pod's Envoy bootstrap and sidecar config before returning.
 *
 * @example
 *   const cfg = parseInjectorConfig(readFileSync("/etc/hexr/injector.yaml", "utf8"), "injector.yaml");
 *
 *   trust_domain: hexr.cloud
 *   images: { envoy: envoyproxy/envoy:v1.40.0, sidecar: ghcr.io/hexr/sidecar:0.1.0 }
 *   sidecar_mode: native                  # native (init containers, restartPolicy Always, k8s ≥ 1.29) | classic
 *   spire: { socket: { mode: csi }, socket_name: agent.sock,
 *            admin_socket: { host_path: /run/spire/admin, name: admin.sock } }   # Delegated Identity API
 *   policy: { config_map: hexr-policy, bundle_key: bundle.tar.gz }
 *   traffic: { default: explicit, transparent: { enabled: true, exclude_cidrs: [10.96.0.10/32] } }
 *   envoy: { upstreams: [...] }          # SidecarEnvoyOptions fields (as `hexr envoy render --options`)
 *   sidecar: { audit: { path: stdout } } # sidecar config fields the injector does not own
 */
import { isIP } from "node:net";
import { parse as parseYaml } from "yaml";
import type { UpstreamOptions } from "../../envoy-config/index.ts";
import { HexrError } from "../../filters/errors.ts";
import { bool, fail, int, type Obj, obj, onlyKeys, str } from "../config-fields.ts";
import { authzTimeoutMs, validateWithSamplePod } from "./render.ts";
import { ALWAYS_EXCLUDED_NAMESPACES } from "../kube/identity.ts";

export const DEFAULT_PORTS = {
  outbound: 15001,
  inbound: 15006,
  envoyHealth: 15021,
  sidecarAdmin: 15020,
} as const;
/** Envoy and the hexr sidecar share one uid: they talk over Unix sockets (connect needs write permission
 * on the socket file, which the creator's umask gives only to its owner), and transparent mode exempts it. */
export const DEFAULT_PROXY_UID = 1337;
export const DEFAULT_SOCKET_NAME = "agent.sock";
export const DEFAULT_CSI_DRIVER = "csi.spiffe.io";
export const DEFAULT_BUNDLE_KEY = "bundle.tar.gz";
export { ALWAYS_EXCLUDED_NAMESPACES };
export const MAX_INJECTOR_CONFIG_BYTES = 1 << 20;

/** Requests and limits as Kubernetes quantities (`100m`, `128Mi`). */
export interface ResourceSpec {
  requests: Record<string, string>;
  limits: Record<string, string>;
}

/** Sized from the sidecar benchmarks (idle ~120–165 MB RSS, ~250 MB at 1000 rps; the guard thread caps at 256 MB). */
export const DEFAULT_RESOURCES: Readonly<Record<"envoy" | "sidecar" | "init", ResourceSpec>> = {
  envoy: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
  sidecar: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "768Mi" } },
  init: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
};

export type SidecarMode = "native" | "classic";
export type TrafficMode = "explicit" | "transparent";
export type SpireSocketVolume = { mode: "csi"; driver: string } | { mode: "hostPath"; path: string };

/** The parts of SidecarEnvoyOptions an operator sets; listeners, TLS, sockets and admin belong to the injector. */
export interface EnvoyBase {
  upstreams: UpstreamOptions[];
  jwtListener: boolean;
  authz?: { timeoutMs?: number; statusOnError?: 403 | 503 };
  extProc?: { messageTimeoutMs?: number; maxMessageTimeoutMs?: number };
  inbound?: Obj;
  outbound?: { allowedPeerPrefixes?: string[] };
  http?: Obj;
  maxConnections?: number;
  concurrency?: number;
  accessLog?: boolean;
  tracing?: Obj;
}

export interface InjectorConfig {
  trustDomain: string;
  federatedTrustDomains: string[];
  images: { envoy: string; sidecar: string; iptables: string; pullPolicy: "Always" | "IfNotPresent" | "Never" };
  sidecarMode: SidecarMode;
  spire: {
    socket: SpireSocketVolume;
    /** File name of the Workload API socket inside the mounted directory. */
    socketName: string;
    /** Node directory of the agent's admin socket (Delegated Identity API), mounted into the hexr sidecar only. */
    adminSocket?: { hostPath: string; name: string };
  };
  policy: { configMap: string; bundleKey: string };
  traffic: {
    default: TrafficMode;
    transparent: { enabled: boolean; ipv6: boolean; excludeCidrs: string[]; excludePorts: number[] };
    /** Extra NO_PROXY entries (loopback is always there). */
    noProxy: string[];
  };
  ports: { outbound: number; outboundJwt?: number; inbound: number; envoyHealth: number; sidecarAdmin: number };
  proxyUid: number;
  resources: Record<"envoy" | "sidecar" | "init", ResourceSpec>;
  excludedNamespaces: ReadonlySet<string>;
  /** A pod labelled `hexr.io/inject: "false"` in an opted-in namespace: skipped (true) or refused (false, default). */
  allowPodOptOut: boolean;
  /** Mount the Workload API socket (read-only) into the agent's containers and set SPIFFE_ENDPOINT_SOCKET. */
  agentWorkloadApi: boolean;
  envoy: EnvoyBase;
  /** Sidecar config fields (snake_case, as in the sidecar YAML) copied into every pod's config. */
  sidecar: Obj;
  /** Secrets the sidecar config names files in (L2 key, bundle signing keys), mounted read-only into the sidecar. */
  secretMounts: { secret: string; mountPath: string }[];
}

/** Sidecar config fields the injector writes per pod; setting them in `sidecar` is an error. */
const OWNED_SIDECAR_FIELDS: readonly string[] = [
  "trust_domains",
  "workload_api",
  "authz.listen",
  "authz.bundle",
  "ext_proc.listen",
  "telemetry.admin",
  "credentials.delegated",
  "a2a.target",
];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const ABS_PATH = /^\/[A-Za-z0-9._/-]*$/;

function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v))
    fail(field, `must be one of ${allowed.join(", ")}`);
  return v as T;
}

function path(v: unknown, field: string): string {
  const s = str(v, field);
  if (!ABS_PATH.test(s) || s.split("/").includes("..")) fail(field, "must be an absolute path");
  return s;
}

function fileName(v: unknown, field: string, dflt: string): string {
  if (v === undefined) return dflt;
  const s = str(v, field);
  if (!/^[A-Za-z0-9._-]+$/.test(s) || s === "." || s === "..") fail(field, "must be a file name");
  return s;
}

function name(v: unknown, field: string, re = DNS_SUBDOMAIN): string {
  const s = str(v, field);
  if (s.length > 253 || !re.test(s)) fail(field, "must be a Kubernetes object name (lowercase DNS name)");
  return s;
}

function strings(v: unknown, field: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(field, "must be a list");
  return v.map((s, i) => str(s, `${field}[${i}]`));
}

function port(v: unknown, field: string, dflt: number): number {
  return int(v, field, 1, dflt, 65535);
}

function cidr(s: string, field: string): string {
  const [addr, bits, extra] = s.split("/");
  const fam = isIP(addr ?? "");
  const max = fam === 4 ? 32 : 128;
  if (fam === 0 || extra !== undefined || bits === undefined || !/^\d{1,3}$/.test(bits) || Number(bits) > max)
    fail(field, "must be a CIDR (10.0.0.0/8, fd00::/8)");
  return s;
}

function resources(v: unknown, field: string, dflt: ResourceSpec): ResourceSpec {
  if (v === undefined) return { requests: { ...dflt.requests }, limits: { ...dflt.limits } };
  const o = obj(v, field);
  onlyKeys(o, field, ["requests", "limits"]);
  const side = (sv: unknown, f: string): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, q] of Object.entries(sv === undefined ? {} : obj(sv, f))) {
      if (k !== "cpu" && k !== "memory" && k !== "ephemeral-storage")
        fail(`${f}.${k}`, "unknown resource (cpu, memory, ephemeral-storage)");
      const s = typeof q === "number" ? String(q) : q;
      if (typeof s !== "string" || !QUANTITY.test(s)) fail(`${f}.${k}`, "must be a quantity (100m, 128Mi)");
      out[k] = s;
    }
    return out;
  };
  return { requests: side(o.requests, `${field}.requests`), limits: side(o.limits, `${field}.limits`) };
}

function spire(v: unknown): InjectorConfig["spire"] {
  const f = "spire";
  const o = v === undefined ? {} : obj(v, f);
  onlyKeys(o, f, ["socket", "socket_name", "admin_socket"]);
  const s = o.socket === undefined ? {} : obj(o.socket, `${f}.socket`);
  const mode = oneOf(s.mode, `${f}.socket.mode`, ["csi", "hostPath"], "csi");
  let socket: SpireSocketVolume;
  if (mode === "csi") {
    onlyKeys(s, `${f}.socket`, ["mode", "driver"]);
    socket = { mode, driver: s.driver === undefined ? DEFAULT_CSI_DRIVER : name(s.driver, `${f}.socket.driver`) };
  } else {
    onlyKeys(s, `${f}.socket`, ["mode", "path"]);
    socket = { mode, path: path(s.path, `${f}.socket.path`) };
  }
  let adminSocket: InjectorConfig["spire"]["adminSocket"];
  if (o.admin_socket !== undefined) {
    const a = obj(o.admin_socket, `${f}.admin_socket`);
    onlyKeys(a, `${f}.admin_socket`, ["host_path", "name"]);
    adminSocket = {
      hostPath: path(a.host_path, `${f}.admin_socket.host_path`),
      name: fileName(a.name, `${f}.admin_socket.name`, "admin.sock"),
    };
  }
  return {
    socket,
    socketName: fileName(o.socket_name, `${f}.socket_name`, DEFAULT_SOCKET_NAME),
    ...(adminSocket ? { adminSocket } : {}),
  };
}

function traffic(v: unknown): InjectorConfig["traffic"] {
  const f = "traffic";
  const o = v === undefined ? {} : obj(v, f);
  onlyKeys(o, f, ["default", "transparent", "no_proxy"]);
  const t = o.transparent === undefined ? {} : obj(o.transparent, `${f}.transparent`);
  onlyKeys(t, `${f}.transparent`, ["enabled", "ipv6", "exclude_cidrs", "exclude_ports"]);
  const ports = t.exclude_ports === undefined ? [] : t.exclude_ports;
  if (!Array.isArray(ports)) fail(`${f}.transparent.exclude_ports`, "must be a list");
  const out: InjectorConfig["traffic"] = {
    default: oneOf(o.default, `${f}.default`, ["explicit", "transparent"], "explicit"),
    transparent: {
      enabled: bool(t.enabled, `${f}.transparent.enabled`, true),
      ipv6: bool(t.ipv6, `${f}.transparent.ipv6`, true),
      excludeCidrs: strings(t.exclude_cidrs, `${f}.transparent.exclude_cidrs`).map((c, i) =>
        cidr(c, `${f}.transparent.exclude_cidrs[${i}]`),
      ),
      excludePorts: ports.map((p, i) => port(p, `${f}.transparent.exclude_ports[${i}]`, 0)),
    },
    noProxy: strings(o.no_proxy, `${f}.no_proxy`).map((s, i) => {
      if (!/^[A-Za-z0-9.:*/[\]-]+$/.test(s)) fail(`${f}.no_proxy[${i}]`, "must be a host, domain, IP or CIDR");
      return s;
    }),
  };
  if (out.default === "transparent" && !out.transparent.enabled)
    fail(`${f}.default`, "is transparent but traffic.transparent.enabled is false");
  return out;
}

function ports(v: unknown): InjectorConfig["ports"] {
  const o = v === undefined ? {} : obj(v, "ports");
  onlyKeys(o, "ports", ["outbound", "outbound_jwt", "inbound", "envoy_health", "sidecar_admin"]);
  const out: InjectorConfig["ports"] = {
    outbound: port(o.outbound, "ports.outbound", DEFAULT_PORTS.outbound),
    inbound: port(o.inbound, "ports.inbound", DEFAULT_PORTS.inbound),
    envoyHealth: port(o.envoy_health, "ports.envoy_health", DEFAULT_PORTS.envoyHealth),
    sidecarAdmin: port(o.sidecar_admin, "ports.sidecar_admin", DEFAULT_PORTS.sidecarAdmin),
    ...(o.outbound_jwt !== undefined ? { outboundJwt: port(o.outbound_jwt, "ports.outbound_jwt", 0) } : {}),
  };
  const seen = new Map<number, string>();
  for (const [k, p] of Object.entries(out)) {
    const other = seen.get(p);
    if (other) fail(`ports.${k}`, `${p} is also ports.${other}`);
    seen.set(p, k);
  }
  return out;
}

const ENVOY_KEYS = [
  "upstreams",
  "jwtListener",
  "authz",
  "extProc",
  "inbound",
  "outbound",
  "http",
  "maxConnections",
  "concurrency",
  "accessLog",
  "tracing",
] as const;

/** Shape only; the values are checked by rendering a sample pod (envoy-config's own checks, field names kept). */
function envoy(v: unknown): EnvoyBase {
  const o = v === undefined ? {} : obj(v, "envoy");
  onlyKeys(o, "envoy", ENVOY_KEYS);
  if (o.authz !== undefined) onlyKeys(obj(o.authz, "envoy.authz"), "envoy.authz", ["timeoutMs", "statusOnError"]);
  if (o.extProc !== undefined)
    onlyKeys(obj(o.extProc, "envoy.extProc"), "envoy.extProc", ["messageTimeoutMs", "maxMessageTimeoutMs"]);
  if (o.inbound !== undefined)
    onlyKeys(obj(o.inbound, "envoy.inbound"), "envoy.inbound", [
      "allowedPeerPrefixes",
      "timeoutMs",
      "extProc",
      "authzBodyBytes",
    ]);
  if (o.outbound !== undefined) onlyKeys(obj(o.outbound, "envoy.outbound"), "envoy.outbound", ["allowedPeerPrefixes"]);
  if (o.upstreams !== undefined && !Array.isArray(o.upstreams)) fail("envoy.upstreams", "must be a list");
  const { jwtListener, ...rest } = o;
  return {
    ...(rest as Partial<EnvoyBase>),
    upstreams: (o.upstreams as UpstreamOptions[] | undefined) ?? [],
    jwtListener: bool(jwtListener, "envoy.jwtListener", false),
  } as EnvoyBase;
}

function sidecarBase(v: unknown): Obj {
  const o = v === undefined ? {} : obj(v, "sidecar");
  for (const owned of OWNED_SIDECAR_FIELDS) {
    const [a, b] = owned.split(".") as [string, string | undefined];
    const sect = o[a];
    const present = b === undefined ? sect !== undefined : sect !== null && typeof sect === "object" && b in sect;
    if (present) fail(`sidecar.${owned}`, "is set by the injector per pod; remove it");
  }
  return structuredClone(o);
}

function secretMounts(v: unknown): InjectorConfig["secretMounts"] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail("secret_mounts", "must be a list");
  const paths = new Set<string>();
  return v.map((m, i) => {
    const f = `secret_mounts[${i}]`;
    const o = obj(m, f);
    onlyKeys(o, f, ["secret", "mount_path"]);
    const mountPath = path(o.mount_path, `${f}.mount_path`);
    if (paths.has(mountPath)) fail(`${f}.mount_path`, "is mounted twice");
    if (/^\/(etc\/hexr|run\/hexr|run\/spire|tmp)(\/|$)/.test(mountPath))
      fail(`${f}.mount_path`, "overlaps a path the injector mounts (/etc/hexr, /run/hexr, /run/spire, /tmp)");
    paths.add(mountPath);
    return { secret: name(o.secret, `${f}.secret`), mountPath };
  });
}

/**
 * Checks a parsed config object. `validate` (default true) renders a sample pod so option errors surface at
 * start; {@link parseInjectorConfig} always does.
 */
export function checkInjectorConfig(raw: unknown, validate = true): InjectorConfig {
  const root = obj(raw ?? {}, "(root)");
  onlyKeys(root, "", [
    "trust_domain",
    "federated_trust_domains",
    "images",
    "sidecar_mode",
    "spire",
    "policy",
    "traffic",
    "ports",
    "proxy_uid",
    "resources",
    "excluded_namespaces",
    "allow_pod_opt_out",
    "agent_workload_api",
    "envoy",
    "sidecar",
    "secret_mounts",
  ]);
  const td = str(root.trust_domain, "trust_domain");
  if (!TRUST_DOMAIN.test(td)) fail("trust_domain", "not a valid trust domain name (no spiffe://)");
  const federated = strings(root.federated_trust_domains, "federated_trust_domains").map((t, i) => {
    if (!TRUST_DOMAIN.test(t) || t === td) fail(`federated_trust_domains[${i}]`, "not a valid, distinct trust domain");
    return t;
  });
  const im = obj(root.images, "images");
  onlyKeys(im, "images", ["envoy", "sidecar", "iptables", "pull_policy"]);
  const image = (v: unknown, f: string) => {
    const s = str(v, f);
    if (/\s/.test(s)) fail(f, "must be an image reference");
    return s;
  };
  const sidecarImage = image(im.sidecar, "images.sidecar");
  const pol = obj(root.policy, "policy");
  onlyKeys(pol, "policy", ["config_map", "bundle_key"]);
  const res = root.resources === undefined ? {} : obj(root.resources, "resources");
  onlyKeys(res, "resources", ["envoy", "sidecar", "init"]);
  const excluded = new Set<string>(ALWAYS_EXCLUDED_NAMESPACES);
  strings(root.excluded_namespaces, "excluded_namespaces").forEach((n, i) => {
    excluded.add(name(n, `excluded_namespaces[${i}]`, DNS_LABEL));
  });
  const cfg: InjectorConfig = {
    trustDomain: td,
    federatedTrustDomains: federated,
    images: {
      envoy: image(im.envoy, "images.envoy"),
      sidecar: sidecarImage,
      iptables: im.iptables === undefined ? sidecarImage : image(im.iptables, "images.iptables"),
      pullPolicy: oneOf(im.pull_policy, "images.pull_policy", ["Always", "IfNotPresent", "Never"], "IfNotPresent"),
    },
    sidecarMode: oneOf(root.sidecar_mode, "sidecar_mode", ["native", "classic"], "native"),
    spire: spire(root.spire),
    policy: {
      configMap: name(pol.config_map, "policy.config_map"),
      bundleKey: fileName(pol.bundle_key, "policy.bundle_key", DEFAULT_BUNDLE_KEY),
    },
    traffic: traffic(root.traffic),
    ports: ports(root.ports),
    proxyUid: int(root.proxy_uid, "proxy_uid", 1, DEFAULT_PROXY_UID, 2 ** 31 - 1),
    resources: {
      envoy: resources(res.envoy, "resources.envoy", DEFAULT_RESOURCES.envoy),
      sidecar: resources(res.sidecar, "resources.sidecar", DEFAULT_RESOURCES.sidecar),
      init: resources(res.init, "resources.init", DEFAULT_RESOURCES.init),
    },
    excludedNamespaces: excluded,
    allowPodOptOut: bool(root.allow_pod_opt_out, "allow_pod_opt_out", false),
    agentWorkloadApi: bool(root.agent_workload_api, "agent_workload_api", true),
    envoy: envoy(root.envoy),
    sidecar: sidecarBase(root.sidecar),
    secretMounts: secretMounts(root.secret_mounts),
  };
  if (cfg.envoy.jwtListener && cfg.ports.outboundJwt === undefined)
    fail("envoy.jwtListener", "needs ports.outbound_jwt");
  const explicit = cfg.envoy.authz?.timeoutMs;
  if (explicit !== undefined && cfg.sidecar.credentials !== undefined && explicit < authzTimeoutMs(cfg)) {
    fail(
      "envoy.authz.timeoutMs",
      `${explicit} ms is shorter than a credential exchange may take (${authzTimeoutMs(cfg)} ms: sidecar.credentials.exchange_timeout_ms, the L2 wait and headroom); Envoy would answer first`,
    );
  }
  if (validate) validateWithSamplePod(cfg);
  return cfg;
}

/** Parses and validates the injector's YAML. */
export function parseInjectorConfig(text: string, file = "<injector config>"): InjectorConfig {
  if (text.length > MAX_INJECTOR_CONFIG_BYTES) fail(file, `larger than ${MAX_INJECTOR_CONFIG_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new HexrError("config.bad_yaml", `${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  return checkInjectorConfig(raw);
}

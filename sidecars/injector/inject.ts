/**
 * The injector's core: a pure function of the pod, its namespace and the injector config (no cluster
 * reads), returning an RFC 6902 patch that adds Envoy and the hexr sidecar, a refusal with a message the
 * user sees in `kubectl`, or a skip. Idempotent: an injected pod yields an empty patch.
 *
 * @example
 *   const r = injectPod(pod, { name: "tenant-acme", labels: { "hexr.io/inject": "true" } }, cfg);
 *   if ("patch" in r) respondWith(r.patch, r.warnings);
 */
import { tryParseSpiffeId } from "../../filters/identity/index.ts";
import type { InjectorConfig, SidecarMode, TrafficMode } from "./config.ts";
import {
  agentSpireMount,
  CONTAINER,
  configContainer,
  envoyContainer,
  iptablesContainer,
  MAX_RENDERED_BYTES,
  sidecarContainer,
  volumes,
} from "./containers.ts";
import { ANNOTATION, LABEL } from "../kube/identity.ts";
import { addToArray, addToMap, type JsonPatchOp, pointer } from "./patch.ts";
import { PATHS, type PodIdentity, type RenderedDataPlane, renderDataPlane } from "./render.ts";
import { agentEnv, iptablesScript } from "./traffic.ts";

export type { JsonPatchOp } from "./patch.ts";

export { ANNOTATION, LABEL };
/** Bumped when the shape of what is injected changes; recorded in the marker annotation. */
export const INJECTION_VERSION = "1";
/** A SPIFFE ID path segment from a label: no `/`, no `.`/`..` (RFC 3986 dot segments). */
const SEGMENT = /^[A-Za-z0-9._-]{1,63}$/;

export interface NamespaceInfo {
  name: string;
  labels: Readonly<Record<string, string>>;
}

export type InjectResult = { patch: JsonPatchOp[]; warnings: string[] } | { refuse: string } | { skip: string };

type K8s = Record<string, unknown>;

function isObj(v: unknown): v is K8s {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObj(v)) return out;
  for (const [k, s] of Object.entries(v)) if (typeof s === "string") out[k] = s;
  return out;
}

function list(v: unknown): K8s[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

const refuse = (msg: string): InjectResult => ({ refuse: `hexr: ${msg}` });

interface PodOptions {
  sidecarMode: SidecarMode;
  traffic: TrafficMode;
  inboundAppPort: number | undefined;
}

/** The pod's annotations that shape its data plane, or why one is refused. */
function podOptions(annotations: Record<string, string>, cfg: InjectorConfig): PodOptions | string {
  const sidecarMode = mode<SidecarMode>(annotations, ANNOTATION.sidecarMode, ["native", "classic"], cfg.sidecarMode);
  if (sidecarMode !== "native" && sidecarMode !== "classic") return sidecarMode;
  const traffic = mode<TrafficMode>(annotations, ANNOTATION.traffic, ["explicit", "transparent"], cfg.traffic.default);
  if (traffic !== "explicit" && traffic !== "transparent") return traffic;
  if (traffic === "transparent" && !cfg.traffic.transparent.enabled)
    return "transparent traffic is disabled in this cluster (injector traffic.transparent.enabled); use hexr.io/traffic: explicit";
  let inboundAppPort: number | undefined;
  const ip = annotations[ANNOTATION.inboundPort];
  if (ip !== undefined) {
    const n = /^\d{1,5}$/.test(ip) ? Number(ip) : 0;
    if (n < 1 || n > 65535)
      return `annotation ${ANNOTATION.inboundPort} must be a port number, not ${JSON.stringify(ip)}`;
    inboundAppPort = n;
  }
  return { sidecarMode, traffic, inboundAppPort };
}

/** JSON with object keys sorted: the API server hands objects back with their keys in its own order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    isObj(x)
      ? Object.fromEntries(
          Object.keys(x)
            .sort()
            .map((k) => [k, x[k]]),
        )
      : x,
  );
}

/**
 * Fields the API server fills in with these values when a pod leaves them out (container, probe, port,
 * fieldRef and volume defaults): a stored pod that has them and the injector's object that does not are
 * the same. Any other difference, at any depth, is a different data plane.
 */
const API_DEFAULTS: Readonly<Record<string, unknown>> = {
  terminationMessagePath: "/dev/termination-log",
  terminationMessagePolicy: "File",
  timeoutSeconds: 1,
  periodSeconds: 10,
  successThreshold: 1,
  failureThreshold: 3,
  scheme: "HTTP",
  protocol: "TCP",
  apiVersion: "v1",
  defaultMode: 420,
  type: "",
};

/** Where the API server's ServiceAccount admission mounts the pod's token into every container. */
const SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The container without that mount (the API server adds it to our containers too, before a re-invocation). */
function withoutTokenMount(c: K8s): K8s {
  const mounts = list(c.volumeMounts);
  const kept = mounts.filter(
    (m) =>
      !(
        m.mountPath === SERVICE_ACCOUNT_MOUNT &&
        m.readOnly === true &&
        typeof m.name === "string" &&
        m.name.startsWith("kube-api-access-")
      ),
  );
  return kept.length === mounts.length ? c : { ...c, volumeMounts: kept };
}

/** Where `have` (a stored pod's part) differs from `want` (what the injector adds), or undefined. */
function differs(have: unknown, want: unknown, at: string): string | undefined {
  if (Array.isArray(want)) {
    if (!Array.isArray(have) || have.length !== want.length) return at;
    for (let i = 0; i < want.length; i++) {
      const d = differs(have[i], want[i], `${at}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (isObj(want)) {
    if (!isObj(have)) return at;
    for (const k of Object.keys(want)) {
      const d = differs(have[k], want[k], `${at}.${k}`);
      if (d) return d;
    }
    for (const k of Object.keys(have)) {
      if (Object.hasOwn(want, k)) continue;
      if (!(k in API_DEFAULTS) || canonical(have[k]) !== canonical(API_DEFAULTS[k])) return `${at}.${k}`;
    }
    return undefined;
  }
  return have === want ? undefined : at;
}

/**
 * Why an already-marked pod's data plane is not the one the injector would add (undefined: it is): the
 * marker's SPIFFE ID and modes must be the pod's, and each hexr container and hexr volume must be exactly
 * the injector's (image, command, args, env, mounts, probes, security context, lifecycle: everything but
 * the API server's own defaults), so a pod cannot bring a data plane of its own — another image, a config
 * mounted from its own ConfigMap, NODE_OPTIONS for the sidecar. A mutating webhook that edits hexr-*
 * containers after this one therefore makes the pod refused: exclude them from it.
 */
function verifyInjected(
  labels: Record<string, string>,
  annotations: Record<string, string>,
  spec: K8s,
  all: K8s[],
  ns: NamespaceInfo,
  cfg: InjectorConfig,
): string | undefined {
  const redo = `remove the ${ANNOTATION.injected} annotation and the hexr-* containers and create the pod again`;
  const id = identity(labels, spec, ns, cfg);
  if (typeof id === "string") return id;
  let marker: Record<string, unknown>;
  try {
    const m = JSON.parse(annotations[ANNOTATION.injected] ?? "");
    marker = isObj(m) ? m : {};
  } catch {
    return `annotation ${ANNOTATION.injected} is not the injector's (not JSON): ${redo}`;
  }
  const opts = podOptions(annotations, cfg);
  if (typeof opts === "string") return opts;
  if (
    marker.spiffeId !== id.spiffeId ||
    marker.traffic !== opts.traffic ||
    marker.sidecarMode !== opts.sidecarMode ||
    marker.version !== INJECTION_VERSION
  ) {
    return `annotation ${ANNOTATION.injected} does not match the pod's labels and annotations: ${redo}`;
  }
  let rendered: RenderedDataPlane;
  try {
    rendered = renderDataPlane(
      id,
      cfg,
      opts.inboundAppPort !== undefined ? { inboundAppPort: opts.inboundAppPort } : {},
    );
  } catch (e) {
    return `cannot render the data plane: ${(e as Error).message}`;
  }
  const native = opts.sidecarMode === "native";
  const expected = [
    configContainer(cfg, rendered),
    sidecarContainer(cfg, native),
    envoyContainer(cfg, native, opts.inboundAppPort !== undefined),
  ];
  if (opts.traffic === "transparent") {
    // the redirect is only as good as the rules: the same script for the same agent uids
    const agents = list(spec.containers).filter((c) => c.name !== CONTAINER.envoy && c.name !== CONTAINER.sidecar);
    const uids = agentUids(spec, agents, cfg);
    if (typeof uids === "string") return uids;
    expected.push(iptablesContainer(cfg, iptablesScript(cfg, uids)));
  }
  const byName = new Map(all.map((c) => [c.name, c]));
  for (const want of expected) {
    const have = byName.get(want.name);
    if (!have) return `container ${String(want.name)} is missing: ${redo}`;
    const d = differs(withoutTokenMount(have), want, String(want.name));
    if (d) return `container ${String(want.name)} differs from what the injector adds (${d}): ${redo}`;
  }
  const agents = all.filter((c) => !OUR_CONTAINERS.has(String(c.name)));
  const allowed = canonical(agentSpireMount());
  const grab = foreignHexrMount(agents, (m) => canonical(m) === allowed) ?? secretAlias(spec, cfg);
  if (grab) return grab;
  // where they run matters as much as what: native sidecars first among the init containers, in order
  // (the agent starts after them, and after the iptables rules); classic: setup first, proxies appended
  const setupNames = [...(opts.traffic === "transparent" ? [CONTAINER.iptables] : []), CONTAINER.config];
  const initNames = list(spec.initContainers).map((c) => c.name);
  const wantInits = native ? [...setupNames, CONTAINER.sidecar, CONTAINER.envoy] : setupNames;
  if (canonical(initNames.slice(0, wantInits.length)) !== canonical(wantInits))
    return `the data plane's init containers are not first, in order (${wantInits.join(", ")}): ${redo}`;
  if (!native) {
    const cs = list(spec.containers).map((c) => c.name);
    if (!cs.includes(CONTAINER.sidecar) || !cs.includes(CONTAINER.envoy))
      return `in classic mode ${CONTAINER.sidecar} and ${CONTAINER.envoy} are containers: ${redo}`;
  }
  const vols = new Map(list(spec.volumes).map((v) => [v.name, v]));
  for (const want of volumes(cfg)) {
    const d = differs(vols.get(want.name), want, `volume ${String(want.name)}`);
    if (d) return `${d} differs from what the injector adds: ${redo}`;
  }
  return undefined;
}

const OUR_CONTAINERS: ReadonlySet<string> = new Set(Object.values(CONTAINER));

/**
 * A shared process namespace (or the host's) lets the agent reach the proxies' files through
 * `/proc/<pid>/root` — their sockets, keys and secrets — past any volume rule: such pods get no data plane.
 */
function sharedNamespaces(spec: K8s): string | undefined {
  if (spec.hostNetwork === true)
    return "pods with hostNetwork: true cannot get a data plane (it would bind and redirect on the node)";
  for (const f of ["shareProcessNamespace", "hostPID", "hostIPC"] as const) {
    if (spec[f] === true)
      return `pods with ${f}: true cannot get a data plane (the agent could reach the proxies' files or ports)`;
  }
  return undefined;
}

/** The first pod volume that is one of the sidecar's secrets under another name, as a refusal. */
function secretAlias(spec: K8s, cfg: InjectorConfig): string | undefined {
  const ours = new Set(cfg.secretMounts.map((m) => m.secret));
  if (ours.size === 0) return undefined;
  for (const v of list(spec.volumes)) {
    if (typeof v.name === "string" && v.name.startsWith("hexr-")) continue;
    const names = [
      isObj(v.secret) ? v.secret.secretName : undefined,
      ...(isObj(v.projected) ? list(v.projected.sources) : []).map((s) =>
        isObj(s.secret) ? s.secret.name : undefined,
      ),
    ];
    const hit = names.find((n) => typeof n === "string" && ours.has(n));
    if (hit) return `volume ${String(v.name)} holds secret ${hit}, which only the hexr sidecar may mount`;
  }
  for (const c of [...list(spec.containers), ...list(spec.initContainers)]) {
    if (OUR_CONTAINERS.has(String(c.name))) continue;
    for (const e of list(c.env)) {
      const ref = isObj(e.valueFrom) && isObj(e.valueFrom.secretKeyRef) ? e.valueFrom.secretKeyRef.name : undefined;
      if (typeof ref === "string" && ours.has(ref))
        return `container ${String(c.name)} reads secret ${ref}, which only the hexr sidecar may mount`;
    }
    for (const e of list(c.envFrom)) {
      const ref = isObj(e.secretRef) ? e.secretRef.name : undefined;
      if (typeof ref === "string" && ours.has(ref))
        return `container ${String(c.name)} reads secret ${ref}, which only the hexr sidecar may mount`;
    }
  }
  return undefined;
}

/** The first mount of a `hexr-*` volume by one of the pod's own containers (except `ok` ones), as a refusal. */
function foreignHexrMount(cs: K8s[], ok: (m: K8s) => boolean = () => false): string | undefined {
  for (const c of cs) {
    for (const m of list(c.volumeMounts)) {
      if (typeof m.name === "string" && m.name.startsWith("hexr-") && !ok(m))
        return `container ${String(c.name)} mounts volume ${m.name}: the data plane's volumes are not the agent's`;
    }
  }
  return undefined;
}

/** Decides whether the pod is in scope: `undefined` = go on, else the skip/refusal. */
function optIn(labels: Record<string, string>, ns: NamespaceInfo, cfg: InjectorConfig): InjectResult | undefined {
  if (cfg.excludedNamespaces.has(ns.name)) return { skip: `namespace ${ns.name} is never injected` };
  const pod = labels[LABEL.inject];
  const nsIn = ns.labels[LABEL.inject] === "true";
  if (pod !== undefined && pod !== "true" && pod !== "false")
    return refuse(`label ${LABEL.inject} must be "true" or "false", not ${JSON.stringify(pod)}`);
  if (pod === "false") {
    if (nsIn && !cfg.allowPodOptOut)
      return refuse(
        `namespace ${ns.name} injects every pod (${LABEL.inject}=true); pods cannot opt out here (injector allow_pod_opt_out)`,
      );
    return { skip: "pod opted out" };
  }
  if (pod !== "true" && !nsIn) return { skip: "not opted in" };
  return undefined;
}

function identity(
  labels: Record<string, string>,
  spec: K8s,
  ns: NamespaceInfo,
  cfg: InjectorConfig,
): PodIdentity | string {
  const missing: string[] = [];
  const bad: string[] = [];
  const seg = (key: string): string => {
    const v = labels[key];
    if (v === undefined || v === "") missing.push(key);
    else if (!SEGMENT.test(v) || v === "." || v === "..") bad.push(`${key}=${JSON.stringify(v)}`);
    return v ?? "";
  };
  const tenant = seg(LABEL.tenant);
  const agent = seg(LABEL.agent);
  const role = seg(LABEL.role);
  const why = "they become the SPIFFE ID spiffe://<td>/agent/<tenant>/<agent>/<role>; each is 1-63 of [A-Za-z0-9._-]";
  if (missing.length > 0) return `pod opted in to injection but has no ${missing.join(", ")} label (${why})`;
  if (bad.length > 0) return `invalid label value ${bad.join(", ")} (${why}, not "." or "..")`;
  // the namespace, which a tenant's pod creators cannot relabel, says whose pods it holds: a pod's own
  // tenant label alone would let anyone who can create pods anywhere claim any tenant's identity
  const nsTenant = ns.labels[LABEL.tenant];
  if (nsTenant === undefined)
    return `namespace ${ns.name} has no ${LABEL.tenant} label: agents run only in namespaces labelled with their tenant`;
  if (nsTenant !== tenant)
    return `label ${LABEL.tenant}=${tenant} does not match namespace ${ns.name}'s ${LABEL.tenant}=${nsTenant}`;
  const sa =
    typeof spec.serviceAccountName === "string" && spec.serviceAccountName !== "" ? spec.serviceAccountName : "default";
  const spiffeId = `spiffe://${cfg.trustDomain}/agent/${tenant}/${agent}/${role}`;
  const parsed = tryParseSpiffeId(spiffeId);
  if (!parsed.ok) return `labels make an invalid SPIFFE ID (${parsed.error.code})`;
  return { namespace: ns.name, serviceAccount: sa, tenant, agent, role, spiffeId };
}

function mode<T extends string>(
  annotations: Record<string, string>,
  key: string,
  allowed: readonly T[],
  dflt: T,
): T | string {
  const v = annotations[key];
  if (v === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(v))
    return `annotation ${key} must be ${allowed.join(" or ")}, not ${JSON.stringify(v)}`;
  return v as T;
}

/** Every agent container's effective uid (container, else pod securityContext); a message when one is not known. */
function agentUids(spec: K8s, containers: K8s[], cfg: InjectorConfig): number[] | string {
  const podUid = isObj(spec.securityContext) ? spec.securityContext.runAsUser : undefined;
  const uids = new Set<number>();
  for (const c of containers) {
    const sc = isObj(c.securityContext) ? c.securityContext : {};
    const uid = sc.runAsUser ?? podUid;
    if (typeof uid !== "number" || !Number.isInteger(uid) || uid < 0)
      return `transparent traffic redirects by uid: set securityContext.runAsUser on the pod or on container ${String(c.name)}`;
    if (uid === 0)
      return `container ${String(c.name)} runs as root, which could switch to the proxy's uid and bypass the redirect`;
    if (uid === cfg.proxyUid)
      return `container ${String(c.name)} runs as uid ${uid}, the proxy's uid (exempt from the redirect); use another uid`;
    uids.add(uid);
  }
  return [...uids].sort((a, b) => a - b);
}

function ourPorts(cfg: InjectorConfig, inbound: boolean): number[] {
  const p = [cfg.ports.outbound, cfg.ports.envoyHealth, cfg.ports.sidecarAdmin];
  if (cfg.ports.outboundJwt !== undefined) p.push(cfg.ports.outboundJwt);
  if (inbound) p.push(cfg.ports.inbound);
  return p;
}

/**
 * The mutation for one pod. Never throws for anything in the pod; a config that cannot render is caught
 * at injector start ({@link parseInjectorConfig}), and a render failure here is a refusal.
 */
export function injectPod(pod: unknown, ns: NamespaceInfo, cfg: InjectorConfig): InjectResult {
  if (!isObj(pod)) return refuse("the object is not a Pod");
  const meta = isObj(pod.metadata) ? pod.metadata : {};
  const spec = isObj(pod.spec) ? pod.spec : undefined;
  if (!spec || !Array.isArray(spec.containers) || spec.containers.length === 0)
    return refuse("the pod has no spec.containers");
  const labels = strMap(meta.labels);
  const annotations = strMap(meta.annotations);

  const containers = list(spec.containers);
  const inits = list(spec.initContainers);
  const names = new Set([...containers, ...inits].map((c) => c.name));
  const ours = [CONTAINER.envoy, CONTAINER.sidecar].filter((n) => names.has(n));
  const marked = annotations[ANNOTATION.injected] !== undefined;

  const scope = optIn(labels, ns, cfg);
  if (scope) {
    // not injected here, so it may not look injected either: the registrar would take a marker on a pod
    // the injector never checked for one once its namespace opts in (the chart sends every pod of a
    // tenant's namespace here)
    if ("skip" in scope && !cfg.excludedNamespaces.has(ns.name) && (marked || ours.length > 0))
      return refuse(`a pod that is not injected may not carry ${ANNOTATION.injected} or hexr-* containers`);
    return scope;
  }
  const shared = sharedNamespaces(spec);
  if (shared) return refuse(shared);
  if (marked && ours.length === 2) {
    // re-invocation (or a re-submitted injected pod): a no-op only when what is there is what the injector
    // adds, so a pod cannot bring its own "data plane" (another image, a bootstrap without ext_authz)
    const why = verifyInjected(labels, annotations, spec, [...inits, ...containers], ns, cfg);
    return why === undefined ? { patch: [], warnings: [] } : refuse(why);
  }
  if (marked || ours.length > 0 || names.has(CONTAINER.config) || names.has(CONTAINER.iptables)) {
    return refuse(
      marked
        ? `annotation ${ANNOTATION.injected} is set but the pod has no ${CONTAINER.envoy}/${CONTAINER.sidecar}: remove the annotation`
        : `the pod already has container(s) named ${[...names].filter((n) => String(n).startsWith("hexr-")).join(", ")} but was not injected: rename them`,
    );
  }
  const id = identity(labels, spec, ns, cfg);
  if (typeof id === "string") return refuse(id);
  const opts = podOptions(annotations, cfg);
  if (typeof opts === "string") return refuse(opts);
  const { sidecarMode, traffic, inboundAppPort } = opts;
  const reserved = ourPorts(cfg, inboundAppPort !== undefined);
  if (inboundAppPort !== undefined && reserved.includes(inboundAppPort))
    return refuse(
      `annotation ${ANNOTATION.inboundPort}=${inboundAppPort} is one of the data plane's ports (${reserved.join(", ")})`,
    );
  for (const c of [...containers, ...inits]) {
    for (const p of list(c.ports)) {
      if (typeof p.containerPort === "number" && reserved.includes(p.containerPort))
        return refuse(
          `container ${String(c.name)} uses port ${p.containerPort}, reserved for the data plane (${reserved.join(", ")})`,
        );
    }
  }
  const volNames = new Set(list(spec.volumes).map((v) => v.name));
  const ourVolumes = volumes(cfg);
  const clash = ourVolumes.map((v) => v.name).filter((n) => volNames.has(n));
  if (clash.length > 0)
    return refuse(`the pod already has volume(s) ${clash.join(", ")}, which the injector adds: rename them`);
  // a mount of a volume the injector is about to add would give the agent Envoy's admin socket, the authz
  // socket (forged Checks, raw credentials) or the SPIRE admin socket: pods name none of them
  const grab = foreignHexrMount([...containers, ...inits]) ?? secretAlias(spec, cfg);
  if (grab) return refuse(grab);

  let uids: number[] = [];
  const warnings: string[] = [];
  if (traffic === "transparent") {
    const u = agentUids(spec, containers, cfg);
    if (typeof u === "string") return refuse(u);
    uids = u;
    for (const c of containers) {
      const sc = isObj(c.securityContext) ? c.securityContext : {};
      if (sc.allowPrivilegeEscalation !== false)
        warnings.push(
          `hexr: container ${String(c.name)}: set allowPrivilegeEscalation: false (setuid binaries could leave the redirected uid)`,
        );
    }
  }

  let rendered: RenderedDataPlane;
  try {
    rendered = renderDataPlane(id, cfg, inboundAppPort !== undefined ? { inboundAppPort } : {});
  } catch (e) {
    return refuse(`cannot render the data plane: ${(e as Error).message}`);
  }
  for (const [what, text] of [
    ["Envoy bootstrap", rendered.envoy],
    ["sidecar config", rendered.sidecar],
  ] as const) {
    if (Buffer.byteLength(text) > MAX_RENDERED_BYTES)
      return refuse(`the rendered ${what} is over ${MAX_RENDERED_BYTES} bytes (too many upstreams for one pod)`);
  }

  const native = sidecarMode === "native";
  const ops: JsonPatchOp[] = [];
  const marker = JSON.stringify({ version: INJECTION_VERSION, spiffeId: id.spiffeId, traffic, sidecarMode });
  const newAnnotations: Record<string, string> = { [ANNOTATION.injected]: marker };
  if (annotations[ANNOTATION.defaultContainer] === undefined && typeof containers[0]?.name === "string")
    newAnnotations[ANNOTATION.defaultContainer] = containers[0].name;
  addToMap(ops, "/metadata/annotations", meta.annotations, newAnnotations);
  addToArray(ops, "/spec/volumes", spec.volumes, ourVolumes);

  const setup = [];
  if (traffic === "transparent") setup.push(iptablesContainer(cfg, iptablesScript(cfg, uids)));
  setup.push(configContainer(cfg, rendered));
  // The sidecar before Envoy: native sidecars start in order, each after its startup probe passes, so
  // Envoy never takes traffic before its authz server serves, and the agent starts after both.
  const proxies = [sidecarContainer(cfg, native), envoyContainer(cfg, native, inboundAppPort !== undefined)];
  if (native) {
    // ahead of the pod's own init containers, so they already run with the data plane up
    addToArray(ops, "/spec/initContainers", spec.initContainers, [...setup, ...proxies], true);
  } else {
    addToArray(ops, "/spec/initContainers", spec.initContainers, setup);
    addToArray(ops, "/spec/containers", spec.containers, proxies);
  }

  const env = agentEnv(cfg, traffic);
  containers.forEach((c, i) => {
    const have = new Set(list(c.env).map((e) => e.name));
    const add = env.filter((e) => !have.has(e.name));
    const kept = env.filter((e) => have.has(e.name)).map((e) => e.name);
    if (kept.length > 0) warnings.push(`hexr: container ${String(c.name)} sets ${kept.join(", ")} itself; left as is`);
    addToArray(ops, pointer("spec", "containers", i, "env"), c.env, add);
    if (cfg.agentWorkloadApi) {
      if (list(c.volumeMounts).some((m) => m.mountPath === PATHS.spire))
        warnings.push(
          `hexr: container ${String(c.name)} already mounts ${PATHS.spire}; the Workload API socket is not added`,
        );
      else addToArray(ops, pointer("spec", "containers", i, "volumeMounts"), c.volumeMounts, [agentSpireMount()]);
    }
  });
  return { patch: ops, warnings };
}

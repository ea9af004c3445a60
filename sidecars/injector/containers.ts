/**
 * The containers and volumes the injector adds. Names are fixed: they are how re-injection is detected
 * and how the registrar and operators find them (`kubectl logs -c hexr-envoy`).
 */
import type { InjectorConfig, ResourceSpec } from "./config.ts";
import { FILES, PATHS, POD_UID_TOKEN, type RenderedDataPlane } from "./render.ts";

export const CONTAINER = {
  envoy: "hexr-envoy",
  sidecar: "hexr-sidecar",
  config: "hexr-config",
  iptables: "hexr-iptables",
} as const;
export const VOLUME = {
  config: "hexr-config",
  run: "hexr-run",
  tmp: "hexr-tmp",
  spire: "hexr-spire-agent",
  spireAdmin: "hexr-spire-admin",
  policy: "hexr-policy",
  secret: (i: number) => `hexr-secret-${i}`,
} as const;
export const ENV_ENVOY = "HEXR_ENVOY_BOOTSTRAP";
export const ENV_SIDECAR = "HEXR_SIDECAR_CONFIG";
/** Each rendered file travels as one env value; Linux caps one env string at 128 KiB (MAX_ARG_STRLEN). */
export const MAX_RENDERED_BYTES = 96 * 1024;

type K8s = Record<string, unknown>;

export const ENV_POD_UID = "HEXR_POD_UID";

/**
 * Writes the env values to files without a shell: Node's builtin fs (the sidecar image's runtime).
 * The pod's UID (downward API) replaces {@link POD_UID_TOKEN}; a missing or malformed UID stops the pod.
 * tmp + rename, so a retried init container replaces the read-only files of an earlier try.
 */
const WRITE_SCRIPT = [
  'const fs = process.getBuiltinModule("node:fs");',
  `const uid = process.env.${ENV_POD_UID} ?? "";`,
  'if (!/^[0-9a-fA-F-]{8,64}$/.test(uid)) { console.error("hexr-config: the pod UID is missing or malformed"); process.exit(1); }',
  `for (const [k, f] of [["${ENV_ENVOY}", "${FILES.envoy}"], ["${ENV_SIDECAR}", "${FILES.sidecar}"]]) {`,
  `  const v = (process.env[k] ?? "").replaceAll(${JSON.stringify(POD_UID_TOKEN)}, uid);`,
  '  if (!v) { console.error("hexr-config: " + k + " is empty"); process.exit(1); }',
  `  const dst = "${PATHS.config}/" + f, tmp = dst + ".tmp";`,
  "  fs.rmSync(tmp, { force: true });",
  "  fs.writeFileSync(tmp, v, { mode: 0o444 });",
  "  fs.renameSync(tmp, dst);",
  "}",
].join("\n");

function securityContext(uid: number): K8s {
  return {
    runAsUser: uid,
    runAsGroup: uid,
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

function resources(r: ResourceSpec): K8s {
  const out: K8s = {};
  if (Object.keys(r.requests).length > 0) out.requests = { ...r.requests };
  if (Object.keys(r.limits).length > 0) out.limits = { ...r.limits };
  return out;
}

function mount(name: string, mountPath: string, readOnly = false): K8s {
  return readOnly ? { name, mountPath, readOnly: true } : { name, mountPath };
}

export function configContainer(cfg: InjectorConfig, rendered: RenderedDataPlane): K8s {
  return {
    name: CONTAINER.config,
    image: cfg.images.sidecar,
    imagePullPolicy: cfg.images.pullPolicy,
    command: ["node", "-e", WRITE_SCRIPT],
    env: [
      { name: ENV_POD_UID, valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
      { name: ENV_ENVOY, value: rendered.envoy },
      { name: ENV_SIDECAR, value: rendered.sidecar },
    ],
    resources: resources(cfg.resources.init),
    securityContext: securityContext(cfg.proxyUid),
    volumeMounts: [mount(VOLUME.config, PATHS.config)],
  };
}

/** istio-init's job for the agent's uid(s): runs as root with NET_ADMIN + NET_RAW, nothing else. */
export function iptablesContainer(cfg: InjectorConfig, script: string): K8s {
  return {
    name: CONTAINER.iptables,
    image: cfg.images.iptables,
    imagePullPolicy: cfg.images.pullPolicy,
    command: ["sh", "-c", script],
    resources: resources(cfg.resources.init),
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      privileged: false,
      // iptables takes /run/xtables.lock; it runs for a moment and touches nothing else
      readOnlyRootFilesystem: false,
      capabilities: { drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
  };
}

function httpProbe(port: number, periodSeconds: number, failureThreshold: number): K8s {
  return { httpGet: { path: "/ready", port }, periodSeconds, failureThreshold, timeoutSeconds: 1 };
}

function tcpProbe(port: number): K8s {
  return { tcpSocket: { port }, periodSeconds: 10, failureThreshold: 6, timeoutSeconds: 1 };
}

/**
 * Probes: startup on `/ready` (native sidecars: the next container, and so the agent, starts only once it
 * passes), readiness on `/ready`, liveness on the TCP port only (a drained or not-yet-ready proxy is not a
 * dead one; restarting it would not help).
 */
function probes(port: number): K8s {
  return {
    startupProbe: httpProbe(port, 1, 120),
    readinessProbe: httpProbe(port, 5, 3),
    livenessProbe: tcpProbe(port),
  };
}

export function envoyContainer(cfg: InjectorConfig, native: boolean, inbound: boolean): K8s {
  const ports: K8s[] = [{ name: "hexr-health", containerPort: cfg.ports.envoyHealth, protocol: "TCP" }];
  if (inbound) ports.push({ name: "hexr-inbound", containerPort: cfg.ports.inbound, protocol: "TCP" });
  return {
    name: CONTAINER.envoy,
    image: cfg.images.envoy,
    imagePullPolicy: cfg.images.pullPolicy,
    command: ["envoy"],
    args: [
      "-c",
      `${PATHS.config}/${FILES.envoy}`,
      "--concurrency",
      String(cfg.envoy.concurrency ?? 2),
      // pods share an IPC namespace; hot restart's shared memory is not needed for one Envoy per pod
      "--disable-hot-restart",
    ],
    ...(native ? { restartPolicy: "Always" } : {}),
    ports,
    resources: resources(cfg.resources.envoy),
    securityContext: securityContext(cfg.proxyUid),
    volumeMounts: [
      mount(VOLUME.config, PATHS.config, true),
      mount(VOLUME.run, PATHS.run),
      mount(VOLUME.spire, PATHS.spire, true),
    ],
    ...probes(cfg.ports.envoyHealth),
  };
}

export function sidecarContainer(cfg: InjectorConfig, native: boolean): K8s {
  const mounts = [
    mount(VOLUME.config, PATHS.config, true),
    mount(VOLUME.run, PATHS.run),
    mount(VOLUME.spire, PATHS.spire, true),
    mount(VOLUME.policy, PATHS.policy, true),
    mount(VOLUME.tmp, PATHS.tmp),
  ];
  if (cfg.spire.adminSocket) mounts.push(mount(VOLUME.spireAdmin, PATHS.spireAdmin, true));
  cfg.secretMounts.forEach((s, i) => {
    mounts.push(mount(VOLUME.secret(i), s.mountPath, true));
  });
  return {
    name: CONTAINER.sidecar,
    image: cfg.images.sidecar,
    imagePullPolicy: cfg.images.pullPolicy,
    command: ["hexr", "sidecar", "--config", `${PATHS.config}/${FILES.sidecar}`],
    ...(native ? { restartPolicy: "Always" } : {}),
    ports: [{ name: "hexr-admin", containerPort: cfg.ports.sidecarAdmin, protocol: "TCP" }],
    resources: resources(cfg.resources.sidecar),
    securityContext: securityContext(cfg.proxyUid),
    volumeMounts: mounts,
    ...probes(cfg.ports.sidecarAdmin),
  };
}

/** The Workload API socket directory, as the agent containers mount it (read-only). */
export function agentSpireMount(): K8s {
  return mount(VOLUME.spire, PATHS.spire, true);
}

export function volumes(cfg: InjectorConfig): K8s[] {
  const s = cfg.spire.socket;
  const out: K8s[] = [
    { name: VOLUME.config, emptyDir: { medium: "Memory", sizeLimit: "4Mi" } },
    { name: VOLUME.run, emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
    { name: VOLUME.tmp, emptyDir: { sizeLimit: "64Mi" } },
    s.mode === "csi"
      ? { name: VOLUME.spire, csi: { driver: s.driver, readOnly: true } }
      : { name: VOLUME.spire, hostPath: { path: s.path, type: "Directory" } },
    // optional: false — without its policy the sidecar must not start (the pod waits, with an event saying why)
    { name: VOLUME.policy, configMap: { name: cfg.policy.configMap, optional: false } },
  ];
  if (cfg.spire.adminSocket)
    out.push({ name: VOLUME.spireAdmin, hostPath: { path: cfg.spire.adminSocket.hostPath, type: "Directory" } });
  cfg.secretMounts.forEach((m, i) => {
    out.push({ name: VOLUME.secret(i), secret: { secretName: m.secret, optional: false } });
  });
  return out;
}

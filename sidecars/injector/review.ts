/**
 * AdmissionReview v1 in, AdmissionReview v1 out. Never throws: whatever arrives gets an answer, and an
 * answer that is not a clean "allowed" is a denial with its reason (`failurePolicy: Fail` for opted-in
 * namespaces: an agent pod never starts without its data plane, so doubt means no).
 *
 * @example
 *   const out = reviewAdmission(JSON.parse(body), cfg, { namespaceLabels: (n) => informer.get(n)?.labels });
 */
import type { InjectorConfig } from "./config.ts";
import { ANNOTATION, injectPod, LABEL, type NamespaceInfo } from "./inject.ts";

const API_VERSION = "admission.k8s.io/v1";
/** Kubernetes shows warnings as `Warning:` lines; more than a few, or long ones, help nobody. */
const MAX_WARNINGS = 8;
const MAX_WARNING_CHARS = 256;

export interface AdmissionReviewContext {
  /** Labels of a namespace, from an informer cache in the server (not a read per request). */
  namespaceLabels?: (name: string) => Readonly<Record<string, string>> | undefined;
  /**
   * The webhook entry that sent this review selects opted-in namespaces (its `namespaceSelector` is
   * `hexr.io/inject: "true"`; the server knows it from the URL path): the namespace counts as opted in
   * even when the cache has not seen its labels yet. Its `hexr.io/tenant` label must still come from
   * `namespaceLabels`: without it the pod is refused (fail closed), never given a tenant of its own choosing.
   */
  namespaceOptedIn?: boolean;
}

export interface AdmissionReviewResponse {
  apiVersion: typeof API_VERSION;
  kind: "AdmissionReview";
  response: {
    uid: string;
    allowed: boolean;
    patchType?: "JSONPatch";
    patch?: string;
    status?: { code: number; message: string };
    warnings?: string[];
  };
}

type K8s = Record<string, unknown>;
const isObj = (v: unknown): v is K8s => v !== null && typeof v === "object" && !Array.isArray(v);

function answer(uid: string, r: Omit<AdmissionReviewResponse["response"], "uid">): AdmissionReviewResponse {
  return { apiVersion: API_VERSION, kind: "AdmissionReview", response: { uid, ...r } };
}

function deny(uid: string, code: number, message: string): AdmissionReviewResponse {
  return answer(uid, { allowed: false, status: { code, message } });
}

function trimWarnings(ws: string[]): string[] {
  return ws
    .slice(0, MAX_WARNINGS)
    .map((w) => (w.length > MAX_WARNING_CHARS ? `${w.slice(0, MAX_WARNING_CHARS - 1)}…` : w));
}

const IDENTITY_LABELS = [LABEL.inject, LABEL.tenant, LABEL.agent, LABEL.role] as const;

const meta = (o: unknown): K8s => (isObj(o) && isObj(o.metadata) ? o.metadata : {});
const strings = (o: unknown): Record<string, unknown> => (isObj(o) ? o : {});
const podContainers = (o: unknown): K8s[] => {
  const spec = isObj(o) && isObj(o.spec) ? o.spec : {};
  return [spec.initContainers, spec.containers, spec.ephemeralContainers].flatMap((l) =>
    Array.isArray(l) ? l.filter(isObj) : [],
  );
};

/**
 * Admission only runs on CREATE, but labels, annotations and container images can be changed on a running
 * pod: changing what made its identity and its data plane (the identity labels, the marker, a hexr-*
 * container's image) would give a pod that was never reviewed — or was reviewed as something else — an
 * agent identity without the data plane. Such updates are refused; delete and create the pod instead.
 */
function podUpdateRefusal(oldPod: unknown, pod: unknown): string | undefined {
  const [ol, nl] = [strings(meta(oldPod).labels), strings(meta(pod).labels)];
  for (const l of IDENTITY_LABELS) {
    if (ol[l] !== nl[l]) return `label ${l} cannot change on a running pod; delete and create the pod instead`;
  }
  const [oa, na] = [strings(meta(oldPod).annotations), strings(meta(pod).annotations)];
  // the marker, and the per-process identities the registrar derives from the pod
  for (const a of [ANNOTATION.injected, ANNOTATION.subAgents]) {
    if (oa[a] !== na[a]) return `annotation ${a} cannot change on a running pod`;
  }
  const before = new Map(podContainers(oldPod).map((c) => [c.name, c.image]));
  for (const c of podContainers(pod)) {
    if (typeof c.name === "string" && c.name.startsWith("hexr-") && before.get(c.name) !== c.image)
      return `the image of ${c.name} cannot change on a running pod`;
  }
  return undefined;
}

/** Ephemeral (debug) containers are fine, but not with the data plane's volumes (its sockets and keys). */
function ephemeralRefusal(pod: unknown): string | undefined {
  const spec = isObj(pod) && isObj(pod.spec) ? pod.spec : {};
  for (const c of Array.isArray(spec.ephemeralContainers) ? spec.ephemeralContainers.filter(isObj) : []) {
    if (typeof c.targetContainerName === "string" && c.targetContainerName.startsWith("hexr-"))
      return `ephemeral container ${String(c.name)} targets ${c.targetContainerName}: the data plane's containers are not for debugging`;
    for (const m of Array.isArray(c.volumeMounts) ? c.volumeMounts.filter(isObj) : []) {
      if (typeof m.name === "string" && m.name.startsWith("hexr-"))
        return `ephemeral container ${String(c.name)} mounts volume ${m.name}: the data plane's volumes are not for debugging`;
    }
  }
  return undefined;
}

export function reviewAdmission(
  review: unknown,
  cfg: InjectorConfig,
  ctx: AdmissionReviewContext = {},
): AdmissionReviewResponse {
  try {
    return review0(review, cfg, ctx);
  } catch (e) {
    // a bug, not the pod's fault; still no pod without its data plane
    const uid =
      isObj(review) && isObj(review.request) && typeof review.request.uid === "string" ? review.request.uid : "";
    return deny(uid, 500, `hexr: injector error: ${(e as Error)?.message ?? String(e)}`);
  }
}

function review0(review: unknown, cfg: InjectorConfig, ctx: AdmissionReviewContext): AdmissionReviewResponse {
  if (!isObj(review)) return deny("", 400, "hexr: the request body is not an AdmissionReview object");
  const req = review.request;
  const uid = isObj(req) && typeof req.uid === "string" ? req.uid : "";
  if (review.apiVersion !== API_VERSION || review.kind !== "AdmissionReview")
    return deny(uid, 400, `hexr: expected kind AdmissionReview, apiVersion ${API_VERSION}`);
  if (!isObj(req) || uid === "") return deny(uid, 400, "hexr: AdmissionReview without request.uid");
  const kind = isObj(req.kind) ? req.kind : {};
  const isPod = kind.group === "" && kind.version === "v1" && kind.kind === "Pod";
  const sub = typeof req.subResource === "string" ? req.subResource : "";
  if (isPod && req.operation === "UPDATE") {
    const why =
      sub === ""
        ? podUpdateRefusal(req.oldObject, req.object)
        : sub === "ephemeralcontainers"
          ? ephemeralRefusal(req.object)
          : undefined;
    return why === undefined ? answer(uid, { allowed: true }) : deny(uid, 403, `hexr: ${why}`);
  }
  // Only pod creation is mutated; other objects and operations pass.
  if (!isPod || req.operation !== "CREATE" || sub !== "") return answer(uid, { allowed: true });
  const pod = req.object;
  const podNs = isObj(pod) && isObj(pod.metadata) ? pod.metadata.namespace : undefined;
  const nsName = typeof req.namespace === "string" && req.namespace !== "" ? req.namespace : podNs;
  if (typeof nsName !== "string" || nsName === "") return deny(uid, 400, "hexr: the request names no namespace");
  const labels: Record<string, string> = { ...(ctx.namespaceLabels?.(nsName) ?? {}) };
  if (ctx.namespaceOptedIn) labels[LABEL.inject] = "true";
  const ns: NamespaceInfo = { name: nsName, labels };
  const r = injectPod(pod, ns, cfg);
  if ("refuse" in r) return deny(uid, 403, r.refuse);
  if ("skip" in r) {
    const podLabels = isObj(pod) && isObj(pod.metadata) && isObj(pod.metadata.labels) ? pod.metadata.labels : {};
    // say so when the pod asked for injection and did not get it
    return podLabels[LABEL.inject] === "true"
      ? answer(uid, { allowed: true, warnings: [`hexr: not injected: ${r.skip}`] })
      : answer(uid, { allowed: true });
  }
  const warnings = trimWarnings(r.warnings);
  if (r.patch.length === 0) return answer(uid, { allowed: true, ...(warnings.length ? { warnings } : {}) });
  return answer(uid, {
    allowed: true,
    patchType: "JSONPatch",
    patch: Buffer.from(JSON.stringify(r.patch)).toString("base64"),
    ...(warnings.length ? { warnings } : {}),
  });
}

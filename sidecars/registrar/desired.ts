/**
 * Pods → the SPIRE registration entries they should have. Pure: no I/O, no clock; the same pods and
 * config always give the same entries (same IDs, same order), which is what makes the reconcile loop safe
 * to run twice or after a restart.
 *
 * **Which pods.** Those with any `hexr.io/tenant|agent|role` label. A pod with all three valid gets one
 * entry, SPIFFE ID `spiffe://<td>/agent/<tenant>/<agent>/<role>`; a pod missing one, or with a value that
 * is not a SPIFFE path segment (`[A-Za-z0-9._-]`, not `.`/`..`), is skipped and reported — never registered
 * under a guessed or normalized ID. Only pods in phase Running or Pending (or no phase yet) that are bound
 * to a node and not being deleted (`metadata.deletionTimestamp`) get entries: Succeeded, Failed and
 * Unknown pods, and terminating ones, have none.
 *
 * **Who may claim a tenant's identity.** The pod's labels alone would let anyone who can create a pod
 * anywhere claim any tenant's agents. A pod gets entries only when (1) its namespace is not excluded
 * (`hexr-system`, `kube-system` and {@link RegistrarConfig.excludedNamespaces}); (2) its namespace carries
 * the label `hexr.io/tenant` with the pod's tenant — namespaces are labelled by cluster admins, not by the
 * tenant's pod creators (the injector applies the same rule at admission); (3) it carries the injector's
 * marker annotation `hexr.io/injected` (`requireInjected`, default on) and is in the webhook's scope (pod or
 * namespace labelled `hexr.io/inject: "true"`, the pod not opted out): the webhook admits a marked pod only
 * when its hexr containers are exactly what it would add, so a pod that went around the data plane (or
 * brought its own) gets no identity; and when the
 * marker records the SPIFFE ID the pod was admitted with, the labels must still name it (labels can be
 * edited on a running pod; its Envoy was configured for the admitted ID: `identity_changed`). Namespace labels
 * come from the watcher (the `namespaces` map); a pod in a namespace not seen yet is deferred
 * (`namespace_unknown`). Inside one tenant namespace, whoever may create pods may claim any agent and role
 * of that tenant: one namespace per trust boundary (see sidecars/injector/README.md).
 *
 * **Selectors.** {@link podSelectors}: `k8s:ns:<namespace>`, `k8s:sa:<serviceAccountName or "default">`
 * and `k8s:pod-uid:<uid>`, what SPIRE's `k8s` workload attestor produces for every process of the pod. The
 * pod UID pins the entry to this one pod. The injector gives the sidecar the same three for the Delegated
 * Identity API (SPIRE returns entries whose selectors are a subset of those asked with), the UID filled in
 * by the config init container from the downward API, since a pod has no UID at admission.
 *
 * **Sub-agents.** The `hexr.io/sub-agents` annotation, a JSON list of `{"name", "uid"?, "path"?}` (at least
 * one of uid and path), gives per-process identities inside the pod: `.../<role>/<name>` with the pod's
 * selectors plus `unix:uid:<uid>` and/or `unix:path:<path>` (SPIRE's `unix` workload attestor; `path`
 * needs its `discover_workload_path`). A process matching one also matches the pod's own entry and gets
 * both SVIDs. An annotation that does not parse or has one bad item is ignored as a whole (the pod's own
 * entry stays) and reported: a half-applied list would be harder to see than none.
 *
 * **Parent ID.** The SPIRE agent on the pod's node, from {@link RegistrarConfig.parentIdTemplate} with
 * `{trustDomain}`, `{cluster}`, `{nodeName}` and `{nodeUid}` replaced. The default is the ID SPIRE's
 * `k8s_psat` node attestor gives an agent, `spiffe://{trustDomain}/spire/agent/k8s_psat/{cluster}/{nodeUid}`;
 * `{nodeUid}` needs the node's UID (the `nodes` map, nodeName → UID, which the pod watcher fills from
 * Node objects): a pod on a node not in it is deferred (reported `node_unknown`), never parented to a
 * guess. A cluster that gives its agents a node alias instead (an entry with selector
 * `k8s_psat:cluster:<cluster>` and ID e.g. `spiffe://<td>/k8s/<cluster>/nodes`) sets a template without
 * node placeholders.
 *
 * **Entry IDs and ownership.** `<owner>.<pod-uid>` for the pod, `<owner>.<pod-uid>.<sub-agent>` for a
 * sub-agent (SPIRE takes caller-chosen IDs of up to 255 `[A-Za-z0-9._-]`). Deterministic, so a re-run or a
 * restart finds the entries it made instead of duplicating them; and the `owner` prefix (default
 * `hexr-registrar`, no dots) is how the reconcile loop knows an entry is its own — it never touches an
 * entry whose ID lacks it (SPIRE-generated IDs are UUIDs, so a hand-made entry never has it). Give each
 * registrar sharing a SPIRE server (one per cluster) its own owner. The entry `hint` is left to its real
 * use (telling a workload's SVIDs apart: it reaches workloads over the Workload API).
 *
 * @example
 *   const cfg = resolveConfig({ trustDomain: "hexr.cloud", cluster: "prod" });
 *   const { entries, problems } = desiredEntries(pods, cfg, {
 *     nodes: new Map([["node-a", "3b1f…"]]), namespaces: new Map([["tenant-acme", { "hexr.io/tenant": "acme" }]]) });
 */
import { HexrError } from "../../filters/errors.ts";
import { ALWAYS_EXCLUDED_NAMESPACES, ANNOTATION, LABEL, podSelectors } from "../kube/identity.ts";

export { podSelectors };

export const LABEL_TENANT = LABEL.tenant;
export const LABEL_AGENT = LABEL.agent;
export const LABEL_ROLE = LABEL.role;
export const ANNOTATION_INJECTED = ANNOTATION.injected;
export const ANNOTATION_SUB_AGENTS = ANNOTATION.subAgents;
export const DEFAULT_OWNER = "hexr-registrar";
export const DEFAULT_PARENT_ID_TEMPLATE = "spiffe://{trustDomain}/spire/agent/k8s_psat/{cluster}/{nodeUid}";
/** SPIRE's limit on an entry ID. */
export const MAX_ENTRY_ID_LENGTH = 255;
/** Kubernetes label values are at most 63 characters; sub-agent names get the same bound. */
export const MAX_SUB_AGENT_NAME_LENGTH = 63;
export const MAX_SUB_AGENTS_PER_POD = 32;
/** Pod UIDs longer than this are refused (Kubernetes' are 36-character UUIDs). */
export const MAX_POD_UID_LENGTH = 128;
/** owner + "." + pod UID + "." + sub-agent name stays within {@link MAX_ENTRY_ID_LENGTH}. */
export const MAX_OWNER_LENGTH = 48;
const MAX_ANNOTATION_BYTES = 16 * 1024;
const PLACEHOLDERS = ["trustDomain", "cluster", "nodeName", "nodeUid"] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

/** The subset of a Kubernetes Pod the registrar reads (plain JSON, as the API server returns it). */
export interface PodJson {
  readonly metadata?: {
    readonly uid?: string;
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly deletionTimestamp?: string | null;
  };
  readonly spec?: { readonly nodeName?: string; readonly serviceAccountName?: string };
  readonly status?: { readonly phase?: string };
}

export interface RegistrarConfig {
  /** SPIRE's trust domain (`a-z 0-9 . _ -`). */
  readonly trustDomain: string;
  /** The parent ID of a pod's entries; see the module comment. Default {@link DEFAULT_PARENT_ID_TEMPLATE}. */
  readonly parentIdTemplate?: string;
  /** `{cluster}` in the template: the `cluster` of SPIRE's `k8s_psat` node attestor. */
  readonly cluster?: string;
  /** Entry ID prefix marking entries as this registrar's (`[A-Za-z0-9_-]`). Default {@link DEFAULT_OWNER}. */
  readonly owner?: string;
  /** X.509-SVID lifetime in seconds for every entry (default 0: the server's). */
  readonly x509SvidTtl?: number;
  /** JWT-SVID lifetime in seconds (default 0: the server's). */
  readonly jwtSvidTtl?: number;
  /** Namespaces whose pods never get entries, besides `hexr-system` and `kube-system`. */
  readonly excludedNamespaces?: readonly string[];
  /** Only pods with the injector's marker annotation get entries (default true). */
  readonly requireInjected?: boolean;
}

/** What the watcher knows besides pods: node name → UID, namespace name → labels. */
export interface ClusterView {
  readonly nodes: ReadonlyMap<string, string>;
  readonly namespaces: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

export interface ResolvedConfig {
  readonly trustDomain: string;
  readonly parentIdTemplate: string;
  readonly cluster: string | undefined;
  readonly owner: string;
  readonly x509SvidTtl: number;
  readonly jwtSvidTtl: number;
  readonly excludedNamespaces: ReadonlySet<string>;
  readonly requireInjected: boolean;
}

export interface Selector {
  readonly type: string;
  readonly value: string;
}

/** One registration entry the registrar wants in SPIRE. */
export interface DesiredEntry {
  readonly id: string;
  readonly spiffeId: string;
  readonly parentId: string;
  /** Sorted by type, then value. */
  readonly selectors: readonly Selector[];
  readonly x509SvidTtl: number;
  readonly jwtSvidTtl: number;
  /** Where it comes from (for reports; not sent to SPIRE). */
  readonly pod: PodRef;
  readonly subAgent?: string;
}

export interface PodRef {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
}

export type PodProblemCode =
  /** No usable metadata.uid / namespace / name. */
  | "bad_pod"
  /** A `hexr.io/*` identity label missing or not a SPIFFE path segment: the pod gets no entry. */
  | "bad_labels"
  /** The sub-agents annotation is ignored; the pod's own entry stays. */
  | "bad_sub_agents"
  /** The parent ID needs the node's UID and the node is not known yet: deferred. */
  | "node_unknown"
  /** The pod's namespace has not been seen yet: deferred. */
  | "namespace_unknown"
  /** The namespace is `hexr-system`, `kube-system` or configured as excluded. */
  | "excluded_namespace"
  /** The namespace has no `hexr.io/tenant` label, or another tenant's. */
  | "tenant_mismatch"
  /** No injector marker: the pod was not admitted through the data plane. */
  | "not_injected"
  /** The identity labels were changed after admission: they no longer name the ID in the marker. */
  | "identity_changed"
  /** The node name or cluster cannot go into the parent ID template. */
  | "bad_parent";

export interface PodProblem {
  readonly code: PodProblemCode;
  readonly message: string;
  readonly pod: Partial<PodRef>;
}

export interface DesiredState {
  readonly entries: readonly DesiredEntry[];
  readonly problems: readonly PodProblem[];
}

const SEGMENT = /^[A-Za-z0-9._-]+$/;
const OWNER = /^[A-Za-z0-9_-]+$/;
/** Pod UIDs are UUIDs; anything of these characters keeps `<owner>.<uid>.<name>` unambiguous. */
const POD_UID = /^[A-Za-z0-9-]+$/;
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;

/** A SPIFFE ID path segment: `[A-Za-z0-9._-]`, not `.` or `..` (SPIFFE ID spec; SPIRE enforces it). */
export function isPathSegment(s: unknown): s is string {
  return typeof s === "string" && SEGMENT.test(s) && s !== "." && s !== "..";
}

/** Checks and fills in defaults; throws `config.invalid` naming the field. */
export function resolveConfig(c: RegistrarConfig): ResolvedConfig {
  const bad = (field: string, why: string) => new HexrError("config.invalid", `registrar.${field}: ${why}`);
  if (!TRUST_DOMAIN.test(c.trustDomain ?? "")) throw bad("trust_domain", "must be a trust domain name (a-z 0-9 . _ -)");
  const owner = c.owner ?? DEFAULT_OWNER;
  if (!OWNER.test(owner) || owner.length > MAX_OWNER_LENGTH) {
    throw bad("owner", `must be 1-${MAX_OWNER_LENGTH} of A-Z a-z 0-9 _ -`);
  }
  if (c.cluster !== undefined && !isPathSegment(c.cluster)) throw bad("cluster", "must be a SPIFFE path segment");
  const template = c.parentIdTemplate ?? DEFAULT_PARENT_ID_TEMPLATE;
  if (!template.startsWith("spiffe://")) throw bad("parent_id_template", "must start with spiffe://");
  const used = new Set<string>();
  for (const m of template.matchAll(/\{([^}]*)\}/g)) used.add(m[1] as string);
  for (const name of used) {
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      throw bad(
        "parent_id_template",
        `unknown placeholder {${name}} (known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(" ")})`,
      );
    }
  }
  if (used.has("cluster") && c.cluster === undefined)
    throw bad("cluster", "required by parent_id_template's {cluster}");
  // every placeholder stands for one path segment (or the trust domain): check the rest with stand-ins
  const sample = expand(template, { trustDomain: c.trustDomain, cluster: "c", nodeName: "n", nodeUid: "u" });
  const why = checkMemberId(sample, c.trustDomain);
  if (why) throw bad("parent_id_template", why);
  for (const [field, v] of [
    ["x509_svid_ttl", c.x509SvidTtl],
    ["jwt_svid_ttl", c.jwtSvidTtl],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1)) {
      throw bad(field, "must be a whole number of seconds ≥ 0 (0: the server's default)");
    }
  }
  const excluded = new Set<string>(ALWAYS_EXCLUDED_NAMESPACES);
  for (const ns of c.excludedNamespaces ?? []) {
    if (typeof ns !== "string" || ns === "") throw bad("excluded_namespaces", "must be a list of namespace names");
    excluded.add(ns);
  }
  if (c.requireInjected !== undefined && typeof c.requireInjected !== "boolean") {
    throw bad("require_injected", "must be true or false");
  }
  return {
    trustDomain: c.trustDomain,
    parentIdTemplate: template,
    excludedNamespaces: excluded,
    requireInjected: c.requireInjected ?? true,
    cluster: c.cluster,
    owner,
    x509SvidTtl: c.x509SvidTtl ?? 0,
    jwtSvidTtl: c.jwtSvidTtl ?? 0,
  };
}

const PLACEHOLDER_RE = /\{(trustDomain|cluster|nodeName|nodeUid)\}/g;

function expand(template: string, values: Partial<Record<Placeholder, string>>): string {
  return template.replace(PLACEHOLDER_RE, (_, name: Placeholder) => values[name] ?? "");
}

/** Why `id` is not a SPIFFE ID in trust domain `td` (undefined when it is). */
function checkMemberId(id: string, td: string): string | undefined {
  const m = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(id);
  if (!m) return "must be spiffe://<trust domain>/<path>";
  if (m[1] !== td) return `must be in trust domain ${td}`;
  const p = m[2];
  if (p === undefined) return undefined; // the trust domain's own ID
  const segs = p.slice(1).split("/");
  if (!segs.every(isPathSegment)) return "path segments must be A-Z a-z 0-9 . _ - (not empty, . or ..)";
  return undefined;
}

/** `spiffe://<td>/agent/<tenant>/<agent>/<role>` (segments already validated). */
export function agentSpiffeId(td: string, tenant: string, agent: string, role: string): string {
  return `spiffe://${td}/agent/${tenant}/${agent}/${role}`;
}

/** The entry ID of a pod's own entry, or of one of its sub-agents. */
export function entryId(owner: string, podUid: string, subAgent?: string): string {
  return subAgent === undefined ? `${owner}.${podUid}` : `${owner}.${podUid}.${subAgent}`;
}

/** Whether an entry ID was made by the registrar with this owner. */
export function isOwnedEntryId(owner: string, id: string): boolean {
  return id.startsWith(`${owner}.`);
}

/** The pod UID an owned entry ID belongs to (undefined when not owned). */
export function podUidOfEntryId(owner: string, id: string): string | undefined {
  if (!isOwnedEntryId(owner, id)) return undefined;
  const rest = id.slice(owner.length + 1);
  const dot = rest.indexOf(".");
  return dot < 0 ? rest : rest.slice(0, dot);
}

/** The SPIFFE ID the injector's marker records (undefined when it records none or does not parse). */
function markerSpiffeId(marker: string): string | undefined {
  if (marker.length > 4096) return undefined;
  try {
    const m = JSON.parse(marker) as { spiffeId?: unknown };
    return typeof m?.spiffeId === "string" ? m.spiffeId : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the pod carries any of the identity labels (only those are the registrar's business). */
export function isHexrPod(pod: PodJson): boolean {
  const l = pod.metadata?.labels ?? {};
  return LABEL_TENANT in l || LABEL_AGENT in l || LABEL_ROLE in l;
}

/** Whether a pod in this state should have entries at all (phase, node binding, deletion). */
export function podWantsIdentity(pod: PodJson): boolean {
  const phase = pod.status?.phase;
  if (phase !== undefined && phase !== "" && phase !== "Running" && phase !== "Pending") return false;
  if (pod.metadata?.deletionTimestamp) return false;
  return typeof pod.spec?.nodeName === "string" && pod.spec.nodeName !== "";
}

interface SubAgent {
  readonly name: string;
  readonly uid?: number;
  readonly path?: string;
}

/** The sub-agents annotation, all or nothing: the list, or why it is refused. */
export function parseSubAgents(raw: string): { subAgents: SubAgent[] } | { error: string } {
  if (raw.length > MAX_ANNOTATION_BYTES) return { error: `longer than ${MAX_ANNOTATION_BYTES} bytes` };
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return { error: "not JSON" };
  }
  if (!Array.isArray(v)) return { error: "must be a JSON list of {name, uid?, path?}" };
  if (v.length > MAX_SUB_AGENTS_PER_POD) return { error: `more than ${MAX_SUB_AGENTS_PER_POD} sub-agents` };
  const out: SubAgent[] = [];
  const seen = new Set<string>();
  for (const [i, item] of v.entries()) {
    const at = `[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) return { error: `${at}: must be an object` };
    const o = item as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (k !== "name" && k !== "uid" && k !== "path") return { error: `${at}: unknown field ${JSON.stringify(k)}` };
    }
    if (!isPathSegment(o.name) || o.name.length > MAX_SUB_AGENT_NAME_LENGTH) {
      return { error: `${at}.name: must be a SPIFFE path segment of at most ${MAX_SUB_AGENT_NAME_LENGTH} characters` };
    }
    if (seen.has(o.name)) return { error: `${at}.name: ${o.name} appears twice` };
    seen.add(o.name);
    if (o.uid === undefined && o.path === undefined) return { error: `${at}: needs uid or path (or both)` };
    if (o.uid !== undefined && (!Number.isInteger(o.uid) || (o.uid as number) < 0 || (o.uid as number) > 2 ** 32 - 2)) {
      return { error: `${at}.uid: must be a non-negative integer` };
    }
    if (
      o.path !== undefined &&
      (typeof o.path !== "string" || !o.path.startsWith("/") || o.path.length > 4096 || /[\0-\x1f]/.test(o.path))
    ) {
      return { error: `${at}.path: must be an absolute executable path` };
    }
    out.push({
      name: o.name,
      ...(o.uid !== undefined ? { uid: o.uid as number } : {}),
      ...(o.path !== undefined ? { path: o.path as string } : {}),
    });
  }
  return { subAgents: out };
}

function sortSelectors(s: Selector[]): Selector[] {
  return s.sort((a, b) => (a.type === b.type ? cmp(a.value, b.value) : cmp(a.type, b.type)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The entries of one pod, and what was wrong with it. A pod without identity labels, or one that should
 * not have an identity now (see {@link podWantsIdentity}), gives neither entries nor problems.
 */
export function desiredForPod(pod: PodJson, config: ResolvedConfig, view: ClusterView): DesiredState {
  if (!isHexrPod(pod) || !podWantsIdentity(pod)) return { entries: [], problems: [] };
  const md = pod.metadata ?? {};
  const ref: Partial<PodRef> = {
    ...(md.uid ? { uid: md.uid } : {}),
    ...(md.namespace ? { namespace: md.namespace } : {}),
    ...(md.name ? { name: md.name } : {}),
  };
  const problem = (code: PodProblemCode, message: string): DesiredState => ({
    entries: [],
    problems: [{ code, message, pod: ref }],
  });
  if (typeof md.uid !== "string" || !POD_UID.test(md.uid) || md.uid.length > MAX_POD_UID_LENGTH) {
    return problem("bad_pod", "metadata.uid is missing or not a UID");
  }
  if (!md.namespace || !md.name) return problem("bad_pod", "metadata.namespace and metadata.name are required");
  const podRef: PodRef = { uid: md.uid, namespace: md.namespace, name: md.name };

  // a mirror pod is the API server's copy of a static pod a kubelet runs from its own files: it never went
  // through admission, and its node alone decides what it is
  if (md.annotations?.["kubernetes.io/config.mirror"] !== undefined) {
    return problem("not_injected", "a mirror (static) pod: never admitted by the API server's webhooks");
  }
  if (config.excludedNamespaces.has(md.namespace)) {
    return problem("excluded_namespace", `namespace ${md.namespace} never gets agent identities`);
  }
  const nsLabels = view.namespaces.get(md.namespace);
  if (nsLabels === undefined) return problem("namespace_unknown", `namespace ${md.namespace} is not known yet`);
  const labels = md.labels ?? {};
  const badLabels: string[] = [];
  for (const l of [LABEL_TENANT, LABEL_AGENT, LABEL_ROLE]) {
    if (!(l in labels)) badLabels.push(`${l} is missing`);
    else if (!isPathSegment(labels[l])) badLabels.push(`${l} is not a SPIFFE path segment (A-Z a-z 0-9 . _ -)`);
  }
  if (badLabels.length > 0) return problem("bad_labels", badLabels.join("; "));
  const nsTenant = nsLabels[LABEL_TENANT];
  if (nsTenant !== labels[LABEL_TENANT]) {
    return problem(
      "tenant_mismatch",
      nsTenant === undefined
        ? `namespace ${md.namespace} has no ${LABEL_TENANT} label: agents run only in namespaces labelled with their tenant`
        : `${LABEL_TENANT}=${labels[LABEL_TENANT]} does not match namespace ${md.namespace}'s ${LABEL_TENANT}=${nsTenant}`,
    );
  }
  const spiffeId = agentSpiffeId(
    config.trustDomain,
    labels[LABEL_TENANT] as string,
    labels[LABEL_AGENT] as string,
    labels[LABEL_ROLE] as string,
  );
  if (config.requireInjected) {
    // in the webhook's scope, as its selectors are: outside it the API server never asks the injector,
    // so a marker there was written by hand and nobody checked the pod's containers
    const podIn = labels[LABEL.inject];
    if (!(podIn === "true" || (nsLabels[LABEL.inject] === "true" && podIn !== "false"))) {
      return problem(
        "not_injected",
        `neither the pod nor namespace ${md.namespace} opts in to injection (${LABEL.inject}): the webhook never reviewed it`,
      );
    }
    const marker = md.annotations?.[ANNOTATION_INJECTED];
    if (marker === undefined) {
      return problem(
        "not_injected",
        `no ${ANNOTATION_INJECTED} annotation: the pod was not admitted through the data plane`,
      );
    }
    // labels can be edited after admission; the identity is the one the pod was admitted (and its Envoy
    // configured) with
    // labels can be edited after admission (the webhook now refuses it; this holds without it too): the
    // identity is the one the pod was admitted, and its Envoy configured, with
    const admitted = markerSpiffeId(marker);
    if (admitted === undefined) {
      return problem("not_injected", `${ANNOTATION_INJECTED} names no SPIFFE ID: not written by the injector`);
    }
    if (admitted !== spiffeId) {
      return problem("identity_changed", `the pod's labels name ${spiffeId}, but it was admitted as ${admitted}`);
    }
  }

  const nodeName = pod.spec?.nodeName as string;
  const needsUid = config.parentIdTemplate.includes("{nodeUid}");
  const nodeUid = view.nodes.get(nodeName);
  if (needsUid && nodeUid === undefined) {
    return problem("node_unknown", `the UID of node ${nodeName} is not known yet (parent ID needs {nodeUid})`);
  }
  if (config.parentIdTemplate.includes("{nodeName}") && !isPathSegment(nodeName)) {
    return problem("bad_parent", "spec.nodeName is not a SPIFFE path segment");
  }
  if (needsUid && !isPathSegment(nodeUid)) return problem("bad_parent", "the node's UID is not a SPIFFE path segment");
  const parentId = expand(config.parentIdTemplate, {
    trustDomain: config.trustDomain,
    nodeName,
    ...(config.cluster !== undefined ? { cluster: config.cluster } : {}),
    ...(nodeUid !== undefined ? { nodeUid } : {}),
  });

  const base: Selector[] = podSelectors(md.namespace, pod.spec?.serviceAccountName, md.uid).map((s) => ({
    type: "k8s",
    value: s.slice("k8s:".length),
  }));

  const common = { parentId, x509SvidTtl: config.x509SvidTtl, jwtSvidTtl: config.jwtSvidTtl, pod: podRef };
  const entries: DesiredEntry[] = [
    { id: entryId(config.owner, md.uid), spiffeId, selectors: sortSelectors([...base]), ...common },
  ];
  const problems: PodProblem[] = [];
  const raw = md.annotations?.[ANNOTATION_SUB_AGENTS];
  if (raw !== undefined) {
    const parsed = parseSubAgents(raw);
    if ("error" in parsed) {
      problems.push({ code: "bad_sub_agents", message: `${ANNOTATION_SUB_AGENTS}: ${parsed.error}`, pod: podRef });
    } else {
      for (const s of parsed.subAgents) {
        const extra: Selector[] = [];
        if (s.uid !== undefined) extra.push({ type: "unix", value: `uid:${s.uid}` });
        if (s.path !== undefined) extra.push({ type: "unix", value: `path:${s.path}` });
        entries.push({
          id: entryId(config.owner, md.uid, s.name),
          spiffeId: `${spiffeId}/${s.name}`,
          selectors: sortSelectors([...base, ...extra]),
          subAgent: s.name,
          ...common,
        });
      }
    }
  }
  return { entries, problems };
}

/**
 * Every pod's entries, sorted by entry ID, and every problem. Two pods with one UID (a watcher bug) are
 * reported and neither is registered.
 */
export function desiredEntries(pods: Iterable<PodJson>, config: ResolvedConfig, view: ClusterView): DesiredState {
  const byId = new Map<string, DesiredEntry>();
  const problems: PodProblem[] = [];
  const dupUids = new Set<string>();
  const seenUids = new Set<string>();
  const all: DesiredEntry[] = [];
  for (const pod of pods) {
    const r = desiredForPod(pod, config, view);
    problems.push(...r.problems);
    const uid = r.entries[0]?.pod.uid;
    if (uid === undefined) continue;
    if (seenUids.has(uid)) dupUids.add(uid);
    seenUids.add(uid);
    all.push(...r.entries);
  }
  for (const e of all) {
    if (dupUids.has(e.pod.uid)) continue;
    byId.set(e.id, e);
  }
  for (const uid of dupUids) {
    problems.push({
      code: "bad_pod",
      message: "two pods share this metadata.uid; neither is registered",
      pod: { uid },
    });
  }
  const entries = [...byId.values()].sort((a, b) => cmp(a.id, b.id));
  return { entries, problems };
}

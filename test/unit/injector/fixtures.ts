import { checkInjectorConfig, type InjectorConfig, type JsonPatchOp } from "../../../sidecars/injector/index.ts";

export const BASE_CONFIG = {
  trust_domain: "hexr.cloud",
  images: { envoy: "envoyproxy/envoy:v1.40.0", sidecar: "ghcr.io/hexr/sidecar:0.1.0" },
  policy: { config_map: "hexr-policy" },
  envoy: {
    upstreams: [
      {
        name: "openai",
        domains: ["api.openai.com"],
        address: "api.openai.com",
        port: 443,
        tls: { sni: "api.openai.com" },
      },
    ],
  },
  sidecar: { log: { level: "info" }, authz: { decision_cache: { max_entries: 1000 } } },
};

export function config(over: Record<string, unknown> = {}): InjectorConfig {
  return checkInjectorConfig({ ...structuredClone(BASE_CONFIG), ...over });
}

export const NS = { name: "tenant-acme", labels: { "hexr.io/inject": "true", "hexr.io/tenant": "acme" } };
/** A tenant's namespace that does not inject every pod (pods opt in with their own label). */
export const PLAIN_NS = { name: "tenant-acme", labels: { "hexr.io/tenant": "acme" } };
/** A namespace no tenant owns. */
export const UNOWNED_NS = { name: "scratch", labels: {} };

// biome-ignore lint/suspicious/noExplicitAny: golden pods are free-form Kubernetes JSON, poked at by path in tests
export type Pod = Record<string, any>;

/** A Deployment-made agent pod as the API server hands it to admission (no name or uid yet). */
export function agentPod(over: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): Pod {
  const pod: Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: "researcher-7d9f-",
      namespace: "tenant-acme",
      labels: {
        app: "researcher",
        "hexr.io/tenant": "acme",
        "hexr.io/agent": "content-crew",
        "hexr.io/role": "researcher",
        ...over.labels,
      },
    },
    spec: {
      serviceAccountName: "researcher",
      securityContext: { runAsUser: 1000, runAsNonRoot: true },
      containers: [
        {
          name: "agent",
          image: "ghcr.io/acme/researcher:1.2",
          ports: [{ containerPort: 8080 }],
          env: [{ name: "MODEL", value: "gpt-4o-mini" }],
          securityContext: { allowPrivilegeEscalation: false },
          resources: { requests: { cpu: "250m" } },
        },
        { name: "tools", image: "ghcr.io/acme/tools:3" },
      ],
    },
  };
  if (over.annotations) pod.metadata.annotations = over.annotations;
  return pod;
}

function unescapeSegment(s: string): string {
  return s.replaceAll("~1", "/").replaceAll("~0", "~");
}

/**
 * RFC 6902 `add` (the only op the injector emits), strict like the API server's: the parent must exist,
 * an array index must be `-` or 0..length.
 */
export function applyPatch<T>(doc: T, ops: JsonPatchOp[]): T {
  // biome-ignore lint/suspicious/noExplicitAny: walks arbitrary JSON by pointer
  const out = structuredClone(doc) as any;
  for (const op of ops) {
    if (op.op !== "add") throw new Error(`unsupported op ${op.op}`);
    if (!op.path.startsWith("/")) throw new Error(`bad path ${op.path}`);
    const segs = op.path.slice(1).split("/").map(unescapeSegment);
    const last = segs.pop()!;
    let parent = out;
    for (const s of segs) {
      const next = Array.isArray(parent) ? parent[Number(s)] : parent?.[s];
      if (next === undefined || next === null || typeof next !== "object")
        throw new Error(`${op.path}: ${s} does not exist`);
      parent = next;
    }
    if (Array.isArray(parent)) {
      if (last === "-") parent.push(op.value);
      else {
        if (!/^\d+$/.test(last) || Number(last) > parent.length) throw new Error(`${op.path}: index out of range`);
        parent.splice(Number(last), 0, op.value);
      }
    } else parent[last] = op.value;
  }
  return out;
}

export const names = (cs: { name: string }[] | undefined) => (cs ?? []).map((c) => c.name);

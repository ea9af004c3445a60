/**
 * The Kubernetes names the injector and the registrar must agree on: the labels that make an agent's
 * SPIFFE ID, the injector's marker, the namespaces that never hold agents, and the SPIRE selectors of an
 * agent pod. One definition, imported by both: an entry the registrar makes and the selectors the injected
 * sidecar asks SPIRE with only match if they are built the same way.
 */

export const LABEL = {
  inject: "hexr.io/inject",
  tenant: "hexr.io/tenant",
  agent: "hexr.io/agent",
  role: "hexr.io/role",
} as const;

export const ANNOTATION = {
  injected: "hexr.io/injected",
  sidecarMode: "hexr.io/sidecar-mode",
  traffic: "hexr.io/traffic",
  inboundPort: "hexr.io/inbound-port",
  subAgents: "hexr.io/sub-agents",
  defaultContainer: "kubectl.kubernetes.io/default-container",
} as const;

/** Never injected and never given agent identities, whatever their labels: the platform's own namespaces. */
export const ALWAYS_EXCLUDED_NAMESPACES = ["hexr-system", "kube-system"] as const;

/**
 * The selectors of an agent pod's own SPIRE entry, sorted: what SPIRE's `k8s` workload attestor produces
 * for every process of the pod. The pod UID pins the entry to one pod; a pod with no service account
 * named runs as `default`, as the API server's ServiceAccount admission sets it.
 */
export function podSelectors(namespace: string, serviceAccount: string | undefined, podUid: string): string[] {
  return [`k8s:ns:${namespace}`, `k8s:pod-uid:${podUid}`, `k8s:sa:${serviceAccount || "default"}`];
}

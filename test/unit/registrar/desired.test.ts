/** Pods → desired SPIRE entries (table tests), the config checks, and the pure reconcile plan. */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_PARENT_ID_TEMPLATE,
  type DesiredEntry,
  desiredEntries,
  desiredForPod,
  entryId,
  type PodJson,
  parseSubAgents,
  podUidOfEntryId,
  type RegistrarConfig,
  resolveConfig,
} from "../../../sidecars/registrar/desired.ts";
import { type ActualEntry, Registrar, reconcile } from "../../../sidecars/registrar/reconcile.ts";

const TD = "hexr.cloud";
const UID = "0b7e4c1a-3f7d-4c59-9a51-2f3c1d9e8a01";
const NODE_UID = "5d0b3a2e-8c1f-4e6a-b7d9-0a1b2c3d4e5f";
const cfg = resolveConfig({ trustDomain: TD, cluster: "prod" });
const view = {
  nodes: new Map([["node-a", NODE_UID]]),
  namespaces: new Map<string, Record<string, string>>([
    ["acme", { "hexr.io/tenant": "acme", "hexr.io/inject": "true" }],
    ["other", { "hexr.io/tenant": "other" }],
    ["plain", {}],
    ["kube-system", { "hexr.io/tenant": "acme" }],
    ["hexr-system", { "hexr.io/tenant": "acme" }],
  ]),
};
/** The injector's marker for a pod with these labels (the SPIFFE ID it was admitted with). */
const marker = (l: Record<string, string>) => ({
  "hexr.io/injected": JSON.stringify({
    version: "1",
    spiffeId: `spiffe://${TD}/agent/${l["hexr.io/tenant"]}/${l["hexr.io/agent"]}/${l["hexr.io/role"]}`,
  }),
});
const PARENT = `spiffe://${TD}/spire/agent/k8s_psat/prod/${NODE_UID}`;

const DEFAULT_LABELS = { "hexr.io/tenant": "acme", "hexr.io/agent": "crew", "hexr.io/role": "researcher" };

function pod(o: {
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  phase?: string;
  nodeName?: string;
  sa?: string;
  deleting?: boolean;
  namespace?: string;
}): PodJson {
  return {
    metadata: {
      uid: o.uid ?? UID,
      name: "researcher-0",
      namespace: o.namespace ?? "acme",
      labels: o.labels ?? DEFAULT_LABELS,
      annotations: { ...marker(o.labels ?? DEFAULT_LABELS), ...o.annotations },
      ...(o.deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}),
    },
    spec: { nodeName: o.nodeName ?? "node-a", ...(o.sa !== undefined ? { serviceAccountName: o.sa } : {}) },
    status: { phase: o.phase ?? "Running" },
  };
}

const sel = (...s: string[]) =>
  s.map((x) => {
    const i = x.indexOf(":");
    return { type: x.slice(0, i), value: x.slice(i + 1) };
  });

describe("desiredForPod", () => {
  it("gives a labelled running pod one entry: ID, selectors, parent, deterministic entry ID", () => {
    const r = desiredForPod(pod({ sa: "crew" }), cfg, view);
    expect(r.problems).toEqual([]);
    expect(r.entries).toEqual([
      {
        id: `hexr-registrar.${UID}`,
        spiffeId: `spiffe://${TD}/agent/acme/crew/researcher`,
        parentId: PARENT,
        selectors: sel(`k8s:ns:acme`, `k8s:pod-uid:${UID}`, "k8s:sa:crew"),
        x509SvidTtl: 0,
        jwtSvidTtl: 0,
        pod: { uid: UID, namespace: "acme", name: "researcher-0" },
      },
    ]);
    expect(desiredForPod(pod({ sa: "crew" }), cfg, view)).toEqual(r); // same input, same output
  });

  it.each([
    ["Running", 1],
    ["Pending", 1],
    ["", 1],
    ["Succeeded", 0],
    ["Failed", 0],
    ["Unknown", 0],
  ])("phase %j → %i entries", (phase, n) => {
    expect(desiredForPod(pod({ phase }), cfg, view).entries).toHaveLength(n);
  });

  it("gives no entry to a pod being deleted, or one not bound to a node yet, and reports neither", () => {
    expect(desiredForPod(pod({ deleting: true }), cfg, view)).toEqual({ entries: [], problems: [] });
    expect(desiredForPod(pod({ nodeName: "" }), cfg, view)).toEqual({ entries: [], problems: [] });
  });

  it.each([
    ["kube-system", "excluded_namespace"],
    ["hexr-system", "excluded_namespace"],
    ["other", "tenant_mismatch"],
    ["plain", "tenant_mismatch"],
    ["nowhere", "namespace_unknown"],
  ])("gives no identity to a pod of tenant acme in namespace %s (%s)", (namespace, code) => {
    const r = desiredForPod(pod({ namespace }), cfg, view);
    expect(r.entries).toEqual([]);
    expect(r.problems.map((p) => p.code)).toEqual([code]);
  });

  it("honours configured excluded namespaces", () => {
    const c = resolveConfig({ trustDomain: TD, cluster: "prod", excludedNamespaces: ["acme"] });
    expect(desiredForPod(pod({}), c, view).problems.map((p) => p.code)).toEqual(["excluded_namespace"]);
  });

  it("gives no identity to a pod the injector did not admit, unless configured not to require it", () => {
    const bare: PodJson = { ...pod({}), metadata: { ...pod({}).metadata, annotations: {} } };
    const r = desiredForPod(bare, cfg, view);
    expect(r.entries).toEqual([]);
    expect(r.problems.map((p) => p.code)).toEqual(["not_injected"]);
    const lax = resolveConfig({ trustDomain: TD, cluster: "prod", requireInjected: false });
    expect(desiredForPod(bare, lax, view).entries).toHaveLength(1);
  });

  it("gives no identity to a pod whose marker names no SPIFFE ID, or to a mirror pod", () => {
    const handMade = desiredForPod(pod({ annotations: { "hexr.io/injected": "{}" } }), cfg, view);
    expect(handMade.problems.map((p) => [p.code, p.message])).toEqual([
      ["not_injected", "hexr.io/injected names no SPIFFE ID: not written by the injector"],
    ]);
    const mirror = desiredForPod(pod({ annotations: { "kubernetes.io/config.mirror": "abc" } }), cfg, view);
    expect(mirror.problems.map((p) => p.code)).toEqual(["not_injected"]);
    expect(mirror.entries).toEqual([]);
  });

  it("gives no identity to a pod relabelled after admission to another agent or role", () => {
    const marker = {
      "hexr.io/injected": JSON.stringify({ version: "1", spiffeId: `spiffe://${TD}/agent/acme/crew/researcher` }),
    };
    expect(desiredForPod(pod({ annotations: marker }), cfg, view).entries).toHaveLength(1);
    const labels = { "hexr.io/tenant": "acme", "hexr.io/agent": "crew", "hexr.io/role": "admin" };
    const r = desiredForPod(pod({ labels, annotations: marker }), cfg, view);
    expect(r.entries).toEqual([]);
    expect(r.problems.map((p) => p.code)).toEqual(["identity_changed"]);
  });

  it("ignores pods without any hexr.io identity label", () => {
    expect(desiredForPod(pod({ labels: { app: "web" } }), cfg, view)).toEqual({ entries: [], problems: [] });
  });

  it.each([
    ["missing role", { "hexr.io/tenant": "acme", "hexr.io/agent": "crew" }, "hexr.io/role is missing"],
    ["slash", { "hexr.io/tenant": "acme", "hexr.io/agent": "crew/x", "hexr.io/role": "r" }, "hexr.io/agent is not"],
    ["empty", { "hexr.io/tenant": "", "hexr.io/agent": "crew", "hexr.io/role": "r" }, "hexr.io/tenant is not"],
    ["dot-dot", { "hexr.io/tenant": "acme", "hexr.io/agent": "..", "hexr.io/role": "r" }, "hexr.io/agent is not"],
    ["space", { "hexr.io/tenant": "acme", "hexr.io/agent": "crew", "hexr.io/role": "a b" }, "hexr.io/role is not"],
    ["unicode", { "hexr.io/tenant": "äcme", "hexr.io/agent": "crew", "hexr.io/role": "r" }, "hexr.io/tenant is not"],
  ])("skips and reports a pod with bad labels (%s), never a guessed ID", (_, labels, msg) => {
    const r = desiredForPod(pod({ labels }), cfg, view);
    expect(r.entries).toEqual([]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]?.code).toBe("bad_labels");
    expect(r.problems[0]?.message).toContain(msg);
    expect(r.problems[0]?.pod).toEqual({ uid: UID, namespace: "acme", name: "researcher-0" });
  });

  it("keeps dots, dashes and underscores, case included, as they are", () => {
    const labels = { "hexr.io/tenant": "Acme_1", "hexr.io/agent": "crew.v2", "hexr.io/role": "re-searcher" };
    const ns = { ...view, namespaces: new Map([["acme", { "hexr.io/tenant": "Acme_1", "hexr.io/inject": "true" }]]) };
    expect(desiredForPod(pod({ labels }), cfg, ns).entries[0]?.spiffeId).toBe(
      `spiffe://${TD}/agent/Acme_1/crew.v2/re-searcher`,
    );
  });

  it("reports a pod without a usable UID", () => {
    for (const uid of ["", "a.b", "x/y"]) {
      const r = desiredForPod(pod({ uid }), cfg, view);
      expect(r.entries).toEqual([]);
      expect(r.problems[0]?.code).toBe("bad_pod");
    }
  });

  it("defers a pod whose node UID is not known, when the template needs it", () => {
    const r = desiredForPod(pod({ nodeName: "node-b" }), cfg, view);
    expect(r.entries).toEqual([]);
    expect(r.problems[0]?.code).toBe("node_unknown");
  });

  it.each([
    ["spiffe://{trustDomain}/k8s/{cluster}/nodes", `spiffe://${TD}/k8s/prod/nodes`],
    ["spiffe://hexr.cloud/hexr/{nodeName}", `spiffe://${TD}/hexr/node-b`],
    ["spiffe://{trustDomain}/spire/agent/k8s_psat/{cluster}/{nodeUid}", PARENT],
  ])("parent ID template %s", (parentIdTemplate, want) => {
    const c = resolveConfig({ trustDomain: TD, cluster: "prod", parentIdTemplate });
    const name = parentIdTemplate.includes("nodeUid") ? "node-a" : "node-b";
    expect(desiredForPod(pod({ nodeName: name }), c, view).entries[0]?.parentId).toBe(want);
  });

  it("refuses a node name that is not a path segment for a {nodeName} template", () => {
    const c = resolveConfig({ trustDomain: TD, parentIdTemplate: "spiffe://hexr.cloud/n/{nodeName}" });
    expect(desiredForPod(pod({ nodeName: "a/b" }), c, view).problems[0]?.code).toBe("bad_parent");
  });

  it("adds per-process sub-agent entries from the annotation", () => {
    const annotations = {
      "hexr.io/sub-agents": JSON.stringify([
        { name: "planner", uid: 1001 },
        { name: "coder", path: "/usr/bin/python3" },
        { name: "both", uid: 0, path: "/opt/a" },
      ]),
    };
    const r = desiredForPod(pod({ annotations }), cfg, view);
    expect(r.problems).toEqual([]);
    expect(r.entries.map((e) => [e.id, e.spiffeId, e.subAgent, e.selectors])).toEqual([
      [
        `hexr-registrar.${UID}`,
        `spiffe://${TD}/agent/acme/crew/researcher`,
        undefined,
        sel("k8s:ns:acme", `k8s:pod-uid:${UID}`, "k8s:sa:default"),
      ],
      [
        `hexr-registrar.${UID}.planner`,
        `spiffe://${TD}/agent/acme/crew/researcher/planner`,
        "planner",
        sel("k8s:ns:acme", `k8s:pod-uid:${UID}`, "k8s:sa:default", "unix:uid:1001"),
      ],
      [
        `hexr-registrar.${UID}.coder`,
        `spiffe://${TD}/agent/acme/crew/researcher/coder`,
        "coder",
        sel("k8s:ns:acme", `k8s:pod-uid:${UID}`, "k8s:sa:default", "unix:path:/usr/bin/python3"),
      ],
      [
        `hexr-registrar.${UID}.both`,
        `spiffe://${TD}/agent/acme/crew/researcher/both`,
        "both",
        sel("k8s:ns:acme", `k8s:pod-uid:${UID}`, "k8s:sa:default", "unix:path:/opt/a", "unix:uid:0"),
      ],
    ]);
    for (const e of r.entries) expect(e.parentId).toBe(PARENT);
  });

  it.each([
    ["not JSON", "{", "not JSON"],
    ["not a list", '{"name":"a","uid":1}', "JSON list"],
    ["no selector", '[{"name":"a"}]', "needs uid or path"],
    ["bad name", '[{"name":"a/b","uid":1}]', ".name"],
    ["duplicate", '[{"name":"a","uid":1},{"name":"a","uid":2}]', "appears twice"],
    ["negative uid", '[{"name":"a","uid":-1}]', ".uid"],
    ["string uid", '[{"name":"a","uid":"1001"}]', ".uid"],
    ["relative path", '[{"name":"a","path":"bin/x"}]', ".path"],
    ["unknown field", '[{"name":"a","uid":1,"gid":1}]', "unknown field"],
  ])("ignores a bad sub-agents annotation as a whole (%s), keeps the pod's entry", (_, raw, msg) => {
    const annotations = { "hexr.io/sub-agents": raw.startsWith("[") ? `[{"name":"ok","uid":5},${raw.slice(1)}` : raw };
    const r = desiredForPod(pod({ annotations }), cfg, view);
    expect(r.entries.map((e) => e.id)).toEqual([`hexr-registrar.${UID}`]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]?.code).toBe("bad_sub_agents");
    expect(r.problems[0]?.message).toContain(msg);
  });

  it("accepts an empty sub-agents list", () => {
    expect(parseSubAgents("[]")).toEqual({ subAgents: [] });
  });

  it("uses the configured owner and TTLs", () => {
    const c = resolveConfig({ trustDomain: TD, cluster: "prod", owner: "hexr-eu1", x509SvidTtl: 600, jwtSvidTtl: 300 });
    const e = desiredForPod(pod({}), c, view).entries[0];
    expect(e?.id).toBe(`hexr-eu1.${UID}`);
    expect([e?.x509SvidTtl, e?.jwtSvidTtl]).toEqual([600, 300]);
  });
});

describe("desiredEntries", () => {
  it("collects every pod's entries sorted by ID, and every problem", () => {
    const b = "1a2b3c4d-0000-4000-8000-000000000002";
    const r = desiredEntries(
      [
        pod({ uid: b }),
        pod({}),
        pod({ uid: "c", labels: { "hexr.io/tenant": "x" } }),
        pod({ uid: "d", phase: "Failed" }),
      ],
      cfg,
      view,
    );
    expect(r.entries.map((e) => e.id)).toEqual([`hexr-registrar.${UID}`, `hexr-registrar.${b}`]);
    expect(r.problems.map((p) => [p.pod.uid, p.code])).toEqual([["c", "bad_labels"]]);
  });

  it("registers neither of two pods that share a UID", () => {
    const r = desiredEntries([pod({}), pod({})], cfg, view);
    expect(r.entries).toEqual([]);
    expect(r.problems.map((p) => p.code)).toEqual(["bad_pod"]);
  });
});

describe("resolveConfig", () => {
  it("defaults to the k8s_psat agent ID and the hexr-registrar owner", () => {
    expect(cfg.parentIdTemplate).toBe(DEFAULT_PARENT_ID_TEMPLATE);
    expect(cfg.owner).toBe("hexr-registrar");
  });

  it.each<[string, RegistrarConfig, string]>([
    ["trust domain", { trustDomain: "Hexr.Cloud", cluster: "c" }, "trust_domain"],
    ["owner with a dot", { trustDomain: TD, cluster: "c", owner: "a.b" }, "owner"],
    ["no cluster for {cluster}", { trustDomain: TD }, "cluster"],
    ["unknown placeholder", { trustDomain: TD, parentIdTemplate: "spiffe://hexr.cloud/{node}" }, "unknown placeholder"],
    ["other trust domain", { trustDomain: TD, parentIdTemplate: "spiffe://other.org/agent" }, "trust domain"],
    ["not a SPIFFE ID", { trustDomain: TD, parentIdTemplate: "https://hexr.cloud/x" }, "spiffe://"],
    ["empty segment", { trustDomain: TD, parentIdTemplate: "spiffe://hexr.cloud/a//b" }, "segments"],
    ["negative TTL", { trustDomain: TD, cluster: "c", x509SvidTtl: -1 }, "x509_svid_ttl"],
  ])("refuses %s", (_, c, field) => {
    expect(() => resolveConfig(c)).toThrow(field);
  });
});

describe("entry IDs", () => {
  it("map back to their pod UID, only for the owner", () => {
    expect(podUidOfEntryId("hexr-registrar", entryId("hexr-registrar", UID, "planner.v2"))).toBe(UID);
    expect(podUidOfEntryId("hexr-registrar", entryId("hexr-registrar", UID))).toBe(UID);
    expect(podUidOfEntryId("hexr-registrar", "0c9e1f2a-manual")).toBeUndefined();
    expect(podUidOfEntryId("hexr", "hexr-registrar.x")).toBeUndefined();
  });
});

describe("reconcile (pure)", () => {
  const desired = desiredEntries(
    [pod({ annotations: { "hexr.io/sub-agents": '[{"name":"planner","uid":1001}]' } })],
    cfg,
    view,
  ).entries;
  const asActual = (d: DesiredEntry, over: Partial<ActualEntry> = {}): ActualEntry => ({
    id: d.id,
    spiffeId: d.spiffeId,
    parentId: d.parentId,
    selectors: [...d.selectors].reverse(), // order does not matter
    x509SvidTtl: d.x509SvidTtl,
    jwtSvidTtl: d.jwtSvidTtl,
    admin: false,
    downstream: false,
    dnsNames: [],
    federatesWith: [],
    hint: "",
    ...over,
  });
  const owner = { owner: "hexr-registrar" };
  const manual: ActualEntry = {
    ...asActual(desired[0] as DesiredEntry),
    id: "6f1c2d3e-manual",
    spiffeId: `spiffe://${TD}/ops/manual`,
  };

  it("creates what is missing, and nothing twice", () => {
    const p = reconcile(desired, [manual], owner);
    expect(p.create.map((d) => d.id)).toEqual(desired.map((d) => d.id));
    expect(p.delete).toEqual([]);
    const again = reconcile(desired, [manual, ...desired.map((d) => asActual(d))], owner);
    expect(again).toEqual({ create: [], delete: [], unchanged: desired.map((d) => d.id).sort(), covered: new Map() });
  });

  it("deletes owned entries of gone pods, never a foreign entry", () => {
    const gone = asActual(desired[0] as DesiredEntry, { id: "hexr-registrar.gone-pod" });
    const p = reconcile([], [manual, gone], owner);
    expect(p.delete).toEqual(["hexr-registrar.gone-pod"]);
    expect(reconcile([], [gone], { owner: "hexr-eu1" }).delete).toEqual([]); // another registrar's
  });

  it.each<[string, Partial<ActualEntry>]>([
    ["SPIFFE ID", { spiffeId: `spiffe://${TD}/agent/acme/crew/old` }],
    ["parent", { parentId: `spiffe://${TD}/spire/agent/x` }],
    ["selectors", { selectors: sel("k8s:ns:acme") }],
    ["admin flag", { admin: true }],
    ["DNS name", { dnsNames: ["evil.example"] }],
    ["TTL", { x509SvidTtl: 60 }],
  ])("replaces an owned entry whose %s drifted (delete, then create)", (_, over) => {
    const d = desired[0] as DesiredEntry;
    const p = reconcile([d], [asActual(d, over)], owner);
    expect(p.delete).toEqual([d.id]);
    expect(p.create).toEqual([d]);
  });

  it("does not create an entry a foreign similar one already covers", () => {
    const d = desired[0] as DesiredEntry;
    const twin = { ...asActual(d), id: "7a7a-manual" };
    const p = reconcile([d], [twin], owner);
    expect(p.create).toEqual([]);
    expect(p.covered).toEqual(new Map([[d.id, "7a7a-manual"]]));
  });
});

describe("Registrar without a SPIRE server", () => {
  it("rejects a reconcile with internal.registrar, and the next call tries again", async () => {
    const r = new Registrar({
      socketPath: "/nonexistent/hexr-registrar-test.sock",
      config: { trustDomain: TD, cluster: "prod" },
      timeoutMs: 300,
    });
    try {
      await expect(r.resync([])).rejects.toMatchObject({ code: "internal.registrar" });
      await expect(r.reconcileNow()).rejects.toMatchObject({ code: "internal.registrar" });
      // after a full list, events about pods that are not (and were not) the registrar's need no SPIRE call
      const plain = { metadata: { uid: "u-1", name: "web", namespace: "default", labels: { app: "web" } } };
      await expect(r.upsertPod(plain)).resolves.toMatchObject({ created: [], deleted: [] });
      await expect(r.removePod("u-2")).resolves.toMatchObject({ created: [], deleted: [] });
      await expect(r.upsertPod(pod({}))).rejects.toMatchObject({ code: "internal.registrar" });
    } finally {
      await r.close();
    }
    await expect(r.reconcileNow()).rejects.toThrow("closed");
  });

  it("refuses a bad config at construction", () => {
    expect(() => new Registrar({ socketPath: "/tmp/x.sock", config: { trustDomain: TD } })).toThrow("cluster");
  });
});

/**
 * The auto-registrar against a real SPIRE server (its API socket, our entry.proto over grpc-js): pods in →
 * entries with the right IDs, selectors and parents; converged state left alone (twice, and after a
 * restart); pod removal and pod end delete; foreign entries survive; sub-agent entries; bad labels skipped;
 * an entry deleted behind its back comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SpireHarness, startSpire } from "../../sidecars/devtools/spire.ts";
import type { PodJson } from "../../sidecars/registrar/desired.ts";
import { type ActualEntry, Registrar, type RegistrarOptions } from "../../sidecars/registrar/reconcile.ts";

const TD = "hexr.cloud";
/** `{nodeName}` = the harness agent's alias for node "spire-agent" (spiffe://hexr.cloud/hexr/spire-agent). */
const TEMPLATE = "spiffe://{trustDomain}/hexr/{nodeName}";
const UID_A = "11111111-aaaa-4aaa-8aaa-000000000001";
const UID_B = "22222222-bbbb-4bbb-8bbb-000000000002";
const UID_BAD = "33333333-cccc-4ccc-8ccc-000000000003";
const UID_SUB = "44444444-dddd-4ddd-8ddd-000000000004";

/** The namespace the pods run in, labelled with their tenant as a cluster admin would. */
const NS = { namespaces: new Map([["acme", { "hexr.io/tenant": "acme", "hexr.io/inject": "true" }]]) };

let spire: SpireHarness;
let registrar: Registrar;
const others: Registrar[] = [];

function pod(
  uid: string,
  o: { role?: string; node?: string; phase?: string; annotations?: Record<string, string> } = {},
) {
  return {
    metadata: {
      uid,
      name: `pod-${uid.slice(0, 8)}`,
      namespace: "acme",
      labels: { "hexr.io/tenant": "acme", "hexr.io/agent": "crew", "hexr.io/role": o.role ?? "researcher" },
      annotations: {
        "hexr.io/injected": JSON.stringify({
          version: "1",
          spiffeId: `spiffe://${TD}/agent/acme/crew/${o.role ?? "researcher"}`,
        }),
        ...o.annotations,
      },
    },
    spec: { nodeName: o.node ?? "spire-agent", serviceAccountName: "crew" },
    status: { phase: o.phase ?? "Running" },
  } satisfies PodJson;
}

function newRegistrar(extra: Partial<RegistrarOptions> = {}): Registrar {
  const r = new Registrar({
    socketPath: spire.serverSocket,
    config: { trustDomain: TD, parentIdTemplate: TEMPLATE },
    debounceMs: 20,
    ...extra,
  });
  others.push(r);
  return r;
}

const ours = async (): Promise<ActualEntry[]> =>
  (await registrar.listEntries()).filter((e) => e.id.startsWith("hexr-registrar."));
const byId = async (): Promise<Map<string, ActualEntry>> => new Map((await ours()).map((e) => [e.id, e]));
const selectorStrings = (e: ActualEntry | undefined) => e?.selectors.map((s) => `${s.type}:${s.value}`).sort();

beforeAll(async () => {
  spire = await startSpire({ trustDomain: TD, logLevel: "INFO" });
  registrar = newRegistrar();
});

afterAll(async () => {
  for (const r of others) await r.close();
  await spire?.stop();
});

describe("registrar against a real SPIRE server", () => {
  it("creates an entry per labelled pod with the right SPIFFE ID, selectors and parent", async () => {
    const report = await registrar.resync([pod(UID_A), pod(UID_B, { role: "writer", node: "node-b" })], NS);
    expect(report.failed).toEqual([]);
    expect([...report.created].sort()).toEqual([`hexr-registrar.${UID_A}`, `hexr-registrar.${UID_B}`]);

    const a = await registrar.listEntries({ parentId: spire.agentId });
    expect(a.map((e) => [e.id, e.spiffeId, selectorStrings(e)])).toEqual([
      [
        `hexr-registrar.${UID_A}`,
        `spiffe://${TD}/agent/acme/crew/researcher`,
        ["k8s:ns:acme", `k8s:pod-uid:${UID_A}`, "k8s:sa:crew"],
      ],
    ]);
    const b = await registrar.listEntries({ spiffeId: `spiffe://${TD}/agent/acme/crew/writer` });
    expect(b.map((e) => [e.id, e.parentId])).toEqual([[`hexr-registrar.${UID_B}`, `spiffe://${TD}/hexr/node-b`]]);
  });

  it("changes nothing when run again, or by a restarted registrar", async () => {
    const before = await ours();
    const again = await registrar.resync([pod(UID_A), pod(UID_B, { role: "writer", node: "node-b" })], NS);
    expect([again.created, again.deleted, again.failed, again.unchanged]).toEqual([[], [], [], 2]);
    const restarted = newRegistrar();
    const r = await restarted.resync([pod(UID_A), pod(UID_B, { role: "writer", node: "node-b" })], NS);
    expect([r.created, r.deleted, r.failed, r.unchanged]).toEqual([[], [], [], 2]);
    expect(await ours()).toEqual(before);
    await restarted.close();
  });

  it("before its first full list, a restarted registrar deletes only entries of pods it was told about", async () => {
    const fresh = newRegistrar();
    void fresh.setNamespace("acme", { "hexr.io/tenant": "acme", "hexr.io/inject": "true" }); // shares the upsert's debounced reconcile
    const r = await fresh.upsertPod(pod(UID_A));
    expect([r.created, r.deleted, r.deletesHeld]).toEqual([[], [], 1]); // UID_B's entry is held, not deleted
    expect((await byId()).has(`hexr-registrar.${UID_B}`)).toBe(true);
    await fresh.close();
  });

  it("deletes a removed pod's entry and the entry of a pod that ended", async () => {
    const r = await registrar.removePod(UID_B);
    expect(r.deleted).toEqual([`hexr-registrar.${UID_B}`]);
    const ended = await registrar.upsertPod(pod(UID_A, { phase: "Succeeded" }));
    expect(ended.deleted).toEqual([`hexr-registrar.${UID_A}`]);
    expect(await ours()).toEqual([]);
  });

  it("never deletes an entry it did not create, and does not duplicate one that covers a pod", async () => {
    const manualId = await spire.createEntry({ spiffeId: `spiffe://${TD}/ops/manual`, selectors: ["unix:uid:4242"] });
    // a hand-made entry with exactly the identity the registrar would give pod A
    const twinId = await spire.createEntry({
      spiffeId: `spiffe://${TD}/agent/acme/crew/researcher`,
      selectors: ["k8s:ns:acme", `k8s:pod-uid:${UID_A}`, "k8s:sa:crew"],
    });
    const r = await registrar.resync([pod(UID_A)], NS);
    expect(r.created).toEqual([]);
    expect(r.covered).toEqual({ [`hexr-registrar.${UID_A}`]: twinId });
    const gone = await registrar.resync([], NS);
    expect(gone.deleted).toEqual([]);
    const ids = (await registrar.listEntries()).map((e) => e.id);
    expect(ids).toContain(manualId);
    expect(ids).toContain(twinId);
    // once the covering entry goes, the registrar makes its own
    await spire.deleteEntry(twinId);
    const own = await registrar.resync([pod(UID_A)], NS);
    expect(own.created).toEqual([`hexr-registrar.${UID_A}`]);
    expect((await registrar.listEntries()).map((e) => e.id)).toContain(manualId);
  });

  it("adds per-process sub-agent entries from the annotation and removes them with the pod", async () => {
    const annotations = {
      "hexr.io/sub-agents": JSON.stringify([
        { name: "planner", uid: 1001 },
        { name: "coder", path: "/usr/local/bin/coder" },
      ]),
    };
    const r = await registrar.resync([pod(UID_A), pod(UID_SUB, { annotations })], NS);
    expect(r.failed).toEqual([]);
    expect([...r.created].sort()).toEqual([
      `hexr-registrar.${UID_SUB}`,
      `hexr-registrar.${UID_SUB}.coder`,
      `hexr-registrar.${UID_SUB}.planner`,
    ]);
    const m = await byId();
    const base = ["k8s:ns:acme", `k8s:pod-uid:${UID_SUB}`, "k8s:sa:crew"];
    expect(m.get(`hexr-registrar.${UID_SUB}.planner`)?.spiffeId).toBe(
      `spiffe://${TD}/agent/acme/crew/researcher/planner`,
    );
    expect(selectorStrings(m.get(`hexr-registrar.${UID_SUB}.planner`))).toEqual([...base, "unix:uid:1001"]);
    expect(selectorStrings(m.get(`hexr-registrar.${UID_SUB}.coder`))).toEqual([
      ...base,
      "unix:path:/usr/local/bin/coder",
    ]);
    expect(m.get(`hexr-registrar.${UID_SUB}.coder`)?.parentId).toBe(spire.agentId);

    const removed = await registrar.removePod(UID_SUB);
    expect([...removed.deleted].sort()).toEqual([
      `hexr-registrar.${UID_SUB}`,
      `hexr-registrar.${UID_SUB}.coder`,
      `hexr-registrar.${UID_SUB}.planner`,
    ]);
    expect([...(await byId()).keys()]).toEqual([`hexr-registrar.${UID_A}`]);
  });

  it("skips and reports a pod with bad labels, and registers the rest", async () => {
    const bad = pod(UID_BAD, { role: "no/slashes" });
    const r = await registrar.resync([pod(UID_A), bad], NS);
    expect(r.problems.map((p) => [p.pod.uid, p.code])).toEqual([[UID_BAD, "bad_labels"]]);
    expect((await registrar.listEntries()).some((e) => e.selectors.some((s) => s.value.includes(UID_BAD)))).toBe(false);
    expect([...(await byId()).keys()]).toEqual([`hexr-registrar.${UID_A}`]);
  });

  it("moves a relabelled pod to its new ID and puts back an entry deleted behind its back", async () => {
    const moved = await registrar.upsertPod(pod(UID_A, { role: "editor" }));
    expect([moved.deleted, moved.created]).toEqual([[`hexr-registrar.${UID_A}`], [`hexr-registrar.${UID_A}`]]);
    expect((await byId()).get(`hexr-registrar.${UID_A}`)?.spiffeId).toBe(`spiffe://${TD}/agent/acme/crew/editor`);

    await spire.deleteEntry(`hexr-registrar.${UID_A}`);
    const repaired = await registrar.reconcileNow();
    expect(repaired.created).toEqual([`hexr-registrar.${UID_A}`]);
  });

  it("repairs on its own with the periodic reconcile, beside a registrar with another owner", async () => {
    const periodic = newRegistrar({
      intervalMs: 200,
      config: { trustDomain: TD, parentIdTemplate: TEMPLATE, owner: "hexr-other" },
    });
    const uid = "66666666-0000-4000-8000-000000000001";
    const first = await periodic.resync([pod(uid)], NS);
    expect([first.created, first.deleted]).toEqual([[`hexr-other.${uid}`], []]); // hexr-registrar.* are not its own
    periodic.start();
    await spire.deleteEntry(`hexr-other.${uid}`);
    const has = async () => (await registrar.listEntries()).some((e) => e.id === `hexr-other.${uid}`);
    const deadline = Date.now() + 10_000;
    while (!(await has())) {
      if (Date.now() > deadline) throw new Error("the periodic reconcile did not put the entry back");
      await new Promise((r) => setTimeout(r, 100)); // polling SPIRE for the repaired entry
    }
    expect((await registrar.reconcileNow()).deleted).toEqual([]); // nor are hexr-other.* ours
    await periodic.resync([], NS);
    await periodic.close();
    expect(await has()).toBe(false);
  });

  it("shares one reconcile between events that arrive together", async () => {
    const uids = ["55555555-0000-4000-8000-000000000001", "55555555-0000-4000-8000-000000000002"];
    const [r1, r2] = await Promise.all(uids.map((u) => registrar.upsertPod(pod(u))));
    expect(r1).toBe(r2);
    expect([...(r1?.created ?? [])].sort()).toEqual(uids.map((u) => `hexr-registrar.${u}`));
  });
});

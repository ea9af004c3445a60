/**
 * The auto-registrar as it runs in a cluster: `hexr registrar`'s process (watcher + Registrar) on a real
 * kube-apiserver and a real SPIRE server, with the config and the ServiceAccount the hexr-system chart
 * installed. Pods created through the API get their entries (with
 * per-process sub-agent entries), lose them when deleted, and a registrar restarted after changes it
 * missed converges. Pods outside their tenant's namespace, or not admitted through the injector, get
 * nothing. Pods here are created bound to the SPIRE harness's node ("spire-agent": its agent's alias is
 * the parent ID) and carry the injector's marker themselves (the webhook has its own test).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubeHarness, startKube } from "../../sidecars/devtools/kube.ts";
import { type SpireHarness, startSpire } from "../../sidecars/devtools/spire.ts";
import { checkRegistrarProcessConfig, type RunningRegistrar, startRegistrar } from "../../sidecars/cli/registrar.ts";
import type { ActualEntry } from "../../sidecars/registrar/reconcile.ts";

const TD = "hexr.cloud";
const CHART = path.join(import.meta.dirname, "..", "..", "charts", "hexr-system");
let kube: KubeHarness;
let spire: SpireHarness;
let running: RunningRegistrar | undefined;

function live(): RunningRegistrar {
  if (!running) throw new Error("the registrar is not running");
  return running;
}

/**
 * The config file the chart rendered for the registrar, with only the SPIRE socket, the health port and
 * the way to the API server changed, and a token of the chart's ServiceAccount: its RBAC is all it has.
 */
let chartConfig: Record<string, unknown>;
let tokenFile: string;

async function start(): Promise<RunningRegistrar> {
  const cfg = checkRegistrarProcessConfig({
    ...chartConfig,
    spire: { server_socket: spire.serverSocket },
    reconcile_interval_seconds: 0,
    health: { address: "127.0.0.1", port: 0 },
    kube: { api_server: kube.server, token_file: tokenFile, ca_file: kube.caFile },
  });
  running = await startRegistrar(cfg);
  await running.watcher.synced;
  return running;
}

async function createPod(
  name: string,
  o: {
    namespace?: string;
    tenant?: string;
    role?: string;
    annotations?: Record<string, string>;
    injected?: boolean;
  } = {},
): Promise<string> {
  const pod = await kube.client.json<{ metadata: { uid: string } }>(
    "POST",
    `/api/v1/namespaces/${o.namespace ?? "tenant-acme"}/pods`,
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        labels: {
          "hexr.io/tenant": o.tenant ?? "acme",
          "hexr.io/agent": "crew",
          "hexr.io/role": o.role ?? "researcher",
        },
        annotations: {
          ...(o.injected === false
            ? {}
            : {
                "hexr.io/injected": JSON.stringify({
                  version: "1",
                  spiffeId: `spiffe://${TD}/agent/${o.tenant ?? "acme"}/crew/${o.role ?? "researcher"}`,
                }),
              }),
          ...o.annotations,
        },
      },
      spec: { nodeName: "spire-agent", serviceAccountName: "default", containers: [{ name: "agent", image: "a" }] },
    },
  );
  return pod.metadata.uid;
}

async function deletePod(name: string, namespace = "tenant-acme") {
  await kube.client.json("DELETE", `/api/v1/namespaces/${namespace}/pods/${name}?gracePeriodSeconds=0`);
}

async function ours(): Promise<Map<string, ActualEntry>> {
  const all = await live().registrar.listEntries();
  return new Map(all.filter((e) => e.id.startsWith("hexr-registrar.")).map((e) => [e.id, e]));
}

/** Waits until the registrar's view of SPIRE satisfies `ok` (each watch event triggers a reconcile). */
async function until(ok: (m: Map<string, ActualEntry>) => boolean, what: string): Promise<Map<string, ActualEntry>> {
  let last = new Map<string, ActualEntry>();
  for (let i = 0; i < 200; i++) {
    await live().registrar.reconcileNow(); // waits for the debounced event reconcile too
    last = await ours();
    if (ok(last)) return last;
    await delay(50); // the watch event has not arrived yet
  }
  throw new Error(`${what}: entries are ${[...last.keys()].join(", ")}`);
}

beforeAll(async () => {
  [kube, spire] = await Promise.all([startKube(), startSpire({ trustDomain: TD })]);
  await kube.namespace("tenant-acme", { "hexr.io/tenant": "acme", "hexr.io/inject": "true" });
  await kube.namespace("tenant-beta", { "hexr.io/tenant": "beta" });
  await kube.namespace("scratch");
  await kube.namespace("hexr-system");
  // the chart, for the registrar's config and ServiceAccount; its webhook is removed again (the pods here
  // carry the marker themselves; the webhook has its own test)
  const values = path.join(kube.dir, "values.yaml");
  writeFileSync(
    values,
    JSON.stringify({
      trustDomain: TD,
      spire: { trustDomain: TD },
      webhook: { url: "https://127.0.0.1:9", caBundle: Buffer.from(kube.caPem).toString("base64") },
      registrar: { parentIdTemplate: "spiffe://{trustDomain}/hexr/{nodeName}" },
    }),
  );
  const install = await kube.helm(["install", "hexr", CHART, "-n", "hexr-system", "-f", values]);
  expect(install.stderr).toBe("");
  const unhook = await kube.kubectl(["delete", "mutatingwebhookconfiguration", "hexr-injector"]);
  expect(unhook.code).toBe(0);
  const cm = await kube.client.json<{ data: Record<string, string> }>(
    "GET",
    "/api/v1/namespaces/hexr-system/configmaps/hexr-registrar",
  );
  chartConfig = parseYaml(cm.data["config.yaml"] as string);
  const token = await kube.client.json<{ status: { token: string } }>(
    "POST",
    "/api/v1/namespaces/hexr-system/serviceaccounts/hexr-registrar/token",
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
  );
  tokenFile = path.join(kube.dir, "registrar.token");
  writeFileSync(tokenFile, token.status.token, { mode: 0o600 });
}, 120_000);

afterAll(async () => {
  // each step even if one before it fails: a leaked etcd or kube-apiserver would outlive the run
  await running?.stop().catch(() => {});
  await Promise.all([kube?.stop(), spire?.stop()]);
});

describe("hexr registrar on a real API server and SPIRE server", () => {
  let uidA = "";
  let uidSub = "";

  it("creates an entry per pod with the pod's selectors, and sub-agent entries from the annotation", async () => {
    uidA = await createPod("researcher-0");
    await start();
    uidSub = await createPod("planner-0", {
      role: "planner",
      annotations: { "hexr.io/sub-agents": JSON.stringify([{ name: "tool", uid: 1001 }]) },
    });
    const m = await until((m) => m.size === 3, "three entries");
    const a = m.get(`hexr-registrar.${uidA}`);
    expect(a?.spiffeId).toBe(`spiffe://${TD}/agent/acme/crew/researcher`);
    expect(a?.parentId).toBe(`spiffe://${TD}/hexr/spire-agent`);
    expect(a?.selectors.map((s) => `${s.type}:${s.value}`).sort()).toEqual([
      "k8s:ns:tenant-acme",
      `k8s:pod-uid:${uidA}`,
      "k8s:sa:default",
    ]);
    const sub = m.get(`hexr-registrar.${uidSub}.tool`);
    expect(sub?.spiffeId).toBe(`spiffe://${TD}/agent/acme/crew/planner/tool`);
    expect(sub?.selectors.map((s) => `${s.type}:${s.value}`)).toContain("unix:uid:1001");
  });

  it("gives nothing to a pod outside its tenant's namespace, or one the injector did not admit", async () => {
    await createPod("impostor", { namespace: "tenant-beta" });
    await createPod("loose", { namespace: "scratch" });
    await createPod("bare", { injected: false });
    // beta's namespace does not opt in, so the webhook never saw this pod: its marker is hand-made
    await createPod("unreviewed", { namespace: "tenant-beta", tenant: "beta" });
    const r = await live().registrar.reconcileNow();
    expect(r.problems.map((p) => [p.pod.name, p.code]).sort()).toEqual([
      ["bare", "not_injected"],
      ["impostor", "tenant_mismatch"],
      ["loose", "tenant_mismatch"],
      ["unreviewed", "not_injected"],
    ]);
    expect((await ours()).size).toBe(3);
  });

  it("takes a pod's entries away when its namespace is relabelled to another tenant", async () => {
    await kube.namespace("tenant-acme", { "hexr.io/tenant": "gamma" });
    await until((m) => m.size === 0, "no entries once tenant-acme is gamma's");
    await kube.namespace("tenant-acme", { "hexr.io/tenant": "acme" });
    await until((m) => m.size === 3, "entries back");
  });

  it("deletes a deleted pod's entries", async () => {
    await deletePod("planner-0");
    const m = await until((m) => m.size === 1, "only researcher-0's entry");
    expect([...m.keys()]).toEqual([`hexr-registrar.${uidA}`]);
  });

  it("after a restart, converges with what changed while it was down", async () => {
    await live().stop();
    running = undefined;
    await deletePod("researcher-0");
    const uidB = await createPod("writer-0", { role: "writer" });
    await start();
    const m = await until((m) => m.size === 1 && m.has(`hexr-registrar.${uidB}`), "only writer-0's entry");
    expect(m.get(`hexr-registrar.${uidB}`)?.spiffeId).toBe(`spiffe://${TD}/agent/acme/crew/writer`);
    const again = await live().registrar.reconcileNow();
    expect([again.created, again.deleted]).toEqual([[], []]); // converged: nothing to do
  });
});

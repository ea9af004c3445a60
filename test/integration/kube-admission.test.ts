/**
 * The injector webhook on a real kube-apiserver (etcd + kube-apiserver on loopback, no kubelet): the
 * hexr-system chart is installed with `helm` (`--dry-run=server` first, then for real) with its webhook
 * pointed at `hexr injector` running here on 127.0.0.1 — with the config file the chart rendered and a
 * token of the chart's ServiceAccount, so its RBAC is shown to be enough — and pods are created with
 * `kubectl`. What the API
 * server stores is what is asserted: the containers, volumes and env the injector adds; untouched pods
 * outside opted-in namespaces; refusals; idempotence; the injected Envoy bootstrap through
 * `envoy --mode validate`; and fail-closed when the webhook is down.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderIstioSnippet } from "../../envoy-config/istio.ts";
import { validateWithEnvoy } from "../../envoy-config/validate.ts";
import { type KubeHarness, startKube } from "../../sidecars/devtools/kube.ts";
import { parse as parseYaml } from "yaml";
import { makeLeaf } from "../../sidecars/devtools/dev-ca.ts";
import { freePorts } from "../../sidecars/devtools/logged-process.ts";
import { POD_UID_TOKEN } from "../../sidecars/injector/render.ts";
import { InjectorServer, parseInjectorServerConfig } from "../../sidecars/injector/server.ts";
import { MemoryLogger } from "../../sidecars/logger.ts";

const CHART = path.join(import.meta.dirname, "..", "..", "charts", "hexr-system");

let kube: KubeHarness;
let injector: InjectorServer;
let port: number;
let dir: string;
const logger = new MemoryLogger();

// biome-ignore lint/suspicious/noExplicitAny: pods are free-form Kubernetes JSON, read by path
type Pod = Record<string, any>;

function agentPod(name: string, namespace: string, labels: Record<string, string> = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      labels: { "hexr.io/tenant": "acme", "hexr.io/agent": "crew", "hexr.io/role": "researcher", ...labels },
    },
    spec: {
      securityContext: { runAsUser: 1000, runAsNonRoot: true },
      containers: [{ name: "agent", image: "ghcr.io/acme/researcher:1.2", env: [{ name: "MODEL", value: "m" }] }],
    },
  };
}

async function create(pod: Pod) {
  return kube.kubectl(["create", "-o", "json", "-f", "-"], JSON.stringify(pod));
}

async function created(pod: Pod): Promise<Pod> {
  const r = await create(pod);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

const names = (cs: { name: string }[] | undefined) => (cs ?? []).map((c) => c.name);
const envOf = (c: Pod) => Object.fromEntries((c.env ?? []).map((e: Pod) => [e.name, e.value ?? e.valueFrom]));

beforeAll(async () => {
  kube = await startKube();
  await kube.namespace("tenant-acme", { "hexr.io/inject": "true", "hexr.io/tenant": "acme" });
  await kube.namespace("tenant-beta", { "hexr.io/tenant": "beta" }); // pods opt in one by one
  await kube.namespace("scratch");
  await kube.namespace("hexr-system");

  dir = mkdtempSync(path.join(tmpdir(), "hexr-injector-"));
  port = (await freePorts(1))[0] as number;

  // the chart, with its webhook pointed at 127.0.0.1 (no kubelet runs its Deployment): a server-side dry
  // run first, then the install
  const values = [
    "--namespace",
    "hexr-system",
    "--set",
    `webhook.url=https://127.0.0.1:${port}`,
    "--set",
    `webhook.caBundle=${Buffer.from(kube.caPem).toString("base64")}`,
    "--set",
    "trustDomain=hexr.cloud",
    "--set",
    "spire.trustDomain=hexr.cloud",
  ];
  const dry = await kube.helm(["install", "hexr", CHART, ...values, "--dry-run=server"]);
  expect(dry.stderr).toBe("");
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain("kind: MutatingWebhookConfiguration");
  const install = await kube.helm(["install", "hexr", CHART, ...values, "--wait=false"]);
  expect(install.stderr).toBe("");
  expect(install.code).toBe(0);

  // `hexr injector` with the config file the chart rendered (only where to listen, its certificate and how
  // to reach the API server changed) and a token of the chart's ServiceAccount: its RBAC is all it has
  const cm = await kube.client.json<{ data: Record<string, string> }>(
    "GET",
    "/api/v1/namespaces/hexr-system/configmaps/hexr-injector",
  );
  const config = parseYaml(cm.data["config.yaml"] as string);
  const serving = await makeLeaf(kube.ca, { commonName: "hexr-injector", ips: ["127.0.0.1"] });
  writeFileSync(path.join(dir, "tls.crt"), serving.certPem);
  writeFileSync(path.join(dir, "tls.key"), serving.keyPem, { mode: 0o600 });
  const token = await kube.client.json<{ status: { token: string } }>(
    "POST",
    "/api/v1/namespaces/hexr-system/serviceaccounts/hexr-injector/token",
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
  );
  writeFileSync(path.join(dir, "token"), token.status.token, { mode: 0o600 });
  config.listen = { address: "127.0.0.1", port };
  config.tls = { cert_file: path.join(dir, "tls.crt"), key_file: path.join(dir, "tls.key") };
  config.health = { address: "127.0.0.1", port: 0 };
  config.kube = { api_server: kube.server, token_file: path.join(dir, "token"), ca_file: kube.caFile };
  const file = path.join(dir, "injector.yaml");
  writeFileSync(file, JSON.stringify(config));
  injector = new InjectorServer(parseInjectorServerConfig(file), { logger });
  await injector.start();
  await waitReady();
  await webhookActive();
}, 120_000);

/**
 * The API server picks up a new webhook configuration from its own informer, a moment after the create:
 * a server-side dry run (admission runs, nothing is stored) comes back mutated once it has.
 */
async function webhookActive() {
  const probe = JSON.stringify(agentPod("probe", "tenant-acme"));
  let last = "";
  for (let i = 0; i < 100; i++) {
    const r = await kube.kubectl(["create", "--dry-run=server", "-o", "json", "-f", "-"], probe);
    last = r.stderr;
    if (r.code === 0 && JSON.parse(r.stdout).spec.initContainers) return;
    await new Promise((r) => setTimeout(r, 100)); // not active yet
  }
  throw new Error(`the API server never called the webhook: ${last}`);
}

async function waitReady() {
  for (let i = 0; i < 200 && !injector.ready; i++) await new Promise((r) => setTimeout(r, 25)); // informer's first list
  expect(injector.ready).toBe(true);
}

afterAll(async () => {
  // each step even if one before it fails: a leaked etcd or kube-apiserver would outlive the run
  await injector?.close().catch(() => {});
  await kube?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the hexr-system chart", () => {
  const variants = readdirSync(path.join(CHART, "ci")).filter((f) => f.endsWith(".yaml"));

  it("has a values file per variant, and helm lint --strict passes each", async () => {
    expect(variants.length).toBeGreaterThanOrEqual(5);
    for (const f of variants) {
      const r = await kube.helm(["lint", "--strict", CHART, "-f", path.join(CHART, "ci", f)]);
      expect(`${f}: ${r.stdout}${r.stderr}`).toContain("0 chart(s) failed");
      expect(r.code).toBe(0);
    }
  });

  it("renders every variant into objects the real API server accepts (kubectl apply --dry-run=server)", async () => {
    for (const ns of ["monitoring", "tenant-globex", "spire-server"]) await kube.namespace(ns);
    for (const f of variants) {
      // another release name: the installed release's objects must not turn this into an update
      const t = await kube.helm(["template", "hexr-ci", CHART, "-n", "hexr-system", "-f", path.join(CHART, "ci", f)]);
      expect(t.stderr).toBe("");
      const r = await kube.kubectl(["apply", "--dry-run=server", "-f", "-"], t.stdout);
      expect(`${f}: ${r.stderr}`).toBe(`${f}: `);
      expect(r.stdout).toContain("mutatingwebhookconfiguration.admissionregistration.k8s.io/hexr-ci-injector");
    }
  });

  it("gives its ServiceAccounts read access to what they watch and nothing else", async () => {
    const can = async (sa: string, verb: string, resource: string) => {
      const r = await kube.kubectl([
        "auth",
        "can-i",
        verb,
        resource,
        "-A",
        `--as=system:serviceaccount:hexr-system:${sa}`,
      ]);
      return r.stdout.trim();
    };
    for (const [verb, res] of [
      ["list", "namespaces"],
      ["watch", "namespaces"],
    ]) {
      expect(await can("hexr-injector", verb as string, res as string)).toBe("yes");
    }
    for (const [verb, res] of [
      ["list", "pods"],
      ["watch", "pods"],
      ["watch", "nodes"],
      ["watch", "namespaces"],
    ]) {
      expect(await can("hexr-registrar", verb as string, res as string)).toBe("yes");
    }
    for (const sa of ["hexr-injector", "hexr-registrar"]) {
      for (const [verb, res] of [
        ["get", "secrets"],
        ["create", "pods"],
        ["patch", "namespaces"],
        ["update", "mutatingwebhookconfigurations"],
        ["create", "serviceaccounts/token"],
      ]) {
        expect(`${sa} ${verb} ${res}: ${await can(sa, verb as string, res as string)}`).toBe(
          `${sa} ${verb} ${res}: no`,
        );
      }
    }
  });

  it("refuses values the schema does not allow, naming them", async () => {
    const bad = await kube.helm(["template", "hexr", CHART, "--set", "webhook.url=http://127.0.0.1:1"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/webhook/);
    const unknown = await kube.helm(["template", "hexr", CHART, "--set", "injector.no_such_field=1"]);
    expect(unknown.code).not.toBe(0);
  });
});

describe("the Istio snippet on a real API server with Istio's CRDs", () => {
  it("applies Istio's published CRDs, and the rendered objects pass server-side validation (CEL rules too)", async () => {
    const crds = process.env.HEXR_ISTIO_CRDS;
    if (!crds) throw new Error("HEXR_ISTIO_CRDS is not set: run scripts/setup.sh");
    const applied = await kube.kubectl(["apply", "--server-side", "-f", crds]);
    expect(applied.stderr).toBe("");
    const names = [
      "authorizationpolicies.security.istio.io",
      "envoyfilters.networking.istio.io",
      "serviceentries.networking.istio.io",
    ];
    const established = await kube.kubectl([
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      ...names.map((n) => `crd/${n}`),
    ]);
    expect(established.code).toBe(0);
    await kube.namespace("istio-system");
    const { resources } = renderIstioSnippet({});
    expect(resources.map((r) => r.kind).sort()).toEqual([
      "AuthorizationPolicy",
      "EnvoyFilter",
      "EnvoyFilter",
      "ServiceEntry",
    ]);
    const docs = resources.map((r) => JSON.stringify(r)).join("\n");
    const r = await kube.kubectl(["apply", "--dry-run=server", "-f", "-"], docs);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("authorizationpolicy.security.istio.io/");
    // and the server does refuse what Istio's schema does not allow
    const bad = structuredClone(resources.find((x) => x.kind === "AuthorizationPolicy")) as Pod;
    bad.spec.action = "CUSTOMX";
    const refused = await kube.kubectl(["apply", "--dry-run=server", "-f", "-"], JSON.stringify(bad));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("spec.action");
  });
});

describe("hexr injector on a real API server", () => {
  it("the chart registered the webhook: both entries, Fail, the CA bundle and the URL", async () => {
    const r = await kube.kubectl(["get", "mutatingwebhookconfigurations", "-o", "json"]);
    const hooks = JSON.parse(r.stdout).items.flatMap((c: Pod) => c.webhooks);
    expect(hooks.map((h: Pod) => h.name).sort()).toEqual([
      "namespace.inject.hexr.io",
      "pod.inject.hexr.io",
      "untenanted.inject.hexr.io",
    ]);
    for (const h of hooks) {
      expect(h.failurePolicy).toBe("Fail");
      expect(h.clientConfig.url).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:${port}/mutate/(namespace|pod)$`));
      expect(Buffer.from(h.clientConfig.caBundle, "base64").toString()).toBe(kube.caPem);
    }
  });

  it("injects a labelled pod in an opted-in namespace: sidecars, volumes, env, marker", async () => {
    const pod = await created(agentPod("researcher-0", "tenant-acme"));
    expect(names(pod.spec.initContainers)).toEqual(["hexr-config", "hexr-sidecar", "hexr-envoy"]);
    expect(names(pod.spec.containers)).toEqual(["agent"]);
    const [config, sidecar, envoy] = pod.spec.initContainers;
    expect(sidecar.restartPolicy).toBe("Always");
    expect(envoy.restartPolicy).toBe("Always");
    expect(envoy.startupProbe).toBeDefined();
    expect(sidecar.command).toEqual(["hexr", "sidecar", "--config", "/etc/hexr/config/hexr.yaml"]);
    const volumes = Object.fromEntries(pod.spec.volumes.map((v: Pod) => [v.name, v]));
    expect(volumes["hexr-spire-agent"].csi).toEqual({ driver: "csi.spiffe.io", readOnly: true });
    expect(volumes["hexr-policy"].configMap).toMatchObject({ name: "hexr-policy", optional: false });
    expect(volumes["hexr-config"].emptyDir).toMatchObject({ medium: "Memory" });
    const agentEnv = envOf(pod.spec.containers[0]);
    expect(agentEnv.MODEL).toBe("m"); // the user's env is kept
    expect(agentEnv.HEXR_PROXY_URL).toBe("https://127.0.0.1:15001");
    expect(agentEnv.HTTP_PROXY).toBeDefined();
    expect(agentEnv.SPIFFE_ENDPOINT_SOCKET).toMatch(/^unix:\/\/\/run\/spire\/sockets\//);
    expect(envOf(config).HEXR_POD_UID).toEqual({ fieldRef: { apiVersion: "v1", fieldPath: "metadata.uid" } });
    const marker = JSON.parse(pod.metadata.annotations["hexr.io/injected"]);
    expect(marker.spiffe_id ?? marker.spiffeId).toBe("spiffe://hexr.cloud/agent/acme/crew/researcher");
    expect(logger.entries).toContainEqual(
      expect.objectContaining({
        msg: "admission",
        namespace: "tenant-acme",
        pod: "researcher-0",
        decision: "injected",
      }),
    );
  });

  it("the Envoy bootstrap it injected passes envoy --mode validate", async () => {
    const pod = JSON.parse(
      (await kube.kubectl(["get", "pod", "researcher-0", "-n", "tenant-acme", "-o", "json"])).stdout,
    );
    const env = envOf(pod.spec.initContainers[0]);
    const bootstrap = String(env.HEXR_ENVOY_BOOTSTRAP).replaceAll(POD_UID_TOKEN, pod.metadata.uid);
    expect(bootstrap).toContain("spiffe://hexr.cloud/agent/acme/crew/researcher");
    const r = await validateWithEnvoy(bootstrap);
    expect(r.output).toMatch(/OK/);
    expect(r.ok).toBe(true);
  });

  it("injects a pod that opts in by label in a tenant namespace that does not inject every pod", async () => {
    const pod = await created(
      agentPod("writer-0", "tenant-beta", { "hexr.io/inject": "true", "hexr.io/tenant": "beta" }),
    );
    expect(names(pod.spec.initContainers)).toEqual(["hexr-config", "hexr-sidecar", "hexr-envoy"]);
  });

  it("leaves unlabelled pods alone, and pods of namespaces that do not opt in", async () => {
    const plain = await created({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", namespace: "tenant-beta" },
      spec: { containers: [{ name: "web", image: "nginx" }] },
    });
    expect(plain.spec.initContainers).toBeUndefined();
    expect(names(plain.spec.containers)).toEqual(["web"]);
    expect(plain.metadata.annotations?.["hexr.io/injected"]).toBeUndefined();
    const other = await created(agentPod("researcher-0", "scratch"));
    expect(other.spec.initContainers).toBeUndefined();
  });

  it("never injects into hexr-system, whatever the pod's labels", async () => {
    const r = await create(agentPod("sneaky", "hexr-system", { "hexr.io/inject": "true" }));
    // the chart's selectors keep the API server from even asking; the pod is created as it was
    expect(r.code).toBe(0);
    const pod = JSON.parse(r.stdout);
    expect(pod.spec.initContainers).toBeUndefined();
    expect(pod.metadata.annotations?.["hexr.io/injected"]).toBeUndefined();
  });

  it("refuses a pod claiming another tenant's identity, with the reason", async () => {
    const r = await create(agentPod("impostor", "tenant-acme", { "hexr.io/tenant": "beta" }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("does not match namespace tenant-acme");
    const get = await kube.kubectl(["get", "pod", "impostor", "-n", "tenant-acme"]);
    expect(get.code).not.toBe(0); // nothing was stored
  });

  it("refuses a hand-set marker without the data plane, or with a data plane of its own; a re-submitted injected pod is left as it is", async () => {
    const forged = agentPod("forged", "tenant-acme");
    forged.metadata.annotations = { "hexr.io/injected": '{"version":"1"}' };
    const r = await create(forged);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/hexr/);
    // where pods opt in one by one, a pod that did not opt in may not arrive marked either
    const unreviewed = agentPod("unreviewed", "tenant-beta", { "hexr.io/tenant": "beta" });
    unreviewed.metadata.annotations = {
      "hexr.io/injected": '{"version":"1","spiffeId":"spiffe://hexr.cloud/agent/beta/crew/researcher"}',
    };
    const u = await create(unreviewed);
    expect(u.code).not.toBe(0);
    expect(u.stderr).toContain("a pod that is not injected may not carry hexr.io/injected");

    const first = JSON.parse(
      (await kube.kubectl(["get", "pod", "researcher-0", "-n", "tenant-acme", "-o", "json"])).stdout,
    );
    const again = structuredClone(first);
    again.metadata = {
      name: "researcher-1",
      namespace: "tenant-acme",
      labels: first.metadata.labels,
      annotations: first.metadata.annotations,
    };
    delete again.status;
    const pod = await created(again);
    expect(names(pod.spec.initContainers)).toEqual(["hexr-config", "hexr-sidecar", "hexr-envoy"]); // not twice
    expect(pod.spec.volumes.length).toBe(first.spec.volumes.length);

    // the same pod bringing its own Envoy image is not an injected pod
    const own = structuredClone(again);
    own.metadata.name = "researcher-2";
    own.spec.initContainers.find((c: Pod) => c.name === "hexr-envoy").image = "ghcr.io/evil/envoy:1";
    const refused = await create(own);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("container hexr-envoy differs from what the injector adds (hexr-envoy.image)");
  });

  it("refuses updates that would change a running pod's identity or data plane", async () => {
    const relabel = await kube.kubectl([
      "label",
      "pod",
      "researcher-0",
      "-n",
      "tenant-acme",
      "--overwrite",
      "hexr.io/role=admin",
    ]);
    expect(relabel.code).not.toBe(0);
    expect(relabel.stderr).toContain("label hexr.io/role cannot change on a running pod");
    const image = await kube.kubectl([
      "set",
      "image",
      "pod/researcher-0",
      "-n",
      "tenant-acme",
      "hexr-envoy=ghcr.io/evil/envoy:1",
    ]);
    expect(image.code).not.toBe(0);
    expect(image.stderr).toContain("the image of hexr-envoy cannot change");
    const other = await kube.kubectl(["label", "pod", "researcher-0", "-n", "tenant-acme", "team=research"]);
    expect(other.code).toBe(0); // other labels are the pod's own business
    // an opt-in added later, in a namespace that injects pod by pod, is refused too
    await created({ ...agentPod("late", "tenant-beta", { "hexr.io/tenant": "beta" }) });
    const late = await kube.kubectl(["label", "pod", "late", "-n", "tenant-beta", "hexr.io/inject=true"]);
    expect(late.code).not.toBe(0);
    expect(late.stderr).toContain("label hexr.io/inject cannot change");
  });

  it("fails closed: with the webhook down, an opted-in pod is not created", async () => {
    await injector.close();
    const r = await create(agentPod("researcher-9", "tenant-acme"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/failed calling webhook "namespace\.inject\.hexr\.io"/);
    const plain = await create({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web-2", namespace: "scratch" },
      spec: { containers: [{ name: "web", image: "nginx" }] },
    });
    expect(plain.code).toBe(0); // pods the webhook does not select are not held up by it
  });
});

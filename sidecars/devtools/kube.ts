/**
 * A real Kubernetes control plane on loopback for tests: etcd and kube-apiserver (built by setup from the
 * Go module proxy; `HEXR_ETCD`, `HEXR_KUBE_APISERVER`), with a test CA, a serving certificate for
 * 127.0.0.1, a service-account signing key, RBAC on, and one admin token (group `system:masters`). No
 * kubelet, scheduler or controller manager: pods stay Pending, which is enough for admission and
 * registration; {@link KubeHarness.namespace} creates the `default` ServiceAccount the controller manager
 * would. Also writes a kubeconfig for `kubectl` and `helm` (`HEXR_KUBECTL`, `HEXR_HELM`).
 *
 * Stop order matters: the API server first (with etcd gone it retries its storage for minutes).
 *
 * @example
 *   const kube = await startKube();
 *   await kube.namespace("tenant-acme", { "hexr.io/inject": "true", "hexr.io/tenant": "acme" });
 *   const { stdout } = await kube.kubectl(["get", "pods", "-A"]);
 *   await kube.stop();
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { HexrError } from "../../filters/errors.ts";
import { KubeClient, KubeError } from "../kube/client.ts";
import { makeCa, makeLeaf, type TestCa } from "./dev-ca.ts";
import { freePorts, LoggedProcess } from "./logged-process.ts";

export interface KubeHarness {
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  readonly adminToken: string;
  readonly caPem: string;
  readonly caFile: string;
  readonly tokenFile: string;
  readonly kubeconfig: string;
  readonly dir: string;
  /** The test CA (also issues webhook serving certificates). */
  readonly ca: TestCa;
  readonly client: KubeClient;
  /** Creates (or relabels) a namespace and its `default` ServiceAccount. */
  namespace(name: string, labels?: Record<string, string>): Promise<void>;
  /** Runs kubectl against this API server; never throws on a non-zero exit. */
  kubectl(args: readonly string[], stdin?: string): Promise<CommandResult>;
  /** Runs helm against this API server; never throws on a non-zero exit. */
  helm(args: readonly string[]): Promise<CommandResult>;
  stop(): Promise<void>;
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const ADMIN_TOKEN = "hexr-test-admin-token";

function bin(env: string, name: string): string {
  const b = process.env[env];
  if (!b) throw new HexrError("internal.kube", `${env} is not set: run scripts/setup.sh (it builds ${name})`);
  return b;
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(file, [...args], { env, maxBuffer: 32 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === "number"
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, stdout, stderr });
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

export async function startKube(o: { logLevel?: number } = {}): Promise<KubeHarness> {
  const etcdBin = bin("HEXR_ETCD", "etcd");
  const apiBin = bin("HEXR_KUBE_APISERVER", "kube-apiserver");
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-kube-"));
  const pki = path.join(dir, "pki");
  mkdirSync(pki);
  const ca = await makeCa("hexr-test-kube-ca");
  const serving = await makeLeaf(ca, { commonName: "kube-apiserver", dns: ["localhost"], ips: ["127.0.0.1"] });
  const sa = await makeCa("service-account-signer"); // only its key pair is used
  const spki = await crypto.subtle.exportKey("spki", sa.keys.publicKey);
  const files = {
    ca: path.join(pki, "ca.crt"),
    cert: path.join(pki, "apiserver.crt"),
    key: path.join(pki, "apiserver.key"),
    saKey: path.join(pki, "sa.key"),
    saPub: path.join(pki, "sa.pub"),
    tokens: path.join(pki, "tokens.csv"),
    token: path.join(pki, "admin.token"),
  };
  writeFileSync(files.ca, ca.certPem);
  writeFileSync(files.cert, serving.certPem);
  writeFileSync(files.key, serving.keyPem, { mode: 0o600 });
  writeFileSync(files.saKey, sa.keyPem, { mode: 0o600 });
  writeFileSync(
    files.saPub,
    `-----BEGIN PUBLIC KEY-----\n${Buffer.from(spki)
      .toString("base64")
      .replace(/(.{64})/g, "$1\n")}\n-----END PUBLIC KEY-----\n`,
  );
  writeFileSync(files.tokens, `${ADMIN_TOKEN},hexr-test-admin,hexr-test-admin,"system:masters"\n`, { mode: 0o600 });
  writeFileSync(files.token, ADMIN_TOKEN, { mode: 0o600 });

  const [etcdPort, peerPort, apiPort] = (await freePorts(3)) as [number, number, number];
  const etcd = new LoggedProcess("etcd", path.join(dir, "etcd.log"), "internal.kube");
  const api = new LoggedProcess("kube-apiserver", path.join(dir, "kube-apiserver.log"), "internal.kube", 10_000);
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  etcd.start(etcdBin, [
    "--name=hexr-test",
    `--data-dir=${path.join(dir, "etcd")}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=hexr-test=${peerUrl}`,
    "--log-level=warn",
    "--unsafe-no-fsync", // a throwaway store on a test machine
  ]);
  const server = `https://127.0.0.1:${apiPort}`;
  const client = new KubeClient({ server, token: () => ADMIN_TOKEN, ca: ca.certPem });
  const stop = async () => {
    await api.stop();
    await etcd.stop();
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await etcd.waitReady(`${etcdUrl}/health`, 30_000, async (r) => r.ok && (await r.text()).includes('"true"'));
    api.start(apiBin, [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      "--endpoint-reconciler-type=none",
      `--tls-cert-file=${files.cert}`,
      `--tls-private-key-file=${files.key}`,
      `--cert-dir=${path.join(dir, "certs")}`,
      `--client-ca-file=${files.ca}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${files.saPub}`,
      `--service-account-signing-key-file=${files.saKey}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      `--token-auth-file=${files.tokens}`,
      "--authorization-mode=RBAC",
      `--v=${o.logLevel ?? 0}`,
    ]);
    await waitApi(api, client, 90_000);
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }

  const kubeconfig = path.join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "hexr-test", cluster: { server, "certificate-authority": files.ca } }],
      users: [{ name: "admin", user: { token: ADMIN_TOKEN } }],
      contexts: [{ name: "hexr-test", context: { cluster: "hexr-test", user: "admin", namespace: "default" } }],
      "current-context": "hexr-test",
    }),
    { mode: 0o600 },
  );
  const toolEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    KUBECONFIG: kubeconfig,
    HELM_CACHE_HOME: path.join(dir, "helm", "cache"),
    HELM_CONFIG_HOME: path.join(dir, "helm", "config"),
    HELM_DATA_HOME: path.join(dir, "helm", "data"),
  };

  return {
    server,
    adminToken: ADMIN_TOKEN,
    caPem: ca.certPem,
    caFile: files.ca,
    tokenFile: files.token,
    kubeconfig,
    dir,
    ca,
    client,
    async namespace(name, labels = {}) {
      const body = { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } };
      try {
        await client.json("POST", "/api/v1/namespaces", body);
      } catch (e) {
        if (!(e instanceof KubeError && e.status === 409)) throw e;
        await client.json(
          "PATCH",
          `/api/v1/namespaces/${name}`,
          { metadata: { labels } },
          "application/merge-patch+json",
        );
      }
      try {
        await client.json("POST", `/api/v1/namespaces/${name}/serviceaccounts`, {
          apiVersion: "v1",
          kind: "ServiceAccount",
          metadata: { name: "default" },
        });
      } catch (e) {
        if (!(e instanceof KubeError && e.status === 409)) throw e;
      }
    },
    kubectl: (args, stdin) => run(bin("HEXR_KUBECTL", "kubectl"), args, toolEnv, stdin),
    helm: (args) => run(bin("HEXR_HELM", "helm"), args, toolEnv),
    stop,
  };
}

/** `/readyz` answers `ok` (with the admin token: the API server's CA is not in Node's store). */
async function waitApi(api: LoggedProcess, client: KubeClient, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (!api.running) throw api.error("exited before becoming ready");
    try {
      // /readyz answers text; json() fails on "ok", so ask for the verbose JSON-free check via a list
      await client.json("GET", "/api/v1/namespaces/default");
      await client.json("GET", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations");
      await client.json("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin"); // bootstrap RBAC in place
      return;
    } catch (e) {
      last = (e as Error).message;
    }
    await delay(200); // polling the API server until it serves
  }
  throw api.error(`not ready within ${timeoutMs} ms (${last})`);
}

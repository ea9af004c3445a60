import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseConfig } from "../../../sidecars/config.ts";
import { injectPod, type JsonPatchOp } from "../../../sidecars/injector/index.ts";
import { desiredForPod, type PodJson, resolveConfig } from "../../../sidecars/registrar/desired.ts";
import { agentPod, applyPatch, config, NS, names, PLAIN_NS, UNOWNED_NS, type Pod } from "./fixtures.ts";

function injected(pod: Pod, cfg = config(), ns = NS): { pod: Pod; patch: JsonPatchOp[]; warnings: string[] } {
  const r = injectPod(pod, ns, cfg);
  if (!("patch" in r)) throw new Error(`not injected: ${JSON.stringify(r)}`);
  return { pod: applyPatch(pod, r.patch), patch: r.patch, warnings: r.warnings };
}

const container = (pod: Pod, name: string) =>
  [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c: { name: string }) => c.name === name);
const envOf = (c: { env?: { name: string; value: string }[] }) =>
  Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));

describe("injectPod: golden pods", () => {
  it("explicit + native + CSI: sidecars as init containers with restartPolicy Always, in start order", () => {
    const { pod, patch } = injected(agentPod());
    expect(names(pod.spec.initContainers)).toEqual(["hexr-config", "hexr-sidecar", "hexr-envoy"]);
    expect(names(pod.spec.containers)).toEqual(["agent", "tools"]);
    expect(container(pod, "hexr-envoy").restartPolicy).toBe("Always");
    expect(container(pod, "hexr-sidecar").restartPolicy).toBe("Always");
    expect(container(pod, "hexr-config").restartPolicy).toBeUndefined();
    expect(pod.spec.volumes.find((v: { name: string }) => v.name === "hexr-spire-agent")).toEqual({
      name: "hexr-spire-agent",
      csi: { driver: "csi.spiffe.io", readOnly: true },
    });
    expect(pod.spec.volumes.find((v: { name: string }) => v.name === "hexr-policy").configMap).toEqual({
      name: "hexr-policy",
      optional: false,
    });
    // absent arrays and maps are added whole (kubectl refuses `add` into a missing array)
    expect(patch.map((o) => o.path)).toContain("/spec/initContainers");
    expect(patch.map((o) => o.path)).toContain("/metadata/annotations");
    const marker = JSON.parse(pod.metadata.annotations["hexr.io/injected"]);
    expect(marker).toEqual({
      version: "1",
      spiffeId: "spiffe://hexr.cloud/agent/acme/content-crew/researcher",
      traffic: "explicit",
      sidecarMode: "native",
    });
    expect(pod.metadata.annotations["kubectl.kubernetes.io/default-container"]).toBe("agent");
  });

  it("explicit: proxy and SDK env point at Envoy's outbound listener, on every agent container", () => {
    const { pod } = injected(agentPod());
    for (const name of ["agent", "tools"]) {
      const env = envOf(container(pod, name));
      expect(env).toMatchObject({
        HEXR_TRAFFIC: "explicit",
        HEXR_PROXY_URL: "https://127.0.0.1:15001",
        HTTPS_PROXY: "https://127.0.0.1:15001",
        HTTP_PROXY: "https://127.0.0.1:15001",
        https_proxy: "https://127.0.0.1:15001",
        NO_PROXY: "localhost,127.0.0.1,::1",
        SPIFFE_ENDPOINT_SOCKET: "unix:///run/spire/sockets/agent.sock",
      });
    }
    expect(envOf(container(pod, "agent")).MODEL).toBe("gpt-4o-mini");
  });

  it("the JWT listener adds its URL; no_proxy extras are appended", () => {
    const cfg = config({
      ports: { outbound_jwt: 15002 },
      envoy: { upstreams: [], jwtListener: true },
      traffic: { no_proxy: [".svc"] },
    });
    const env = envOf(container(injected(agentPod(), cfg).pod, "agent"));
    expect(env.HEXR_PROXY_JWT_URL).toBe("https://127.0.0.1:15002");
    expect(env.NO_PROXY).toBe("localhost,127.0.0.1,::1,.svc");
  });

  it("no field of the user's containers changes except env (and the read-only Workload API mount)", () => {
    const before = agentPod();
    const { pod } = injected(before);
    before.spec.containers.forEach((orig: Pod, i: number) => {
      const now = pod.spec.containers[i];
      const { env: _e1, volumeMounts: m1, ...restNow } = now;
      const { env: _e2, volumeMounts: m2, ...restOrig } = orig;
      expect(restNow).toEqual(restOrig);
      expect(m2).toBeUndefined();
      expect(m1).toEqual([{ name: "hexr-spire-agent", mountPath: "/run/spire/sockets", readOnly: true }]);
    });
    const { pod: onlyEnv } = injected(agentPod(), config({ agent_workload_api: false }));
    before.spec.containers.forEach((orig: Pod, i: number) => {
      const { env: _a, ...restNow } = onlyEnv.spec.containers[i];
      const { env: _b, ...restOrig } = orig;
      expect(restNow).toEqual(restOrig);
      expect(envOf(onlyEnv.spec.containers[i]).SPIFFE_ENDPOINT_SOCKET).toBeUndefined();
    });
    expect(pod.spec.securityContext).toEqual(before.spec.securityContext);
    expect(pod.spec.serviceAccountName).toBe("researcher");
  });

  it("an env var the container sets itself is left alone, with a warning", () => {
    const p = agentPod();
    p.spec.containers[0].env.push({ name: "HTTPS_PROXY", value: "http://corp-proxy:3128" });
    const { pod, warnings } = injected(p);
    expect(envOf(container(pod, "agent")).HTTPS_PROXY).toBe("http://corp-proxy:3128");
    expect(container(pod, "agent").env.filter((e: { name: string }) => e.name === "HTTPS_PROXY")).toHaveLength(1);
    expect(warnings.join("\n")).toMatch(/agent sets HTTPS_PROXY itself/);
  });

  it("classic mode (annotation): Envoy and the sidecar are appended containers; the config writer is an init container", () => {
    const { pod } = injected(agentPod({ annotations: { "hexr.io/sidecar-mode": "classic" } }));
    expect(names(pod.spec.containers)).toEqual(["agent", "tools", "hexr-sidecar", "hexr-envoy"]);
    expect(names(pod.spec.initContainers)).toEqual(["hexr-config"]);
    expect(container(pod, "hexr-envoy").restartPolicy).toBeUndefined();
    expect(JSON.parse(pod.metadata.annotations["hexr.io/injected"]).sidecarMode).toBe("classic");
  });

  it("classic mode from the config", () => {
    const { pod } = injected(agentPod(), config({ sidecar_mode: "classic" }));
    expect(names(pod.spec.containers)).toContain("hexr-envoy");
  });

  it("existing initContainers, volumes and annotations: native sidecars go first (inserted by index), the rest appended", () => {
    const p = agentPod({ annotations: { "example.com/owner": "team-a" } });
    p.spec.initContainers = [{ name: "fetch-model", image: "busybox" }];
    p.spec.volumes = [{ name: "models", emptyDir: {} }];
    const { pod, patch } = injected(p);
    expect(names(pod.spec.initContainers)).toEqual(["hexr-config", "hexr-sidecar", "hexr-envoy", "fetch-model"]);
    expect(pod.spec.volumes[0]).toEqual({ name: "models", emptyDir: {} });
    expect(names(pod.spec.volumes)).toContain("hexr-run");
    expect(pod.metadata.annotations["example.com/owner"]).toBe("team-a");
    const paths = patch.map((o) => o.path);
    expect(paths).toContain("/spec/initContainers/0");
    expect(paths).toContain("/spec/initContainers/2");
    expect(paths).toContain("/spec/volumes/-");
    // annotation keys are RFC 6901-escaped: `/` → `~1`
    expect(paths).toContain("/metadata/annotations/hexr.io~1injected");
    expect(paths).toContain("/metadata/annotations/kubectl.kubernetes.io~1default-container");
    expect(paths).toContain("/spec/containers/0/env/-");
    expect(paths).toContain("/spec/containers/1/env");
  });

  it("classic mode with existing initContainers appends after them", () => {
    const p = agentPod({ annotations: { "hexr.io/sidecar-mode": "classic" } });
    p.spec.initContainers = [{ name: "fetch-model", image: "busybox" }];
    expect(names(injected(p).pod.spec.initContainers)).toEqual(["fetch-model", "hexr-config"]);
  });

  it("hostPath SPIRE socket", () => {
    const cfg = config({
      spire: { socket: { mode: "hostPath", path: "/run/spire/agent-sockets" }, socket_name: "spire-agent.sock" },
    });
    const { pod } = injected(agentPod(), cfg);
    expect(pod.spec.volumes.find((v: { name: string }) => v.name === "hexr-spire-agent")).toEqual({
      name: "hexr-spire-agent",
      hostPath: { path: "/run/spire/agent-sockets", type: "Directory" },
    });
    expect(envOf(container(pod, "agent")).SPIFFE_ENDPOINT_SOCKET).toBe("unix:///run/spire/sockets/spire-agent.sock");
  });

  it("Envoy and the sidecar: non-root, read-only, no capabilities, probes, resources", () => {
    const { pod } = injected(agentPod());
    for (const name of ["hexr-envoy", "hexr-sidecar", "hexr-config"]) {
      const sc = container(pod, name).securityContext;
      expect(sc).toMatchObject({
        runAsUser: 1337,
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
      });
    }
    const envoy = container(pod, "hexr-envoy");
    expect(envoy.args).toEqual(["-c", "/etc/hexr/config/envoy.yaml", "--concurrency", "2", "--disable-hot-restart"]);
    expect(envoy.readinessProbe.httpGet).toEqual({ path: "/ready", port: 15021 });
    expect(envoy.startupProbe.httpGet).toEqual({ path: "/ready", port: 15021 });
    expect(envoy.livenessProbe.tcpSocket).toEqual({ port: 15021 });
    expect(envoy.resources).toEqual({ requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } });
    const sidecar = container(pod, "hexr-sidecar");
    expect(sidecar.command).toEqual(["hexr", "sidecar", "--config", "/etc/hexr/config/hexr.yaml"]);
    expect(sidecar.readinessProbe.httpGet).toEqual({ path: "/ready", port: 15020 });
    expect(sidecar.volumeMounts).toContainEqual({ name: "hexr-policy", mountPath: "/etc/hexr/policy", readOnly: true });
  });

  it("the rendered Envoy bootstrap: SPIRE SDS with the pod's SPIFFE ID, admin on a socket, /ready on the probe port", () => {
    const { pod } = injected(agentPod({ annotations: { "hexr.io/inbound-port": "8080" } }));
    const b = parseYaml(envOf(container(pod, "hexr-config")).HEXR_ENVOY_BOOTSTRAP!);
    const text = JSON.stringify(b);
    expect(text).toContain('"name":"spiffe://hexr.cloud/agent/acme/content-crew/researcher"');
    expect(text).toContain("/run/spire/sockets/agent.sock");
    expect(b.admin.address.pipe.path).toBe("/run/hexr/envoy-admin.sock");
    const names = b.static_resources.listeners.map((l: { name: string }) => l.name);
    expect(names).toEqual(["outbound", "inbound", "hexr_health"]);
    const inbound = b.static_resources.listeners[1];
    expect(inbound.address.socket_address).toEqual({ address: "0.0.0.0", port_value: 15006 });
    const health = b.static_resources.listeners[2];
    expect(health.address.socket_address.port_value).toBe(15021);
    expect(JSON.stringify(health)).toContain('"path":"/ready"');
    expect(container(pod, "hexr-envoy").ports).toContainEqual({
      name: "hexr-inbound",
      containerPort: 15006,
      protocol: "TCP",
    });
  });

  it("the sidecar config parses, and carries the delegated-identity selectors of the agent", () => {
    const cfg = config({
      spire: { admin_socket: { host_path: "/run/spire/admin" } },
      sidecar: {
        credentials: {
          providers: {
            aws: {
              audience: "sts.amazonaws.com",
              role_arn: "arn:aws:iam::123456789012:role/hexr-{agent}",
              token_source: "delegated",
            },
          },
        },
      },
    });
    const { pod } = injected(agentPod(), cfg);
    const text = envOf(container(pod, "hexr-config")).HEXR_SIDECAR_CONFIG!;
    const raw = parseYaml(text);
    expect(raw.credentials.delegated).toEqual({
      socket: "/run/spire/admin/admin.sock",
      agents: {
        "spiffe://hexr.cloud/agent/acme/content-crew/researcher": [
          "k8s:ns:tenant-acme",
          "k8s:pod-uid:{hexr:pod-uid}",
          "k8s:sa:researcher",
        ],
      },
    });
    // the init container's script, run for real (into a temp dir instead of /etc/hexr/config), fills in the
    // pod UID: the written config asks SPIRE with exactly the selectors of the registrar's entry for the pod
    const uid = "0b7e4c1a-3f7d-4c59-9a51-2f3c1d9e8a01";
    const dir = mkdtempSync(path.join(tmpdir(), "hexr-config-"));
    const init = container(pod, "hexr-config");
    const script = (init.command[2] as string).replaceAll("/etc/hexr/config/", `${dir}/`);
    const env = { ...envOf(init), HEXR_POD_UID: uid };
    expect(init.env).toContainEqual({ name: "HEXR_POD_UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } });
    execFileSync(process.execPath, ["-e", script], { env });
    const written = parseConfig(readFileSync(path.join(dir, "hexr.yaml"), "utf8"), "/etc/hexr/config/hexr.yaml");
    const selectors = written.credentials?.delegated?.agents.get(
      "spiffe://hexr.cloud/agent/acme/content-crew/researcher",
    );
    const entry = desiredForPod(
      {
        metadata: { ...pod.metadata, uid, name: "researcher-x7k2p" }, // named and given a UID on create
        spec: { ...pod.spec, nodeName: "node-a" },
      } as PodJson,
      resolveConfig({ trustDomain: "hexr.cloud", parentIdTemplate: "spiffe://hexr.cloud/hexr/{nodeName}" }),
      {
        nodes: new Map(),
        namespaces: new Map([["tenant-acme", { "hexr.io/tenant": "acme", "hexr.io/inject": "true" }]]),
      },
    );
    expect(entry.problems).toEqual([]);
    expect(selectors).toEqual(entry.entries[0]?.selectors);
    // without a UID the script refuses to write a config that could never match
    expect(() =>
      execFileSync(process.execPath, ["-e", script], { env: { ...env, HEXR_POD_UID: "" }, stdio: "pipe" }),
    ).toThrow(/pod UID is missing/);
    const text2 = text;
    const parsed = parseConfig(text2, "/etc/hexr/config/hexr.yaml");
    expect(parsed.credentials?.delegated?.agents.size).toBe(1);
    expect(parsed.authz?.listen.socket).toBe("/run/hexr/authz.sock");
    expect(parsed.authz?.bundlePath).toBe("/etc/hexr/policy/bundle.tar.gz");
    expect(parsed.telemetry.adminListen).toBe("0.0.0.0:15020");
    expect(container(pod, "hexr-sidecar").volumeMounts).toContainEqual({
      name: "hexr-spire-admin",
      mountPath: "/run/spire/admin",
      readOnly: true,
    });
  });

  it("the default service account is used when the pod names none", () => {
    const p = agentPod();
    delete p.spec.serviceAccountName;
    const cfg = config({
      spire: { admin_socket: { host_path: "/run/spire/admin" } },
      sidecar: { credentials: { providers: { aws: { audience: "a", role_arn: "arn:aws:iam::1:role/r" } } } },
    });
    const text = envOf(container(injected(p, cfg).pod, "hexr-config")).HEXR_SIDECAR_CONFIG!;
    expect(text).toContain("k8s:sa:default");
  });
});

describe("injectPod: transparent traffic", () => {
  const pod = () => agentPod({ annotations: { "hexr.io/traffic": "transparent" } });

  it("an iptables init container first, with NET_ADMIN + NET_RAW only, redirecting the agent uid to the outbound port", () => {
    const { pod: p } = injected(pod());
    expect(names(p.spec.initContainers)).toEqual(["hexr-iptables", "hexr-config", "hexr-sidecar", "hexr-envoy"]);
    const ipt = container(p, "hexr-iptables");
    expect(ipt.securityContext.capabilities).toEqual({ drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW"] });
    expect(ipt.securityContext.privileged).toBe(false);
    expect(ipt.restartPolicy).toBeUndefined();
    const script: string = ipt.command[2];
    expect(script).toContain("iptables -w -t nat -A HEXR_OUTPUT -o lo -j RETURN");
    expect(script).toContain("-m owner --uid-owner 1337 -j RETURN");
    expect(script).toContain(
      "iptables -w -t nat -A HEXR_OUTPUT -p tcp -m owner --uid-owner 1000 -j REDIRECT --to-ports 15001",
    );
    expect(script).toContain("ip6tables -w -t nat");
    // loopback and the proxy's exemption come before the redirect
    expect(script.indexOf("-o lo -j RETURN")).toBeLessThan(script.indexOf("REDIRECT"));
    const env = envOf(container(p, "agent"));
    expect(env.HEXR_TRAFFIC).toBe("transparent");
    expect(env.HTTPS_PROXY).toBeUndefined();
  });

  it("in classic mode the iptables container is appended after the pod's own init containers", () => {
    const p = agentPod({ annotations: { "hexr.io/traffic": "transparent", "hexr.io/sidecar-mode": "classic" } });
    p.spec.initContainers = [{ name: "setup", image: "busybox" }];
    expect(names(injected(p).pod.spec.initContainers)).toEqual(["setup", "hexr-iptables", "hexr-config"]);
  });

  it("excluded CIDRs and ports, per address family; one rule per distinct uid", () => {
    const cfg = config({
      traffic: { transparent: { exclude_cidrs: ["10.96.0.0/12", "fd00::/8"], exclude_ports: [5432], ipv6: true } },
    });
    const p = pod();
    p.spec.containers[1].securityContext = { runAsUser: 2000 };
    const script: string = container(injected(p, cfg).pod, "hexr-iptables").command[2];
    expect(script).toContain("iptables -w -t nat -A HEXR_OUTPUT -d 10.96.0.0/12 -j RETURN");
    expect(script).toContain("ip6tables -w -t nat -A HEXR_OUTPUT -d fd00::/8 -j RETURN");
    expect(script).not.toContain("ip6tables -w -t nat -A HEXR_OUTPUT -d 10.96.0.0/12");
    expect(script).toContain("--dport 5432 -j RETURN");
    expect(script).toContain("--uid-owner 2000 -j REDIRECT");
    expect(script).toContain("--uid-owner 1000 -j REDIRECT");
  });

  it.each([
    ["no runAsUser anywhere", (p: Pod) => delete p.spec.securityContext.runAsUser, /set securityContext.runAsUser/],
    ["root", (p: Pod) => (p.spec.containers[1].securityContext = { runAsUser: 0 }), /runs as root/],
    ["the proxy's uid", (p: Pod) => (p.spec.securityContext.runAsUser = 1337), /the proxy's uid/],
  ])("refused: %s", (_n, mutate, msg) => {
    const p = pod();
    mutate(p);
    const r = injectPod(p, NS, config());
    expect(r).toEqual({ refuse: expect.stringMatching(msg) });
  });

  it("refused when the cluster disabled it", () => {
    const r = injectPod(pod(), NS, config({ traffic: { transparent: { enabled: false } } }));
    expect(r).toEqual({ refuse: expect.stringMatching(/transparent traffic is disabled/) });
  });

  it("warns when a container allows privilege escalation", () => {
    const { warnings } = injected(pod());
    expect(warnings.join("\n")).toMatch(/tools: set allowPrivilegeEscalation: false/);
  });
});

describe("injectPod: idempotent", () => {
  const variants: [string, () => Pod, Record<string, unknown>?][] = [
    ["explicit native", () => agentPod()],
    [
      "transparent classic",
      () => agentPod({ annotations: { "hexr.io/traffic": "transparent", "hexr.io/sidecar-mode": "classic" } }),
    ],
    [
      "existing arrays",
      () => {
        const p = agentPod({ annotations: { a: "b" } });
        p.spec.initContainers = [{ name: "x", image: "busybox" }];
        p.spec.volumes = [{ name: "v", emptyDir: {} }];
        return p;
      },
    ],
    ["hostPath", () => agentPod(), { spire: { socket: { mode: "hostPath", path: "/run/spire/sockets" } } }],
  ];
  it.each(variants)("%s: applying the patch and injecting again gives an empty patch", (_n, make, over) => {
    const cfg = config(over);
    const once = injected(make(), cfg).pod;
    expect(injectPod(once, NS, cfg)).toEqual({ patch: [], warnings: [] });
  });

  it("a pod claiming to be injected without the containers is refused, not waved through", () => {
    const r = injectPod(agentPod({ annotations: { "hexr.io/injected": "true" } }), NS, config());
    expect(r).toEqual({ refuse: expect.stringMatching(/hexr.io\/injected is set but the pod has no hexr-envoy/) });
  });

  const tampered: [string, (p: Pod) => void, RegExp][] = [
    [
      "another Envoy image",
      (p) => (container(p, "hexr-envoy").image = "evil/envoy:1"),
      /hexr-envoy differs from what the injector adds \(hexr-envoy\.image\)/,
    ],
    [
      "another sidecar command",
      (p) => (container(p, "hexr-sidecar").command = ["sh", "-c", "sleep inf"]),
      /\(hexr-sidecar\.command\)/,
    ],
    [
      "a privileged proxy",
      (p) => (container(p, "hexr-envoy").securityContext = { privileged: true }),
      /\(hexr-envoy\.securityContext\./,
    ],
    [
      "a bootstrap without ext_authz",
      (p) => {
        const env = container(p, "hexr-config").env.find((e: Pod) => e.name === "HEXR_ENVOY_BOOTSTRAP");
        env.value = env.value.replace("envoy.filters.http.ext_authz", "envoy.filters.http.buffer");
      },
      /hexr-config\.env\[\d\]\.value/,
    ],
    [
      "labels changed after the marker was written",
      (p) => (p.metadata.labels["hexr.io/role"] = "admin"),
      /does not match the pod's labels/,
    ],
    [
      "a sidecar removed",
      (p) => (p.spec.initContainers = p.spec.initContainers.filter((c: Pod) => c.name !== "hexr-config")),
      /hexr-config is missing/,
    ],
  ];
  it.each(tampered)("an injected-looking pod with %s is refused, not waved through", (_n, tamper, why) => {
    const cfg = config();
    const pod = injected(agentPod(), cfg).pod;
    tamper(pod);
    const r = injectPod(pod, NS, cfg);
    expect(r).toEqual({ refuse: expect.stringMatching(why) });
  });

  it("a transparent pod whose iptables init container was dropped is refused", () => {
    const cfg = config();
    const pod = injected(agentPod({ annotations: { "hexr.io/traffic": "transparent" } }), cfg).pod;
    pod.spec.initContainers = pod.spec.initContainers.filter((c: Pod) => c.name !== "hexr-iptables");
    expect(injectPod(pod, NS, cfg)).toEqual({ refuse: expect.stringMatching(/hexr-iptables is missing/) });
  });

  it("a re-invocation with the API server's key order is still a no-op", () => {
    const cfg = config();
    const pod = injected(agentPod(), cfg).pod;
    const sorted = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(sorted)
        : v && typeof v === "object"
          ? Object.fromEntries(
              Object.keys(v)
                .sort()
                .map((k) => [k, sorted((v as Pod)[k])]),
            )
          : v;
    expect(injectPod(sorted(pod), NS, cfg)).toEqual({ patch: [], warnings: [] });
  });

  it.each<[string, (p: Pod) => void, RegExp]>([
    [
      "NODE_OPTIONS added to the sidecar",
      (p) => (container(p, "hexr-sidecar").env = [{ name: "NODE_OPTIONS", value: "--require /tmp/x.js" }]),
      /hexr-sidecar\.env/,
    ],
    [
      "the policy volume pointed at another ConfigMap",
      (p) => (p.spec.volumes.find((v: Pod) => v.name === "hexr-policy").configMap.name = "allow-all"),
      /volume hexr-policy\.configMap\.name differs/,
    ],
    [
      "Envoy's config mounted from elsewhere",
      (p) => (container(p, "hexr-envoy").volumeMounts[0].name = "mine"),
      /hexr-envoy\.volumeMounts\[0\]\.name/,
    ],
    [
      "a postStart hook on Envoy",
      (p) => (container(p, "hexr-envoy").lifecycle = { postStart: { exec: { command: ["sh"] } } }),
      /hexr-envoy\.lifecycle/,
    ],
  ])("an injected-looking pod with %s is refused", (_n, tamper, why) => {
    const cfg = config();
    const pod = injected(agentPod(), cfg).pod;
    tamper(pod);
    expect(injectPod(pod, NS, cfg)).toEqual({ refuse: expect.stringMatching(why) });
  });

  it.each(["hexr-run", "hexr-spire-admin", "hexr-secret-0", "hexr-config"])(
    "a pod whose own container mounts %s is refused, fresh or already injected",
    (vol) => {
      const cfg = config();
      const fresh = agentPod();
      fresh.spec.containers[0].volumeMounts = [{ name: vol, mountPath: "/grab" }];
      expect(injectPod(fresh, NS, cfg)).toEqual({
        refuse: expect.stringMatching(`container agent mounts volume ${vol}`),
      });
      const pod = injected(agentPod(), cfg).pod;
      pod.spec.containers[1].volumeMounts = [{ name: vol, mountPath: "/grab" }];
      expect(injectPod(pod, NS, cfg)).toEqual({
        refuse: expect.stringMatching(`container tools mounts volume ${vol}`),
      });
    },
  );

  it("a pod that is not opted in may not look injected (its namespace could opt in later)", () => {
    const cfg = config();
    const pod = injected(agentPod(), cfg).pod;
    expect(injectPod(pod, PLAIN_NS, cfg)).toEqual({
      refuse: expect.stringMatching(/not injected may not carry hexr.io\/injected/),
    });
    expect(injectPod(agentPod(), PLAIN_NS, cfg)).toEqual({ skip: "not opted in" }); // a plain pod stays a skip
  });

  it.each(["shareProcessNamespace", "hostPID", "hostIPC"])("a pod with %s is refused, fresh or injected", (f) => {
    const cfg = config();
    const fresh = agentPod();
    fresh.spec[f] = true;
    expect(injectPod(fresh, NS, cfg)).toEqual({ refuse: expect.stringMatching(`${f}: true cannot get a data plane`) });
    const pod = injected(agentPod(), cfg).pod;
    pod.spec[f] = true;
    expect(injectPod(pod, NS, cfg)).toEqual({ refuse: expect.stringMatching(`${f}: true`) });
  });

  it("a pod that mounts or reads the sidecar's secrets under another name is refused", () => {
    const cfg = config({ secret_mounts: [{ secret: "hexr-l2-key", mount_path: "/run/secrets/hexr" }] });
    const vol = agentPod();
    vol.spec.volumes = [{ name: "k", secret: { secretName: "hexr-l2-key" } }];
    expect(injectPod(vol, NS, cfg)).toEqual({ refuse: expect.stringMatching(/volume k holds secret hexr-l2-key/) });
    const env = agentPod();
    env.spec.containers[0].env.push({ name: "K", valueFrom: { secretKeyRef: { name: "hexr-l2-key", key: "l2.key" } } });
    expect(injectPod(env, NS, cfg)).toEqual({
      refuse: expect.stringMatching(/container agent reads secret hexr-l2-key/),
    });
    const pod = injected(agentPod(), cfg).pod;
    pod.spec.volumes.push({ name: "p", projected: { sources: [{ secret: { name: "hexr-l2-key" } }] } });
    expect(injectPod(pod, NS, cfg)).toEqual({ refuse: expect.stringMatching(/volume p holds secret hexr-l2-key/) });
  });

  it("an injected-looking pod whose own init container runs before the data plane is refused", () => {
    const cfg = config();
    const pod = injected(agentPod(), cfg).pod;
    pod.spec.initContainers.unshift({ name: "early", image: "busybox" }); // would run before Envoy is up
    expect(injectPod(pod, NS, cfg)).toEqual({
      refuse: expect.stringMatching(/init containers are not first, in order/),
    });
    const moved = injected(agentPod({ annotations: { "hexr.io/traffic": "transparent" } }), cfg).pod;
    const ipt = moved.spec.initContainers.find((c: Pod) => c.name === "hexr-iptables");
    moved.spec.initContainers = moved.spec.initContainers.filter((c: Pod) => c !== ipt);
    moved.spec.containers.push(ipt); // beside the agent, racing it
    expect(injectPod(moved, NS, cfg)).toEqual({ refuse: expect.any(String) });
  });

  it("the API server's defaults on our containers and volumes do not make a re-invocation refuse", () => {
    const cfg = config();
    const pod = injected(agentPod(), cfg).pod;
    for (const c of pod.spec.initContainers) {
      c.terminationMessagePath = "/dev/termination-log";
      c.terminationMessagePolicy = "File";
      for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe].filter(Boolean)) {
        Object.assign(probe, { timeoutSeconds: 1, successThreshold: 1 });
      }
    }
    pod.spec.volumes.find((v: Pod) => v.name === "hexr-policy").configMap.defaultMode = 420;
    // the ServiceAccount admission plugin's token mount, added to every container
    for (const c of pod.spec.initContainers) {
      c.volumeMounts = [
        ...(c.volumeMounts ?? []),
        { name: "kube-api-access-x7k2p", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true },
      ];
    }
    expect(injectPod(pod, NS, cfg)).toEqual({ patch: [], warnings: [] });
  });

  it("a pod with one of our container names but no marker is refused", () => {
    const p = agentPod();
    p.spec.containers.push({ name: "hexr-envoy", image: "evil/envoy" });
    expect(injectPod(p, NS, config())).toEqual({
      refuse: expect.stringMatching(/already has container\(s\) named hexr-envoy/),
    });
  });
});

describe("injectPod: scope and refusals", () => {
  it.each(["hexr-system", "kube-system"])("%s is skipped, whatever the labels", (ns) => {
    const r = injectPod(
      agentPod({ labels: { "hexr.io/inject": "true" } }),
      { name: ns, labels: { "hexr.io/inject": "true" } },
      config(),
    );
    expect(r).toEqual({ skip: `namespace ${ns} is never injected` });
  });

  it("configured excluded namespaces are skipped too", () => {
    const r = injectPod(agentPod(), { ...NS, name: "monitoring" }, config({ excluded_namespaces: ["monitoring"] }));
    expect("skip" in r).toBe(true);
  });

  it("pods in namespaces that did not opt in, without the pod label, are skipped", () => {
    expect(injectPod(agentPod(), PLAIN_NS, config())).toEqual({ skip: "not opted in" });
  });

  it("the pod label opts in without the namespace", () => {
    const r = injectPod(agentPod({ labels: { "hexr.io/inject": "true" } }), PLAIN_NS, config());
    expect("patch" in r && r.patch.length > 0).toBe(true);
  });

  it("a pod opting in where no tenant owns the namespace is refused (it could claim any tenant's identity)", () => {
    const r = injectPod(agentPod({ labels: { "hexr.io/inject": "true" } }), UNOWNED_NS, config());
    expect(r).toEqual({
      refuse: expect.stringMatching(/no hexr.io\/tenant label: agents run only in namespaces labelled/),
    });
  });

  it("opting out in an opted-in namespace is refused unless the config allows it", () => {
    const p = agentPod({ labels: { "hexr.io/inject": "false" } });
    expect(injectPod(p, NS, config())).toEqual({ refuse: expect.stringMatching(/cannot opt out/) });
    expect(injectPod(p, NS, config({ allow_pod_opt_out: true }))).toEqual({ skip: "pod opted out" });
  });

  it.each([
    ["hexr.io/tenant", /has no hexr.io\/tenant label/],
    ["hexr.io/agent", /has no hexr.io\/agent label/],
    ["hexr.io/role", /has no hexr.io\/role label/],
  ])("missing %s is refused with the label named", (label, msg) => {
    const p = agentPod();
    delete p.metadata.labels[label];
    expect(injectPod(p, NS, config({}))).toEqual({ refuse: expect.stringMatching(msg) });
  });

  it.each([
    ["hexr.io/agent", "a/b"],
    ["hexr.io/role", ".."],
    ["hexr.io/agent", "."],
    ["hexr.io/role", "r%20x"],
    ["hexr.io/agent", "x".repeat(64)],
  ])("invalid %s=%s is refused", (label, value) => {
    const p = agentPod({ labels: { [label]: value } });
    expect(injectPod(p, NS, config())).toEqual({ refuse: expect.stringMatching(/invalid label value/) });
  });

  it("labels with dots, dashes and underscores are fine", () => {
    const r = injectPod(agentPod({ labels: { "hexr.io/agent": "crew_v2.1-beta" } }), NS, config());
    expect("patch" in r).toBe(true);
  });

  it("a tenant label that does not match the namespace's tenant is refused", () => {
    const r = injectPod(agentPod({ labels: { "hexr.io/tenant": "globex" } }), NS, config());
    expect(r).toEqual({
      refuse: expect.stringMatching(
        /hexr.io\/tenant=globex does not match namespace tenant-acme's hexr.io\/tenant=acme/,
      ),
    });
  });

  it.each([
    ["hexr.io/traffic", "sideways", /hexr.io\/traffic must be explicit or transparent/],
    ["hexr.io/sidecar-mode", "both", /hexr.io\/sidecar-mode must be native or classic/],
    ["hexr.io/inbound-port", "http", /must be a port number/],
    ["hexr.io/inbound-port", "15021", /one of the data plane's ports/],
  ])("annotation %s=%s is refused", (key, value, msg) => {
    expect(injectPod(agentPod({ annotations: { [key]: value } }), NS, config())).toEqual({
      refuse: expect.stringMatching(msg),
    });
  });

  it("a container port that collides with the data plane is refused", () => {
    const p = agentPod();
    p.spec.containers[0].ports = [{ containerPort: 15001 }];
    expect(injectPod(p, NS, config())).toEqual({ refuse: expect.stringMatching(/uses port 15001/) });
  });

  it("a volume name that collides is refused", () => {
    const p = agentPod();
    p.spec.volumes = [{ name: "hexr-run", emptyDir: {} }];
    expect(injectPod(p, NS, config())).toEqual({ refuse: expect.stringMatching(/already has volume\(s\) hexr-run/) });
  });

  it("hostNetwork pods are refused", () => {
    const p = agentPod();
    p.spec.hostNetwork = true;
    expect(injectPod(p, NS, config())).toEqual({ refuse: expect.stringMatching(/hostNetwork/) });
  });

  it.each([null, 42, {}, { spec: { containers: [] } }])("a malformed object is refused: %j", (pod) => {
    expect("refuse" in injectPod(pod, NS, config())).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import { checkInjectorConfig, parseInjectorConfig } from "../../../sidecars/injector/index.ts";
import { renderDataPlane } from "../../../sidecars/injector/render.ts";
import { BASE_CONFIG, config } from "./fixtures.ts";

const SAMPLE_IDENTITY_FOR_TEST = {
  namespace: "tenant-acme",
  serviceAccount: "default",
  tenant: "acme",
  agent: "crew",
  role: "researcher",
  spiffeId: "spiffe://hexr.cloud/agent/acme/crew/researcher",
};

const withOver = (over: Record<string, unknown>) => ({ ...structuredClone(BASE_CONFIG), ...over });

describe("injector config", () => {
  it("defaults", () => {
    const cfg = checkInjectorConfig(BASE_CONFIG);
    expect(cfg.sidecarMode).toBe("native");
    expect(cfg.traffic.default).toBe("explicit");
    expect(cfg.spire.socket).toEqual({ mode: "csi", driver: "csi.spiffe.io" });
    expect(cfg.images.iptables).toBe(cfg.images.sidecar);
    expect([...cfg.excludedNamespaces]).toEqual(["hexr-system", "kube-system"]);
    expect(cfg.ports).toEqual({ outbound: 15001, inbound: 15006, envoyHealth: 15021, sidecarAdmin: 15020 });
    expect(cfg.allowPodOptOut).toBe(false);
  });

  it("parses YAML", () => {
    const cfg = parseInjectorConfig(
      "trust_domain: hexr.cloud\nimages: { envoy: e:1, sidecar: s:1 }\npolicy: { config_map: p }\nsidecar_mode: classic\n",
    );
    expect(cfg.sidecarMode).toBe("classic");
  });

  it.each([
    [{ trust_domain: "spiffe://hexr.cloud" }, /^trust_domain: not a valid trust domain/],
    [{ images: { envoy: "e" } }, /^images.sidecar: must be a non-empty string/],
    [{ images: { envoy: "e", sidecar: "s", pull_policy: "Sometimes" } }, /^images.pull_policy: must be one of/],
    [{ sidecar_mode: "sidecar" }, /^sidecar_mode: must be one of native, classic/],
    [{ spire: { socket: { mode: "hostPath" } } }, /^spire.socket.path: must be a non-empty string/],
    [{ spire: { socket: { mode: "hostPath", path: "relative" } } }, /^spire.socket.path: must be an absolute path/],
    [{ spire: { socket_name: "../x" } }, /^spire.socket_name: must be a file name/],
    [{ policy: { config_map: "Bad_Name" } }, /^policy.config_map: must be a Kubernetes object name/],
    [{ traffic: { default: "transparent", transparent: { enabled: false } } }, /^traffic.default: is transparent but/],
    [
      { traffic: { transparent: { exclude_cidrs: ["10.0.0.0/33"] } } },
      /^traffic.transparent.exclude_cidrs\[0\]: must be a CIDR/,
    ],
    [{ traffic: { transparent: { exclude_cidrs: ["10.0.0.0/8; rm -rf /"] } } }, /must be a CIDR/],
    [{ traffic: { no_proxy: ["a b"] } }, /^traffic.no_proxy\[0\]/],
    [{ ports: { outbound: 15021 } }, /^ports.envoyHealth: 15021 is also ports.outbound/],
    [{ ports: { inbound: 70000 } }, /^ports.inbound: must be an integer in \[1, 65535\]/],
    [{ resources: { envoy: { requests: { cpu: "lots" } } } }, /^resources.envoy.requests.cpu: must be a quantity/],
    [{ resources: { envoy: { limits: { gpu: "1" } } } }, /^resources.envoy.limits.gpu: unknown resource/],
    [{ proxy_uid: 0 }, /^proxy_uid: must be an integer/],
    [{ envoy: { tls: {} } }, /^envoy.tls: unknown field/],
    [
      { envoy: { upstreams: [{ name: "x", domains: ["*"], address: "a", port: 1 }] } },
      /^envoy.upstreams\[0\].domains\[0\]: "\*" would make an open proxy/,
    ],
    [{ envoy: { upstreams: [], jwtListener: true } }, /^envoy.jwtListener: needs ports.outbound_jwt/],
    [{ sidecar: { trust_domains: ["x"] } }, /^sidecar.trust_domains: is set by the injector/],
    [{ sidecar: { authz: { listen: { socket: "/x" } } } }, /^sidecar.authz.listen: is set by the injector/],
    [{ sidecar: { log: { level: "loud" } } }, /^sidecar.log.level: must be one of/],
    [{ sidecar: { bogus: 1 } }, /^sidecar.bogus: unknown field/],
    [{ secret_mounts: [{ secret: "k", mount_path: "/etc/hexr/keys" }] }, /^secret_mounts\[0\].mount_path: overlaps/],
    [{ excluded_namespaces: ["Not A Namespace"] }, /^excluded_namespaces\[0\]/],
    [{ surprise: true }, /^surprise: unknown field/],
  ])("%j → %s", (over, msg) => {
    expect(() => checkInjectorConfig(withOver(over))).toThrow(msg);
  });

  it("bad YAML is config.bad_yaml", () => {
    expect(() => parseInjectorConfig("a: [", "inj.yaml")).toThrow(/^inj.yaml:/);
  });
});

describe("Envoy's ext_authz timeout", () => {
  const creds = {
    providers: { aws: { audience: "sts.amazonaws.com", role_arn: "arn:aws:iam::123456789012:role/hexr-{agent}" } },
  };
  const timeoutOf = (over: Record<string, unknown>) => {
    const { envoy } = renderDataPlane(SAMPLE_IDENTITY_FOR_TEST, config(over), {});
    return /timeout: ([0-9.]+)s/.exec(envoy.slice(envoy.indexOf("envoy.filters.http.ext_authz")))?.[1];
  };

  it("stays at Envoy's 250 ms without credentials, and outlasts the exchange deadline with them", () => {
    expect(timeoutOf({})).toBe("0.25");
    expect(timeoutOf({ sidecar: { credentials: creds } })).toBe("1.75"); // 1500 ms exchange + 250 ms headroom
    expect(timeoutOf({ sidecar: { credentials: { ...creds, exchange_timeout_ms: 3000 } } })).toBe("3.25");
  });

  it("refuses an explicit timeout shorter than an exchange may take, naming the field", () => {
    expect(() =>
      config({ sidecar: { credentials: creds }, envoy: { ...BASE_CONFIG.envoy, authz: { timeoutMs: 500 } } }),
    ).toThrow(/envoy\.authz\.timeoutMs: 500 ms is shorter than a credential exchange may take \(1750 ms/);
    expect(
      timeoutOf({ sidecar: { credentials: creds }, envoy: { ...BASE_CONFIG.envoy, authz: { timeoutMs: 2000 } } }),
    ).toBe("2");
  });
});

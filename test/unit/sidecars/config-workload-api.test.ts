/** Sidecar config fields for SPIFFE identity: `workload_api`, `authz.listen.mtls`, `authz.jwt_svid`. */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../sidecars/config.ts";

const FULL = `
trust_domains: [hexr.cloud]
workload_api:
  socket: unix:///run/spire/sockets/agent.sock
  svid: spiffe://hexr.cloud/hexr/authz
  ready_timeout_ms: 5000
authz:
  listen:
    socket: /run/hexr/authz.sock
    tcp: 0.0.0.0:9191
    mtls: { allowed_clients: [spiffe://hexr.cloud/hexr/envoy] }
  bundle: bundle.tar.gz
  jwt_svid:
    audiences: [hexr-authz, hexr-authz.acme]
    clock_skew_seconds: 10
`;

function errorOf(text: string): string {
  try {
    parseConfig(text, "/etc/hexr/hexr.yaml");
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected the config to be rejected");
}

describe("sidecar config: SPIFFE identity", () => {
  it("parses workload_api, an mTLS listener and JWT-SVID settings", () => {
    const c = parseConfig(FULL, "/etc/hexr/hexr.yaml");
    expect(c.workloadApi).toEqual({
      socket: "unix:///run/spire/sockets/agent.sock",
      svid: "spiffe://hexr.cloud/hexr/authz",
      readyTimeoutMs: 5000,
    });
    expect(c.authz?.listen.socket).toBe("/run/hexr/authz.sock");
    expect(c.authz?.listen.tcp).toBe("0.0.0.0:9191");
    expect([...(c.authz?.listen.mtls?.allowedClients ?? [])]).toEqual(["spiffe://hexr.cloud/hexr/envoy"]);
    expect(c.authz?.jwtSvid).toEqual({
      audiences: ["hexr-authz", "hexr-authz.acme"],
      clockSkewSeconds: 10,
      maxLifetimeSeconds: 86_400,
    });
  });

  it("defaults: ready timeout 30 s, clock skew 30 s; no JWT-SVIDs or mTLS unless configured", () => {
    const c = parseConfig(
      `trust_domains: [hexr.cloud]\nworkload_api: { socket: /run/spire/sockets/agent.sock }\nauthz:\n  listen: { socket: /s }\n  bundle: b.tar.gz\n  jwt_svid: { audiences: [a] }\n`,
      "/etc/hexr/hexr.yaml",
    );
    expect(c.workloadApi?.readyTimeoutMs).toBe(30_000);
    expect(c.workloadApi?.svid).toBeUndefined();
    expect(c.authz?.jwtSvid?.clockSkewSeconds).toBe(30);
    expect(c.authz?.listen.mtls).toBeUndefined();
  });

  it.each([
    [
      "jwt_svid without workload_api",
      FULL.replace(/workload_api:[\s\S]*?authz:/, "authz:"),
      /^authz\.listen\.mtls: needs workload_api/,
    ],
    [
      "jwt_svid without workload_api (no mtls)",
      `trust_domains: [hexr.cloud]\nauthz:\n  listen: { socket: /s }\n  bundle: b\n  jwt_svid: { audiences: [a] }\n`,
      /^authz\.jwt_svid: needs workload_api/,
    ],
    [
      "empty audiences",
      FULL.replace("[hexr-authz, hexr-authz.acme]", "[]"),
      /^authz\.jwt_svid\.audiences: must be a non-empty list/,
    ],
    ["an empty audience", FULL.replace("[hexr-authz, hexr-authz.acme]", '[""]'), /^authz\.jwt_svid\.audiences\[0\]: /],
    [
      "negative skew",
      FULL.replace("clock_skew_seconds: 10", "clock_skew_seconds: -1"),
      /^authz\.jwt_svid\.clock_skew_seconds: /,
    ],
    [
      "a year of skew",
      FULL.replace("clock_skew_seconds: 10", "clock_skew_seconds: 31536000"),
      /^authz\.jwt_svid\.clock_skew_seconds: must be an integer in \[0, 300\]/,
    ],
    [
      "a max lifetime over 7 days",
      FULL.replace("clock_skew_seconds: 10", "max_lifetime_seconds: 31536000"),
      /^authz\.jwt_svid\.max_lifetime_seconds: must be an integer in \[1, 604800\]/,
    ],
    [
      "unknown jwt_svid field",
      FULL.replace("clock_skew_seconds: 10", "issuer: x"),
      /^authz\.jwt_svid\.issuer: unknown field/,
    ],
    [
      "relative socket",
      FULL.replace("unix:///run/spire/sockets/agent.sock", "agent.sock"),
      /^workload_api\.socket: must be an absolute path/,
    ],
    [
      "svid not a SPIFFE ID",
      FULL.replace("svid: spiffe://hexr.cloud/hexr/authz", "svid: hexr/authz"),
      /^workload_api\.svid: must be a SPIFFE ID/,
    ],
    ["mtls without tcp", FULL.replace("    tcp: 0.0.0.0:9191\n", ""), /^authz\.listen\.mtls: applies to tcp only/],
    [
      "mtls with no clients",
      FULL.replace("[spiffe://hexr.cloud/hexr/envoy]", "[]"),
      /^authz\.listen\.mtls\.allowed_clients: must be a non-empty list/,
    ],
    [
      "mtls client that is not a SPIFFE ID",
      FULL.replace("[spiffe://hexr.cloud/hexr/envoy]", "[envoy]"),
      /^authz\.listen\.mtls\.allowed_clients\[0\]: must be a SPIFFE ID/,
    ],
  ])("%s → an error naming the field", (_n, text, message) => {
    expect(errorOf(text)).toMatch(message);
  });
});

describe("authz.listen.server", () => {
  const config = (listen: string) => `trust_domains: [hexr.cloud]\nauthz:\n  listen: ${listen}\n  bundle: /b.tar.gz\n`;

  it("is http2 for a Unix socket and grpc-js for tcp, unless set", () => {
    expect(parseConfig(config("{ socket: /run/hexr/authz.sock }")).authz?.listen.server).toBe("http2");
    expect(parseConfig(config("{ socket: /run/hexr/authz.sock, server: grpc-js }")).authz?.listen.server).toBe(
      "grpc-js",
    );
    expect(parseConfig(config("{ tcp: 127.0.0.1:9191 }")).authz?.listen.server).toBe("grpc-js");
    expect(parseConfig(config("{ socket: /s.sock, tcp: 127.0.0.1:9191 }")).authz?.listen.server).toBe("grpc-js");
  });

  it("is grpc-js when ext_proc shares the socket, and refuses http2 there", () => {
    const shared = (server: string) =>
      `trust_domains: [hexr.cloud]\nauthz:\n  listen: { socket: /run/hexr/s.sock${server} }\n  bundle: /b.tar.gz\n` +
      "ext_proc:\n  listen: { socket: /run/hexr/s.sock }\n  isolation: inline\n";
    expect(parseConfig(shared("")).authz?.listen.server).toBe("grpc-js");
    expect(() => parseConfig(shared(", server: http2"))).toThrow(/^authz\.listen\.server: http2 serves Check only/);
  });

  it.each([
    ["http2 with tcp", "{ socket: /s.sock, tcp: 127.0.0.1:9191, server: http2 }", /http2 serves a Unix socket only/],
    ["an unknown server", "{ socket: /s.sock, server: h3 }", /must be grpc-js or http2/],
  ])("refuses %s, naming the field", (_n, listen, why) => {
    expect(() => parseConfig(config(listen))).toThrow(why);
    expect(() => parseConfig(config(listen))).toThrow(/^authz\.listen\.server:/);
  });
});

describe("ext_proc.listen.server", () => {
  const config = (listen: string, extra = "") =>
    `trust_domains: [hexr.cloud]\next_proc:\n  listen: ${listen}\n${extra}`;

  it("is http2 for a socket of the guard thread, grpc-js for tcp and inline, unless set", () => {
    expect(parseConfig(config("{ socket: /p.sock }")).extProc?.listen.server).toBe("http2");
    expect(parseConfig(config("{ socket: /p.sock, server: grpc-js }")).extProc?.listen.server).toBe("grpc-js");
    expect(parseConfig(config("{ tcp: 127.0.0.1:9292 }")).extProc?.listen.server).toBe("grpc-js");
    expect(parseConfig(config("{ socket: /p.sock, tcp: 127.0.0.1:9292 }")).extProc?.listen.server).toBe("grpc-js");
    expect(parseConfig(config("{ socket: /p.sock }", "  isolation: inline\n")).extProc?.listen.server).toBe("grpc-js");
  });

  it.each([
    ["http2 with tcp", "{ socket: /p.sock, tcp: 127.0.0.1:9292, server: http2 }", ""],
    ["http2 inline", "{ socket: /p.sock, server: http2 }", "  isolation: inline\n"],
    ["an unknown server", "{ socket: /p.sock, server: h3 }", ""],
  ])("refuses %s, naming the field", (_n, listen, extra) => {
    expect(() => parseConfig(config(listen, extra))).toThrow(/^ext_proc\.listen\.server:/);
  });

  it("is grpc-js on a socket shared with authz, and refuses http2 there", () => {
    const shared = (server: string) =>
      "trust_domains: [hexr.cloud]\nauthz:\n  listen: { socket: /run/hexr/s.sock }\n  bundle: /b.tar.gz\n" +
      `ext_proc:\n  listen: { socket: /run/hexr/s.sock${server} }\n`;
    expect(parseConfig(shared("")).extProc?.listen.server).toBe("grpc-js");
    expect(() => parseConfig(shared(", server: http2"))).toThrow(/^ext_proc\.listen\.server: http2 needs a socket/);
  });
});

import { describe, expect, it } from "vitest";
import { checkSidecarOptions, defaultSidecarOptions, type SidecarEnvoyOptions } from "../../../envoy-config/index.ts";
import { isHexrError } from "../../../filters/errors.ts";

function withPatch(patch: Record<string, unknown>): unknown {
  return { ...defaultSidecarOptions(), ...patch };
}

describe("checkSidecarOptions", () => {
  it("accepts the defaults and returns them typed", () => {
    const o: SidecarEnvoyOptions = checkSidecarOptions(defaultSidecarOptions());
    expect(o.tls.mode).toBe("spire");
  });

  it.each([
    ["not a mapping", [], /options: must be a mapping/],
    ["unknown top-level key", withPatch({ upstream: [] }), /options.upstream: unknown option/],
    [
      "fail-open authz",
      withPatch({ authz: { socket: "/a", failureModeAllow: true } }),
      /authz.failureModeAllow: only false/,
    ],
    [
      "fail-open ext_proc",
      withPatch({ extProc: { socket: "/e", failureModeAllow: true } }),
      /extProc.failureModeAllow: only false/,
    ],
    ["authz without a target", withPatch({ authz: { timeoutMs: 100 } }), /authz: needs exactly one of socket, tcp/],
    [
      "authz timeout 0",
      withPatch({ authz: { socket: "/a", timeoutMs: 0 } }),
      /authz.timeoutMs: must be an integer in 1\.\.60000/,
    ],
    [
      "status 200 on error",
      withPatch({ authz: { socket: "/a", statusOnError: 200 } }),
      /authz.statusOnError: must be one of 403, 503/,
    ],
    [
      "same cluster for authz and ext_proc",
      withPatch({ extProc: { socket: "/e", clusterName: "hexr_authz" } }),
      /extProc.clusterName: must differ/,
    ],
    ["bad tls mode", withPatch({ tls: { mode: "vault" } }), /tls.mode: must be files or spire/],
    [
      "files tls missing key",
      withPatch({ tls: { mode: "files", certChain: "/c", clientCa: "/ca" } }),
      /tls.privateKey: must be a non-empty string/,
    ],
    [
      "trust domain with scheme",
      withPatch({ tls: { mode: "spire", sdsSocket: "/s", spiffeId: "default", trustDomain: "spiffe://x" } }),
      /tls.trustDomain: must match/,
    ],
    [
      "port out of range",
      withPatch({ outbound: { address: "127.0.0.1", port: 70000 } }),
      /outbound.port: must be an integer in 0\.\.65535/,
    ],
    [
      "peer prefix without scheme",
      withPatch({ outbound: { address: "127.0.0.1", port: 1, allowedPeerPrefixes: ["agent/"] } }),
      /outbound.allowedPeerPrefixes\[0\]: must start with spiffe:\/\//,
    ],
    [
      "duplicate upstream",
      withPatch({
        upstreams: [
          { name: "a", domains: ["a"], address: "1.1.1.1", port: 1 },
          { name: "a", domains: ["b"], address: "1.1.1.1", port: 1 },
        ],
      }),
      /upstreams\[1\].name: duplicate upstream name a/,
    ],
    [
      "upstream named like an internal cluster",
      withPatch({ upstreams: [{ name: "spire_agent", domains: ["a"], address: "1.1.1.1", port: 1 }] }),
      /reserved/,
    ],
    [
      "wildcard upstream",
      withPatch({ upstreams: [{ name: "a", domains: ["*"], address: "1.1.1.1", port: 1 }] }),
      /open proxy/,
    ],
    [
      "upstream without domains",
      withPatch({ upstreams: [{ name: "a", domains: [], address: "1.1.1.1", port: 1 }] }),
      /upstreams\[0\].domains: must be a non-empty list/,
    ],
    [
      "public TLS without sni",
      withPatch({ upstreams: [{ name: "a", domains: ["a"], address: "a", port: 443, tls: {} }] }),
      /upstreams\[0\].tls.sni/,
    ],
    [
      "spiffe TLS without peers",
      withPatch({ upstreams: [{ name: "a", domains: ["a"], address: "a", port: 443, tls: { mode: "spiffe" } }] }),
      /tls.peerIdPrefixes: required/,
    ],
    [
      "bad body mode",
      withPatch({ upstreams: [{ name: "a", domains: ["a"], address: "a", port: 1, extProc: { requestBody: "ALL" } }] }),
      /extProc.requestBody: must be one of/,
    ],
    [
      "duplex request bodies (the processors read them whole)",
      withPatch({
        upstreams: [{ name: "a", domains: ["a"], address: "a", port: 1, extProc: { requestBody: "FULL_DUPLEX_STREAMED" } }],
      }),
      /extProc.requestBody: FULL_DUPLEX_STREAMED is not served/,
    ],
    [
      "duplex responses without buffered requests (no override may ask for them)",
      withPatch({
        upstreams: [{ name: "a", domains: ["a"], address: "a", port: 1, extProc: { responseBody: "FULL_DUPLEX_STREAMED" } }],
      }),
      /extProc.requestBody: must be BUFFERED with responseBody FULL_DUPLEX_STREAMED/,
    ],
    [
      "bad escaped-slash action",
      withPatch({ http: { escapedSlashes: "KEEP_UNCHANGED" } }),
      /http.escapedSlashes: must be one of/,
    ],
    [
      "inbound without app",
      withPatch({ inbound: { address: "0.0.0.0", port: 15006 } }),
      /inbound.app: must be a mapping/,
    ],
  ])("rejects %s, naming the option", (_name, raw, message) => {
    let caught: unknown;
    try {
      checkSidecarOptions(raw);
    } catch (e) {
      caught = e;
    }
    expect(isHexrError(caught) && caught.code).toBe("config.invalid");
    expect((caught as Error).message).toMatch(message);
  });
});

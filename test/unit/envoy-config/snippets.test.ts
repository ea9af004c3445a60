import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  renderExtAuthzFilterSnippet,
  renderExtProcFilterSnippet,
  renderSnippet,
  renderSnippetYaml,
  renderSpireSdsSnippet,
  SNIPPET_NAMES,
} from "../../../envoy-config/index.ts";
import { dig } from "./dig.ts";

const SNIPPET_DIR = path.resolve(import.meta.dirname, "../../../envoy-config/snippets");

describe("committed snippets", () => {
  it.each(SNIPPET_NAMES)("envoy-config/snippets/%s.yaml equals the rendered output", (name) => {
    const committed = readFileSync(path.join(SNIPPET_DIR, `${name}.yaml`), "utf8");
    // On failure, regenerate: bin/hexr envoy render --snippet <name> -o envoy-config/snippets/<name>.yaml
    expect(committed).toBe(renderSnippetYaml(name));
  });

  it.each(SNIPPET_NAMES)("%s.yaml starts with a comment header and parses back to the snippet", (name) => {
    const text = renderSnippetYaml(name);
    expect(text.split("\n")[0]).toMatch(/^# /);
    expect(parseYaml(text)).toEqual(JSON.parse(JSON.stringify(renderSnippet(name))));
  });
});

describe("renderExtAuthzFilterSnippet", () => {
  const s = renderExtAuthzFilterSnippet({ socket: "/run/hexr/authz.sock" });

  it("is one fail-closed ext_authz filter with a default timeout and its HTTP/2 cluster", () => {
    expect(s.http_filters.map((f) => f.name)).toEqual(["envoy.filters.http.ext_authz"]);
    const cfg = dig(s.http_filters[0], "typed_config");
    expect(dig(cfg, "failure_mode_allow")).toBe(false);
    expect(dig(cfg, "include_peer_certificate")).toBe(true);
    expect(dig(cfg, "grpc_service", "timeout")).toBe("0.25s");
    expect(s.clusters.map((c) => c.name)).toEqual(["hexr_authz"]);
    expect(s.clusters[0]).toHaveProperty([
      "typed_extension_protocol_options",
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    ]);
  });

  it("rejects a target with both socket and tcp", () => {
    expect(() => renderExtAuthzFilterSnippet({ socket: "/a", tcp: { address: "127.0.0.1", port: 1 } })).toThrow(
      /exactly one of socket, tcp/,
    );
  });
});

describe("renderExtProcFilterSnippet", () => {
  it("is headers-only with mode override and its cluster", () => {
    const s = renderExtProcFilterSnippet({ socket: "/run/hexr/ext-proc.sock", clusterName: "guard" });
    const cfg = dig(s.http_filters[0], "typed_config");
    expect(dig(cfg, "allow_mode_override")).toBe(true);
    expect(dig(cfg, "processing_mode", "request_body_mode")).toBe("NONE");
    expect(dig(cfg, "grpc_service", "envoy_grpc", "cluster_name")).toBe("guard");
    expect(s.clusters.map((c) => c.name)).toEqual(["guard"]);
  });
});

describe("renderSpireSdsSnippet", () => {
  const s = renderSpireSdsSnippet({
    sdsSocket: "/run/spire/sockets/agent.sock",
    spiffeId: "spiffe://td.test/agent/a/b/c",
    trustDomain: "td.test",
  });

  it("has the spire_agent cluster and a client-cert-requiring downstream socket", () => {
    expect(s.clusters.map((c) => c.name)).toEqual(["spire_agent"]);
    expect(dig(s.downstream_transport_socket, "typed_config", "require_client_certificate")).toBe(true);
    expect(
      dig(
        s.downstream_transport_socket,
        "typed_config",
        "common_tls_context",
        "tls_certificate_sds_secret_configs",
        0,
        "name",
      ),
    ).toBe("spiffe://td.test/agent/a/b/c");
  });

  it("validates peers with the trust domain's bundle secret and the agent prefix", () => {
    const cvc = dig(s.upstream_transport_socket, "typed_config", "common_tls_context", "combined_validation_context");
    expect(dig(cvc, "validation_context_sds_secret_config", "name")).toBe("spiffe://td.test");
    expect(dig(cvc, "default_validation_context")).toEqual({
      match_typed_subject_alt_names: [{ san_type: "URI", matcher: { prefix: "spiffe://td.test/agent/" } }],
    });
  });

  it("switches to ALL with federation", () => {
    const fed = renderSpireSdsSnippet({
      sdsSocket: "/s",
      spiffeId: "default",
      trustDomain: "td.test",
      federatedTrustDomains: ["other.test"],
    });
    expect(
      dig(
        fed.downstream_transport_socket,
        "typed_config",
        "common_tls_context",
        "combined_validation_context",
        "validation_context_sds_secret_config",
        "name",
      ),
    ).toBe("ALL");
  });

  it("rejects a SPIFFE ID that is neither spiffe:// nor default", () => {
    expect(() => renderSpireSdsSnippet({ sdsSocket: "/s", spiffeId: "agent", trustDomain: "td.test" })).toThrow(
      /tls.spiffeId/,
    );
  });
});

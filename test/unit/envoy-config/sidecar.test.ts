import { describe, expect, it } from "vitest";
import {
  CTX_DIRECTION,
  CTX_UPSTREAM,
  DENY_VHOST,
  renderInboundListener,
  renderSidecarBootstrap,
  SPIFFE_VALIDATOR,
  toYaml,
} from "../../../envoy-config/index.ts";
import { dig, hcmOf, httpFilterNames, list, named } from "./dig.ts";
import { AGENT_ID, SIDECAR_ID, SPIRE_TLS, sidecarOptions, TD } from "./fixtures.ts";

const FILES_TLS = {
  mode: "files",
  certChain: "/pki/cert.pem",
  privateKey: "/pki/key.pem",
  clientCa: "/pki/ca.pem",
} as const;

function outbound(b: unknown) {
  return named(list(b, "static_resources", "listeners"), "outbound");
}

function cluster(b: unknown, name: string) {
  return named(list(b, "static_resources", "clusters"), name);
}

function filterConfig(listener: unknown, name: string) {
  return dig(named(list(hcmOf(listener), "http_filters"), name), "typed_config");
}

describe("renderSidecarBootstrap: request bodies to ext_authz", () => {
  it("only on upstreams that ask, whole and as bytes", () => {
    const b = renderSidecarBootstrap(
      sidecarOptions(SPIRE_TLS, {
        upstreams: [
          {
            name: "signed",
            domains: ["dynamodb.us-east-1.amazonaws.com"],
            address: "127.0.0.1",
            port: 1,
            authzBodyBytes: 65536,
          },
          { name: "plain", domains: ["s3.us-east-1.amazonaws.com"], address: "127.0.0.1", port: 2 },
        ],
      }),
    );
    const vhosts = list(hcmOf(outbound(b)), "route_config", "virtual_hosts");
    const settings = (name: string) =>
      dig(named(vhosts, name), "typed_per_filter_config", "envoy.filters.http.ext_authz", "check_settings");
    expect(dig(settings("signed"), "with_request_body")).toEqual({
      max_request_bytes: 65536,
      allow_partial_message: false,
      pack_as_bytes: true,
    });
    expect(Object.keys(settings("plain") as object)).toEqual(["context_extensions"]);
  });
});

describe("renderSidecarBootstrap: ext_authz fails closed", () => {
  const b = renderSidecarBootstrap(sidecarOptions(SPIRE_TLS));
  const authz = filterConfig(outbound(b), "envoy.filters.http.ext_authz");

  it("never allows on authz failure and answers 403", () => {
    expect(dig(authz, "failure_mode_allow")).toBe(false);
    expect(dig(authz, "status_on_error", "code")).toBe("Forbidden");
  });

  it("sends the peer certificate, not the body, with an explicit deadline over gRPC v3", () => {
    expect(dig(authz, "include_peer_certificate")).toBe(true);
    expect(authz).not.toHaveProperty("with_request_body");
    expect(dig(authz, "grpc_service", "timeout")).toBe("0.25s");
    expect(dig(authz, "grpc_service", "envoy_grpc", "cluster_name")).toBe("hexr_authz");
    expect(dig(authz, "transport_api_version")).toBe("V3");
  });

  it("503 on error is opt-in and failureModeAllow: true is refused", () => {
    const b503 = renderSidecarBootstrap(
      sidecarOptions(SPIRE_TLS, { authz: { socket: "/a.sock", statusOnError: 503, timeoutMs: 100 } }),
    );
    const cfg = filterConfig(outbound(b503), "envoy.filters.http.ext_authz");
    expect(dig(cfg, "status_on_error", "code")).toBe("ServiceUnavailable");
    expect(dig(cfg, "grpc_service", "timeout")).toBe("0.1s");
    const open = sidecarOptions(SPIRE_TLS, {
      authz: { socket: "/a.sock", failureModeAllow: true as unknown as false },
    });
    expect(() => renderSidecarBootstrap(open)).toThrow(/authz.failureModeAllow: only false/);
  });

  it("talks HTTP/2 to the authz cluster over a Unix socket, with circuit breakers out of the way", () => {
    const c = cluster(b, "hexr_authz");
    expect(
      dig(
        c,
        "typed_extension_protocol_options",
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        "explicit_http_config",
      ),
    ).toEqual({ http2_protocol_options: {} });
    expect(dig(c, "load_assignment", "endpoints", 0, "lb_endpoints", 0, "endpoint", "address")).toEqual({
      pipe: { path: "/run/hexr/authz.sock" },
    });
    expect(dig(c, "connect_timeout")).toBe("0.25s");
    expect(dig(c, "circuit_breakers", "thresholds", 0, "max_requests")).toBeGreaterThanOrEqual(100_000);
  });

  it("can reach authz over TCP", () => {
    const tcp = renderSidecarBootstrap(
      sidecarOptions(SPIRE_TLS, { authz: { tcp: { address: "127.0.0.1", port: 9191 } } }),
    );
    expect(
      dig(cluster(tcp, "hexr_authz"), "load_assignment", "endpoints", 0, "lb_endpoints", 0, "endpoint", "address"),
    ).toEqual({
      socket_address: { address: "127.0.0.1", port_value: 9191 },
    });
  });
});

describe("renderSidecarBootstrap: outbound listener", () => {
  const b = renderSidecarBootstrap(sidecarOptions(SPIRE_TLS));
  const l = outbound(b);
  const hcm = hcmOf(l);
  const tlsCtx = dig(l, "filter_chains", 0, "transport_socket", "typed_config");

  it("requires client certificates", () => {
    expect(dig(tlsCtx, "@type")).toMatch(/DownstreamTlsContext$/);
    expect(dig(tlsCtx, "require_client_certificate")).toBe(true);
  });

  it("strips untrusted XFCC and hardens request parsing", () => {
    expect(dig(hcm, "forward_client_cert_details")).toBe("SANITIZE");
    expect(dig(hcm, "use_remote_address")).toBe(true);
    expect(dig(hcm, "normalize_path")).toBe(true);
    expect(dig(hcm, "merge_slashes")).toBe(true);
    expect(dig(hcm, "path_with_escaped_slashes_action")).toBe("REJECT_REQUEST");
    expect(dig(hcm, "max_request_headers_kb")).toBe(60);
    expect(dig(hcm, "common_http_protocol_options", "headers_with_underscores_action")).toBe("REJECT_REQUEST");
  });

  it("caps a downstream connection's life below the SVID lifetime (10 min default, configurable, bounded)", () => {
    expect(dig(hcm, "common_http_protocol_options", "max_connection_duration")).toBe("600s");
    const short = renderSidecarBootstrap(sidecarOptions(SPIRE_TLS, { http: { maxConnectionDurationMs: 90_000 } }));
    expect(dig(hcmOf(outbound(short)), "common_http_protocol_options", "max_connection_duration")).toBe("90s");
    expect(() => renderSidecarBootstrap(sidecarOptions(SPIRE_TLS, { http: { maxConnectionDurationMs: 10 } }))).toThrow(
      /http\.maxConnectionDurationMs/,
    );
  });

  it("runs ext_authz, then the router (no ext_proc unless configured)", () => {
    expect(httpFilterNames(l)).toEqual(["envoy.filters.http.ext_authz", "envoy.filters.http.router"]);
  });

  it("routes each upstream by Host and tells authz which upstream it is", () => {
    const vh = named(list(hcm, "route_config", "virtual_hosts"), "openai");
    expect(dig(vh, "domains")).toEqual(["api.openai.com"]);
    expect(dig(vh, "routes", 0, "route", "cluster")).toBe("openai");
    expect(
      dig(vh, "typed_per_filter_config", "envoy.filters.http.ext_authz", "check_settings", "context_extensions"),
    ).toEqual({
      [CTX_DIRECTION]: "outbound",
      [CTX_UPSTREAM]: "openai",
    });
  });

  it("answers unknown hosts with 404 from Envoy itself: no open proxy", () => {
    const vhosts = list(hcm, "route_config", "virtual_hosts");
    const deny = vhosts.at(-1);
    expect(dig(deny, "name")).toBe(DENY_VHOST);
    expect(dig(deny, "domains")).toEqual(["*"]);
    expect(dig(deny, "routes", 0, "direct_response", "status")).toBe(404);
    expect(dig(deny, "routes", 0)).not.toHaveProperty("route");
    // only the deny vhost matches "*"
    expect(vhosts.filter((v) => (dig(v, "domains") as string[]).includes("*"))).toHaveLength(1);
  });

  it("refuses an upstream that would match every host", () => {
    const opts = sidecarOptions(SPIRE_TLS, {
      upstreams: [{ name: "all", domains: ["*"], address: "1.2.3.4", port: 80 }],
    });
    expect(() => renderSidecarBootstrap(opts)).toThrow(/upstreams\[0\]\.domains\[0\]: .*open proxy/);
  });

  it("has no admin access log and binds admin to loopback", () => {
    expect(dig(b, "admin")).toEqual({ address: { socket_address: { address: "127.0.0.1", port_value: 0 } } });
  });
});

describe("renderSidecarBootstrap: upstream clusters", () => {
  const b = renderSidecarBootstrap(sidecarOptions(SPIRE_TLS));

  it("uses DNS for host names and STATIC for IPs", () => {
    expect(dig(cluster(b, "openai"), "type")).toBe("LOGICAL_DNS");
    expect(dig(cluster(b, "local_echo"), "type")).toBe("STATIC");
    expect(cluster(b, "local_echo")).not.toHaveProperty("transport_socket");
  });

  it("originates TLS with SNI and verifies the server's DNS SAN", () => {
    const ctx = dig(cluster(b, "openai"), "transport_socket", "typed_config");
    expect(dig(ctx, "sni")).toBe("api.openai.com");
    expect(dig(ctx, "common_tls_context", "validation_context", "trusted_ca", "filename")).toBe(
      "/etc/ssl/certs/ca-certificates.crt",
    );
    expect(dig(ctx, "common_tls_context", "validation_context", "match_typed_subject_alt_names")).toEqual([
      { san_type: "DNS", matcher: { exact: "api.openai.com" } },
    ]);
  });

  it("originates SPIFFE mTLS to another agent with the SVID from SDS and checks its ID", () => {
    const ctx = dig(cluster(b, "peer_agent"), "transport_socket", "typed_config", "common_tls_context");
    expect(dig(ctx, "tls_certificate_sds_secret_configs", 0, "name")).toBe(SIDECAR_ID);
    expect(
      dig(ctx, "combined_validation_context", "default_validation_context", "match_typed_subject_alt_names"),
    ).toEqual([{ san_type: "URI", matcher: { prefix: `spiffe://${TD}/agent/acme/crew/writer` } }]);
  });
});

describe("renderSidecarBootstrap: SPIRE SDS", () => {
  const b = renderSidecarBootstrap(sidecarOptions(SPIRE_TLS));
  const ctx = dig(outbound(b), "filter_chains", 0, "transport_socket", "typed_config", "common_tls_context");
  const sds = {
    resource_api_version: "V3",
    api_config_source: {
      api_type: "GRPC",
      transport_api_version: "V3",
      grpc_services: [{ envoy_grpc: { cluster_name: "spire_agent" } }],
    },
  };

  it("takes the SVID by SPIFFE ID and the bundle by trust domain from the agent", () => {
    expect(dig(ctx, "tls_certificate_sds_secret_configs")).toEqual([{ name: SIDECAR_ID, sds_config: sds }]);
    expect(dig(ctx, "combined_validation_context", "validation_context_sds_secret_config")).toEqual({
      name: `spiffe://${TD}`,
      sds_config: sds,
    });
  });

  it("accepts only local agents on the outbound listener", () => {
    expect(
      dig(ctx, "combined_validation_context", "default_validation_context", "match_typed_subject_alt_names"),
    ).toEqual([{ san_type: "URI", matcher: { prefix: `spiffe://${TD}/agent/` } }]);
  });

  it("pins SPIRE to the SPIFFE validator via node metadata", () => {
    expect(dig(b, "node", "metadata", "disable_spiffe_cert_validation")).toBe(false);
  });

  it("has an HTTP/2 spire_agent cluster on the agent socket", () => {
    const c = cluster(b, "spire_agent");
    expect(dig(c, "load_assignment", "endpoints", 0, "lb_endpoints", 0, "endpoint", "address")).toEqual({
      pipe: { path: "/run/spire/sockets/agent.sock" },
    });
    expect(c).toHaveProperty([
      "typed_extension_protocol_options",
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    ]);
  });

  it("validates federated peers with SPIRE's ALL bundle on the inbound listener", () => {
    const fed = sidecarOptions(
      { ...SPIRE_TLS, federatedTrustDomains: ["partner.test"] },
      { inbound: { address: "0.0.0.0", port: 15006, app: { address: "127.0.0.1", port: 8080 } } },
    );
    const inCtx = dig(
      renderInboundListener(fed),
      "filter_chains",
      0,
      "transport_socket",
      "typed_config",
      "common_tls_context",
    );
    expect(dig(inCtx, "combined_validation_context", "validation_context_sds_secret_config", "name")).toBe("ALL");
    expect(
      dig(inCtx, "combined_validation_context", "default_validation_context", "match_typed_subject_alt_names"),
    ).toEqual([
      { san_type: "URI", matcher: { prefix: `spiffe://${TD}/agent/` } },
      { san_type: "URI", matcher: { prefix: "spiffe://partner.test/agent/" } },
    ]);
    // the outbound listener still only trusts the local trust domain
    const outCtx = dig(
      outbound(renderSidecarBootstrap(fed)),
      "filter_chains",
      0,
      "transport_socket",
      "typed_config",
      "common_tls_context",
    );
    expect(dig(outCtx, "combined_validation_context", "validation_context_sds_secret_config", "name")).toBe(
      `spiffe://${TD}`,
    );
  });
});

describe("renderSidecarBootstrap: files mode", () => {
  it("uses trusted_ca without a trust domain", () => {
    const ctx = dig(
      outbound(renderSidecarBootstrap(sidecarOptions(FILES_TLS))),
      "filter_chains",
      0,
      "transport_socket",
      "typed_config",
      "common_tls_context",
    );
    expect(dig(ctx, "tls_certificates")).toEqual([
      { certificate_chain: { filename: "/pki/cert.pem" }, private_key: { filename: "/pki/key.pem" } },
    ]);
    expect(dig(ctx, "validation_context")).toEqual({ trusted_ca: { filename: "/pki/ca.pem" } });
  });

  it("uses Envoy's SPIFFE validator with a trust domain", () => {
    const opts = sidecarOptions({ ...FILES_TLS, trustDomain: TD });
    const v = dig(
      outbound(renderSidecarBootstrap(opts)),
      "filter_chains",
      0,
      "transport_socket",
      "typed_config",
      "common_tls_context",
      "validation_context",
    );
    expect(dig(v, "custom_validator_config", "name")).toBe(SPIFFE_VALIDATOR);
    expect(dig(v, "custom_validator_config", "typed_config", "trust_domains")).toEqual([
      { name: TD, trust_bundle: { filename: "/pki/ca.pem" } },
    ]);
    expect(dig(v, "match_typed_subject_alt_names")).toEqual([
      { san_type: "URI", matcher: { prefix: `spiffe://${TD}/agent/` } },
    ]);
  });

  it("has no SDS cluster and no SPIRE node metadata", () => {
    const b = renderSidecarBootstrap(sidecarOptions(FILES_TLS));
    expect(list(b, "static_resources", "clusters").map((c) => dig(c, "name"))).not.toContain("spire_agent");
    expect(b).not.toHaveProperty(["node", "metadata"]);
  });
});

describe("renderSidecarBootstrap: ext_proc", () => {
  const b = renderSidecarBootstrap(sidecarOptions(SPIRE_TLS, { extProc: { socket: "/run/hexr/ext-proc.sock" } }));
  const l = outbound(b);
  const cfg = filterConfig(l, "envoy.filters.http.ext_proc");

  it("runs after ext_authz and before the router", () => {
    expect(httpFilterNames(l)).toEqual([
      "envoy.filters.http.ext_authz",
      "envoy.filters.http.ext_proc",
      "envoy.filters.http.router",
    ]);
  });

  it("is headers-only by default, fails closed, and lets the server ask for bodies", () => {
    expect(dig(cfg, "processing_mode")).toEqual({
      request_header_mode: "SEND",
      response_header_mode: "SEND",
      request_body_mode: "NONE",
      response_body_mode: "NONE",
      request_trailer_mode: "SKIP",
      response_trailer_mode: "SKIP",
    });
    expect(dig(cfg, "allow_mode_override")).toBe(true);
    expect(dig(cfg, "failure_mode_allow")).toBe(false);
    expect(dig(cfg, "message_timeout")).toBe("0.5s");
    expect(dig(cfg, "mutation_rules", "disallow_system")).toBe(true);
  });

  it("refuses with the ext_authz status when the sidecar is down: one status whatever the route", () => {
    expect(dig(cfg, "status_on_error", "code")).toBe("Forbidden");
    const b503 = renderSidecarBootstrap(
      sidecarOptions(SPIRE_TLS, {
        authz: { socket: "/a.sock", statusOnError: 503 },
        extProc: { socket: "/run/hexr/ext-proc.sock" },
      }),
    );
    expect(dig(filterConfig(outbound(b503), "envoy.filters.http.ext_proc"), "status_on_error", "code")).toBe(
      "ServiceUnavailable",
    );
  });

  it("sets body modes per upstream, and can switch ext_proc off for one", () => {
    const vhosts = list(hcmOf(l), "route_config", "virtual_hosts");
    const openai = dig(
      named(vhosts, "openai"),
      "typed_per_filter_config",
      "envoy.filters.http.ext_proc",
      "overrides",
      "processing_mode",
    );
    expect(dig(openai, "request_body_mode")).toBe("BUFFERED");
    expect(dig(openai, "response_body_mode")).toBe("FULL_DUPLEX_STREAMED");
    // trailers end a duplex body: they reach the processor; the request's stay skipped
    expect(dig(openai, "response_trailer_mode")).toBe("SEND");
    expect(dig(openai, "request_trailer_mode")).toBe("SKIP");
    expect(dig(named(vhosts, "local_echo"), "typed_per_filter_config", "envoy.filters.http.ext_proc", "disabled")).toBe(
      true,
    );
    expect(named(vhosts, "s3")).not.toHaveProperty(["typed_per_filter_config", "envoy.filters.http.ext_proc"]);
    expect(dig(named(vhosts, DENY_VHOST), "typed_per_filter_config", "envoy.filters.http.ext_proc", "disabled")).toBe(
      true,
    );
  });

  it("has an HTTP/2 ext_proc cluster", () => {
    expect(cluster(b, "hexr_ext_proc")).toHaveProperty([
      "typed_extension_protocol_options",
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    ]);
  });
});

describe("renderInboundListener", () => {
  const opts = sidecarOptions(SPIRE_TLS, {
    inbound: { address: "0.0.0.0", port: 15006, app: { address: "127.0.0.1", port: 8080 } },
  });
  const l = renderInboundListener(opts);

  it("requires mTLS and checks the caller's SPIFFE ID prefix", () => {
    const ts = dig(l, "filter_chains", 0, "transport_socket", "typed_config");
    expect(dig(ts, "require_client_certificate")).toBe(true);
    expect(
      dig(
        ts,
        "common_tls_context",
        "combined_validation_context",
        "default_validation_context",
        "match_typed_subject_alt_names",
      ),
    ).toEqual([{ san_type: "URI", matcher: { prefix: `spiffe://${TD}/agent/` } }]);
  });

  it("hands the verified caller ID to the local agent and nothing a client sent", () => {
    expect(dig(hcmOf(l), "forward_client_cert_details")).toBe("SANITIZE_SET");
    expect(dig(hcmOf(l), "set_current_client_cert_details")).toEqual({ uri: true });
  });

  it("routes every host to the local agent, with authz told it is inbound", () => {
    const vh = dig(hcmOf(l), "route_config", "virtual_hosts", 0);
    expect(dig(vh, "routes", 0, "route", "cluster")).toBe("local_agent");
    expect(
      dig(vh, "typed_per_filter_config", "envoy.filters.http.ext_authz", "check_settings", "context_extensions"),
    ).toEqual({
      [CTX_DIRECTION]: "inbound",
    });
    expect(
      dig(
        cluster(renderSidecarBootstrap(opts), "local_agent"),
        "load_assignment",
        "endpoints",
        0,
        "lb_endpoints",
        0,
        "endpoint",
        "address",
      ),
    ).toEqual({
      socket_address: { address: "127.0.0.1", port_value: 8080 },
    });
  });

  it("accepts explicit peer prefixes (an exact agent ID)", () => {
    const exact = renderInboundListener({ ...opts, inbound: { ...opts.inbound!, allowedPeerPrefixes: [AGENT_ID] } });
    expect(
      dig(
        exact,
        "filter_chains",
        0,
        "transport_socket",
        "typed_config",
        "common_tls_context",
        "combined_validation_context",
        "default_validation_context",
      ),
    ).toEqual({ match_typed_subject_alt_names: [{ san_type: "URI", matcher: { prefix: AGENT_ID } }] });
  });

  it("needs options.inbound, and peer checks in files mode", () => {
    expect(() => renderInboundListener(sidecarOptions(SPIRE_TLS))).toThrow(TypeError);
    const noTd = sidecarOptions(FILES_TLS, {
      inbound: { address: "0.0.0.0", port: 15006, app: { address: "127.0.0.1", port: 8080 } },
    });
    expect(() => renderInboundListener(noTd)).toThrow(/inbound.allowedPeerPrefixes: required/);
  });
});

describe("toYaml", () => {
  it("quotes strings a YAML 1.1 parser would read as booleans and emits no aliases", () => {
    const shared = { a: 1 };
    const text = toYaml({ cluster: "y", other: "on", one: shared, two: shared });
    expect(text).toContain('cluster: "y"');
    expect(text).toContain('other: "on"');
    expect(text).not.toMatch(/[&*]a\d/);
  });
});

/**
 * TLS contexts: the sidecar's identity (PEM files or SPIRE SDS), peer SPIFFE ID checks, and public
 * upstream TLS. The SPIRE facts these rely on:
 *  - SPIRE's SDS serves the SVID as a TlsCertificate secret named by its SPIFFE ID (or `default`), the local
 *    bundle as a validation-context secret named `spiffe://<td>`, and all bundles (local + federated) as `ALL`.
 *  - Unless disabled (`disable_spiffe_cert_validation`, agent-wide or in Envoy's node metadata), those
 *    validation contexts carry Envoy's SPIFFE certificate validator (`envoy.tls.cert_validator.spiffe`) with
 *    the bundles inline; `ALL` is only served in that form. Our static `default_validation_context` adds the
 *    URI SAN matchers, which the SPIFFE validator honours (it matches URI SANs only).
 */
import { duration, typed } from "./common.ts";
import { SPIRE_AGENT_CLUSTER, SPIRE_ALL_BUNDLES, SYSTEM_CA_BUNDLE } from "./defaults.ts";
import type { JsonObject, SidecarTls, SpireTls, UpstreamTls } from "./types.ts";

const TLS_SOCKET = "envoy.transport_sockets.tls";
const TLS_PKG = "envoy.extensions.transport_sockets.tls.v3";
export const SPIFFE_VALIDATOR = "envoy.tls.cert_validator.spiffe";

/**
 * SDS over gRPC to the SPIRE agent cluster. With `sdsRetryBackoff`, the stream is re-opened on that
 * schedule after the agent went away (`EnvoyGrpc.retry_policy`, honoured for xDS streams).
 */
export function spireSdsConfig(tls?: SpireTls): JsonObject {
  const envoyGrpc: JsonObject = { cluster_name: SPIRE_AGENT_CLUSTER };
  const backoff = tls?.sdsRetryBackoff;
  if (backoff) {
    envoyGrpc.retry_policy = {
      retry_back_off: { base_interval: duration(backoff.baseMs), max_interval: duration(backoff.maxMs) },
    };
  }
  return {
    resource_api_version: "V3",
    api_config_source: {
      api_type: "GRPC",
      transport_api_version: "V3",
      grpc_services: [{ envoy_grpc: envoyGrpc }],
    },
  };
}

/** Default peer prefixes: agents of the given trust domains. */
export function agentPrefixes(trustDomains: readonly string[]): string[] {
  return trustDomains.map((td) => `spiffe://${td}/agent/`);
}

function uriSanPrefixes(prefixes: readonly string[]): JsonObject[] {
  return prefixes.map((p) => ({ san_type: "URI", matcher: { prefix: p } }));
}

function uriSanExact(ids: readonly string[]): JsonObject[] {
  return ids.map((id) => ({ san_type: "URI", matcher: { exact: id } }));
}

/** Which SPIRE bundle secret to validate peers with: one trust domain, or `ALL` for federation. */
export function spireBundleName(tls: SpireTls, includeFederated: boolean): string {
  return includeFederated && (tls.federatedTrustDomains?.length ?? 0) > 0
    ? SPIRE_ALL_BUNDLES
    : `spiffe://${tls.trustDomain}`;
}

/**
 * `common_tls_context` presenting the sidecar's certificate and validating the peer.
 * `peerPrefixes` empty → any certificate the trust bundle validates is accepted.
 */
export function identityTlsContext(
  tls: SidecarTls,
  peerPrefixes: readonly string[],
  includeFederated: boolean,
  exactPeerIds: readonly string[] = [],
): JsonObject {
  const san = [...uriSanPrefixes(peerPrefixes), ...uriSanExact(exactPeerIds)];
  const tlsParams = { tls_minimum_protocol_version: "TLSv1_2" };
  if (tls.mode === "files") {
    const validation: JsonObject =
      tls.trustDomain !== undefined
        ? {
            custom_validator_config: {
              name: SPIFFE_VALIDATOR,
              typed_config: typed(`${TLS_PKG}.SPIFFECertValidatorConfig`, {
                trust_domains: [{ name: tls.trustDomain, trust_bundle: { filename: tls.clientCa } }],
              }),
            },
          }
        : { trusted_ca: { filename: tls.clientCa } };
    if (san.length > 0) validation.match_typed_subject_alt_names = san;
    return {
      tls_params: tlsParams,
      tls_certificates: [{ certificate_chain: { filename: tls.certChain }, private_key: { filename: tls.privateKey } }],
      validation_context: validation,
    };
  }
  return {
    tls_params: tlsParams,
    tls_certificate_sds_secret_configs: [{ name: tls.spiffeId, sds_config: spireSdsConfig(tls) }],
    combined_validation_context: {
      default_validation_context: san.length > 0 ? { match_typed_subject_alt_names: san } : {},
      validation_context_sds_secret_config: {
        name: spireBundleName(tls, includeFederated),
        sds_config: spireSdsConfig(tls),
      },
    },
  };
}

/** Listener transport socket: TLS with client certificates required. */
export function downstreamTlsSocket(
  tls: SidecarTls,
  peerPrefixes: readonly string[],
  includeFederated: boolean,
): JsonObject {
  const common = identityTlsContext(tls, peerPrefixes, includeFederated);
  return {
    name: TLS_SOCKET,
    typed_config: typed(`${TLS_PKG}.DownstreamTlsContext`, {
      common_tls_context: { ...common, alpn_protocols: ["h2", "http/1.1"] },
      require_client_certificate: true,
    }),
  };
}

/**
 * Listener transport socket that only authenticates the server (the sidecar's certificate); no client
 * certificate is requested, so callers are identified by what they send in the request (a JWT-SVID).
 */
export function serverOnlyTlsSocket(tls: SidecarTls): JsonObject {
  const identity: JsonObject =
    tls.mode === "files"
      ? {
          tls_certificates: [
            { certificate_chain: { filename: tls.certChain }, private_key: { filename: tls.privateKey } },
          ],
        }
      : { tls_certificate_sds_secret_configs: [{ name: tls.spiffeId, sds_config: spireSdsConfig(tls) }] };
  return {
    name: TLS_SOCKET,
    typed_config: typed(`${TLS_PKG}.DownstreamTlsContext`, {
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: "TLSv1_2" },
        ...identity,
        alpn_protocols: ["h2", "http/1.1"],
      },
      require_client_certificate: false,
    }),
  };
}

/**
 * Cluster transport socket for a gRPC service (ext_authz over TCP) reached with mTLS: this sidecar's
 * identity, the server checked by exact SPIFFE ID. ALPN `h2` is offered because Node's HTTP/2 server
 * (grpc-js) drops TLS connections that negotiate no protocol.
 */
export function grpcMtlsSocket(identity: SidecarTls, serverIds: readonly string[]): JsonObject {
  return {
    name: TLS_SOCKET,
    typed_config: typed(`${TLS_PKG}.UpstreamTlsContext`, {
      common_tls_context: { ...identityTlsContext(identity, [], false, serverIds), alpn_protocols: ["h2"] },
    }),
  };
}

/** Cluster transport socket for TLS originated by Envoy. */
export function upstreamTlsSocket(up: UpstreamTls, identity: SidecarTls): JsonObject {
  if (up.mode === "spiffe") {
    const ctx: JsonObject = { common_tls_context: identityTlsContext(identity, up.peerIdPrefixes, true) };
    if (up.sni !== undefined) ctx.sni = up.sni;
    return { name: TLS_SOCKET, typed_config: typed(`${TLS_PKG}.UpstreamTlsContext`, ctx) };
  }
  return {
    name: TLS_SOCKET,
    typed_config: typed(`${TLS_PKG}.UpstreamTlsContext`, {
      sni: up.sni,
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: "TLSv1_2" },
        validation_context: {
          trusted_ca: { filename: up.caFile ?? SYSTEM_CA_BUNDLE },
          match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: up.sni } }],
        },
      },
    }),
  };
}

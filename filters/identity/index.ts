export {
  MAX_SPIFFE_ID_BYTES,
  MAX_TRUST_DOMAIN_LENGTH,
  parseSpiffeId,
  SPIFFE_SCHEME,
  type SpiffeId,
  type SpiffeIdResult,
  tryParseSpiffeId,
} from "./spiffe-id.ts";
export { AGENT_PATH_PREFIX, type Principal, principalFromSpiffeId } from "./principal.ts";
export {
  DEFAULT_PEER_CERT_CACHE_BYTES,
  DEFAULT_PEER_CERT_CACHE_ENTRIES,
  MAX_CERTIFICATE_INPUT_BYTES,
  PeerCertificateReader,
  type PeerCertificateReaderOptions,
  spiffeIdFromCertificate,
} from "./peer-cert.ts";
export type {
  CheckAttributes,
  CheckHttpRequest,
  CheckPeer,
  CheckRequest,
  CheckRequestInfo,
  CheckTlsSession,
  EnvoyAddress,
  EnvoyHeaderValue,
  EnvoySocketAddress,
  ProtoTimestamp,
} from "./envoy-types.ts";
export { identityFromCheckAttributes, type PeerIdentityOptions } from "./check-request.ts";
export {
  type BundleLoadReport,
  bearerTokenFrom,
  DEFAULT_CLOCK_SKEW_SECONDS,
  DEFAULT_MAX_TOKEN_BYTES,
  DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
  JWT_SVID_ALGORITHMS,
  JwtSvidVerifier,
  type JwtSvidVerifierOptions,
  MAX_CLOCK_SKEW_SECONDS,
  MAX_TOKEN_LIFETIME_SECONDS,
  type SkippedBundleKey,
} from "./jwt-svid.ts";

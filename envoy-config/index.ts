/** Typed Envoy v3 templates for the Hexr data plane: sidecar bootstrap, paste-able snippets, validation. */
export * from "./types.ts";
export * from "./defaults.ts";
export {
  checkAuthzOptions,
  checkExtProcOptions,
  checkIstioOptions,
  checkSidecarOptions,
  checkTlsOptions,
} from "./options.ts";
export {
  CTX_DIRECTION,
  CTX_A2A_TARGET,
  CTX_UPSTREAM,
  DENY_VHOST,
  renderInboundListener,
  renderOutboundJwtListener,
  renderOutboundListener,
  renderSidecarBootstrap,
} from "./sidecar.ts";
export {
  ALL_SNIPPET_NAMES,
  type AnySnippet,
  type AnySnippetName,
  type HttpFilterSnippet,
  ISTIO_SNIPPET,
  renderExtAuthzFilterSnippet,
  renderExtProcFilterSnippet,
  embedSnippet,
  renderSnippet,
  renderSnippetYaml,
  renderSpireSdsSnippet,
  SNIPPET_NAMES,
  type SnippetName,
  type SpireSdsSnippet,
  type SpireSdsSnippetOptions,
} from "./snippets.ts";
export {
  ISTIO_API_VERSION,
  type IstioSnippet,
  type IstioSnippetInput,
  renderIstioSnippet,
} from "./istio.ts";
export { EXT_AUTHZ_FILTER, EXT_PROC_FILTER, HCM_FILTER, ROUTER_FILTER } from "./filters.ts";
export { SPIFFE_VALIDATOR } from "./tls.ts";
export {
  type EnvoyRunOptions,
  envoyVersion,
  findEnvoy,
  VALIDATE_TIMEOUT_MS,
  type ValidationResult,
  validateFileWithEnvoy,
  validateWithEnvoy,
} from "./validate.ts";
export { toYaml } from "./yaml.ts";

/** Typed Envoy v3 templates for the Hexr data plane: sidecar bootstrap, paste-able snippets, validation. */
export * from "./types.ts";
export * from "./defaults.ts";
export { checkAuthzOptions, checkExtProcOptions, checkSidecarOptions, checkTlsOptions } from "./options.ts";
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
  type HttpFilterSnippet,
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
export { EXT_AUTHZ_FILTER, EXT_PROC_FILTER, ROUTER_FILTER } from "./filters.ts";
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

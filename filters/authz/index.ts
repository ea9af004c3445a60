/**
 * Authorization filter: OPA-WASM engine, bundle load/verify/hot-reload, service catalog, policy input,
 * rate counters and decision cache. Re-exports only.
 */
export { DEFAULT_BUNDLE_LIMITS, normalizeEntryPath, readBundle, readBundleFiles, WASM_MODULE } from "./bundle.ts";
export type { BundleLimits, BundleManifest, PolicyBundle, ReadBundleOptions, WasmResolver } from "./bundle.ts";
export { HOST_BUILTINS, parseRfc3339Ns, SDK_BUILTINS } from "./builtins.ts";
export {
  MAX_QUERY_PARAMS,
  METHOD_OVERRIDE_HEADERS,
  normalizeHost,
  ServiceCatalog,
  UNKNOWN_ACTION,
} from "./catalog.ts";
export type { CatalogAction, CatalogEntry, ClassifierName, CredentialKind, Operation } from "./catalog.ts";
export { DecisionCache, decisionCacheKey } from "./decision-cache.ts";
export type { DecisionCacheOptions } from "./decision-cache.ts";
export { DEFAULT_CATALOG } from "./default-catalog.ts";
export { ALLOW_ENTRYPOINT, DECISION_ENTRYPOINT, PolicyEngine } from "./engine.ts";
export type { Decision, PolicyEngineSource } from "./engine.ts";
export { allowListHeaders, buildInput, FORBIDDEN_HEADERS, HEADER_ALLOW_LIST, rfc3339Seconds } from "./input.ts";
export type { InputFacts, OpaInput } from "./input.ts";
export { AZURE_BLOB_ACTIONS } from "./operations/azure-blob.ts";
export { GCS_PERMISSIONS } from "./operations/gcp-storage.ts";
export { MAX_RESOURCE_NAME_LENGTH } from "./operations/types.ts";
export type { Classified, RequiredAction, Resource } from "./operations/types.ts";
export { NOOP_LOGGER } from "./logger.ts";
export type { Logger } from "./logger.ts";
export { RateCounter } from "./rate.ts";
export {
  BUNDLE_SIGNING_ALGORITHMS,
  bundleFileDigest,
  canonicalJson,
  prepareVerification,
  SIGNATURES_FILE,
  verifyBundleSignature,
} from "./signature.ts";
export type { VerificationConfig, VerificationKey, VerifiedSignature } from "./signature.ts";
export { PolicyStore } from "./store.ts";
export type { PolicySnapshot, PolicyStoreOptions, ReloadOutcome } from "./store.ts";

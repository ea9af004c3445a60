/**
 * Credential injection: token sources, STS providers, the three-tier cache and SigV4/Bearer injection.
 * Re-exports only.
 */
export {
  CredentialCache,
  credentialKey,
  DEFAULT_GRACE_MS,
  DEFAULT_L1_MAX_BYTES,
  DEFAULT_L1_MAX_ENTRIES,
  DEFAULT_MIN_REMAINING_MS,
} from "./cache.ts";
export type { CacheEvents, CredentialCacheOptions, CredentialLookup, Degradation, SharedStore, Tier } from "./cache.ts";
export { DEFAULT_EXCHANGE_DEADLINE_MS, Exchanger } from "./exchange.ts";
export { bearerInjection, regionFromHost, signAws, UNSIGNED_PAYLOAD } from "./inject.ts";
export type { SignTarget } from "./inject.ts";
export { RedisCredentialStore } from "./l2-redis.ts";
export type { RedisLike } from "./l2-redis.ts";
export { awsSessionPolicy, checkTemplate, fillTemplate, roleSessionName } from "./names.ts";
export { AwsStsProvider } from "./providers/aws-sts.ts";
export type { AwsStsOptions } from "./providers/aws-sts.ts";
export { CredentialSeal, SEAL_KEY_BYTES } from "./sealed.ts";
export { CredentialError } from "./types.ts";
export type {
  Caller,
  CallerToken,
  CredentialProvider,
  ExchangeRequest,
  Injection,
  IssuedCredential,
  ProviderKind,
  TokenSource,
} from "./types.ts";

/**
 * The credential stage's vocabulary: where the caller's JWT-SVID comes from (token sources), how an issuer
 * turns it into a short-lived cloud credential (providers), and what the cache stores.
 *
 * Per calling agent, never per backend: every exchange presents the verified caller's own JWT-SVID, so the
 * cloud's IAM trust policy and audit log see which agent acted (`sub` = its SPIFFE ID).
 */
import { HexrError, type HexrErrorCode } from "../errors.ts";

export type ProviderKind = "aws" | "gcp" | "azure";

/** The verified caller a credential is issued for (from the identity stage; never from headers). */
export interface Caller {
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly tenant: string;
  readonly agent: string;
  readonly role: string;
}

/** A JWT-SVID for the caller, with the issuer's audience. */
export interface CallerToken {
  readonly token: string;
  /** Unix ms. */
  readonly expiresAt: number;
  readonly source: "presented" | "delegated";
}

/**
 * Gets a JWT-SVID for exactly `caller` with `audience`. Must never return a token for another identity:
 * implementations check the token's `sub` against `caller.spiffeId` and fail with
 * `credentials.no_token_for_caller` otherwise. `fresh` asks for a new token (the issuer refused the last one).
 */
export interface TokenSource {
  token(caller: Caller, audience: string, opts?: { fresh?: boolean; signal?: AbortSignal }): Promise<CallerToken>;
}

/** What an exchange is asked for. Every field changes the result, so every field is in the cache key. */
export interface ExchangeRequest {
  readonly caller: Caller;
  /** Requested lifetime in seconds, already bounded by the provider's range and the policy. */
  readonly durationSeconds: number;
  /**
   * Resources the policy scoped this call to (provider-specific: ARNs for AWS). AWS narrows the role with a
   * session policy over them; providers without session policies refuse a scoped request rather than
   * silently issuing a broader credential. Defined means scoped: an empty list allows nothing.
   */
  readonly resources?: readonly string[];
  /** The permissions the request needs (catalog action names, e.g. `s3:PutObject`), for a session policy. */
  readonly actions?: readonly string[];
}

/** A credential as the cache stores it and the injector uses it. Secrets live only here. */
export type IssuedCredential =
  | {
      readonly kind: "aws";
      readonly accessKeyId: string;
      readonly secretAccessKey: string;
      readonly sessionToken: string;
      /** Unix ms. */
      readonly expiresAt: number;
    }
  | {
      readonly kind: "bearer";
      readonly token: string;
      /** Unix ms. */
      readonly expiresAt: number;
    };

/**
 * One configured issuer. Providers are pure translators of one wire format: they do one exchange (one or
 * two HTTP calls), classify failures into {@link CredentialError}s, and never retry, cache or log; the
 * exchanger around them does that the same way for all.
 */
export interface CredentialProvider {
  /** The configured name (`aws`, `gcp-analytics`, …): audit, metrics and cache keys use it. */
  readonly name: string;
  readonly kind: ProviderKind;
  /** The JWT-SVID audience the issuer expects (AWS: the IAM OIDC provider's client ID; GCP: the pool provider). */
  readonly audience: string;
  /** Lifetime bounds in seconds the issuer accepts (AWS 900–3600 s by default). */
  readonly minDurationSeconds: number;
  readonly maxDurationSeconds: number;
  /**
   * Everything besides the request fields that selects what is issued for this caller (the role ARN or
   * service account after templating, scopes, region), as a stable string for the cache key. Throws
   * `credentials.bad_template` when the caller's names cannot fill the template (fail closed).
   */
  target(caller: Caller): string;
  exchange(req: ExchangeRequest, token: CallerToken, signal: AbortSignal): Promise<IssuedCredential>;
}

/**
 * Why an exchange failed. `retry` says what the exchanger may do:
 *  - `transient`: the issuer said try again (throttling, 5xx, AWS `IDPCommunicationError`) → bounded retry;
 *  - `token`: the issuer refused the JWT-SVID as expired or invalid → fetch a fresh token once, never loop;
 *  - `never`: a final answer (access denied, bad role, malformed request).
 * `message` names the issuer's error code, never the token or a credential.
 */
export class CredentialError extends HexrError {
  readonly retry: "transient" | "token" | "never";
  /** The issuer's own error code (`AccessDenied`, `invalid_grant`, …) or HTTP status, for metrics. */
  readonly issuerCode: string;

  constructor(
    code: HexrErrorCode,
    message: string,
    retry: CredentialError["retry"],
    issuerCode: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = "CredentialError";
    this.retry = retry;
    this.issuerCode = issuerCode;
  }
}

/** Header mutations that put a credential on the upstream request. */
export interface Injection {
  readonly set: readonly (readonly [name: string, value: string])[];
  readonly remove: readonly string[];
}

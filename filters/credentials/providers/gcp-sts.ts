/**
 * GCP credentials for one calling agent through Workload Identity Federation: Security Token Service
 * (`POST sts.googleapis.com/v1/token`, RFC 8693 token exchange) turns the caller's JWT-SVID into a federated
 * access token; optionally IAM Credentials (`…/serviceAccounts/<email>:generateAccessToken`) turns that into a
 * token for a per-agent service account chosen by a template over the caller's names.
 *
 * GCP has no session policy on this path, so a request scoped to resources is refused rather than answered
 * with a broader token. Issuer error texts can echo the request (the token's claims), so messages carry only
 * the issuer's error code and our own wording.
 */
import type { Dispatcher } from "undici";
import { FORM, JSON_TYPE, jsonObject, type PostOptions, postIssuer, issuerUrl } from "../http.ts";
import { checkTemplate, fillTemplate } from "../names.ts";
import {
  type Caller,
  type CallerToken,
  CredentialError,
  type CredentialProvider,
  type ExchangeRequest,
  type IssuedCredential,
} from "../types.ts";

export const DEFAULT_GCP_STS_URL = "https://sts.googleapis.com/v1/token";
export const DEFAULT_GCP_IAM_CREDENTIALS_URL = "https://iamcredentials.googleapis.com/v1";
export const GCP_CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";
export const DEFAULT_GCP_SCOPES: readonly string[] = Object.freeze([GCP_CLOUD_PLATFORM_SCOPE]);
/** generateAccessToken's default ceiling; up to 12 h needs an org policy exception we do not assume. */
export const GCP_MAX_LIFETIME_SECONDS = 3600;
/** Shorter tokens would spend most of their life inside the cache's refresh buffer. */
export const GCP_MIN_LIFETIME_SECONDS = 300;
export const MAX_GCP_TIMEOUT_MS = 60_000;

const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";
const POOL_PROVIDER =
  /^\/\/iam\.googleapis\.com\/projects\/\d{1,20}\/locations\/global\/workloadIdentityPools\/[a-z0-9-]{4,32}\/providers\/[a-z0-9-]{4,32}$/;
/** User-managed accounts: a 6–30 character account ID at `<project id>.iam.gserviceaccount.com`. */
const SA_EMAIL = /^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$/;
/** What goes into an Authorization header: visible ASCII, no spaces. */
const HEADER_SAFE_TOKEN = /^[\x21-\x7e]{1,16384}$/;
const OAUTH_ERROR = /^[A-Za-z0-9_.-]{1,64}$/;
const GOOGLE_STATUS = /^[A-Z_]{1,40}$/;

export interface GcpStsProviderOptions {
  /** Configured issuer name (audit, metrics, cache keys). */
  readonly name: string;
  /** The JWT-SVID audience: one of the pool provider's allowed audiences. */
  readonly audience: string;
  /** `//iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>`. */
  readonly poolProvider: string;
  /** Service account to impersonate, over `{tenant}`, `{agent}`, `{role}`, `{trust_domain}`; none: the federated token. */
  readonly serviceAccountTemplate?: string;
  /** OAuth scopes of the issued token (default {@link DEFAULT_GCP_SCOPES}). */
  readonly scopes?: readonly string[];
  readonly stsUrl?: string;
  /** Base up to `/v1` (default {@link DEFAULT_GCP_IAM_CREDENTIALS_URL}). */
  readonly iamCredentialsUrl?: string;
  readonly dispatcher?: Dispatcher;
  /** Per HTTP call; an impersonated exchange makes two. */
  readonly timeoutMs?: number;
  /** Current time in epoch milliseconds (default `Date.now`). */
  readonly now?: () => number;
}

/**
 * The `gcp` credential provider. Per-agent service accounts keep each agent's grants and audit trail apart;
 * without `serviceAccountTemplate` the federated token itself is issued (its lifetime is the STS's).
 *
 * @example
 *   const gcp = new GcpStsProvider({
 *     name: "gcp-analytics",
 *     audience: "https://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/hexr/providers/spire",
 *     poolProvider: "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/hexr/providers/spire",
 *     serviceAccountTemplate: "{agent}-{role}@analytics-prod.iam.gserviceaccount.com",
 *   });
 *   const cred = await gcp.exchange({ caller, durationSeconds: 900 }, svid, signal); // { kind: "bearer", … }
 */
export class GcpStsProvider implements CredentialProvider {
  readonly kind = "gcp" as const;
  readonly name: string;
  readonly audience: string;
  readonly minDurationSeconds = GCP_MIN_LIFETIME_SECONDS;
  readonly maxDurationSeconds = GCP_MAX_LIFETIME_SECONDS;
  readonly #poolProvider: string;
  readonly #template: string | undefined;
  readonly #scopes: readonly string[];
  readonly #stsUrl: string;
  readonly #iamUrl: string;
  readonly #http: PostOptions;
  readonly #now: () => number;

  constructor(opts: GcpStsProviderOptions) {
    if (typeof opts.name !== "string" || opts.name === "") throw new TypeError("name must be a non-empty string");
    if (typeof opts.audience !== "string" || opts.audience === "")
      throw new TypeError("audience must be a non-empty string");
    if (!POOL_PROVIDER.test(opts.poolProvider)) {
      throw new TypeError(
        "poolProvider must be //iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>",
      );
    }
    if (opts.serviceAccountTemplate !== undefined)
      checkTemplate(opts.serviceAccountTemplate, `${opts.name}: serviceAccountTemplate`);
    const scopes = opts.scopes ?? DEFAULT_GCP_SCOPES;
    if (
      !Array.isArray(scopes) ||
      scopes.length === 0 ||
      scopes.some((s) => typeof s !== "string" || !/^https:\/\/\S+$/.test(s))
    ) {
      throw new TypeError("scopes must be a non-empty array of https scope URLs");
    }
    const timeoutMs = opts.timeoutMs;
    if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_GCP_TIMEOUT_MS)) {
      throw new TypeError(`timeoutMs must be an integer in [1, ${MAX_GCP_TIMEOUT_MS}]`);
    }
    this.name = opts.name;
    this.audience = opts.audience;
    this.#poolProvider = opts.poolProvider;
    this.#template = opts.serviceAccountTemplate;
    this.#scopes = Object.freeze([...scopes]);
    this.#stsUrl = issuerUrl(opts.stsUrl ?? DEFAULT_GCP_STS_URL, "stsUrl");
    this.#iamUrl = issuerUrl(opts.iamCredentialsUrl ?? DEFAULT_GCP_IAM_CREDENTIALS_URL, "iamCredentialsUrl").replace(
      /\/+$/,
      "",
    );
    this.#http = { ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}), ...(timeoutMs ? { timeoutMs } : {}) };
    this.#now = opts.now ?? Date.now;
  }

  target(caller: Caller): string {
    return JSON.stringify(["gcp", this.#poolProvider, this.#serviceAccount(caller) ?? "", this.#scopes]);
  }

  async exchange(req: ExchangeRequest, token: CallerToken, signal: AbortSignal): Promise<IssuedCredential> {
    // An empty list is still a scoping decision ("nothing"); only an absent one means unscoped.
    if (req.resources !== undefined) {
      throw new CredentialError(
        "credentials.scope_unsupported",
        `${this.name}: GCP federation cannot narrow a token to resources`,
        "never",
        "resources",
      );
    }
    const email = this.#serviceAccount(req.caller);
    // Calling IAM Credentials needs cloud-platform on the federated token; the caller's scopes go on the SA token.
    const federated = await this.#federate(token.token, email ? [GCP_CLOUD_PLATFORM_SCOPE] : this.#scopes, signal);
    if (email === undefined) return { kind: "bearer", ...federated };
    // Bounded again here: never above generateAccessToken's default ceiling, and a non-number asks for the least.
    const asked = Number.isFinite(req.durationSeconds) ? Math.ceil(req.durationSeconds) : GCP_MIN_LIFETIME_SECONDS;
    const lifetime = Math.min(GCP_MAX_LIFETIME_SECONDS, Math.max(GCP_MIN_LIFETIME_SECONDS, asked));
    return { kind: "bearer", ...(await this.#impersonate(email, federated.token, lifetime, signal)) };
  }

  #serviceAccount(caller: Caller): string | undefined {
    if (this.#template === undefined) return undefined;
    // Fails closed with `credentials.bad_template`: no case folding, so two callers never share an account by accident.
    return fillTemplate(this.#template, caller, `${this.name}: serviceAccountTemplate`, SA_EMAIL);
  }

  async #federate(subjectToken: string, scopes: readonly string[], signal: AbortSignal) {
    const form = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      audience: this.#poolProvider,
      scope: scopes.join(" "),
      requested_token_type: ACCESS_TOKEN_TYPE,
      subject_token: subjectToken,
      subject_token_type: JWT_TOKEN_TYPE,
    });
    const res = await postIssuer(
      this.name,
      this.#stsUrl,
      { "content-type": FORM, accept: JSON_TYPE },
      form.toString(),
      { ...this.#http, signal },
    );
    if (res.status !== 200) throw stsError(this.name, res.status, res.body);
    const o = jsonObject(res.body);
    const expiresIn = o?.expires_in;
    if (
      !o ||
      typeof o.access_token !== "string" ||
      !HEADER_SAFE_TOKEN.test(o.access_token) ||
      typeof expiresIn !== "number" ||
      !Number.isFinite(expiresIn) ||
      expiresIn <= 0 ||
      (o.token_type !== undefined && String(o.token_type).toLowerCase() !== "bearer") ||
      (o.issued_token_type !== undefined && o.issued_token_type !== ACCESS_TOKEN_TYPE)
    ) {
      throw badResponse(this.name, "STS");
    }
    return { token: o.access_token, expiresAt: this.#now() + Math.floor(expiresIn * 1000) };
  }

  async #impersonate(email: string, federatedToken: string, lifetime: number, signal: AbortSignal) {
    const url = `${this.#iamUrl}/projects/-/serviceAccounts/${encodeURIComponent(email)}:generateAccessToken`;
    const headers = { "content-type": JSON_TYPE, accept: JSON_TYPE, authorization: `Bearer ${federatedToken}` };
    const body = JSON.stringify({ scope: this.#scopes, lifetime: `${lifetime}s` });
    const res = await postIssuer(this.name, url, headers, body, { ...this.#http, signal });
    if (res.status !== 200) throw iamError(this.name, res.status, res.body);
    const o = jsonObject(res.body);
    const expiresAt = typeof o?.expireTime === "string" ? Date.parse(o.expireTime) : Number.NaN;
    if (
      !o ||
      typeof o.accessToken !== "string" ||
      !HEADER_SAFE_TOKEN.test(o.accessToken) ||
      !(expiresAt > this.#now())
    ) {
      throw badResponse(this.name, "generateAccessToken");
    }
    return { token: o.accessToken, expiresAt };
  }
}

/** OAuth-style `{error, error_description}`; the description is read to classify, never repeated. */
function stsError(name: string, status: number, body: string): CredentialError {
  const o = jsonObject(body);
  const error = typeof o?.error === "string" && OAUTH_ERROR.test(o.error) ? o.error : undefined;
  const description = typeof o?.error_description === "string" ? o.error_description : "";
  const code = error ?? `http_${status}`;
  const fail = (c: CredentialError["code"], why: string, retry: CredentialError["retry"]) =>
    new CredentialError(c, `${name}: STS token exchange ${why} (HTTP ${status}, ${code})`, retry, code);
  if (status === 429 || status === 503 || error === "temporarily_unavailable")
    return fail("credentials.issuer_unavailable", "throttled or unavailable", "transient");
  if (status >= 500) return fail("credentials.issuer_error", "failed on the issuer's side", "transient");
  if (error === "invalid_grant") {
    if (/attribute condition/i.test(description))
      return fail("credentials.issuer_denied", "refused the caller by the provider's attribute condition", "never");
    // Google could not fetch our OIDC discovery document or JWKS: nothing wrong with the token itself.
    if (/connecting to the given credential's issuer/i.test(description))
      return fail("credentials.issuer_unavailable", "could not reach the JWT-SVID issuer", "transient");
    return fail("credentials.token_rejected", "rejected the JWT-SVID", "token");
  }
  if (status === 403 || error === "unauthorized_client" || error === "access_denied")
    return fail("credentials.issuer_denied", "denied", "never");
  return fail("credentials.issuer_error", "refused the request", "never");
}

/** Google API error `{error: {code, message, status}}`. */
function iamError(name: string, status: number, body: string): CredentialError {
  const e = jsonObject(body)?.error;
  const s = e !== null && typeof e === "object" ? (e as Record<string, unknown>).status : undefined;
  const st = typeof s === "string" && GOOGLE_STATUS.test(s) ? s : undefined;
  const code = st ?? `http_${status}`;
  const fail = (c: CredentialError["code"], why: string, retry: CredentialError["retry"]) =>
    new CredentialError(c, `${name}: generateAccessToken ${why} (HTTP ${status}, ${code})`, retry, code);
  if (st === "UNAVAILABLE" || st === "RESOURCE_EXHAUSTED" || status === 429 || status === 503)
    return fail("credentials.issuer_unavailable", "throttled or unavailable", "transient");
  if (st === "INTERNAL" || st === "DEADLINE_EXCEEDED" || status >= 500)
    return fail("credentials.issuer_error", "failed on the issuer's side", "transient");
  if (st === "UNAUTHENTICATED" || status === 401)
    return fail("credentials.token_rejected", "rejected the federated token", "token");
  if (st === "PERMISSION_DENIED" || status === 403)
    return fail("credentials.issuer_denied", "denied impersonation of the service account", "never");
  return fail("credentials.issuer_error", "refused the request", "never");
}

function badResponse(name: string, what: string): CredentialError {
  return new CredentialError(
    "credentials.issuer_bad_response",
    `${name}: ${what} answer is not a usable token response`,
    "never",
    "bad_response",
  );
}

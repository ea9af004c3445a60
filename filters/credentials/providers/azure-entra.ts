/**
 * Azure credentials for one calling agent: Entra ID's client-credentials grant with the caller's JWT-SVID as a
 * federated client assertion (`POST login.microsoftonline.com/<tenant>/oauth2/v2.0/token`). Entra matches the
 * assertion's `iss`/`sub`/`aud` against the app registration's federated identity credentials, so each
 * agent's SPIFFE ID must be registered on the app it maps to.
 *
 * Entra has no session policy on this path, so a request scoped to resources is refused rather than answered
 * with a broader token. AADSTS descriptions echo the assertion's issuer and subject, so messages carry only
 * the AADSTS code and our own wording.
 */
import type { Dispatcher } from "undici";
import { HexrError } from "../../errors.ts";
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

export const DEFAULT_ENTRA_AUTHORITY = "https://login.microsoftonline.com";
/** The audience Entra recommends for federated identity credentials. */
export const DEFAULT_ENTRA_AUDIENCE = "api://AzureADTokenExchange";
/** Entra's limit per app registration (or user-assigned managed identity). */
export const ENTRA_MAX_FEDERATED_CREDENTIALS_PER_APP = 20;
/** Entra picks the lifetime (about an hour); these bounds only describe it to the exchanger. */
export const ENTRA_MIN_DURATION_SECONDS = 300;
export const ENTRA_MAX_DURATION_SECONDS = 3600;
export const MAX_ENTRA_TIMEOUT_MS = 60_000;

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TENANT_DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;
const HEADER_SAFE_TOKEN = /^[\x21-\x7e]{1,16384}$/;
const OAUTH_ERROR = /^[A-Za-z0-9_.-]{1,64}$/;
/** The assertion is outside its valid time range: a fresh JWT-SVID fixes it. */
const AADSTS_ASSERTION_EXPIRED = 700024;
/** No federated credential / app for this caller, or the app is disabled: a configuration answer. */
const AADSTS_DENIED: ReadonlySet<number> = new Set([70021, 70025, 700016, 700211, 700212, 700213, 7000112]);

export interface EntraProviderOptions {
  readonly name: string;
  /** Directory (tenant) ID or verified domain. */
  readonly tenantId: string;
  /** One resource's `.default` scope, e.g. `https://storage.azure.com/.default`. */
  readonly scope: string;
  /**
   * Application (client) ID per caller, keyed by the caller's SPIFFE ID, or by it without the role segment
   * (`spiffe://<td>/agent/<tenant>/<agent>`) for all roles of an agent. The exact key wins.
   */
  readonly clientIds?: Readonly<Record<string, string>>;
  /** Fallback client ID over `{tenant}`, `{agent}`, `{role}`, `{trust_domain}` (a fixed GUID for one shared app). */
  readonly clientIdTemplate?: string;
  /** The JWT-SVID audience the federated credentials name (default {@link DEFAULT_ENTRA_AUDIENCE}). */
  readonly audience?: string;
  /** Full token endpoint (default `<authority>/<tenantId>/oauth2/v2.0/token`). */
  readonly tokenUrl?: string;
  readonly dispatcher?: Dispatcher;
  readonly timeoutMs?: number;
  /** Current time in epoch milliseconds (default `Date.now`). */
  readonly now?: () => number;
}

/**
 * The `azure` credential provider. An app registration holds at most
 * {@link ENTRA_MAX_FEDERATED_CREDENTIALS_PER_APP} federated identity credentials (one per SPIFFE ID), so agents
 * map to apps: `clientIds` per caller, with `clientIdTemplate` as the fallback. A caller with neither is refused
 * (`credentials.bad_template`) before any request. `durationSeconds` cannot be requested; the token lives for
 * Entra's `expires_in`.
 *
 * @example
 *   const azure = new EntraProvider({
 *     name: "azure-storage",
 *     tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
 *     scope: "https://storage.azure.com/.default",
 *     clientIds: { "spiffe://hexr.test/agent/acme/crew": "11111111-2222-3333-4444-555555555555" },
 *   });
 *   const cred = await azure.exchange({ caller, durationSeconds: 3600 }, svid, signal); // { kind: "bearer", … }
 */
export class EntraProvider implements CredentialProvider {
  readonly kind = "azure" as const;
  readonly name: string;
  readonly audience: string;
  readonly minDurationSeconds = ENTRA_MIN_DURATION_SECONDS;
  readonly maxDurationSeconds = ENTRA_MAX_DURATION_SECONDS;
  readonly #tenantId: string;
  readonly #scope: string;
  readonly #clientIds: ReadonlyMap<string, string>;
  readonly #template: string | undefined;
  readonly #tokenUrl: string;
  readonly #http: PostOptions;
  readonly #now: () => number;

  constructor(opts: EntraProviderOptions) {
    if (typeof opts.name !== "string" || opts.name === "") throw new TypeError("name must be a non-empty string");
    if (!GUID.test(opts.tenantId) && !TENANT_DOMAIN.test(opts.tenantId))
      throw new TypeError("tenantId must be a directory GUID or domain");
    if (typeof opts.scope !== "string" || !/^\S+\/\.default$/.test(opts.scope)) {
      throw new TypeError("scope must be one resource's .default scope (client credentials cannot ask for others)");
    }
    const ids = new Map<string, string>();
    for (const [key, id] of Object.entries(opts.clientIds ?? {})) {
      if (!/^spiffe:\/\/[^/]+\/\S+$/.test(key)) throw new TypeError("clientIds keys must be SPIFFE IDs");
      if (!GUID.test(id)) throw new TypeError("clientIds values must be application (client) ID GUIDs");
      ids.set(key, id);
    }
    if (opts.clientIdTemplate !== undefined) checkTemplate(opts.clientIdTemplate, `${opts.name}: clientIdTemplate`);
    if (ids.size === 0 && opts.clientIdTemplate === undefined)
      throw new TypeError("clientIds or clientIdTemplate is required");
    const audience = opts.audience ?? DEFAULT_ENTRA_AUDIENCE;
    if (typeof audience !== "string" || audience === "") throw new TypeError("audience must be a non-empty string");
    const timeoutMs = opts.timeoutMs;
    if (
      timeoutMs !== undefined &&
      (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_ENTRA_TIMEOUT_MS)
    ) {
      throw new TypeError(`timeoutMs must be an integer in [1, ${MAX_ENTRA_TIMEOUT_MS}]`);
    }
    this.name = opts.name;
    this.audience = audience;
    this.#tenantId = opts.tenantId;
    this.#scope = opts.scope;
    this.#clientIds = ids;
    this.#template = opts.clientIdTemplate;
    this.#tokenUrl = issuerUrl(
      opts.tokenUrl ?? `${DEFAULT_ENTRA_AUTHORITY}/${encodeURIComponent(opts.tenantId)}/oauth2/v2.0/token`,
      "tokenUrl",
    );
    this.#http = { ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}), ...(timeoutMs ? { timeoutMs } : {}) };
    this.#now = opts.now ?? Date.now;
  }

  target(caller: Caller): string {
    return JSON.stringify(["azure", this.#tenantId, this.#clientId(caller), this.#scope]);
  }

  async exchange(req: ExchangeRequest, token: CallerToken, signal: AbortSignal): Promise<IssuedCredential> {
    // An empty list is still a scoping decision ("nothing"); only an absent one means unscoped.
    if (req.resources !== undefined) {
      throw new CredentialError(
        "credentials.scope_unsupported",
        `${this.name}: Entra tokens cannot be narrowed to resources`,
        "never",
        "resources",
      );
    }
    const form = new URLSearchParams({
      client_id: this.#clientId(req.caller),
      scope: this.#scope,
      grant_type: "client_credentials",
      client_assertion_type: JWT_BEARER,
      client_assertion: token.token,
    });
    const res = await postIssuer(
      this.name,
      this.#tokenUrl,
      { "content-type": FORM, accept: JSON_TYPE },
      form.toString(),
      { ...this.#http, signal },
    );
    if (res.status !== 200) throw entraError(this.name, res.status, res.body);
    const o = jsonObject(res.body);
    // v2.0 answers a number; v1-style string seconds are accepted as long as they are digits.
    const raw = o?.expires_in;
    const expiresIn =
      typeof raw === "number" ? raw : typeof raw === "string" && /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
    if (
      !o ||
      typeof o.access_token !== "string" ||
      !HEADER_SAFE_TOKEN.test(o.access_token) ||
      typeof o.token_type !== "string" ||
      o.token_type.toLowerCase() !== "bearer" ||
      !Number.isFinite(expiresIn) ||
      expiresIn <= 0
    ) {
      throw new CredentialError(
        "credentials.issuer_bad_response",
        `${this.name}: Entra answer is not a usable token response`,
        "never",
        "bad_response",
      );
    }
    return { kind: "bearer", token: o.access_token, expiresAt: this.#now() + Math.floor(expiresIn * 1000) };
  }

  #clientId(caller: Caller): string {
    const mapped =
      this.#clientIds.get(caller.spiffeId) ??
      this.#clientIds.get(`spiffe://${caller.trustDomain}/agent/${caller.tenant}/${caller.agent}`);
    if (mapped !== undefined) return mapped;
    if (this.#template === undefined) {
      throw new HexrError(
        "credentials.bad_template",
        `${this.name}: no client ID for this caller (not in clientIds, no clientIdTemplate)`,
      );
    }
    return fillTemplate(this.#template, caller, `${this.name}: clientIdTemplate`, GUID);
  }
}

/** Entra's `{error, error_description, error_codes}`; the description is never repeated (it echoes the assertion). */
function entraError(name: string, status: number, body: string): CredentialError {
  const o = jsonObject(body);
  const error = typeof o?.error === "string" && OAUTH_ERROR.test(o.error) ? o.error : undefined;
  const codes = Array.isArray(o?.error_codes)
    ? o.error_codes.filter((c): c is number => Number.isInteger(c) && c > 0)
    : [];
  const code = codes[0] !== undefined ? `AADSTS${codes[0]}` : (error ?? `http_${status}`);
  const fail = (c: CredentialError["code"], why: string, retry: CredentialError["retry"]) =>
    new CredentialError(c, `${name}: Entra token request ${why} (HTTP ${status}, ${code})`, retry, code);
  if (status === 429 || status === 503 || error === "temporarily_unavailable")
    return fail("credentials.issuer_unavailable", "throttled or unavailable", "transient");
  if (status >= 500) return fail("credentials.issuer_error", "failed on the issuer's side", "transient");
  if (codes.includes(AADSTS_ASSERTION_EXPIRED))
    return fail("credentials.token_rejected", "found the JWT-SVID outside its valid time range", "token");
  if (codes.some((c) => AADSTS_DENIED.has(c)))
    return fail("credentials.issuer_denied", "found no federated identity credential or app for the caller", "never");
  if (error === "invalid_client")
    return fail("credentials.token_rejected", "rejected the JWT-SVID as a client assertion", "never");
  if (status === 403 || error === "unauthorized_client" || error === "access_denied")
    return fail("credentials.issuer_denied", "denied", "never");
  return fail("credentials.issuer_error", "refused the request", "never");
}

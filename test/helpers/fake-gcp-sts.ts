/**
 * A local stand-in for Google's Security Token Service (`POST /v1/token`, RFC 8693 token exchange for
 * Workload Identity Federation) and IAM Service Account Credentials
 * (`POST /v1/projects/-/serviceAccounts/<email>:generateAccessToken`), on 127.0.0.1, port 0. Neither has an
 * emulator, so this speaks their documented wire formats and checks our requests the way they would:
 *
 * STS: form or JSON body; `grant_type` = token-exchange; `audience` = the pool provider's full resource name;
 * `requested_token_type` = access_token; `subject_token_type` = jwt (or id_token); `scope` present; the
 * `subject_token` is a JWT signed by a key of the given JWKS with the configured `iss`, one of the provider's
 * allowed audiences and an unexpired `exp`. Answers `{access_token, issued_token_type, token_type, expires_in}`
 * or OAuth errors `{error, error_description}` (400 `invalid_request` / `invalid_grant` / `unsupported_grant_type`).
 *
 * IAM Credentials: `Authorization: Bearer <federated token>` that this fake issued, unexpired, with the
 * cloud-platform scope; JSON body with a non-empty `scope[]` and `lifetime` as `"<n>s"` at most 3600; the
 * federated subject may impersonate the account (`canImpersonate`). Answers `{accessToken, expireTime}` or
 * Google API errors `{error: {code, message, status}}` (401 UNAUTHENTICATED, 403 PERMISSION_DENIED,
 * 400 INVALID_ARGUMENT).
 *
 * Every call is counted, bodies are kept for assertions, and `failNext` makes the next calls answer a given
 * status and body instead (raw strings allowed, for malformed and oversize answers; `{{request}}` and
 * `{{authorization}}` in it echo the request, as issuers' error texts sometimes do).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createLocalJWKSet, errors, type JSONWebKeySet, jwtVerify } from "jose";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const SUBJECT_TYPES = new Set(["urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token"]);
const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
const MAX_LIFETIME_SECONDS = 3600;
const MAX_BODY_BYTES = 64 * 1024;
const GENERATE = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/;

export interface FakeGcpStsOptions {
  readonly jwks: JSONWebKeySet;
  /** The `iss` the pool provider is configured for. */
  readonly issuer: string;
  /** `//iam.googleapis.com/projects/<n>/locations/global/workloadIdentityPools/<pool>/providers/<provider>`. */
  readonly poolProvider: string;
  /** The provider's allowed audiences for the subject token. */
  readonly allowedAudiences: readonly string[];
  /** `roles/iam.workloadIdentityUser` on the account for the federated subject (default: everyone, everywhere). */
  readonly canImpersonate?: (subject: string, email: string) => boolean;
  /** Federated token lifetime (default 3600). */
  readonly expiresIn?: number;
}

export type GcpTarget = "sts" | "iam";

export interface FakeGcpSts {
  readonly stsUrl: string;
  readonly iamCredentialsUrl: string;
  readonly calls: Record<GcpTarget, number>;
  /** Request bodies as received (STS: form/JSON fields; IAM: the JSON plus `email` and `authorization`). */
  readonly requests: Record<GcpTarget, Record<string, unknown>[]>;
  /** Every access token handed out, so tests can check none leaks into an error. */
  readonly issued: string[];
  failNext(target: GcpTarget, n: number, status: number, body: string | object): void;
  close(): Promise<void>;
}

interface Federated {
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly expiresAt: number;
}

export async function startFakeGcpSts(opts: FakeGcpStsOptions): Promise<FakeGcpSts> {
  const jwks = createLocalJWKSet(opts.jwks);
  const federated = new Map<string, Federated>();
  const failures: Record<GcpTarget, { status: number; body: string }[]> = { sts: [], iam: [] };
  const calls = { sts: 0, iam: 0 };
  const requests: FakeGcpSts["requests"] = { sts: [], iam: [] };
  const issued: string[] = [];

  const oauthError = (res: ServerResponse, status: number, error: string, description: string) =>
    send(res, status, { error, error_description: description });
  const googleError = (res: ServerResponse, code: number, status: string, message: string) =>
    send(res, code, { error: { code, message, status } });

  async function sts(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
    const p = parseBody(req, raw);
    requests.sts.push(p ?? {});
    if (!p) return oauthError(res, 400, "invalid_request", "Request body must be form-encoded or JSON.");
    if (p.grant_type !== TOKEN_EXCHANGE)
      return oauthError(res, 400, "unsupported_grant_type", "Unsupported grant type.");
    if (p.audience !== opts.poolProvider)
      return oauthError(res, 400, "invalid_request", 'Invalid value for "audience".');
    if (p.requested_token_type !== ACCESS_TOKEN_TYPE)
      return oauthError(res, 400, "invalid_request", "Invalid requested_token_type.");
    if (!SUBJECT_TYPES.has(String(p.subject_token_type)))
      return oauthError(res, 400, "invalid_request", "Invalid subject_token_type.");
    const scopes = typeof p.scope === "string" ? p.scope.split(" ").filter(Boolean) : [];
    if (scopes.length === 0) return oauthError(res, 400, "invalid_scope", "Scope is required.");
    let subject: string;
    try {
      const { payload } = await jwtVerify(String(p.subject_token), jwks, {
        issuer: opts.issuer,
        audience: [...opts.allowedAudiences],
        requiredClaims: ["sub", "exp"],
      });
      subject = payload.sub!;
    } catch (e) {
      const why = e instanceof errors.JWTExpired ? "The ID Token has expired." : "The ID Token could not be verified.";
      return oauthError(res, 400, "invalid_grant", why);
    }
    const token = `ya29.fed-${randomBytes(24).toString("base64url")}`;
    const expiresIn = opts.expiresIn ?? 3600;
    federated.set(token, { subject, scopes, expiresAt: Date.now() + expiresIn * 1000 });
    issued.push(token);
    send(res, 200, {
      access_token: token,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: "Bearer",
      expires_in: expiresIn,
    });
  }

  function iam(req: IncomingMessage, res: ServerResponse, raw: string, email: string) {
    const authorization = req.headers.authorization ?? "";
    const body = (req.headers["content-type"] ?? "").startsWith("application/json") ? parseJson(raw) : undefined;
    requests.iam.push({ ...body, email, authorization });
    const fed = authorization.startsWith("Bearer ") ? federated.get(authorization.slice(7)) : undefined;
    if (!fed || fed.expiresAt <= Date.now()) {
      return googleError(res, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
    }
    if (!fed.scopes.includes(CLOUD_PLATFORM)) {
      return googleError(res, 403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.");
    }
    const scope = body?.scope;
    if (!Array.isArray(scope) || scope.length === 0 || scope.some((s) => typeof s !== "string")) {
      return googleError(res, 400, "INVALID_ARGUMENT", "Scope required.");
    }
    let lifetime = MAX_LIFETIME_SECONDS;
    if (body?.lifetime !== undefined) {
      const m = /^(\d+)(?:\.\d{1,9})?s$/.exec(String(body.lifetime));
      if (!m || Number(m[1]) > MAX_LIFETIME_SECONDS || Number(m[1]) < 1) {
        return googleError(res, 400, "INVALID_ARGUMENT", "The lifetime must be between 1s and 3600s.");
      }
      lifetime = Number(m[1]);
    }
    if (!(opts.canImpersonate ?? (() => true))(fed.subject, email)) {
      return googleError(
        res,
        403,
        "PERMISSION_DENIED",
        "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
      );
    }
    const accessToken = `ya29.sa-${randomBytes(24).toString("base64url")}`;
    issued.push(accessToken);
    const expireTime = new Date(Date.now() + lifetime * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    send(res, 200, { accessToken, expireTime });
  }

  const server = createServer((req, res) => {
    readBody(req).then(
      async (raw) => {
        const url = new URL(req.url ?? "/", "http://fake");
        const email = GENERATE.exec(url.pathname)?.[1];
        const target: GcpTarget | undefined = url.pathname === "/v1/token" ? "sts" : email ? "iam" : undefined;
        if (req.method !== "POST" || !target)
          return send(res, 404, { error: { code: 404, message: "Not found", status: "NOT_FOUND" } });
        calls[target]++;
        const fail = failures[target].shift();
        if (fail) return send(res, fail.status, echo(fail.body, req, raw));
        if (target === "sts") return sts(req, res, raw);
        return iam(req, res, raw, decodeURIComponent(email!));
      },
      () => send(res, 413, { error: "invalid_request", error_description: "Body too large." }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    stsUrl: `${base}/v1/token`,
    iamCredentialsUrl: `${base}/v1`,
    calls,
    requests,
    issued,
    failNext(target, n, status, body) {
      for (let i = 0; i < n; i++)
        failures[target].push({ status, body: typeof body === "string" ? body : JSON.stringify(body) });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function parseBody(req: IncomingMessage, raw: string): Record<string, unknown> | undefined {
  const type = req.headers["content-type"] ?? "";
  if (type.startsWith("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(raw));
  if (type.startsWith("application/json")) return parseJson(raw);
  return undefined;
}

function parseJson(raw: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, status: number, body: string | object): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** A failure body may echo the request, as some issuers' error texts do: `{{authorization}}`, `{{request}}`. */
function echo(body: string, req: IncomingMessage, raw: string): string {
  return body.replaceAll("{{authorization}}", req.headers.authorization ?? "").replaceAll("{{request}}", raw);
}

/**
 * A local stand-in for the Microsoft Entra ID token endpoint (`POST /<tenant>/oauth2/v2.0/token`) serving the
 * client-credentials grant with a federated client assertion (workload identity federation), on 127.0.0.1,
 * port 0. There is no emulator, so this speaks the documented wire format and checks our requests the way
 * Entra does:
 *
 * form body only; the tenant in the path exists (else 400 AADSTS90002); `grant_type=client_credentials`
 * (AADSTS70003); `client_id` is a registered app (AADSTS700016); `scope` is one `.default` scope (AADSTS1002012);
 * `client_assertion_type` = jwt-bearer and `client_assertion` present, no `client_secret` (AADSTS900144);
 * the assertion is a JWT signed by a key of the given JWKS (401 invalid_client AADSTS700027), unexpired
 * (401 invalid_client AADSTS700024), with `iat` and at most a day's lifetime (AADSTS70023), and its
 * `iss`/`sub`/`aud` match one of the app's federated identity credentials (400 invalid_request AADSTS70021,
 * whose description echoes the assertion's issuer and subject, as Entra's does). Answers
 * `{token_type, expires_in, ext_expires_in, access_token}` or `{error, error_description, error_codes,
 * timestamp, trace_id, correlation_id, error_uri}`.
 *
 * Apps hold at most 20 federated credentials, like Entra's. Every call is counted, bodies are kept, and
 * `failNext` makes the next calls answer a given status and body (raw strings allowed; `{{request}}` and
 * `{{authorization}}` in it echo the request, as issuers' error texts sometimes do).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTPayload, jwtVerify } from "jose";

export const ENTRA_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const MAX_FEDERATED_CREDENTIALS = 20;
const MAX_ASSERTION_LIFETIME_SECONDS = 25 * 60 * 60;
const MAX_BODY_BYTES = 64 * 1024;
const TOKEN_PATH = /^\/([^/]+)\/oauth2\/v2\.0\/token$/;

export interface FederatedIdentityCredential {
  readonly issuer: string;
  readonly subject: string;
  /** Default `[api://AzureADTokenExchange]`. */
  readonly audiences?: readonly string[];
}

export interface FakeEntraOptions {
  readonly jwks: JSONWebKeySet;
  readonly tenantId: string;
  /** App (client) ID → its federated identity credentials. */
  readonly apps: Readonly<Record<string, readonly FederatedIdentityCredential[]>>;
  /** Access token lifetime (default 3599, what Entra usually answers). */
  readonly expiresIn?: number;
}

export interface FakeEntra {
  /** The token endpoint of the configured tenant. */
  readonly tokenUrl: string;
  /** The token endpoint for any tenant (to test a wrong one). */
  tokenUrlFor(tenant: string): string;
  readonly calls: number;
  readonly requests: Record<string, string>[];
  readonly issued: string[];
  failNext(n: number, status: number, body: string | object): void;
  close(): Promise<void>;
}

export async function startFakeEntra(opts: FakeEntraOptions): Promise<FakeEntra> {
  for (const [app, fics] of Object.entries(opts.apps)) {
    if (fics.length > MAX_FEDERATED_CREDENTIALS) {
      throw new TypeError(
        `app ${app}: Entra allows at most ${MAX_FEDERATED_CREDENTIALS} federated identity credentials`,
      );
    }
  }
  const jwks = createLocalJWKSet(opts.jwks);
  const failures: { status: number; body: string }[] = [];
  const requests: Record<string, string>[] = [];
  const issued: string[] = [];

  const aadError = (res: ServerResponse, status: number, error: string, code: number, text: string) => {
    const traceId = randomUUID();
    const now = new Date()
      .toISOString()
      .replace("T", " ")
      .replace(/\.\d{3}Z$/, "Z");
    send(res, status, {
      error,
      error_description: `AADSTS${code}: ${text} Trace ID: ${traceId} Correlation ID: ${randomUUID()} Timestamp: ${now}`,
      error_codes: [code],
      timestamp: now,
      trace_id: traceId,
      correlation_id: randomUUID(),
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    });
  };

  async function token(req: IncomingMessage, res: ServerResponse, raw: string, tenant: string): Promise<void> {
    const form = (req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")
      ? Object.fromEntries(new URLSearchParams(raw))
      : undefined;
    requests.push(form ?? {});
    if (tenant !== opts.tenantId) return aadError(res, 400, "invalid_request", 90002, `Tenant '${tenant}' not found.`);
    if (!form)
      return aadError(
        res,
        400,
        "invalid_request",
        900144,
        "The request body must contain the following parameter: 'grant_type'.",
      );
    if (form.grant_type !== "client_credentials")
      return aadError(res, 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
    const fics = Object.hasOwn(opts.apps, form.client_id ?? "") ? opts.apps[form.client_id!] : undefined;
    if (!fics) return aadError(res, 400, "unauthorized_client", 700016, "Application was not found in the directory.");
    if (!form.scope || /\s/.test(form.scope) || !form.scope.endsWith("/.default")) {
      return aadError(
        res,
        400,
        "invalid_scope",
        1002012,
        "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed.",
      );
    }
    if (form.client_assertion_type !== JWT_BEARER || !form.client_assertion || "client_secret" in form) {
      return aadError(
        res,
        400,
        "invalid_request",
        900144,
        "The request body must contain the following parameter: 'client_assertion'.",
      );
    }
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(form.client_assertion, jwks, {
        requiredClaims: ["iss", "sub", "aud", "exp"],
      }));
    } catch (e) {
      if (e instanceof errors.JWTExpired)
        return aadError(res, 401, "invalid_client", 700024, "Client assertion is not within its valid time range.");
      return aadError(res, 401, "invalid_client", 700027, "Client assertion failed signature validation.");
    }
    if (typeof claims.iat !== "number" || claims.exp! - claims.iat > MAX_ASSERTION_LIFETIME_SECONDS) {
      return aadError(
        res,
        400,
        "invalid_request",
        70023,
        "External OIDC Provider token must have a lifetime of less than or equal to 1.01:00:00.",
      );
    }
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const match = fics.some(
      (f) =>
        f.issuer === claims.iss &&
        f.subject === claims.sub &&
        aud.some((a) => (f.audiences ?? [ENTRA_EXCHANGE_AUDIENCE]).includes(a!)),
    );
    if (!match) {
      return aadError(
        res,
        400,
        "invalid_request",
        70021,
        `No matching federated identity record found for presented assertion. Assertion Issuer: '${claims.iss}'. Assertion Subject: '${claims.sub}'. Assertion Audience: '${aud.join(",")}'.`,
      );
    }
    const accessToken = `eyJ0eXAiOiJKV1QifQ.fake-entra.${randomBytes(24).toString("base64url")}`;
    issued.push(accessToken);
    const expiresIn = opts.expiresIn ?? 3599;
    send(res, 200, {
      token_type: "Bearer",
      expires_in: expiresIn,
      ext_expires_in: expiresIn,
      access_token: accessToken,
    });
  }

  let calls = 0;
  const server = createServer((req, res) => {
    readBody(req).then(
      async (raw) => {
        const tenant = TOKEN_PATH.exec(new URL(req.url ?? "/", "http://fake").pathname)?.[1];
        if (req.method !== "POST" || tenant === undefined) return send(res, 404, "");
        calls++;
        const fail = failures.shift();
        if (fail) return send(res, fail.status, echo(fail.body, req, raw));
        return token(req, res, raw, decodeURIComponent(tenant));
      },
      () => send(res, 413, ""),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tokenUrlFor = (tenant: string) => `${base}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`;
  return {
    tokenUrl: tokenUrlFor(opts.tenantId),
    tokenUrlFor,
    get calls() {
      return calls;
    },
    requests,
    issued,
    failNext(n, status, body) {
      for (let i = 0; i < n; i++)
        failures.push({ status, body: typeof body === "string" ? body : JSON.stringify(body) });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
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

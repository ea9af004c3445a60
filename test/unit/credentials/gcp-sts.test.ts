import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isHexrError } from "../../../filters/errors.ts";
import { GcpStsProvider, type GcpStsProviderOptions } from "../../../filters/credentials/providers/gcp-sts.ts";
import { type Caller, type CallerToken, CredentialError } from "../../../filters/credentials/types.ts";
import { type FakeGcpSts, startFakeGcpSts } from "../../helpers/fake-gcp-sts.ts";

const TD = "hexr.test";
const ISSUER = "https://oidc.hexr.test";
const POOL =
  "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/hexr-pool/providers/spire-oidc";
const AUD = `https:${POOL}`;
const SA_TEMPLATE = "{agent}-{role}@analytics-prod.iam.gserviceaccount.com";
const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

function caller(tenant = "acme", agent = "crew", role = "researcher"): Caller {
  return { spiffeId: `spiffe://${TD}/agent/${tenant}/${agent}/${role}`, trustDomain: TD, tenant, agent, role };
}
const CALLER = caller();

type Key = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
let trusted: Key;
let stranger: Key;
let jwk: JWK;
let fake: FakeGcpSts;
/** Everything secret a test has seen: no error may contain any of it. */
let secrets: string[] = [];

async function svid(claims: Record<string, unknown> = {}, key: Key = trusted): Promise<CallerToken> {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({
    sub: CALLER.spiffeId,
    aud: [AUD],
    iss: ISSUER,
    iat: now - 10,
    exp: now + 300,
    ...claims,
  })
    .setProtectedHeader({ alg: "ES256", kid: "spire-1", typ: "JWT" })
    .sign(key);
  secrets.push(token);
  return { token, expiresAt: (now + 300) * 1000, source: "presented" };
}

function provider(extra: Partial<GcpStsProviderOptions> = {}): GcpStsProvider {
  return new GcpStsProvider({
    name: "gcp-analytics",
    audience: AUD,
    poolProvider: POOL,
    stsUrl: fake.stsUrl,
    iamCredentialsUrl: fake.iamCredentialsUrl,
    ...extra,
  });
}

const signal = () => AbortSignal.timeout(5_000);

/** Rejects with a CredentialError of this shape whose text names none of the secrets seen. */
async function expectError(p: Promise<unknown>, want: { code: string; retry?: string; issuerCode?: string }) {
  const err = await p.then(
    () => expect.fail("expected a rejection"),
    (e: unknown) => e,
  );
  expect(isHexrError(err)).toBe(true);
  const e = err as CredentialError;
  expect(e.code).toBe(want.code);
  if (want.retry !== undefined) expect(e).toBeInstanceOf(CredentialError);
  if (want.retry !== undefined) expect(e.retry).toBe(want.retry);
  if (want.issuerCode !== undefined) expect(e.issuerCode).toBe(want.issuerCode);
  for (const s of [...secrets, ...fake.issued]) {
    expect(String(e)).not.toContain(s);
    expect(e.message).not.toContain(s);
  }
  return e;
}

beforeAll(async () => {
  const pair = await generateKeyPair("ES256", { extractable: true });
  trusted = pair.privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: "spire-1", alg: "ES256", use: "sig" };
  stranger = (await generateKeyPair("ES256")).privateKey;
  fake = await startFakeGcpSts({
    jwks: { keys: [jwk] },
    issuer: ISSUER,
    poolProvider: POOL,
    allowedAudiences: [AUD],
    expiresIn: 1800,
    canImpersonate: (sub, email) => sub === CALLER.spiffeId || !email.startsWith("crew-"),
  });
});
afterAll(() => fake.close());
beforeEach(() => {
  secrets = [];
  fake.calls.sts = 0;
  fake.calls.iam = 0;
  fake.requests.sts.length = 0;
  fake.requests.iam.length = 0;
});

describe("federated token (no impersonation)", () => {
  it("exchanges the JWT-SVID once and returns the STS token with its expires_in", async () => {
    const before = Date.now();
    const cred = await provider().exchange({ caller: CALLER, durationSeconds: 900 }, await svid(), signal());
    expect(cred.kind).toBe("bearer");
    expect(cred.kind === "bearer" && cred.token).toBe(fake.issued.at(-1));
    expect(cred.expiresAt).toBeGreaterThanOrEqual(before + 1800_000);
    expect(cred.expiresAt).toBeLessThanOrEqual(Date.now() + 1800_000);
    expect(fake.calls).toEqual({ sts: 1, iam: 0 });
    expect(fake.requests.sts[0]).toMatchObject({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      audience: POOL,
      scope: CLOUD_PLATFORM,
      requested_token_type: ACCESS_TOKEN_TYPE,
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    });
  });

  it("asks the STS for the configured scopes", async () => {
    const scopes = [CLOUD_PLATFORM, "https://www.googleapis.com/auth/devstorage.read_only"];
    await provider({ scopes }).exchange({ caller: CALLER, durationSeconds: 900 }, await svid(), signal());
    expect(fake.requests.sts[0]?.scope).toBe(scopes.join(" "));
  });

  it("uses the injected clock for the expiry", async () => {
    const cred = await provider({ now: () => 1_000 }).exchange(
      { caller: CALLER, durationSeconds: 900 },
      await svid(),
      signal(),
    );
    expect(cred.expiresAt).toBe(1_000 + 1800_000);
  });
});

describe("service account impersonation", () => {
  const impersonating = (extra: Partial<GcpStsProviderOptions> = {}) =>
    provider({ serviceAccountTemplate: SA_TEMPLATE, ...extra });

  it("trades the federated token for the caller's own service account token", async () => {
    const cred = await impersonating().exchange({ caller: CALLER, durationSeconds: 900 }, await svid(), signal());
    const [federated, saToken] = fake.issued.slice(-2);
    expect(cred.kind === "bearer" && cred.token).toBe(saToken);
    expect(fake.calls).toEqual({ sts: 1, iam: 1 });
    expect(fake.requests.sts[0]?.scope).toBe(CLOUD_PLATFORM);
    expect(fake.requests.iam[0]).toEqual({
      email: "crew-researcher@analytics-prod.iam.gserviceaccount.com",
      authorization: `Bearer ${federated}`,
      scope: [CLOUD_PLATFORM],
      lifetime: "900s",
    });
    expect(cred.expiresAt).toBeGreaterThan(Date.now() + 890_000);
    expect(cred.expiresAt).toBeLessThanOrEqual(Date.now() + 900_000);
  });

  it("puts the configured scopes on the service account token, cloud-platform on the federated one", async () => {
    const scopes = ["https://www.googleapis.com/auth/bigquery.readonly"];
    await impersonating({ scopes }).exchange({ caller: CALLER, durationSeconds: 900 }, await svid(), signal());
    expect(fake.requests.sts[0]?.scope).toBe(CLOUD_PLATFORM);
    expect(fake.requests.iam[0]?.scope).toEqual(scopes);
  });

  it.each([
    [7200, "3600s"],
    [3600, "3600s"],
    [60, "300s"],
    [899.2, "900s"],
    [Number.NaN, "300s"],
  ])("asks for a lifetime of %s s as %s (capped at 3600 s)", async (durationSeconds, lifetime) => {
    await impersonating().exchange({ caller: CALLER, durationSeconds }, await svid(), signal());
    expect(fake.requests.iam[0]?.lifetime).toBe(lifetime);
  });

  it.each([
    ["upper case", caller("acme", "Crew")],
    ["underscore", caller("acme", "crew_2")],
    ["dot", caller("acme", "crew.a")],
    ["too long for an account ID", caller("acme", "a-very-long-agent-name", "researcher")],
    ["too short for an account ID", caller("acme", "a", "b")],
    ["ends in a hyphen", caller("acme", "crew", "x-")],
  ])("fails closed with bad_template when the names make no valid email (%s), before any call", async (_, who) => {
    const p = impersonating();
    expect(() => p.target(who)).toThrow(expect.objectContaining({ code: "credentials.bad_template" }));
    await expectError(p.exchange({ caller: who, durationSeconds: 900 }, await svid({ sub: who.spiffeId }), signal()), {
      code: "credentials.bad_template",
    });
    expect(fake.calls).toEqual({ sts: 0, iam: 0 });
  });
});

describe("target", () => {
  it("is stable per caller and names the pool provider, service account and scopes", () => {
    const p = provider({ serviceAccountTemplate: SA_TEMPLATE });
    expect(p.target(CALLER)).toBe(p.target(caller()));
    expect(p.target(CALLER)).toContain(POOL);
    expect(p.target(CALLER)).toContain("crew-researcher@analytics-prod.iam.gserviceaccount.com");
    expect(p.target(CALLER)).toContain(CLOUD_PLATFORM);
    expect(p.target(CALLER)).not.toBe(p.target(caller("acme", "crew", "writer")));
  });

  it("differs with the scopes and without impersonation", () => {
    const a = provider().target(CALLER);
    expect(provider({ scopes: ["https://www.googleapis.com/auth/bigquery"] }).target(CALLER)).not.toBe(a);
    expect(provider({ serviceAccountTemplate: SA_TEMPLATE }).target(CALLER)).not.toBe(a);
    expect(provider().target(caller("other", "bot", "x"))).toBe(a);
  });
});

describe("scoped requests", () => {
  it.each([[["projects/_/buckets/reports"]], [[]]])(
    "refuses resources %j: no session policy, never a broader token",
    async (resources) => {
      await expectError(
        provider().exchange({ caller: CALLER, durationSeconds: 900, resources }, await svid(), signal()),
        {
          code: "credentials.scope_unsupported",
          retry: "never",
        },
      );
      expect(fake.calls.sts).toBe(0);
    },
  );
});

describe("STS errors", () => {
  it.each([
    ["expired", { exp: Math.floor(Date.now() / 1000) - 60, iat: Math.floor(Date.now() / 1000) - 600 }, undefined],
    ["wrong audience", { aud: ["sts.amazonaws.com"] }, undefined],
    ["wrong issuer", { iss: "https://evil.test" }, undefined],
    ["signed by an unknown key", {}, "stranger"],
  ])("a JWT-SVID the STS refuses (%s) → invalid_grant, retry with a fresh token", async (_, claims, key) => {
    const token = await svid(claims, key ? stranger : trusted);
    await expectError(provider().exchange({ caller: CALLER, durationSeconds: 900 }, token, signal()), {
      code: "credentials.token_rejected",
      retry: "token",
      issuerCode: "invalid_grant",
    });
  });

  it.each([
    [
      400,
      { error: "invalid_grant", error_description: "The given credential is rejected by the attribute condition." },
      "credentials.issuer_denied",
      "never",
      "invalid_grant",
    ],
    [
      400,
      { error: "invalid_grant", error_description: "Error connecting to the given credential's issuer." },
      "credentials.issuer_unavailable",
      "transient",
      "invalid_grant",
    ],
    [
      400,
      { error: "invalid_request", error_description: 'Invalid value for "audience".' },
      "credentials.issuer_error",
      "never",
      "invalid_request",
    ],
    [
      400,
      { error: "invalid_target", error_description: "The target service indicated by the audience is invalid." },
      "credentials.issuer_error",
      "never",
      "invalid_target",
    ],
    [401, { error: "invalid_client", error_description: "x" }, "credentials.issuer_error", "never", "invalid_client"],
    [
      403,
      { error: "access_denied", error_description: "Pool disabled." },
      "credentials.issuer_denied",
      "never",
      "access_denied",
    ],
    [
      400,
      { error: "unauthorized_client", error_description: "x" },
      "credentials.issuer_denied",
      "never",
      "unauthorized_client",
    ],
    [429, { error: "rate_limited" }, "credentials.issuer_unavailable", "transient", "rate_limited"],
    [503, "<html>unavailable</html>", "credentials.issuer_unavailable", "transient", "http_503"],
    [500, "<html>oops</html>", "credentials.issuer_error", "transient", "http_500"],
    [502, { error: "x y z" }, "credentials.issuer_error", "transient", "http_502"],
    [404, "", "credentials.issuer_error", "never", "http_404"],
  ])("HTTP %s %j → %s (%s)", async (status, body, code, retry, issuerCode) => {
    fake.failNext("sts", 1, status, body);
    await expectError(provider().exchange({ caller: CALLER, durationSeconds: 900 }, await svid(), signal()), {
      code,
      retry,
      issuerCode,
    });
    expect(fake.calls.sts).toBe(1);
  });

  it("never repeats an error_description that echoes the subject token", async () => {
    const token = await svid();
    fake.failNext("sts", 1, 400, { error: "invalid_grant", error_description: "bad request {{request}}" });
    await expectError(provider().exchange({ caller: CALLER, durationSeconds: 900 }, token, signal()), {
      code: "credentials.token_rejected",
    });
  });

  it("an unreachable STS is transient", async () => {
    const dead = await startFakeGcpSts({
      jwks: { keys: [jwk] },
      issuer: ISSUER,
      poolProvider: POOL,
      allowedAudiences: [AUD],
    });
    const stsUrl = dead.stsUrl;
    await dead.close();
    await expectError(provider({ stsUrl }).exchange({ caller: CALLER, durationSeconds: 900 }, await svid(), signal()), {
      code: "credentials.issuer_unreachable",
      retry: "transient",
    });
  });
});

describe("IAM Credentials errors", () => {
  const impersonating = () => provider({ serviceAccountTemplate: SA_TEMPLATE });

  it("the federated subject may not impersonate the account → PERMISSION_DENIED, final", async () => {
    const other = caller("acme", "crew", "writer");
    const p = new GcpStsProvider({
      name: "gcp",
      audience: AUD,
      poolProvider: POOL,
      serviceAccountTemplate: SA_TEMPLATE,
      stsUrl: fake.stsUrl,
      iamCredentialsUrl: fake.iamCredentialsUrl,
    });
    await expectError(
      p.exchange({ caller: other, durationSeconds: 900 }, await svid({ sub: other.spiffeId }), signal()),
      {
        code: "credentials.issuer_denied",
        retry: "never",
        issuerCode: "PERMISSION_DENIED",
      },
    );
    expect(fake.calls).toEqual({ sts: 1, iam: 1 });
  });

  it.each([
    [401, "UNAUTHENTICATED", "credentials.token_rejected", "token"],
    [403, "PERMISSION_DENIED", "credentials.issuer_denied", "never"],
    [503, "UNAVAILABLE", "credentials.issuer_unavailable", "transient"],
    [429, "RESOURCE_EXHAUSTED", "credentials.issuer_unavailable", "transient"],
    [500, "INTERNAL", "credentials.issuer_error", "transient"],
    [504, "DEADLINE_EXCEEDED", "credentials.issuer_error", "transient"],
    [400, "INVALID_ARGUMENT", "credentials.issuer_error", "never"],
    [404, "NOT_FOUND", "credentials.issuer_error", "never"],
  ])("HTTP %s %s → %s (%s)", async (status, st, code, retry) => {
    fake.failNext("iam", 1, status, { error: { code: status, message: "Something about the request.", status: st } });
    await expectError(impersonating().exchange({ caller: CALLER, durationSeconds: 900 }, await svid(), signal()), {
      code,
      retry,
      issuerCode: st,
    });
  });

  it("classifies by HTTP status when the body is not a Google error", async () => {
    fake.failNext("iam", 1, 401, "Unauthorized");
    await expectError(impersonating().exchange({ caller: CALLER, durationSeconds: 900 }, await svid(), signal()), {
      code: "credentials.token_rejected",
      retry: "token",
      issuerCode: "http_401",
    });
  });

  it("never repeats a message that echoes the federated token", async () => {
    fake.failNext("iam", 1, 401, {
      error: { code: 401, message: "rejected {{authorization}}", status: "UNAUTHENTICATED" },
    });
    await expectError(impersonating().exchange({ caller: CALLER, durationSeconds: 900 }, await svid(), signal()), {
      code: "credentials.token_rejected",
    });
    expect(fake.issued.length).toBeGreaterThan(0);
  });
});

describe("malformed answers", () => {
  const huge = JSON.stringify({ access_token: "x".repeat(70 * 1024), expires_in: 3600 });
  it.each([
    ["not JSON", "<html>ok</html>"],
    ["an array", "[]"],
    ["no access_token", { expires_in: 3600, token_type: "Bearer" }],
    ["access_token not a string", { access_token: 5, expires_in: 3600 }],
    ["access_token with a space (header injection)", { access_token: "ya29.a b", expires_in: 3600 }],
    ["access_token with a newline", { access_token: "ya29.a\r\nx-evil: 1", expires_in: 3600 }],
    ["no expires_in", { access_token: "ya29.secret-token", token_type: "Bearer" }],
    ["expires_in as text", { access_token: "ya29.secret-token", expires_in: "soon" }],
    ["negative expires_in", { access_token: "ya29.secret-token", expires_in: -5 }],
    ["another token type", { access_token: "ya29.secret-token", expires_in: 3600, token_type: "MAC" }],
    ["another issued token type", { access_token: "ya29.secret-token", expires_in: 3600, issued_token_type: "urn:x" }],
    ["larger than 64 KB", huge],
  ])("STS 200 with %s → issuer_bad_response", async (_, body) => {
    secrets.push("ya29.secret-token", "ya29.a b");
    fake.failNext("sts", 1, 200, body);
    await expectError(provider().exchange({ caller: CALLER, durationSeconds: 900 }, await svid(), signal()), {
      code: "credentials.issuer_bad_response",
      retry: "never",
    });
  });

  it.each([
    ["not JSON", "{"],
    ["no accessToken", { expireTime: "2099-01-01T00:00:00Z" }],
    ["no expireTime", { accessToken: "ya29.secret-sa" }],
    ["unparseable expireTime", { accessToken: "ya29.secret-sa", expireTime: "tomorrow" }],
    ["expireTime in the past", { accessToken: "ya29.secret-sa", expireTime: "2001-01-01T00:00:00Z" }],
    ["larger than 64 KB", JSON.stringify({ accessToken: "y".repeat(70 * 1024), expireTime: "2099-01-01T00:00:00Z" })],
  ])("generateAccessToken 200 with %s → issuer_bad_response", async (_, body) => {
    secrets.push("ya29.secret-sa");
    fake.failNext("iam", 1, 200, body);
    await expectError(
      provider({ serviceAccountTemplate: SA_TEMPLATE }).exchange(
        { caller: CALLER, durationSeconds: 900 },
        await svid(),
        signal(),
      ),
      { code: "credentials.issuer_bad_response", retry: "never" },
    );
  });
});

describe("configuration", () => {
  const base = { name: "gcp", audience: AUD, poolProvider: POOL };
  it.each([
    ["an empty name", { name: "" }],
    ["an empty audience", { audience: "" }],
    [
      "a pool instead of a provider",
      { poolProvider: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/hexr-pool" },
    ],
    ["a provider path without the //iam prefix", { poolProvider: POOL.slice("//iam.googleapis.com/".length) }],
    ["a project ID instead of its number", { poolProvider: POOL.replace("123456789012", "my-project") }],
    ["an unknown placeholder", { serviceAccountTemplate: "{project}@p.iam.gserviceaccount.com" }],
    ["no scopes", { scopes: [] }],
    ["a scope that is not a URL", { scopes: ["cloud-platform"] }],
    ["plain http to a remote host", { stsUrl: "http://sts.googleapis.com/v1/token" }],
    ["a relative IAM URL", { iamCredentialsUrl: "/v1" }],
    ["a zero timeout", { timeoutMs: 0 }],
  ])("refuses %s", (_, extra) => {
    expect(() => new GcpStsProvider({ ...base, ...extra } as GcpStsProviderOptions)).toThrow();
  });

  it("describes itself to the exchanger", () => {
    const p = new GcpStsProvider(base);
    expect([p.kind, p.name, p.audience, p.minDurationSeconds, p.maxDurationSeconds]).toEqual([
      "gcp",
      "gcp",
      AUD,
      300,
      3600,
    ]);
  });
});

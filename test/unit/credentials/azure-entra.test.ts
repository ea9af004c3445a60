import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isHexrError } from "../../../filters/errors.ts";
import { EntraProvider, type EntraProviderOptions } from "../../../filters/credentials/providers/azure-entra.ts";
import { type Caller, type CallerToken, CredentialError } from "../../../filters/credentials/types.ts";
import { ENTRA_EXCHANGE_AUDIENCE, type FakeEntra, startFakeEntra } from "../../helpers/fake-entra.ts";

const TD = "hexr.test";
const ISSUER = "https://oidc.hexr.test";
const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CREW_APP = "11111111-2222-3333-4444-555555555555";
const WRITER_APP = "66666666-7777-8888-9999-aaaaaaaaaaaa";
const SHARED_APP = "bbbbbbbb-cccc-dddd-eeee-ffffffffffff";
const SCOPE = "https://storage.azure.com/.default";

function caller(tenant = "acme", agent = "crew", role = "researcher"): Caller {
  return { spiffeId: `spiffe://${TD}/agent/${tenant}/${agent}/${role}`, trustDomain: TD, tenant, agent, role };
}
const CALLER = caller();
const WRITER = caller("acme", "crew", "writer");
const BOT = caller("acme", "bot", "runner");

type Key = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
let trusted: Key;
let stranger: Key;
let fake: FakeEntra;
let secrets: string[] = [];

async function svid(
  who: Caller = CALLER,
  claims: Record<string, unknown> = {},
  key: Key = trusted,
): Promise<CallerToken> {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({
    sub: who.spiffeId,
    aud: [ENTRA_EXCHANGE_AUDIENCE],
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

function provider(extra: Partial<EntraProviderOptions> = {}): EntraProvider {
  return new EntraProvider({
    name: "azure-storage",
    tenantId: TENANT,
    scope: SCOPE,
    clientIds: { [`spiffe://${TD}/agent/acme/crew`]: CREW_APP, [WRITER.spiffeId]: WRITER_APP },
    tokenUrl: fake.tokenUrl,
    ...extra,
  });
}

const signal = () => AbortSignal.timeout(5_000);
const exchange = async (p: EntraProvider, who: Caller = CALLER, token?: CallerToken) =>
  p.exchange({ caller: who, durationSeconds: 3600 }, token ?? (await svid(who)), signal());

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
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "spire-1", alg: "ES256", use: "sig" };
  stranger = (await generateKeyPair("ES256")).privateKey;
  const fic = (who: Caller) => ({ issuer: ISSUER, subject: who.spiffeId });
  fake = await startFakeEntra({
    jwks: { keys: [jwk] },
    tenantId: TENANT,
    apps: { [CREW_APP]: [fic(CALLER)], [WRITER_APP]: [fic(WRITER)], [SHARED_APP]: [fic(BOT)] },
  });
});
afterAll(() => fake.close());
beforeEach(() => {
  secrets = [];
  fake.requests.length = 0;
});

describe("client credentials with the JWT-SVID as federated assertion", () => {
  it("returns Entra's token with its expires_in, in exactly one call", async () => {
    const calls = fake.calls;
    const before = Date.now();
    const cred = await exchange(provider());
    expect(cred.kind === "bearer" && cred.token).toBe(fake.issued.at(-1));
    expect(cred.expiresAt).toBeGreaterThanOrEqual(before + 3599_000);
    expect(cred.expiresAt).toBeLessThanOrEqual(Date.now() + 3599_000);
    expect(fake.calls - calls).toBe(1);
    expect(fake.requests[0]).toEqual({
      client_id: CREW_APP,
      scope: SCOPE,
      grant_type: "client_credentials",
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: secrets[0],
    });
  });

  it("uses the injected clock for the expiry", async () => {
    const cred = await exchange(provider({ now: () => 5_000 }));
    expect(cred.expiresAt).toBe(5_000 + 3599_000);
  });

  it.each([
    ["a number", 3599, 3599_000],
    ["digits as text (v1 style)", "1800", 1800_000],
  ])("reads expires_in as %s", async (_, expiresIn, ms) => {
    fake.failNext(1, 200, { token_type: "Bearer", expires_in: expiresIn, access_token: "eyJ.ok.sig" });
    expect((await exchange(provider({ now: () => 0 }))).expiresAt).toBe(ms);
  });
});

describe("client ID per caller", () => {
  it.each([
    ["the exact SPIFFE ID wins over the agent's key", WRITER, WRITER_APP],
    ["the agent's key (no role) covers its other roles", CALLER, CREW_APP],
    ["the template is the fallback", BOT, SHARED_APP],
  ])("%s", async (_, who, app) => {
    const p = provider({ clientIdTemplate: SHARED_APP });
    await exchange(p, who);
    expect(fake.requests[0]?.client_id).toBe(app);
    expect(p.target(who)).toContain(app);
  });

  it("fails closed with bad_template, before any call, when nothing maps the caller", async () => {
    const calls = fake.calls;
    const p = provider();
    expect(() => p.target(BOT)).toThrow(expect.objectContaining({ code: "credentials.bad_template" }));
    await expectError(exchange(p, BOT), { code: "credentials.bad_template" });
    expect(fake.calls).toBe(calls);
  });

  it("fails closed when the template does not make a GUID for the caller", async () => {
    const p = provider({ clientIds: {}, clientIdTemplate: "{agent}-0000-0000-0000-000000000000" });
    await expectError(exchange(p, BOT), { code: "credentials.bad_template" });
  });

  it("target is stable, and changes with the client ID, scope and tenant", () => {
    const p = provider();
    expect(p.target(CALLER)).toBe(provider().target(caller()));
    expect(p.target(CALLER)).not.toBe(p.target(WRITER));
    expect(provider({ scope: "https://vault.azure.net/.default" }).target(CALLER)).not.toBe(p.target(CALLER));
    expect(provider({ tenantId: "contoso.onmicrosoft.com" }).target(CALLER)).not.toBe(p.target(CALLER));
  });
});

describe("scoped requests", () => {
  it.each([[["/subscriptions/s/resourceGroups/g"]], [[]]])(
    "refuses resources %j rather than a broader token",
    async (resources) => {
      const calls = fake.calls;
      await expectError(
        provider().exchange({ caller: CALLER, durationSeconds: 3600, resources }, await svid(), signal()),
        {
          code: "credentials.scope_unsupported",
          retry: "never",
        },
      );
      expect(fake.calls).toBe(calls);
    },
  );
});

describe("Entra's own refusals", () => {
  const now = Math.floor(Date.now() / 1000);
  const botOnCrewApp = { clientIds: { [BOT.spiffeId]: CREW_APP } };
  const unregistered = { clientIds: { [CALLER.spiffeId]: "00000000-0000-0000-0000-000000000000" } };
  it.each([
    [
      "an expired assertion",
      CALLER,
      { iat: now - 900, exp: now - 60 },
      {},
      "credentials.token_rejected",
      "token",
      "AADSTS700024",
    ],
    [
      "a caller without a federated credential on the app",
      BOT,
      {},
      botOnCrewApp,
      "credentials.issuer_denied",
      "never",
      "AADSTS70021",
    ],
    [
      "another audience",
      CALLER,
      { aud: ["sts.amazonaws.com"] },
      {},
      "credentials.issuer_denied",
      "never",
      "AADSTS70021",
    ],
    ["another issuer", CALLER, { iss: "https://evil.test" }, {}, "credentials.issuer_denied", "never", "AADSTS70021"],
    ["an assertion without iat", CALLER, { iat: undefined }, {}, "credentials.issuer_error", "never", "AADSTS70023"],
    ["an unregistered app", CALLER, {}, unregistered, "credentials.issuer_denied", "never", "AADSTS700016"],
  ])("%s → %s (%s, %s)", async (_, who, claims, extra, code, retry, issuerCode) => {
    await expectError(exchange(provider(extra), who, await svid(who, claims)), { code, retry, issuerCode });
  });

  it("an assertion signed by an unknown key → AADSTS700027, final", async () => {
    await expectError(exchange(provider(), CALLER, await svid(CALLER, {}, stranger)), {
      code: "credentials.token_rejected",
      retry: "never",
      issuerCode: "AADSTS700027",
    });
  });

  it("another tenant → AADSTS90002, final", async () => {
    await expectError(exchange(provider({ tokenUrl: fake.tokenUrlFor("contoso.onmicrosoft.com") })), {
      code: "credentials.issuer_error",
      retry: "never",
      issuerCode: "AADSTS90002",
    });
  });

  it("never repeats AADSTS70021's description, which echoes the assertion's subject", async () => {
    const e = await expectError(exchange(provider({ clientIds: { [BOT.spiffeId]: CREW_APP } }), BOT), {
      code: "credentials.issuer_denied",
    });
    expect(e.message).not.toContain(BOT.spiffeId);
    expect(e.message).not.toContain(ISSUER);
  });
});

describe("error classes", () => {
  const aad = (error: string, code?: number) => ({
    error,
    error_description: `AADSTS${code}: text`,
    ...(code ? { error_codes: [code] } : {}),
  });
  it.each([
    [429, aad("invalid_request", 50196), "credentials.issuer_unavailable", "transient", "AADSTS50196"],
    [503, "Service Unavailable", "credentials.issuer_unavailable", "transient", "http_503"],
    [400, aad("temporarily_unavailable", 90033), "credentials.issuer_unavailable", "transient", "AADSTS90033"],
    [500, aad("server_error", 90100), "credentials.issuer_error", "transient", "AADSTS90100"],
    [502, "<html/>", "credentials.issuer_error", "transient", "http_502"],
    [401, aad("invalid_client", 700024), "credentials.token_rejected", "token", "AADSTS700024"],
    [400, aad("invalid_request", 700213), "credentials.issuer_denied", "never", "AADSTS700213"],
    [400, aad("invalid_client", 70025), "credentials.issuer_denied", "never", "AADSTS70025"],
    [401, aad("invalid_client"), "credentials.token_rejected", "never", "invalid_client"],
    [400, aad("unauthorized_client"), "credentials.issuer_denied", "never", "unauthorized_client"],
    [400, aad("invalid_scope", 70011), "credentials.issuer_error", "never", "AADSTS70011"],
    [404, "", "credentials.issuer_error", "never", "http_404"],
  ])("HTTP %s %j → %s (%s)", async (status, body, code, retry, issuerCode) => {
    fake.failNext(1, status, body);
    await expectError(exchange(provider()), { code, retry, issuerCode });
  });

  it("never repeats a description that echoes the request", async () => {
    fake.failNext(1, 400, {
      error: "invalid_request",
      error_description: "AADSTS50027: bad {{request}}",
      error_codes: [50027],
    });
    await expectError(exchange(provider()), { code: "credentials.issuer_error", issuerCode: "AADSTS50027" });
  });
});

describe("malformed answers", () => {
  it.each([
    ["not JSON", "<html>ok</html>"],
    ["no access_token", { token_type: "Bearer", expires_in: 3599 }],
    [
      "access_token with CRLF (header injection)",
      { token_type: "Bearer", expires_in: 3599, access_token: "eyJ.secret\r\nx: 1" },
    ],
    ["no token_type", { expires_in: 3599, access_token: "eyJ.secret" }],
    ["another token_type", { token_type: "pop", expires_in: 3599, access_token: "eyJ.secret" }],
    ["no expires_in", { token_type: "Bearer", access_token: "eyJ.secret" }],
    ["expires_in as words", { token_type: "Bearer", expires_in: "an hour", access_token: "eyJ.secret" }],
    ["zero expires_in", { token_type: "Bearer", expires_in: 0, access_token: "eyJ.secret" }],
    [
      "larger than 64 KB",
      JSON.stringify({ token_type: "Bearer", expires_in: 3599, access_token: "z".repeat(70 * 1024) }),
    ],
  ])("200 with %s → issuer_bad_response", async (_, body) => {
    secrets.push("eyJ.secret");
    fake.failNext(1, 200, body);
    await expectError(exchange(provider()), { code: "credentials.issuer_bad_response", retry: "never" });
  });
});

describe("configuration", () => {
  const base = { name: "azure", tenantId: TENANT, scope: SCOPE, clientIdTemplate: SHARED_APP };
  it.each([
    ["an empty name", { name: "" }],
    ["a tenant that is neither GUID nor domain", { tenantId: "common" }],
    ["a scope without .default", { scope: "https://storage.azure.com/user_impersonation" }],
    ["two scopes", { scope: "https://storage.azure.com/.default https://vault.azure.net/.default" }],
    ["neither clientIds nor a template", { clientIdTemplate: undefined }],
    ["a client ID that is not a GUID", { clientIds: { [CALLER.spiffeId]: "my-app" } }],
    ["a key that is not a SPIFFE ID", { clientIds: { crew: CREW_APP } }],
    ["an unknown placeholder", { clientIdTemplate: "{app}" }],
    ["plain http to a remote host", { tokenUrl: "http://login.microsoftonline.com/t/oauth2/v2.0/token" }],
    ["a timeout over a minute", { timeoutMs: 120_000 }],
  ])("refuses %s", (_, extra) => {
    expect(() => new EntraProvider({ ...base, ...extra } as EntraProviderOptions)).toThrow();
  });

  it("describes itself to the exchanger, with Entra's token-exchange audience by default", () => {
    const p = new EntraProvider(base);
    expect([p.kind, p.name, p.audience]).toEqual(["azure", "azure", "api://AzureADTokenExchange"]);
    expect(new EntraProvider({ ...base, audience: "api://hexr" }).audience).toBe("api://hexr");
  });

  it("the stand-in refuses more than 20 federated credentials per app, like Entra", async () => {
    const fics = Array.from({ length: 21 }, (_, i) => ({ issuer: ISSUER, subject: `spiffe://${TD}/agent/a/b/r${i}` }));
    await expect(startFakeEntra({ jwks: { keys: [] }, tenantId: TENANT, apps: { [CREW_APP]: fics } })).rejects.toThrow(
      /20/,
    );
  });
});

/**
 * The credential chain's real components, without the sidecar: SPIRE (JWT-SVIDs, served as an OIDC issuer
 * by its oidc-discovery-provider) → SeaweedFS STS (`AssumeRoleWithWebIdentity`, verifying the JWT-SVID
 * against that JWKS) → SeaweedFS S3 (SigV4 + session token). Also measures, and pins, the error answers
 * listed in SEAWEEDFS_ERRORS, which the credential filter maps to AWS's codes.
 *
 * Two SeaweedFS instances, started side by side: the main one, and one whose `maxSessionLength` is 2 s so
 * an expired session can be observed without waiting 15 minutes (DurationSeconds' minimum).
 */
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SEAWEEDFS_ERRORS,
  type SeaweedFsError,
  type SeaweedFsHarness,
  type SeaweedFsRole,
  s3Request,
  startSeaweedFs,
} from "../../sidecars/devtools/seaweedfs.ts";
import { type SpireHarness, startSpire } from "../../sidecars/devtools/spire.ts";
import { type JwtSvid, WorkloadApiClient } from "../../sidecars/workload-api/client.ts";

const TD = "hexr.cloud";
const WRITER = `spiffe://${TD}/agent/acme/crew/writer`;
/** Same selectors as WRITER, 2 s JWT-SVIDs: an expired web identity token. */
const SHORT = `spiffe://${TD}/agent/acme/crew/short-lived`;
const AUDIENCE = "sts.hexr.test";
const BUCKET = "reports";
const ROLE: SeaweedFsRole = {
  name: "acme-writer",
  actions: ["s3:PutObject", "s3:GetObject"],
  buckets: [BUCKET],
  subjects: [`spiffe://${TD}/agent/acme/*`],
};

interface StsAnswer {
  status: number;
  body: string;
  code: string | undefined;
}
interface SessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  subject: string | undefined;
}

let spire: SpireHarness;
let weed: SeaweedFsHarness;
/** maxSessionLength 2 s: every session it issues expires 2 s later. */
let weedShort: SeaweedFsHarness;
let token: JwtSvid;
let wrongAudience: JwtSvid;

function xml(body: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(body)?.[1];
}

async function assumeRole(
  endpoint: string,
  webIdentityToken: string,
  opts: { roleArn?: string; durationSeconds?: number } = {},
): Promise<StsAnswer> {
  const form = new URLSearchParams({
    Action: "AssumeRoleWithWebIdentity",
    Version: "2011-06-15",
    RoleArn: opts.roleArn ?? weed.roleArn(ROLE.name),
    RoleSessionName: "hexr-smoke",
    WebIdentityToken: webIdentityToken,
    DurationSeconds: String(opts.durationSeconds ?? 900),
  });
  const res = await request(endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form.toString(),
  });
  const body = await res.body.text();
  return { status: res.statusCode, body, code: xml(body, "Code") };
}

function credentials(a: StsAnswer): SessionCredentials {
  expect(a.status, a.body).toBe(200);
  const accessKeyId = xml(a.body, "AccessKeyId");
  const secretAccessKey = xml(a.body, "SecretAccessKey");
  const sessionToken = xml(a.body, "SessionToken");
  const expiration = xml(a.body, "Expiration");
  if (!accessKeyId || !secretAccessKey || !sessionToken || !expiration) throw new Error(`no credentials in ${a.body}`);
  return {
    accessKeyId,
    secretAccessKey,
    sessionToken,
    expiration: new Date(expiration),
    subject: xml(a.body, "SubjectFromWebIdentityToken"),
  };
}

function expectError(got: { status: number; code: string | undefined; body: string }, want: SeaweedFsError): void {
  expect({ status: got.status, code: got.code }, got.body).toEqual({ status: want.status, code: want.code });
}

async function s3Error(res: Response): Promise<{ status: number; code: string | undefined; body: string }> {
  const body = await res.text();
  return { status: res.status, code: xml(body, "Code"), body };
}

/** The JWT with its payload replaced (the signature kept: it no longer matches). */
function withClaims(jwt: string, change: Record<string, unknown>): string {
  const [h, p, s] = jwt.split(".") as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
  return `${h}.${Buffer.from(JSON.stringify({ ...claims, ...change })).toString("base64url")}.${s}`;
}

/** Resolves once the wall clock is past `t` (tokens and sessions expire by the clock; nothing to poll). */
async function clockPast(t: Date): Promise<void> {
  const ms = t.getTime() - Date.now();
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

beforeAll(async () => {
  spire = await startSpire({ trustDomain: TD, oidc: true });
  const uid = process.getuid?.() ?? 0;
  await spire.createEntry({ spiffeId: WRITER, selectors: [`unix:uid:${uid}`] });
  await spire.createEntry({ spiffeId: SHORT, selectors: [`unix:uid:${uid}`], jwtTtl: 2 });
  const issuer = spire.oidcIssuer;
  if (!issuer) throw new Error("startSpire({ oidc: true }) gave no issuer");
  const base = { oidcIssuer: issuer, audience: AUDIENCE, roles: [ROLE], buckets: [BUCKET] };
  [weed, weedShort] = await Promise.all([
    startSeaweedFs(base),
    startSeaweedFs({ ...base, maxSessionLength: "2s" }),
    spire.waitForEntry(WRITER),
    spire.waitForEntry(SHORT),
  ]);
  const wl = new WorkloadApiClient({ socketPath: spire.agentSocket, streams: [] });
  try {
    token = await wl.fetchJwtSvid({ audience: AUDIENCE, spiffeId: WRITER });
    wrongAudience = await wl.fetchJwtSvid({ audience: "someone-else", spiffeId: WRITER });
  } finally {
    wl.close();
  }
});

afterAll(async () => {
  await Promise.all([weed?.stop(), weedShort?.stop()]);
  await spire?.stop();
});

describe("SPIRE JWT-SVID → SeaweedFS STS → S3", () => {
  it("the JWT-SVID's iss is the OIDC issuer SeaweedFS trusts", () => {
    const claims = JSON.parse(Buffer.from(token.token.split(".")[1] ?? "", "base64url").toString()) as {
      iss?: string;
      sub?: string;
    };
    expect(claims).toMatchObject({ iss: spire.oidcIssuer, sub: WRITER });
  });

  it("exchanges the JWT-SVID for session credentials, and a SigV4-signed PutObject lands", async () => {
    const before = Date.now();
    const c = credentials(await assumeRole(weed.stsEndpoint, token.token));
    expect(c.subject).toBe(WRITER);
    // DurationSeconds=900 (RFC 3339 seconds: ±1 s)
    expect(Math.abs(c.expiration.getTime() - (before + 900_000))).toBeLessThan(5_000);

    const object = `hello from ${WRITER} at ${before}`;
    const put = await s3Request({
      endpoint: weed.s3Endpoint,
      credentials: c,
      method: "PUT",
      path: `/${BUCKET}/smoke/a.txt`,
      body: object,
      headers: { "content-type": "text/plain" },
    });
    expect(put.status, await put.text()).toBe(200);
    const get = await s3Request({
      endpoint: weed.s3Endpoint,
      credentials: c,
      method: "GET",
      path: `/${BUCKET}/smoke/a.txt`,
    });
    expect(get.status).toBe(200);
    expect(await get.text()).toBe(object);

    // the role's policy is enforced on the session: no delete, no other bucket
    const del = await s3Request({
      endpoint: weed.s3Endpoint,
      credentials: c,
      method: "DELETE",
      path: `/${BUCKET}/smoke/a.txt`,
    });
    expectError(await s3Error(del), SEAWEEDFS_ERRORS.s3AccessDenied);
    await weed.createBucket("elsewhere");
    const other = await s3Request({
      endpoint: weed.s3Endpoint,
      credentials: c,
      method: "PUT",
      path: "/elsewhere/a.txt",
      body: "x",
    });
    expectError(await s3Error(other), SEAWEEDFS_ERRORS.s3AccessDenied);
  });

  it("S3 refuses a request signed with the wrong secret key, and a tampered session token", async () => {
    const c = credentials(await assumeRole(weed.stsEndpoint, token.token));
    const badSecret = await s3Request({
      endpoint: weed.s3Endpoint,
      credentials: { ...c, secretAccessKey: `${c.secretAccessKey.slice(0, -2)}xx` },
      method: "PUT",
      path: `/${BUCKET}/smoke/b.txt`,
      body: "x",
    });
    expectError(await s3Error(badSecret), SEAWEEDFS_ERRORS.s3BadSignature);
    const badToken = await s3Request({
      endpoint: weed.s3Endpoint,
      credentials: { ...c, sessionToken: `${c.sessionToken.slice(0, -2)}xx` },
      method: "PUT",
      path: `/${BUCKET}/smoke/b.txt`,
      body: "x",
    });
    expectError(await s3Error(badToken), SEAWEEDFS_ERRORS.s3BadSessionToken);
  });

  it("the STS refuses a tampered signature, forged claims, a wrong audience, an unknown role", async () => {
    const [h, p, s] = token.token.split(".") as [string, string, string];
    const flipped = `${s.slice(0, 10)}${s[10] === "A" ? "B" : "A"}${s.slice(11)}`;
    expectError(await assumeRole(weed.stsEndpoint, `${h}.${p}.${flipped}`), SEAWEEDFS_ERRORS.stsBadSignature);
    // a sub the trust policy admits: only the signature stops it
    const inside = withClaims(token.token, { sub: `spiffe://${TD}/agent/acme/crew/admin` });
    expectError(await assumeRole(weed.stsEndpoint, inside), SEAWEEDFS_ERRORS.stsBadSignature);
    // a sub outside the trust policy: refused before the signature is checked
    const outside = withClaims(token.token, { sub: `spiffe://${TD}/agent/other-tenant/x` });
    expectError(await assumeRole(weed.stsEndpoint, outside), SEAWEEDFS_ERRORS.stsForgedSubOutsideTrust);
    const otherIssuer = withClaims(token.token, { iss: "http://127.0.0.1:9/" });
    expectError(await assumeRole(weed.stsEndpoint, otherIssuer), SEAWEEDFS_ERRORS.stsWrongIssuer);
    expectError(await assumeRole(weed.stsEndpoint, wrongAudience.token), SEAWEEDFS_ERRORS.stsWrongAudience);
    expectError(await assumeRole(weed.stsEndpoint, "not-a-jwt"), SEAWEEDFS_ERRORS.stsMalformedToken);
    expectError(
      await assumeRole(weed.stsEndpoint, token.token, { roleArn: weed.roleArn("no-such-role") }),
      SEAWEEDFS_ERRORS.stsUnknownRole,
    );
    expectError(
      await assumeRole(weed.stsEndpoint, token.token, { durationSeconds: 60 }),
      SEAWEEDFS_ERRORS.stsBadDuration,
    );
  });

  it("refuses an expired JWT-SVID at the STS and an expired session at S3", async () => {
    // a session from the 2 s instance, and a 2 s JWT-SVID, both used once while fresh
    const wl = new WorkloadApiClient({ socketPath: spire.agentSocket, streams: [] });
    const shortLived = await wl.fetchJwtSvid({ audience: AUDIENCE, spiffeId: SHORT }).finally(() => wl.close());
    credentials(await assumeRole(weed.stsEndpoint, shortLived.token));
    const c = credentials(await assumeRole(weedShort.stsEndpoint, token.token));
    expect(c.expiration.getTime() - Date.now()).toBeLessThan(3_000);
    const fresh = await s3Request({
      endpoint: weedShort.s3Endpoint,
      credentials: c,
      method: "PUT",
      path: `/${BUCKET}/short.txt`,
      body: "x",
    });
    expect(fresh.status, await fresh.text()).toBe(200);

    // both are checked against whole seconds: wait until a second past the later expiry
    const later = Math.max(c.expiration.getTime(), shortLived.expiresAt.getTime());
    await clockPast(new Date(later + 1_000));
    expectError(await assumeRole(weed.stsEndpoint, shortLived.token), SEAWEEDFS_ERRORS.stsExpiredToken);
    const stale = await s3Request({
      endpoint: weedShort.s3Endpoint,
      credentials: c,
      method: "PUT",
      path: `/${BUCKET}/short.txt`,
      body: "y",
    });
    expectError(await s3Error(stale), SEAWEEDFS_ERRORS.s3ExpiredSession);
  });
});

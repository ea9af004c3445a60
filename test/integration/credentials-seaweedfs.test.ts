/**
 * Credential injection end to end, every component real: SPIRE (server, agent, OIDC discovery provider),
 * Envoy with its SVID over SDS, the authz sidecar (policy, delegated JWT-SVIDs from the agent's admin
 * socket, AWS STS exchange, SigV4), Redis (the sealed L2 tier and the shared rate counters), and SeaweedFS
 * as STS + S3 — its STS verifies each JWT-SVID against SPIRE's JWKS, its S3 verifies every signature and
 * session token. Agents send plain S3 requests with no
 * credentials of their own; what lands in the bucket is read back with SeaweedFS's admin identity.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsStsProvider } from "../../filters/credentials/providers/aws-sts.ts";
import { MemoryAudit } from "../../sidecars/authz/audit.ts";
import { type RedisHarness, startRedis } from "../../sidecars/devtools/redis.ts";
import { localAuthzId, type SpireDataPlane, startLocalDataPlane } from "../../sidecars/devtools/local-dataplane.ts";
import { roleArn, type SeaweedFsHarness, s3Request, startSeaweedFs } from "../../sidecars/devtools/seaweedfs.ts";
import { type SpireHarness, startSpire } from "../../sidecars/devtools/spire.ts";
import { MemoryLogger } from "../../sidecars/logger.ts";
import { buildProjectBundle } from "../helpers/bundles.ts";

const TD = "hexr.cloud";
const agent = (role: string) => `spiffe://${TD}/agent/acme-corp/content-crew/${role}`;
const WRITER = agent("writer");
const RESEARCHER = agent("researcher");
/** A writer sub-agent in this process that presents its own JWT-SVID for the STS audience. */
const PRESENTER = agent("writer/presenter");
/** A writer the role's trust policy does not admit: the STS itself refuses it. */
const OUTSIDER = agent("writer/outsider");
const WRITER_UID = 10031;
const RESEARCHER_UID = 10032;
const STS_AUDIENCE = "sts.hexr.test";
const S3_HOST = "s3.us-east-1.amazonaws.com";
const START = Date.parse("2026-01-15T10:30:00Z");
let tick = 0;
const clock = () => START + 1000 * tick++;

let spire: SpireHarness;
let weed: SeaweedFsHarness;
let dp: SpireDataPlane;
let redis: RedisHarness;
const audit = new MemoryAudit();
const logger = new MemoryLogger();

beforeAll(async () => {
  spire = await startSpire({ trustDomain: TD, logLevel: "INFO", oidc: true, authorizedDelegates: [localAuthzId(TD)] });
  weed = await startSeaweedFs({
    oidcIssuer: spire.oidcIssuer as string,
    audience: STS_AUDIENCE,
    roles: [
      // the role each caller gets is `hexr-{role}`; its trust admits the writer agent and its sub-agents
      {
        name: "hexr-writer",
        actions: ["s3:PutObject", "s3:GetObject"],
        buckets: ["drafts", "finance"],
        subjects: [WRITER, PRESENTER],
      },
      {
        name: "hexr-researcher",
        actions: ["s3:GetObject", "s3:ListBucket"],
        buckets: ["drafts"],
        subjects: [RESEARCHER],
      },
    ],
    buckets: ["drafts", "finance"],
  });
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-creds-it-"));
  redis = await startRedis();
  writeFileSync(path.join(dir, "l2.key"), "cd".repeat(32), { mode: 0o600 });
  await Promise.all([
    spire.createEntry({ spiffeId: WRITER, selectors: [`unix:uid:${WRITER_UID}`] }),
    spire.createEntry({ spiffeId: RESEARCHER, selectors: [`unix:uid:${RESEARCHER_UID}`] }),
  ]);
  dp = await startLocalDataPlane({
    identity: "spire",
    spire,
    bundlePath: buildProjectBundle(dir),
    logger,
    audit,
    now: clock,
    authzTimeoutMs: 3000,
    identities: [PRESENTER, OUTSIDER],
    sidecarConfig: {
      redis: { url: redis.url, key_prefix: "hexr-creds-it:" },
      rate: { shared: true },
      credentials: {
        exchange_timeout_ms: 2500,
        cache: { l2: { key_file: path.join(dir, "l2.key") } },
        delegated: {
          socket: spire.agentAdminSocket,
          agents: {
            [WRITER]: [`unix:uid:${WRITER_UID}`],
            [RESEARCHER]: [`unix:uid:${RESEARCHER_UID}`],
            // this process's own selectors: they match several entries, and only the caller's SVID is taken
            [OUTSIDER]: [`unix:uid:${process.getuid?.() ?? 0}`, `unix:path:${process.execPath}`],
          },
        },
        providers: {
          aws: {
            audience: STS_AUDIENCE,
            role_arn: roleArn("hexr-{role}"),
            endpoint: `${weed.stsEndpoint}/`,
            region: weed.region,
          },
        },
      },
    },
    extraUpstreams: [
      { name: "seaweedfs_s3", domains: [S3_HOST], address: "127.0.0.1", port: Number(new URL(weed.s3Endpoint).port) },
    ],
  });
}, 120_000);

afterAll(async () => {
  await dp?.stop();
  await redis?.stop();
  await weed?.stop();
  await spire?.stop();
});

function exchanges(): number {
  let n = 0;
  for (const line of dp.sidecar.registry.exposition().split("\n")) {
    if (line.startsWith("hexr_credentials_exchanges_total{")) n += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return n;
}

async function readBack(key: string): Promise<{ status: number; body: string }> {
  const res = await s3Request({
    endpoint: weed.s3Endpoint,
    credentials: { accessKeyId: weed.accessKey, secretAccessKey: weed.secretKey },
    method: "GET",
    path: key,
  });
  return { status: res.status, body: await res.text() };
}

const reasons = (body: string) => (JSON.parse(body) as { reasons: string[] }).reasons.join(" ");

describe("an agent writes to a bucket with credentials it never held", () => {
  it("a plain PutObject from the writer's own process lands, signed by the sidecar", async () => {
    const r = await dp.sendAs(
      { uid: WRITER_UID },
      {
        method: "PUT",
        host: S3_HOST,
        path: "/drafts/post.md",
        headers: { "content-type": "text/markdown" },
        body: "# hello",
      },
      { want: WRITER },
    );
    expect(r.spiffeId).toBe(WRITER);
    expect(r.status).toBe(200);
    expect(await readBack("/drafts/post.md")).toEqual({ status: 200, body: "# hello" });
    const rec = audit.records.find((a) => a.spiffe_id === WRITER && a.action === "s3:PutObject");
    expect(rec).toMatchObject({ allow: true, credential_tier: "issuer", credential_provider: "aws" });
    // the shared tier and the shared counters answered: nothing degraded
    expect(rec?.degraded).toBeUndefined();
    expect(dp.sidecar.registry.exposition()).toMatch(
      /hexr_credentials_cache_lookups_total\{[^}]*tier="l2",result="miss"\} 1/,
    );
  });

  it("the next request is served from L1 without another exchange", async () => {
    const before = exchanges();
    const r = await dp.sendAs(
      { uid: WRITER_UID },
      { method: "PUT", host: S3_HOST, path: "/drafts/second.md", body: "two" },
      { want: WRITER },
    );
    expect(r.status).toBe(200);
    expect(exchanges()).toBe(before);
    expect(audit.records.at(-1)).toMatchObject({ spiffe_id: WRITER, credential_tier: "l1" });
    expect((await readBack("/drafts/second.md")).body).toBe("two");
  });

  it("a bucket the policy forbids is refused by OPA, and no exchange is made", async () => {
    const before = exchanges();
    const r = await dp.sendAs(
      { uid: WRITER_UID },
      { method: "PUT", host: S3_HOST, path: "/finance/q1.csv", body: "x" },
      { want: WRITER },
    );
    expect(r.status).toBe(403);
    expect(reasons(r.body)).toContain("role writer may not use bucket finance");
    expect(exchanges()).toBe(before);
    expect((await readBack("/finance/q1.csv")).status).toBe(404);
  });

  it("another agent whose role may not write is refused by OPA, and no exchange is made", async () => {
    const before = exchanges();
    const r = await dp.sendAs(
      { uid: RESEARCHER_UID },
      { method: "PUT", host: S3_HOST, path: "/drafts/intrusion.md", body: "x" },
      { want: RESEARCHER },
    );
    expect(r.status).toBe(403);
    expect(reasons(r.body)).toContain("role researcher may not perform s3:PutObject on aws_s3");
    expect(exchanges()).toBe(before);
    expect((await readBack("/drafts/intrusion.md")).status).toBe(404);
  });

  it("an agent may present its own JWT-SVID for the STS audience instead", async () => {
    const token = await dp.jwtSvid(PRESENTER, [STS_AUDIENCE]);
    const r = await dp.send(await dp.identity([PRESENTER]), {
      method: "PUT",
      host: S3_HOST,
      path: "/drafts/presented.md",
      headers: { "x-hexr-svid": token },
      body: "presented",
    });
    expect(r.status).toBe(200);
    expect((await readBack("/drafts/presented.md")).body).toBe("presented");
    expect(audit.records.at(-1)).toMatchObject({ spiffe_id: PRESENTER, credential_tier: "issuer" });
  });

  it("a caller the STS's trust policy does not admit gets a 403 with the STS's reason", async () => {
    const r = await dp.send(await dp.identity([OUTSIDER]), {
      method: "PUT",
      host: S3_HOST,
      path: "/drafts/outsider.md",
      body: "x",
    });
    expect(r.status).toBe(403);
    expect(reasons(r.body)).toMatch(/^credentials\.issuer_denied: aws: STS denied the role \(AccessDenied\)/);
    expect((await readBack("/drafts/outsider.md")).status).toBe(404);
  });

  it("a tampered or wrongly addressed token is refused by the STS, classified for the exchanger", async () => {
    const provider = new AwsStsProvider({
      name: "aws",
      audience: STS_AUDIENCE,
      roleArn: roleArn("hexr-{role}"),
      endpoint: `${weed.stsEndpoint}/`,
    });
    const caller = { spiffeId: PRESENTER, trustDomain: TD, tenant: "acme-corp", agent: "content-crew", role: "writer" };
    const good = await dp.jwtSvid(PRESENTER, [STS_AUDIENCE]);
    const [h, p, s] = good.split(".") as [string, string, string];
    const tampered = `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
    const signal = AbortSignal.timeout(5000);
    const wrongAud = await dp.jwtSvid(PRESENTER, ["someone-else"]);
    for (const token of [tampered, wrongAud]) {
      await expect(
        provider.exchange(
          { caller, durationSeconds: 900 },
          { token, expiresAt: Date.now() + 60_000, source: "presented" },
          signal,
        ),
      ).rejects.toMatchObject({ code: "credentials.token_rejected", retry: "token" });
    }
    const ok = await provider.exchange(
      { caller, durationSeconds: 900 },
      { token: good, expiresAt: Date.now() + 60_000, source: "presented" },
      signal,
    );
    expect(ok.kind).toBe("aws");
    expect(ok.expiresAt - Date.now()).toBeGreaterThan(800_000);
  });

  it("a credential scoped by the policy works on its bucket only (session policy enforced by the STS)", async () => {
    const provider = new AwsStsProvider({
      name: "aws",
      audience: STS_AUDIENCE,
      roleArn: roleArn("hexr-{role}"),
      endpoint: `${weed.stsEndpoint}/`,
    });
    const caller = { spiffeId: PRESENTER, trustDomain: TD, tenant: "acme-corp", agent: "content-crew", role: "writer" };
    const token = await dp.jwtSvid(PRESENTER, [STS_AUDIENCE]);
    const cred = await provider.exchange(
      {
        caller,
        durationSeconds: 900,
        actions: ["s3:PutObject"],
        resources: ["arn:aws:s3:::drafts", "arn:aws:s3:::drafts/*"],
      },
      { token, expiresAt: Date.now() + 60_000, source: "presented" },
      AbortSignal.timeout(5000),
    );
    if (cred.kind !== "aws") throw new Error("expected AWS credentials");
    const put = (p: string) =>
      s3Request({
        endpoint: weed.s3Endpoint,
        credentials: {
          accessKeyId: cred.accessKeyId,
          secretAccessKey: cred.secretAccessKey,
          sessionToken: cred.sessionToken,
        },
        method: "PUT",
        path: p,
        body: "scoped",
      });
    expect((await put("/drafts/scoped.md")).status).toBe(200);
    // the role itself may write finance; the session policy narrowed this credential to drafts
    expect((await put("/finance/scoped.md")).status).toBe(403);
  });

  it("no token, credential or signature appears in the audit or the sidecar's logs", () => {
    const text = JSON.stringify(audit.records) + JSON.stringify(logger.entries);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // JWT-SVIDs and SeaweedFS session tokens
    expect(text).not.toContain("Signature=");
    expect(text).not.toContain(weed.secretKey);
  });
});

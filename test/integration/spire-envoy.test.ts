/**
 * The data plane on real SPIRE identities: Envoy takes its X.509-SVID and trust bundle over SDS from a real
 * SPIRE agent (no certificate files), workloads — in this process and as separate processes with their own
 * uid or executable — get SVIDs through the Workload API, ext_authz (mTLS on its own SVID) decides on the
 * SPIRE-issued SPIFFE ID, and JWT-SVIDs minted by the agent are verified against its JWT bundles.
 * One SPIRE server + agent and one data plane for the whole file.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedSnippet, renderSpireSdsSnippet } from "../../envoy-config/index.ts";
import { type RunningEnvoy, startEnvoy, waitFor } from "../../envoy-config/runner.ts";
import { MemoryAudit } from "../../sidecars/authz/audit.ts";
import { type SpireDataPlane, startLocalDataPlane } from "../../sidecars/devtools/local-dataplane.ts";
import { authorizationService } from "../../sidecars/envoy-protos.ts";
import { MemoryLogger } from "../../sidecars/logger.ts";
import { createSvidChannelCredentials } from "../../sidecars/workload-api/tls.ts";
import { buildProjectBundle } from "../helpers/bundles.ts";

const TD = "hexr.cloud";
const agent = (role: string) => `spiffe://${TD}/agent/acme-corp/content-crew/${role}`;
const RESEARCHER = agent("researcher");
const WRITER = agent("writer");
/** Separate workload processes: one by executable path, one by uid. */
const RESEARCHER_PROC = agent("researcher/proc-by-path");
const WRITER_PROC = agent("writer");
const WRITER_UID = 10002;
/** Its JWT-SVIDs live one second. */
const SHORT_LIVED = agent("researcher/short-lived");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BIGQUERY = {
  method: "POST",
  host: "bigquery.googleapis.com",
  path: "/bigquery/v2/projects/p1/queries",
  body: "{}",
};
const UPSTREAM_KEY = "sk-upstream-0123456789abcdef";
const START = Date.parse("2026-01-15T10:30:00Z");
let tick = 0;
/** Policy clock: business hours, one simulated second per decision (rates stay under the limit). */
const clock = () => START + 1000 * tick++;

let dp: SpireDataPlane;
let researcherExe: string;
const audit = new MemoryAudit();
const logger = new MemoryLogger();
/** Every JWT-SVID or forged token sent in this file: none may surface anywhere. */
const tokensSent: string[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-spire-it-"));
  const bundle = buildProjectBundle(dir);
  dp = await startLocalDataPlane({
    identity: "spire",
    bundlePath: bundle,
    logger,
    audit,
    now: clock,
    identities: [RESEARCHER, WRITER],
    jwtClockSkewSeconds: 1,
  });
  researcherExe = dp.spire.nodeExecutable("researcher-agent");
  const uid = process.getuid?.() ?? 0;
  await Promise.all([
    dp.spire.createEntry({ spiffeId: RESEARCHER_PROC, selectors: [`unix:uid:${uid}`, `unix:path:${researcherExe}`] }),
    dp.spire.createEntry({ spiffeId: WRITER_PROC, selectors: [`unix:uid:${WRITER_UID}`] }),
    dp.register([SHORT_LIVED], { jwtTtl: 1 }),
  ]);
});

afterAll(async () => {
  await dp?.stop();
});

const upstreamCount = () => dp.upstream.seen.length;
const reasons = (body: string): string => (JSON.parse(body) as { reasons: string[] }).reasons.join(" ");

function auditFor(decisionId: unknown) {
  expect(decisionId).toMatch(UUID);
  const rec = audit.records.find((a) => a.decision_id === decisionId);
  expect(rec).toBeDefined();
  return rec!;
}

describe("workloads with SPIRE-issued X.509-SVIDs through Envoy", () => {
  it("in this process: the decision uses the SPIRE-issued SPIFFE ID (researcher allowed, writer denied)", async () => {
    const before = upstreamCount();
    const r = await dp.send(await dp.identity([RESEARCHER]), BIGQUERY);
    expect(r.status).toBe(200);
    expect(upstreamCount()).toBe(before + 1);
    const seen = dp.upstream.seen.at(-1)!;
    expect(auditFor(seen.headers["x-hexr-decision-id"])).toMatchObject({ allow: true, spiffe_id: RESEARCHER });

    const w = await dp.send(await dp.identity([WRITER]), BIGQUERY);
    expect(w.status).toBe(403);
    expect(reasons(w.body)).toMatch(/writer/);
    expect(auditFor(w.headers["x-hexr-decision-id"])).toMatchObject({ allow: false, spiffe_id: WRITER });
    expect(upstreamCount()).toBe(before + 1);
  });

  it("per process: a workload run from another executable gets its own SVID and is allowed", async () => {
    const before = upstreamCount();
    const out = await dp.sendAs({ execPath: researcherExe }, BIGQUERY, { want: RESEARCHER_PROC });
    expect(out.spiffeId).toBe(RESEARCHER_PROC); // the only SVID that executable gets
    expect(out.status).toBe(200);
    expect(upstreamCount()).toBe(before + 1);
    const rec = auditFor(dp.upstream.seen.at(-1)!.headers["x-hexr-decision-id"]);
    expect(rec).toMatchObject({ allow: true, spiffe_id: RESEARCHER_PROC, role: "researcher" });
  });

  it("per process: a second process under another uid is a writer and is denied on the same route", async () => {
    const before = upstreamCount();
    const out = await dp.sendAs({ uid: WRITER_UID, gid: WRITER_UID }, BIGQUERY, { want: WRITER_PROC });
    expect(out.spiffeId).toBe(WRITER_PROC);
    expect(out.status).toBe(403);
    expect(reasons(out.body)).toMatch(/role writer may not use gcp_bigquery/);
    expect(auditFor(out.headers["x-hexr-decision-id"])).toMatchObject({ allow: false, spiffe_id: WRITER_PROC });
    expect(upstreamCount()).toBe(before);
  });

  it("a certificate SPIRE did not issue is refused in the TLS handshake, whatever SPIFFE ID it claims", async () => {
    const before = upstreamCount();
    const forged = await dp.untrustedIdentity([RESEARCHER]);
    await expect(dp.send(forged, BIGQUERY)).rejects.toThrow(/alert|certificate/i);
    expect(upstreamCount()).toBe(before);
  });

  it("the authz sidecar serves mTLS on its own SVID and answers only Envoy's SPIFFE ID", async () => {
    const Auth = authorizationService();
    const creds = createSvidChannelCredentials(dp.workloadApi, { spiffeId: RESEARCHER, serverId: dp.authzId });
    const client = new Auth(dp.authzAddress, creds, {
      "grpc.ssl_target_name_override": "authz.hexr.test",
    }) as unknown as grpc.Client & {
      Check(req: object, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void): void;
    };
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        client.Check({}, { deadline: Date.now() + 5_000 }, (e) => resolve(e)),
      );
      expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(err?.details).toMatch(/not an allowed ext_authz client/);
    } finally {
      client.close();
    }
  });
});

interface CertInfo {
  serial_number: string;
  subject_alt_names?: Array<{ uri?: string }>;
}
type Certs = { certificates: Array<{ ca_cert?: CertInfo[]; cert_chain?: CertInfo[] }> };
type SecretsDump = { configs: Array<{ name: string; secret: Record<string, unknown> }> };

async function admin<T>(envoy: RunningEnvoy, p: string): Promise<T> {
  return (await (await fetch(`${envoy.adminUrl}${p}`)).json()) as T;
}

describe("Envoy's own identity over SDS", () => {
  it("/certs: the SVID carries Envoy's SPIFFE ID and is the certificate clients see; the CA is the trust domain's", async () => {
    const certs = await admin<Certs>(dp.envoy, "/certs");
    const chains = certs.certificates.flatMap((c) => c.cert_chain ?? []);
    const leaf = chains.find((c) => c.subject_alt_names?.some((s) => s.uri === dp.envoyId));
    expect(leaf).toBeDefined();
    const cas = certs.certificates.flatMap((c) => c.ca_cert ?? []);
    expect(cas.some((c) => c.subject_alt_names?.some((s) => s.uri === `spiffe://${TD}`))).toBe(true);

    // a fresh connection is served that very certificate (keep-alive pools are bypassed)
    const r = await dp.send({ ...(await dp.identity([RESEARCHER])) }, BIGQUERY);
    expect(r.status).toBe(200);
    const now = await admin<Certs>(dp.envoy, "/certs");
    const serials = now.certificates.flatMap((c) => c.cert_chain ?? []).map((c) => c.serial_number.toLowerCase());
    expect(serials).toContain(r.serverSerial);
  });

  it("/config_dump: the SVID and the bundle are dynamic SDS secrets; no certificate file anywhere", async () => {
    const dump = await admin<SecretsDump>(dp.envoy, "/config_dump?resource=dynamic_active_secrets");
    const byName = new Map(dump.configs.map((c) => [c.name, c.secret]));
    expect([...byName.keys()].sort()).toEqual([dp.envoyId, `spiffe://${TD}`].sort());
    expect(byName.get(dp.envoyId)).toHaveProperty("tls_certificate.private_key.inline_bytes");
    expect(byName.get(`spiffe://${TD}`)).toHaveProperty(
      "validation_context.custom_validator_config.name",
      "envoy.tls.cert_validator.spiffe",
    );
    const everything = JSON.stringify(await admin<object>(dp.envoy, "/config_dump"));
    expect(everything).not.toMatch(/"filename"/);
    const stats = await (await fetch(`${dp.envoy.adminUrl}/stats?filter=^sds\\.`)).text();
    expect(stats).toMatch(/update_success: [1-9]/);
    expect(stats).not.toMatch(/update_rejected: [1-9]/);
  });

  it("the committed spire-sds snippet works against the live agent, with either bundle name SPIRE serves", async () => {
    const committed = readFileSync(
      path.resolve(import.meta.dirname, "../../envoy-config/snippets/spire-sds.yaml"),
      "utf8",
    );
    expect(committed).toContain("name: spiffe://hexr.cloud");
    const snippet = renderSpireSdsSnippet({ sdsSocket: dp.spire.agentSocket, spiffeId: "default", trustDomain: TD });
    const asJson = JSON.stringify(embedSnippet(snippet));
    for (const bundleName of [`spiffe://${TD}`, "ROOTCA"]) {
      const bootstrap = JSON.parse(asJson.replaceAll(`"name":"spiffe://${TD}"`, `"name":"${bundleName}"`));
      const envoy = await startEnvoy(bootstrap);
      try {
        const ok = await waitFor("snippet Envoy's SVID", async () => {
          const dump = await admin<SecretsDump>(envoy, "/config_dump?resource=dynamic_active_secrets");
          const names = dump.configs.map((c) => c.name).sort();
          return names.length === 2 ? names : undefined;
        });
        expect(ok).toEqual([bundleName, "default"].sort());
        const certs = JSON.stringify(await admin<Certs>(envoy, "/certs"));
        expect(certs).toContain(dp.envoyId); // "default" = the first SVID the agent has for the Envoy binary
      } finally {
        await envoy.stop();
      }
    }
  });
});

/** Tokens an agent would never mint, each failing one check. */
async function forged(): Promise<Record<string, string>> {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const exp = Math.floor(Date.now() / 1000) + 300;
  const { privateKey } = await generateKeyPair("ES256");
  const bundleKid = dp.workloadApi.current().jwtBundles.get(TD)?.keys[0]?.kid;
  expect(bundleKid).toBeTruthy();
  const sign = (sub: string, kid: string) =>
    new SignJWT({ aud: [dp.jwtAudience] })
      .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
      .setSubject(sub)
      .setExpirationTime(exp)
      .sign(privateKey);
  const real = await dp.jwtSvid(RESEARCHER);
  const [h, , s] = real.split(".");
  return {
    foreign: await sign("spiffe://evil.example/agent/acme-corp/content-crew/researcher", "evil-kid"),
    none: `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: RESEARCHER, aud: [dp.jwtAudience], exp })}.`,
    hmac: await new SignJWT({ aud: [dp.jwtAudience] })
      .setProtectedHeader({ alg: "HS256", kid: bundleKid!, typ: "JWT" })
      .setSubject(RESEARCHER)
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(JSON.stringify(dp.workloadApi.current().jwtBundles.get(TD)))),
    unknownKid: await sign(RESEARCHER, "attacker-kid"),
    // a real token whose subject was edited: the agent's signature no longer matches
    tampered: `${h}.${b64({ ...JSON.parse(Buffer.from(real.split(".")[1]!, "base64url").toString()), sub: WRITER })}.${s}`,
  };
}

describe("JWT-SVIDs from the agent", () => {
  const expectNoToken = (where: string, text: string, token: string) => {
    // the signature alone identifies a token; neither may appear
    expect(text.includes(token), `${where} contains a token`).toBe(false);
    expect(text.includes(token.split(".")[2] || token), `${where} contains a token signature`).toBe(false);
  };

  it("a valid JWT-SVID without a client certificate is accepted; the upstream never sees it", async () => {
    const token = await dp.jwtSvid(RESEARCHER);
    tokensSent.push(token);
    const carriers: Array<Record<string, string>> = [{ "x-hexr-svid": token }, { authorization: `Bearer ${token}` }];
    for (const headers of carriers) {
      const before = upstreamCount();
      const r = await dp.send(dp.anonymous(), { ...BIGQUERY, headers });
      expect(r.status).toBe(200);
      expect(upstreamCount()).toBe(before + 1);
      const seen = dp.upstream.seen.at(-1)!;
      expect(seen.headers["x-hexr-svid"]).toBeUndefined();
      expect(seen.headers.authorization).toBeUndefined();
      expectNoToken("upstream request", JSON.stringify(seen), token);
      expect(auditFor(seen.headers["x-hexr-decision-id"])).toMatchObject({ allow: true, spiffe_id: RESEARCHER });
    }
  });

  it("authorization is removed only when it carried the JWT-SVID: an upstream API key passes untouched", async () => {
    const token = await dp.jwtSvid(RESEARCHER);
    tokensSent.push(token);
    const apiKey = { authorization: `Bearer ${UPSTREAM_KEY}` };
    const viaJwt = await dp.send(dp.anonymous(), { ...BIGQUERY, headers: { "x-hexr-svid": token, ...apiKey } });
    expect(viaJwt.status).toBe(200);
    expect(dp.upstream.seen.at(-1)!.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(dp.upstream.seen.at(-1)!.headers["x-hexr-svid"]).toBeUndefined();

    const viaMtls = await dp.send(await dp.identity([RESEARCHER]), { ...BIGQUERY, headers: apiKey });
    expect(viaMtls.status).toBe(200);
    expect(dp.upstream.seen.at(-1)!.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });

  it("next to a client certificate a JWT-SVID must name the same SPIFFE ID: it never lifts a writer to researcher", async () => {
    const token = await dp.jwtSvid(RESEARCHER);
    tokensSent.push(token);
    const before = upstreamCount();
    const mismatch = await dp.send(await dp.identity([WRITER]), { ...BIGQUERY, headers: { "x-hexr-svid": token } });
    expect(mismatch.status).toBe(403);
    expect(reasons(mismatch.body)).toMatch(/^identity\.jwt_peer_mismatch: /);
    expect(upstreamCount()).toBe(before);

    const same = await dp.send(await dp.identity([RESEARCHER]), {
      ...BIGQUERY,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(same.status).toBe(200);
    expect(dp.upstream.seen.at(-1)!.headers.authorization).toBeUndefined();
  });

  it("no certificate and no token: 403 identity.no_identity", async () => {
    const r = await dp.send(dp.anonymous(), BIGQUERY);
    expect(r.status).toBe(403);
    expect(reasons(r.body)).toMatch(/^identity\.no_identity: /);
  });

  it("each rejection is a 403 naming the failed check, and nothing reaches the upstream", async () => {
    const f = await forged();
    const expiring = await dp.jwtSvid(SHORT_LIVED);
    const wrongAudience = await dp.jwtSvid(RESEARCHER, "billing-api");
    // the short-lived token's exp (1 s after issue) plus the sidecar's 1 s skew, by the wall clock
    const exp = JSON.parse(Buffer.from(expiring.split(".")[1]!, "base64url").toString()).exp as number;
    await waitFor("the short-lived JWT-SVID to expire", () => (Date.now() > (exp + 1) * 1000 + 50 ? true : undefined));
    const cases: Array<[string, string, RegExp]> = [
      ["expired", expiring, /^jwt_svid\.expired: /],
      ["wrong audience", wrongAudience, /^jwt_svid\.wrong_audience: /],
      ["foreign trust domain", f.foreign!, /^jwt_svid\.foreign_trust_domain: /],
      ["alg none", f.none!, /^jwt_svid\.alg_not_allowed: /],
      ["HMAC with the bundle key's kid", f.hmac!, /^jwt_svid\.alg_not_allowed: /],
      ["unknown kid", f.unknownKid!, /^jwt_svid\.unknown_kid: /],
      ["tampered subject", f.tampered!, /^jwt_svid\.bad_signature: /],
      ["malformed", "not-a-jwt", /^jwt_svid\.malformed: /],
    ];
    const before = upstreamCount();
    for (const [name, token, reason] of cases) {
      tokensSent.push(token);
      const r = await dp.send(dp.anonymous(), { ...BIGQUERY, headers: { "x-hexr-svid": token } });
      expect(r.status, name).toBe(403);
      expect(reasons(r.body), name).toMatch(reason);
      expect(auditFor(r.headers["x-hexr-decision-id"]), name).toMatchObject({ allow: false, spiffe_id: null });
      expectNoToken(`${name}: response`, r.body, token);
    }
    expect(upstreamCount()).toBe(before);
  });

  it("no token ever appears in what reached the upstream, the audit records, the sidecar log or Envoy's output", () => {
    const sinks: Array<[string, string]> = [
      ["upstream", JSON.stringify(dp.upstream.seen)],
      ["audit", JSON.stringify(audit.records)],
      ["log", JSON.stringify(logger.entries)],
      ["envoy", dp.envoy.logs()],
    ];
    expect(tokensSent.length).toBeGreaterThan(10);
    for (const [where, text] of sinks) for (const t of tokensSent) expectNoToken(where, text, t);
    expect(logger.entries.some((e) => e.event === "jwt_bundles_updated")).toBe(true);
  });
});

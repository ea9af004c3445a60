/**
 * Bearer-token credentials end to end: SPIRE (with its OIDC discovery provider), Envoy, the sidecar as the
 * SPIRE agent's delegate, and local stand-ins for Google's STS + IAM Credentials and Entra ID's token
 * endpoint (test/helpers/fake-*.ts: no emulator exists for either; they speak the documented wire formats and
 * verify each JWT-SVID against SPIRE's own JWKS, fetched from the OIDC discovery provider). What reached the
 * sample upstream is checked: the issuer's token in `Authorization`, the agent's own keys gone.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { JSONWebKeySet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryAudit } from "../../sidecars/authz/audit.ts";
import { localAuthzId, type SpireDataPlane, startLocalDataPlane } from "../../sidecars/devtools/local-dataplane.ts";
import { type SpireHarness, startSpire } from "../../sidecars/devtools/spire.ts";
import { MemoryLogger } from "../../sidecars/logger.ts";
import { buildInlineBundle } from "../helpers/bundles.ts";
import { type FakeEntra, startFakeEntra } from "../helpers/fake-entra.ts";
import { type FakeGcpSts, startFakeGcpSts } from "../helpers/fake-gcp-sts.ts";

const TD = "hexr.cloud";
const RESEARCHER = `spiffe://${TD}/agent/acme-corp/content-crew/researcher`;
const STRANGER = `spiffe://${TD}/agent/acme-corp/content-crew/stranger`;
const POOL = "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/hexr/providers/spire";
const GCP_AUDIENCE = "hexr-gcp";
const AZ_TENANT = "8f3a1c2e-4b5d-4e6f-9a0b-1c2d3e4f5a6b";
const AZ_APP = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const BLOB_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read";

/** Researchers may run BigQuery jobs and read blobs; nothing else. */
const POLICY = `package hexr.authz

default allowed := false

allowed if {
	input.role in {"researcher", "stranger"}
	input.service == "gcp_bigquery"
}

allowed if {
	input.role in {"researcher", "stranger"}
	input.service == "azure_blob"
	input.action == "${BLOB_READ}"
}

decision := {"allow": allowed, "reasons": [r | not allowed; r := "not granted"]}

allow := allowed
`;

let spire: SpireHarness;
let gcp: FakeGcpSts;
let entra: FakeEntra;
let dp: SpireDataPlane;
const audit = new MemoryAudit();
const logger = new MemoryLogger();

beforeAll(async () => {
  spire = await startSpire({ trustDomain: TD, logLevel: "INFO", oidc: true, authorizedDelegates: [localAuthzId(TD)] });
  const issuer = spire.oidcIssuer as string;
  const jwks = (await (await fetch(`${issuer}/keys`)).json()) as JSONWebKeySet;
  gcp = await startFakeGcpSts({
    jwks,
    issuer,
    poolProvider: POOL,
    allowedAudiences: [GCP_AUDIENCE],
    canImpersonate: (subject, email) => subject === RESEARCHER && email.startsWith("content-crew-researcher@"),
  });
  entra = await startFakeEntra({ jwks, tenantId: AZ_TENANT, apps: { [AZ_APP]: [{ issuer, subject: RESEARCHER }] } });
  const self = [`unix:uid:${process.getuid?.() ?? 0}`, `unix:path:${process.execPath}`];
  dp = await startLocalDataPlane({
    identity: "spire",
    spire,
    bundlePath: buildInlineBundle(mkdtempSync(path.join(tmpdir(), "hexr-bearer-it-")), "b.tar.gz", {
      "p.rego": POLICY,
    }),
    logger,
    audit,
    authzTimeoutMs: 3000,
    identities: [RESEARCHER, STRANGER],
    sidecarConfig: {
      credentials: {
        delegated: { socket: spire.agentAdminSocket, agents: { [RESEARCHER]: self, [STRANGER]: self } },
        providers: {
          gcp: {
            audience: GCP_AUDIENCE,
            pool_provider: POOL,
            service_account: "{agent}-{role}@analytics-prod.iam.gserviceaccount.com",
            sts_url: gcp.stsUrl,
            iam_credentials_url: gcp.iamCredentialsUrl,
            duration_seconds: 1800,
          },
          azure: {
            tenant_id: AZ_TENANT,
            scope: "https://storage.azure.com/.default",
            client_ids: { [RESEARCHER]: AZ_APP },
            token_url: entra.tokenUrl,
            duration_seconds: 3600,
          },
        },
      },
    },
  });
}, 120_000);

afterAll(async () => {
  await dp?.stop();
  await gcp?.close();
  await entra?.close();
  await spire?.stop();
});

const lastSeen = () => dp.upstream.seen.at(-1);

describe("bearer credentials per calling agent", () => {
  it("GCP: the researcher's JWT-SVID is exchanged (STS, then impersonation) and the token replaces its API key", async () => {
    const id = await dp.identity([RESEARCHER]);
    const r = await dp.send(id, {
      method: "POST",
      host: "bigquery.googleapis.com",
      path: "/bigquery/v2/projects/p1/queries",
      headers: { "x-goog-api-key": "AIzaSyA-agent-own-key-0000000000000", "content-type": "application/json" },
      body: "{}",
    });
    expect(r.status).toBe(200);
    const seen = lastSeen();
    expect(seen?.headers.authorization).toBe(`Bearer ${gcp.issued.at(-1)}`);
    expect(seen?.headers["x-goog-api-key"]).toBeUndefined();
    expect(gcp.calls).toEqual({ sts: 1, iam: 1 });
    expect(gcp.requests.iam[0]).toMatchObject({
      email: "content-crew-researcher@analytics-prod.iam.gserviceaccount.com",
    });
    expect(audit.records.at(-1)).toMatchObject({ credential_tier: "issuer", credential_provider: "gcp" });

    // the second call is an L1 hit: no issuer traffic
    const again = await dp.send(id, {
      method: "POST",
      host: "bigquery.googleapis.com",
      path: "/bigquery/v2/projects/p1/queries",
      body: "{}",
    });
    expect(again.status).toBe(200);
    expect(gcp.calls).toEqual({ sts: 1, iam: 1 });
    expect(audit.records.at(-1)).toMatchObject({ credential_tier: "l1" });
  });

  it("Azure: the JWT-SVID is the client assertion of the agent's app registration", async () => {
    const r = await dp.send(await dp.identity([RESEARCHER]), {
      method: "GET",
      host: "acme.blob.core.windows.net",
      path: "/reports/q1.csv",
      headers: { authorization: "SharedKey acme:agent-own-signature" },
    });
    expect(r.status).toBe(200);
    expect(lastSeen()?.headers.authorization).toBe(`Bearer ${entra.issued.at(-1)}`);
    expect(entra.requests.at(-1)).toMatchObject({ client_id: AZ_APP, scope: "https://storage.azure.com/.default" });
  });

  it("an agent the issuer does not trust gets a 403 with the issuer's reason, and nothing upstream", async () => {
    const before = dp.upstream.seen.length;
    const r = await dp.send(await dp.identity([STRANGER]), {
      method: "POST",
      host: "bigquery.googleapis.com",
      path: "/bigquery/v2/projects/p1/queries",
      body: "{}",
    });
    expect(r.status).toBe(403);
    expect((JSON.parse(r.body) as { reasons: string[] }).reasons[0]).toMatch(/^credentials\.issuer_denied: /);
    expect(dp.upstream.seen.length).toBe(before);
    // and one with no app registration at all is refused before any call to Entra
    const calls = entra.calls;
    const az = await dp.send(await dp.identity([STRANGER]), {
      method: "GET",
      host: "acme.blob.core.windows.net",
      path: "/reports/q1.csv",
    });
    expect(az.status).toBe(403);
    expect(entra.calls).toBe(calls);
  });

  it("no issued token or JWT-SVID appears in the audit or logs", () => {
    const text = JSON.stringify(audit.records) + JSON.stringify(logger.entries);
    for (const t of [...gcp.issued, ...entra.issued]) expect(text).not.toContain(t);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});

/**
 * JWT-SVIDs as the second identity carrier in the ext_authz pipeline: which header carries one, the
 * precedence rule next to an mTLS peer, what is stripped before forwarding, every rejection with the check
 * that failed, fail-closed before bundles arrive, and tokens never echoed. Keys are made here; the live
 * SPIRE path is in test/integration/spire-envoy.test.ts.
 */
import { exportJWK, generateKeyPair, type JSONWebKeySet, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CATALOG, RateCounter, ServiceCatalog } from "../../../filters/authz/index.ts";
import type { Decision, OpaInput } from "../../../filters/authz/index.ts";
import { MemoryAudit } from "../../../sidecars/authz/audit.ts";
import {
  AuthzPipeline,
  type CheckRequestLike,
  jwtSvidCarrier,
  type PolicySource,
} from "../../../sidecars/authz/pipeline.ts";
import type { CheckResponse } from "../../../sidecars/authz/response.ts";
import { type JwtBundleSource, WorkloadJwtSvidVerifier } from "../../../sidecars/workload-api/jwt-svid.ts";
import { makeCa, makeLeaf } from "../../helpers/certs.ts";

const TD = "hexr.cloud";
const AUD = "hexr-authz";
const RESEARCHER = `spiffe://${TD}/agent/acme-corp/content-crew/researcher`;
const WRITER = `spiffe://${TD}/agent/acme-corp/content-crew/writer`;
const KID = "spire-key-1";
const UPSTREAM_KEY = "sk-upstream-api-key-0123456789";
const BQ = { method: "POST", host: "bigquery.googleapis.com", path: "/bigquery/v2/projects/p/queries" };

type Key = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
let signing: Key;
let stranger: Key;
let jwks: JSONWebKeySet;
let researcherCert: string;

beforeAll(async () => {
  const pair = await generateKeyPair("ES256", { extractable: true });
  signing = pair.privateKey;
  jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: KID, use: "jwt-svid", alg: "ES256" }] };
  stranger = (await generateKeyPair("ES256")).privateKey;
  const ca = await makeCa("unit-ca");
  researcherCert = encodeURIComponent((await makeLeaf(ca, { uris: [RESEARCHER] })).certPem);
});

const nowS = () => Math.floor(Date.now() / 1000);

function token(opts: { sub?: string; aud?: string; exp?: number; kid?: string; key?: Key } = {}): Promise<string> {
  return new SignJWT({ aud: [opts.aud ?? AUD] })
    .setProtectedHeader({ alg: "ES256", kid: opts.kid ?? KID, typ: "JWT" })
    .setSubject(opts.sub ?? RESEARCHER)
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? nowS() + 300)
    .sign(opts.key ?? signing);
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** A Workload API stand-in: bundles can be withheld, then pushed. */
class FakeBundles implements JwtBundleSource {
  bundles: ReadonlyMap<string, JSONWebKeySet> = new Map();
  readonly #listeners = new Set<(b: ReadonlyMap<string, JSONWebKeySet>) => void>();
  current() {
    return { jwtBundles: this.bundles };
  }
  onJwtBundlesUpdate(l: (b: ReadonlyMap<string, JSONWebKeySet>) => void) {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }
  push(b: ReadonlyMap<string, JSONWebKeySet>) {
    this.bundles = b;
    for (const l of this.#listeners) l(b);
  }
}

interface Setup {
  p: AuthzPipeline;
  audit: MemoryAudit;
  inputs: OpaInput[];
  source: FakeBundles;
}

/** Policy: researchers may, everyone else may not. */
function setup(opts: { jwt?: boolean; bundles?: boolean } = {}): Setup {
  const inputs: OpaInput[] = [];
  const policy: PolicySource = {
    current: () => ({
      engine: {
        evaluate: (i: OpaInput): Decision => {
          inputs.push(i);
          return i.role === "researcher"
            ? { allow: true, reasons: [] }
            : { allow: false, reasons: ["not a researcher"] };
        },
      },
      revision: "r1",
      generation: 1,
    }),
  };
  const source = new FakeBundles();
  if (opts.bundles ?? true) source.push(new Map([[TD, jwks]]));
  const audit = new MemoryAudit();
  const p = new AuthzPipeline({
    trustDomains: new Set([TD]),
    policy,
    catalog: ServiceCatalog.compile(DEFAULT_CATALOG),
    rate: new RateCounter(),
    audit,
    now: () => Date.parse("2026-01-15T10:30:00Z"),
    ...((opts.jwt ?? true)
      ? { jwtSvid: new WorkloadJwtSvidVerifier(source, { audiences: [AUD], trustDomains: new Set([TD]) }) }
      : {}),
  });
  return { p, audit, inputs, source };
}

function req(headers: Record<string, string>, peer?: { principal?: string; certificate?: string }): CheckRequestLike {
  return { attributes: { ...(peer ? { source: peer } : {}), request: { http: { ...BQ, headers } } } };
}

const reasonsOf = (r: CheckResponse): string[] => JSON.parse(r.denied_response?.body ?? '{"reasons":[]}').reasons;
const removed = (r: CheckResponse): string[] => r.ok_response?.headers_to_remove ?? [];

describe("jwtSvidCarrier", () => {
  it.each([
    ["x-hexr-svid, no peer", { "x-hexr-svid": "t.o.k" }, false, "x-hexr-svid"],
    ["x-hexr-svid next to a peer", { "x-hexr-svid": "t.o.k" }, true, "x-hexr-svid"],
    ["x-hexr-svid wins over authorization", { "x-hexr-svid": "t.o.k", authorization: "Bearer x" }, true, "x-hexr-svid"],
    ["any bearer when there is no peer", { authorization: `Bearer ${UPSTREAM_KEY}` }, false, "authorization"],
    [
      "a SPIFFE-subject JWT next to a peer",
      { authorization: `Bearer x.${b64({ sub: RESEARCHER })}.s` },
      true,
      "authorization",
    ],
    ["an API key next to a peer", { authorization: `Bearer ${UPSTREAM_KEY}` }, true, undefined],
    ["a non-SPIFFE JWT next to a peer", { authorization: `Bearer x.${b64({ sub: "user-42" })}.s` }, true, undefined],
    ["Basic auth", { authorization: "Basic dTpw" }, false, undefined],
    ["nothing", {}, false, undefined],
  ])("%s → %s", (_n, headers, peer, header) => {
    const c = jwtSvidCarrier(headers as Record<string, string>, peer ? { principal: RESEARCHER } : undefined);
    expect(c?.header).toBe(header);
  });
});

describe("AuthzPipeline with JWT-SVIDs", () => {
  it("keeps the mTLS-only path synchronous, JWT-SVIDs enabled or not", () => {
    for (const s of [setup(), setup({ jwt: false })]) {
      const r = s.p.check(req({ authorization: `Bearer ${UPSTREAM_KEY}` }, { principal: RESEARCHER }));
      expect(r).not.toBeInstanceOf(Promise);
      expect((r as CheckResponse).status.code).toBe(0);
      // the upstream's own credential is not ours: forwarded untouched
      expect(removed(r as CheckResponse)).not.toContain("authorization");
    }
  });

  it("x-hexr-svid without a client certificate: the verified SPIFFE ID is the identity; the header is stripped", async () => {
    const { p, audit, inputs } = setup();
    const jwt = await token();
    const pending = p.check(req({ "x-hexr-svid": jwt, authorization: `Bearer ${UPSTREAM_KEY}` }));
    expect(pending).toBeInstanceOf(Promise);
    const r = await pending;
    expect(r.status.code).toBe(0);
    expect(removed(r)).toContain("x-hexr-svid");
    expect(removed(r)).not.toContain("authorization"); // it carried the upstream key, not the SVID
    expect(inputs.at(-1)).toMatchObject({ spiffe_id: RESEARCHER, role: "researcher" });
    expect(audit.records.at(-1)).toMatchObject({ allow: true, spiffe_id: RESEARCHER });
    expect(JSON.stringify(inputs)).not.toContain(jwt);
  });

  it("Authorization: Bearer <JWT-SVID>: accepted, and authorization is removed because it carried the SVID", async () => {
    const { p } = setup();
    const r = await p.check(req({ authorization: `Bearer ${await token()}` }));
    expect(r.status.code).toBe(0);
    expect(removed(r)).toContain("authorization");
  });

  it("mTLS peer + JWT-SVID naming the same SPIFFE ID: allowed, token stripped", async () => {
    const { p, inputs } = setup();
    const r = await p.check(req({ authorization: `Bearer ${await token()}` }, { certificate: researcherCert }));
    expect(r.status.code).toBe(0);
    expect(removed(r)).toContain("authorization");
    expect(inputs.at(-1)?.spiffe_id).toBe(RESEARCHER);
  });

  it.each([
    ["a writer's connection with a researcher's token (no elevation)", WRITER, RESEARCHER],
    ["a researcher's connection with a writer's token", RESEARCHER, WRITER],
  ])("%s → 403 identity.jwt_peer_mismatch, policy never consulted", async (_n, peer, sub) => {
    const { p, inputs } = setup();
    const r = await p.check(req({ "x-hexr-svid": await token({ sub }) }, { principal: peer }));
    expect(r.denied_response?.status.code).toBe(403);
    expect(reasonsOf(r)[0]).toMatch(/^identity\.jwt_peer_mismatch: /);
    expect(inputs).toEqual([]);
  });

  it("a JWT-SVID in Authorization never leaves the sidecar, even when x-hexr-svid carries the identity", async () => {
    const { p } = setup();
    const jwt = await token();
    for (const authorization of [`Bearer ${jwt}`, jwt, `Bearer ${UPSTREAM_KEY}, Bearer ${jwt}`, `Token ${jwt}`]) {
      const r = await p.check(req({ "x-hexr-svid": jwt, authorization }, { certificate: researcherCert }));
      expect(r.status.code).toBe(0);
      expect(removed(r)).toEqual(expect.arrayContaining(["x-hexr-svid", "authorization"]));
    }
    // an upstream API key next to x-hexr-svid is the upstream's credential: forwarded
    const key = await p.check(req({ "x-hexr-svid": jwt, authorization: `Bearer ${UPSTREAM_KEY}` }));
    expect(key.status.code).toBe(0);
    expect(removed(key)).not.toContain("authorization");
  });

  it("a JWS too large to classify next to a client certificate is verified (and refused), never forwarded", async () => {
    const { p, inputs } = setup();
    const huge = `${b64({ alg: "ES256", kid: "k" })}.${b64({ sub: RESEARCHER, pad: "x".repeat(9000) })}.sig`;
    const r = await p.check(req({ authorization: `Bearer ${huge}` }, { certificate: researcherCert }));
    expect(r.denied_response?.status.code).toBe(403);
    expect(reasonsOf(r)[0]).toMatch(/^jwt_svid\.malformed: /);
    expect(inputs).toEqual([]);
  });

  it("with JWT-SVIDs disabled, a JWT-SVID in Authorization is still stripped before the upstream", async () => {
    const { p } = setup({ jwt: false });
    const r = p.check(req({ authorization: `Bearer ${await token()}` }, { principal: RESEARCHER })) as CheckResponse;
    expect(r.status.code).toBe(0);
    expect(removed(r)).toContain("authorization");
  });

  it("a bad peer certificate is never rescued by a valid token", async () => {
    const { p } = setup();
    const r = await p.check(req({ "x-hexr-svid": await token() }, { certificate: "%%%not a cert" }));
    expect(reasonsOf(r)[0]).toMatch(/^identity\.bad_certificate: /);
  });

  it("no client certificate and no token → 403 identity.no_identity (synchronously)", () => {
    const { p } = setup();
    const r = p.check(req({}));
    expect(r).not.toBeInstanceOf(Promise);
    expect(reasonsOf(r as CheckResponse)[0]).toMatch(/^identity\.no_identity: /);
  });

  const REJECTIONS: Array<[string, () => Promise<string> | string, RegExp]> = [
    ["expired", () => token({ exp: nowS() - 3600 }), /^jwt_svid\.expired: /],
    ["wrong audience", () => token({ aud: "billing-api" }), /^jwt_svid\.wrong_audience: /],
    [
      "foreign trust domain",
      () => token({ sub: "spiffe://evil.example/agent/acme-corp/content-crew/researcher", key: stranger }),
      /^jwt_svid\.foreign_trust_domain: /,
    ],
    [
      "alg none",
      () => `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: RESEARCHER, aud: [AUD], exp: nowS() + 300 })}.`,
      /^jwt_svid\.alg_not_allowed: /,
    ],
    [
      "HMAC with the bundle key's kid",
      async () =>
        new SignJWT({ aud: [AUD] })
          .setProtectedHeader({ alg: "HS256", kid: KID })
          .setSubject(RESEARCHER)
          .setExpirationTime(nowS() + 300)
          .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0]))),
      /^jwt_svid\.alg_not_allowed: /,
    ],
    ["unknown kid", () => token({ kid: "attacker-key", key: stranger }), /^jwt_svid\.unknown_kid: /],
    ["signed by another key under a known kid", () => token({ key: stranger }), /^jwt_svid\.bad_signature: /],
    ["malformed", () => "not-a-jwt", /^jwt_svid\.malformed: /],
    ["malformed, three parts of garbage", () => "abc.def.ghi", /^jwt_svid\.malformed: /],
  ];

  it.each(REJECTIONS)(
    "%s → 403 naming the check; policy never consulted; token never echoed",
    async (_n, make, reason) => {
      const { p, audit, inputs } = setup();
      const jwt = await make();
      const carriers: Array<Record<string, string>> = [{ "x-hexr-svid": jwt }, { authorization: `Bearer ${jwt}` }];
      for (const headers of carriers) {
        const r = await p.check(req(headers));
        expect(r.denied_response?.status.code).toBe(403);
        expect(reasonsOf(r)[0]).toMatch(reason);
        expect(r.denied_response?.body).not.toContain(jwt);
      }
      expect(inputs).toEqual([]);
      expect(audit.records.every((a) => !a.allow && a.spiffe_id === null)).toBe(true);
      expect(JSON.stringify(audit.records)).not.toContain(jwt);
    },
  );

  it("fails closed until JWT bundles arrive, then follows bundle updates", async () => {
    const { p, source } = setup({ bundles: false });
    const jwt = await token();
    const before = await p.check(req({ "x-hexr-svid": jwt }));
    expect(reasonsOf(before)[0]).toMatch(/^jwt_svid\.no_bundles: /);
    source.push(new Map([[TD, jwks]]));
    expect((await p.check(req({ "x-hexr-svid": jwt }))).status.code).toBe(0);
    // the key is rotated out: tokens under its kid stop verifying
    source.push(new Map([[TD, { keys: [] }]]));
    expect(reasonsOf(await p.check(req({ "x-hexr-svid": jwt })))[0]).toMatch(/^jwt_svid\.unknown_kid: /);
  });

  it("with JWT-SVIDs disabled, tokens are not an identity, and x-hexr-svid is still stripped", () => {
    const { p } = setup({ jwt: false });
    const noPeer = p.check(req({ "x-hexr-svid": "whatever" })) as CheckResponse;
    expect(reasonsOf(noPeer)[0]).toMatch(/^identity\.no_peer_identity: /);
    const withPeer = p.check(req({ "x-hexr-svid": "whatever" }, { principal: RESEARCHER })) as CheckResponse;
    expect(withPeer.status.code).toBe(0);
    expect(removed(withPeer)).toContain("x-hexr-svid");
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { isHexrError } from "../../../filters/errors.ts";
import { identityFromCheckAttributes } from "../../../filters/identity/check-request.ts";
import type { CheckAttributes } from "../../../filters/identity/envoy-types.ts";
import { makeCa, makeLeaf } from "../../helpers/certs.ts";

const TD = "hexr.test";
const RESEARCHER = `spiffe://${TD}/agent/acme/crew/researcher`;
const WRITER = `spiffe://${TD}/agent/acme/crew/writer`;
const FOREIGN = "spiffe://evil.test/agent/acme/crew/researcher";
const OPTS = { trustDomains: new Set([TD]) };

let researcherCert = "";
let foreignCert = "";
let workloadCert = "";

beforeAll(async () => {
  const ca = await makeCa("hexr-check-ca");
  const [a, b, c] = await Promise.all([
    makeLeaf(ca, { uris: [RESEARCHER] }),
    makeLeaf(ca, { uris: [FOREIGN] }),
    makeLeaf(ca, { uris: [`spiffe://${TD}/ns/default/sa/web`] }),
  ]);
  researcherCert = encodeURIComponent(a.certPem);
  foreignCert = encodeURIComponent(b.certPem);
  workloadCert = encodeURIComponent(c.certPem);
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isHexrError(e)) return e.code;
    throw e;
  }
  throw new Error("expected a HexrError");
}

function withHeaders(headers: Record<string, string>, source?: CheckAttributes["source"]): CheckAttributes {
  return { source, request: { http: { method: "GET", path: "/", headers } } };
}

describe("identityFromCheckAttributes: accepted", () => {
  it("uses the SPIFFE ID of the peer certificate", () => {
    expect(identityFromCheckAttributes({ source: { certificate: researcherCert } }, OPTS)).toEqual({
      spiffeId: RESEARCHER,
      trustDomain: TD,
      tenant: "acme",
      agent: "crew",
      role: "researcher",
      subPath: [],
    });
  });

  it("accepts a principal equal to the certificate's SPIFFE ID", () => {
    const p = identityFromCheckAttributes({ source: { certificate: researcherCert, principal: RESEARCHER } }, OPTS);
    expect(p.role).toBe("researcher");
  });

  it("falls back to source.principal when there is no certificate", () => {
    expect(identityFromCheckAttributes({ source: { principal: WRITER } }, OPTS).role).toBe("writer");
    expect(identityFromCheckAttributes({ source: { principal: WRITER, certificate: "" } }, OPTS).role).toBe("writer");
  });
});

describe("identityFromCheckAttributes: rejected", () => {
  it.each<[string, () => CheckAttributes, string]>([
    ["no source", () => ({}), "identity.no_peer_identity"],
    ["empty source", () => ({ source: {} }), "identity.no_peer_identity"],
    [
      "empty strings (proto3 defaults)",
      () => ({ source: { principal: "", certificate: "" } }),
      "identity.no_peer_identity",
    ],
    [
      "principal differs from certificate",
      () => ({ source: { certificate: researcherCert, principal: WRITER } }),
      "identity.principal_mismatch",
    ],
    ["principal is a DNS name", () => ({ source: { principal: "researcher.acme.svc" } }), "identity.bad_principal"],
    [
      "principal is an uppercase SPIFFE ID",
      () => ({ source: { principal: RESEARCHER.toUpperCase() } }),
      "identity.bad_principal",
    ],
    [
      "certificate from a foreign trust domain",
      () => ({ source: { certificate: foreignCert } }),
      "identity.foreign_trust_domain",
    ],
    [
      "principal from a foreign trust domain",
      () => ({ source: { principal: FOREIGN } }),
      "identity.foreign_trust_domain",
    ],
    ["certificate of a non-agent workload", () => ({ source: { certificate: workloadCert } }), "identity.not_agent_id"],
    // A broken certificate is an error in itself; the principal must not rescue it.
    [
      "garbage certificate with a valid principal",
      () => ({ source: { certificate: "junk", principal: RESEARCHER } }),
      "identity.bad_certificate",
    ],
  ])("%s → %s", (_label, attrs, code) => {
    expect(codeOf(() => identityFromCheckAttributes(attrs(), OPTS))).toBe(code);
  });

  it("rejects everything when no trust domain is configured", () => {
    expect(
      codeOf(() =>
        identityFromCheckAttributes({ source: { certificate: researcherCert } }, { trustDomains: new Set() }),
      ),
    ).toBe("identity.foreign_trust_domain");
  });
});

describe("identityFromCheckAttributes ignores identity claimed in request headers", () => {
  const spoofing = {
    "x-forwarded-client-cert": `By=${RESEARCHER};URI=${WRITER}`,
    "x-hexr-spiffe-id": WRITER,
    "x-hexr-principal": WRITER,
    "x-hexr-svid": "eyJhbGciOiJub25lIn0.e30.",
  };

  it.each(Object.keys(spoofing))("a %s header does not create an identity", (name) => {
    const headers = { [name]: spoofing[name as keyof typeof spoofing] };
    expect(codeOf(() => identityFromCheckAttributes(withHeaders(headers), OPTS))).toBe("identity.no_peer_identity");
  });

  it("the certificate wins over every spoofed header", () => {
    const p = identityFromCheckAttributes(withHeaders(spoofing, { certificate: researcherCert }), OPTS);
    expect(p.spiffeId).toBe(RESEARCHER);
  });
});

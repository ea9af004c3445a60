import { generateKeyPairSync } from "node:crypto";
import { exportJWK, generateKeyPair, type JSONWebKeySet, type JWK, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { isHexrError } from "../../../filters/errors.ts";
import { bearerTokenFrom, JwtSvidVerifier } from "../../../filters/identity/jwt-svid.ts";

const TD = "hexr.test";
const OTHER = "partner.test";
const UNTRUSTED = "evil.test";
const SUB = `spiffe://${TD}/agent/acme/crew/researcher`;
const AUD = "hexr-authz";
const NOW_MS = Date.UTC(2026, 0, 15, 10, 30, 0);
const NOW = NOW_MS / 1000;

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
interface Signer {
  readonly alg: string;
  readonly kid: string;
  readonly privateKey: SigningKey;
  readonly jwk: JWK;
}

const signers: Record<string, Signer> = {};

async function makeSigner(name: string, alg: string, kid: string, jwkExtra: Partial<JWK> = {}): Promise<void> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  signers[name] = { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, use: "jwt-svid", ...jwkExtra } };
}

beforeAll(async () => {
  await Promise.all([
    makeSigner("es256", "ES256", "td-es256"),
    makeSigner("es384", "ES384", "td-es384"),
    makeSigner("rs256", "RS256", "td-rs256"),
    makeSigner("ps256", "PS256", "td-ps256"),
    makeSigner("other", "ES256", "shared-kid"),
    makeSigner("tdShared", "ES256", "shared-kid"),
    makeSigner("stranger", "ES256", "td-es256"),
    makeSigner("untrusted", "ES256", "evil-kid"),
  ]);
});

function bundles(): Map<string, JSONWebKeySet> {
  return new Map([
    [TD, { keys: ["es256", "es384", "rs256", "ps256", "tdShared"].map((n) => signers[n]!.jwk) }],
    [OTHER, { keys: [signers.other!.jwk] }],
    [UNTRUSTED, { keys: [signers.untrusted!.jwk] }],
  ]);
}

function verifier(extra: Partial<ConstructorParameters<typeof JwtSvidVerifier>[0]> = {}): JwtSvidVerifier {
  const v = new JwtSvidVerifier({ audiences: [AUD], trustDomains: new Set([TD, OTHER]), now: () => NOW_MS, ...extra });
  v.setBundles(bundles());
  return v;
}

interface TokenSpec {
  signer?: string;
  alg?: string;
  kid?: string | null;
  typ?: string;
  claims?: Record<string, unknown>;
  drop?: string[];
}

async function token(spec: TokenSpec = {}): Promise<string> {
  const s = signers[spec.signer ?? "es256"]!;
  const claims: Record<string, unknown> = { sub: SUB, aud: [AUD], iat: NOW - 60, exp: NOW + 300, ...spec.claims };
  for (const c of spec.drop ?? []) delete claims[c];
  const header: Record<string, unknown> = { alg: spec.alg ?? s.alg };
  if (!("typ" in spec) || spec.typ !== undefined) header.typ = spec.typ ?? "JWT";
  if (spec.kid !== null) header.kid = spec.kid ?? s.kid;
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(s.privateKey);
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isHexrError(e)) return e.code;
    throw e;
  }
  throw new Error("expected a HexrError");
}

describe("JwtSvidVerifier: valid tokens", () => {
  it.each(["es256", "es384", "rs256", "ps256"])("accepts a %s JWT-SVID and returns its principal", async (signer) => {
    const p = await verifier().verify(await token({ signer }));
    expect(p).toEqual({
      spiffeId: SUB,
      trustDomain: TD,
      tenant: "acme",
      agent: "crew",
      role: "researcher",
      subPath: [],
    });
  });

  it.each<[string, TokenSpec]>([
    ["aud as a string", { claims: { aud: AUD } }],
    ["aud with several values", { claims: { aud: ["other", AUD] } }],
    ["no typ header", { typ: undefined }],
    ["typ JOSE", { typ: "JOSE" }],
    ["expired within clock skew", { claims: { exp: NOW - 20 } }],
    ["nbf within clock skew", { claims: { nbf: NOW + 20 } }],
    ["sub in another trusted trust domain", { signer: "other", claims: { sub: `spiffe://${OTHER}/agent/p/q/r/s1` } }],
  ])("accepts %s", async (_label, spec) => {
    await expect(verifier().verify(await token(spec))).resolves.toMatchObject({ tenant: expect.any(String) });
  });
});

describe("JwtSvidVerifier: rejections", () => {
  it.each<[string, () => Promise<string>, string]>([
    ["empty", async () => "", "jwt_svid.malformed"],
    ["not a JWT", async () => "not-a-jwt", "jwt_svid.malformed"],
    ["two parts", async () => "a.b", "jwt_svid.malformed"],
    ["JWE-shaped (five parts)", async () => "a.b.c.d.e", "jwt_svid.malformed"],
    ["header not JSON", async () => "bm90LWpzb24.e30.c2ln", "jwt_svid.malformed"],
    [
      "payload not JSON",
      async () => `${b64({ alg: "ES256", kid: "td-es256" })}.bm90LWpzb24.c2ln`,
      "jwt_svid.malformed",
    ],
    ["oversized", async () => `${b64({ alg: "ES256" })}.${"A".repeat(9000)}.c2ln`, "jwt_svid.malformed"],
    ["typ not JWT", () => token({ typ: "at+jwt" }), "jwt_svid.malformed"],
    [
      "alg none",
      async () => `${b64({ alg: "none", kid: "td-es256" })}.${b64({ sub: SUB, aud: AUD, exp: NOW + 60 })}.`,
      "jwt_svid.alg_not_allowed",
    ],
    [
      "alg missing",
      async () => `${b64({ kid: "td-es256" })}.${b64({ sub: SUB, aud: AUD, exp: NOW + 60 })}.c2ln`,
      "jwt_svid.alg_not_allowed",
    ],
    [
      "alg HS256",
      () =>
        new SignJWT({ sub: SUB, aud: AUD, exp: NOW + 60 })
          .setProtectedHeader({ alg: "HS256", kid: "td-es256" })
          .sign(new Uint8Array(32)),
      "jwt_svid.alg_not_allowed",
    ],
    [
      "alg EdDSA",
      async () => `${b64({ alg: "EdDSA", kid: "td-es256" })}.${b64({ sub: SUB, aud: AUD, exp: NOW + 60 })}.c2ln`,
      "jwt_svid.alg_not_allowed",
    ],
    [
      "alg does not match the key (ES384 header, P-256 key)",
      async () => `${b64({ alg: "ES384", kid: "td-es256" })}.${b64({ sub: SUB, aud: AUD, exp: NOW + 60 })}.c2ln`,
      "jwt_svid.alg_not_allowed",
    ],
    [
      "alg does not match the key (RS256 header, EC key)",
      async () => `${b64({ alg: "RS256", kid: "td-es256" })}.${b64({ sub: SUB, aud: AUD, exp: NOW + 60 })}.c2ln`,
      "jwt_svid.alg_not_allowed",
    ],
    ["kid missing", () => token({ kid: null }), "jwt_svid.unknown_kid"],
    ["kid unknown", () => token({ kid: "nope" }), "jwt_svid.unknown_kid"],
    [
      "kid of another trust domain's bundle",
      () => token({ signer: "es256", claims: { sub: `spiffe://${OTHER}/agent/p/q/r` } }),
      "jwt_svid.unknown_kid",
    ],
    ["sub missing", () => token({ drop: ["sub"] }), "jwt_svid.bad_subject"],
    ["sub not a string", () => token({ claims: { sub: 42 } }), "jwt_svid.bad_subject"],
    ["sub not a SPIFFE ID", () => token({ claims: { sub: "researcher@acme" } }), "jwt_svid.bad_subject"],
    ["sub with a trailing slash", () => token({ claims: { sub: `${SUB}/` } }), "jwt_svid.bad_subject"],
    [
      "sub in an untrusted trust domain (even with a bundle)",
      () => token({ signer: "untrusted", claims: { sub: `spiffe://${UNTRUSTED}/agent/a/b/c` } }),
      "jwt_svid.foreign_trust_domain",
    ],
    [
      "sub in an unknown trust domain",
      () => token({ claims: { sub: "spiffe://nowhere.test/agent/a/b/c" } }),
      "jwt_svid.foreign_trust_domain",
    ],
    ["signed by a key that is not in the bundle", () => token({ signer: "stranger" }), "jwt_svid.bad_signature"],
    [
      "same kid, but the key belongs to the other trust domain",
      () => token({ signer: "other", claims: { sub: SUB } }),
      "jwt_svid.bad_signature",
    ],
    [
      "payload swapped after signing",
      async () => {
        const [h, , s] = (await token()).split(".");
        return `${h}.${b64({ sub: `spiffe://${TD}/agent/acme/crew/admin`, aud: [AUD], exp: NOW + 300 })}.${s}`;
      },
      "jwt_svid.bad_signature",
    ],
    [
      "signature stripped",
      async () => `${(await token()).split(".").slice(0, 2).join(".")}.`,
      "jwt_svid.bad_signature",
    ],
    ["expired", () => token({ claims: { exp: NOW - 31 } }), "jwt_svid.expired"],
    ["exp missing", () => token({ drop: ["exp"] }), "jwt_svid.expired"],
    ["exp not a number", () => token({ claims: { exp: "tomorrow" } }), "jwt_svid.malformed"],
    ["nbf in the future", () => token({ claims: { nbf: NOW + 60 } }), "jwt_svid.not_yet_valid"],
    ["aud missing", () => token({ drop: ["aud"] }), "jwt_svid.wrong_audience"],
    ["aud for another service", () => token({ claims: { aud: ["billing"] } }), "jwt_svid.wrong_audience"],
    [
      "valid SVID of a non-agent workload",
      () => token({ claims: { sub: `spiffe://${TD}/ns/default/sa/web` } }),
      "identity.not_agent_id",
    ],
    [
      "iat ten years ahead",
      () => token({ claims: { iat: NOW + 10 * 365 * 86400, exp: NOW + 10 * 365 * 86400 + 300 } }),
      "jwt_svid.issued_in_future",
    ],
    ["iat ahead by more than the skew", () => token({ claims: { iat: NOW + 31 } }), "jwt_svid.issued_in_future"],
    ["iat not a number", () => token({ claims: { iat: "now" } }), "jwt_svid.malformed"],
    ["exp a year away", () => token({ claims: { exp: NOW + 365 * 86400 } }), "jwt_svid.lifetime_too_long"],
    [
      "exp a year away, no iat",
      () => token({ drop: ["iat"], claims: { exp: NOW + 365 * 86400 } }),
      "jwt_svid.lifetime_too_long",
    ],
    [
      "issued long ago for longer than the maximum lifetime",
      () => token({ claims: { iat: NOW - 2 * 86400, exp: NOW + 60 } }),
      "jwt_svid.lifetime_too_long",
    ],
  ])("%s → %s", async (_label, make, code) => {
    expect(await codeOf(verifier().verify(await make()))).toBe(code);
  });

  it("honours clockSkewSeconds", async () => {
    const t = await token({ claims: { exp: NOW - 5 } });
    expect(await codeOf(verifier({ clockSkewSeconds: 0 }).verify(t))).toBe("jwt_svid.expired");
  });

  it("iat within the skew and a lifetime at the maximum are accepted; maxLifetimeSeconds is honoured", async () => {
    await expect(verifier().verify(await token({ claims: { iat: NOW + 20 } }))).resolves.toMatchObject({
      role: "researcher",
    });
    const day = await token({ claims: { iat: NOW, exp: NOW + 86400 } });
    await expect(verifier().verify(day)).resolves.toMatchObject({ role: "researcher" });
    expect(await codeOf(verifier({ maxLifetimeSeconds: 3600 }).verify(day))).toBe("jwt_svid.lifetime_too_long");
  });

  it("honours maxTokenBytes", async () => {
    const t = await token();
    expect(await codeOf(verifier({ maxTokenBytes: t.length - 1 }).verify(t))).toBe("jwt_svid.malformed");
  });

  it("never puts the token in the error message", async () => {
    const t = await token({ claims: { aud: ["billing"] } });
    const err = await verifier()
      .verify(t)
      .catch((e: unknown) => e as Error);
    expect(String((err as Error).message)).not.toContain(t.split(".")[1]!);
  });
});

describe("JwtSvidVerifier.setBundles", () => {
  it("swaps bundles atomically: an emptied bundle set trusts nothing", async () => {
    const v = verifier();
    const t = await token();
    await expect(v.verify(t)).resolves.toMatchObject({ role: "researcher" });
    v.setBundles(new Map());
    expect(await codeOf(v.verify(t))).toBe("jwt_svid.foreign_trust_domain");
  });

  it("imports usable keys and reports the rest", () => {
    const v = new JwtSvidVerifier({ audiences: [AUD], trustDomains: new Set([TD]) });
    const shortRsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" });
    const es = signers.es256!.jwk;
    const report = v.setBundles(
      new Map<string, JSONWebKeySet>([
        [
          TD,
          {
            keys: [
              es,
              { ...es }, // duplicate kid
              { ...es, kid: undefined, use: "x509-svid", x5c: ["AAAA"] }, // X.509 authority: silently ignored
              { ...es, kid: undefined }, // JWT key without kid
              { kty: "oct", k: "c2VjcmV0", kid: "hmac" },
              { ...(signers.rs256!.jwk as JWK), kid: "short", n: shortRsa.n, e: shortRsa.e },
              { ...es, kid: "private", d: "AAAA" },
              { ...es, kid: "bad-point", x: "AAAA" },
              { ...es, kid: "enc", use: "enc" },
            ] as JWK[],
          },
        ],
      ]),
    );
    expect(report.keys).toBe(1);
    expect(report.skipped.map((s) => [s.kid, s.reason])).toEqual([
      ["td-es256", "duplicate kid"],
      [undefined, "missing kid"],
      ["hmac", "kty must be RSA or EC"],
      ["short", "RSA key shorter than 2048 bits"],
      ["private", "contains private key material"],
      ["bad-point", "key does not import"],
      ["enc", "use is not jwt-svid"],
    ]);
  });
});

describe("JwtSvidVerifier options", () => {
  it.each<[string, Record<string, unknown>]>([
    ["no audiences", { audiences: [] }],
    ["empty audience", { audiences: [""] }],
    ["bad trust domain", { trustDomains: new Set(["Hexr.Test"]) }],
    ["trust domain with a path", { trustDomains: new Set(["hexr.test/x"]) }],
    ["negative skew", { clockSkewSeconds: -1 }],
    ["a year of skew", { clockSkewSeconds: 365 * 86400 }],
    ["skew over the maximum", { clockSkewSeconds: 301 }],
    ["zero maxLifetimeSeconds", { maxLifetimeSeconds: 0 }],
    ["maxLifetimeSeconds over 7 days", { maxLifetimeSeconds: 7 * 86400 + 1 }],
    ["zero maxTokenBytes", { maxTokenBytes: 0 }],
  ])("rejects %s with a TypeError", (_label, extra) => {
    expect(() => new JwtSvidVerifier({ audiences: [AUD], trustDomains: new Set([TD]), ...extra })).toThrow(TypeError);
  });
});

describe("bearerTokenFrom", () => {
  it.each<[Record<string, string>, string | undefined]>([
    [{ authorization: "Bearer abc.def.ghi" }, "abc.def.ghi"],
    [{ authorization: "bearer abc.def.ghi" }, "abc.def.ghi"],
    [{ authorization: "BEARER   abc.def.ghi  " }, "abc.def.ghi"],
    [{ authorization: "Basic dXNlcjpwYXNz" }, undefined],
    [{ authorization: "Bearer" }, undefined],
    [{ authorization: "Bearer " }, undefined],
    [{ authorization: "Bearerabc" }, undefined],
    [{ authorization: "Bearex abc" }, undefined],
    [{ "x-hexr-svid": "svid.jwt.token" }, "svid.jwt.token"],
    [{ "x-hexr-svid": "svid.jwt.token", authorization: "Bearer sk-upstream-key" }, "svid.jwt.token"],
    [{ "x-hexr-svid": "  ", authorization: "Bearer abc" }, "abc"],
    [{ Authorization: "Bearer abc" }, undefined],
    [{}, undefined],
  ])("%j → %s", (headers, expected) => {
    expect(bearerTokenFrom(headers)).toBe(expected);
  });
});

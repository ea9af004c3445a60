import { createPrivateKey, type KeyObject } from "node:crypto";
import { CompactSign } from "jose";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  buildChainClaims,
  type ChainClaims,
  ChainVerifier,
  CHAIN_LINK_TYP,
  DEFAULT_MAX_CHAIN_BYTES,
  linkDigest,
  MemoryReplayCache,
  signChainLink,
} from "../../../filters/a2a/chain.ts";
import { HexrError } from "../../../filters/errors.ts";
import { ChainSigner, type ChainSvidSource } from "../../../sidecars/a2a/chain-signer.ts";
import type { WorkloadSnapshot, X509Svid } from "../../../sidecars/workload-api/client.ts";
import { makeCa, makeLeaf, type TestCa, type TestLeaf } from "../../helpers/certs.ts";

const TD = "hexr.test";
const PARTNER = "partner.test";
const SIDECAR = `spiffe://${TD}/hexr/authz`;
const agent = (n: string) => `spiffe://${TD}/agent/acme/crew/${n}`;
const [A, B, C, D, X] = ["a", "b", "c", "d", "x"].map(agent) as [string, string, string, string, string];

let ca: TestCa;
let rogueCa: TestCa;
let partnerCa: TestCa;
let leaves: Record<string, TestLeaf>;
let nowMs: number;
const clock = () => nowMs;

function svidOf(leaf: TestLeaf, spiffeId: string): X509Svid {
  return {
    spiffeId,
    hint: "",
    certChainPem: leaf.certPem,
    keyPem: leaf.keyPem,
    bundlePem: ca.certPem,
    expiresAt: leaf.cert.notAfter,
    serialNumber: leaf.cert.serialNumber,
  };
}

class FakeWorkloadApi implements ChainSvidSource {
  snapshot: WorkloadSnapshot;
  constructor(leaf: TestLeaf, bundles: Map<string, readonly string[]> = new Map([[TD, [ca.certPem]]])) {
    this.snapshot = { svids: [svidOf(leaf, SIDECAR)], x509Bundles: bundles, jwtBundles: new Map() };
  }
  current(): WorkloadSnapshot {
    return this.snapshot;
  }
}

const POD_OPTS = { trustDomains: new Set([TD]), signers: [`spiffe://${TD}/hexr/*`] };

/** One pod's sidecar: its own leaf, replay cache and signer. */
function pod(leaf: TestLeaf, extra: Partial<ConstructorParameters<typeof ChainSigner>[1]> = {}): ChainSigner {
  return new ChainSigner(new FakeWorkloadApi(leaf), { ...POD_OPTS, now: clock, ...extra });
}

function verifier(extra: Partial<ConstructorParameters<typeof ChainVerifier>[0]> = {}): ChainVerifier {
  const v = new ChainVerifier({ ...POD_OPTS, now: clock, ...extra });
  v.setBundles(new Map([[TD, [ca.certPem]]]));
  return v;
}

const x5cOf = (leaf: TestLeaf) => [Buffer.from(leaf.cert.rawData).toString("base64")];
const keyOf = (leaf: TestLeaf): KeyObject => createPrivateKey(leaf.keyPem);

/** A link signed by `leaf` with arbitrary claims and header fields, for forgeries. */
async function craft(
  leaf: TestLeaf,
  claims: Partial<ChainClaims> & Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const base = buildChainClaims({ issuer: SIDECAR, subject: A, audience: B, nowMs, ttlSeconds: 60 });
  return new CompactSign(new TextEncoder().encode(JSON.stringify({ ...base, ...claims })))
    .setProtectedHeader({ alg: "ES256", typ: CHAIN_LINK_TYP, x5c: x5cOf(leaf), ...header })
    .sign(keyOf(leaf));
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HexrError);
    return (e as HexrError).code;
  }
  throw new Error("expected a rejection");
}

const b64url = (s: string) => Buffer.from(s).toString("base64url");

beforeAll(async () => {
  [ca, rogueCa, partnerCa] = await Promise.all([makeCa("hexr-test"), makeCa("rogue"), makeCa("partner")]);
  const [podA, podB, podC, podA2, rogue, partner, agentLeaf] = await Promise.all([
    makeLeaf(ca, { uris: [SIDECAR] }),
    makeLeaf(ca, { uris: [SIDECAR] }),
    makeLeaf(ca, { uris: [SIDECAR] }),
    makeLeaf(ca, { uris: [SIDECAR] }),
    makeLeaf(rogueCa, { uris: [SIDECAR] }),
    makeLeaf(partnerCa, { uris: [`spiffe://${PARTNER}/hexr/authz`] }),
    makeLeaf(ca, { uris: [A] }),
  ]);
  leaves = { podA, podB, podC, podA2, rogue, partner, agentLeaf };
});

beforeEach(() => {
  nowMs = Date.now();
});

describe("valid chains", () => {
  it("a direct call carries a one-link chain: [A]", async () => {
    const t1 = await pod(leaves.podA!).sign({ caller: A, target: B });
    expect(t1.split(",")).toHaveLength(1);
    const v = await pod(leaves.podB!).verify(t1, { self: B, peer: A });
    expect(v.chain).toEqual([A]);
    expect(v.signers).toEqual([SIDECAR]);
    expect(v.expiresAtMs).toBe((Math.floor(nowMs / 1000) + 60) * 1000);
  });

  it("A → B → C → D: each hop verifies every link and D sees [A, B, C]", async () => {
    const [pa, pb, pc, pd] = [pod(leaves.podA!), pod(leaves.podB!), pod(leaves.podC!), pod(leaves.podA2!)];
    const t1 = await pa.sign({ caller: A, target: B });
    expect((await pb.verify(t1, { self: B, peer: A })).chain).toEqual([A]);
    nowMs += 2_000;
    const t2 = await pb.sign({ caller: B, target: C, forwarded: t1 });
    expect((await pc.verify(t2, { self: C, peer: B })).chain).toEqual([A, B]);
    nowMs += 2_000;
    const t3 = await pc.sign({ caller: C, target: D, forwarded: t2 });
    const v = await pd.verify(t3, { self: D, peer: C });
    expect(v.chain).toEqual([A, B, C]);
    expect(v.token).toBe(t3);
    const links = t3.split(",");
    expect(links).toHaveLength(3);
    const newest = JSON.parse(Buffer.from(links[0]!.split(".")[1]!, "base64url").toString());
    expect(newest).toMatchObject({ iss: SIDECAR, sub: C, aud: D, act: { sub: B, act: { sub: A } } });
    expect(newest.prev).toBe(linkDigest(links[1]!));
    expect(newest.exp - newest.iat).toBe(60);
  });

  it("older links are judged when they were extended: A's link may lapse while B's is fresh", async () => {
    const t1 = await pod(leaves.podA!).sign({ caller: A, target: B });
    nowMs += 55_000;
    const t2 = await pod(leaves.podB!).sign({ caller: B, target: C, forwarded: t1 });
    nowMs += 20_000; // t1 expired 15 s ago, t2 still valid
    expect((await pod(leaves.podC!).verify(t2, { self: C, peer: B })).chain).toEqual([A, B]);
  });

  it("survives a rotation: links signed with the old SVID still verify, new ones carry the new x5c", async () => {
    const src = new FakeWorkloadApi(leaves.podA!);
    const signer = new ChainSigner(src, { ...POD_OPTS, now: clock });
    const before = await signer.sign({ caller: A, target: B });
    src.snapshot = { ...src.snapshot, svids: [svidOf(leaves.podA2!, SIDECAR)] };
    const after = await signer.sign({ caller: A, target: B });
    const x5c = (t: string) => JSON.parse(Buffer.from(t.split(".")[0]!, "base64url").toString()).x5c[0];
    expect(x5c(before)).toBe(x5cOf(leaves.podA!)[0]);
    expect(x5c(after)).toBe(x5cOf(leaves.podA2!)[0]);
    const v = verifier();
    expect((await v.verifyInbound(before, { self: B, peer: A })).chain).toEqual([A]);
    expect((await v.verifyInbound(after, { self: B, peer: A })).chain).toEqual([A]);
  });

  it("a signer chain with an intermediate CA in x5c (SPIRE with an upstream authority)", async () => {
    const mid = await makeLeaf(ca, { isCa: true, commonName: "spire-intermediate" });
    const leaf = await makeLeaf({ ...mid, name: "spire-intermediate" }, { uris: [SIDECAR] });
    const withMid = { ...leaf, certPem: `${leaf.certPem}\n${mid.certPem}` };
    const t1 = await pod(withMid).sign({ caller: A, target: B });
    const x5c = JSON.parse(Buffer.from(t1.split(".")[0]!, "base64url").toString()).x5c;
    expect(x5c).toHaveLength(2);
    expect((await verifier().verifyInbound(t1, { self: B, peer: A })).chain).toEqual([A]);
    // Without the intermediate the leaf does not chain to the bundle.
    const bare = await craft(leaf, {});
    expect(await code(verifier().verifyInbound(bare, { self: B, peer: A }))).toBe("a2a.chain_untrusted_certificate");
  });
});

describe("refused chains", () => {
  it("forged: claims changed after signing, or a flipped signature", async () => {
    const t1 = await pod(leaves.podA!).sign({ caller: A, target: B });
    const [h, p, s] = t1.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    const changed = `${h}.${b64url(JSON.stringify({ ...claims, sub: X }))}.${s}`;
    expect(await code(verifier().verifyInbound(changed, { self: B, peer: X }))).toBe("a2a.chain_bad_signature");
    const flipped = `${h}.${p}.${s[0] === "A" ? "B" : "A"}${s.slice(1)}`;
    expect(await code(verifier().verifyInbound(flipped, { self: B, peer: A }))).toBe("a2a.chain_bad_signature");
  });

  it("a legitimate sidecar's x5c on a link signed with another key", async () => {
    const forged = await new CompactSign(
      new TextEncoder().encode(
        JSON.stringify(buildChainClaims({ issuer: SIDECAR, subject: A, audience: B, nowMs, ttlSeconds: 60 })),
      ),
    )
      .setProtectedHeader({ alg: "ES256", typ: CHAIN_LINK_TYP, x5c: x5cOf(leaves.podA!) })
      .sign(keyOf(leaves.rogue!));
    expect(await code(verifier().verifyInbound(forged, { self: B, peer: A }))).toBe("a2a.chain_bad_signature");
  });

  it("a signer certificate not chained to the bundle (same SPIFFE ID, rogue CA)", async () => {
    const t = await craft(leaves.rogue!, {});
    expect(await code(verifier().verifyInbound(t, { self: B, peer: A }))).toBe("a2a.chain_untrusted_certificate");
    // A self-made "intermediate" in x5c does not help either.
    const t2 = await craft(
      leaves.rogue!,
      {},
      { x5c: [...x5cOf(leaves.rogue!), Buffer.from(rogueCa.cert.rawData).toString("base64")] },
    );
    expect(await code(verifier().verifyInbound(t2, { self: B, peer: A }))).toBe("a2a.chain_untrusted_certificate");
  });

  it("a signer from a foreign trust domain, with or without its bundle", async () => {
    const t = await craft(leaves.partner!, { iss: `spiffe://${PARTNER}/hexr/authz` });
    const signers = [SIDECAR, `spiffe://${PARTNER}/hexr/authz`];
    const v = verifier({ signers });
    expect(await code(v.verifyInbound(t, { self: B, peer: A }))).toBe("a2a.chain_foreign_trust_domain");
    // Its bundle is known but the trust domain is not trusted: still refused.
    v.setBundles(
      new Map([
        [TD, [ca.certPem]],
        [PARTNER, [partnerCa.certPem]],
      ]),
    );
    expect(await code(v.verifyInbound(t, { self: B, peer: A }))).toBe("a2a.chain_foreign_trust_domain");
    const trusting = verifier({ signers, trustDomains: new Set([TD, PARTNER]) });
    trusting.setBundles(
      new Map([
        [TD, [ca.certPem]],
        [PARTNER, [partnerCa.certPem]],
      ]),
    );
    expect((await trusting.verifyInbound(t, { self: B, peer: A })).chain).toEqual([A]);
    // A partner certificate presented as if it were from our CA's trust domain.
    trusting.setBundles(
      new Map([
        [TD, [ca.certPem]],
        [PARTNER, [ca.certPem]],
      ]),
    );
    expect(
      await code(
        trusting.verifyInbound(await craft(leaves.partner!, { iss: `spiffe://${PARTNER}/hexr/authz` }), {
          self: B,
          peer: A,
        }),
      ),
    ).toBe("a2a.chain_untrusted_certificate");
  });

  it("a signer certificate that has expired", async () => {
    const old = await makeLeaf(ca, {
      uris: [SIDECAR],
      notBefore: new Date(nowMs - 7_200_000),
      notAfter: new Date(nowMs - 1_000),
    });
    const t = await craft(old, {});
    expect(await code(verifier().verifyInbound(t, { self: B, peer: A }))).toBe("a2a.chain_certificate_expired");
  });

  it("an agent's own SVID cannot sign links (signers are sidecars only)", async () => {
    const t = await craft(leaves.agentLeaf!, { iss: A });
    expect(await code(verifier().verifyInbound(t, { self: B, peer: A }))).toBe("a2a.chain_signer_not_allowed");
  });

  it("wrong aud: a chain meant for another agent", async () => {
    const t1 = await pod(leaves.podA!).sign({ caller: A, target: B });
    expect(await code(verifier().verifyInbound(t1, { self: C, peer: A }))).toBe("a2a.chain_wrong_audience");
    // Nor can B's agent forward it as if it were C's.
    expect(await code(pod(leaves.podB!).sign({ caller: C, target: D, forwarded: t1 }))).toBe(
      "a2a.chain_wrong_audience",
    );
  });

  it("sub ≠ mTLS peer: a stolen chain presented by someone else", async () => {
    const t1 = await pod(leaves.podA!).sign({ caller: A, target: B });
    expect(await code(verifier().verifyInbound(t1, { self: B, peer: X }))).toBe("a2a.chain_wrong_subject");
  });

  it("expired, issued in the future, too long-lived", async () => {
    const t1 = await pod(leaves.podA!).sign({ caller: A, target: B });
    nowMs += 65_000; // 60 s lifetime + 5 s skew
    expect(await code(verifier().verifyInbound(t1, { self: B, peer: A }))).toBe("a2a.chain_expired");
    nowMs -= 65_000;
    const iat = Math.floor(nowMs / 1000);
    const future = await craft(leaves.podA!, { iat: iat + 30, exp: iat + 60 });
    expect(await code(verifier().verifyInbound(future, { self: B, peer: A }))).toBe("a2a.chain_issued_in_future");
    const long = await craft(leaves.podA!, { exp: iat + 3600 });
    expect(await code(verifier().verifyInbound(long, { self: B, peer: A }))).toBe("a2a.chain_lifetime_too_long");
  });

  it("replayed jti is refused the second time, accepted again by no one until it expires", async () => {
    const t1 = await pod(leaves.podA!).sign({ caller: A, target: B });
    const v = verifier();
    expect((await v.verifyInbound(t1, { self: B, peer: A })).chain).toEqual([A]);
    expect(await code(v.verifyInbound(t1, { self: B, peer: A }))).toBe("a2a.chain_replayed");
    // Forwarding is not consumption: B may fan out on the one request it serves.
    const pb = pod(leaves.podB!);
    const toC = await pb.sign({ caller: B, target: C, forwarded: t1 });
    const toD = await pb.sign({ caller: B, target: D, forwarded: t1 });
    expect((await verifier().verifyInbound(toC, { self: C, peer: B })).chain).toEqual([A, B]);
    expect((await verifier().verifyInbound(toD, { self: D, peer: B })).chain).toEqual([A, B]);
  });

  it("depth over the cap, at the verifier and at the signer that would extend", async () => {
    const capped = { maxDepth: 2 };
    const t1 = await pod(leaves.podA!, capped).sign({ caller: A, target: B });
    const t2 = await pod(leaves.podB!, capped).sign({ caller: B, target: C, forwarded: t1 });
    expect(await code(pod(leaves.podC!, capped).sign({ caller: C, target: D, forwarded: t2 }))).toBe(
      "a2a.chain_too_deep",
    );
    const t3 = await pod(leaves.podC!).sign({ caller: C, target: D, forwarded: t2 });
    expect(await code(verifier(capped).verifyInbound(t3, { self: D, peer: C }))).toBe("a2a.chain_too_deep");
    expect((await verifier().verifyInbound(t3, { self: D, peer: C })).chain).toEqual([A, B, C]);
  });

  it("oversize token, before any parsing", async () => {
    const t1 = await pod(leaves.podA!).sign({ caller: A, target: B });
    const huge = `${t1}${" ".repeat(DEFAULT_MAX_CHAIN_BYTES)}`;
    expect(await code(verifier().verifyInbound(huge, { self: B, peer: A }))).toBe("a2a.chain_too_large");
    expect(await code(verifier({ maxBytes: 1024 }).verifyInbound(t1, { self: B, peer: A }))).toBe(
      "a2a.chain_too_large",
    );
  });

  it("spliced chains: a prev whose aud is not the next sub, or links from different chains", async () => {
    const key = keyOf(leaves.podB!);
    const x5c = x5cOf(leaves.podB!);
    // A → X, then a (buggy or compromised) signer claims B acts for it.
    const toX = await pod(leaves.podA!).sign({ caller: A, target: X });
    const claims = {
      ...buildChainClaims({ issuer: SIDECAR, subject: B, audience: C, nowMs, ttlSeconds: 60 }),
      act: { sub: A },
      prev: linkDigest(toX),
    };
    const spliced = `${await signChainLink(claims, key, x5c)},${toX}`;
    expect(await code(verifier().verifyInbound(spliced, { self: C, peer: B }))).toBe("a2a.chain_broken_link");
    // Two chains through B: B's link of the first pasted onto A's link of the second.
    const pa = pod(leaves.podA!);
    const first = await pa.sign({ caller: A, target: B });
    const second = await pa.sign({ caller: A, target: B });
    const extended = await pod(leaves.podB!).sign({ caller: B, target: C, forwarded: first });
    const pasted = `${extended.split(",")[0]},${second}`;
    expect(await code(verifier().verifyInbound(pasted, { self: C, peer: B }))).toBe("a2a.chain_broken_link");
    // Dropping the older link, or an act that lies about who came before.
    expect(await code(verifier().verifyInbound(extended.split(",")[0]!, { self: C, peer: B }))).toBe(
      "a2a.chain_broken_link",
    );
    const lying = {
      ...buildChainClaims({ issuer: SIDECAR, subject: B, audience: C, nowMs, ttlSeconds: 60 }),
      act: { sub: X },
      prev: linkDigest(first),
    };
    expect(
      await code(verifier().verifyInbound(`${await signChainLink(lying, key, x5c)},${first}`, { self: C, peer: B })),
    ).toBe("a2a.chain_broken_link");
  });

  it("typ, alg and iss must fit", async () => {
    const v = verifier();
    const peerA = { self: B, peer: A };
    expect(await code(v.verifyInbound(await craft(leaves.podA!, {}, { typ: "JWT" }), peerA))).toBe(
      "a2a.chain_malformed",
    );
    expect(
      await code(v.verifyInbound(await craft(leaves.podA!, {}, { alg: "HS256" }).catch(() => "x.y.z"), peerA)),
    ).toMatch(/^a2a\.chain_/);
    const rs = `${b64url(JSON.stringify({ alg: "RS256", typ: CHAIN_LINK_TYP, x5c: x5cOf(leaves.podA!) }))}.${b64url("{}")}.AAAA`;
    expect(await code(v.verifyInbound(rs, peerA))).toBe("a2a.chain_alg_not_allowed");
    const none = `${b64url(JSON.stringify({ alg: "none", typ: CHAIN_LINK_TYP, x5c: x5cOf(leaves.podA!) }))}.${b64url("{}")}.`;
    expect(await code(v.verifyInbound(none, peerA))).toBe("a2a.chain_alg_not_allowed");
    expect(await code(v.verifyInbound(await craft(leaves.podA!, { iss: `spiffe://${TD}/hexr/other` }), peerA))).toBe(
      "a2a.chain_bad_issuer",
    );
  });
});

describe("malformed input: a clear a2a.chain_* error, never another throw", () => {
  const header = (h: unknown) => b64url(JSON.stringify(h));
  // The signature covers the raw segments, so an unsigned garbage payload is a bad signature, not a parse error.
  const badSignature = new Set(["payload not base64url"]);
  const cases: Array<[string, () => Promise<string> | string]> = [
    ["empty", () => ""],
    ["one part", () => "abc"],
    ["two parts", () => "abc.def"],
    ["four parts", () => "a.b.c.d"],
    ["only commas", () => ",,"],
    ["header not base64url", () => "@@@.e30.AAAA"],
    ["header not JSON", () => `${b64url("{nope")}.e30.AAAA`],
    ["header JSON array", () => `${b64url("[1]")}.e30.AAAA`],
    ["no x5c", () => `${header({ alg: "ES256", typ: CHAIN_LINK_TYP })}.e30.AAAA`],
    ["x5c not an array", () => `${header({ alg: "ES256", typ: CHAIN_LINK_TYP, x5c: "MIIB" })}.e30.AAAA`],
    ["x5c entry not base64", () => `${header({ alg: "ES256", typ: CHAIN_LINK_TYP, x5c: ["!!!!"] })}.e30.AAAA`],
    ["x5c entry not DER", () => `${header({ alg: "ES256", typ: CHAIN_LINK_TYP, x5c: ["AAAA"] })}.e30.AAAA`],
    [
      "x5c too long",
      () => `${header({ alg: "ES256", typ: CHAIN_LINK_TYP, x5c: Array(5).fill(x5cOf(leaves.podA!)[0]) })}.e30.AAAA`,
    ],
    [
      "payload not base64url",
      () => `${header({ alg: "ES256", typ: CHAIN_LINK_TYP, x5c: x5cOf(leaves.podA!) })}.@@@.AAAA`,
    ],
    ["signed payload not JSON", async () => signRaw("not json")],
    ["signed payload a JSON array", async () => signRaw("[]")],
    ["signed payload not UTF-8", async () => signRaw(new Uint8Array([0x7b, 0xff, 0x7d]))],
    ["claims missing sub", async () => craft(leaves.podA!, { sub: undefined })],
    ["sub not a SPIFFE ID", async () => craft(leaves.podA!, { sub: "https://evil" })],
    ["exp a string", async () => craft(leaves.podA!, { exp: "soon" as unknown as number })],
    ["jti missing", async () => craft(leaves.podA!, { jti: undefined })],
    ["prev not a string", async () => craft(leaves.podA!, { prev: 7 as unknown as string })],
    ["a good link then garbage", async () => `${await craft(leaves.podA!, {})},x.y.z`],
  ];

  async function signRaw(payload: string | Uint8Array): Promise<string> {
    const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
    return new CompactSign(bytes)
      .setProtectedHeader({ alg: "ES256", typ: CHAIN_LINK_TYP, x5c: x5cOf(leaves.podA!) })
      .sign(keyOf(leaves.podA!));
  }

  it.each(cases)("%s", async (name, make) => {
    const token = await make();
    const c = await code(verifier().verifyInbound(token, { self: B, peer: A }));
    expect(c).toBe(badSignature.has(name) ? "a2a.chain_bad_signature" : "a2a.chain_malformed");
  });

  it("a non-string token is refused too", async () => {
    expect(await code(verifier().verifyInbound(undefined as unknown as string, { self: B, peer: A }))).toBe(
      "a2a.chain_malformed",
    );
  });
});

describe("MemoryReplayCache", () => {
  it("forgets a jti once it expires and stays within maxEntries, refusing rather than evicting live ones", () => {
    const cache = new MemoryReplayCache({ maxEntries: 2 });
    expect(cache.claim("a", 1_000, 0)).toBe(true);
    expect(cache.claim("a", 1_000, 500)).toBe(false);
    expect(cache.claim("b", 5_000, 500)).toBe(true);
    expect(() => cache.claim("c", 5_000, 600)).toThrow(
      expect.objectContaining({ code: "a2a.chain_replay_cache_full" }),
    );
    expect(cache.claim("c", 5_000, 1_000)).toBe(true); // "a" expired and was swept from the front
    expect(cache.size).toBe(2);
    // A long-lived entry at the front does not hide expired ones behind it once the cache is full.
    const mixed = new MemoryReplayCache({ maxEntries: 2 });
    expect(mixed.claim("long", 10_000, 0)).toBe(true);
    expect(mixed.claim("short", 100, 0)).toBe(true);
    expect(mixed.claim("next", 3_000, 2_000)).toBe(true);
    expect(mixed.claim("long", 10_000, 2_000)).toBe(false);
  });

  it("a failing shared cache fails the request closed", async () => {
    const t1 = await pod(leaves.podA!).sign({ caller: A, target: B });
    const broken = { claim: () => Promise.reject(new Error("redis down")) };
    expect(await code(verifier({ replayCache: broken }).verifyInbound(t1, { self: B, peer: A }))).toBe(
      "a2a.chain_replay_check_failed",
    );
  });
});

describe("signer", () => {
  it("refuses to sign without a live SVID, or for non-SPIFFE parties", async () => {
    const src = new FakeWorkloadApi(leaves.podA!);
    const signer = new ChainSigner(src, { ...POD_OPTS, now: clock });
    expect(await code(signer.sign({ caller: "agent-a", target: B }))).toBe("a2a.chain_malformed");
    src.snapshot = { ...src.snapshot, svids: [] };
    expect(await code(signer.sign({ caller: A, target: B }))).toBe("a2a.chain_no_signing_identity");
    src.snapshot = { ...src.snapshot, svids: [{ ...svidOf(leaves.podA!, SIDECAR), expiresAt: new Date(nowMs - 1) }] };
    expect(await code(signer.sign({ caller: A, target: B }))).toBe("a2a.chain_no_signing_identity");
  });

  it("checks its options", () => {
    const src = new FakeWorkloadApi(leaves.podA!);
    expect(() => new ChainSigner(src, { ...POD_OPTS, ttlSeconds: 0 })).toThrow(TypeError);
    expect(() => new ChainSigner(src, { ...POD_OPTS, ttlSeconds: 120 })).toThrow(/maxLifetimeSeconds/);
    expect(() => new ChainSigner(src, { ...POD_OPTS, signers: ["hexr/authz"] })).toThrow(/signers/);
    expect(() => new ChainSigner(src, { ...POD_OPTS, signers: [`spiffe://${TD}/*`] })).toThrow(/signers/);
    expect(() => new ChainSigner(src, { ...POD_OPTS, maxDepth: 0 })).toThrow(/maxDepth/);
  });
});

describe("MemoryReplayCache shares", () => {
  it("one caller filling its share does not refuse another caller's links", async () => {
    const { MemoryReplayCache } = await import("../../../filters/a2a/chain.ts");
    const c = new MemoryReplayCache({ maxEntries: 64, maxPerCaller: 4 });
    const now = 1_000;
    for (let i = 0; i < 4; i++) expect(c.claim(`a${i}`, now + 60_000, now, "agent-a")).toBe(true);
    expect(() => c.claim("a4", now + 60_000, now, "agent-a")).toThrow(/share/);
    expect(c.claim("b0", now + 60_000, now, "agent-b")).toBe(true);
    expect(c.claim("a0", now + 60_000, now, "agent-a")).toBe(false); // still a replay
    // once the first links expire, the caller's share frees up
    expect(c.claim("a5", now + 200_000, now + 61_000, "agent-a")).toBe(true);
  });
});

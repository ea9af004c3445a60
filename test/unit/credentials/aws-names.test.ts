import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { awsSessionPolicy, checkTemplate, fillTemplate, roleSessionName } from "../../../filters/credentials/names.ts";
import { classifyStsError, xmlText } from "../../../filters/credentials/providers/aws-sts.ts";
import { CredentialSeal } from "../../../filters/credentials/sealed.ts";
import type { Caller } from "../../../filters/credentials/types.ts";

const caller: Caller = {
  spiffeId: "spiffe://hexr.cloud/agent/acme-corp/content-crew/researcher",
  trustDomain: "hexr.cloud",
  tenant: "acme-corp",
  agent: "content-crew",
  role: "researcher",
};
const SEGMENT = fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/);

describe("roleSessionName", () => {
  it("reads as the agent path and ends in a hash of the whole ID", () => {
    expect(roleSessionName(caller.spiffeId)).toMatch(/^acme-corp\.content-crew\.researcher-[0-9a-f]{10}$/);
  });

  it("is always 2–64 characters of AWS's alphabet, and distinct IDs never share a name", () => {
    fc.assert(
      fc.property(
        fc.array(SEGMENT, { minLength: 3, maxLength: 8 }),
        fc.array(SEGMENT, { minLength: 3, maxLength: 8 }),
        (a, b) => {
          const ia = `spiffe://td.example/agent/${a.join("/")}`;
          const ib = `spiffe://other.example/agent/${b.join("/")}`;
          const na = roleSessionName(ia);
          expect(na).toMatch(/^[\w+=,.@-]{2,64}$/);
          expect(na).not.toBe(roleSessionName(ib));
        },
      ),
    );
  });

  it("keeps IDs apart that read the same (a dot inside a segment)", () => {
    expect(roleSessionName("spiffe://td/agent/a.b/c/d")).not.toBe(roleSessionName("spiffe://td/agent/a/b.c/d"));
  });
});

describe("templates", () => {
  const ARN = /^arn:aws:iam::\d{12}:role\/[\w+=,.@-]{1,64}$/;
  it("fills the caller's names", () => {
    expect(fillTemplate("arn:aws:iam::123456789012:role/hexr-{tenant}-{role}", caller, "role", ARN)).toBe(
      "arn:aws:iam::123456789012:role/hexr-acme-corp-researcher",
    );
  });
  it.each([
    ["{constructor}", "unknown placeholder"],
    ["{Agent}", "brace that is not"],
    ["role/{agent", "brace that is not"],
  ])("rejects %s at load", (t, msg) => {
    expect(() => checkTemplate(t, "f")).toThrow(msg);
  });
  it("fails closed when the caller's names make an invalid value", () => {
    const long = { ...caller, agent: "a".repeat(80) };
    expect(() => fillTemplate("arn:aws:iam::123456789012:role/{agent}", long, "role", ARN)).toThrow(
      expect.objectContaining({ code: "credentials.bad_template" }),
    );
  });
});

describe("awsSessionPolicy", () => {
  it("allows exactly the request's actions on the named resources", () => {
    expect(JSON.parse(awsSessionPolicy(["s3:PutObject"], ["arn:aws:s3:::b/k"]) as string)).toEqual({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: ["s3:PutObject"], Resource: ["arn:aws:s3:::b/k"] }],
    });
  });
  it("is absent without resources, and an empty scope or one over AWS's limit is refused, never widened", () => {
    expect(awsSessionPolicy(["s3:GetObject"], undefined)).toBeUndefined();
    expect(() => awsSessionPolicy(["s3:GetObject"], [])).toThrow(
      expect.objectContaining({ code: "credentials.empty_scope" }),
    );
    const many = Array.from({ length: 30 }, (_, i) => `arn:aws:s3:::bucket-${i}/${"k".repeat(60)}`);
    expect(() => awsSessionPolicy(["s3:GetObject"], many)).toThrow(
      expect.objectContaining({ code: "credentials.scope_too_large" }),
    );
  });
});

describe("STS answers", () => {
  it("reads the credential fields and decodes entities", () => {
    const xml =
      "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><SessionToken>a&amp;b</SessionToken></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
    expect(xmlText(xml, "SessionToken")).toBe("a&b");
    expect(xmlText(xml, "AccessKeyId")).toBeUndefined();
    expect(xmlText("<Code>unterminated", "Code")).toBeUndefined();
  });

  it.each([
    [400, "InvalidIdentityToken", "credentials.token_rejected", "token"],
    [400, "ExpiredTokenException", "credentials.token_rejected", "token"],
    [400, "InvalidParameterValue", "credentials.token_rejected", "token"], // SeaweedFS: any token-content failure
    [400, "IDPCommunicationError", "credentials.issuer_unavailable", "transient"],
    [400, "Throttling", "credentials.issuer_unavailable", "transient"],
    [503, undefined, "credentials.issuer_unavailable", "transient"],
    [403, "AccessDenied", "credentials.issuer_denied", "never"],
    [400, "IDPRejectedClaim", "credentials.issuer_denied", "never"],
    [400, "MalformedPolicyDocument", "credentials.issuer_error", "never"],
    [400, "<script>", "credentials.issuer_error", "never"],
  ] as const)("HTTP %i %s → %s (%s)", (status, code, want, retry) => {
    const e = classifyStsError("aws", status, code);
    expect(e.code).toBe(want);
    expect(e.retry).toBe(retry);
    expect(e.message).not.toContain("<script>");
  });
});

describe("CredentialSeal", () => {
  const seal = new CredentialSeal(Buffer.alloc(32, 1));
  const cred = {
    kind: "aws" as const,
    accessKeyId: "ASIA1",
    secretAccessKey: "s3cr3t",
    sessionToken: "tok",
    expiresAt: 1,
  };
  it("round-trips, and refuses a value under another key id, a flipped bit or another key", () => {
    const id = seal.keyId("k");
    const box = seal.seal(id, cred);
    expect(seal.open(id, box)).toEqual(cred);
    expect(box.toString("latin1")).not.toContain("s3cr3t");
    expect(seal.open(seal.keyId("other"), box)).toBeUndefined();
    const flipped = Buffer.from(box);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
    expect(seal.open(id, flipped)).toBeUndefined();
    expect(new CredentialSeal(Buffer.alloc(32, 2)).open(id, box)).toBeUndefined();
    expect(seal.open(id, Buffer.from("garbage"))).toBeUndefined();
  });
  it("key ids reveal nothing of the cache key", () => {
    expect(seal.keyId("spiffe://hexr.cloud/agent/acme/crew/researcher")).not.toContain("acme");
  });
});

describe("Sha256 (the signer's hash)", () => {
  it("gives RFC 4231's HMAC-SHA256 answer and plain SHA-256, for string and byte keys, reused", async () => {
    const { Sha256 } = await import("../../../filters/credentials/sha256.ts");
    const want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    const hex = (u: Uint8Array) => Buffer.from(u).toString("hex");
    const key = new TextEncoder().encode("Jefe");
    for (let i = 0; i < 2; i++) {
      for (const k of ["Jefe", key]) {
        const h = new Sha256(k);
        h.update("what do ya want ");
        h.update(new TextEncoder().encode("for nothing?"));
        expect(hex(await h.digest())).toBe(want);
      }
    }
    const plain = new Sha256();
    plain.update("abc");
    expect(hex(await plain.digest())).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

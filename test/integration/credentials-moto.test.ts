/**
 * AWS STS and S3 semantics against moto (PyPI `moto[server]`): the session name we derive, the lifetimes
 * we ask for and the session policy are accepted the way AWS accepts them, and with moto's SigV4/IAM
 * enforcement on, S3 takes exactly the signature the sidecar computes (and refuses a wrong one).
 *
 * moto stands in for AWS's request handling only: it does not verify web-identity tokens (any JWT-shaped
 * string is accepted) and issues credentials even for roles that do not exist, so token verification and
 * role refusals are tested against SeaweedFS (credentials-seaweedfs.test.ts).
 */
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signAws } from "../../filters/credentials/inject.ts";
import { roleSessionName } from "../../filters/credentials/names.ts";
import { AwsStsProvider, xmlText } from "../../filters/credentials/providers/aws-sts.ts";
import type { Caller, IssuedCredential } from "../../filters/credentials/types.ts";
import { type MotoHarness, startMoto } from "../../sidecars/devtools/moto.ts";

const ACCOUNT = "123456789012";
const SETUP_KEYS = { accessKeyId: "AKIAIOSFODNN7SETUP00", secretAccessKey: "setup-secret-not-used-for-auth" };
const caller: Caller = {
  spiffeId: "spiffe://hexr.cloud/agent/acme-corp/content-crew/writer",
  trustDomain: "hexr.cloud",
  tenant: "acme-corp",
  agent: "content-crew",
  role: "writer",
};
const TRUST = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Federated: "spire" }, Action: "sts:AssumeRoleWithWebIdentity" }],
});

let moto: MotoHarness;
let enforcing: MotoHarness;

/** A Query-API call (IAM, STS) signed with `creds`. */
async function query(m: MotoHarness, service: string, params: Record<string, string>, creds = SETUP_KEYS) {
  const body = new URLSearchParams(params).toString();
  const url = new URL(m.endpoint);
  const signed = await new SignatureV4({
    credentials: creds,
    region: "us-east-1",
    service,
    sha256: Hash.bind(null, "sha256"),
  }).sign({
    method: "POST",
    protocol: "http:",
    hostname: url.hostname,
    port: Number(url.port),
    path: "/",
    headers: { host: url.host, "content-type": "application/x-www-form-urlencoded" },
    body,
  });
  const headers = { ...signed.headers };
  delete headers.host;
  const res = await fetch(m.endpoint, { method: "POST", headers, body });
  return { status: res.status, body: await res.text() };
}

async function setupRole(m: MotoHarness, name: string): Promise<void> {
  const r = await query(m, "iam", {
    Action: "CreateRole",
    Version: "2010-05-08",
    RoleName: name,
    AssumeRolePolicyDocument: TRUST,
    MaxSessionDuration: "7200",
  });
  expect(r.status, r.body).toBe(200);
  const p = await query(m, "iam", {
    Action: "PutRolePolicy",
    Version: "2010-05-08",
    RoleName: name,
    PolicyName: "s3",
    PolicyDocument: JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }],
    }),
  });
  expect(p.status, p.body).toBe(200);
}

/** moto reads no signature on the web identity token; a JWT-shaped one is enough. */
async function anyJwt(): Promise<string> {
  return new SignJWT({ sub: caller.spiffeId, aud: "sts.amazonaws.com" })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode("moto-does-not-check-this-key-0000"));
}

const provider = (m: MotoHarness) =>
  new AwsStsProvider({
    name: "aws",
    audience: "sts.amazonaws.com",
    roleArn: `arn:aws:iam::${ACCOUNT}:role/hexr-{role}`,
    endpoint: `${m.endpoint}/`,
  });

async function exchange(
  m: MotoHarness,
  durationSeconds: number,
  scope?: string[],
): Promise<IssuedCredential & { kind: "aws" }> {
  const c = await provider(m).exchange(
    { caller, durationSeconds, ...(scope ? { resources: scope, actions: ["s3:PutObject"] } : {}) },
    { token: await anyJwt(), expiresAt: Date.now() + 300_000, source: "presented" },
    AbortSignal.timeout(10_000),
  );
  if (c.kind !== "aws") throw new Error("expected AWS credentials");
  return c;
}

beforeAll(async () => {
  [moto, enforcing] = await Promise.all([startMoto(), startMoto({ initialNoAuthActionCount: 4 })]);
  await setupRole(moto, "hexr-writer");
  // the enforcing moto's four unauthenticated calls: the role, its policy, the bucket, then the (unsigned)
  // AssumeRoleWithWebIdentity, which moto's auth layer would otherwise refuse with a 500
  await setupRole(enforcing, "hexr-writer");
  const bucket = await fetch(`${enforcing.endpoint}/drafts`, { method: "PUT" });
  expect(bucket.status).toBe(200);
}, 60_000);

afterAll(async () => {
  await Promise.all([moto?.stop(), enforcing?.stop()]);
});

describe("AWS STS semantics (moto)", () => {
  it("assumes the templated role with our session name, visible as the caller's identity", async () => {
    const c = await exchange(moto, 900);
    const who = await query(moto, "sts", { Action: "GetCallerIdentity", Version: "2011-06-15" }, c);
    expect(who.status, who.body).toBe(200);
    expect(xmlText(who.body, "Arn")).toBe(
      `arn:aws:sts::${ACCOUNT}:assumed-role/hexr-writer/${roleSessionName(caller.spiffeId)}`,
    );
  });

  it("issues for the lifetime asked for", async () => {
    for (const seconds of [900, 3600]) {
      const c = await exchange(moto, seconds);
      expect(Math.abs(c.expiresAt - (Date.now() + seconds * 1000))).toBeLessThan(10_000);
    }
  });

  it("accepts the session policy we build for a scoped call", async () => {
    const c = await exchange(moto, 900, ["arn:aws:s3:::drafts", "arn:aws:s3:::drafts/*"]);
    expect(c.sessionToken.length).toBeGreaterThan(0);
  });
});

describe("SigV4 enforced by S3 (moto with IAM auth on)", () => {
  it("takes the sidecar's signature over a header-only PUT and refuses a wrong secret", async () => {
    const c = await exchange(enforcing, 900);
    const url = new URL(enforcing.endpoint);
    const send = async (cred: IssuedCredential & { kind: "aws" }) => {
      const inj = await signAws(cred, {
        method: "PUT",
        authority: url.host,
        path: "/drafts/signed.txt",
        headers: { "content-type": "text/plain" },
        service: "s3",
        region: "us-east-1",
      });
      const headers: Record<string, string> = { "content-type": "text/plain" };
      for (const [k, v] of inj.set) headers[k] = v;
      return fetch(`${enforcing.endpoint}/drafts/signed.txt`, { method: "PUT", headers, body: "signed" });
    };
    const ok = await send(c);
    expect(ok.status, await ok.text()).toBe(200);
    const bad = await send({ ...c, secretAccessKey: `${c.secretAccessKey.slice(0, -1)}x` });
    expect(bad.status).toBe(403);
    expect(await bad.text()).toContain("SignatureDoesNotMatch");
  });
});

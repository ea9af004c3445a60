/**
 * The credential stage's per-Check costs (issue 10's goals: an L1 hit adds ≤ 10 µs to a Check, an L2 hit
 * ≤ 0.3 ms, SigV4 ≤ 30 µs for a header-only request): the cache key, an L1 hit, a SigV4 signature of the
 * benchmark's header-only S3 PutObject (with the signer warm, and with a new credential object as every L2
 * hit has), the CPU half of an L2 hit (key id HMAC + AES-GCM open; the Redis round trip is in the
 * `hexr-authz-creds-l2` load scenario), and the whole stage on an L1 hit.
 *
 * The cache is warmed by one real exchange (AwsStsProvider against the STS stand-in, a stub token source:
 * no SPIRE here), which is then stopped: nothing below reaches an issuer.
 */
import { randomBytes } from "node:crypto";
import { CredentialCache, credentialKey } from "../../filters/credentials/cache.ts";
import { Exchanger } from "../../filters/credentials/exchange.ts";
import { signAws } from "../../filters/credentials/inject.ts";
import { AwsStsProvider } from "../../filters/credentials/providers/aws-sts.ts";
import { CredentialSeal } from "../../filters/credentials/sealed.ts";
import type { Caller, ExchangeRequest, IssuedCredential, TokenSource } from "../../filters/credentials/types.ts";
import { CredentialStage } from "../../sidecars/authz/credentials.ts";
import { startFakeSts } from "../servers/fake-aws-sts.ts";
import { SESSION_TOKEN_CHARS } from "../stacks/credentials.ts";
import { Writable } from "node:stream";
import { DecisionCache, DEFAULT_CATALOG, RateCounter, ServiceCatalog } from "../../filters/authz/index.ts";
import { JsonLinesAudit } from "../../sidecars/authz/audit.ts";
import { AuthzPipeline, type AuthzPipelineDeps } from "../../sidecars/authz/pipeline.ts";
import {
  envoyCertificates,
  envoyRequestHeaders,
  loadRbacEngine,
  type MicroSuite,
  TRUST_DOMAIN,
  WRITER,
} from "./harness.ts";

const HOST = "s3.amazonaws.com";
const PATH = "/drafts/reports/object.txt";
const SECONDS = 3600;

const caller: Caller = {
  spiffeId: WRITER,
  trustDomain: TRUST_DOMAIN,
  tenant: "acme-corp",
  agent: "content-crew",
  role: "writer",
};
/** What the seed policy's decision scopes a writer's PutObject in `drafts` to. */
const RESOURCES = ["arn:aws:s3:::drafts", "arn:aws:s3:::drafts/*"];
const req: ExchangeRequest = { caller, durationSeconds: SECONDS, resources: RESOURCES, actions: ["s3:PutObject"] };

/** A stand-in for the delegated source: the STS stand-in does not check the token. */
const tokens: TokenSource = {
  token: () => Promise.resolve({ token: "bench.jwt.svid", expiresAt: Date.now() + 300_000, source: "delegated" }),
};

function awsCredential(tokenChars: number): IssuedCredential & { kind: "aws" } {
  return {
    kind: "aws",
    accessKeyId: "ASIABENCHBENCHBENCH1",
    secretAccessKey: randomBytes(30).toString("base64"),
    sessionToken: randomBytes(tokenChars).toString("base64").slice(0, tokenChars),
    expiresAt: Date.now() + SECONDS * 1000,
  };
}

const suite: MicroSuite = async (bench, microCtx) => {
  const sts = await startFakeSts({ sessionTokenChars: SESSION_TOKEN_CHARS });
  const provider = new AwsStsProvider({
    name: "aws",
    audience: "sts.amazonaws.com",
    roleArn: "arn:aws:iam::123456789012:role/hexr-{tenant}-{agent}-{role}",
    endpoint: sts.url,
  });
  const cache = new CredentialCache({ exchanger: new Exchanger() });
  const stage = new CredentialStage({
    providers: new Map([["aws", { provider, durationSeconds: SECONDS, tokenSource: "delegated" }]]),
    cache,
    delegated: tokens,
  });
  try {
    const warm = await cache.lookup(provider, req, tokens);
    if (warm.tier !== "issuer") throw new Error(`warm-up lookup came from ${warm.tier}`);
  } finally {
    await sts.stop();
  }
  const hit = cache.lookup(provider, req, tokens);
  if (hit instanceof Promise || hit.tier !== "l1") throw new Error("the warm key is not an L1 hit");
  const headers = envoyRequestHeaders(HOST, "PUT", PATH);
  const target = { method: "PUT", authority: HOST, path: PATH, headers, service: "s3", region: "us-east-1" };
  const ctx = {
    kind: "aws" as const,
    caller,
    service: "aws_s3",
    actions: ["s3:PutObject"],
    resources: RESOURCES,
    method: "PUT",
    authority: HOST,
    path: PATH,
    headers,
  };
  const first = await stage.inject(ctx);
  if (first?.tier !== "l1" || !first.injection.set.some(([h]) => h === "authorization")) {
    throw new Error("CredentialStage.inject did not sign from L1");
  }

  const cred1k = awsCredential(1024);
  const cred2k = awsCredential(SESSION_TOKEN_CHARS);
  const seal = new CredentialSeal(randomBytes(32));
  const l2Key = `${provider.kind}\0${provider.target(caller)}\0${credentialKey(provider.name, req)}`;
  const id = seal.keyId(l2Key);
  const sealed = seal.seal(id, cred2k);

  bench.add("credentials: credentialKey (scoped PutObject)", () => {
    credentialKey("aws", req);
  });
  bench.add("credentials: CredentialCache.lookup (L1 hit)", () => {
    cache.lookup(provider, req, tokens);
  });
  bench.add("credentials: signAws header-only S3 PUT (warm signer, 1 KiB token)", async () => {
    await signAws(cred1k, target);
  });
  bench.add(
    `credentials: signAws header-only S3 PUT (warm signer, ${SESSION_TOKEN_CHARS / 1024} KiB token)`,
    async () => {
      await signAws(cred2k, target);
    },
  );
  // an L2 hit unseals a new credential object, so its signer (and signing key) are built again
  bench.add("credentials: signAws, new credential object (as after an L2 hit)", async () => {
    await signAws({ ...cred2k }, target);
  });
  bench.add("credentials: L2 hit CPU (target + keyId HMAC + AES-GCM open)", () => {
    seal.open(seal.keyId(`${provider.kind}\0${provider.target(caller)}\0${credentialKey(provider.name, req)}`), sealed);
  });
  bench.add("credentials: CredentialStage.inject (L1 hit + SigV4)", async () => {
    await stage.inject(ctx);
  });

  // the whole Check with and without the stage: what an L1 hit costs the pipeline, policy and audit included
  const engine = await loadRbacEngine(microCtx);
  const [cert] = await envoyCertificates([WRITER]);
  const snapshot = { engine, revision: "bench", generation: 1 };
  const deps: AuthzPipelineDeps = {
    trustDomains: new Set([TRUST_DOMAIN]),
    policy: { current: () => snapshot },
    catalog: ServiceCatalog.compile(DEFAULT_CATALOG),
    rate: new RateCounter(),
    cache: new DecisionCache(),
    audit: new JsonLinesAudit(new Writable({ write: (_c, _e, cb) => cb() })),
  };
  const plain = new AuthzPipeline(deps);
  const withCreds = new AuthzPipeline({ ...deps, credentials: stage });
  const check = {
    attributes: {
      source: { principal: WRITER, certificate: cert as string },
      request: { http: { method: "PUT", host: HOST, path: PATH, headers } },
    },
  };
  const warmCheck = await withCreds.check(check);
  if (!warmCheck.ok_response?.headers.some((h) => h.header.key === "authorization")) {
    throw new Error(
      `the pipeline did not inject a credential: ${JSON.stringify(warmCheck.denied_response?.body ?? warmCheck).slice(0, 300)}`,
    );
  }
  bench.add("credentials: AuthzPipeline.check, no credential stage", () => {
    plain.check(check);
  });
  bench.add("credentials: AuthzPipeline.check with the stage (L1 hit + SigV4)", async () => {
    await withCreds.check(check);
  });
};
export default suite;

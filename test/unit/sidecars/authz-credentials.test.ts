/**
 * The credential stage inside the pipeline: only after an allow, per verified caller, headers injected and
 * the client's removed, failures a 403 with the reason, the tier in the audit, no secret anywhere it
 * should not be. The issuer is an in-process double (the real STS exchanges are in test/integration).
 */
import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_CATALOG,
  type Decision,
  type OpaInput,
  RateCounter,
  ServiceCatalog,
} from "../../../filters/authz/index.ts";
import { CredentialCache } from "../../../filters/credentials/cache.ts";
import { Exchanger } from "../../../filters/credentials/exchange.ts";
import type { CredentialProvider, ExchangeRequest, IssuedCredential } from "../../../filters/credentials/types.ts";
import { CredentialError } from "../../../filters/credentials/types.ts";
import { MemoryAudit } from "../../../sidecars/authz/audit.ts";
import { CredentialStage } from "../../../sidecars/authz/credentials.ts";
import { AuthzPipeline, type PolicySource } from "../../../sidecars/authz/pipeline.ts";
import type { CheckResponse } from "../../../sidecars/authz/response.ts";
import { ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { authzMetrics } from "../../../filters/telemetry/catalog.ts";
import { Registry } from "../../../filters/telemetry/metrics.ts";
import { AuthzTelemetry } from "../../../sidecars/telemetry/authz.ts";
import { Tracing } from "../../../sidecars/telemetry/tracing.ts";
import { makeCa, makeLeaf } from "../../helpers/certs.ts";

const TD = "hexr.cloud";
const RESEARCHER = `spiffe://${TD}/agent/acme/crew/researcher`;
const SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRETKEY";
const SESSION = "FwoGZXIvYXdzSESSIONTOKENxyz";

class FakeSts implements CredentialProvider {
  readonly name = "aws";
  readonly kind = "aws" as const;
  readonly audience = "sts.test";
  readonly minDurationSeconds = 900;
  readonly maxDurationSeconds = 3600;
  readonly seen: ExchangeRequest[] = [];
  fail: CredentialError | undefined;
  target() {
    return "arn:aws:iam::123456789012:role/r";
  }
  async exchange(req: ExchangeRequest): Promise<IssuedCredential> {
    this.seen.push(req);
    if (this.fail) throw this.fail;
    return {
      kind: "aws",
      accessKeyId: "ASIAEXAMPLE",
      secretAccessKey: SECRET,
      sessionToken: SESSION,
      expiresAt: Date.now() + req.durationSeconds * 1000,
    };
  }
}

const ca = await makeCa("unit-ca");
const cert = encodeURIComponent((await makeLeaf(ca, { uris: [RESEARCHER] })).certPem);

/** Keeps every exported span. */
class KeptSpans implements SpanExporter {
  readonly spans: ReadableSpan[] = [];
  export(spans: ReadableSpan[], done: (r: { code: ExportResultCode }) => void): void {
    this.spans.push(...spans);
    done({ code: ExportResultCode.SUCCESS });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function setup(decide: (i: OpaInput) => Decision, telemetry?: AuthzTelemetry) {
  const sts = new FakeSts();
  const audit = new MemoryAudit();
  const policy: PolicySource = { current: () => ({ engine: { evaluate: decide }, revision: "r1", generation: 1 }) };
  // no presented token in these requests: the delegated double is what the stage falls back to
  const stage = new CredentialStage({
    providers: new Map([["aws", { provider: sts, durationSeconds: 900, tokenSource: "either" as const }]]),
    cache: new CredentialCache({ exchanger: new Exchanger({ transientRetries: 0 }) }),
    delegated: { token: async () => ({ token: "jwt", expiresAt: Date.now() + 60_000, source: "delegated" as const }) },
  });
  const p = new AuthzPipeline({
    trustDomains: new Set([TD]),
    policy,
    catalog: ServiceCatalog.compile(DEFAULT_CATALOG),
    rate: new RateCounter(),
    audit,
    credentials: stage,
    ...(telemetry ? { telemetry } : {}),
  });
  return { p, sts, audit };
}

function put(headers: Record<string, string> = {}, path = "/reports/q1.csv") {
  return {
    attributes: {
      source: { principal: RESEARCHER, certificate: cert },
      request: { http: { method: "PUT", host: "bucket-a.s3.eu-west-1.amazonaws.com", path, headers } },
    },
  };
}

function headerMap(r: CheckResponse): Record<string, string> {
  return Object.fromEntries((r.ok_response?.headers ?? []).map((h) => [h.header.key, h.header.value]));
}

/** SigV4 computed independently (AWS's documented algorithm) for a request without query or odd characters. */
function referenceSignature(
  method: string,
  path: string,
  signed: Record<string, string>,
  date: string,
  region: string,
) {
  const names = Object.keys(signed).sort();
  const canonical = [
    method,
    path,
    "",
    ...names.map((n) => `${n}:${(signed[n] as string).trim()}`),
    "",
    names.join(";"),
    signed["x-amz-content-sha256"],
  ].join("\n");
  const scope = `${date.slice(0, 8)}/${region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", date, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
  let k: Buffer = createHmac("sha256", `AWS4${SECRET}`).update(date.slice(0, 8)).digest();
  for (const part of [region, "s3", "aws4_request"]) k = createHmac("sha256", k).update(part).digest();
  return { signature: createHmac("sha256", k).update(toSign).digest("hex"), signedHeaders: names.join(";") };
}

const ALLOW = (): Decision => ({ allow: true, reasons: [] });

describe("credential stage in the pipeline", () => {
  it("signs an allowed S3 PUT with the caller's credential, over what Envoy forwards", async () => {
    const { p, sts } = setup(ALLOW);
    const r = await p.check(
      put({
        "x-amz-meta-owner": "acme",
        "content-type": "text/csv",
        "x-request-id": "abc",
        authorization: "AWS4-HMAC-SHA256 Credential=AKIDFAKE/…",
      }),
    );
    expect(r.status.code).toBe(0);
    const h = headerMap(r);
    expect(h["x-amz-security-token"]).toBe(SESSION);
    expect(h["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");
    const date = h["x-amz-date"] as string;
    const ref = referenceSignature(
      "PUT",
      "/reports/q1.csv",
      {
        host: "bucket-a.s3.eu-west-1.amazonaws.com",
        "content-type": "text/csv",
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        "x-amz-date": date,
        "x-amz-meta-owner": "acme",
        "x-amz-security-token": SESSION,
      },
      date,
      "eu-west-1",
    );
    expect(h.authorization).toBe(
      `AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/${date.slice(0, 8)}/eu-west-1/s3/aws4_request, SignedHeaders=${ref.signedHeaders}, Signature=${ref.signature}`,
    );
    // the client's own Authorization is replaced by the set, not removed after it
    expect(r.ok_response?.headers_to_remove).not.toContain("authorization");
    expect(sts.seen).toHaveLength(1);
    expect(sts.seen[0]?.caller.spiffeId).toBe(RESEARCHER);
  });

  it("never exchanges for a denied request", async () => {
    const { p, sts } = setup(() => ({ allow: false, reasons: ["role researcher may not write bucket-a"] }));
    const r = await p.check(put());
    expect(r.status.code).toBe(7);
    expect(sts.seen).toHaveLength(0);
  });

  it("narrows the credential to the resources the policy returned", async () => {
    const { p, sts } = setup(() => ({ allow: true, reasons: [], resources: ["arn:aws:s3:::bucket-a/reports/*"] }));
    await p.check(put());
    expect(sts.seen[0]).toMatchObject({ resources: ["arn:aws:s3:::bucket-a/reports/*"], actions: ["s3:PutObject"] });
  });

  it("answers 403 with the issuer's reason when the exchange fails, and audits no secret", async () => {
    const { p, sts, audit } = setup(ALLOW);
    sts.fail = new CredentialError(
      "credentials.issuer_denied",
      "aws: STS denied the role (AccessDenied)",
      "never",
      "AccessDenied",
    );
    const r = await p.check(put({ "x-hexr-svid": "not-used-here" }));
    expect(r.status.code).toBe(7);
    expect(JSON.parse(r.denied_response?.body ?? "{}").reasons).toEqual([
      "credentials.issuer_denied: aws: STS denied the role (AccessDenied)",
    ]);
    expect(audit.records.at(-1)).toMatchObject({ allow: false, credential_tier: null });
  });

  it("records the tier per decision and keeps credentials out of the audit", async () => {
    const { p, audit } = setup(ALLOW);
    await p.check(put());
    await p.check(put());
    expect(audit.records.map((a) => a.credential_tier)).toEqual(["issuer", "l1"]);
    expect(audit.records[0]?.credential_provider).toBe("aws");
    const text = JSON.stringify(audit.records);
    for (const s of [SECRET, SESSION, "ASIAEXAMPLE"]) expect(text).not.toContain(s);
  });

  it("refuses chunk-signed uploads and non-S3 bodies it cannot hash, with a reason", async () => {
    const { p } = setup(ALLOW);
    const r = await p.check(put({ "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" }));
    expect(r.status.code).toBe(7);
    expect(r.denied_response?.body).toContain("credentials.unsupported_payload_signing");
  });

  it("records a hexr.cache.lookup span under the decision, with no credential, token or signature in any span", async () => {
    const kept = new KeptSpans();
    const registry = new Registry();
    const tracing = Tracing.start(
      {
        endpoint: "http://127.0.0.1:1",
        ratio: 1,
        serviceName: "t",
        maxQueue: 64,
        maxBatch: 1,
        flushIntervalMs: 10,
        exportTimeoutMs: 100,
      },
      undefined,
      kept,
    );
    const { p } = setup(ALLOW, new AuthzTelemetry(authzMetrics(registry, { agentLabels: false }), tracing));
    const r = await p.check(put({ "x-hexr-svid": "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzcGlmZmUifQ.sig-presented" }));
    // the same credential from L1, but a request the signer refuses: no credential, an error span
    await p.check(put({ "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" }));
    await tracing.flush();
    const lookups = kept.spans.filter((s) => s.name === "hexr.cache.lookup");
    expect(lookups.map((s) => s.attributes["hexr.credential.tier"])).toEqual(["issuer", "none"]);
    expect(lookups[1]?.status).toMatchObject({ code: 2, message: "credentials.unsupported_payload_signing" });
    const check = kept.spans.find((s) => s.name === "hexr.authz.check");
    expect(lookups[0]?.parentSpanContext?.spanId).toBe(check?.spanContext().spanId);
    const text = JSON.stringify(kept.spans.map((s) => ({ n: s.name, a: s.attributes, e: s.events, st: s.status })));
    for (const secret of [SECRET, SESSION, "ASIAEXAMPLE", headerMap(r).authorization as string, "sig-presented"]) {
      expect(text).not.toContain(secret);
    }
    expect(registry.exposition()).toContain("hexr_credentials_cache_lookups_total");
    await tracing.shutdown();
  });

  it("leaves services without credentials untouched", async () => {
    const { p, sts } = setup(ALLOW);
    const r = await p.check({
      attributes: {
        source: { principal: RESEARCHER, certificate: cert },
        request: { http: { method: "POST", host: "api.openai.com", path: "/v1/chat/completions", headers: {} } },
      },
    });
    expect(r.status.code).toBe(0);
    expect(headerMap(r).authorization).toBeUndefined();
    expect(sts.seen).toHaveLength(0);
  });
});

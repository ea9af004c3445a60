import { describe, expect, it } from "vitest";
import { RateCounter, ServiceCatalog, DEFAULT_CATALOG } from "../../../filters/authz/index.ts";
import type { Decision, OpaInput } from "../../../filters/authz/index.ts";
import { MemoryAudit } from "../../../sidecars/authz/audit.ts";
import {
  AuthzPipeline,
  type CheckRequestLike,
  headersToRemove,
  type PolicySource,
} from "../../../sidecars/authz/pipeline.ts";
import type { CheckResponse } from "../../../sidecars/authz/response.ts";
import { makeCa, makeLeaf } from "../../helpers/certs.ts";

const TD = "hexr.cloud";
const RESEARCHER = `spiffe://${TD}/agent/acme-corp/content-crew/researcher`;

function pipelineWith(policy: PolicySource, audit = new MemoryAudit()) {
  return {
    audit,
    p: new AuthzPipeline({
      trustDomains: new Set([TD]),
      policy,
      catalog: ServiceCatalog.compile(DEFAULT_CATALOG),
      rate: new RateCounter(),
      audit,
      now: () => Date.parse("2026-01-15T10:30:00Z"),
    }),
  };
}

/** The mTLS-only path must answer synchronously (no promise, no microtask). */
function checkNow(p: AuthzPipeline, request: CheckRequestLike): CheckResponse {
  const r = p.check(request);
  if (r instanceof Promise) throw new Error("expected a synchronous CheckResponse");
  return r;
}

function engineOf(fn: (input: OpaInput) => Decision): PolicySource {
  return { current: () => ({ engine: { evaluate: fn }, revision: "r1", generation: 1 }) };
}

const ca = await makeCa("unit-ca");
const cert = encodeURIComponent((await makeLeaf(ca, { uris: [RESEARCHER] })).certPem);

function req(headers: Record<string, string> = {}) {
  return {
    attributes: {
      source: { principal: RESEARCHER, certificate: cert },
      request: {
        http: { method: "POST", host: "bigquery.googleapis.com", path: "/bigquery/v2/projects/p/queries?x=1", headers },
      },
    },
  };
}

describe("AuthzPipeline", () => {
  it("allows with the decision id toward the upstream and builds the DESIGN.md input", () => {
    let seen: OpaInput | undefined;
    const { p, audit } = pipelineWith(
      engineOf((i) => {
        seen = i;
        return { allow: true, reasons: [] };
      }),
    );
    const r = checkNow(p, req({ "content-type": "application/json", authorization: "Bearer secret-token" }));
    expect(r.status.code).toBe(0);
    const id = r.ok_response!.headers[0]!.header;
    expect(id.key).toBe("x-hexr-decision-id");
    expect(seen).toMatchObject({
      spiffe_id: RESEARCHER,
      tenant: "acme-corp",
      agent: "content-crew",
      role: "researcher",
      service: "gcp_bigquery",
      action: "bigquery.jobs.create",
      actions: [{ action: "bigquery.jobs.create", resource: { project: "p" } }],
      resource: { project: "p" },
      timestamp: "2026-01-15T10:30:00Z",
      rate: { agent_calls_last_minute: 1 },
    });
    expect(seen!.request.path).toBe("/bigquery/v2/projects/p/queries");
    expect(seen!.request.headers).toEqual({ "content-type": "application/json" });
    expect(audit.records[0]).toMatchObject({ decision_id: id.value, allow: true, policy_revision: "r1" });
    expect(JSON.stringify(audit.records)).not.toContain("secret-token");
  });

  it("denies with a 403 JSON body listing the policy's reasons", () => {
    const { p } = pipelineWith(engineOf(() => ({ allow: false, reasons: ["role writer may not use gcp_bigquery"] })));
    const r = checkNow(p, req());
    expect(r.status.code).toBe(7);
    expect(r.denied_response!.status.code).toBe(403);
    const body = JSON.parse(r.denied_response!.body);
    expect(body).toMatchObject({ decision: "deny", reasons: ["role writer may not use gcp_bigquery"] });
    expect(r.denied_response!.headers.find((h) => h.header.key === "x-hexr-decision-id")!.header.value).toBe(
      body.decision_id,
    );
  });

  it("fails closed when no policy has loaded", () => {
    const { p } = pipelineWith({ current: () => undefined });
    const r = checkNow(p, req());
    expect(r.denied_response!.status.code).toBe(403);
    expect(JSON.parse(r.denied_response!.body).reasons[0]).toMatch(/^policy\.unavailable/);
  });

  it("fails closed, without leaking the error, when a stage throws", () => {
    const { p } = pipelineWith(
      engineOf(() => {
        throw new Error("boom: secret-ish internals");
      }),
    );
    const r = checkNow(p, req());
    expect(r.denied_response!.status.code).toBe(403);
    expect(r.denied_response!.body).not.toContain("secret-ish");
    expect(JSON.parse(r.denied_response!.body).reasons).toEqual(["internal.error: authorization failed"]);
  });

  it.each([
    ["no attributes at all", {}],
    ["no peer", { attributes: { request: { http: { method: "GET", host: "x", path: "/" } } } }],
    ["a garbage certificate", { attributes: { source: { certificate: "%%%not a cert" } } }],
  ])("%s → 403 with an identity reason, policy never consulted", (_n, request) => {
    let called = false;
    const { p } = pipelineWith(
      engineOf(() => {
        called = true;
        return { allow: true, reasons: [] };
      }),
    );
    const r = checkNow(p, request);
    expect(r.denied_response!.status.code).toBe(403);
    expect(JSON.parse(r.denied_response!.body).reasons[0]).toMatch(/^identity\./);
    expect(called).toBe(false);
  });

  it("identity comes from the peer certificate, never from headers", () => {
    let seen: OpaInput | undefined;
    const { p } = pipelineWith(
      engineOf((i) => {
        seen = i;
        return { allow: true, reasons: [] };
      }),
    );
    checkNow(
      p,
      req({ "x-hexr-spiffe-id": `spiffe://${TD}/agent/acme-corp/content-crew/admin`, "x-hexr-role": "admin" }),
    );
    expect(seen!.role).toBe("researcher");
    expect(seen!.request.headers).toEqual({});
  });

  it("classifies with the query and headers: a copy needs the read of its source, and the audit says so", () => {
    let seen: OpaInput | undefined;
    const { p, audit } = pipelineWith(
      engineOf((i) => {
        seen = i;
        return { allow: false, reasons: ["role writer may not perform s3:GetObject on aws_s3"] };
      }),
    );
    const r = checkNow(p, {
      attributes: {
        source: { principal: RESEARCHER, certificate: cert },
        request: {
          http: {
            method: "PUT",
            host: "s3.amazonaws.com",
            path: "/drafts/post.md?x-id=CopyObject",
            headers: { "x-amz-copy-source": "finance/q1.csv" },
          },
        },
      },
    });
    expect(r.status.code).toBe(7);
    expect(seen).toMatchObject({
      service: "aws_s3",
      action: "s3:PutObject",
      resource: { bucket: "drafts", key: "post.md", copy_source: { bucket: "finance", key: "q1.csv" } },
    });
    expect(seen!.actions.map((a) => a.action)).toEqual(["s3:PutObject", "s3:GetObject"]);
    expect(seen!.request.path).toBe("/drafts/post.md");
    expect(audit.records[0]).toMatchObject({ action: "s3:PutObject", actions: ["s3:PutObject", "s3:GetObject"] });
  });

  it("a method-override header is removed before the upstream; one naming another method is unknown", () => {
    const seen: OpaInput[] = [];
    const { p } = pipelineWith(
      engineOf((i) => {
        seen.push(i);
        return { allow: true, reasons: [] };
      }),
    );
    const at = (method: string, override: string) => ({
      attributes: {
        source: { principal: RESEARCHER, certificate: cert },
        request: {
          http: {
            method,
            host: "reports.s3.amazonaws.com",
            path: "/k",
            headers: { "x-http-method-override": override },
          },
        },
      },
    });
    const same = checkNow(p, at("GET", "GET"));
    expect(same.ok_response!.headers_to_remove).toContain("x-http-method-override");
    expect(seen[0]!.action).toBe("s3:GetObject");
    const other = checkNow(p, at("GET", "DELETE"));
    expect(other.ok_response!.headers_to_remove).toContain("x-http-method-override");
    expect(seen[1]!.action).toBe("unknown");
  });
});

describe("headersToRemove", () => {
  it.each([
    [{ "x-hexr-role": "a", "x-hexr-spiffe-id": "b", "content-type": "c" }, ["x-hexr-role", "x-hexr-spiffe-id"]],
    [{ "x-forwarded-client-cert": "By=…" }, ["x-forwarded-client-cert"]],
    [{ "x-hexr-decision-id": "spoof" }, []], // overwritten by ours, so not removed (removal would drop ours)
    [{ "x-hexr": "no dash suffix", "x-hexrole": "lookalike" }, []],
    [
      { "x-http-method-override": "DELETE", "x-http-method": "PUT", "x-method-override": "GET", "x-methods": "x" },
      ["x-http-method-override", "x-http-method", "x-method-override"],
    ],
    [{}, []],
  ])("%j → %j", (headers, removed) => {
    expect(headersToRemove(headers)).toEqual(removed);
  });
});

import { describe, expect, it } from "vitest";
import {
  allowListHeaders,
  buildInput,
  DEFAULT_CATALOG,
  FORBIDDEN_HEADERS,
  HEADER_ALLOW_LIST,
  MAX_RESOURCE_NAME_LENGTH,
  rfc3339Seconds,
  ServiceCatalog,
} from "../../../filters/authz/index.ts";

const principal = {
  spiffeId: "spiffe://hexr.cloud/agent/acme-corp/content-crew/researcher",
  trustDomain: "hexr.cloud",
  tenant: "acme-corp",
  agent: "content-crew",
  role: "researcher",
  subPath: [],
};

describe("buildInput", () => {
  it("produces exactly the DESIGN.md shape", () => {
    const input = buildInput({
      principal,
      service: "gcp_bigquery",
      action: "bigquery.jobs.create",
      actions: [{ action: "bigquery.jobs.create", resource: { project: "p" } }],
      resource: { project: "p" },
      method: "POST",
      host: "BigQuery.googleapis.com:443",
      path: "/bigquery/v2/projects/p/queries",
      headers: { "content-type": "application/json" },
      now: Date.UTC(2026, 0, 15, 10, 30, 0, 999),
      callsLastMinute: 12,
    });
    expect(input).toEqual({
      spiffe_id: "spiffe://hexr.cloud/agent/acme-corp/content-crew/researcher",
      tenant: "acme-corp",
      agent: "content-crew",
      role: "researcher",
      service: "gcp_bigquery",
      action: "bigquery.jobs.create",
      actions: [{ action: "bigquery.jobs.create", resource: { project: "p" } }],
      resource: { project: "p" },
      timestamp: "2026-01-15T10:30:00Z",
      request: {
        method: "POST",
        host: "bigquery.googleapis.com",
        path: "/bigquery/v2/projects/p/queries",
        headers: { "content-type": "application/json" },
      },
      rate: { agent_calls_last_minute: 12 },
    });
    expect(Object.keys(input)).not.toContain("a2a");
  });

  it("without catalog facts: resource {} and the action as the only required action", () => {
    const input = buildInput({
      principal,
      service: "unknown",
      action: "get",
      method: "GET",
      host: "example.com",
      path: "/",
      headers: {},
      now: 0,
      callsLastMinute: 1,
    });
    expect(input.resource).toEqual({});
    expect(input.actions).toEqual([{ action: "get", resource: {} }]);
  });

  const catalog = ServiceCatalog.compile(DEFAULT_CATALOG);
  it.each([
    [
      "CopyObject: the target, the copy source, and the read it needs",
      "PUT",
      "s3.amazonaws.com",
      "/drafts/post.md?x-id=CopyObject",
      { "x-amz-copy-source": "finance/q1.csv" },
      { bucket: "drafts", key: "post.md", copy_source: { bucket: "finance", key: "q1.csv" } },
      ["s3:PutObject", "s3:GetObject"],
    ],
    ["bucket ACL read", "GET", "reports.s3.amazonaws.com", "/?acl", {}, { bucket: "reports" }, ["s3:GetBucketAcl"]],
    [
      "Azure copy",
      "PUT",
      "acct.blob.core.windows.net",
      "/c01/b.txt",
      { "x-ms-copy-source": "https://oth.blob.core.windows.net/c02/s.txt" },
      {
        account: "acct",
        container: "c01",
        blob: "b.txt",
        copy_source: { account: "oth", container: "c02", blob: "s.txt" },
      },
      [
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
      ],
    ],
    [
      "BigQuery project",
      "POST",
      "bigquery.googleapis.com",
      "/bigquery/v2/projects/acme/queries",
      {},
      { project: "acme" },
      ["bigquery.jobs.create"],
    ],
  ] as const)("resource facts from the catalog: %s", (_n, method, host, path, headers, resource, actions) => {
    const op = catalog.classify(method, host, path, headers)!;
    const input = buildInput({
      principal,
      service: op.service,
      action: op.action,
      actions: op.actions,
      resource: op.resource,
      method,
      host,
      path: path.split("?")[0]!,
      headers: {},
      now: 0,
      callsLastMinute: 1,
    });
    expect(input.resource).toEqual(resource);
    expect(input.actions.map((a) => a.action)).toEqual(actions);
    expect(input.action).toBe(actions[0]);
    // the input is JSON for the WASM engine: resource facts survive the round trip unchanged
    expect(JSON.parse(JSON.stringify(input)).resource).toEqual(resource);
  });

  it("resource names are bounded: longer keys are not facts but unknown requests", () => {
    const long = "k".repeat(MAX_RESOURCE_NAME_LENGTH + 1);
    expect(catalog.classify("GET", "s3.amazonaws.com", `/b-1/${long}`)?.resource).toEqual({});
    const max = "k".repeat(MAX_RESOURCE_NAME_LENGTH);
    expect(catalog.classify("GET", "s3.amazonaws.com", `/b-1/${max}`)?.resource).toEqual({ bucket: "b-1", key: max });
  });

  it("adds the a2a block when given", () => {
    const input = buildInput({
      principal,
      service: "a2a",
      action: "SendMessage",
      method: "POST",
      host: "writer.agents.local",
      path: "/",
      headers: {},
      now: 0,
      callsLastMinute: 1,
      a2a: {
        caller: "spiffe://hexr.cloud/agent/acme-corp/crew/researcher",
        target: "writer",
        method: "SendMessage",
        version: "1.0",
        binding: "jsonrpc",
        chain: [],
      },
    });
    expect(input.a2a).toEqual({
      caller: "spiffe://hexr.cloud/agent/acme-corp/crew/researcher",
      target: "writer",
      method: "SendMessage",
      version: "1.0",
      binding: "jsonrpc",
      chain: [],
    });
  });

  it.each([
    [Date.UTC(2026, 0, 15, 10, 30, 0, 0), "2026-01-15T10:30:00Z"],
    [Date.UTC(2026, 0, 15, 10, 30, 0, 999), "2026-01-15T10:30:00Z"],
    [Date.UTC(2026, 0, 15, 10, 30, 1, 0), "2026-01-15T10:30:01Z"],
    [Date.UTC(2026, 11, 31, 23, 59, 59, 500), "2026-12-31T23:59:59Z"],
    [0, "1970-01-01T00:00:00Z"],
  ])("timestamp for %i ms is %s (whole seconds, UTC)", (ms, want) => {
    expect(rfc3339Seconds(ms)).toBe(want);
  });
});

describe("allowListHeaders", () => {
  it("keeps allow-listed headers only, lowercased", () => {
    const out = allowListHeaders({
      "Content-Type": "application/json",
      "user-agent": "openai-python/2.0",
      "x-request-id": "r-1",
      traceparent: "00-abc-def-01",
      authorization: "Bearer secret",
      cookie: "session=secret",
      "x-api-key": "sk-secret",
      "x-amz-security-token": "secret",
      "x-hexr-decision-id": "forged",
      "x-forwarded-client-cert": "By=spiffe://forged",
      "x-custom": "nope",
    });
    expect(out).toEqual({
      "content-type": "application/json",
      "user-agent": "openai-python/2.0",
      "x-request-id": "r-1",
      traceparent: "00-abc-def-01",
    });
  });

  it("never passes credential or x-hexr-* headers, even when a custom list names them", () => {
    const allow = new Set(["authorization", "cookie", "x-hexr-role", "x-tenant"]);
    expect(
      allowListHeaders({ Authorization: "Bearer t", cookie: "c", "x-hexr-role": "admin", "x-tenant": "acme" }, allow),
    ).toEqual({
      "x-tenant": "acme",
    });
  });

  it("joins repeated values and truncates long ones", () => {
    const out = allowListHeaders({ accept: ["a", "b"], "user-agent": "x".repeat(5000) });
    expect(out.accept).toBe("a, b");
    expect(out["user-agent"]).toHaveLength(512);
  });

  it("the default list holds no credential header", () => {
    for (const h of HEADER_ALLOW_LIST) expect(FORBIDDEN_HEADERS.has(h)).toBe(false);
    expect(HEADER_ALLOW_LIST).not.toContain("authorization");
    expect(HEADER_ALLOW_LIST).not.toContain("cookie");
  });
});

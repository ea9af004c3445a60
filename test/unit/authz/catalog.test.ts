import { describe, expect, it } from "vitest";
import { DEFAULT_CATALOG, normalizeHost, ServiceCatalog, UNKNOWN_ACTION } from "../../../filters/authz/index.ts";

const catalog = ServiceCatalog.compile(DEFAULT_CATALOG);

describe("default catalog", () => {
  it.each([
    // S3, path style
    ["GET", "s3.amazonaws.com", "/", "aws_s3", "ListAllMyBuckets"],
    ["GET", "s3.amazonaws.com", "/reports", "aws_s3", "ListBucket"],
    ["GET", "s3.amazonaws.com", "/reports/", "aws_s3", "ListBucket"],
    ["HEAD", "s3.us-east-1.amazonaws.com", "/reports", "aws_s3", "HeadBucket"],
    ["GET", "s3.us-east-1.amazonaws.com", "/reports/2026/q1.csv", "aws_s3", "GetObject"],
    ["HEAD", "s3.eu-west-1.amazonaws.com", "/reports/q1.csv", "aws_s3", "HeadObject"],
    ["PUT", "s3.amazonaws.com", "/reports/q1.csv", "aws_s3", "PutObject"],
    ["PUT", "s3.amazonaws.com", "/reports", "aws_s3", "CreateBucket"],
    ["DELETE", "s3.amazonaws.com", "/reports/q1.csv", "aws_s3", "DeleteObject"],
    ["POST", "s3.amazonaws.com", "/reports/big.bin", "aws_s3", "PutObject"],
    ["GET", "s3.dualstack.us-west-2.amazonaws.com", "/b/k", "aws_s3", "GetObject"],
    // S3, virtual-hosted style (bucket in the host; dotted bucket names too)
    ["GET", "reports.s3.amazonaws.com", "/", "aws_s3", "ListBucket"],
    ["GET", "reports.s3.amazonaws.com", "/2026/q1.csv", "aws_s3", "GetObject"],
    ["PUT", "reports.s3.us-east-1.amazonaws.com", "/q1.csv", "aws_s3", "PutObject"],
    ["DELETE", "my.dotted.bucket.s3.eu-central-1.amazonaws.com", "/k", "aws_s3", "DeleteObject"],
    ["HEAD", "reports.s3.amazonaws.com", "/k", "aws_s3", "HeadObject"],
    ["GET", "reports.s3.amazonaws.com", "/a//b", "aws_s3", "GetObject"],
    // query strings never change the action
    ["GET", "reports.s3.amazonaws.com", "/?list-type=2&prefix=a", "aws_s3", "ListBucket"],
    // BigQuery
    ["POST", "bigquery.googleapis.com", "/bigquery/v2/projects/p1/queries", "gcp_bigquery", "query"],
    [
      "GET",
      "bigquery.googleapis.com",
      "/bigquery/v2/projects/p1/queries/job_1?maxResults=10",
      "gcp_bigquery",
      "getQueryResults",
    ],
    ["POST", "bigquery.googleapis.com", "/bigquery/v2/projects/p1/jobs", "gcp_bigquery", "insertJob"],
    ["GET", "bigquery.googleapis.com", "/bigquery/v2/projects/p1/datasets", "gcp_bigquery", "listDatasets"],
    ["GET", "bigquery.googleapis.com", "/bigquery/v2/projects/p1/datasets/d/tables", "gcp_bigquery", "listTables"],
    [
      "GET",
      "bigquery.googleapis.com",
      "/bigquery/v2/projects/p1/datasets/d/tables/t/data",
      "gcp_bigquery",
      "listTableData",
    ],
    // GCS
    ["GET", "storage.googleapis.com", "/storage/v1/b/bkt/o", "gcp_storage", "listObjects"],
    ["GET", "storage.googleapis.com", "/storage/v1/b/bkt/o/dir%2Ffile.txt", "gcp_storage", "getObject"],
    ["POST", "storage.googleapis.com", "/upload/storage/v1/b/bkt/o", "gcp_storage", "insertObject"],
    ["GET", "storage.googleapis.com", "/bkt/dir/file.txt", "gcp_storage", "getObject"],
    ["GET", "bkt.storage.googleapis.com", "/dir/file.txt", "gcp_storage", "getObject"],
    // Azure Blob
    ["GET", "acct.blob.core.windows.net", "/container/dir/blob.txt", "azure_blob", "GetBlob"],
    ["PUT", "acct.blob.core.windows.net", "/container/blob.txt", "azure_blob", "PutBlob"],
    ["GET", "acct.blob.core.windows.net", "/container", "azure_blob", "ListBlobs"],
    // LLM providers
    ["POST", "api.openai.com", "/v1/chat/completions", "openai", "chat.completions.create"],
    ["POST", "api.openai.com", "/v1/responses", "openai", "responses.create"],
    ["POST", "api.openai.com", "/v1/embeddings", "openai", "embeddings.create"],
    ["POST", "api.anthropic.com", "/v1/messages", "anthropic", "messages.create"],
    ["POST", "api.anthropic.com", "/v1/messages/count_tokens", "anthropic", "messages.count_tokens"],
  ])("%s %s%s → %s %s", (method, host, path, service, action) => {
    expect(catalog.resolve(method, host, path)).toMatchObject({ service, action });
  });

  it.each([
    ["S3.AMAZONAWS.COM", "aws_s3"],
    ["s3.amazonaws.com:443", "aws_s3"],
    ["Reports.S3.Amazonaws.com:8443", "aws_s3"],
    ["s3.amazonaws.com.", "aws_s3"],
    ["API.OpenAI.com", "openai"],
  ])("host %j is compared lowercase, without port or trailing dot → %s", (host, service) => {
    expect(catalog.resolve("GET", host, "/b/k")?.service).toBe(service);
  });

  it.each([
    "s3.amazonaws.com.evil.com",
    "evils3.amazonaws.com",
    "s3-amazonaws.com",
    "amazonaws.com",
    "s3.amazonaws.co",
    "s3.us-east-1.amazonaws.com.evil.com",
    ".s3.amazonaws.com",
    "a..s3.amazonaws.com",
    "api.openai.com.evil.com",
    "evilapi.openai.com",
    "openai.com",
    "blob.core.windows.net",
    "acct.blob.core.windows.net.evil.com",
    "bigquery.googleapis.com.evil.com",
    "localhost",
    "10.0.0.1",
    "[::1]:443",
    "",
  ])("unknown host %j → undefined", (host) => {
    expect(catalog.resolve("GET", host, "/b/k")).toBeUndefined();
  });

  it.each([
    ["GET", "api.openai.com", "/v1/files"],
    ["DELETE", "api.openai.com", "/v1/chat/completions"],
    ["PATCH", "s3.amazonaws.com", "/b/k"],
    ["GET", "api.anthropic.com", "/v1/messages/../../v1/models"],
    ["GET", "reports.s3.amazonaws.com", "/a/%2e%2e/b"],
    ["GET", "s3.amazonaws.com", "http://s3.amazonaws.com/b/k"],
    ["get", "s3.amazonaws.com", "/b/k"],
  ])("known host, uncovered or suspicious request %s %s%s → action 'unknown'", (method, host, path) => {
    expect(catalog.resolve(method, host, path)).toMatchObject({ action: UNKNOWN_ACTION });
  });

  it("carries the credential kind for the sidecar", () => {
    expect(catalog.resolve("GET", "s3.amazonaws.com", "/b/k")?.credentials).toBe("aws");
    expect(catalog.resolve("POST", "bigquery.googleapis.com", "/bigquery/v2/projects/p/queries")?.credentials).toBe(
      "gcp",
    );
    expect(catalog.resolve("GET", "a.blob.core.windows.net", "/c/b")?.credentials).toBe("azure");
    expect(catalog.resolve("POST", "api.openai.com", "/v1/responses")?.credentials).toBeUndefined();
  });

  it("returns the same prebuilt result object (no allocation per request)", () => {
    expect(catalog.resolve("GET", "s3.amazonaws.com", "/b/k")).toBe(catalog.resolve("GET", "s3.amazonaws.com", "/x/y"));
  });

  it("lists its services", () => {
    expect([...catalog.services].sort()).toEqual([
      "anthropic",
      "aws_s3",
      "azure_blob",
      "gcp_bigquery",
      "gcp_storage",
      "openai",
    ]);
  });
});

describe("catalog patterns", () => {
  const c = ServiceCatalog.compile([
    {
      service: "svc",
      hosts: ["api.example.com", "*.tenants.example.com", "api.*.example.com"],
      actions: [
        { method: "GET", path: "/v1/items/*", action: "get" },
        { method: "*", path: "/v1/items/**", action: "deep" },
        { method: "GET", path: "/", action: "root" },
        { method: "GET", path: "/v2/*/list", action: "list" },
      ],
    },
  ]);

  it.each([
    ["GET", "/v1/items/1", "get"],
    ["POST", "/v1/items/1", "deep"],
    ["GET", "/v1/items/1/parts/2", "deep"],
    ["GET", "/", "root"],
    ["GET", "", UNKNOWN_ACTION],
    ["GET", "/v1/items", UNKNOWN_ACTION], // ** needs at least one segment
    ["GET", "/v2/a/list", "list"],
    ["GET", "/v2//list", UNKNOWN_ACTION], // * needs a non-empty segment
    ["GET", "/v1/items//", "deep"], // ** takes any rest, empty segments included (S3 keys may hold "//")
    ["GET", "/V1/items/1", UNKNOWN_ACTION], // paths are case-sensitive
  ])("%s %j → %s", (method, path, action) => {
    expect(c.resolve(method, "api.example.com", path)?.action).toBe(action);
  });

  it.each([
    ["a.tenants.example.com", true],
    ["a.b.tenants.example.com", true], // leading *. is any depth
    ["tenants.example.com", false], // never the bare domain
    ["api.eu.example.com", true], // inner * is exactly one label
    ["api.eu.west.example.com", false],
    ["api..example.com", false],
  ])("host %s matches: %s", (host, ok) => {
    expect(c.resolve("GET", host, "/") !== undefined).toBe(ok);
  });

  it.each([
    [[{ service: "Bad", hosts: ["a.b.com"], actions: [] }], "service"],
    [[{ service: "s", hosts: [], actions: [] }], "hosts"],
    [[{ service: "s", hosts: ["*.com"], actions: [] }], "hosts[0]"],
    [[{ service: "s", hosts: ["a.*"], actions: [] }], "hosts[0]"],
    [[{ service: "s", hosts: ["A.B.com"], actions: [] }], "hosts[0]"],
    [[{ service: "s", hosts: ["a.b.com"], actions: [{ method: "GET", path: "/**/x", action: "a" }] }], "path"],
    [[{ service: "s", hosts: ["a.b.com"], actions: [{ method: "GET", path: "no-slash", action: "a" }] }], "path"],
    [[{ service: "s", hosts: ["a.b.com"], actions: [{ method: "get", path: "/", action: "a" }] }], "method"],
    [[{ service: "s", hosts: ["a.b.com"], actions: [{ method: "GET", path: "/", action: "" }] }], "action"],
    [[{ service: "s", hosts: ["a.b.com"], actions: [], credentials: "ibm" }], "credentials"],
    [
      [
        { service: "s", hosts: ["a.b.com"], actions: [] },
        { service: "t", hosts: ["a.b.com"], actions: [] },
      ],
      "twice",
    ],
    [{ not: "a list" }, "list"],
  ])("rejects invalid entries with catalog.invalid naming the field (%#)", (entries, field) => {
    expect(() => ServiceCatalog.compile(entries)).toThrow(
      expect.objectContaining({ code: "catalog.invalid", message: expect.stringContaining(field) }),
    );
  });
});

describe("normalizeHost", () => {
  it.each([
    ["Example.COM", "example.com"],
    ["example.com:8080", "example.com"],
    ["example.com.", "example.com"],
    ["[::1]:443", "[::1]"],
    ["::1", "::1"],
  ])("%j → %j", (input, expected) => {
    expect(normalizeHost(input)).toBe(expected);
  });
});

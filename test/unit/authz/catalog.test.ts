import { describe, expect, it } from "vitest";
import { DEFAULT_CATALOG, normalizeHost, ServiceCatalog, UNKNOWN_ACTION } from "../../../filters/authz/index.ts";

const catalog = ServiceCatalog.compile(DEFAULT_CATALOG);

type Headers = Record<string, string>;
const H: Headers = {};
const AZ = "Microsoft.Storage/storageAccounts/blobServices/containers";

/** The names of every action a request needs, primary first. */
function names(method: string, host: string, path: string, headers: Headers = H): string[] | undefined {
  return catalog.classify(method, host, path, headers)?.actions.map((a) => a.action);
}

describe("default catalog: operations named the way IAM does", () => {
  it.each([
    // S3, path style
    ["GET", "s3.amazonaws.com", "/", H, "aws_s3", ["s3:ListAllMyBuckets"]],
    ["GET", "s3.amazonaws.com", "/reports", H, "aws_s3", ["s3:ListBucket"]],
    ["GET", "s3.amazonaws.com", "/reports/", H, "aws_s3", ["s3:ListBucket"]],
    ["GET", "s3.amazonaws.com", "/reports?list-type=2&prefix=a&max-keys=10", H, "aws_s3", ["s3:ListBucket"]],
    ["HEAD", "s3.us-east-1.amazonaws.com", "/reports", H, "aws_s3", ["s3:ListBucket"]], // HeadBucket
    ["GET", "s3.us-east-1.amazonaws.com", "/reports/2026/q1.csv", H, "aws_s3", ["s3:GetObject"]],
    ["HEAD", "s3.eu-west-1.amazonaws.com", "/reports/q1.csv", H, "aws_s3", ["s3:GetObject"]], // HeadObject
    ["GET", "s3.amazonaws.com", "/reports/q1.csv?versionId=v1", H, "aws_s3", ["s3:GetObjectVersion"]],
    ["GET", "s3.amazonaws.com", "/reports/q1.csv?response-content-type=text%2Fplain", H, "aws_s3", ["s3:GetObject"]],
    ["GET", "s3.amazonaws.com", "/reports/q1.csv?x-id=GetObject", H, "aws_s3", ["s3:GetObject"]],
    ["PUT", "s3.amazonaws.com", "/reports/q1.csv", H, "aws_s3", ["s3:PutObject"]],
    ["PUT", "s3.amazonaws.com", "/reports", H, "aws_s3", ["s3:CreateBucket"]],
    ["DELETE", "s3.amazonaws.com", "/reports/q1.csv", H, "aws_s3", ["s3:DeleteObject"]],
    ["DELETE", "s3.amazonaws.com", "/reports/q1.csv?versionId=v1", H, "aws_s3", ["s3:DeleteObjectVersion"]],
    ["DELETE", "s3.amazonaws.com", "/reports", H, "aws_s3", ["s3:DeleteBucket"]],
    ["POST", "s3.amazonaws.com", "/reports?delete", H, "aws_s3", ["s3:DeleteObject"]], // DeleteObjects
    ["GET", "s3.dualstack.us-west-2.amazonaws.com", "/b-1/k", H, "aws_s3", ["s3:GetObject"]],
    // the cases: copy source, select, ACLs, tagging, retention, restore
    [
      "PUT",
      "s3.amazonaws.com",
      "/drafts/k",
      { "x-amz-copy-source": "finance/q1.csv" },
      "aws_s3",
      ["s3:PutObject", "s3:GetObject"],
    ],
    [
      "PUT",
      "s3.amazonaws.com",
      "/drafts/k",
      { "x-amz-copy-source": "/finance/q1.csv?versionId=3" },
      "aws_s3",
      ["s3:PutObject", "s3:GetObjectVersion"],
    ],
    ["POST", "s3.amazonaws.com", "/reports/q1.csv?select&select-type=2", H, "aws_s3", ["s3:GetObject"]],
    ["PUT", "s3.amazonaws.com", "/drafts/k?acl", { "x-amz-acl": "public-read" }, "aws_s3", ["s3:PutObjectAcl"]],
    [
      "PUT",
      "s3.amazonaws.com",
      "/drafts/k",
      { "x-amz-acl": "public-read" },
      "aws_s3",
      ["s3:PutObject", "s3:PutObjectAcl"],
    ],
    [
      "PUT",
      "s3.amazonaws.com",
      "/drafts/k",
      { "x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' },
      "aws_s3",
      ["s3:PutObject", "s3:PutObjectAcl"],
    ],
    [
      "PUT",
      "s3.amazonaws.com",
      "/drafts/k",
      { "x-amz-tagging": "a=b" },
      "aws_s3",
      ["s3:PutObject", "s3:PutObjectTagging"],
    ],
    [
      "PUT",
      "s3.amazonaws.com",
      "/drafts/k",
      { "x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z" },
      "aws_s3",
      ["s3:PutObject", "s3:PutObjectRetention"],
    ],
    [
      "PUT",
      "s3.amazonaws.com",
      "/drafts/k",
      { "x-amz-object-lock-legal-hold": "ON" },
      "aws_s3",
      ["s3:PutObject", "s3:PutObjectLegalHold"],
    ],
    [
      "PUT",
      "s3.amazonaws.com",
      "/drafts/k",
      { "x-amz-copy-source": "finance/q1.csv", "x-amz-acl": "public-read" },
      "aws_s3",
      ["s3:PutObject", "s3:GetObject", "s3:PutObjectAcl"],
    ],
    ["GET", "s3.amazonaws.com", "/drafts/k?acl", H, "aws_s3", ["s3:GetObjectAcl"]],
    ["GET", "s3.amazonaws.com", "/drafts/k?acl&versionId=2", H, "aws_s3", ["s3:GetObjectVersionAcl"]],
    ["GET", "s3.amazonaws.com", "/drafts/k?tagging", H, "aws_s3", ["s3:GetObjectTagging"]],
    ["PUT", "s3.amazonaws.com", "/drafts/k?tagging", H, "aws_s3", ["s3:PutObjectTagging"]],
    ["DELETE", "s3.amazonaws.com", "/drafts/k?tagging", H, "aws_s3", ["s3:DeleteObjectTagging"]],
    ["PUT", "s3.amazonaws.com", "/drafts/k?retention", H, "aws_s3", ["s3:PutObjectRetention"]],
    [
      "PUT",
      "s3.amazonaws.com",
      "/drafts/k?retention",
      { "x-amz-bypass-governance-retention": "true" },
      "aws_s3",
      ["s3:PutObjectRetention", "s3:BypassGovernanceRetention"],
    ],
    ["GET", "s3.amazonaws.com", "/drafts/k?retention", H, "aws_s3", ["s3:GetObjectRetention"]],
    ["PUT", "s3.amazonaws.com", "/drafts/k?legal-hold", H, "aws_s3", ["s3:PutObjectLegalHold"]],
    ["POST", "s3.amazonaws.com", "/drafts/k?restore", H, "aws_s3", ["s3:RestoreObject"]],
    ["GET", "s3.amazonaws.com", "/drafts/k?attributes", H, "aws_s3", ["s3:GetObjectAttributes"]],
    // bucket subresources (researcher's ?acl and ?policy were ListBucket before)
    ["GET", "s3.amazonaws.com", "/reports?acl", H, "aws_s3", ["s3:GetBucketAcl"]],
    ["PUT", "s3.amazonaws.com", "/reports?acl", H, "aws_s3", ["s3:PutBucketAcl"]],
    ["GET", "s3.amazonaws.com", "/reports?policy", H, "aws_s3", ["s3:GetBucketPolicy"]],
    ["PUT", "s3.amazonaws.com", "/reports?policy", H, "aws_s3", ["s3:PutBucketPolicy"]],
    ["DELETE", "s3.amazonaws.com", "/reports?policy", H, "aws_s3", ["s3:DeleteBucketPolicy"]],
    ["GET", "s3.amazonaws.com", "/reports?tagging", H, "aws_s3", ["s3:GetBucketTagging"]],
    ["DELETE", "s3.amazonaws.com", "/reports?tagging", H, "aws_s3", ["s3:PutBucketTagging"]], // IAM: Delete via Put
    ["GET", "s3.amazonaws.com", "/reports?versioning", H, "aws_s3", ["s3:GetBucketVersioning"]],
    ["PUT", "s3.amazonaws.com", "/reports?versioning", H, "aws_s3", ["s3:PutBucketVersioning"]],
    ["GET", "s3.amazonaws.com", "/reports?versions&prefix=a", H, "aws_s3", ["s3:ListBucketVersions"]],
    ["GET", "s3.amazonaws.com", "/reports?uploads", H, "aws_s3", ["s3:ListBucketMultipartUploads"]],
    ["GET", "s3.amazonaws.com", "/reports?location", H, "aws_s3", ["s3:GetBucketLocation"]],
    ["GET", "s3.amazonaws.com", "/reports?lifecycle", H, "aws_s3", ["s3:GetLifecycleConfiguration"]],
    ["PUT", "s3.amazonaws.com", "/reports?lifecycle", H, "aws_s3", ["s3:PutLifecycleConfiguration"]],
    ["GET", "s3.amazonaws.com", "/reports?cors", H, "aws_s3", ["s3:GetBucketCORS"]],
    ["PUT", "s3.amazonaws.com", "/reports?cors", H, "aws_s3", ["s3:PutBucketCORS"]],
    ["GET", "s3.amazonaws.com", "/reports?encryption", H, "aws_s3", ["s3:GetEncryptionConfiguration"]],
    ["PUT", "s3.amazonaws.com", "/reports?publicAccessBlock", H, "aws_s3", ["s3:PutBucketPublicAccessBlock"]],
    [
      "PUT",
      "s3.amazonaws.com",
      "/reports",
      { "x-amz-acl": "public-read" },
      "aws_s3",
      ["s3:CreateBucket", "s3:PutBucketAcl"],
    ],
    // multipart
    ["POST", "s3.amazonaws.com", "/drafts/big.bin?uploads", H, "aws_s3", ["s3:PutObject"]],
    [
      "POST",
      "s3.amazonaws.com",
      "/drafts/big.bin?uploads",
      { "x-amz-acl": "public-read" },
      "aws_s3",
      ["s3:PutObject", "s3:PutObjectAcl"],
    ],
    ["PUT", "s3.amazonaws.com", "/drafts/big.bin?partNumber=1&uploadId=u1", H, "aws_s3", ["s3:PutObject"]],
    [
      "PUT",
      "s3.amazonaws.com",
      "/drafts/big.bin?partNumber=1&uploadId=u1",
      { "x-amz-copy-source": "finance/q1.csv" },
      "aws_s3",
      ["s3:PutObject", "s3:GetObject"],
    ], // UploadPartCopy
    ["POST", "s3.amazonaws.com", "/drafts/big.bin?uploadId=u1", H, "aws_s3", ["s3:PutObject"]],
    ["GET", "s3.amazonaws.com", "/drafts/big.bin?uploadId=u1", H, "aws_s3", ["s3:ListMultipartUploadParts"]],
    ["DELETE", "s3.amazonaws.com", "/drafts/big.bin?uploadId=u1", H, "aws_s3", ["s3:AbortMultipartUpload"]],
    // S3, virtual-hosted style (bucket in the host; dotted bucket names too)
    ["GET", "reports.s3.amazonaws.com", "/", H, "aws_s3", ["s3:ListBucket"]],
    ["GET", "reports.s3.amazonaws.com", "/?acl", H, "aws_s3", ["s3:GetBucketAcl"]],
    ["GET", "reports.s3.amazonaws.com", "/2026/q1.csv", H, "aws_s3", ["s3:GetObject"]],
    ["PUT", "reports.s3.us-east-1.amazonaws.com", "/q1.csv", H, "aws_s3", ["s3:PutObject"]],
    ["DELETE", "my.dotted.bucket.s3.eu-central-1.amazonaws.com", "/k", H, "aws_s3", ["s3:DeleteObject"]],
    ["HEAD", "reports.s3.amazonaws.com", "/k", H, "aws_s3", ["s3:GetObject"]],
    ["GET", "reports.s3.amazonaws.com", "/a//b", H, "aws_s3", ["s3:GetObject"]],
    // Method-override headers that name the request's own method change nothing
    ["GET", "reports.s3.amazonaws.com", "/k", { "x-http-method-override": "get" }, "aws_s3", ["s3:GetObject"]],
    // BigQuery: IAM permissions
    [
      "POST",
      "bigquery.googleapis.com",
      "/bigquery/v2/projects/p1/queries",
      H,
      "gcp_bigquery",
      ["bigquery.jobs.create"],
    ],
    [
      "GET",
      "bigquery.googleapis.com",
      "/bigquery/v2/projects/p1/queries/job_1?maxResults=10",
      H,
      "gcp_bigquery",
      ["bigquery.jobs.get"],
    ],
    ["POST", "bigquery.googleapis.com", "/bigquery/v2/projects/p1/jobs", H, "gcp_bigquery", ["bigquery.jobs.create"]],
    [
      "GET",
      "bigquery.googleapis.com",
      "/bigquery/v2/projects/p1/datasets",
      H,
      "gcp_bigquery",
      ["bigquery.datasets.get"],
    ],
    [
      "GET",
      "bigquery.googleapis.com",
      "/bigquery/v2/projects/p1/datasets/d/tables",
      H,
      "gcp_bigquery",
      ["bigquery.tables.list"],
    ],
    [
      "GET",
      "bigquery.googleapis.com",
      "/bigquery/v2/projects/p1/datasets/d/tables/t/data",
      H,
      "gcp_bigquery",
      ["bigquery.tables.getData"],
    ],
    [
      "POST",
      "bigquery.googleapis.com",
      "/bigquery/v2/projects/p1/datasets/d/tables/t/insertAll",
      H,
      "gcp_bigquery",
      ["bigquery.tables.updateData"],
    ],
    // Cloud Storage: JSON API
    ["GET", "storage.googleapis.com", "/storage/v1/b?project=p1", H, "gcp_storage", ["storage.buckets.list"]],
    ["GET", "storage.googleapis.com", "/storage/v1/b/bkt/o", H, "gcp_storage", ["storage.objects.list"]],
    [
      "GET",
      "storage.googleapis.com",
      "/storage/v1/b/bkt/o/dir%2Ffile.txt?alt=media",
      H,
      "gcp_storage",
      ["storage.objects.get"],
    ],
    [
      "POST",
      "storage.googleapis.com",
      "/upload/storage/v1/b/bkt/o?uploadType=media&name=a.txt",
      H,
      "gcp_storage",
      ["storage.objects.create"],
    ],
    [
      "POST",
      "storage.googleapis.com",
      "/upload/storage/v1/b/bkt/o?uploadType=media&name=a.txt&predefinedAcl=publicRead",
      H,
      "gcp_storage",
      ["storage.objects.create", "storage.objects.setIamPolicy"],
    ],
    ["PATCH", "storage.googleapis.com", "/storage/v1/b/bkt/o/a.txt", H, "gcp_storage", ["storage.objects.update"]],
    ["DELETE", "storage.googleapis.com", "/storage/v1/b/bkt/o/a.txt", H, "gcp_storage", ["storage.objects.delete"]],
    [
      "GET",
      "storage.googleapis.com",
      "/storage/v1/b/bkt/o/a.txt/acl",
      H,
      "gcp_storage",
      ["storage.objects.getIamPolicy"],
    ],
    [
      "POST",
      "storage.googleapis.com",
      "/storage/v1/b/bkt/o/a.txt/acl",
      H,
      "gcp_storage",
      ["storage.objects.setIamPolicy"],
    ],
    ["GET", "storage.googleapis.com", "/storage/v1/b/bkt/iam", H, "gcp_storage", ["storage.buckets.getIamPolicy"]],
    ["PUT", "storage.googleapis.com", "/storage/v1/b/bkt/iam", H, "gcp_storage", ["storage.buckets.setIamPolicy"]],
    [
      "POST",
      "storage.googleapis.com",
      "/storage/v1/b/src/o/a.txt/rewriteTo/b/dst/o/b.txt",
      H,
      "gcp_storage",
      ["storage.objects.create", "storage.objects.get"],
    ],
    [
      "POST",
      "storage.googleapis.com",
      "/storage/v1/b/src/o/a.txt/copyTo/b/dst/o/b.txt",
      H,
      "gcp_storage",
      ["storage.objects.create", "storage.objects.get"],
    ],
    ["GET", "storage.googleapis.com", "/download/storage/v1/b/bkt/o/a.txt", H, "gcp_storage", ["storage.objects.get"]],
    // Cloud Storage: XML API
    ["GET", "storage.googleapis.com", "/", H, "gcp_storage", ["storage.buckets.list"]],
    ["GET", "storage.googleapis.com", "/bkt", H, "gcp_storage", ["storage.objects.list"]],
    ["GET", "storage.googleapis.com", "/bkt/dir/file.txt", H, "gcp_storage", ["storage.objects.get"]],
    ["GET", "storage.googleapis.com", "/bkt?acl", H, "gcp_storage", ["storage.buckets.getIamPolicy"]],
    ["GET", "bkt.storage.googleapis.com", "/dir/file.txt", H, "gcp_storage", ["storage.objects.get"]],
    ["PUT", "bkt.storage.googleapis.com", "/a.txt?acl", H, "gcp_storage", ["storage.objects.setIamPolicy"]],
    [
      "PUT",
      "bkt.storage.googleapis.com",
      "/a.txt",
      { "x-goog-acl": "public-read" },
      "gcp_storage",
      ["storage.objects.create", "storage.objects.setIamPolicy"],
    ],
    [
      "PUT",
      "storage.googleapis.com",
      "/dst/b.txt",
      { "x-goog-copy-source": "/src/a.txt" },
      "gcp_storage",
      ["storage.objects.create", "storage.objects.get"],
    ],
    // Azure Blob: data actions
    ["GET", "acct.blob.core.windows.net", "/container/dir/blob.txt", H, "azure_blob", [`${AZ}/blobs/read`]],
    ["HEAD", "acct.blob.core.windows.net", "/container/blob.txt", H, "azure_blob", [`${AZ}/blobs/read`]],
    ["PUT", "acct.blob.core.windows.net", "/container/blob.txt", H, "azure_blob", [`${AZ}/blobs/write`]],
    [
      "PUT",
      "acct.blob.core.windows.net",
      "/container/copy.txt",
      { "x-ms-copy-source": "https://other.blob.core.windows.net/secret/q1.csv" },
      "azure_blob",
      [`${AZ}/blobs/write`, `${AZ}/blobs/read`],
    ],
    [
      "PUT",
      "acct.blob.core.windows.net",
      "/container/blob.txt?comp=block&blockid=AAAA",
      { "x-ms-copy-source": "https://acct.blob.core.windows.net/container/src.txt" },
      "azure_blob",
      [`${AZ}/blobs/write`, `${AZ}/blobs/read`],
    ],
    [
      "PUT",
      "acct.blob.core.windows.net",
      "/container/blob.txt",
      { "x-ms-tags": "a=b" },
      "azure_blob",
      [`${AZ}/blobs/write`, `${AZ}/blobs/tags/write`],
    ],
    ["PUT", "acct.blob.core.windows.net", "/container/blob.txt?comp=tags", H, "azure_blob", [`${AZ}/blobs/tags/write`]],
    ["GET", "acct.blob.core.windows.net", "/container/blob.txt?comp=tags", H, "azure_blob", [`${AZ}/blobs/tags/read`]],
    ["PUT", "acct.blob.core.windows.net", "/container/blob.txt?comp=metadata", H, "azure_blob", [`${AZ}/blobs/write`]],
    [
      "PUT",
      "acct.blob.core.windows.net",
      "/container/log.txt?comp=appendblock",
      H,
      "azure_blob",
      [`${AZ}/blobs/add/action`],
    ],
    ["DELETE", "acct.blob.core.windows.net", "/container/blob.txt", H, "azure_blob", [`${AZ}/blobs/delete`]],
    [
      "DELETE",
      "acct.blob.core.windows.net",
      "/container/blob.txt?versionid=2026-01-01T00:00:00.0000000Z",
      H,
      "azure_blob",
      [`${AZ}/blobs/deleteBlobVersion/action`],
    ],
    [
      "GET",
      "acct.blob.core.windows.net",
      "/container?restype=container&comp=list",
      H,
      "azure_blob",
      [`${AZ}/blobs/read`],
    ],
    ["PUT", "acct.blob.core.windows.net", "/container?restype=container", H, "azure_blob", [`${AZ}/write`]],
    ["GET", "acct.blob.core.windows.net", "/?comp=list", H, "azure_blob", [`${AZ}/read`]],
    // LLM providers: SDK call paths
    ["POST", "api.openai.com", "/v1/chat/completions", H, "openai", ["chat.completions.create"]],
    ["POST", "api.openai.com", "/v1/responses", H, "openai", ["responses.create"]],
    ["POST", "api.openai.com", "/v1/embeddings", H, "openai", ["embeddings.create"]],
    ["POST", "api.anthropic.com", "/v1/messages", H, "anthropic", ["messages.create"]],
    ["POST", "api.anthropic.com", "/v1/messages/count_tokens", H, "anthropic", ["messages.count_tokens"]],
  ] as const)("%s %s%s %j → %s %j", (method, host, path, headers, service, actions) => {
    const op = catalog.classify(method, host, path, headers);
    expect(op).toMatchObject({ service, action: actions[0] });
    expect(op?.actions.map((a) => a.action)).toEqual(actions);
  });

  it.each([
    // S3: the resource facts a policy scopes by
    ["GET", "s3.amazonaws.com", "/reports/2026/q1%20final.csv", H, { bucket: "reports", key: "2026/q1 final.csv" }],
    ["GET", "reports.s3.amazonaws.com", "/dir/", H, { bucket: "reports", key: "dir/" }],
    ["GET", "s3.amazonaws.com", "/reports?acl", H, { bucket: "reports" }],
    ["GET", "s3.amazonaws.com", "/reports/k?versionId=v%2B1", H, { bucket: "reports", key: "k", version_id: "v+1" }],
    [
      "PUT",
      "s3.amazonaws.com",
      "/drafts/post.md",
      { "x-amz-copy-source": "finance/2026%2Fq1.csv" },
      { bucket: "drafts", key: "post.md", copy_source: { bucket: "finance", key: "2026/q1.csv" } },
    ],
    ["GET", "my.dotted.bucket.s3.amazonaws.com", "/k", H, { bucket: "my.dotted.bucket", key: "k" }],
    ["POST", "bigquery.googleapis.com", "/bigquery/v2/projects/p1/queries", H, { project: "p1" }],
    [
      "GET",
      "bigquery.googleapis.com",
      "/bigquery/v2/projects/p1/datasets/d1/tables/t1",
      H,
      { project: "p1", dataset: "d1", table: "t1" },
    ],
    ["GET", "storage.googleapis.com", "/storage/v1/b/bkt/o/dir%2Ff.txt", H, { bucket: "bkt", object: "dir/f.txt" }],
    [
      "POST",
      "storage.googleapis.com",
      "/storage/v1/b/src/o/a.txt/rewriteTo/b/dst/o/b.txt",
      H,
      { bucket: "dst", object: "b.txt", copy_source: { bucket: "src", object: "a.txt" } },
    ],
    ["GET", "bkt.storage.googleapis.com", "/f.txt", H, { bucket: "bkt", object: "f.txt" }],
    [
      "GET",
      "acct.blob.core.windows.net",
      "/c01/dir/b.txt",
      H,
      { account: "acct", container: "c01", blob: "dir/b.txt" },
    ],
    [
      "PUT",
      "acct.blob.core.windows.net",
      "/c01/b.txt",
      { "x-ms-copy-source": "https://other.blob.core.windows.net/c02/s.txt" },
      {
        account: "acct",
        container: "c01",
        blob: "b.txt",
        copy_source: { account: "other", container: "c02", blob: "s.txt" },
      },
    ],
    ["POST", "api.openai.com", "/v1/responses", H, {}],
  ] as const)("%s %s%s %j → resource %j", (method, host, path, headers, resource) => {
    expect(catalog.classify(method, host, path, headers)?.resource).toEqual(resource);
  });

  it("each action names the resource it is needed on (a copy reads its source)", () => {
    const op = catalog.classify("PUT", "s3.amazonaws.com", "/drafts/k", { "x-amz-copy-source": "finance/q1.csv" });
    expect(op?.actions).toEqual([
      {
        action: "s3:PutObject",
        resource: { bucket: "drafts", key: "k", copy_source: { bucket: "finance", key: "q1.csv" } },
      },
      { action: "s3:GetObject", resource: { bucket: "finance", key: "q1.csv" } },
    ]);
  });

  it.each([
    ["S3.AMAZONAWS.COM", "aws_s3"],
    ["s3.amazonaws.com:443", "aws_s3"],
    ["Reports.S3.Amazonaws.com:8443", "aws_s3"],
    ["s3.amazonaws.com.", "aws_s3"],
    ["API.OpenAI.com", "openai"],
  ])("host %j is compared lowercase, without port or trailing dot → %s", (host, service) => {
    expect(catalog.classify("GET", host, "/b-1/k")?.service).toBe(service);
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
    expect(catalog.classify("GET", host, "/b/k")).toBeUndefined();
  });

  it.each([
    // uncovered methods and paths
    ["GET", "api.openai.com", "/v1/files", H],
    ["DELETE", "api.openai.com", "/v1/chat/completions", H],
    ["PATCH", "s3.amazonaws.com", "/b-1/k", H],
    ["get", "s3.amazonaws.com", "/b-1/k", H],
    // ambiguous encodings
    ["GET", "api.anthropic.com", "/v1/messages/../../v1/models", H],
    ["GET", "reports.s3.amazonaws.com", "/a/%2e%2e/b", H],
    ["GET", "reports.s3.amazonaws.com", "/a/%2E./b", H],
    ["GET", "reports.s3.amazonaws.com", "/a/./b", H],
    ["GET", "s3.amazonaws.com", "http://s3.amazonaws.com/b/k", H],
    ["GET", "reports.s3.amazonaws.com", "/k%ZZ", H],
    ["GET", "reports.s3.amazonaws.com", "/k?versionId=%ZZ", H],
    ["GET", "reports.s3.amazonaws.com", "/k#frag", H],
    ["GET", "reports.s3.amazonaws.com", "/k?versionId=1&versionId=2", H], // repeated parameter
    ["GET", "s3.amazonaws.com", `/reports?${Array.from({ length: 70 }, (_, i) => `prefix${i}=a`).join("&")}`, H],
    ["GET", "s3.amazonaws.com", "/Bad_Bucket/k", H],
    // S3: unknown or combined subresources, presigned URLs, misplaced parameters and headers
    ["GET", "s3.amazonaws.com", "/reports?unknownsub", H],
    ["GET", "s3.amazonaws.com", "/reports?ACL", H],
    ["GET", "s3.amazonaws.com", "/reports/k?acl&tagging", H],
    ["GET", "s3.amazonaws.com", "/reports/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc", H],
    ["GET", "s3.amazonaws.com", "/reports/k?AWSAccessKeyId=AKIA&Signature=x&Expires=1", H],
    ["POST", "s3.amazonaws.com", "/reports", H], // browser form upload
    ["POST", "s3.amazonaws.com", "/reports/k", H],
    ["POST", "s3.amazonaws.com", "/reports/k?select&versionId=1", H],
    ["PUT", "s3.amazonaws.com", "/reports/k?versionId=1", H],
    ["PUT", "s3.amazonaws.com", "/reports/k?uploadId=u1", H], // no partNumber
    ["GET", "s3.amazonaws.com", "/reports/k?uploadId=u1&acl", H],
    ["GET", "s3.amazonaws.com", "/reports/k", { "x-amz-copy-source": "finance/q1.csv" }],
    ["PUT", "s3.amazonaws.com", "/reports/k?acl", { "x-amz-copy-source": "finance/q1.csv" }],
    ["PUT", "s3.amazonaws.com", "/reports", { "x-amz-copy-source": "finance/q1.csv" }],
    ["PUT", "s3.amazonaws.com", "/reports/k", { "x-amz-copy-source": "finance" }],
    [
      "PUT",
      "s3.amazonaws.com",
      "/reports/k",
      { "x-amz-copy-source": "arn:aws:s3:us-east-1:1:accesspoint/ap/object/k" },
    ],
    ["PUT", "s3.amazonaws.com", "/reports/k", { "x-amz-copy-source": "finance/q1.csv?acl" }],
    ["PUT", "s3.amazonaws.com", `/reports/${"k".repeat(1025)}`, H],
    ["GET", "s3.amazonaws.com", "/?acl", H],
    // method overrides naming another method, in headers or the query
    ["POST", "storage.googleapis.com", "/storage/v1/b/bkt/o/a.txt", { "x-http-method-override": "DELETE" }],
    ["GET", "reports.s3.amazonaws.com", "/k", { "x-http-method-override": "DELETE" }],
    ["GET", "reports.s3.amazonaws.com", "/k", { "x-http-method": "PUT" }],
    ["GET", "reports.s3.amazonaws.com", "/k", { "x-method-override": "DELETE" }],
    ["POST", "bigquery.googleapis.com", "/bigquery/v2/projects/p1/queries?_method=DELETE", H],
    ["POST", "bigquery.googleapis.com", "/bigquery/v2/projects/p1/queries?$httpMethod=DELETE", H],
    // Google batch endpoints: many requests in one body
    ["POST", "storage.googleapis.com", "/batch/storage/v1", H],
    ["POST", "storage.googleapis.com", "/batch", H],
    ["POST", "bigquery.googleapis.com", "/batch/bigquery/v2", H],
    ["POST", "www.googleapis.com", "/batch/storage/v1", H],
    // Cloud Storage: unknown JSON paths and parameters, XML oddities, signed URLs
    ["GET", "storage.googleapis.com", "/storage/v1/b/bkt/o/a.txt?access_token=ya29", H],
    ["POST", "storage.googleapis.com", "/storage/v1/b/bkt/o/a.txt/watch", H],
    ["GET", "storage.googleapis.com", "/upload/other/v1/b/bkt/o", H],
    ["GET", "storage.googleapis.com", "/bkt/a.txt?X-Goog-Signature=abc", H],
    ["POST", "storage.googleapis.com", "/bkt/a.txt", H],
    ["GET", "storage.googleapis.com", "/bkt?tagging", H],
    // Azure: ambiguous container paths, unknown comp, SAS, copies from URLs we cannot judge, batch
    ["GET", "acct.blob.core.windows.net", "/container", H],
    ["GET", "acct.blob.core.windows.net", "/container/b.txt?comp=unknown", H],
    ["GET", "acct.blob.core.windows.net", "/container/b.txt?sv=2024-01-01&sig=abc", H],
    ["PUT", "acct.blob.core.windows.net", "/container?restype=container&comp=acl", H],
    ["POST", "acct.blob.core.windows.net", "/container?restype=container&comp=batch", H],
    ["PUT", "acct.blob.core.windows.net", "/c01/b.txt", { "x-ms-copy-source": "https://evil.example.com/x" }],
    [
      "PUT",
      "acct.blob.core.windows.net",
      "/c01/b.txt",
      { "x-ms-copy-source": "https://oth.blob.core.windows.net/c02/s?sig=x" },
    ],
    [
      "PUT",
      "acct.blob.core.windows.net",
      "/c01/b.txt?comp=metadata",
      { "x-ms-copy-source": "https://oth.blob.core.windows.net/c02/s" },
    ],
    ["GET", "acct.blob.core.windows.net", "/c1/b.txt", H], // container names have 3-63 characters
  ])("known host, imprecise request %s %s%s %j → action 'unknown'", (method, host, path, headers) => {
    const op = catalog.classify(method, host, path, headers);
    if (host === "www.googleapis.com") {
      expect(op).toBeUndefined(); // not in the catalog at all: unknown service
      return;
    }
    expect(op).toMatchObject({ action: UNKNOWN_ACTION, resource: {} });
    expect(op?.actions.map((a) => a.action)).toEqual([UNKNOWN_ACTION]);
  });

  it("carries the credential kind for the sidecar", () => {
    expect(catalog.classify("GET", "s3.amazonaws.com", "/b-1/k")?.credentials).toBe("aws");
    expect(catalog.classify("POST", "bigquery.googleapis.com", "/bigquery/v2/projects/p/queries")?.credentials).toBe(
      "gcp",
    );
    expect(catalog.classify("GET", "a12.blob.core.windows.net", "/c1/b")?.credentials).toBe("azure");
    expect(catalog.classify("POST", "api.openai.com", "/v1/responses")?.credentials).toBeUndefined();
  });

  it("returns prebuilt results where nothing is captured (no allocation per request)", () => {
    expect(catalog.classify("POST", "api.openai.com", "/v1/responses")).toBe(
      catalog.classify("POST", "api.openai.com", "/v1/responses"),
    );
    expect(catalog.classify("GET", "s3.amazonaws.com", "/b-1/k?nope")).toBe(
      catalog.classify("GET", "s3.amazonaws.com", "/x-1/y?nope"),
    );
  });

  it("names no operation in a way the old catalog did (API names are gone)", () => {
    for (const [m, p] of [
      ["GET", "/b-1/k"],
      ["HEAD", "/b-1/k"],
      ["HEAD", "/b-1"],
      ["POST", "/b-1?delete"],
    ] as const) {
      expect(names(m, "s3.amazonaws.com", p)?.every((a) => a.startsWith("s3:"))).toBe(true);
    }
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
    expect(c.classify(method, "api.example.com", path)?.action).toBe(action);
  });

  it.each([
    ["a.tenants.example.com", true],
    ["a.b.tenants.example.com", true], // leading *. is any depth
    ["tenants.example.com", false], // never the bare domain
    ["api.eu.example.com", true], // inner * is exactly one label
    ["api.eu.west.example.com", false],
    ["api..example.com", false],
  ])("host %s matches: %s", (host, ok) => {
    expect(c.classify("GET", host, "/") !== undefined).toBe(ok);
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

describe("requests a reviewer found under-classified", () => {
  const op = (method: string, host: string, path: string, headers: Headers = H) =>
    catalog.classify(method, host, path, headers);

  it("a host two patterns read differently is unknown (s3.dualstack.s3… is path-style or the bucket s3.dualstack)", () => {
    expect(op("PUT", "s3.dualstack.s3.amazonaws.com", "/drafts/secret.csv")).toMatchObject({
      service: "aws_s3",
      action: UNKNOWN_ACTION,
    });
    expect(op("GET", "s3.dualstack.s3.amazonaws.com", "/?prefix=x")?.action).toBe(UNKNOWN_ACTION);
    // the unambiguous spellings still classify
    expect(names("PUT", "s3.dualstack.us-west-2.amazonaws.com", "/drafts/k")).toEqual(["s3:PutObject"]);
    expect(names("PUT", "drafts.s3.amazonaws.com", "/k")).toEqual(["s3:PutObject"]);
  });

  it("SSE-KMS under a named key also needs kms:GenerateDataKey on that key", () => {
    const key = "arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const r = op("PUT", "s3.amazonaws.com", "/drafts/k", {
      "x-amz-server-side-encryption": "aws:kms",
      "x-amz-server-side-encryption-aws-kms-key-id": key,
    });
    expect(r?.actions).toEqual([
      { action: "s3:PutObject", resource: { bucket: "drafts", key: "k" } },
      { action: "kms:GenerateDataKey", resource: { kms_key: key } },
    ]);
    // on a copy and on a multipart upload as well
    expect(
      names("PUT", "s3.amazonaws.com", "/drafts/k", {
        "x-amz-copy-source": "drafts/src",
        "x-amz-server-side-encryption-aws-kms-key-id": key,
      }),
    ).toEqual(["s3:PutObject", "s3:GetObject", "kms:GenerateDataKey"]);
    expect(
      names("POST", "s3.amazonaws.com", "/drafts/k?uploads", { "x-amz-server-side-encryption-aws-kms-key-id": key }),
    ).toEqual(["s3:PutObject", "kms:GenerateDataKey"]);
  });

  it.each([
    [
      "S3: two copy-source headers joined by Envoy",
      "PUT",
      "s3.amazonaws.com",
      "/drafts/k",
      { "x-amz-copy-source": "a-b/k1,c-d/k2" },
    ],
    [
      "Azure: a copy source with dot segments",
      "PUT",
      "acct1.blob.core.windows.net",
      "/ctr1/b",
      { "x-ms-copy-source": "https://acct2.blob.core.windows.net/ctr2/x/../../secret/b" },
    ],
    [
      "Azure: encoded dot segments",
      "PUT",
      "acct1.blob.core.windows.net",
      "/ctr1/b",
      { "x-ms-copy-source": "https://acct2.blob.core.windows.net/ctr2/x/%2E%2e/secret/b" },
    ],
    [
      "GCS: both copy-source spellings",
      "PUT",
      "storage.googleapis.com",
      "/bkt1/o",
      { "x-goog-copy-source": "bkt2/a", "x-amz-copy-source": "bkt3/b" },
    ],
  ])("%s → unknown", (_label, method, host, path, headers) => {
    expect(op(method, host, path, headers)?.action).toBe(UNKNOWN_ACTION);
  });
});

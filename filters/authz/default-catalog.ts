/**
 * The catalog the sidecar uses when its config names none. Action names are what policies see:
 * S3 and Azure use their REST operation names (`GetObject`, `PutBlob`), Google APIs their method
 * names in camelCase (`query`, `insertJob`), LLM providers their SDK call paths
 * (`chat.completions.create`, `messages.create`).
 *
 * The catalog sees method, host and path — not the query string — so operations that differ only by
 * query (S3 `?uploads`, Azure `?comp=`) share the name of their closest permission: multipart upload
 * steps are `PutObject`, as in IAM.
 */
import type { CatalogAction, CatalogEntry } from "./catalog.ts";

const S3_BUCKET_ACTIONS = (bucket: string): CatalogAction[] => [
  { method: "GET", path: bucket, action: "ListBucket" },
  { method: "HEAD", path: bucket, action: "HeadBucket" },
  { method: "PUT", path: bucket, action: "CreateBucket" },
  { method: "DELETE", path: bucket, action: "DeleteBucket" },
  // POST on a bucket is the multi-object delete (browser form uploads are not an agent's path)
  { method: "POST", path: bucket, action: "DeleteObjects" },
];

const S3_OBJECT_ACTIONS = (object: string): CatalogAction[] => [
  { method: "GET", path: object, action: "GetObject" },
  { method: "HEAD", path: object, action: "HeadObject" },
  { method: "PUT", path: object, action: "PutObject" },
  { method: "DELETE", path: object, action: "DeleteObject" },
  // POST on an object: create/complete multipart upload, which IAM authorizes as s3:PutObject
  { method: "POST", path: object, action: "PutObject" },
];

export const DEFAULT_CATALOG: readonly CatalogEntry[] = Object.freeze([
  {
    // path style: https://s3.<region>.amazonaws.com/<bucket>/<key>
    service: "aws_s3",
    credentials: "aws",
    hosts: ["s3.amazonaws.com", "s3.*.amazonaws.com", "s3.dualstack.*.amazonaws.com"],
    actions: [
      { method: "GET", path: "/", action: "ListAllMyBuckets" },
      ...S3_BUCKET_ACTIONS("/*"),
      ...S3_OBJECT_ACTIONS("/*/**"),
    ],
  },
  {
    // virtual-hosted style: https://<bucket>.s3.<region>.amazonaws.com/<key>
    service: "aws_s3",
    credentials: "aws",
    hosts: ["*.s3.amazonaws.com", "*.s3.*.amazonaws.com", "*.s3.dualstack.*.amazonaws.com"],
    actions: [...S3_BUCKET_ACTIONS("/"), ...S3_OBJECT_ACTIONS("/**")],
  },
  {
    service: "gcp_bigquery",
    credentials: "gcp",
    hosts: ["bigquery.googleapis.com"],
    actions: [
      { method: "POST", path: "/bigquery/v2/projects/*/queries", action: "query" },
      { method: "GET", path: "/bigquery/v2/projects/*/queries/*", action: "getQueryResults" },
      { method: "POST", path: "/bigquery/v2/projects/*/jobs", action: "insertJob" },
      { method: "POST", path: "/upload/bigquery/v2/projects/*/jobs", action: "insertJob" },
      { method: "GET", path: "/bigquery/v2/projects/*/jobs", action: "listJobs" },
      { method: "GET", path: "/bigquery/v2/projects/*/jobs/*", action: "getJob" },
      { method: "POST", path: "/bigquery/v2/projects/*/jobs/*/cancel", action: "cancelJob" },
      { method: "GET", path: "/bigquery/v2/projects", action: "listProjects" },
      { method: "GET", path: "/bigquery/v2/projects/*/datasets", action: "listDatasets" },
      { method: "POST", path: "/bigquery/v2/projects/*/datasets", action: "insertDataset" },
      { method: "GET", path: "/bigquery/v2/projects/*/datasets/*", action: "getDataset" },
      { method: "PATCH", path: "/bigquery/v2/projects/*/datasets/*", action: "patchDataset" },
      { method: "PUT", path: "/bigquery/v2/projects/*/datasets/*", action: "updateDataset" },
      { method: "DELETE", path: "/bigquery/v2/projects/*/datasets/*", action: "deleteDataset" },
      { method: "GET", path: "/bigquery/v2/projects/*/datasets/*/tables", action: "listTables" },
      { method: "POST", path: "/bigquery/v2/projects/*/datasets/*/tables", action: "insertTable" },
      { method: "GET", path: "/bigquery/v2/projects/*/datasets/*/tables/*", action: "getTable" },
      { method: "PATCH", path: "/bigquery/v2/projects/*/datasets/*/tables/*", action: "patchTable" },
      { method: "PUT", path: "/bigquery/v2/projects/*/datasets/*/tables/*", action: "updateTable" },
      { method: "DELETE", path: "/bigquery/v2/projects/*/datasets/*/tables/*", action: "deleteTable" },
      { method: "GET", path: "/bigquery/v2/projects/*/datasets/*/tables/*/data", action: "listTableData" },
      { method: "POST", path: "/bigquery/v2/projects/*/datasets/*/tables/*/insertAll", action: "insertAll" },
    ],
  },
  {
    service: "gcp_storage",
    credentials: "gcp",
    hosts: ["storage.googleapis.com"],
    actions: [
      // JSON API (object names are URL-encoded: one segment)
      { method: "GET", path: "/storage/v1/b", action: "listBuckets" },
      { method: "POST", path: "/storage/v1/b", action: "insertBucket" },
      { method: "GET", path: "/storage/v1/b/*", action: "getBucket" },
      { method: "PATCH", path: "/storage/v1/b/*", action: "patchBucket" },
      { method: "DELETE", path: "/storage/v1/b/*", action: "deleteBucket" },
      { method: "GET", path: "/storage/v1/b/*/o", action: "listObjects" },
      { method: "POST", path: "/upload/storage/v1/b/*/o", action: "insertObject" },
      { method: "PUT", path: "/upload/storage/v1/b/*/o", action: "insertObject" },
      { method: "GET", path: "/download/storage/v1/b/*/o/*", action: "getObject" },
      { method: "POST", path: "/storage/v1/b/*/o/*/rewriteTo/b/*/o/*", action: "rewriteObject" },
      { method: "POST", path: "/storage/v1/b/*/o/*/copyTo/b/*/o/*", action: "copyObject" },
      { method: "POST", path: "/storage/v1/b/*/o/*/compose", action: "composeObject" },
      { method: "GET", path: "/storage/v1/b/*/o/*", action: "getObject" },
      { method: "PATCH", path: "/storage/v1/b/*/o/*", action: "patchObject" },
      { method: "DELETE", path: "/storage/v1/b/*/o/*", action: "deleteObject" },
      // XML API, path style
      { method: "GET", path: "/", action: "listBuckets" },
      { method: "GET", path: "/*", action: "listObjects" },
      { method: "GET", path: "/*/**", action: "getObject" },
      { method: "HEAD", path: "/*/**", action: "getObject" },
      { method: "PUT", path: "/*/**", action: "insertObject" },
      { method: "POST", path: "/*/**", action: "insertObject" },
      { method: "DELETE", path: "/*/**", action: "deleteObject" },
    ],
  },
  {
    // XML API, virtual-hosted style
    service: "gcp_storage",
    credentials: "gcp",
    hosts: ["*.storage.googleapis.com"],
    actions: [
      { method: "GET", path: "/", action: "listObjects" },
      { method: "GET", path: "/**", action: "getObject" },
      { method: "HEAD", path: "/**", action: "getObject" },
      { method: "PUT", path: "/**", action: "insertObject" },
      { method: "POST", path: "/**", action: "insertObject" },
      { method: "DELETE", path: "/**", action: "deleteObject" },
    ],
  },
  {
    // https://<account>.blob.core.windows.net/<container>/<blob>
    service: "azure_blob",
    credentials: "azure",
    hosts: ["*.blob.core.windows.net"],
    actions: [
      { method: "GET", path: "/", action: "ListContainers" },
      { method: "GET", path: "/*", action: "ListBlobs" },
      { method: "HEAD", path: "/*", action: "GetContainerProperties" },
      { method: "PUT", path: "/*", action: "CreateContainer" },
      { method: "DELETE", path: "/*", action: "DeleteContainer" },
      { method: "GET", path: "/*/**", action: "GetBlob" },
      { method: "HEAD", path: "/*/**", action: "GetBlobProperties" },
      { method: "PUT", path: "/*/**", action: "PutBlob" },
      { method: "DELETE", path: "/*/**", action: "DeleteBlob" },
    ],
  },
  {
    service: "openai",
    hosts: ["api.openai.com"],
    actions: [
      { method: "POST", path: "/v1/chat/completions", action: "chat.completions.create" },
      { method: "POST", path: "/v1/responses", action: "responses.create" },
      { method: "GET", path: "/v1/responses/*", action: "responses.retrieve" },
      { method: "DELETE", path: "/v1/responses/*", action: "responses.delete" },
      { method: "POST", path: "/v1/embeddings", action: "embeddings.create" },
      { method: "POST", path: "/v1/completions", action: "completions.create" },
      { method: "POST", path: "/v1/moderations", action: "moderations.create" },
      { method: "GET", path: "/v1/models", action: "models.list" },
      { method: "GET", path: "/v1/models/*", action: "models.retrieve" },
    ],
  },
  {
    service: "anthropic",
    hosts: ["api.anthropic.com"],
    actions: [
      { method: "POST", path: "/v1/messages", action: "messages.create" },
      { method: "POST", path: "/v1/messages/count_tokens", action: "messages.count_tokens" },
      { method: "POST", path: "/v1/messages/batches", action: "messages.batches.create" },
      { method: "GET", path: "/v1/messages/batches", action: "messages.batches.list" },
      { method: "GET", path: "/v1/messages/batches/*", action: "messages.batches.retrieve" },
      { method: "GET", path: "/v1/models", action: "models.list" },
      { method: "GET", path: "/v1/models/*", action: "models.retrieve" },
    ],
  },
]);

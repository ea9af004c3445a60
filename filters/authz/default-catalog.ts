/**
 * The catalog the sidecar uses when its config names none. Action names are what policies see, and they
 * are the cloud's own permission names: S3 the IAM actions of the AWS Service Authorization Reference
 * (`s3:GetObject`, `s3:PutObjectAcl`), Google Cloud its IAM permissions (`storage.objects.get`,
 * `bigquery.jobs.create`), Azure its RBAC data actions
 * (`Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read`). LLM providers, which have no
 * IAM, keep their SDK call paths (`chat.completions.create`, `messages.create`).
 *
 * S3, Cloud Storage and Azure Blob hide operations in query subresources and headers, so they use the
 * built-in classifiers (`operations/`); BigQuery and the LLM APIs are plain method + path tables.
 */
import type { CatalogEntry } from "./catalog.ts";

const BQ = "/bigquery/v2/projects/{project}";

export const DEFAULT_CATALOG: readonly CatalogEntry[] = Object.freeze([
  {
    // path style: https://s3.<region>.amazonaws.com/<bucket>/<key>
    service: "aws_s3",
    credentials: "aws",
    hosts: ["s3.amazonaws.com", "s3.*.amazonaws.com", "s3.dualstack.*.amazonaws.com"],
    classifier: "aws_s3",
  },
  {
    // virtual-hosted style: https://<bucket>.s3.<region>.amazonaws.com/<key>
    service: "aws_s3",
    credentials: "aws",
    hosts: ["*.s3.amazonaws.com", "*.s3.*.amazonaws.com", "*.s3.dualstack.*.amazonaws.com"],
    classifier: "aws_s3",
  },
  {
    // IAM permissions per REST method; /batch/bigquery/v2 (many calls in one body) matches nothing: unknown
    service: "gcp_bigquery",
    credentials: "gcp",
    hosts: ["bigquery.googleapis.com"],
    actions: [
      { method: "POST", path: `${BQ}/queries`, action: "bigquery.jobs.create" },
      { method: "GET", path: `${BQ}/queries/{job}`, action: "bigquery.jobs.get" },
      { method: "POST", path: `${BQ}/jobs`, action: "bigquery.jobs.create" },
      { method: "POST", path: "/upload/bigquery/v2/projects/{project}/jobs", action: "bigquery.jobs.create" },
      { method: "GET", path: `${BQ}/jobs`, action: "bigquery.jobs.list" },
      { method: "GET", path: `${BQ}/jobs/{job}`, action: "bigquery.jobs.get" },
      { method: "POST", path: `${BQ}/jobs/{job}/cancel`, action: "bigquery.jobs.update" },
      { method: "DELETE", path: `${BQ}/jobs/{job}/delete`, action: "bigquery.jobs.delete" },
      { method: "GET", path: `${BQ}/datasets`, action: "bigquery.datasets.get" },
      { method: "POST", path: `${BQ}/datasets`, action: "bigquery.datasets.create" },
      { method: "GET", path: `${BQ}/datasets/{dataset}`, action: "bigquery.datasets.get" },
      { method: "PATCH", path: `${BQ}/datasets/{dataset}`, action: "bigquery.datasets.update" },
      { method: "PUT", path: `${BQ}/datasets/{dataset}`, action: "bigquery.datasets.update" },
      { method: "DELETE", path: `${BQ}/datasets/{dataset}`, action: "bigquery.datasets.delete" },
      { method: "GET", path: `${BQ}/datasets/{dataset}/tables`, action: "bigquery.tables.list" },
      { method: "POST", path: `${BQ}/datasets/{dataset}/tables`, action: "bigquery.tables.create" },
      { method: "GET", path: `${BQ}/datasets/{dataset}/tables/{table}`, action: "bigquery.tables.get" },
      { method: "PATCH", path: `${BQ}/datasets/{dataset}/tables/{table}`, action: "bigquery.tables.update" },
      { method: "PUT", path: `${BQ}/datasets/{dataset}/tables/{table}`, action: "bigquery.tables.update" },
      { method: "DELETE", path: `${BQ}/datasets/{dataset}/tables/{table}`, action: "bigquery.tables.delete" },
      { method: "GET", path: `${BQ}/datasets/{dataset}/tables/{table}/data`, action: "bigquery.tables.getData" },
      {
        method: "POST",
        path: `${BQ}/datasets/{dataset}/tables/{table}/insertAll`,
        action: "bigquery.tables.updateData",
      },
    ],
  },
  {
    // JSON API (storage/v1, upload, download) and XML API path style; /batch/storage/v1 is unknown
    service: "gcp_storage",
    credentials: "gcp",
    hosts: ["storage.googleapis.com"],
    classifier: "gcp_storage",
  },
  {
    // XML API, virtual-hosted style
    service: "gcp_storage",
    credentials: "gcp",
    hosts: ["*.storage.googleapis.com"],
    classifier: "gcp_storage",
  },
  {
    // https://<account>.blob.core.windows.net/<container>/<blob>
    service: "azure_blob",
    credentials: "azure",
    hosts: ["*.blob.core.windows.net"],
    classifier: "azure_blob",
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

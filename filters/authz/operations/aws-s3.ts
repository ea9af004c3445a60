/**
 * S3 REST requests → IAM actions (AWS Service Authorization Reference, `s3:` prefix), by method, path,
 * query subresource and the headers that change what a request does. IAM names are not API names:
 * CopyObject is `s3:PutObject` on the destination plus `s3:GetObject` on the source, SelectObjectContent
 * and HeadObject are `s3:GetObject`, HeadBucket is `s3:ListBucket`, a multi-object delete is
 * `s3:DeleteObject`, and several Delete* APIs are authorized by their Put* action.
 *
 * Anything not in these tables — an unknown subresource, two subresources at once, a presigned URL, a copy
 * source that is not `bucket/key` — is undefined (the policy sees `unknown`), never the nearest guess.
 */
import { type CatalogRequest, type Classified, decodeName, type RequiredAction, type Resource } from "./types.ts";

type Method = "GET" | "HEAD" | "PUT" | "POST" | "DELETE";
/** An action, and its `*Version*` form when the request names a `versionId`. */
type Rule = readonly [action: string, versioned?: string];
type Table = ReadonlyMap<string, Partial<Record<Method, Rule>>>;

const s3 = (a: string) => `s3:${a}`;

function table(rows: Record<string, Partial<Record<Method, readonly string[]>>>): Table {
  const out = new Map<string, Partial<Record<Method, Rule>>>();
  for (const [sub, methods] of Object.entries(rows)) {
    const m: Partial<Record<Method, Rule>> = {};
    for (const [method, names] of Object.entries(methods) as [Method, readonly string[]][]) {
      m[method] = Object.freeze(names.map(s3)) as unknown as Rule;
    }
    out.set(sub, Object.freeze(m));
  }
  return out;
}

/** Bucket subresources ("" = none). */
const BUCKET = table({
  "": { GET: ["ListBucket"], HEAD: ["ListBucket"], PUT: ["CreateBucket"], DELETE: ["DeleteBucket"] },
  delete: { POST: ["DeleteObject"] },
  acl: { GET: ["GetBucketAcl"], PUT: ["PutBucketAcl"] },
  policy: { GET: ["GetBucketPolicy"], PUT: ["PutBucketPolicy"], DELETE: ["DeleteBucketPolicy"] },
  policyStatus: { GET: ["GetBucketPolicyStatus"] },
  tagging: { GET: ["GetBucketTagging"], PUT: ["PutBucketTagging"], DELETE: ["PutBucketTagging"] },
  cors: { GET: ["GetBucketCORS"], PUT: ["PutBucketCORS"], DELETE: ["PutBucketCORS"] },
  lifecycle: {
    GET: ["GetLifecycleConfiguration"],
    PUT: ["PutLifecycleConfiguration"],
    DELETE: ["PutLifecycleConfiguration"],
  },
  encryption: {
    GET: ["GetEncryptionConfiguration"],
    PUT: ["PutEncryptionConfiguration"],
    DELETE: ["PutEncryptionConfiguration"],
  },
  versioning: { GET: ["GetBucketVersioning"], PUT: ["PutBucketVersioning"] },
  versions: { GET: ["ListBucketVersions"] },
  uploads: { GET: ["ListBucketMultipartUploads"] },
  location: { GET: ["GetBucketLocation"] },
  logging: { GET: ["GetBucketLogging"], PUT: ["PutBucketLogging"] },
  notification: { GET: ["GetBucketNotification"], PUT: ["PutBucketNotification"] },
  website: { GET: ["GetBucketWebsite"], PUT: ["PutBucketWebsite"], DELETE: ["DeleteBucketWebsite"] },
  replication: {
    GET: ["GetReplicationConfiguration"],
    PUT: ["PutReplicationConfiguration"],
    DELETE: ["PutReplicationConfiguration"],
  },
  requestPayment: { GET: ["GetBucketRequestPayment"], PUT: ["PutBucketRequestPayment"] },
  "object-lock": { GET: ["GetBucketObjectLockConfiguration"], PUT: ["PutBucketObjectLockConfiguration"] },
  publicAccessBlock: {
    GET: ["GetBucketPublicAccessBlock"],
    PUT: ["PutBucketPublicAccessBlock"],
    DELETE: ["PutBucketPublicAccessBlock"],
  },
  ownershipControls: {
    GET: ["GetBucketOwnershipControls"],
    PUT: ["PutBucketOwnershipControls"],
    DELETE: ["PutBucketOwnershipControls"],
  },
  accelerate: { GET: ["GetAccelerateConfiguration"], PUT: ["PutAccelerateConfiguration"] },
  analytics: {
    GET: ["GetAnalyticsConfiguration"],
    PUT: ["PutAnalyticsConfiguration"],
    DELETE: ["PutAnalyticsConfiguration"],
  },
  inventory: {
    GET: ["GetInventoryConfiguration"],
    PUT: ["PutInventoryConfiguration"],
    DELETE: ["PutInventoryConfiguration"],
  },
  metrics: { GET: ["GetMetricsConfiguration"], PUT: ["PutMetricsConfiguration"], DELETE: ["PutMetricsConfiguration"] },
  "intelligent-tiering": {
    GET: ["GetIntelligentTieringConfiguration"],
    PUT: ["PutIntelligentTieringConfiguration"],
    DELETE: ["PutIntelligentTieringConfiguration"],
  },
});

/** Object subresources ("" = none; multipart steps are handled by `uploadId`/`uploads`). */
const OBJECT = table({
  "": {
    GET: ["GetObject", "GetObjectVersion"],
    HEAD: ["GetObject", "GetObjectVersion"],
    PUT: ["PutObject"],
    DELETE: ["DeleteObject", "DeleteObjectVersion"],
  },
  acl: { GET: ["GetObjectAcl", "GetObjectVersionAcl"], PUT: ["PutObjectAcl", "PutObjectVersionAcl"] },
  tagging: {
    GET: ["GetObjectTagging", "GetObjectVersionTagging"],
    PUT: ["PutObjectTagging", "PutObjectVersionTagging"],
    DELETE: ["DeleteObjectTagging", "DeleteObjectVersionTagging"],
  },
  retention: { GET: ["GetObjectRetention", "GetObjectRetention"], PUT: ["PutObjectRetention", "PutObjectRetention"] },
  "legal-hold": {
    GET: ["GetObjectLegalHold", "GetObjectLegalHold"],
    PUT: ["PutObjectLegalHold", "PutObjectLegalHold"],
  },
  attributes: { GET: ["GetObjectAttributes", "GetObjectVersionAttributes"] },
  torrent: { GET: ["GetObjectTorrent", "GetObjectVersionTorrent"] },
  restore: { POST: ["RestoreObject", "RestoreObject"] },
  // SelectObjectContent reads the object
  select: { POST: ["GetObject"] },
  // CreateMultipartUpload
  uploads: { POST: ["PutObject"] },
});

/** Query parameters that never change the operation (list paging, response overrides, SDK hints). */
const ORDINARY = new Set([
  "list-type",
  "prefix",
  "delimiter",
  "marker",
  "max-keys",
  "continuation-token",
  "start-after",
  "fetch-owner",
  "encoding-type",
  "key-marker",
  "version-id-marker",
  "upload-id-marker",
  "max-uploads",
  "max-parts",
  "part-number-marker",
  "max-buckets",
  "bucket-region",
  "id",
  "partNumber",
  "select-type",
  "response-content-type",
  "response-content-language",
  "response-expires",
  "response-cache-control",
  "response-content-disposition",
  "response-content-encoding",
  // AWS SDK v3 appends ?x-id=<Operation>; S3 ignores it
  "x-id",
]);

const VERSION_ID = "versionId";
const UPLOAD_ID = "uploadId";
const COPY_SOURCE = "x-amz-copy-source";
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const A = {
  ListAllMyBuckets: s3("ListAllMyBuckets"),
  PutObject: s3("PutObject"),
  GetObject: s3("GetObject"),
  GetObjectVersion: s3("GetObjectVersion"),
  PutObjectAcl: s3("PutObjectAcl"),
  PutObjectTagging: s3("PutObjectTagging"),
  PutObjectRetention: s3("PutObjectRetention"),
  PutObjectLegalHold: s3("PutObjectLegalHold"),
  PutBucketAcl: s3("PutBucketAcl"),
  PutBucketVersioning: s3("PutBucketVersioning"),
  PutBucketObjectLockConfiguration: s3("PutBucketObjectLockConfiguration"),
  PutBucketOwnershipControls: s3("PutBucketOwnershipControls"),
  BypassGovernanceRetention: s3("BypassGovernanceRetention"),
  ListMultipartUploadParts: s3("ListMultipartUploadParts"),
  AbortMultipartUpload: s3("AbortMultipartUpload"),
} as const;

function isMethod(m: string): m is Method {
  return m === "GET" || m === "HEAD" || m === "PUT" || m === "POST" || m === "DELETE";
}

/** Canned ACL or any grant header: IAM requires `s3:PutObjectAcl` / `s3:PutBucketAcl` too. */
function setsAcl(headers: Readonly<Record<string, string>>): boolean {
  if (headers["x-amz-acl"] !== undefined) return true;
  for (const name in headers) if (name.startsWith("x-amz-grant-")) return true;
  return false;
}

/** `bucket/key[?versionId=v]`, URL-encoded, optionally with a leading slash; undefined when anything else. */
export function parseCopySource(value: string): Resource | undefined {
  let v = value.trim();
  // SDKs percent-encode a comma; a raw one is two copy-source headers Envoy joined: which one S3 reads is unknown
  if (v.includes(",")) return undefined;
  let versionId: string | undefined;
  const q = v.indexOf("?");
  if (q !== -1) {
    const query = v.slice(q + 1);
    if (!query.startsWith("versionId=") || query.includes("&")) return undefined;
    versionId = decodeName(query.slice("versionId=".length));
    if (versionId === undefined) return undefined;
    v = v.slice(0, q);
  }
  if (v.startsWith("/")) v = v.slice(1);
  const slash = v.indexOf("/");
  if (slash <= 0) return undefined;
  const bucket = v.slice(0, slash);
  const key = decodeName(v.slice(slash + 1));
  if (!BUCKET_RE.test(bucket) || key === undefined) return undefined;
  return versionId === undefined ? { bucket, key } : { bucket, key, version_id: versionId };
}

/** Picks the one subresource; undefined (unknown) for presigned URLs, unknown parameters or two subresources. */
function subresourceOf(query: ReadonlyMap<string, string>, known: Table): string | undefined {
  let sub = "";
  for (const name of query.keys()) {
    if (ORDINARY.has(name) || name === VERSION_ID || name === UPLOAD_ID) continue;
    if (!known.has(name) || name === "" || sub !== "") return undefined;
    sub = name;
  }
  return sub;
}

function bucketRequest(req: CatalogRequest, method: Method, bucket: string): Classified | undefined {
  const { query, headers } = req;
  if (query.has(VERSION_ID) || query.has(UPLOAD_ID) || headers[COPY_SOURCE] !== undefined) return undefined;
  const sub = subresourceOf(query, BUCKET);
  if (sub === undefined) return undefined;
  const rule = BUCKET.get(sub)?.[method];
  if (!rule) return undefined;
  const resource: Resource = { bucket };
  const actions: RequiredAction[] = [{ action: rule[0], resource }];
  if (sub === "" && method === "PUT") {
    // CreateBucket with ACL, object lock or ownership headers needs those permissions as well
    if (setsAcl(headers)) actions.push({ action: A.PutBucketAcl, resource });
    if (headers["x-amz-bucket-object-lock-enabled"] !== undefined) {
      actions.push(
        { action: A.PutBucketObjectLockConfiguration, resource },
        { action: A.PutBucketVersioning, resource },
      );
    }
    if (headers["x-amz-object-ownership"] !== undefined)
      actions.push({ action: A.PutBucketOwnershipControls, resource });
  }
  if (sub === "delete" && headers["x-amz-bypass-governance-retention"] !== undefined) {
    actions.push({ action: A.BypassGovernanceRetention, resource });
  }
  return { action: rule[0], actions, resource };
}

function objectRequest(req: CatalogRequest, method: Method, bucket: string, rawKey: string): Classified | undefined {
  const { query, headers } = req;
  const key = decodeName(rawKey);
  if (key === undefined) return undefined;
  const sub = subresourceOf(query, OBJECT);
  if (sub === undefined) return undefined;
  const versionId = query.get(VERSION_ID);
  const uploadId = query.get(UPLOAD_ID);
  const copy = headers[COPY_SOURCE];
  if (versionId === "" || uploadId === "") return undefined;

  let action: string;
  if (uploadId !== undefined) {
    // multipart steps: UploadPart(Copy) = PutObject, Complete = PutObject, ListParts, Abort
    if (sub !== "" || versionId !== undefined) return undefined;
    if (method === "PUT" && query.has("partNumber")) action = A.PutObject;
    else if (method === "POST") action = A.PutObject;
    else if (method === "GET") action = A.ListMultipartUploadParts;
    else if (method === "DELETE") action = A.AbortMultipartUpload;
    else return undefined;
  } else {
    const rule = OBJECT.get(sub)?.[method];
    if (!rule) return undefined;
    if (versionId === undefined) action = rule[0];
    else if (rule[1] !== undefined) action = rule[1];
    else return undefined;
  }

  const writesObject = action === A.PutObject && (sub === "" || sub === "uploads");
  let source: Resource | undefined;
  if (copy !== undefined) {
    // CopyObject / UploadPartCopy read the source: only on a PUT that writes object data
    if (method !== "PUT" || !writesObject) return undefined;
    source = parseCopySource(copy);
    if (!source) return undefined;
  }
  let resource: Resource = { bucket, key };
  if (versionId !== undefined) {
    const v = decodeName(versionId);
    if (v === undefined) return undefined;
    resource = { bucket, key, version_id: v };
  }
  if (source) resource = { ...resource, copy_source: source };
  const actions: RequiredAction[] = [{ action, resource }];
  if (source)
    actions.push({ action: source.version_id === undefined ? A.GetObject : A.GetObjectVersion, resource: source });
  return objectHeaders(req, action, actions, resource, uploadId === undefined && writesObject);
}

/** Headers that make a PutObject / CopyObject / CreateMultipartUpload also set ACLs, tags or object lock. */
function objectHeaders(
  req: CatalogRequest,
  action: string,
  actions: RequiredAction[],
  resource: Resource,
  createsObject: boolean,
): Classified {
  const h = req.headers;
  if (createsObject) {
    if (setsAcl(h)) actions.push({ action: A.PutObjectAcl, resource });
    if (h["x-amz-tagging"] !== undefined) actions.push({ action: A.PutObjectTagging, resource });
    if (h["x-amz-object-lock-mode"] !== undefined || h["x-amz-object-lock-retain-until-date"] !== undefined) {
      actions.push({ action: A.PutObjectRetention, resource });
    }
    if (h["x-amz-object-lock-legal-hold"] !== undefined) actions.push({ action: A.PutObjectLegalHold, resource });
    // SSE-KMS under a named key: AWS also checks kms:GenerateDataKey on that key (a caller's own key in
    // another account would let a writer re-encrypt objects out of the owner's reach)
    const kmsKey = h["x-amz-server-side-encryption-aws-kms-key-id"];
    if (kmsKey !== undefined) {
      const id = kmsKey.trim();
      actions.push({
        action: "kms:GenerateDataKey",
        resource: id.length > 0 && id.length <= 2048 ? { kms_key: id } : {},
      });
    }
  }
  if (
    h["x-amz-bypass-governance-retention"] !== undefined &&
    (action === "s3:DeleteObject" || action === "s3:DeleteObjectVersion" || action === A.PutObjectRetention)
  ) {
    actions.push({ action: A.BypassGovernanceRetention, resource });
  }
  return { action, actions, resource };
}

/** Path style (`/bucket/key`) when `hostPrefix` is empty, virtual-hosted (`bucket.s3….amazonaws.com/key`) otherwise. */
export function classifyS3(req: CatalogRequest): Classified | undefined {
  const method = req.method;
  if (!isMethod(method)) return undefined;
  const path = req.path;
  let bucket: string;
  let rest: string;
  if (req.hostPrefix !== "") {
    bucket = req.hostPrefix;
    rest = path.slice(1);
  } else {
    const slash = path.indexOf("/", 1);
    if (path.length === 1) {
      // the service: ListBuckets, nothing else
      if (method !== "GET" || req.headers[COPY_SOURCE] !== undefined) return undefined;
      for (const name of req.query.keys()) {
        if (name !== "max-buckets" && name !== "continuation-token" && name !== "prefix" && name !== "bucket-region")
          return undefined;
      }
      return SERVICE;
    }
    bucket = slash === -1 ? path.slice(1) : path.slice(1, slash);
    rest = slash === -1 ? "" : path.slice(slash + 1);
  }
  if (!BUCKET_RE.test(bucket)) return undefined;
  return rest === "" ? bucketRequest(req, method, bucket) : objectRequest(req, method, bucket, rest);
}

const SERVICE: Classified = Object.freeze({
  action: A.ListAllMyBuckets,
  actions: Object.freeze([Object.freeze({ action: A.ListAllMyBuckets, resource: Object.freeze({}) })]),
  resource: Object.freeze({}),
});

/**
 * Cloud Storage requests → IAM permission names (`storage.objects.get`, `storage.buckets.setIamPolicy`, …),
 * for the JSON API (`/storage/v1/…`, `/upload/…`, `/download/…`) and the XML API (path style on
 * `storage.googleapis.com`, virtual-hosted on `<bucket>.storage.googleapis.com`).
 *
 * Copies (`rewriteTo`, `copyTo`, XML `x-goog-copy-source` / `x-amz-copy-source`) need `storage.objects.get`
 * on the source besides `storage.objects.create` on the destination; ACL headers and `predefinedAcl` need
 * `setIamPolicy`. Batch requests (`/batch/…`: many requests in one body) and anything not below are
 * undefined (`unknown`), as are signed-URL parameters and unknown query parameters.
 */
import { type CatalogRequest, type Classified, decodeName, type Resource, single } from "./types.ts";

export const GCS_PERMISSIONS = Object.freeze({
  bucketsList: "storage.buckets.list",
  bucketsCreate: "storage.buckets.create",
  bucketsGet: "storage.buckets.get",
  bucketsUpdate: "storage.buckets.update",
  bucketsDelete: "storage.buckets.delete",
  bucketsGetIamPolicy: "storage.buckets.getIamPolicy",
  bucketsSetIamPolicy: "storage.buckets.setIamPolicy",
  objectsList: "storage.objects.list",
  objectsGet: "storage.objects.get",
  objectsCreate: "storage.objects.create",
  objectsUpdate: "storage.objects.update",
  objectsDelete: "storage.objects.delete",
  objectsGetIamPolicy: "storage.objects.getIamPolicy",
  objectsSetIamPolicy: "storage.objects.setIamPolicy",
  multipartCreate: "storage.multipartUploads.create",
  multipartAbort: "storage.multipartUploads.abort",
  multipartList: "storage.multipartUploads.list",
  multipartListParts: "storage.multipartUploads.listParts",
});
const P = GCS_PERMISSIONS;

/** JSON API method parameters and Google system parameters that never change the operation. */
const JSON_PARAMS = new Set([
  "alt",
  "fields",
  "prettyPrint",
  "quotaUser",
  "userProject",
  "project",
  "projection",
  "generation",
  "sourceGeneration",
  "ifGenerationMatch",
  "ifGenerationNotMatch",
  "ifMetagenerationMatch",
  "ifMetagenerationNotMatch",
  "ifSourceGenerationMatch",
  "ifSourceGenerationNotMatch",
  "ifSourceMetagenerationMatch",
  "ifSourceMetagenerationNotMatch",
  "maxResults",
  "pageToken",
  "prefix",
  "delimiter",
  "versions",
  "includeTrailingDelimiter",
  "includeFoldersAsPrefixes",
  "startOffset",
  "endOffset",
  "matchGlob",
  "softDeleted",
  "name",
  "uploadType",
  "upload_id",
  "kmsKeyName",
  "contentEncoding",
  "destinationKmsKeyName",
  "rewriteToken",
  "maxBytesRewrittenPerCall",
  "predefinedAcl",
  "destinationPredefinedAcl",
  "predefinedDefaultObjectAcl",
  "$.xgafv",
]);

/** XML API parameters that never change the operation. */
const XML_PARAMS = new Set([
  "generation",
  "prefix",
  "delimiter",
  "marker",
  "max-keys",
  "list-type",
  "continuation-token",
  "start-after",
  "fetch-owner",
  "encoding-type",
  "generation-marker",
  "partNumber",
  "upload_id",
  "response-content-type",
  "response-content-disposition",
]);

/** XML bucket subresources: GET / PUT permission. */
const XML_BUCKET_SUB = new Map<string, readonly [get: string, put: string | undefined]>([
  ["acl", [P.bucketsGetIamPolicy, P.bucketsSetIamPolicy]],
  ["billing", [P.bucketsGet, P.bucketsUpdate]],
  ["cors", [P.bucketsGet, P.bucketsUpdate]],
  ["encryption", [P.bucketsGet, P.bucketsUpdate]],
  ["lifecycle", [P.bucketsGet, P.bucketsUpdate]],
  ["location", [P.bucketsGet, undefined]],
  ["logging", [P.bucketsGet, P.bucketsUpdate]],
  ["storageClass", [P.bucketsGet, undefined]],
  ["versioning", [P.bucketsGet, P.bucketsUpdate]],
  ["website", [P.bucketsGet, P.bucketsUpdate]],
  ["uploads", [P.multipartList, undefined]],
]);

const BUCKET_RE = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;
const JSON_PREFIX = "/storage/v1/b";
const UPLOAD_PREFIX = "/upload/storage/v1/b/";
const DOWNLOAD_PREFIX = "/download/storage/v1/b/";

function seg(s: string | undefined): string | undefined {
  return s === undefined ? undefined : decodeName(s);
}

function bucketOk(b: string | undefined): b is string {
  return b !== undefined && BUCKET_RE.test(b);
}

function withAcl(c: Classified, acl: boolean, action: string): Classified {
  if (!acl) return c;
  return { ...c, actions: [...c.actions, { action, resource: c.resource }] };
}

function only(query: ReadonlyMap<string, string>, allowed: ReadonlySet<string>): boolean {
  for (const name of query.keys()) if (!allowed.has(name)) return false;
  return true;
}

function copy(dest: Resource, source: Resource): Classified {
  const resource = { ...dest, copy_source: source };
  return {
    action: P.objectsCreate,
    actions: [
      { action: P.objectsCreate, resource },
      { action: P.objectsGet, resource: source },
    ],
    resource,
  };
}

function classifyJson(req: CatalogRequest): Classified | undefined {
  const { method, query, path } = req;
  if (!only(query, JSON_PARAMS)) return undefined;
  const objectAcl = query.has("predefinedAcl") || query.has("destinationPredefinedAcl");
  const readsAcl = method === "GET" && query.get("projection") === "full";

  if (path.startsWith(UPLOAD_PREFIX)) {
    const s = path.slice(UPLOAD_PREFIX.length).split("/");
    const bucket = seg(s[0]);
    if (s.length !== 2 || s[1] !== "o" || !bucketOk(bucket) || (method !== "POST" && method !== "PUT"))
      return undefined;
    const name = query.get("name");
    const resource: Resource = name ? { bucket, object: name } : { bucket };
    return withAcl(single(P.objectsCreate, resource), objectAcl, P.objectsSetIamPolicy);
  }
  if (path.startsWith(DOWNLOAD_PREFIX)) {
    const s = path.slice(DOWNLOAD_PREFIX.length).split("/");
    const bucket = seg(s[0]);
    const object = seg(s[2]);
    if (s.length !== 3 || s[1] !== "o" || !bucketOk(bucket) || object === undefined || method !== "GET")
      return undefined;
    return single(P.objectsGet, { bucket, object });
  }
  if (path === JSON_PREFIX) {
    if (method === "GET") return single(P.bucketsList, query.has("project") ? { project: query.get("project") } : {});
    if (method === "POST") {
      const setsAcl = query.has("predefinedAcl") || query.has("predefinedDefaultObjectAcl");
      const c = single(P.bucketsCreate, query.has("project") ? { project: query.get("project") } : {});
      return withAcl(c, setsAcl, P.bucketsSetIamPolicy);
    }
    return undefined;
  }
  if (!path.startsWith(`${JSON_PREFIX}/`)) return undefined;
  const s = path.slice(JSON_PREFIX.length + 1).split("/");
  const bucket = seg(s[0]);
  if (!bucketOk(bucket)) return undefined;
  const b: Resource = { bucket };
  if (s.length === 1) {
    const setsAcl = query.has("predefinedAcl") || query.has("predefinedDefaultObjectAcl");
    let c: Classified | undefined;
    if (method === "GET") c = withAcl(single(P.bucketsGet, b), readsAcl, P.bucketsGetIamPolicy);
    else if (method === "PATCH" || method === "PUT")
      c = withAcl(single(P.bucketsUpdate, b), setsAcl, P.bucketsSetIamPolicy);
    else if (method === "DELETE") c = single(P.bucketsDelete, b);
    return c;
  }
  if (s[1] === "iam" && s.length === 2) {
    return method === "GET"
      ? single(P.bucketsGetIamPolicy, b)
      : method === "PUT"
        ? single(P.bucketsSetIamPolicy, b)
        : undefined;
  }
  if (s[1] === "acl" && (s.length === 2 || s.length === 3)) {
    return method === "GET"
      ? single(P.bucketsGetIamPolicy, b)
      : aclWrite(method)
        ? single(P.bucketsSetIamPolicy, b)
        : undefined;
  }
  if (s[1] !== "o") return undefined;
  if (s.length === 2) {
    return method === "GET" ? withAcl(single(P.objectsList, b), readsAcl, P.objectsGetIamPolicy) : undefined;
  }
  const object = seg(s[2]);
  if (object === undefined) return undefined;
  const o: Resource = { bucket, object };
  if (s.length === 3) {
    if (method === "GET") return withAcl(single(P.objectsGet, o), readsAcl, P.objectsGetIamPolicy);
    if (method === "PATCH" || method === "PUT")
      return withAcl(single(P.objectsUpdate, o), objectAcl, P.objectsSetIamPolicy);
    if (method === "DELETE") return single(P.objectsDelete, o);
    return undefined;
  }
  if (s[3] === "acl" && (s.length === 4 || s.length === 5)) {
    return method === "GET"
      ? single(P.objectsGetIamPolicy, o)
      : aclWrite(method)
        ? single(P.objectsSetIamPolicy, o)
        : undefined;
  }
  if (s[3] === "compose" && s.length === 4 && method === "POST") {
    // the sources are named in the body, in the same bucket: reading them needs storage.objects.get there
    const c: Classified = {
      action: P.objectsCreate,
      actions: [
        { action: P.objectsCreate, resource: o },
        { action: P.objectsGet, resource: b },
      ],
      resource: o,
    };
    return withAcl(c, objectAcl, P.objectsSetIamPolicy);
  }
  if (
    (s[3] === "rewriteTo" || s[3] === "copyTo") &&
    s.length === 8 &&
    s[4] === "b" &&
    s[6] === "o" &&
    method === "POST"
  ) {
    const destBucket = seg(s[5]);
    const destObject = seg(s[7]);
    if (!bucketOk(destBucket) || destObject === undefined) return undefined;
    return withAcl(copy({ bucket: destBucket, object: destObject }, o), objectAcl, P.objectsSetIamPolicy);
  }
  return undefined;
}

function aclWrite(method: string): boolean {
  return method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE";
}

/** `bucket/object` or `/bucket/object` (URL-encoded), optionally `?generation=…`. */
function parseXmlCopySource(value: string): Resource | undefined {
  let v = value.trim();
  const q = v.indexOf("?");
  if (q !== -1) {
    if (!v.slice(q + 1).startsWith("generation=") || v.includes("&", q)) return undefined;
    v = v.slice(0, q);
  }
  if (v.startsWith("/")) v = v.slice(1);
  const slash = v.indexOf("/");
  if (slash <= 0) return undefined;
  const bucket = v.slice(0, slash);
  const object = decodeName(v.slice(slash + 1));
  return bucketOk(bucket) && object !== undefined ? { bucket, object } : undefined;
}

function classifyXml(req: CatalogRequest, bucket: string, rawObject: string): Classified | undefined {
  const { method, query, headers } = req;
  let sub = "";
  for (const name of query.keys()) {
    if (XML_PARAMS.has(name) || name === "uploadId") continue;
    if (sub !== "" || (!XML_BUCKET_SUB.has(name) && name !== "versions")) return undefined;
    sub = name;
  }
  // both spellings at once: which one the service reads is not ours to guess
  if (headers["x-goog-copy-source"] !== undefined && headers["x-amz-copy-source"] !== undefined) return undefined;
  const copySource = headers["x-goog-copy-source"] ?? headers["x-amz-copy-source"];
  const setsAcl = headers["x-goog-acl"] !== undefined || headers["x-amz-acl"] !== undefined;
  const uploadId = query.get("uploadId");
  if (!bucketOk(bucket)) return undefined;
  const b: Resource = { bucket };

  if (rawObject === "") {
    if (copySource !== undefined || uploadId !== undefined) return undefined;
    if (sub === "" || sub === "versions") {
      if (method === "GET") return single(P.objectsList, b);
      if (sub !== "") return undefined;
      if (method === "HEAD") return single(P.bucketsGet, b);
      if (method === "PUT") return withAcl(single(P.bucketsCreate, b), setsAcl, P.bucketsSetIamPolicy);
      if (method === "DELETE") return single(P.bucketsDelete, b);
      return undefined;
    }
    const rule = XML_BUCKET_SUB.get(sub);
    if (!rule) return undefined;
    const action = method === "GET" ? rule[0] : method === "PUT" ? rule[1] : undefined;
    return action === undefined ? undefined : single(action, b);
  }

  const object = decodeName(rawObject);
  if (object === undefined) return undefined;
  const o: Resource = { bucket, object };
  if (uploadId !== undefined) {
    if (sub !== "" || copySource !== undefined || uploadId === "") return undefined;
    if ((method === "PUT" && query.has("partNumber")) || method === "POST") return single(P.multipartCreate, o);
    if (method === "GET") return single(P.multipartListParts, o);
    if (method === "DELETE") return single(P.multipartAbort, o);
    return undefined;
  }
  if (sub === "acl") {
    if (copySource !== undefined) return undefined;
    return method === "GET"
      ? single(P.objectsGetIamPolicy, o)
      : method === "PUT"
        ? single(P.objectsSetIamPolicy, o)
        : undefined;
  }
  if (sub === "uploads") {
    if (method !== "POST" || copySource !== undefined) return undefined;
    return withAcl(single(P.multipartCreate, o), setsAcl, P.objectsSetIamPolicy);
  }
  if (sub !== "") return undefined;
  if (copySource !== undefined) {
    if (method !== "PUT") return undefined;
    const source = parseXmlCopySource(copySource);
    return source ? withAcl(copy(o, source), setsAcl, P.objectsSetIamPolicy) : undefined;
  }
  if (method === "GET" || method === "HEAD") return single(P.objectsGet, o);
  if (method === "PUT") return withAcl(single(P.objectsCreate, o), setsAcl, P.objectsSetIamPolicy);
  if (method === "DELETE") return single(P.objectsDelete, o);
  // POST on an object only starts a resumable upload; anything else (form posts) is unknown
  if (method === "POST" && headers["x-goog-resumable"] === "start") {
    return withAcl(single(P.objectsCreate, o), setsAcl, P.objectsSetIamPolicy);
  }
  return undefined;
}

function isJsonApiPath(path: string): boolean {
  return path.startsWith("/storage/") || path.startsWith("/upload/") || path.startsWith("/download/");
}

export function classifyGcs(req: CatalogRequest): Classified | undefined {
  const path = req.path;
  if (req.hostPrefix !== "") return classifyXml(req, req.hostPrefix, path.slice(1));
  // batch: many requests in one multipart body, which the catalog does not read
  if (path === "/batch" || path.startsWith("/batch/")) return undefined;
  if (isJsonApiPath(path) || path === "/storage") return classifyJson(req);
  if (path === "/") {
    return req.method === "GET" && req.query.size === 0 && !req.headers["x-goog-copy-source"]
      ? LIST_BUCKETS
      : undefined;
  }
  const slash = path.indexOf("/", 1);
  const bucket = slash === -1 ? path.slice(1) : path.slice(1, slash);
  return classifyXml(req, bucket, slash === -1 ? "" : path.slice(slash + 1));
}

const LIST_BUCKETS: Classified = Object.freeze({
  action: P.bucketsList,
  actions: Object.freeze([Object.freeze({ action: P.bucketsList, resource: Object.freeze({}) })]),
  resource: Object.freeze({}),
});

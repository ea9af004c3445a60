/**
 * Azure Blob REST requests (`https://<account>.blob.core.windows.net/<container>/<blob>`) → Azure RBAC
 * (data) action names, by method, level (account, container, blob), the `restype`/`comp` query values and
 * `x-ms-copy-source`. Copy Blob, Put Blob From URL, Put Block / Append Block / Put Page From URL and
 * Incremental Copy read their source: they need `…/blobs/read` on it as well as the write on the target.
 *
 * Undefined (`unknown`) for anything else: an unknown `comp`, SAS query parameters (the SAS would be the
 * authorization, not our credential), a copy source that is not a blob URL without SAS, container ACLs and
 * batch requests (no precise permission we can name).
 */
import {
  type CatalogRequest,
  type Classified,
  decodeName,
  hasDotSegment,
  type RequiredAction,
  type Resource,
  single,
} from "./types.ts";

const SERVICES = "Microsoft.Storage/storageAccounts/blobServices";
const CONTAINERS = `${SERVICES}/containers`;
const BLOBS = `${CONTAINERS}/blobs`;

export const AZURE_BLOB_ACTIONS = Object.freeze({
  serviceRead: `${SERVICES}/read`,
  serviceWrite: `${SERVICES}/write`,
  userDelegationKey: `${SERVICES}/generateUserDelegationKey/action`,
  containerRead: `${CONTAINERS}/read`,
  containerWrite: `${CONTAINERS}/write`,
  containerDelete: `${CONTAINERS}/delete`,
  read: `${BLOBS}/read`,
  write: `${BLOBS}/write`,
  delete: `${BLOBS}/delete`,
  add: `${BLOBS}/add/action`,
  deleteVersion: `${BLOBS}/deleteBlobVersion/action`,
  permanentDelete: `${BLOBS}/permanentDelete/action`,
  tagsRead: `${BLOBS}/tags/read`,
  tagsWrite: `${BLOBS}/tags/write`,
  filter: `${BLOBS}/filter/action`,
});
const X = AZURE_BLOB_ACTIONS;

/** `method comp` → action, per level ("" = no comp). */
const ACCOUNT = new Map([
  ["GET list", X.containerRead],
  ["GET blobs", X.filter],
]);
const ACCOUNT_SERVICE = new Map([
  ["GET properties", X.serviceRead],
  ["PUT properties", X.serviceWrite],
  ["POST userdelegationkey", X.userDelegationKey],
]);
const CONTAINER = new Map([
  ["PUT ", X.containerWrite],
  ["GET ", X.containerRead],
  ["HEAD ", X.containerRead],
  ["DELETE ", X.containerDelete],
  ["GET metadata", X.containerRead],
  ["HEAD metadata", X.containerRead],
  ["PUT metadata", X.containerWrite],
  ["PUT lease", X.containerWrite],
  ["GET list", X.read],
  ["GET blobs", X.filter],
]);
const BLOB = new Map([
  ["GET ", X.read],
  ["HEAD ", X.read],
  ["PUT ", X.write],
  ["DELETE ", X.delete],
  ["GET metadata", X.read],
  ["HEAD metadata", X.read],
  ["PUT metadata", X.write],
  ["PUT properties", X.write],
  ["GET tags", X.tagsRead],
  ["PUT tags", X.tagsWrite],
  ["PUT block", X.write],
  ["GET blocklist", X.read],
  ["PUT blocklist", X.write],
  ["PUT appendblock", X.add],
  ["PUT page", X.write],
  ["GET pagelist", X.read],
  ["PUT snapshot", X.write],
  ["PUT lease", X.write],
  ["PUT copy", X.write],
  ["PUT tier", X.write],
  ["PUT undelete", X.write],
  ["PUT expiry", X.write],
  ["PUT incrementalcopy", X.write],
  // Query Blob Contents reads the blob
  ["POST query", X.read],
]);
/** Blob operations that may carry `x-ms-copy-source` (the source is read). */
const COPIES = new Set(["PUT ", "PUT block", "PUT appendblock", "PUT page", "PUT incrementalcopy"]);
/** Blob writes that take `x-ms-tags`. */
const TAGGED = new Set(["PUT ", "PUT blocklist"]);

/** Parameters that never change the operation. */
const ORDINARY = new Set([
  "timeout",
  "snapshot",
  "versionid",
  "prefix",
  "delimiter",
  "marker",
  "maxresults",
  "include",
  "showonly",
  "blockid",
  "blocklisttype",
  "copyid",
  "where",
  "deletetype",
  "prevsnapshot",
]);

const ACCOUNT_RE = /^[a-z0-9]{3,24}$/;
const CONTAINER_RE = /^(?:\$root|\$logs|\$web|[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9])$/;
const BLOB_HOST_SUFFIX = ".blob.core.windows.net";

/** `https://<account>.blob.core.windows.net/<container>/<blob>[?snapshot=…|versionid=…]`; undefined otherwise. */
export function parseBlobUrl(url: string): Resource | undefined {
  const v = url.trim();
  const scheme = v.startsWith("https://") ? 8 : v.startsWith("http://") ? 7 : -1;
  if (scheme === -1) return undefined;
  const slash = v.indexOf("/", scheme);
  if (slash === -1) return undefined;
  const host = v.slice(scheme, slash).toLowerCase();
  if (!host.endsWith(BLOB_HOST_SUFFIX)) return undefined;
  const account = host.slice(0, -BLOB_HOST_SUFFIX.length);
  if (!ACCOUNT_RE.test(account)) return undefined;
  let path = v.slice(slash);
  const q = path.indexOf("?");
  if (q !== -1) {
    for (const part of path.slice(q + 1).split("&")) {
      const name = part.slice(0, part.indexOf("=") === -1 ? part.length : part.indexOf("="));
      // a SAS in the source URL authorizes the read itself: not ours to judge
      if (name !== "snapshot" && name !== "versionid") return undefined;
    }
    path = path.slice(0, q);
  }
  // the service normalizes dot segments: `/c/x/../../secret/b` reads container `secret`, not `c`
  if (path.includes("#") || v.includes(",") || hasDotSegment(path)) return undefined;
  const split = splitBlobPath(path);
  if (!split || split.blob === undefined) return undefined;
  return { account, container: split.container, blob: split.blob };
}

function splitBlobPath(path: string): { container: string; blob: string | undefined } | undefined {
  const slash = path.indexOf("/", 1);
  const container = slash === -1 ? path.slice(1) : path.slice(1, slash);
  if (!CONTAINER_RE.test(container)) return undefined;
  if (slash === -1 || slash === path.length - 1) return { container, blob: undefined };
  const blob = decodeName(path.slice(slash + 1));
  return blob === undefined ? undefined : { container, blob };
}

export function classifyAzureBlob(req: CatalogRequest): Classified | undefined {
  const { method, query, headers, path } = req;
  const account = req.hostPrefix;
  if (!ACCOUNT_RE.test(account)) return undefined;
  let restype = "";
  let comp = "";
  for (const [name, value] of query) {
    if (name === "restype") restype = value;
    else if (name === "comp") comp = value;
    else if (!ORDINARY.has(name)) return undefined;
  }
  const op = `${method} ${comp}`;
  const copy = headers["x-ms-copy-source"];

  if (path === "/") {
    if (copy !== undefined) return undefined;
    const action = restype === "service" ? ACCOUNT_SERVICE.get(op) : restype === "" ? ACCOUNT.get(op) : undefined;
    return action === undefined ? undefined : single(action, { account });
  }
  const split = splitBlobPath(path);
  if (!split) return undefined;
  const { container, blob } = split;
  if (blob === undefined) {
    // "/name" without restype=container would be a blob in $root: ambiguous, so unknown
    if (restype !== "container" || copy !== undefined) return undefined;
    const action = CONTAINER.get(op);
    return action === undefined ? undefined : single(action, { account, container });
  }
  if (restype !== "") return undefined;
  let action: string | undefined = BLOB.get(op);
  if (action === undefined) return undefined;
  if (method === "DELETE" && comp === "") {
    if (query.get("deletetype") === "permanent") action = X.permanentDelete;
    else if (query.has("deletetype")) return undefined;
    else if (query.has("versionid")) action = X.deleteVersion;
  } else if (query.has("deletetype")) {
    return undefined;
  }
  let resource: Resource = { account, container, blob };
  let source: Resource | undefined;
  if (copy !== undefined) {
    if (!COPIES.has(op)) return undefined;
    source = parseBlobUrl(copy);
    if (!source) return undefined;
    resource = { ...resource, copy_source: source };
  } else if (comp === "incrementalcopy") {
    return undefined;
  }
  const actions: RequiredAction[] = [{ action, resource }];
  if (source) actions.push({ action: X.read, resource: source });
  if (headers["x-ms-tags"] !== undefined && TAGGED.has(op)) actions.push({ action: X.tagsWrite, resource });
  return { action, actions, resource };
}

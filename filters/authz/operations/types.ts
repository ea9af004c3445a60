/**
 * What a request does, in the cloud's own permission vocabulary: the shared types of the service
 * catalog and its per-cloud classifiers (`aws-s3.ts`, `azure-blob.ts`, `gcp-storage.ts`).
 */

/**
 * The resource facts a policy can scope by. Only the fields the service has are set: S3 `bucket`/`key`,
 * Cloud Storage `bucket`/`object`, Azure `account`/`container`/`blob`, BigQuery `project`/`dataset`/
 * `table`/`job`. Names are percent-decoded and bounded ({@link MAX_RESOURCE_NAME_LENGTH}).
 */
export interface Resource {
  readonly bucket?: string;
  readonly key?: string;
  readonly object?: string;
  readonly version_id?: string;
  readonly account?: string;
  readonly container?: string;
  readonly blob?: string;
  readonly project?: string;
  readonly dataset?: string;
  readonly table?: string;
  readonly job?: string;
  /** The KMS key a write encrypts under (S3 `x-amz-server-side-encryption-aws-kms-key-id`). */
  readonly kms_key?: string;
  /** What a copy reads (S3 `x-amz-copy-source`, Azure `x-ms-copy-source`, GCS rewrite/copy source). */
  readonly copy_source?: Resource;
}

/** One permission the request needs, and the resource it needs it on. */
export interface RequiredAction {
  readonly action: string;
  readonly resource: Resource;
}

/** A classified request: the primary action (on `resource`) and every action the request needs. */
export interface Classified {
  readonly action: string;
  /** The primary action first; then e.g. the read of a copy source, or `s3:PutObjectAcl` for `x-amz-acl`. */
  readonly actions: readonly RequiredAction[];
  readonly resource: Resource;
}

/** A request as the classifiers see it: parsed once by the catalog. */
export interface CatalogRequest {
  readonly method: string;
  /** Origin-form path before `?`, still percent-encoded; never holds dot segments (the catalog refused those). */
  readonly path: string;
  /** Decoded query parameters; every name appears once (the catalog refused repeats). */
  readonly query: ReadonlyMap<string, string>;
  /** Lowercase names, as Envoy sends them in a CheckRequest. */
  readonly headers: Readonly<Record<string, string>>;
  /** Host labels matched by the host pattern's leading `*.` (S3 bucket, Azure account), or "". */
  readonly hostPrefix: string;
}

/** Returns undefined when the request cannot be classified precisely (the policy sees `unknown`). */
export type Classifier = (req: CatalogRequest) => Classified | undefined;

/** S3 and Cloud Storage cap names at 1024 bytes; Azure blob names at 1024 characters. */
export const MAX_RESOURCE_NAME_LENGTH = 1024;

export const EMPTY_RESOURCE: Resource = Object.freeze({});

/** `{ action, actions: [{ action, resource }], resource }`. */
export function single(action: string, resource: Resource): Classified {
  return { action, actions: [{ action, resource }], resource };
}

/** Percent-decodes a path or header part; undefined when malformed or too long. */
export function decodeName(raw: string): string | undefined {
  let s = raw;
  if (s.includes("%")) {
    try {
      s = decodeURIComponent(s);
    } catch {
      return undefined;
    }
  }
  return s.length === 0 || s.length > MAX_RESOURCE_NAME_LENGTH ? undefined : s;
}

/** True when a raw path holds a `.`/`..` segment, plain or percent-encoded (Envoy may not have normalized it). */
export function hasDotSegment(path: string): boolean {
  let start = 1;
  while (start <= path.length) {
    let end = path.indexOf("/", start);
    if (end === -1) end = path.length;
    const n = end - start;
    if (n >= 1 && n <= 6) {
      const s = path.slice(start, end).toLowerCase();
      if (s === "." || s === ".." || s === "%2e" || s === "%2e%2e" || s === ".%2e" || s === "%2e.") return true;
    }
    start = end + 1;
  }
  return false;
}

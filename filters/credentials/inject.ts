/**
 * A credential onto the upstream request, as header mutations for the ext_authz OK response.
 *
 * - **Bearer** (GCP, Azure): `Authorization: Bearer <token>`, replacing whatever the client sent, and the
 *   provider's API-key headers removed, so a key the agent smuggled in never rides along.
 * - **AWS**: SigV4 over the request exactly as Envoy forwards it — method, `:authority` as Host, the
 *   path as received, the query, and the client's `x-amz-*`, `content-type` and `content-md5` headers (the
 *   ones S3 requires signed). Headers Envoy adds later (`x-request-id`, `x-envoy-*`) are not signed, so
 *   they cannot break the signature. The payload: S3 is signed `UNSIGNED-PAYLOAD` (TLS protects the body;
 *   S3 accepts it), or with the client's own SHA-256 of the body when it sent one; other AWS services need
 *   the body's hash, which ext_authz only has when Envoy sends the body (`with_request_body`) — without it
 *   the request is refused, never signed over a guess. Chunk-signed uploads
 *   (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) need the seed signature of a key the agent does not hold, so
 *   they are refused with a reason; `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (SDK checksum uploads) is fine.
 *
 * Routes that inject credentials must not rewrite Host after ext_authz (`host_rewrite_*`), or the signature
 * no longer matches what arrives.
 *
 * @example
 *   const inj = await signAws(cred, { method: "PUT", authority: "b.s3.us-east-1.amazonaws.com",
 *     path: "/k.csv", headers, service: "s3", region: "us-east-1" });
 *   // inj.set: authorization, x-amz-date, x-amz-security-token, x-amz-content-sha256
 */
import { createHash } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import { HexrError } from "../errors.ts";
import { Sha256 } from "./sha256.ts";
import type { IssuedCredential, Injection, ProviderKind } from "./types.ts";

export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
const UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const SHA256_HEX = /^[0-9a-f]{64}$/;
const AMZ_PREFIX = "x-amz-";
/** Set by us, never taken from the client. */
const OURS = new Set(["x-amz-date", "x-amz-security-token", "authorization"]);
const SIGNED_PLAIN = ["content-type", "content-md5"] as const;
/** API-key headers each provider's clients may send besides Authorization; removed when we inject. */
const API_KEY_HEADERS: Record<ProviderKind, readonly string[]> = {
  aws: [],
  gcp: ["x-goog-api-key"],
  azure: ["api-key", "ocp-apim-subscription-key"],
};
const NO_REMOVALS: readonly string[] = Object.freeze([]);

export interface SignTarget {
  readonly method: string;
  /** Envoy's `:authority` (the Host the upstream receives). */
  readonly authority: string;
  /** The path with its query, as Envoy forwards it. */
  readonly path: string;
  /** Lowercase request headers as ext_authz saw them. */
  readonly headers: Readonly<Record<string, string>>;
  /** The SigV4 signing name (`s3`, `dynamodb`, …). */
  readonly service: string;
  readonly region: string;
  /** The request body when Envoy sent it whole (non-S3 services need its hash). */
  readonly body?: Uint8Array;
  readonly signingDate?: Date;
}

/** Signers hold the derived signing key; one per credential, region and service. */
const signers = new WeakMap<IssuedCredential, Map<string, SignatureV4>>();

function signerFor(cred: IssuedCredential & { kind: "aws" }, service: string, region: string): SignatureV4 {
  let byScope = signers.get(cred);
  if (!byScope) signers.set(cred, (byScope = new Map()));
  const scope = `${region}/${service}`;
  let s = byScope.get(scope);
  if (!s) {
    s = new SignatureV4({
      service,
      region,
      credentials: {
        accessKeyId: cred.accessKeyId,
        secretAccessKey: cred.secretAccessKey,
        sessionToken: cred.sessionToken,
      },
      sha256: Sha256,
      // S3 signs the path as sent; every other service signs it URI-encoded once more
      uriEscapePath: service !== "s3",
      applyChecksum: false,
    });
    byScope.set(scope, s);
  }
  return s;
}

/** The payload hash to sign, or a reason this request cannot be signed here. */
function payloadHash(t: SignTarget): string {
  const client = t.headers["x-amz-content-sha256"];
  if (client !== undefined) {
    if (SHA256_HEX.test(client) || client === UNSIGNED_PAYLOAD || client === UNSIGNED_TRAILER) return client;
    throw new HexrError(
      "credentials.unsupported_payload_signing",
      "x-amz-content-sha256 asks for chunk signatures, which need the agent's own key: send UNSIGNED-PAYLOAD or the body's SHA-256",
    );
  }
  if (t.service === "s3") return UNSIGNED_PAYLOAD;
  if (t.body === undefined) {
    throw new HexrError(
      "credentials.body_unavailable",
      `SigV4 for ${t.service} covers the body: enable with_request_body for this route`,
    );
  }
  return createHash("sha256").update(t.body).digest("hex");
}

function parseQuery(q: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (q.length === 0) return out;
  for (const pair of q.split("&")) {
    if (pair.length === 0) continue;
    const eq = pair.indexOf("=");
    const name = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? "" : decode(pair.slice(eq + 1));
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

/** Form decoding (`+` is a space), as S3 and Go servers read the query. */
function decode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll("+", " "));
  } catch {
    throw new HexrError("credentials.unsignable_request", "the query has a malformed percent-encoding");
  }
}

/** SigV4 headers for an AWS credential over `t`. Rejects with a HexrError when the request cannot be signed. */
export async function signAws(cred: IssuedCredential & { kind: "aws" }, t: SignTarget): Promise<Injection> {
  const hash = payloadHash(t);
  const headers: Record<string, string> = { host: t.authority, "x-amz-content-sha256": hash };
  for (const name in t.headers) {
    if (name.startsWith(AMZ_PREFIX) && !OURS.has(name) && name !== "x-amz-content-sha256") {
      headers[name] = t.headers[name] as string;
    }
  }
  for (const name of SIGNED_PLAIN) {
    const v = t.headers[name];
    if (v !== undefined) headers[name] = v;
  }
  const q = t.path.indexOf("?");
  const signed = await signerFor(cred, t.service, t.region).sign(
    {
      method: t.method,
      protocol: "https:",
      hostname: t.authority,
      path: q === -1 ? t.path : t.path.slice(0, q),
      query: q === -1 ? {} : parseQuery(t.path.slice(q + 1)),
      headers,
    },
    t.signingDate ? { signingDate: t.signingDate } : {},
  );
  const h = signed.headers;
  return {
    set: [
      ["authorization", h.authorization as string],
      ["x-amz-date", h["x-amz-date"] as string],
      ["x-amz-security-token", cred.sessionToken],
      ["x-amz-content-sha256", hash],
    ],
    remove: NO_REMOVALS,
  };
}

/** `Authorization: Bearer` for GCP and Azure tokens, with the provider's API-key headers removed. */
export function bearerInjection(cred: IssuedCredential & { kind: "bearer" }, kind: ProviderKind): Injection {
  return { set: [["authorization", `Bearer ${cred.token}`]], remove: API_KEY_HEADERS[kind] };
}

/** The SigV4 region of an `amazonaws.com` host (`s3.eu-west-1.amazonaws.com`), else `fallback`. */
export function regionFromHost(host: string, fallback: string): string {
  const name = host.toLowerCase().replace(/:\d+$/, "");
  if (!name.endsWith(".amazonaws.com")) return fallback;
  const labels = name.split(".");
  for (let i = labels.length - 3; i >= 0; i--) {
    const l = labels[i] as string;
    if (/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/.test(l)) return l;
  }
  return fallback;
}

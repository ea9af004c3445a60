/**
 * The one HTTP call shape every issuer uses: a POST with a short timeout and a capped response body.
 * Network failures and timeouts become a transient {@link CredentialError} (`credentials.issuer_unreachable`)
 * that names the issuer, never the request body (it carries the caller's token).
 *
 * @example
 *   const res = await postIssuer("aws", url, { "content-type": FORM }, form.toString(), { signal });
 *   if (res.status !== 200) …
 */
import { type Dispatcher, request } from "undici";
import { CredentialError } from "./types.ts";

export const FORM = "application/x-www-form-urlencoded";
export const JSON_TYPE = "application/json";
/** Issuer answers are a few KB; anything bigger is not an answer we read. */
export const MAX_ISSUER_RESPONSE_BYTES = 64 * 1024;
export const DEFAULT_ISSUER_TIMEOUT_MS = 5_000;

export interface IssuerResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

export interface PostOptions {
  readonly dispatcher?: Dispatcher;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** POSTs `body` to `url`; resolves with any HTTP status, rejects only for transport failures. */
export async function postIssuer(
  issuer: string,
  url: string,
  headers: Record<string, string>,
  body: string,
  opts: PostOptions = {},
): Promise<IssuerResponse> {
  const timeout = opts.timeoutMs ?? DEFAULT_ISSUER_TIMEOUT_MS;
  const signal = opts.signal
    ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeout)])
    : AbortSignal.timeout(timeout);
  try {
    const res = await request(url, {
      method: "POST",
      headers,
      body,
      signal,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_ISSUER_RESPONSE_BYTES) {
        res.body.destroy();
        throw new CredentialError(
          "credentials.issuer_bad_response",
          `${issuer}: response larger than ${MAX_ISSUER_RESPONSE_BYTES} bytes`,
          "never",
          "oversize",
        );
      }
      chunks.push(chunk as Buffer);
    }
    const ct = res.headers["content-type"];
    return {
      status: res.statusCode,
      contentType: (Array.isArray(ct) ? ct[0] : ct) ?? "",
      body: Buffer.concat(chunks).toString("utf8"),
    };
  } catch (e) {
    if (e instanceof CredentialError) throw e;
    const timedOut = signal.aborted;
    throw new CredentialError(
      "credentials.issuer_unreachable",
      `${issuer}: ${timedOut ? "no answer in time" : "connection failed"}`,
      "transient",
      timedOut ? "timeout" : "connect",
    );
  }
}

/** `JSON.parse` that answers undefined for anything but a JSON object. */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An issuer URL from config: tokens and assertions only travel over https, plain http only to loopback
 * (local stand-ins in tests). Throws TypeError naming `option` (the sidecar reports it as config.invalid).
 */
export function issuerUrl(value: string, option: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new TypeError(`${option} must be an absolute URL`);
  }
  const loopback = u.hostname === "127.0.0.1" || u.hostname === "localhost" || u.hostname === "[::1]";
  if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) {
    throw new TypeError(`${option} must be https (http only to loopback)`);
  }
  return value;
}

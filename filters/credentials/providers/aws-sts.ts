/**
 * AWS STS `AssumeRoleWithWebIdentity`: the caller's JWT-SVID for a role named from the caller (a template
 * over tenant, agent and role), with a session name derived from its SPIFFE ID and, when the policy scoped
 * the call, an inline session policy over exactly those resources. The call is unsigned (the token is the
 * authentication), so the sidecar holds no AWS key of its own.
 *
 * Errors follow the STS Query API (`<ErrorResponse><Error><Code>`); S3-compatible STS servers that answer
 * in the same shape with their own codes (SeaweedFS) are mapped alongside (see {@link classifyStsError}).
 *
 * @example
 *   const aws = new AwsStsProvider({ name: "aws", audience: "sts.amazonaws.com",
 *     roleArn: "arn:aws:iam::123456789012:role/hexr-{tenant}-{role}" });
 *   const cred = await aws.exchange({ caller, durationSeconds: 900 }, token, signal);
 */
import type { Dispatcher } from "undici";
import { FORM, issuerUrl, postIssuer } from "../http.ts";
import { awsSessionPolicy, checkTemplate, fillTemplate, roleSessionName } from "../names.ts";
import type { Caller, CallerToken, CredentialProvider, ExchangeRequest, IssuedCredential } from "../types.ts";
import { CredentialError } from "../types.ts";

export const DEFAULT_STS_ENDPOINT = "https://sts.amazonaws.com/";
/** AssumeRoleWithWebIdentity's own range; a role's MaxSessionDuration may allow up to 12 h. */
export const AWS_MIN_DURATION_SECONDS = 900;
export const AWS_DEFAULT_MAX_DURATION_SECONDS = 3600;
const STS_VERSION = "2011-06-15";
/** An IAM role ARN (any partition; the account may be empty for S3-compatible servers such as SeaweedFS). */
const ROLE_ARN = /^arn:[a-z][a-z0-9-]{0,31}:iam::\d{0,12}:role\/[\w+=,.@/-]{1,512}$/;
/** Issuer codes are short identifiers; anything else is not echoed. */
const ISSUER_CODE = /^[A-Za-z][\w.-]{0,63}$/;

export interface AwsStsOptions {
  readonly name: string;
  /** JWT-SVID audience the IAM OIDC provider trusts (its client ID). */
  readonly audience: string;
  /** Role ARN template, e.g. `arn:aws:iam::123456789012:role/hexr-{tenant}-{agent}-{role}`. */
  readonly roleArn: string;
  readonly endpoint?: string;
  readonly maxDurationSeconds?: number;
  readonly timeoutMs?: number;
  readonly dispatcher?: Dispatcher;
}

export class AwsStsProvider implements CredentialProvider {
  readonly name: string;
  readonly kind = "aws" as const;
  readonly audience: string;
  readonly minDurationSeconds = AWS_MIN_DURATION_SECONDS;
  readonly maxDurationSeconds: number;
  readonly #roleArn: string;
  readonly #endpoint: string;
  readonly #timeoutMs: number | undefined;
  readonly #dispatcher: Dispatcher | undefined;

  constructor(o: AwsStsOptions) {
    checkTemplate(o.roleArn, `credentials.providers.${o.name}.role_arn`);
    this.name = o.name;
    this.audience = o.audience;
    this.#roleArn = o.roleArn;
    this.#endpoint = o.endpoint === undefined ? DEFAULT_STS_ENDPOINT : issuerUrl(o.endpoint, "endpoint");
    this.maxDurationSeconds = o.maxDurationSeconds ?? AWS_DEFAULT_MAX_DURATION_SECONDS;
    this.#timeoutMs = o.timeoutMs;
    this.#dispatcher = o.dispatcher;
  }

  target(caller: Caller): string {
    return fillTemplate(this.#roleArn, caller, `${this.name}: role ARN`, ROLE_ARN);
  }

  async exchange(req: ExchangeRequest, token: CallerToken, signal: AbortSignal): Promise<IssuedCredential> {
    const form = new URLSearchParams({
      Action: "AssumeRoleWithWebIdentity",
      Version: STS_VERSION,
      RoleArn: this.target(req.caller),
      RoleSessionName: roleSessionName(req.caller.spiffeId),
      WebIdentityToken: token.token,
      DurationSeconds: String(req.durationSeconds),
    });
    const policy = awsSessionPolicy(req.actions ?? [], req.resources);
    if (policy !== undefined) form.set("Policy", policy);
    const res = await postIssuer(
      this.name,
      this.#endpoint,
      { "content-type": FORM, accept: "text/xml" },
      form.toString(),
      {
        signal,
        ...(this.#timeoutMs !== undefined ? { timeoutMs: this.#timeoutMs } : {}),
        ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
      },
    );
    if (res.status !== 200) throw classifyStsError(this.name, res.status, xmlText(res.body, "Code"));
    const id = xmlText(res.body, "AccessKeyId");
    const secret = xmlText(res.body, "SecretAccessKey");
    const session = xmlText(res.body, "SessionToken");
    const expiration = Date.parse(xmlText(res.body, "Expiration") ?? "");
    if (!id || !secret || !session || !Number.isFinite(expiration)) {
      throw new CredentialError(
        "credentials.issuer_bad_response",
        `${this.name}: STS answer lacks credentials or their expiration`,
        "never",
        "malformed",
      );
    }
    return { kind: "aws", accessKeyId: id, secretAccessKey: secret, sessionToken: session, expiresAt: expiration };
  }
}

/** STS error codes by what the exchanger may do about them (AWS's names, then SeaweedFS's where they differ). */
// SeaweedFS answers every token-content failure (signature, audience, claims) with InvalidParameterValue;
// AWS uses that code for request parameters too, all of which we build and bound ourselves, so a refused
// token is its likely meaning there as well: one fresh token, then a final answer.
const TOKEN_CODES = new Set([
  "ExpiredTokenException",
  "InvalidIdentityToken",
  "ExpiredToken",
  "InvalidToken",
  "InvalidParameterValue",
]);
const TRANSIENT_CODES = new Set([
  "IDPCommunicationError",
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "ServiceUnavailable",
  "InternalFailure",
  "InternalError",
]);
const DENIED_CODES = new Set(["AccessDenied", "IDPRejectedClaim", "AccessDeniedException"]);

/**
 * An STS error answer as a {@link CredentialError}: an expired or invalid token may be retried once with a
 * fresh JWT-SVID; throttling, IdP trouble and 5xx are transient; access denials and request faults are final.
 */
export function classifyStsError(issuer: string, status: number, rawCode: string | undefined): CredentialError {
  const code = rawCode !== undefined && ISSUER_CODE.test(rawCode) ? rawCode : `HTTP ${status}`;
  if (TOKEN_CODES.has(code)) {
    return new CredentialError(
      "credentials.token_rejected",
      `${issuer}: STS refused the JWT-SVID (${code})`,
      "token",
      code,
    );
  }
  if (TRANSIENT_CODES.has(code) || status === 429 || status >= 500) {
    return new CredentialError(
      "credentials.issuer_unavailable",
      `${issuer}: STS unavailable (${code})`,
      "transient",
      code,
    );
  }
  if (DENIED_CODES.has(code) || status === 403) {
    return new CredentialError("credentials.issuer_denied", `${issuer}: STS denied the role (${code})`, "never", code);
  }
  return new CredentialError("credentials.issuer_error", `${issuer}: STS refused the request (${code})`, "never", code);
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** The text of the first `<tag>…</tag>` (no attributes or nesting: STS answers are that flat). */
export function xmlText(xml: string, tag: string): string | undefined {
  const open = xml.indexOf(`<${tag}>`);
  if (open === -1) return undefined;
  const start = open + tag.length + 2;
  const end = xml.indexOf(`</${tag}>`, start);
  if (end === -1) return undefined;
  return xml
    .slice(start, end)
    .trim()
    .replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ENTITIES[e] as string);
}

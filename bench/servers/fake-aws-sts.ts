/**
 * A bench stand-in for AWS STS, not an STS: a loopback HTTP server that answers the form POST of
 * `AssumeRoleWithWebIdentity` with the documented XML (AccessKeyId, SecretAccessKey, SessionToken and an
 * Expiration `DurationSeconds` ahead). It checks the request's shape, not the token: the credential
 * scenarios measure the sidecar's cache and signing, and the issuer is called once per cache key, so it
 * never appears in steady-state numbers (`calls` says how often it was asked).
 *
 * The session token's length is a knob: real ones are not of fixed size (they grow with the inline session
 * policy the sidecar sends), and the L2 scenario uses one too large for its deliberately small L1.
 *
 * @example
 *   const sts = await startFakeSts({ sessionTokenChars: 2048 });
 *   // credentials.providers.aws.endpoint: sts.url
 *   await sts.stop();
 *
 *   node bench/servers/fake-aws-sts.ts            (prints "listening PORT")
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** About what AssumeRoleWithWebIdentity returns with a small session policy. */
export const DEFAULT_SESSION_TOKEN_CHARS = 1024;
const MAX_FORM_BYTES = 64 * 1024;
const REQUIRED = ["RoleArn", "RoleSessionName", "WebIdentityToken", "DurationSeconds"] as const;

export interface FakeSts {
  /** `http://127.0.0.1:PORT/`, for `credentials.providers.aws.endpoint`. */
  readonly url: string;
  readonly port: number;
  /** AssumeRoleWithWebIdentity calls answered with credentials so far. */
  calls(): number;
  stop(): Promise<void>;
}

export interface FakeStsOptions {
  readonly sessionTokenChars?: number;
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function stsError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { "content-type": "text/xml" });
  res.end(
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>` +
      `<Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>` +
      `<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`,
  );
}

function answer(form: URLSearchParams, tokenChars: number): string {
  const seconds = Number(form.get("DurationSeconds"));
  const expiration = new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  const accessKeyId = `ASIA${randomBytes(8).toString("hex").toUpperCase()}`;
  const secret = randomBytes(30).toString("base64");
  const token = randomBytes(Math.ceil((tokenChars * 3) / 4))
    .toString("base64")
    .slice(0, tokenChars);
  const role = form.get("RoleArn") ?? "";
  const session = form.get("RoleSessionName") ?? "";
  return (
    `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">` +
    `<AssumeRoleWithWebIdentityResult>` +
    `<SubjectFromWebIdentityToken>bench</SubjectFromWebIdentityToken>` +
    `<Audience>sts.amazonaws.com</Audience>` +
    `<AssumedRoleUser><Arn>${xmlEscape(role.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/"))}/${xmlEscape(session)}</Arn>` +
    `<AssumedRoleId>AROA${randomBytes(8).toString("hex").toUpperCase()}:${xmlEscape(session)}</AssumedRoleId></AssumedRoleUser>` +
    `<Credentials><SessionToken>${token}</SessionToken><SecretAccessKey>${secret}</SecretAccessKey>` +
    `<Expiration>${expiration}</Expiration><AccessKeyId>${accessKeyId}</AccessKeyId></Credentials>` +
    `<Provider>bench</Provider></AssumeRoleWithWebIdentityResult>` +
    `<ResponseMetadata><RequestId>${randomBytes(16).toString("hex")}</RequestId></ResponseMetadata>` +
    `</AssumeRoleWithWebIdentityResponse>`
  );
}

export async function startFakeSts(o: FakeStsOptions = {}): Promise<FakeSts> {
  const tokenChars = o.sessionTokenChars ?? DEFAULT_SESSION_TOKEN_CHARS;
  if (!Number.isInteger(tokenChars) || tokenChars < 16) throw new TypeError("sessionTokenChars: an integer ≥ 16");
  let calls = 0;
  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    if (req.method !== "POST") return stsError(res, 405, "InvalidAction", "POST a form");
    const form = new URLSearchParams(body);
    if (form.get("Action") !== "AssumeRoleWithWebIdentity") {
      return stsError(res, 400, "InvalidAction", "only AssumeRoleWithWebIdentity");
    }
    for (const k of REQUIRED) if (!form.get(k)) return stsError(res, 400, "MissingParameter", `${k} is required`);
    const seconds = Number(form.get("DurationSeconds"));
    if (!Number.isInteger(seconds) || seconds < 900 || seconds > 43_200) {
      return stsError(res, 400, "ValidationError", "DurationSeconds must be 900–43200");
    }
    calls++;
    res.writeHead(200, { "content-type": "text/xml" });
    res.end(answer(form, tokenChars));
  };
  const server = createServer((req, res) => {
    let body = "";
    let size = 0;
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) req.destroy();
      else body += chunk;
    });
    req.on("end", () => handle(req, res, body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    calls: () => calls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.main) {
  const sts = await startFakeSts();
  process.stdout.write(`listening ${sts.port}\n`);
  process.once("SIGTERM", () => void sts.stop().then(() => process.exit(0)));
}

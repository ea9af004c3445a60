/**
 * A real SeaweedFS on loopback standing in for AWS STS + S3 in the credential-injection test: its STS
 * verifies a SPIRE JWT-SVID against the issuer's OIDC discovery document and JWKS (SPIRE's
 * `oidc-discovery-provider`, see `startSpire({ oidc: true })`) in `AssumeRoleWithWebIdentity`, and its
 * S3 verifies SigV4 (and the session token) on every request. Built by scripts/setup.sh (`$HEXR_WEED`).
 *
 * One `weed mini` process: master + volume + filer + S3 gateway (+ the admin server mini always runs).
 * The S3 gateway needs a filer, the filer a master and a volume server: this is the smallest set that
 * stores objects. `weed mini` rather than `weed server -filer -s3`: it is what SeaweedFS's own STS
 * integration tests run, it is ready in about 4 s where `server` took 7 (its master's first volume growth
 * waited seconds on gRPC reconnects), and it exits on SIGTERM in about a second where `server` was still
 * retrying assigns to its own stopped volume server 10 s later. Flags:
 *   -ip=127.0.0.1 -ip.bind=127.0.0.1   advertise and listen on loopback only
 *   -dir=<tmp>/data                   volume files and the filer's leveldb store
 *   -master.telemetry=false           no anonymous usage report to telemetry.seaweedfs.com (on by
 *   -master.telemetry.url=            default in this version); the empty URL is a second guard (the
 *                                     master only starts the client with both set)
 *   -master.port/.grpc, -volume.port/.grpc, -filer.port/.grpc, -s3.port/.grpc, -admin.port/.grpc
 *                                     free loopback ports (gRPC ports default to HTTP+10000: set all)
 *   -admin.port.legacy=0              no second admin listener on the fixed port 23646
 *   -admin.ui=false -webdav=false     no admin web UI, no WebDAV gateway
 *   -s3.port.iceberg=0 -s3.port.lance=0   no Iceberg/Lance catalog listeners (fixed 8181/9101)
 *   -volume.preStopSeconds=0          stop at once (mini's default: 1 s of draining heartbeats)
 *   -filer.localSocket, -s3.localSocket   unix sockets in the temp dir, not /tmp/seaweedfs-*.sock
 *   -s3.config=<s3.json>              static identities: one admin (bucket setup); with any identity,
 *                                     every request must be signed
 *   -s3.iam.config=<iam.json>         "advanced IAM": the STS (signing key for session tokens), the OIDC
 *                                     provider, policies and roles (all in memory, nothing persisted)
 * The gRPC unix sockets (`/tmp/seaweedfs-<svc>-grpc-<port>.sock`) are hard-coded in SeaweedFS; `stop()`
 * removes the ones for this instance's ports.
 *
 * STS: `POST /` on the S3 port (form body `Action=AssumeRoleWithWebIdentity&Version=2011-06-15&…`, no
 * signature), so `stsEndpoint === s3Endpoint`. Session credentials: an access key, a secret and a session
 * token (a JWT signed with the STS signing key); S3 requests carry it as `X-Amz-Security-Token`.
 *
 * How SeaweedFS checks a web identity (read in its source, `weed/iam/integration/iam_manager.go` and
 * `weed/iam/oidc/oidc_provider.go`): the role must exist, then its trust policy is evaluated on the token's
 * claims *before* the signature is checked (a forged `sub` outside the trust policy is AccessDenied, not
 * InvalidParameterValue), then the provider for the token's `iss` verifies the signature (RSA or ECDSA,
 * key from the JWKS found via `/.well-known/openid-configuration`), `exp` (required), `iss` and `aud` (any
 * entry of `aud` in `clientIds`). Trust conditions can use `oidc:sub` and `aws:FederatedProvider` (the
 * provider's name); `oidc:aud` exists only when `aud` is a single string, and SPIRE always writes an
 * array, so the audience is enforced by `clientIds` alone. DurationSeconds must be 900..maxSessionLength
 * (900..43200 when maxSessionLength is shorter than 900 s) and the session is then cut to maxSessionLength:
 * how the test gets 2 s sessions. The web identity token's own `exp` does not shorten it (AWS semantics).
 *
 * Error mapping, measured against this build by test/integration/seaweedfs-sts.test.ts (status, Code):
 * see {@link SEAWEEDFS_ERRORS}.
 *
 * @example
 *   const spire = await startSpire({ oidc: true });
 *   const weed = await startSeaweedFs({ oidcIssuer: spire.oidcIssuer!, audience: "sts.hexr",
 *     roles: [{ name: "writer", actions: ["s3:PutObject"], buckets: ["reports"], subjects: ["spiffe://hexr.cloud/agent/*"] }] });
 *   await weed.createBucket("reports");
 *   // POST AssumeRoleWithWebIdentity to weed.stsEndpoint with RoleArn weed.roleArn("writer"), then sign S3
 *   // requests to weed.s3Endpoint (region weed.region) with the session credentials
 *   await weed.stop();
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { HexrError } from "../../filters/errors.ts";
import { locateTool } from "../tools.ts";
import { freePorts, LoggedProcess } from "./logged-process.ts";

export const SEAWEEDFS_REGION = "us-east-1";
/** The account in every role ARN (`arn:aws:iam::<id>:role/<name>`); the STS config's `accountId`. */
export const SEAWEEDFS_ACCOUNT_ID = "111122223333";
/** The OIDC provider's name in the IAM config: trust policies name it as `Principal.Federated`. */
export const SEAWEEDFS_OIDC_PROVIDER = "spire";
export const DEFAULT_START_TIMEOUT_MS = 30_000;
/** The STS's `maxSessionLength` (caps DurationSeconds) unless `maxSessionLength` is given. */
export const DEFAULT_MAX_SESSION_LENGTH = "12h";
const STOP_GRACE_MS = 10_000;

/** One row of {@link SEAWEEDFS_ERRORS}. */
export interface SeaweedFsError {
  readonly status: number;
  /** `<Error><Code>` of the XML body. */
  readonly code: string;
  /** `measured`: asserted by test/integration/seaweedfs-sts.test.ts (every row is). */
  readonly evidence: "measured";
  /** What AWS answers in the same case (its API references' error codes), for the mapping. */
  readonly aws: { readonly status: number; readonly code: string };
}

/**
 * What SeaweedFS answers for each failure the credential filter must map to AWS's codes. STS errors are
 * `<ErrorResponse><Error><Type>Sender</Type><Code>…`, S3 errors `<Error><Code>…`. The differences: AWS
 * answers every token it cannot validate (signature, issuer, audience) with `InvalidIdentityToken` (400),
 * SeaweedFS with `InvalidParameterValue` (400), or `AccessDenied` (403) when its trust policy, evaluated on
 * the unverified claims first, already fails (forged `sub`, unknown `iss`, garbage token); AWS's bad
 * DurationSeconds is `ValidationError`; S3's bad or expired session token is `InvalidToken` /
 * `ExpiredToken` (400) at AWS, `InvalidAccessKeyId` (403) for both at SeaweedFS.
 */
export const SEAWEEDFS_ERRORS = {
  /** Token signature does not verify against the JWKS (claims inside the trust policy). */
  stsBadSignature: {
    status: 400,
    code: "InvalidParameterValue",
    evidence: "measured",
    aws: { status: 400, code: "InvalidIdentityToken" },
  },
  /** `sub` rewritten to one the role's trust policy does not admit: trust is checked before the signature. */
  stsForgedSubOutsideTrust: {
    status: 403,
    code: "AccessDenied",
    evidence: "measured",
    aws: { status: 400, code: "InvalidIdentityToken" },
  },
  /** `iss` of an issuer no provider is configured for (the trust policy's Federated principal fails first). */
  stsWrongIssuer: {
    status: 403,
    code: "AccessDenied",
    evidence: "measured",
    aws: { status: 400, code: "InvalidIdentityToken" },
  },
  /** Not a JWT at all: SeaweedFS evaluates the trust policy on placeholder claims, which fails. */
  stsMalformedToken: {
    status: 403,
    code: "AccessDenied",
    evidence: "measured",
    aws: { status: 400, code: "InvalidIdentityToken" },
  },
  /** `aud` with none of the provider's `clientIds`. */
  stsWrongAudience: {
    status: 400,
    code: "InvalidParameterValue",
    evidence: "measured",
    aws: { status: 400, code: "InvalidIdentityToken" },
  },
  /** Web identity token past its `exp`. */
  stsExpiredToken: {
    status: 400,
    code: "ExpiredTokenException",
    evidence: "measured",
    aws: { status: 400, code: "ExpiredTokenException" },
  },
  /** RoleArn names no role. */
  stsUnknownRole: {
    status: 403,
    code: "AccessDenied",
    evidence: "measured",
    aws: { status: 403, code: "AccessDenied" },
  },
  /** DurationSeconds outside 900..maxSessionLength. */
  stsBadDuration: {
    status: 400,
    code: "InvalidParameterValue",
    evidence: "measured",
    aws: { status: 400, code: "ValidationError" },
  },
  /** S3 action or bucket the session's role policy does not allow. */
  s3AccessDenied: {
    status: 403,
    code: "AccessDenied",
    evidence: "measured",
    aws: { status: 403, code: "AccessDenied" },
  },
  /** SigV4 signed with the wrong secret key. */
  s3BadSignature: {
    status: 403,
    code: "SignatureDoesNotMatch",
    evidence: "measured",
    aws: { status: 403, code: "SignatureDoesNotMatch" },
  },
  /** Session token tampered with, or not the one issued with this access key. */
  s3BadSessionToken: {
    status: 403,
    code: "InvalidAccessKeyId",
    evidence: "measured",
    aws: { status: 400, code: "InvalidToken" },
  },
  /** Session past its expiry (the session token JWT's `exp` fails validation before the expiry check). */
  s3ExpiredSession: {
    status: 403,
    code: "InvalidAccessKeyId",
    evidence: "measured",
    aws: { status: 400, code: "ExpiredToken" },
  },
} as const satisfies Record<string, SeaweedFsError>;

/** An IAM role that web identities may assume. */
export interface SeaweedFsRole {
  readonly name: string;
  /** S3 actions its policy allows (`s3:PutObject`, `s3:GetObject`, `s3:*`, …) on {@link buckets}. */
  readonly actions?: readonly string[];
  /** Buckets the actions apply to: the bucket and every object in it. */
  readonly buckets?: readonly string[];
  /** Extra IAM policy statements (`{ Effect, Action, Resource, Condition? }`), as AWS writes them. */
  readonly statements?: readonly Record<string, unknown>[];
  /**
   * JWT `sub` values allowed to assume the role (trust policy: `StringLike` on `oidc:sub`, so `*` works;
   * the principal is the SPIRE OIDC provider). Default `["*"]`.
   */
  readonly subjects?: readonly string[];
  /** IAM MaxSessionDuration in seconds (3600..43200); default: the STS's `maxSessionLength`. */
  readonly maxSessionDuration?: number;
}

export interface StartSeaweedFsOptions {
  /** `iss` of the accepted tokens; the JWKS is found via `<issuer>/.well-known/openid-configuration`. */
  readonly oidcIssuer: string;
  /** Accepted `aud` values (the provider's `clientIds`). */
  readonly audience: string | readonly string[];
  readonly roles: readonly SeaweedFsRole[];
  /** Buckets the admin creates once S3 is up. */
  readonly buckets?: readonly string[];
  /** STS `maxSessionLength` (Go duration, default {@link DEFAULT_MAX_SESSION_LENGTH}): caps every session. */
  readonly maxSessionLength?: string;
  /** Parent of the harness's temp dir (default `os.tmpdir()`); removed on stop. */
  readonly dir?: string;
  /** Folder holding `weed` (default `$HEXR_WEED`, else `weed` on PATH). */
  readonly binDir?: string;
  /** glog verbosity (`-v`, default 1: STS decisions are logged at 1-2). */
  readonly verbosity?: number;
  readonly startTimeoutMs?: number;
}

export interface SeaweedFsHarness {
  /** `http://127.0.0.1:<port>`: S3 (path-style) and the embedded IAM API. */
  readonly s3Endpoint: string;
  /** Where `AssumeRoleWithWebIdentity` is posted: the S3 port. */
  readonly stsEndpoint: string;
  readonly region: string;
  /** The static admin identity (all actions): for setup, never for the code under test. */
  readonly accessKey: string;
  readonly secretKey: string;
  /** The IAM config written for `-s3.iam.config` (what was actually configured). */
  readonly iamConfig: Readonly<Record<string, unknown>>;
  readonly dir: string;
  readonly logPath: string;
  roleArn(name: string): string;
  /** Creates a bucket as the admin (PUT /<bucket>, SigV4). */
  createBucket(name: string): Promise<void>;
  /** Tail of the log. */
  logs(): string;
  stop(): Promise<void>;
}

export function weedBinary(binDir?: string): string {
  const explicit = binDir ? path.join(binDir, "weed") : process.env.HEXR_WEED;
  const found = locateTool("weed", explicit);
  if (found) return found;
  throw new HexrError("config.seaweedfs_missing", "weed not found in $HEXR_WEED or PATH (run scripts/setup.sh)");
}

export function roleArn(name: string): string {
  return `arn:aws:iam::${SEAWEEDFS_ACCOUNT_ID}:role/${name}`;
}

/** The `-s3.iam.config` document: STS, the one OIDC provider, a policy per role, the roles. */
export function iamConfigFor(opts: StartSeaweedFsOptions, signingKey: Buffer): Record<string, unknown> {
  const audiences = typeof opts.audience === "string" ? [opts.audience] : [...opts.audience];
  if (audiences.length === 0 || audiences.some((a) => a === "")) throw new TypeError("audience must not be empty");
  const names = new Set<string>();
  for (const r of opts.roles) {
    if (!/^[\w+=,.@-]{1,64}$/.test(r.name))
      throw new TypeError(`role name ${JSON.stringify(r.name)} is not an IAM name`);
    if (names.has(r.name)) throw new TypeError(`role ${r.name} is given twice`);
    names.add(r.name);
  }
  const policies = opts.roles.map((r) => {
    const statements: Record<string, unknown>[] = [...(r.statements ?? [])];
    if ((r.actions?.length ?? 0) > 0 && (r.buckets?.length ?? 0) > 0) {
      statements.push({
        Effect: "Allow",
        Action: [...(r.actions ?? [])],
        Resource: (r.buckets ?? []).flatMap((b) => [`arn:aws:s3:::${b}`, `arn:aws:s3:::${b}/*`]),
      });
    }
    return { name: `${r.name}-policy`, document: { Version: "2012-10-17", Statement: statements } };
  });
  const roles = opts.roles.map((r) => ({
    roleName: r.name,
    roleArn: roleArn(r.name),
    attachedPolicies: [`${r.name}-policy`],
    ...(r.maxSessionDuration !== undefined ? { maxSessionDuration: r.maxSessionDuration } : {}),
    trustPolicy: {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Federated: SEAWEEDFS_OIDC_PROVIDER },
          Action: ["sts:AssumeRoleWithWebIdentity"],
          Condition: { StringLike: { "oidc:sub": [...(r.subjects ?? ["*"])] } },
        },
      ],
    },
  }));
  return {
    sts: {
      tokenDuration: "1h",
      maxSessionLength: opts.maxSessionLength ?? DEFAULT_MAX_SESSION_LENGTH,
      issuer: "seaweedfs-sts",
      signingKey: signingKey.toString("base64"),
      accountId: SEAWEEDFS_ACCOUNT_ID,
    },
    policy: { defaultEffect: "Deny", storeType: "memory" },
    providers: [
      {
        name: SEAWEEDFS_OIDC_PROVIDER,
        type: "oidc",
        enabled: true,
        config: {
          issuer: opts.oidcIssuer,
          clientIds: audiences,
          // SPIRE rotates JWT keys; a short cache keeps a rotated key from being refused for an hour
          jwksCacheTTLSeconds: 5,
        },
      },
    ],
    policies,
    roles,
  };
}

/** A signed S3 request (SigV4, path-style, `x-amz-content-sha256` of the body). */
export async function s3Request(req: {
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  method: string;
  /** `/bucket` or `/bucket/key` (already URI-encoded where needed). */
  path: string;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  region?: string;
}): Promise<Response> {
  const url = new URL(req.path, req.endpoint);
  const body = typeof req.body === "string" ? Buffer.from(req.body) : req.body;
  const signer = new SignatureV4({
    credentials: req.credentials,
    region: req.region ?? SEAWEEDFS_REGION,
    service: "s3",
    sha256: Hash.bind(null, "sha256"),
    uriEscapePath: false, // S3 signs the path as sent
  });
  const headers: Record<string, string> = {
    host: url.host,
    "x-amz-content-sha256": createHash("sha256")
      .update(body ?? new Uint8Array())
      .digest("hex"),
    ...req.headers,
  };
  const signed = await signer.sign({
    method: req.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    ...(body ? { body } : {}),
  });
  const sent = { ...signed.headers };
  delete sent.host; // fetch sets it (same value)
  return fetch(url, { method: req.method, headers: sent, ...(body ? { body } : {}) });
}

/** Starts SeaweedFS; see the module comment. */
export async function startSeaweedFs(opts: StartSeaweedFsOptions): Promise<SeaweedFsHarness> {
  const bin = weedBinary(opts.binDir);
  const dir = mkdtempSync(path.join(opts.dir ?? tmpdir(), "hexr-weed-"));
  const h = new LocalSeaweedFs(bin, dir, opts);
  try {
    await h.start(opts);
  } catch (e) {
    await h.stop().catch(() => {});
    throw e;
  }
  return h;
}

class LocalSeaweedFs implements SeaweedFsHarness {
  readonly region = SEAWEEDFS_REGION;
  readonly accessKey = `AKHEXR${randomBytes(7).toString("hex").toUpperCase()}`;
  readonly secretKey = randomBytes(24).toString("base64url");
  readonly dir: string;
  readonly logPath: string;
  readonly iamConfig: Readonly<Record<string, unknown>>;
  s3Endpoint = "";
  stsEndpoint = "";
  readonly #bin: string;
  readonly #proc: LoggedProcess;
  #grpcPorts: Record<string, number> = {};
  #stopped = false;
  readonly #kill = () => this.#proc.killNow();

  constructor(bin: string, dir: string, opts: StartSeaweedFsOptions) {
    this.#bin = bin;
    this.dir = dir;
    this.logPath = path.join(dir, "weed.log");
    this.#proc = new LoggedProcess("weed mini", this.logPath, "internal.seaweedfs", STOP_GRACE_MS);
    this.iamConfig = iamConfigFor(opts, randomBytes(32));
    process.once("exit", this.#kill); // never leave SeaweedFS behind if the test runner dies
  }

  roleArn(name: string): string {
    return roleArn(name);
  }

  async start(opts: StartSeaweedFsOptions): Promise<void> {
    const data = path.join(this.dir, "data");
    mkdirSync(data, { recursive: true, mode: 0o700 });
    const s3Config = path.join(this.dir, "s3.json");
    const iamConfig = path.join(this.dir, "iam.json");
    writeFileSync(
      s3Config,
      JSON.stringify({
        identities: [
          {
            name: "hexr-admin",
            credentials: [{ accessKey: this.accessKey, secretKey: this.secretKey }],
            actions: ["Admin", "Read", "Write", "List", "Tagging"],
          },
        ],
      }),
      { mode: 0o600 },
    );
    writeFileSync(iamConfig, JSON.stringify(this.iamConfig, null, 2), { mode: 0o600 });
    const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc, admin, adminGrpc] = (await freePorts(
      10,
    )) as [number, number, number, number, number, number, number, number, number, number];
    this.#grpcPorts = { master: masterGrpc, volume: volumeGrpc, filer: filerGrpc, s3: s3Grpc, admin: adminGrpc };
    this.s3Endpoint = `http://127.0.0.1:${s3}`;
    this.stsEndpoint = this.s3Endpoint;
    const args = [
      `-v=${opts.verbosity ?? 1}`,
      "mini",
      "-ip=127.0.0.1",
      "-ip.bind=127.0.0.1",
      `-dir=${data}`,
      "-master.telemetry=false",
      "-master.telemetry.url=",
      `-master.port=${master}`,
      `-master.port.grpc=${masterGrpc}`,
      `-volume.port=${volume}`,
      `-volume.port.grpc=${volumeGrpc}`,
      "-volume.preStopSeconds=0",
      `-admin.port=${admin}`,
      `-admin.port.grpc=${adminGrpc}`,
      "-admin.port.legacy=0",
      "-admin.ui=false",
      "-webdav=false",
      `-filer.port=${filer}`,
      `-filer.port.grpc=${filerGrpc}`,
      `-filer.localSocket=${path.join(this.dir, "filer.sock")}`,
      `-s3.port=${s3}`,
      `-s3.port.grpc=${s3Grpc}`,
      "-s3.port.iceberg=0",
      "-s3.port.lance=0",
      `-s3.localSocket=${path.join(this.dir, "s3.sock")}`,
      `-s3.config=${s3Config}`,
      `-s3.iam.config=${iamConfig}`,
    ];
    this.#proc.start(this.#bin, args, { cwd: this.dir });
    const deadline = Date.now() + (opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    // the S3 gateway answers /status once it has reached the filer and loaded both configs
    await this.#proc.waitReady(`${this.s3Endpoint}/status`, deadline - Date.now());
    // a write needs a volume server registered with the master: /dir/assign hands out a file id only then
    await this.#proc.waitReady(`http://127.0.0.1:${master}/dir/assign`, deadline - Date.now(), async (r) => {
      if (!r.ok) return false;
      return typeof ((await r.json()) as { fid?: unknown }).fid === "string";
    });
    for (const b of opts.buckets ?? []) await this.createBucket(b);
  }

  async createBucket(name: string): Promise<void> {
    const res = await s3Request({
      endpoint: this.s3Endpoint,
      credentials: { accessKeyId: this.accessKey, secretAccessKey: this.secretKey },
      method: "PUT",
      path: `/${encodeURIComponent(name)}`,
    });
    if (!res.ok) throw this.#proc.error(`refused to create bucket ${name}: ${res.status} ${await res.text()}`);
  }

  logs(): string {
    return this.#proc.tail();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    process.off("exit", this.#kill);
    await this.#proc.stop();
    // SeaweedFS hard-codes these gRPC sockets outside the temp dir
    for (const [svc, port] of Object.entries(this.#grpcPorts)) {
      rmSync(`/tmp/seaweedfs-${svc}-grpc-${port}.sock`, { force: true });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

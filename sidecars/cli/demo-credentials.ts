/**
 * The demo's credential injection: SPIRE with its OIDC discovery provider, SeaweedFS as STS + S3 (it
 * verifies each JWT-SVID against SPIRE's JWKS and every SigV4 signature), and the sidecar config that makes
 * the sidecar a delegate of the SPIRE agent and exchanges each calling agent's JWT-SVID for short-lived
 * credentials. Agents in the demo send S3 requests with no keys of their own.
 *
 * @example
 *   const creds = await startDemoCredentials(ids);      // undefined when SeaweedFS is not installed
 *   const dp = await startLocalDataPlane({ …, spire: creds.spire, ...creds.dataPlane });
 */
import { localAuthzId, LOCAL_TRUST_DOMAIN } from "../devtools/local-dataplane.ts";
import { roleArn, type SeaweedFsHarness, s3Request, startSeaweedFs, weedBinary } from "../devtools/seaweedfs.ts";
import { type SpireHarness, startSpire } from "../devtools/spire.ts";

/** Path-style S3 host the demo routes to SeaweedFS (the catalog's `aws_s3`, `credentials: aws`). */
export const DEMO_S3_HOST = "s3.us-east-1.amazonaws.com";
export const DEMO_STS_AUDIENCE = "sts.hexr.demo";
/** Buckets in SeaweedFS; the policy lets writers use `drafts` only. */
const BUCKETS = ["drafts", "reports", "finance"];

export interface DemoCredentials {
  readonly spire: SpireHarness;
  readonly weed: SeaweedFsHarness;
  /** Options for startLocalDataPlane. */
  readonly dataPlane: {
    readonly sidecarConfig: Record<string, unknown>;
    readonly extraUpstreams: { name: string; domains: string[]; address: string; port: number }[];
  };
  /** The object as SeaweedFS holds it (read with its admin identity), or undefined when absent. */
  readBack(key: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

export function seaweedAvailable(): boolean {
  try {
    weedBinary();
    return true;
  } catch {
    return false;
  }
}

/** Starts SPIRE (with OIDC) and SeaweedFS for the agent identities `ids` (all run in this process). */
export async function startDemoCredentials(ids: readonly string[]): Promise<DemoCredentials> {
  const spire = await startSpire({
    trustDomain: LOCAL_TRUST_DOMAIN,
    logLevel: "INFO",
    oidc: true,
    authorizedDelegates: [localAuthzId()],
  });
  let weed: SeaweedFsHarness;
  try {
    weed = await startSeaweedFs({
      oidcIssuer: spire.oidcIssuer as string,
      audience: DEMO_STS_AUDIENCE,
      // one role per agent role (`hexr-{role}`): what the cloud's IAM would hold
      roles: [
        { name: "hexr-researcher", actions: ["s3:GetObject", "s3:ListBucket"], buckets: BUCKETS },
        { name: "hexr-writer", actions: ["s3:PutObject", "s3:GetObject"], buckets: BUCKETS },
        { name: "hexr-editor", actions: ["s3:GetObject"], buckets: ["drafts"] },
      ],
      buckets: BUCKETS,
    });
  } catch (e) {
    await spire.stop();
    throw e;
  }
  // every demo agent runs in this process: its selectors match several entries, the sidecar keeps only
  // the SVID of the verified caller
  const self = [`unix:uid:${process.getuid?.() ?? 0}`, `unix:path:${process.execPath}`];
  return {
    spire,
    weed,
    dataPlane: {
      sidecarConfig: {
        credentials: {
          exchange_timeout_ms: 2500,
          delegated: { socket: spire.agentAdminSocket, agents: Object.fromEntries(ids.map((id) => [id, self])) },
          providers: {
            aws: { audience: DEMO_STS_AUDIENCE, role_arn: roleArn("hexr-{role}"), endpoint: `${weed.stsEndpoint}/` },
          },
        },
      },
      extraUpstreams: [
        {
          name: "seaweedfs_s3",
          domains: [DEMO_S3_HOST],
          address: "127.0.0.1",
          port: Number(new URL(weed.s3Endpoint).port),
        },
      ],
    },
    async readBack(key) {
      const res = await s3Request({
        endpoint: weed.s3Endpoint,
        credentials: { accessKeyId: weed.accessKey, secretAccessKey: weed.secretKey },
        method: "GET",
        path: key,
      });
      return res.status === 200 ? await res.text() : undefined;
    },
    async stop() {
      await weed.stop();
      await spire.stop();
    },
  };
}

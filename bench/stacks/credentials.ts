/**
 * What the credential scenarios put beside the sidecar: a real loopback redis-server (the L2), the STS and
 * Delegated Identity stand-ins (bench/servers/), the L2 seal key file, and the sidecar config sections
 * (`redis`, `credentials`) for each scenario. The sidecar itself runs from its config, as deployed.
 *
 * How each scenario reaches its tier (identical request, policy, provider and token size otherwise):
 *  - `hexr-authz-creds-l1`: the default L1 (10 000 entries, 16 MiB) keeps the one credential the load asks
 *    for (writer, drafts, PutObject); after the first Check every lookup is an L1 hit.
 *  - `hexr-authz-creds-l2`: `l1_max_bytes` at its minimum (4096) and a 2 KiB session token, so the entry
 *    (~4.5 KB by the cache's own size count) is larger than the whole L1 and never kept (lru-cache refuses an
 *    entry over `maxSize`): every lookup misses L1 and is served from the sealed L2 entry the first
 *    exchange stored. This is the cost a sidecar pays when its L1 does not hold the caller's key (another
 *    replica filled L2, or the L1 evicted it), with one client identity and no change to the load.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import path from "node:path";
import { startRedis } from "../../sidecars/devtools/redis.ts";
import { startFakeSts } from "../servers/fake-aws-sts.ts";
import { startFakeDelegatedIdentity } from "../servers/fake-delegated-identity.ts";
import { IDENTITIES } from "./pki.ts";

/** Both scenarios sign with the same credential size, so the L1 − L2 difference is the tier alone. */
export const SESSION_TOKEN_CHARS = 2048;
/** The smallest `l1_max_bytes` the config takes: below one entry with a SESSION_TOKEN_CHARS token. */
export const L2_SCENARIO_L1_MAX_BYTES = 4096;
/** Credentials live an hour (the STS answers `DurationSeconds` ahead): no refresh during a bench run. */
const CREDENTIAL_SECONDS = 3600;
const ROLE_ARN = "arn:aws:iam::123456789012:role/hexr-{tenant}-{agent}-{role}";

export type CredentialTier = "l1" | "l2";

export interface CredentialBackends {
  /** `redis` and `credentials` config sections for a scenario's sidecar (`name`: its own L2 key prefix). */
  sidecarConfig(tier: CredentialTier, name?: string): Record<string, unknown>;
  /** Issuer and token-source calls so far (once per cache key is expected). */
  calls(): { sts: number; delegated: number };
  stop(): Promise<void>;
}

export async function startCredentialBackends(dir: string): Promise<CredentialBackends> {
  const stopping: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stopping.reverse()) await s().catch(() => undefined);
  };
  try {
    const redis = await startRedis();
    stopping.push(() => redis.stop());
    const sts = await startFakeSts({ sessionTokenChars: SESSION_TOKEN_CHARS });
    stopping.push(() => sts.stop());
    // the sidecar maps each caller it serves to the selectors SPIRE would attest its processes with
    const selectors = [`unix:uid:${userInfo().uid}`];
    const agents = new Map([[IDENTITIES.writer, selectors]]);
    const socket = path.join(dir, "delegated-identity.sock");
    const delegated = await startFakeDelegatedIdentity(socket, agents);
    stopping.push(() => delegated.stop());
    const keyFile = path.join(dir, "l2.key");
    writeFileSync(keyFile, randomBytes(32).toString("hex"), { mode: 0o600 });

    return {
      sidecarConfig: (tier, name = tier) => ({
        // a prefix per scenario: no sidecar finds another's L2 entry
        redis: { url: redis.url, key_prefix: `hexr-bench-${name}:` },
        credentials: {
          cache: {
            ...(tier === "l2" ? { l1_max_bytes: L2_SCENARIO_L1_MAX_BYTES } : {}),
            l2: { key_file: keyFile },
          },
          delegated: { socket, agents: Object.fromEntries(agents) },
          providers: {
            aws: {
              audience: "sts.amazonaws.com",
              role_arn: ROLE_ARN,
              endpoint: sts.url,
              region: "us-east-1",
              duration_seconds: CREDENTIAL_SECONDS,
              token_source: "delegated",
            },
          },
        },
      }),
      calls: () => ({ sts: sts.calls(), delegated: delegated.calls() }),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** `hexr_credentials_*` counters from a sidecar's `/metrics`, one `name{labels} value` per line. */
export async function credentialCounters(adminAddress: string): Promise<string[]> {
  const r = await fetch(`http://${adminAddress}/metrics`);
  const text = await r.text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("hexr_credentials_"))
    .map((l) => l.replace(/provider="[^"]*",?/, "").replace("{}", ""));
}

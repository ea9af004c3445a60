/**
 * Before anything is measured, the two rbac stacks must make the same decisions: a table of callers and
 * requests goes through both Envoys (real mTLS, identities from client certificates), and every status
 * must match. A mismatch means the comparison would be between different policies, so the suite stops.
 */
import { request } from "../sidecars/devtools/client.ts";
import { CHAT_PATH, S3_PATH } from "./scenarios.ts";
import type { BenchPki, IdentityName } from "./stacks/pki.ts";

export interface ParityCase {
  who: IdentityName;
  method: string;
  host: string;
  path: string;
  body?: string;
}

/** Allowed and denied cases; researcher calls depend on the hour (business hours), the same for both sides. */
export const PARITY_CASES: readonly ParityCase[] = [
  { who: "writer", method: "PUT", host: "s3.amazonaws.com", path: S3_PATH },
  { who: "writer", method: "GET", host: "s3.amazonaws.com", path: S3_PATH },
  { who: "writer", method: "POST", host: "bigquery.googleapis.com", path: "/bigquery/v2/projects/p1/queries" },
  { who: "writer", method: "POST", host: "api.openai.com", path: CHAT_PATH, body: "{}" },
  { who: "writer", method: "GET", host: "example.com", path: "/" },
  { who: "researcher", method: "GET", host: "s3.amazonaws.com", path: S3_PATH },
  { who: "researcher", method: "PUT", host: "s3.amazonaws.com", path: S3_PATH },
  { who: "researcher", method: "POST", host: "bigquery.googleapis.com", path: "/bigquery/v2/projects/p1/queries" },
  { who: "editor", method: "GET", host: "s3.amazonaws.com", path: S3_PATH },
  { who: "intern", method: "PUT", host: "s3.amazonaws.com", path: S3_PATH },
  { who: "foreign", method: "PUT", host: "s3.amazonaws.com", path: S3_PATH },
];

export interface ParityReport {
  checked: number;
  allowed: number;
  mismatches: Array<ParityCase & { hexr: number; reference: number }>;
}

/** Tries of one case while the answer is Envoy's own failure status (a Check that timed out), not a decision. */
const UNDECIDED_TRIES = 3;

async function status(port: number, pki: BenchPki, c: ParityCase, hexr: boolean): Promise<number> {
  const id = pki.clients[c.who];
  let reply = { status: 0, headers: {} as Record<string, unknown> };
  for (let i = 0; i < UNDECIDED_TRIES; i++) {
    reply = await request(
      port,
      { cert: id.certPem, key: id.keyPem, ca: pki.caPem },
      { method: c.method, host: c.host, path: c.path, ...(c.body !== undefined ? { body: c.body } : {}) },
    );
    // a 403 without a decision id is Envoy's status_on_error (a first Check past its deadline on a loaded
    // machine), not the policy: ask again rather than report a decision nobody made. The reference never
    // sets the header, so this applies to the hexr stack only.
    if (!(hexr && reply.status === 403 && reply.headers["x-hexr-decision-id"] === undefined)) break;
  }
  return reply.status;
}

export async function checkParity(hexrPort: number, referencePort: number, pki: BenchPki): Promise<ParityReport> {
  const mismatches: ParityReport["mismatches"] = [];
  let allowed = 0;
  for (const c of PARITY_CASES) {
    const [hexr, reference] = [await status(hexrPort, pki, c, true), await status(referencePort, pki, c, false)];
    if (hexr !== reference) mismatches.push({ ...c, hexr, reference });
    else if (hexr === 200) allowed++;
  }
  return { checked: PARITY_CASES.length, allowed, mismatches };
}

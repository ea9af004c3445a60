/**
 * Policy bundles for the benchmark, built with `hexr policy build` (real `opa test` + `opa build -t wasm`):
 *  - allow-all: `policies/examples/allow-all.rego`, for `hexr-authz-allow`;
 *  - rbac: the seed's role policy `policies/authz.rego` (with `a2a.rego`, which decides inbound A2A calls),
 *    unchanged, with bench data that raises the
 *    per-agent calls-per-minute limit (`data.hexr.limits.calls_per_minute`, the policy's own override):
 *    at 1000 rps one agent makes 60 000 calls a minute, and every request must stay an allowed one.
 * The reference's policy (bench/policies/opa-envoy/) is checked with its tests before it is used.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
const HEXR_BIN = path.join(REPO_ROOT, "bin", "hexr");

/** The policy's own calls-per-minute override, set so far above any benchmark rate that it never fires. */
export const BENCH_CALLS_PER_MINUTE = 1_000_000_000;
export const REFERENCE_POLICY_DIR = path.join(REPO_ROOT, "bench", "policies", "opa-envoy");
/** What opa-envoy-plugin loads: the policy and its tables (the tests stay out of the server). */
export const REFERENCE_POLICY_FILES = [
  path.join(REFERENCE_POLICY_DIR, "rbac.rego"),
  path.join(REFERENCE_POLICY_DIR, "data.json"),
];
/** Where opa-envoy-plugin evaluates the reference policy: a decision object (allowed, headers, body, status). */
export const REFERENCE_DECISION_PATH = "envoy/authz/result";

export interface BenchBundles {
  allowAll: string;
  rbac: string;
}

async function build(src: string, out: string): Promise<string> {
  try {
    await run(HEXR_BIN, ["policy", "build", "--src", src, "--out", out], { maxBuffer: 8 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`hexr policy build --src ${src} failed: ${(err.stderr ?? err.message).slice(-2000)}`);
  }
  return out;
}

export async function buildBenchBundles(dir: string): Promise<BenchBundles> {
  const rbacSrc = path.join(dir, "rbac-src");
  mkdirSync(rbacSrc, { recursive: true });
  // authz.rego hands inbound A2A calls to a2a.rego's rules (`decision := a2a_decision`): it needs both
  for (const f of ["authz.rego", "a2a.rego"]) copyFileSync(path.join(REPO_ROOT, "policies", f), path.join(rbacSrc, f));
  writeFileSync(
    path.join(rbacSrc, "data.json"),
    JSON.stringify({ hexr: { limits: { calls_per_minute: BENCH_CALLS_PER_MINUTE } } }),
  );
  const [allowAll, rbac] = await Promise.all([
    build(path.join(REPO_ROOT, "policies", "examples"), path.join(dir, "allow-all.tar.gz")),
    build(rbacSrc, path.join(dir, "rbac.tar.gz")),
  ]);
  return { allowAll, rbac };
}

/**
 * `opa test` on the reference policy with the plugin's own embedded OPA (the engine that will evaluate
 * it), so a broken port of the decisions never gets measured.
 */
export async function testReferencePolicy(opaEnvoyBin: string): Promise<void> {
  try {
    await run(opaEnvoyBin, ["test", REFERENCE_POLICY_DIR], { maxBuffer: 8 << 20 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`opa test ${REFERENCE_POLICY_DIR} failed:\n${err.stdout ?? ""}${err.stderr ?? err.message}`);
  }
}

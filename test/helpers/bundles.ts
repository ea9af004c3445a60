/** Builds real OPA WASM bundles for tests with `hexr policy build` (the same path `make` uses). */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
const HEXR = path.join(REPO_ROOT, "bin/hexr");

export function buildBundle(src: string, out: string): string {
  execFileSync(HEXR, ["policy", "build", "--src", src, "--out", out], { stdio: "pipe" });
  return out;
}

/** The project's policies (policies/) built into `dir`. */
export function buildProjectBundle(dir: string, name = "bundle.tar.gz"): string {
  return buildBundle(path.join(REPO_ROOT, "policies"), path.join(dir, name));
}

/** A bundle from inline Rego files. */
export function buildInlineBundle(dir: string, name: string, files: Record<string, string>): string {
  const src = mkdtempSync(path.join(tmpdir(), "hexr-rego-"));
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(src, f)), { recursive: true });
    writeFileSync(path.join(src, f), text);
  }
  return buildBundle(src, path.join(dir, name));
}

export const ALLOW_ALL_REGO = `package hexr.authz

default allow := true

decision := {"allow": true, "reasons": []}
`;

import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBundle, readBundleFiles } from "../../../filters/authz/index.ts";
import policy, { findOpa, sourceRevision } from "../../../sidecars/cli/policy.ts";
import { POLICIES, REPO_ROOT, tempDir } from "./helpers.ts";

const exec = promisify(execFile);
const MAIN = path.join(REPO_ROOT, "sidecars/cli/main.ts");

async function hexr(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ["--disable-warning=ExperimentalWarning", MAIN, ...args], {
      env,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("hexr-cli-"));
});

afterAll(async () => {
  await cleanup();
});

describe("hexr policy", () => {
  it("build: tests, then writes a WASM bundle without tests or examples, revision = source digest", async () => {
    const out = path.join(dir, "main", "bundle.tar.gz");
    const r = await hexr(["policy", "build", "--out", out]);
    expect(r.code).toBe(0);
    const revision = sourceRevision(POLICIES);
    expect(revision).toMatch(/^[0-9a-f]{12}$/);
    expect(r.stdout).toContain(`built ${out}`);
    expect(r.stdout).toContain(`revision    ${revision}`);
    const bytes = await readFile(out);
    const bundle = await readBundle(bytes);
    expect(bundle.revision).toBe(revision);
    expect(bundle.entrypoints).toEqual(["hexr/authz/decision", "hexr/authz/allow"]);
    const names = [...(await readBundleFiles(bytes)).keys()].sort();
    expect(names).toEqual([".manifest", "a2a.rego", "authz.rego", "data.json", "policy.wasm"]);
  });

  it("build --src policies/examples builds the allow-all example on its own", async () => {
    const out = path.join(dir, "examples.tar.gz");
    const r = await hexr([
      "policy",
      "build",
      "--src",
      path.join(POLICIES, "examples"),
      "--out",
      out,
      "--revision",
      "allow-all",
    ]);
    expect(r.code).toBe(0);
    expect((await readBundle(await readFile(out))).revision).toBe("allow-all");
  });

  it("build signs with --signing-key and --key-id", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const key = path.join(dir, "ci.pem");
    await writeFile(key, privateKey.export({ type: "pkcs8", format: "pem" }));
    const out = path.join(dir, "signed.tar.gz");
    const r = await hexr([
      "policy",
      "build",
      "--out",
      out,
      "--signing-key",
      key,
      "--signing-alg",
      "RS256",
      "--key-id",
      "ci",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("signed      yes (RS256, key id ci)");
    const verification = {
      keys: { ci: { key: publicKey.export({ type: "spki", format: "pem" }).toString(), algorithm: "RS256" } },
    };
    expect((await readBundle(await readFile(out), { verification, strict: true })).signed).toBe(true);
  });

  it("build fails with exit 1 and the opa test output when a test fails; nothing is written", async () => {
    const src = path.join(dir, "failing");
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, "p.rego"), "package hexr.authz\ndefault allow := false\n");
    await writeFile(
      path.join(src, "p_test.rego"),
      "package hexr.authz_test\nimport data.hexr.authz\ntest_allowed if authz.allow\n",
    );
    const out = path.join(dir, "never.tar.gz");
    const r = await hexr(["policy", "build", "--src", src, "--out", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("test_allowed: FAIL");
    expect(r.stderr).toContain("opa test failed");
    expect(existsSync(out)).toBe(false);
  });

  it("build fails with exit 1 and opa's message on a compile error", async () => {
    const src = path.join(dir, "broken");
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, "p.rego"), "package hexr.authz\nallow if {\n");
    const r = await hexr(["policy", "build", "--src", src, "--out", path.join(dir, "broken.tar.gz")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rego_parse_error/);
  });

  it("test runs opa test -v", async () => {
    const r = await hexr(["policy", "test"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("test_researcher_bigquery_allowed: PASS");
    expect(r.stdout).toMatch(/PASS: \d+\/\d+/);
  });

  it("--help describes both subcommands", async () => {
    const r = await hexr(["policy", "build", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("hexr policy build");
    expect(r.stdout).toContain("--signing-key");
    expect(r.stdout).toContain("hexr policy test");
  });

  it("an unknown subcommand is a usage error (exit 2)", async () => {
    const r = await hexr(["policy", "deploy"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown subcommand 'deploy'");
  });

  it("says clearly when opa cannot be found", async () => {
    expect(findOpa({ PATH: "/nonexistent" })).toBeUndefined();
    expect(findOpa({ HEXR_OPA: "/nonexistent/opa" })).toBeUndefined();
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => {
      writes.push(String(s));
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(await policy.run(["test"], { PATH: "/nonexistent" })).toBe(1);
    } finally {
      process.stderr.write = orig;
    }
    expect(writes.join("")).toContain("opa not found: set HEXR_OPA or put opa");
  });
});

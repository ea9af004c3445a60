/**
 * `hexr policy build|test`: runs the real OPA CLI. `build` tests first (a failing test never ships),
 * then compiles the Rego in `--src` to a WASM bundle with the entrypoints the sidecar evaluates.
 * OPA runs inside the source directory so bundle paths are relative (`/authz.rego`), whatever the
 * checkout location; the default revision is a digest of the sources, so equal sources give equal
 * revisions.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BUNDLE_SIGNING_ALGORITHMS } from "../../filters/authz/signature.ts";
import { locateTool } from "../tools.ts";
import type { Command } from "./command.ts";
import { parseFlags, UsageError } from "./command.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DEFAULT_SRC = path.join(REPO_ROOT, "policies");
const DEFAULT_OUT = path.join(REPO_ROOT, ".hexr", "build", "bundle.tar.gz");
const ENTRYPOINTS = ["hexr/authz/decision", "hexr/authz/allow"] as const;
/** The examples folder is neither tested nor built with the main policy (examples build on their own). */
const IGNORE_DIRS = ["examples"] as const;
/** Test files never enter a bundle. */
const IGNORE_IN_BUNDLE = ["*_test.rego", ...IGNORE_DIRS] as const;
const SIGNING_ALGS = BUNDLE_SIGNING_ALGORITHMS;

const BUILD_USAGE = `Usage: hexr policy build [--src DIR] [--out FILE] [--revision STR]
                         [--signing-key PEM --signing-alg ALG --key-id ID]

Runs 'opa test' on the sources (any failure stops the build), then
'opa build -t wasm' with entrypoints ${ENTRYPOINTS.join(" and ")}.

Options:
  --src DIR          Rego sources (default: policies/ in the repo); *_test.rego and
                     examples/ are left out. Build the examples with --src policies/examples.
  --out FILE         bundle to write (default: .hexr/build/bundle.tar.gz in the repo)
  --revision STR     manifest revision (default: first 12 hex of sha256 over the sources)
  --signing-key PEM  sign the bundle (.signatures.json): private key PEM file, or HMAC secret
  --signing-alg ALG  RS256 (default), PS256, ES256, HS256, … (384/512 variants too)
  --key-id ID        key id in the signature (default: default); the sidecar's
                     authz.signatures.keys must hold a key under this id
  -h, --help         show this help

OPA comes from $HEXR_OPA, else 'opa' on PATH.
`;

const TEST_USAGE = `Usage: hexr policy test [--src DIR]

Runs 'opa test -v' on the policy sources (examples/ left out).

Options:
  --src DIR   Rego sources (default: policies/ in the repo)
  -h, --help  show this help

OPA comes from $HEXR_OPA, else 'opa' on PATH.
`;

const USAGE = `Usage: hexr policy <build|test> [options]

Build and test the OPA policies (Rego v1, package hexr.authz) as a WASM bundle.

Commands:
  build   test, then compile to a WASM bundle (optionally signed)
  test    run the Rego unit tests (opa test -v)

${BUILD_USAGE}
${TEST_USAGE}`;

/** $HEXR_OPA, else `opa` on PATH; undefined when neither is an executable file. */
export function findOpa(env: NodeJS.ProcessEnv): string | undefined {
  return locateTool("opa", env.HEXR_OPA, env);
}

interface RunResult {
  code: number;
  output: string;
}

function run(bin: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => chunks.push(c));
    child.on("error", (e) => resolve({ code: 127, output: `${e.message}\n` }));
    child.on("close", (code) => resolve({ code: code ?? 1, output: Buffer.concat(chunks).toString("utf8") }));
  });
}

/** Files that go into the bundle, relative to `src`, sorted (the revision digest's input). */
function bundleSources(src: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name !== "examples") walk(path.join(dir, e.name), r);
      } else if (/\.rego$/.test(e.name) ? !e.name.endsWith("_test.rego") : /^data\.(json|ya?ml)$/.test(e.name)) {
        out.push(r);
      }
    }
  };
  walk(src, "");
  return out.sort();
}

export function sourceRevision(src: string): string {
  const h = createHash("sha256");
  for (const f of bundleSources(src))
    h.update(`${f}\0`)
      .update(readFileSync(path.join(src, f)))
      .update("\0");
  return h.digest("hex").slice(0, 12);
}

function srcDir(value: string | undefined): string {
  const dir = value ? path.resolve(value) : DEFAULT_SRC;
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!ok) throw new UsageError(`--src ${dir} is not a directory`);
  return dir;
}

function ignoreArgs(patterns: readonly string[]): string[] {
  return patterns.flatMap((p) => ["--ignore", p]);
}

async function test(opa: string, src: string, env: NodeJS.ProcessEnv, verbose: boolean): Promise<RunResult> {
  return run(opa, ["test", ...(verbose ? ["-v"] : []), ...ignoreArgs(IGNORE_DIRS), "."], src, env);
}

async function runBuild(args: string[], env: NodeJS.ProcessEnv, opa: string): Promise<number> {
  const { values } = parseFlags(args, {
    src: { type: "string" },
    out: { type: "string" },
    revision: { type: "string" },
    "signing-key": { type: "string" },
    "signing-alg": { type: "string" },
    "key-id": { type: "string" },
  });
  if (values.help) {
    process.stdout.write(BUILD_USAGE);
    return 0;
  }
  const src = srcDir(values.src);
  const out = values.out ? path.resolve(values.out) : DEFAULT_OUT;
  const alg = values["signing-alg"] ?? "RS256";
  if (!values["signing-key"] && (values["signing-alg"] || values["key-id"])) {
    throw new UsageError("--signing-alg and --key-id need --signing-key");
  }
  if (!SIGNING_ALGS.includes(alg)) throw new UsageError(`--signing-alg must be one of ${SIGNING_ALGS.join(", ")}`);

  const tested = await test(opa, src, env, false);
  if (tested.code !== 0) {
    process.stderr.write(tested.output);
    process.stderr.write(`hexr policy build: opa test failed in ${src}; no bundle written\n`);
    return 1;
  }

  const revision = values.revision ?? sourceRevision(src);
  const buildArgs = [
    "build",
    "-b",
    "-t",
    "wasm",
    ...ENTRYPOINTS.flatMap((e) => ["-e", e]),
    ...ignoreArgs(IGNORE_IN_BUNDLE),
    "-r",
    revision,
    "-o",
    out,
  ];
  if (values["signing-key"]) {
    const key = path.resolve(values["signing-key"]);
    // OPA takes a file path or, for HMAC, the secret itself: resolve only what exists as a file.
    let keyArg = values["signing-key"];
    try {
      if (statSync(key).isFile()) keyArg = key;
    } catch {
      // HMAC secret given inline
    }
    buildArgs.push(
      "--signing-key",
      keyArg,
      "--signing-alg",
      alg,
      "--verification-key-id",
      values["key-id"] ?? "default",
    );
  }
  buildArgs.push(".");
  mkdirSync(path.dirname(out), { recursive: true });
  const built = await run(opa, buildArgs, src, env);
  if (built.code !== 0) {
    process.stderr.write(built.output);
    process.stderr.write(`hexr policy build: opa build failed for ${src}\n`);
    return 1;
  }
  const bytes = readFileSync(out);
  process.stdout.write(
    [
      `built ${out}`,
      `  source      ${src}`,
      `  revision    ${revision}`,
      `  entrypoints ${ENTRYPOINTS.join(", ")}`,
      `  signed      ${values["signing-key"] ? `yes (${alg}, key id ${values["key-id"] ?? "default"})` : "no"}`,
      `  size        ${bytes.length} bytes`,
      `  sha256      ${createHash("sha256").update(bytes).digest("hex")}`,
      "",
    ].join("\n"),
  );
  return 0;
}

async function runTest(args: string[], env: NodeJS.ProcessEnv, opa: string): Promise<number> {
  const { values } = parseFlags(args, { src: { type: "string" } });
  if (values.help) {
    process.stdout.write(TEST_USAGE);
    return 0;
  }
  const result = await test(opa, srcDir(values.src), env, true);
  (result.code === 0 ? process.stdout : process.stderr).write(result.output);
  return result.code === 0 ? 0 : 1;
}

const policy: Command = {
  name: "policy",
  summary: "build and test OPA policies (WASM bundle)",
  usage: USAGE,
  async run(args, env) {
    const [sub, ...rest] = args;
    if (sub !== "build" && sub !== "test") {
      throw new UsageError(sub ? `unknown subcommand '${sub}'` : "missing subcommand (build or test)");
    }
    const opa = findOpa(env);
    if (!opa) {
      process.stderr.write(
        env.HEXR_OPA
          ? `hexr policy: HEXR_OPA=${env.HEXR_OPA} is not an executable file\n`
          : "hexr policy: opa not found: set HEXR_OPA or put opa (v1.x) on PATH (scripts/setup.sh installs it)\n",
      );
      return 1;
    }
    return sub === "build" ? runBuild(rest, env, opa) : runTest(rest, env, opa);
  },
};

export default policy;

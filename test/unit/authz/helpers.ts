/**
 * Test helpers: real bundles from the real `opa build -t wasm`, temp dirs, and a tiny tar writer for
 * hand-made hostile archives.
 */
import { execFile } from "node:child_process";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";

const exec = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const POLICIES = path.join(REPO_ROOT, "policies");
export const OPA = process.env.HEXR_OPA || "opa";

export async function tempDir(prefix = "hexr-authz-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface BuildOptions {
  entrypoints?: string[];
  revision?: string;
  signingKey?: string;
  signingAlg?: string;
  keyId?: string;
  /** Extra signature claims (e.g. `{ scope: "write" }`), via --claims-file. */
  claims?: Record<string, unknown>;
}

/** `opa build -b -t wasm` of a directory (run inside it, like `hexr policy build`). */
export async function buildDir(src: string, opts: BuildOptions = {}): Promise<Uint8Array> {
  const { dir, cleanup } = await tempDir("hexr-build-");
  try {
    const out = path.join(dir, "bundle.tar.gz");
    const eps = opts.entrypoints ?? ["hexr/authz/decision", "hexr/authz/allow"];
    const args = [
      "build",
      "-b",
      "-t",
      "wasm",
      ...eps.flatMap((e) => ["-e", e]),
      "--ignore",
      "*_test.rego",
      "--ignore",
      "examples",
    ];
    if (opts.revision) args.push("-r", opts.revision);
    if (opts.signingKey) {
      args.push("--signing-key", opts.signingKey, "--signing-alg", opts.signingAlg ?? "RS256");
      if (opts.keyId) args.push("--verification-key-id", opts.keyId);
      if (opts.claims) {
        await writeFile(path.join(dir, "claims.json"), JSON.stringify(opts.claims));
        args.push("--claims-file", path.join(dir, "claims.json"));
      }
    }
    args.push("-o", out, ".");
    await exec(OPA, args, { cwd: src });
    return new Uint8Array(await readFile(out));
  } finally {
    await cleanup();
  }
}

/** Builds inline sources: `{ "policy.rego": "...", "data.json": "..." }`. */
export async function buildSources(files: Record<string, string>, opts: BuildOptions = {}): Promise<Uint8Array> {
  const { dir, cleanup } = await tempDir("hexr-src-");
  try {
    for (const [name, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await writeFile(path.join(dir, name), text);
    }
    return await buildDir(dir, opts);
  } finally {
    await cleanup();
  }
}

function header(name: string, size: number, type = "0"): Uint8Array {
  const h = new Uint8Array(512);
  const put = (s: string, off: number, len: number) => h.set(new TextEncoder().encode(s).subarray(0, len), off);
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, "0");
  put(name, 0, 100);
  put(oct(0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(size, 12), 124, 12);
  put(oct(0, 12), 136, 12);
  put("        ", 148, 8);
  put(type, 156, 1);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${oct(sum, 7)}\0`, 148, 8);
  return h;
}

/** A raw tar (ustar) of the given entries; `type` lets tests add symlinks and the like. */
export function tar(entries: Array<{ name: string; data?: Uint8Array | string; type?: string }>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = typeof e.data === "string" ? new TextEncoder().encode(e.data) : (e.data ?? new Uint8Array());
    parts.push(header(e.name, data.length, e.type));
    parts.push(data);
    const pad = (512 - (data.length % 512)) % 512;
    parts.push(new Uint8Array(pad));
  }
  parts.push(new Uint8Array(1024));
  return Buffer.concat(parts);
}

export function tgz(entries: Parameters<typeof tar>[0]): Uint8Array {
  return gzipSync(tar(entries));
}

/** A minimal valid-looking WASM header (enough for the bundle reader, not for the engine). */
export const FAKE_WASM = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

/** The DESIGN.md input shape with overrides. */
export function opaInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    spiffe_id: "spiffe://hexr.cloud/agent/acme-corp/content-crew/researcher",
    tenant: "acme-corp",
    agent: "content-crew",
    role: "researcher",
    service: "gcp_bigquery",
    action: "bigquery.jobs.create",
    timestamp: "2026-01-15T10:30:00Z",
    request: { method: "POST", host: "bigquery.googleapis.com", path: "/bigquery/v2/projects/p/queries", headers: {} },
    rate: { agent_calls_last_minute: 12 },
    ...overrides,
  };
}

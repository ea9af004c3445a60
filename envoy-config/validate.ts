/**
 * Validates configs with the real Envoy binary (`envoy --mode validate`): proto field names, extension
 * names, typed configs and referenced files are all checked exactly as a running Envoy would.
 *
 * @example
 *   const { ok, output } = await validateWithEnvoy(renderSidecarBootstrap(opts));
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { HexrError } from "../filters/errors.ts";
import { locateTool } from "../sidecars/tools.ts";
import { toYaml } from "./yaml.ts";

const run = promisify(execFile);
export const VALIDATE_TIMEOUT_MS = 60_000;

export interface ValidationResult {
  ok: boolean;
  /** Envoy's stdout + stderr, trimmed (`configuration '…' OK`, or the error). */
  output: string;
}

export interface EnvoyRunOptions {
  /** Envoy binary; default {@link findEnvoy}(process.env). */
  envoyBin?: string;
  timeoutMs?: number;
}

/** The Envoy binary: `$HEXR_ENVOY`, else `envoy` on `$PATH`. Throws HexrError `config.envoy_not_found`. */
export function findEnvoy(env: NodeJS.ProcessEnv = process.env): string {
  const found = locateTool("envoy", env.HEXR_ENVOY, env);
  if (found) return found;
  throw new HexrError(
    "config.envoy_not_found",
    env.HEXR_ENVOY
      ? `HEXR_ENVOY=${env.HEXR_ENVOY} is not an executable file`
      : "envoy not found: set HEXR_ENVOY or put envoy on PATH (`source ~/.cache/hexr/tools/env.sh` after scripts/setup.sh)",
  );
}

/** Envoy's semantic version, e.g. `1.40.0`. */
export async function envoyVersion(envoyBin?: string): Promise<string> {
  const { stdout } = await run(envoyBin ?? findEnvoy(), ["--version"], { timeout: VALIDATE_TIMEOUT_MS });
  const m = /version: [0-9a-f]+\/(\d+\.\d+\.\d+)/.exec(stdout);
  if (!m?.[1])
    throw new HexrError("config.envoy_version", `unrecognized envoy --version output: ${stdout.trim().slice(0, 200)}`);
  return m[1];
}

/** Runs `envoy --mode validate` on an existing file (YAML or JSON, by extension). */
export async function validateFileWithEnvoy(file: string, opts: EnvoyRunOptions = {}): Promise<ValidationResult> {
  const bin = opts.envoyBin ?? findEnvoy();
  try {
    const { stdout, stderr } = await run(bin, ["--mode", "validate", "-c", file, "--log-level", "error"], {
      timeout: opts.timeoutMs ?? VALIDATE_TIMEOUT_MS,
      maxBuffer: 16 << 20,
    });
    return { ok: true, output: `${stdout}${stderr}`.trim() };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    const output = `${err.stdout ?? ""}${err.stderr ?? ""}`.trim();
    return { ok: false, output: output || err.message };
  }
}

/**
 * Validates a rendered config (object → written as the YAML we ship) or YAML/JSON text, in a temp dir
 * that is removed afterwards. Files the config references (certificates) must exist: Envoy reads them.
 */
export async function validateWithEnvoy(
  config: object | string,
  opts: EnvoyRunOptions = {},
): Promise<ValidationResult> {
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-envoy-validate-"));
  try {
    const file = path.join(dir, "bootstrap.yaml");
    writeFileSync(file, typeof config === "string" ? config : toYaml(config));
    return await validateFileWithEnvoy(file, opts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

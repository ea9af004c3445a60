/**
 * The external programs the suite drives: fortio (load generator and upstream echo server) and
 * opa-envoy-plugin (the reference ext_authz server). `scripts/setup.sh` installs both into the tool cache
 * and exports `$HEXR_FORTIO` / `$HEXR_OPA_ENVOY`; when an older env.sh lacks those, the pinned cache paths
 * are tried, then `$PATH`.
 */
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Pinned in scripts/setup.sh (FORTIO_VERSION, OPA_ENVOY_VERSION); keep in step. */
export const FORTIO_VERSION = "v1.68.2";
export const OPA_ENVOY_VERSION = "v0.70.0-envoy-1";

export interface Tool {
  name: string;
  bin: string;
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function toolsDir(env: NodeJS.ProcessEnv): string {
  return path.join(env.HEXR_CACHE ?? path.join(homedir(), ".cache", "hexr"), "tools");
}

function find(name: string, envVar: string, cached: string, env: NodeJS.ProcessEnv): string {
  const explicit = env[envVar];
  if (explicit) {
    if (!executable(explicit)) throw new Error(`${envVar}=${explicit} is not an executable file`);
    return explicit;
  }
  if (executable(cached)) return cached;
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  throw new Error(
    `${name} not found: run scripts/setup.sh (it builds ${name} from the Go module proxy), or set ${envVar}`,
  );
}

export function findFortio(env: NodeJS.ProcessEnv = process.env): string {
  return find("fortio", "HEXR_FORTIO", path.join(toolsDir(env), `fortio-${FORTIO_VERSION}`, "bin", "fortio"), env);
}

export function findOpaEnvoy(env: NodeJS.ProcessEnv = process.env): string {
  return find(
    "opa-envoy-plugin",
    "HEXR_OPA_ENVOY",
    path.join(toolsDir(env), `opa-envoy-plugin-${OPA_ENVOY_VERSION}`, "bin", "opa-envoy-plugin"),
    env,
  );
}

/** `1.68.2` from `fortio version`. */
export async function fortioVersion(bin: string): Promise<string> {
  const { stdout } = await run(bin, ["version"]);
  return stdout.trim().split(/\s+/)[0] ?? "unknown";
}

/** `0.70.0` from `opa-envoy-plugin version` (`Version: 0.70.0`). */
export async function opaEnvoyVersion(bin: string): Promise<string> {
  const { stdout } = await run(bin, ["version"]);
  return /Version:\s*(\S+)/.exec(stdout)?.[1] ?? "unknown";
}

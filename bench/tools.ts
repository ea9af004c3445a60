/**
 * The external programs the suite drives: fortio (load generator and upstream echo server) and
 * opa-envoy-plugin (the reference ext_authz server). `scripts/setup.sh` installs both into the tool cache
 * and exports `$HEXR_FORTIO` / `$HEXR_OPA_ENVOY` (sourced by `bin/hexr`); else `$PATH`.
 */
import { execFile } from "node:child_process";
import { locateTool } from "../sidecars/tools.ts";
import { promisify } from "node:util";

const run = promisify(execFile);

function find(name: string, envVar: string, env: NodeJS.ProcessEnv): string {
  const found = locateTool(name, env[envVar], env);
  if (found) return found;
  throw new Error(
    env[envVar]
      ? `${envVar}=${env[envVar]} is not an executable file`
      : `${name} not found: run scripts/setup.sh (it builds ${name} from the Go module proxy and exports ${envVar})`,
  );
}

export function findFortio(env: NodeJS.ProcessEnv = process.env): string {
  return find("fortio", "HEXR_FORTIO", env);
}

export function findOpaEnvoy(env: NodeJS.ProcessEnv = process.env): string {
  return find("opa-envoy-plugin", "HEXR_OPA_ENVOY", env);
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

/**
 * Finding the external programs the data plane drives (envoy, opa, spire-*, fortio, opa-envoy-plugin):
 * the path an environment variable names (what `scripts/setup.sh` exports in env.sh), else the name on
 * `$PATH`. Callers turn `undefined` into an error that names the tool and how to install it.
 */
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";

function executableFile(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * `explicit` when given (it must be an executable file, else undefined: a wrong setting is not silently
 * replaced by whatever is on PATH), otherwise the first `name` on `$PATH`.
 *
 * @example
 *   locateTool("envoy", process.env.HEXR_ENVOY) // "/root/.cache/hexr/tools/envoy-1.40.0/bin/envoy"
 */
export function locateTool(
  name: string,
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (explicit) return executableFile(explicit) ? explicit : undefined;
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    const p = dir && path.join(dir, name);
    if (p && executableFile(p)) return p;
  }
  return undefined;
}

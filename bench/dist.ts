/**
 * The compiled build the benchmark runs our sidecars from (scripts/build-dist.sh), made fresh in the run's
 * own directory: what a container image runs, without Node's TypeScript stripper resident beside it.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("../scripts/build-dist.sh", import.meta.url));

/** Builds into `dir/dist` and returns that path. */
export async function buildDist(dir: string): Promise<string> {
  const out = path.join(dir, "dist");
  try {
    await run("bash", [SCRIPT, out], { maxBuffer: 16 << 20, timeout: 300_000 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`scripts/build-dist.sh failed: ${(err.stdout ?? "") + (err.stderr ?? err.message)}`.slice(0, 4000));
  }
  return out;
}

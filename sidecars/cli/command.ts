import { parseArgs, type ParseArgsConfig } from "node:util";

/** A `hexr` subcommand. `run` returns the process exit code. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full help text printed by `hexr <name> --help`. */
  readonly usage: string;
  run(args: string[], env: NodeJS.ProcessEnv): Promise<number>;
}

export class UsageError extends Error {
  override name = "UsageError";
}

/** parseArgs with `--help` always accepted; throws UsageError naming the bad flag. */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Resolves after the first SIGTERM or SIGINT, once `stop(signal)` has settled (a long-running command's end). */
export function untilSignal(stop: (signal: string) => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const on = (signal: string) => {
      stop(signal).then(resolve, resolve);
    };
    process.once("SIGTERM", () => on("SIGTERM"));
    process.once("SIGINT", () => on("SIGINT"));
  });
}

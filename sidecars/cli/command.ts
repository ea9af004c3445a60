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

/**
 * `hexr` entry point: dispatches to subcommands, each with `--help`.
 * Commands are imported lazily so `hexr guard scan` does not load gRPC or Envoy protos.
 */
import type { Command } from "./command.ts";
import { UsageError } from "./command.ts";

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  sidecar: {
    summary: "run the ext_authz / ext_proc gRPC sidecar",
    load: async () => (await import("./sidecar.ts")).default,
  },
  policy: {
    summary: "build and test OPA policies (WASM bundle)",
    load: async () => (await import("./policy.ts")).default,
  },
  envoy: { summary: "render and validate Envoy configuration", load: async () => (await import("./envoy.ts")).default },
  guard: { summary: "scan text with the LLM guard scanners", load: async () => (await import("./guard.ts")).default },
  bench: {
    summary: "run latency benchmarks against real Envoy",
    load: async () => (await import("./bench.ts")).default,
  },
  injector: {
    summary: "run the admission webhook that injects the data plane into agent pods",
    load: async () => (await import("./injector.ts")).default,
  },
  registrar: {
    summary: "run the SPIRE auto-registrar for agent pods",
    load: async () => (await import("./registrar.ts")).default,
  },
  demo: {
    summary: "run a local data plane and a scripted set of requests",
    load: async () => (await import("./demo.ts")).default,
  },
};

function topHelp(): string {
  const rows = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(9)} ${c.summary}`);
  return `hexr — Hexr security data plane for AI agents\n\nUsage: hexr <command> [options]\n\nCommands:\n${rows.join("\n")}\n\nRun 'hexr <command> --help' for a command's options.\n`;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(topHelp());
    return name ? 0 : 2;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`hexr: unknown command '${name}'\n\n${topHelp()}`);
    return 2;
  }
  const cmd = await entry.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(cmd.usage.endsWith("\n") ? cmd.usage : `${cmd.usage}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest, env);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`hexr ${name}: ${e.message}\n\n${cmd.usage}\n`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`hexr: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

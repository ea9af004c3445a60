import { readFileSync } from "node:fs";
import { isHexrError } from "../../filters/errors.ts";
import { startSidecar } from "../authz-sidecar.ts";
import { parseConfig } from "../config.ts";
import { JsonLogger } from "../logger.ts";
import { type Command, parseFlags, UsageError, untilSignal } from "./command.ts";

const USAGE = `Usage: hexr sidecar --config FILE [--check]

Runs the Hexr sidecar: the ext_authz gRPC server (envoy.service.auth.v3.Authorization/Check)
on the Unix socket and/or TCP address in the config, with grpc.health.v1 health.
SIGTERM/SIGINT: health goes NOT_SERVING, in-flight calls finish (drain_timeout_ms), then exit.

Options:
  -c, --config FILE   sidecar YAML config (validated at start; errors name the field)
      --check         validate the config and exit
  -h, --help          this help
`;

const command: Command = {
  name: "sidecar",
  summary: "run the ext_authz gRPC sidecar",
  usage: USAGE,
  async run(args, env) {
    const { values } = parseFlags(args, { config: { type: "string", short: "c" }, check: { type: "boolean" } });
    const file = values.config ?? env.HEXR_CONFIG;
    if (!file) throw new UsageError("--config is required");
    let cfg: ReturnType<typeof parseConfig>;
    try {
      cfg = parseConfig(readFileSync(file, "utf8"), file);
    } catch (e) {
      process.stderr.write(
        `hexr sidecar: invalid config ${file}: ${isHexrError(e) ? e.message : (e as Error).message}\n`,
      );
      return 1;
    }
    if (values.check) {
      process.stdout.write(`config ${file}: ok\n`);
      return 0;
    }
    const logger = new JsonLogger(process.stderr, cfg.log.level, { component: "hexr-sidecar" });
    const running = await startSidecar(cfg, { logger });
    await untilSignal((signal) => {
      logger.info({ event: "signal", signal, drain_ms: cfg.drainTimeoutMs });
      return running.stop();
    });
    return 0;
  },
};
export default command;

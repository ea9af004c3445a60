import { isHexrError } from "../../filters/errors.ts";
import { type InjectorServerConfig, InjectorServer, parseInjectorServerConfig } from "../injector/server.ts";
import { JsonLogger } from "../logger.ts";
import { type Command, parseFlags, UsageError, untilSignal } from "./command.ts";

const USAGE = `Usage: hexr injector --config FILE [--check]

Runs the mutating admission webhook that injects Envoy and the hexr sidecar into agent pods:
HTTPS POST /mutate/namespace and /mutate/pod (AdmissionReview v1), plain HTTP /healthz and /readyz
(ready once namespaces have been listed from the API server). The serving certificate is reloaded
when its files change. SIGTERM/SIGINT: stop listening, finish in-flight reviews, exit.

Config (YAML):
  listen: { address: 0.0.0.0, port: 9443 }
  tls: { cert_file: /etc/hexr/webhook-tls/tls.crt, key_file: /etc/hexr/webhook-tls/tls.key }
  health: { address: 0.0.0.0, port: 8080 }
  kube: {}            # in-cluster service account; or api_server, token_file, ca_file
  log: { level: info }
  injector: { trust_domain: ..., images: ..., spire: ..., policy: ..., ... }   # sidecars/injector/README.md

Options:
  -c, --config FILE   config (validated at start; errors name the field)
      --check         validate the config and exit
  -h, --help          this help
`;

const command: Command = {
  name: "injector",
  summary: "run the admission webhook that injects the data plane into agent pods",
  usage: USAGE,
  async run(args, env) {
    const { values } = parseFlags(args, { config: { type: "string", short: "c" }, check: { type: "boolean" } });
    const file = values.config ?? env.HEXR_INJECTOR_CONFIG;
    if (!file) throw new UsageError("--config is required");
    let cfg: InjectorServerConfig;
    try {
      cfg = parseInjectorServerConfig(file);
    } catch (e) {
      process.stderr.write(
        `hexr injector: invalid config ${file}: ${isHexrError(e) ? e.message : (e as Error).message}\n`,
      );
      return 1;
    }
    if (values.check) {
      process.stdout.write(`config ${file}: ok\n`);
      return 0;
    }
    const logger = new JsonLogger(process.stderr, cfg.logLevel, { component: "hexr-injector" });
    const server = new InjectorServer(cfg, { logger });
    await server.start();
    await untilSignal((signal) => {
      logger.info({ event: "signal", signal });
      return server.close();
    });
    return 0;
  },
};
export default command;

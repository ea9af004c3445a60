import { isHexrError } from "../../filters/errors.ts";
import { bool, fail, int, type Obj, obj, onlyKeys, str } from "../config-fields.ts";
import { connectionFromConfig, KubeClient, type KubeSettings } from "../kube/client.ts";
import { type Address, address, kubeSettings, logLevel, readConfigRoot, serveHealth } from "../kube/process-config.ts";
import { JsonLogger, type Level } from "../logger.ts";
import { type RegistrarConfig, resolveConfig } from "../registrar/desired.ts";
import { Registrar } from "../registrar/reconcile.ts";
import { RegistrarWatcher } from "../registrar/watch.ts";
import { type Command, parseFlags, UsageError, untilSignal } from "./command.ts";

const USAGE = `Usage: hexr registrar --config FILE [--check]

Runs the SPIRE auto-registrar: watches namespaces, nodes and pods with hexr.io/* labels on the API
server and keeps SPIRE registration entries in step through the SPIRE Server API (entry service on
the server's admin socket): created on pod start, deleted on pod end, reconciled periodically.
Plain HTTP /healthz and /readyz (ready after the first full reconcile).

Config (YAML):
  spire: { server_socket: /run/spire/server-sockets/api.sock }
  registrar: { trust_domain: ..., cluster: ..., parent_id_template: ..., owner: hexr-registrar,
               x509_svid_ttl: 0, jwt_svid_ttl: 0, excluded_namespaces: [], require_injected: true }
  reconcile_interval_seconds: 60
  health: { address: 0.0.0.0, port: 8081 }
  kube: {}            # in-cluster service account; or api_server, token_file, ca_file
  log: { level: info }

Options:
  -c, --config FILE   config (validated at start; errors name the field)
      --check         validate the config and exit
  -h, --help          this help
`;

export interface RegistrarProcessConfig {
  readonly serverSocket: string;
  readonly registrar: RegistrarConfig;
  readonly intervalMs: number;
  readonly health: Address;
  readonly kube: KubeSettings;
  readonly logLevel: Level;
}

export function checkRegistrarProcessConfig(root: Obj): RegistrarProcessConfig {
  onlyKeys(root, "", ["spire", "registrar", "reconcile_interval_seconds", "health", "kube", "log"]);
  const spire = obj(root.spire, "spire");
  onlyKeys(spire, "spire", ["server_socket"]);
  const r = obj(root.registrar, "registrar");
  const keys = ["trust_domain", "cluster", "parent_id_template", "owner", "x509_svid_ttl", "jwt_svid_ttl"];
  onlyKeys(r, "registrar", [...keys, "excluded_namespaces", "require_injected"]);
  const excluded = r.excluded_namespaces === undefined ? undefined : r.excluded_namespaces;
  if (excluded !== undefined && !(Array.isArray(excluded) && excluded.every((x) => typeof x === "string" && x))) {
    fail("registrar.excluded_namespaces", "must be a list of namespace names");
  }
  const registrar: RegistrarConfig = {
    trustDomain: str(r.trust_domain, "registrar.trust_domain"),
    ...(r.cluster !== undefined ? { cluster: str(r.cluster, "registrar.cluster") } : {}),
    ...(r.parent_id_template !== undefined
      ? { parentIdTemplate: str(r.parent_id_template, "registrar.parent_id_template") }
      : {}),
    ...(r.owner !== undefined ? { owner: str(r.owner, "registrar.owner") } : {}),
    ...(r.x509_svid_ttl !== undefined ? { x509SvidTtl: int(r.x509_svid_ttl, "registrar.x509_svid_ttl", 0, 0) } : {}),
    ...(r.jwt_svid_ttl !== undefined ? { jwtSvidTtl: int(r.jwt_svid_ttl, "registrar.jwt_svid_ttl", 0, 0) } : {}),
    ...(excluded !== undefined ? { excludedNamespaces: excluded as string[] } : {}),
    requireInjected: bool(r.require_injected, "registrar.require_injected", true),
  };
  resolveConfig(registrar); // names the bad field now, not at the first reconcile
  return {
    serverSocket: str(spire.server_socket, "spire.server_socket"),
    registrar,
    intervalMs: int(root.reconcile_interval_seconds, "reconcile_interval_seconds", 0, 60, 86_400) * 1000,
    health: address(root.health, "health", { address: "0.0.0.0", port: 8081 }),
    kube: kubeSettings(root.kube),
    logLevel: logLevel(root.log),
  };
}

export interface RunningRegistrar {
  readonly healthPort: number;
  readonly watcher: RegistrarWatcher;
  readonly registrar: Registrar;
  stop(): Promise<void>;
}

/** The registrar process: SPIRE client, watcher, health endpoint. */
export async function startRegistrar(
  cfg: RegistrarProcessConfig,
  o: { logger?: JsonLogger; kube?: KubeClient } = {},
): Promise<RunningRegistrar> {
  const kube = o.kube ?? new KubeClient(connectionFromConfig(cfg.kube));
  const registrar = new Registrar({
    socketPath: cfg.serverSocket,
    config: cfg.registrar,
    intervalMs: cfg.intervalMs,
    ...(o.logger ? { logger: o.logger } : {}),
  });
  const watcher = new RegistrarWatcher({ kube, registrar, ...(o.logger ? { logger: o.logger } : {}) });
  watcher.start();
  registrar.start();
  const health = await serveHealth(cfg.health, () => watcher.hasSynced && registrar.synced, "pods not listed yet");
  return {
    healthPort: health.port,
    watcher,
    registrar,
    async stop() {
      await health.close();
      await watcher.stop();
      await registrar.close();
      await kube.close();
    },
  };
}

const command: Command = {
  name: "registrar",
  summary: "run the SPIRE auto-registrar for agent pods",
  usage: USAGE,
  async run(args, env) {
    const { values } = parseFlags(args, { config: { type: "string", short: "c" }, check: { type: "boolean" } });
    const file = values.config ?? env.HEXR_REGISTRAR_CONFIG;
    if (!file) throw new UsageError("--config is required");
    let cfg: RegistrarProcessConfig;
    try {
      cfg = checkRegistrarProcessConfig(readConfigRoot(file));
    } catch (e) {
      process.stderr.write(
        `hexr registrar: invalid config ${file}: ${isHexrError(e) ? e.message : (e as Error).message}\n`,
      );
      return 1;
    }
    if (values.check) {
      process.stdout.write(`config ${file}: ok\n`);
      return 0;
    }
    const logger = new JsonLogger(process.stderr, cfg.logLevel, { component: "hexr-registrar" });
    const running = await startRegistrar(cfg, { logger });
    logger.info({ msg: "registrar started", health_port: running.healthPort });
    await untilSignal((signal) => {
      logger.info({ event: "signal", signal });
      return running.stop();
    });
    return 0;
  },
};
export default command;

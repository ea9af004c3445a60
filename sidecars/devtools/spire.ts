/**
 * A real SPIRE server + agent on loopback, for integration tests and `hexr demo`.
 *
 * Server: 127.0.0.1 on a free port, sqlite3 datastore, `disk` key manager, `join_token` node attestation.
 * Agent: joins with a one-time token, keeps its SVID and key in its data dir (`disk` key manager) so a
 * restart reuses the node identity without a new token, attests workloads with the `unix` plugin (uid and
 * path selectors). Readiness comes from the `/ready` health endpoints and from the Workload API, never
 * from fixed sleeps. Everything lives in one temp dir that `stop()` removes; process output goes to
 * `server.log` / `agent.log` there and the tail is quoted in every startup error.
 *
 * `oidc: true` also sets the server's `jwt_issuer` to `http://127.0.0.1:<port>` and runs SPIRE's
 * `oidc-discovery-provider` there (plain HTTP on loopback: `insecure_addr` + `allow_insecure_scheme`),
 * reading the JWT signing keys from the server API socket; an STS verifies JWT-SVIDs against its
 * `/.well-known/openid-configuration` and `/keys` (log: `oidc.log`). `authorizedDelegates` lists the
 * SPIFFE IDs the agent lets use its Delegated Identity API on the admin socket.
 *
 * @example
 *   const spire = await startSpire({ trustDomain: "hexr.cloud" });
 *   await spire.createEntry({ spiffeId: "spiffe://hexr.cloud/agent/acme/crew/researcher",
 *                             selectors: [`unix:uid:${process.getuid?.()}`] });
 *   await spire.waitForEntry("spiffe://hexr.cloud/agent/acme/crew/researcher");
 *   // ... point a WorkloadApiClient (or Envoy SDS) at spire.agentSocket ...
 *   await spire.stop();
 */
import { locateTool } from "../tools.ts";
import { execFile, spawn } from "node:child_process";
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { HexrError } from "../../filters/errors.ts";
import { WorkloadApiClient } from "../workload-api/client.ts";
import { freePorts, LoggedProcess } from "./logged-process.ts";

const execFileP = promisify(execFile);

export const DEFAULT_TRUST_DOMAIN = "hexr.cloud";
/**
 * The agent's SDS resource names. These are SPIRE's own defaults (v1.13: `default`, `ROOTCA`, `ALL`),
 * written out explicitly so the Envoy templates and this harness cannot drift apart. Envoy asks for
 * `default` (this workload's default X.509-SVID), `ROOTCA` (the agent's own trust bundle) or `ALL` (own
 * plus federated bundles, for the SPIFFE certificate validator); any SPIFFE ID also works as a name.
 */
export const SDS_DEFAULT_SVID_NAME = "default";
export const SDS_DEFAULT_BUNDLE_NAME = "ROOTCA";
export const SDS_DEFAULT_ALL_BUNDLES_NAME = "ALL";
export const DEFAULT_X509_SVID_TTL = "1h";
export const DEFAULT_JWT_SVID_TTL = "5m";
/** How often the agent syncs entries with the server (SPIRE default 5s; shorter so new entries show up fast). */
export const DEFAULT_AGENT_SYNC_INTERVAL = "1s";
/** How often the server reloads its entry cache (SPIRE default 5s). */
export const DEFAULT_SERVER_CACHE_RELOAD_INTERVAL = "1s";
export const DEFAULT_START_TIMEOUT_MS = 30_000;
export const DEFAULT_ENTRY_TIMEOUT_MS = 30_000;
const AGENT_TTL = "1h";
const CA_TTL = "24h";
/** sockaddr_un.sun_path is 108 bytes including the NUL. */
const MAX_SOCKET_PATH = 107;

export interface StartSpireOptions {
  /** Default {@link DEFAULT_TRUST_DOMAIN}. */
  readonly trustDomain?: string;
  /** Server `default_x509_svid_ttl` (Go duration, default {@link DEFAULT_X509_SVID_TTL}); entries can override. */
  readonly x509SvidTtl?: string;
  /** Server `default_jwt_svid_ttl` (default {@link DEFAULT_JWT_SVID_TTL}). */
  readonly jwtSvidTtl?: string;
  /** Parent directory for the harness's temp dir (default `os.tmpdir()`); the temp dir itself is removed on stop. */
  readonly dir?: string;
  /** Agent `experimental.sync_interval` (default {@link DEFAULT_AGENT_SYNC_INTERVAL}). */
  readonly agentSyncInterval?: string;
  /** `DEBUG`, `INFO`, … (default `DEBUG`: the logs are only read when something failed). */
  readonly logLevel?: string;
  /** Readiness deadline for each process (default {@link DEFAULT_START_TIMEOUT_MS}). */
  readonly startTimeoutMs?: number;
  /** Where the SPIRE binaries are (default `$HEXR_SPIRE_BIN`, else `PATH`). */
  readonly binDir?: string;
  /**
   * Agent `authorized_delegates`: SPIFFE IDs allowed to call the Delegated Identity API on
   * {@link SpireHarness.agentAdminSocket} (fetch SVIDs on behalf of other workloads). Default: none.
   */
  readonly authorizedDelegates?: readonly string[];
  /**
   * Serve the JWT-SVID signing keys as an OIDC issuer: sets the server's `jwt_issuer` (the `iss` of every
   * JWT-SVID) and starts `oidc-discovery-provider` on that loopback address. See {@link SpireHarness.oidcIssuer}.
   */
  readonly oidc?: boolean;
}

export interface EntrySpec {
  readonly spiffeId: string;
  /** `type:value` selectors, all of which must match: `unix:uid:1000`, `unix:path:/usr/bin/node`. */
  readonly selectors: readonly string[];
  /** X.509-SVID lifetime in seconds (default: the server's). */
  readonly ttl?: number;
  /** JWT-SVID lifetime in seconds (default: the server's). */
  readonly jwtTtl?: number;
  readonly dnsNames?: readonly string[];
  readonly hint?: string;
}

/** A process to fetch identities as: its uid/gid and executable (selectors `unix:uid`, `unix:path`). */
export interface WorkloadProcess {
  /** Default: this process's uid (spawning under another uid needs root). */
  readonly uid?: number;
  /** Default: `uid` when that is given, else this process's gid. */
  readonly gid?: number;
  /** A Node binary to run; default: a copy of this process's binary the given uid can execute. */
  readonly execPath?: string;
}

export interface SpireHarness {
  readonly trustDomain: string;
  /** The harness's temp dir (logs, configs, data, sockets). */
  readonly dir: string;
  /** Server API socket (for `spire-server ... -socketPath`). */
  readonly serverSocket: string;
  /** Workload API / SDS socket of the agent (world-connectable, like a real deployment's). */
  readonly agentSocket: string;
  /** Agent admin API socket. */
  readonly agentAdminSocket: string;
  /** `127.0.0.1:<port>` the server listens on for agents. */
  readonly serverAddress: string;
  /** The node alias given to the agent's join token; parent of every entry {@link createEntry} makes. */
  readonly agentId: string;
  /**
   * With `oidc: true`: `http://127.0.0.1:<port>`, the JWT-SVIDs' `iss` and the discovery provider's base URL
   * (`/.well-known/openid-configuration`, `/keys`). `undefined` otherwise.
   */
  readonly oidcIssuer: string | undefined;
  /** Registers a workload; resolves with the entry ID. */
  createEntry(spec: EntrySpec): Promise<string>;
  deleteEntry(entryId: string): Promise<void>;
  /**
   * Resolves once the agent serves `spiffeId` over the Workload API to a matching process: this process
   * by default, or `opts.as` (spawned under that uid/gid/executable).
   */
  waitForEntry(spiffeId: string, opts?: { timeoutMs?: number; as?: WorkloadProcess }): Promise<void>;
  /** SPIFFE IDs the agent issues to a process run as `as` (waits until `want` is among them, if given). */
  fetchSpiffeIdsAs(as: WorkloadProcess, opts?: { want?: string; timeoutMs?: number }): Promise<string[]>;
  /**
   * Runs Node with `nodeArgs` as a workload process `as` (its uid/gid/executable decide which entries match),
   * cwd = the harness dir. Resolves with its stdout on exit 0; rejects with the tail of its stderr otherwise,
   * or when it runs longer than `timeoutMs` (default {@link DEFAULT_ENTRY_TIMEOUT_MS}).
   */
  runAs(as: WorkloadProcess, nodeArgs: readonly string[], opts?: { timeoutMs?: number }): Promise<string>;
  /** A hard link (or copy) of this process's Node binary at `<dir>/bin/<name>`: a distinct `unix:path`. */
  nodeExecutable(name?: string): string;
  /** Stops the agent (SIGTERM, then SIGKILL after a grace period). The data dir is kept. */
  stopAgent(): Promise<void>;
  /** Starts the agent again from its data dir: it loads its stored SVID instead of re-attesting. */
  startAgent(): Promise<void>;
  readonly agentRunning: boolean;
  /** Tails of the logs (`oidc` only with `oidc: true`). */
  logs(): { server: string; agent: string; oidc?: string };
  /** Stops every process and removes the temp dir. */
  stop(): Promise<void>;
}

export function spireBinary(
  name: "spire-server" | "spire-agent" | "oidc-discovery-provider",
  binDir = process.env.HEXR_SPIRE_BIN,
): string {
  const found = locateTool(name, binDir ? path.join(binDir, name) : undefined);
  if (found) return found;
  throw new HexrError("config.spire_missing", `${name} not found in $HEXR_SPIRE_BIN or PATH (run scripts/setup.sh)`);
}

function hcl(s: string): string {
  return JSON.stringify(s); // HCL string literals share JSON's escaping for what we write
}

/** Where everything lives inside the harness's temp dir. */
interface Layout {
  readonly dir: string;
  readonly server: string;
  readonly agent: string;
  readonly agentData: string;
  readonly agentPublic: string;
  readonly agentAdmin: string;
  readonly bin: string;
  readonly serverSocket: string;
  readonly agentSocket: string;
  readonly agentAdminSocket: string;
}

function makeLayout(parent: string): Layout {
  const dir = mkdtempSync(path.join(parent, "hexr-spire-"));
  const agent = path.join(dir, "agent");
  const l: Layout = {
    dir,
    server: path.join(dir, "server"),
    agent,
    agentData: path.join(agent, "data"),
    agentPublic: path.join(agent, "public"),
    agentAdmin: path.join(agent, "admin"),
    bin: path.join(dir, "bin"),
    serverSocket: path.join(dir, "server", "api.sock"),
    agentSocket: path.join(agent, "public", "api.sock"),
    agentAdminSocket: path.join(agent, "admin", "admin.sock"),
  };
  for (const s of [l.serverSocket, l.agentSocket, l.agentAdminSocket]) {
    if (Buffer.byteLength(s) > MAX_SOCKET_PATH) {
      rmSync(dir, { recursive: true, force: true });
      throw new TypeError(`dir is too deep: socket path ${s} exceeds ${MAX_SOCKET_PATH} bytes`);
    }
  }
  // Workloads under other uids must reach the agent socket (and a Node binary, see nodeExecutable):
  // the root, agent/ and agent/public are world-traversable; server state and key material stay private.
  for (const p of [l.server, l.agentData, l.agentAdmin]) mkdirSync(p, { recursive: true, mode: 0o700 });
  mkdirSync(l.agentPublic, { recursive: true, mode: 0o755 });
  for (const p of [dir, agent]) chmodSync(p, 0o755);
  return l;
}

interface Ports {
  readonly server: number;
  readonly serverHealth: number;
  readonly agentHealth: number;
}

function healthChecks(port: number): string {
  return `health_checks {
  listener_enabled = true
  bind_address = "127.0.0.1"
  bind_port = "${port}"
  live_path = "/live"
  ready_path = "/ready"
}
`;
}

function serverConfig(
  l: Layout,
  ports: Ports,
  o: Required<Pick<StartSpireOptions, "x509SvidTtl" | "jwtSvidTtl" | "logLevel">> & {
    trustDomain: string;
    jwtIssuer: string | undefined;
  },
): string {
  return `server {
  bind_address = "127.0.0.1"
  bind_port = "${ports.server}"
  socket_path = ${hcl(l.serverSocket)}
  trust_domain = ${hcl(o.trustDomain)}
  data_dir = ${hcl(l.server)}
  log_level = ${hcl(o.logLevel)}
  ca_ttl = "${CA_TTL}"
  # The agent's own SVID; without this it would follow default_x509_svid_ttl, which tests set short.
  agent_ttl = "${AGENT_TTL}"
  default_x509_svid_ttl = ${hcl(o.x509SvidTtl)}
  default_jwt_svid_ttl = ${hcl(o.jwtSvidTtl)}
${o.jwtIssuer ? `  jwt_issuer = ${hcl(o.jwtIssuer)}\n` : ""}  experimental {
    cache_reload_interval = "${DEFAULT_SERVER_CACHE_RELOAD_INTERVAL}"
  }
}

plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = ${hcl(path.join(l.server, "datastore.sqlite3"))}
    }
  }
  KeyManager "disk" {
    plugin_data {
      keys_path = ${hcl(path.join(l.server, "keys.json"))}
    }
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
}

${healthChecks(ports.serverHealth)}`;
}

function agentConfig(
  l: Layout,
  ports: Ports,
  o: {
    trustDomain: string;
    logLevel: string;
    syncInterval: string;
    bootstrapBundle: string;
    authorizedDelegates: readonly string[];
  },
): string {
  return `agent {
  data_dir = ${hcl(l.agentData)}
  log_level = ${hcl(o.logLevel)}
  server_address = "127.0.0.1"
  server_port = ${ports.server}
  socket_path = ${hcl(l.agentSocket)}
  admin_socket_path = ${hcl(l.agentAdminSocket)}
  authorized_delegates = [${o.authorizedDelegates.map(hcl).join(", ")}]
  trust_domain = ${hcl(o.trustDomain)}
  trust_bundle_path = ${hcl(o.bootstrapBundle)}
  sds {
    default_svid_name = "${SDS_DEFAULT_SVID_NAME}"
    default_bundle_name = "${SDS_DEFAULT_BUNDLE_NAME}"
    default_all_bundles_name = "${SDS_DEFAULT_ALL_BUNDLES_NAME}"
  }
  experimental {
    sync_interval = ${hcl(o.syncInterval)}
  }
}

plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "disk" {
    plugin_data {
      directory = ${hcl(l.agentData)}
    }
  }
  WorkloadAttestor "unix" {
    plugin_data {
      # unix:path selectors need the workload's executable path.
      discover_workload_path = true
      # -1 skips the unix:sha256 selector: hashing a 100+ MB Node binary on every attestation is slow.
      workload_size_limit = -1
    }
  }
}

${healthChecks(ports.agentHealth)}`;
}

/**
 * oidc-discovery-provider: plain HTTP on loopback, keys polled from the server API socket (every second, so
 * a rotated key shows up quickly), requests allowed only for Host 127.0.0.1.
 */
function oidcConfig(l: Layout, port: number, issuer: string, logLevel: string): string {
  return `log_level = ${hcl(logLevel.toLowerCase())}
log_requests = true
domains = ["127.0.0.1"]
insecure_addr = "127.0.0.1:${port}"
allow_insecure_scheme = true
jwt_issuer = ${hcl(issuer)}
server_api {
  address = ${hcl(`unix://${l.serverSocket}`)}
  poll_interval = "1s"
}
`;
}

/** Starts a SPIRE server and agent; see the module comment. */
export async function startSpire(opts: StartSpireOptions = {}): Promise<SpireHarness> {
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  if (!/^[a-z0-9._-]+$/.test(trustDomain)) {
    throw new TypeError("trustDomain must be a SPIFFE trust domain name (a-z 0-9 . _ -)");
  }
  const harness = new LocalSpire(opts, trustDomain, makeLayout(opts.dir ?? tmpdir()));
  try {
    await harness.start(opts);
  } catch (e) {
    await harness.stop().catch(() => {});
    throw e;
  }
  return harness;
}

class LocalSpire implements SpireHarness {
  readonly trustDomain: string;
  readonly dir: string;
  readonly serverSocket: string;
  readonly agentSocket: string;
  readonly agentAdminSocket: string;
  readonly agentId: string;
  oidcIssuer: string | undefined;
  serverAddress = "";
  readonly #layout: Layout;
  readonly #serverBin: string;
  readonly #agentBin: string;
  readonly #startTimeoutMs: number;
  readonly #server: LoggedProcess;
  readonly #agent: LoggedProcess;
  readonly #oidc: LoggedProcess | undefined;
  readonly #oidcBin: string | undefined;
  #oidcPort = 0;
  readonly #agentConf: string;
  readonly #linked = new Map<string, string>();
  readonly #killAll = () => {
    this.#oidc?.killNow();
    this.#agent.killNow();
    this.#server.killNow();
  };
  #agentHealthPort = 0;
  /** Join tokens are single-use: set until the first agent start consumes it. */
  #joinToken: string | undefined;
  #stopped = false;

  constructor(opts: StartSpireOptions, trustDomain: string, layout: Layout) {
    this.trustDomain = trustDomain;
    this.#layout = layout;
    this.dir = layout.dir;
    this.serverSocket = layout.serverSocket;
    this.agentSocket = layout.agentSocket;
    this.agentAdminSocket = layout.agentAdminSocket;
    this.agentId = `spiffe://${trustDomain}/hexr/spire-agent`;
    this.#serverBin = spireBinary("spire-server", opts.binDir);
    this.#agentBin = spireBinary("spire-agent", opts.binDir);
    this.#startTimeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.#server = new LoggedProcess("spire-server", path.join(layout.dir, "server.log"), "internal.spire");
    this.#agent = new LoggedProcess("spire-agent", path.join(layout.dir, "agent.log"), "internal.spire");
    if (opts.oidc) {
      this.#oidcBin = spireBinary("oidc-discovery-provider", opts.binDir);
      this.#oidc = new LoggedProcess("oidc-discovery-provider", path.join(layout.dir, "oidc.log"), "internal.spire");
    }
    this.#agentConf = path.join(layout.agent, "agent.conf");
    process.once("exit", this.#killAll); // never leave SPIRE behind if the test runner dies
  }

  get agentRunning(): boolean {
    return this.#agent.running;
  }

  async start(opts: StartSpireOptions): Promise<void> {
    const l = this.#layout;
    const logLevel = opts.logLevel ?? "DEBUG";
    // all at once, so no two are the same; the issuer's goes into the server config (every JWT-SVID's iss)
    const [server, serverHealth, agentHealth, oidcPort] = (await freePorts(this.#oidc ? 4 : 3)) as [
      number,
      number,
      number,
      number | undefined,
    ];
    const ports: Ports = { server, serverHealth, agentHealth };
    if (oidcPort !== undefined) {
      this.#oidcPort = oidcPort;
      this.oidcIssuer = `http://127.0.0.1:${oidcPort}`;
    }
    this.serverAddress = `127.0.0.1:${server}`;
    this.#agentHealthPort = agentHealth;

    const serverConf = path.join(l.server, "server.conf");
    writeFileSync(
      serverConf,
      serverConfig(l, ports, {
        trustDomain: this.trustDomain,
        logLevel,
        x509SvidTtl: opts.x509SvidTtl ?? DEFAULT_X509_SVID_TTL,
        jwtSvidTtl: opts.jwtSvidTtl ?? DEFAULT_JWT_SVID_TTL,
        jwtIssuer: this.oidcIssuer,
      }),
    );
    this.#server.start(this.#serverBin, ["run", "-config", serverConf]);
    await this.#server.waitReady(`http://127.0.0.1:${serverHealth}/ready`, this.#startTimeoutMs);

    // Secure bootstrap: the agent trusts the server's current bundle instead of insecure_bootstrap.
    const bootstrapBundle = path.join(l.agent, "bootstrap.crt");
    writeFileSync(bootstrapBundle, await this.#serverCli(["bundle", "show", "-format", "pem"]));
    // -spiffeID also registers a node alias for the token's agent: entries parent to that stable ID.
    const out = await this.#serverCli([
      "token",
      "generate",
      "-spiffeID",
      this.agentId,
      "-ttl",
      "600",
      "-output",
      "json",
    ]);
    const token = (JSON.parse(out) as { value?: string }).value;
    if (!token) throw new HexrError("internal.spire", "spire-server token generate printed no token");
    this.#joinToken = token;

    const syncInterval = opts.agentSyncInterval ?? DEFAULT_AGENT_SYNC_INTERVAL;
    writeFileSync(
      this.#agentConf,
      agentConfig(l, ports, {
        trustDomain: this.trustDomain,
        logLevel,
        syncInterval,
        bootstrapBundle,
        authorizedDelegates: opts.authorizedDelegates ?? [],
      }),
    );
    await this.startAgent();
    if (this.#oidc && this.#oidcBin && this.oidcIssuer) await this.#startOidc(logLevel);
  }

  async #startOidc(logLevel: string): Promise<void> {
    const oidc = this.#oidc as LoggedProcess;
    const issuer = this.oidcIssuer as string;
    const conf = path.join(this.#layout.server, "oidc-discovery-provider.conf");
    writeFileSync(conf, oidcConfig(this.#layout, this.#oidcPort, issuer, logLevel));
    oidc.start(this.#oidcBin as string, ["-config", conf]);
    // the discovery document answers as soon as the listener is up; /keys only once the keys were read
    // from the server API, which is what a verifier needs
    await oidc.waitReady(`${issuer}/.well-known/openid-configuration`, this.#startTimeoutMs);
    await oidc.waitReady(`${issuer}/keys`, this.#startTimeoutMs);
  }

  async startAgent(): Promise<void> {
    if (this.#agent.running) return;
    const args = ["run", "-config", this.#agentConf];
    // Only the very first start attests with the token. Later starts find the SVID and key kept in
    // data_dir (disk key manager) and skip node attestation ("SVID loaded" in agent.log).
    if (this.#joinToken !== undefined) {
      args.push("-joinToken", this.#joinToken);
      this.#joinToken = undefined;
    }
    this.#agent.start(this.#agentBin, args);
    await this.#agent.waitReady(`http://127.0.0.1:${this.#agentHealthPort}/ready`, this.#startTimeoutMs);
  }

  stopAgent(): Promise<void> {
    return this.#agent.stop();
  }

  async createEntry(spec: EntrySpec): Promise<string> {
    if (spec.selectors.length === 0) throw new TypeError("selectors must not be empty");
    const args = ["entry", "create", "-parentID", this.agentId, "-spiffeID", spec.spiffeId, "-output", "json"];
    for (const s of spec.selectors) args.push("-selector", s);
    if (spec.ttl !== undefined) args.push("-x509SVIDTTL", String(spec.ttl));
    if (spec.jwtTtl !== undefined) args.push("-jwtSVIDTTL", String(spec.jwtTtl));
    for (const dns of spec.dnsNames ?? []) args.push("-dns", dns);
    if (spec.hint !== undefined) args.push("-hint", spec.hint);
    type Out = { results?: Array<{ status?: { code?: number; message?: string }; entry?: { id?: string } }> };
    const out = JSON.parse(await this.#serverCli(args)) as Out;
    const r = out.results?.[0];
    if (!r?.entry?.id || (r.status?.code ?? 0) !== 0) {
      throw new HexrError(
        "internal.spire",
        `entry create for ${spec.spiffeId} failed: ${r?.status?.message ?? JSON.stringify(out)}`,
      );
    }
    return r.entry.id;
  }

  async deleteEntry(entryId: string): Promise<void> {
    await this.#serverCli(["entry", "delete", "-entryID", entryId]);
  }

  async waitForEntry(spiffeId: string, opts: { timeoutMs?: number; as?: WorkloadProcess } = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_ENTRY_TIMEOUT_MS;
    if (opts.as) {
      await this.fetchSpiffeIdsAs(opts.as, { want: spiffeId, timeoutMs });
      return;
    }
    const client = new WorkloadApiClient({ socketPath: this.agentSocket, streams: ["x509"], backoffMaxMs: 500 });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          const last = client.stats().x509?.lastError;
          reject(
            new HexrError(
              "internal.spire",
              `agent did not serve ${spiffeId} to this process within ${timeoutMs} ms${last ? ` (${last})` : ""}` +
                `\n--- agent.log (tail) ---\n${this.#agent.tail()}`,
            ),
          );
        }, timeoutMs);
        const off = client.onX509Update((s) => {
          if (!s.svids.some((v) => v.spiffeId === spiffeId)) return;
          clearTimeout(timer);
          off();
          resolve();
        });
      });
    } finally {
      client.close();
    }
  }

  async fetchSpiffeIdsAs(as: WorkloadProcess, opts: { want?: string; timeoutMs?: number } = {}): Promise<string[]> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_ENTRY_TIMEOUT_MS;
    const clientUrl = pathToFileURL(path.join(import.meta.dirname, "..", "workload-api", "client.ts")).href;
    const args = [
      "--no-warnings",
      "--input-type=module",
      "-e",
      CHILD_FETCH_SCRIPT,
      clientUrl,
      this.agentSocket,
      opts.want ?? "",
      String(timeoutMs),
    ];
    // the child gives up on its own at timeoutMs; the extra second lets it say why before we kill it
    const stdout = await this.runAs(as, args, { timeoutMs: timeoutMs + 1_000 });
    return (JSON.parse(stdout) as { ids: string[] }).ids;
  }

  runAs(as: WorkloadProcess, nodeArgs: readonly string[], opts: { timeoutMs?: number } = {}): Promise<string> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_ENTRY_TIMEOUT_MS;
    const foreign = as.uid !== undefined && as.uid !== process.getuid?.();
    const exe = as.execPath ?? (foreign ? this.nodeExecutable() : process.execPath);
    const gid = as.gid ?? as.uid;
    return new Promise<string>((resolve, reject) => {
      const child = spawn(exe, nodeArgs, {
        cwd: this.dir,
        stdio: ["ignore", "pipe", "pipe"],
        ...(as.uid !== undefined ? { uid: as.uid } : {}),
        ...(gid !== undefined ? { gid } : {}),
      });
      let out = "";
      let err = "";
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.stdout.on("data", (b: Buffer) => (out += b));
      child.stderr.on("data", (b: Buffer) => (err += b));
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once("close", (code) => {
        clearTimeout(timer);
        if (code === 0) return resolve(out);
        const why = timedOut ? `killed after ${timeoutMs} ms` : (err || out).trim().slice(-2000);
        reject(new HexrError("internal.spire", `workload process ${JSON.stringify(as)} failed (exit ${code}): ${why}`));
      });
    });
  }

  nodeExecutable(name = "node"): string {
    const have = this.#linked.get(name);
    if (have) return have;
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new TypeError("name must be a plain file name");
    mkdirSync(this.#layout.bin, { recursive: true, mode: 0o755 });
    const p = path.join(this.#layout.bin, name);
    try {
      linkSync(process.execPath, p); // same file, distinct path: enough for unix:path, and instant
    } catch {
      copyFileSync(process.execPath, p); // another filesystem
    }
    chmodSync(p, 0o755);
    this.#linked.set(name, p);
    return p;
  }

  logs(): { server: string; agent: string; oidc?: string } {
    return {
      server: this.#server.tail(),
      agent: this.#agent.tail(),
      ...(this.#oidc ? { oidc: this.#oidc.tail() } : {}),
    };
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    process.off("exit", this.#killAll);
    await this.#oidc?.stop();
    await this.#agent.stop();
    await this.#server.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #serverCli(args: string[]): Promise<string> {
    try {
      const { stdout } = await execFileP(this.#serverBin, [...args, "-socketPath", this.serverSocket], {
        timeout: 30_000,
      });
      return stdout;
    } catch (e) {
      const err = e as Error & { stderr?: string; stdout?: string };
      const what = `${args[0]} ${args[1] ?? ""}`.trim();
      throw new HexrError(
        "internal.spire",
        `spire-server ${what} failed: ${(err.stderr || err.stdout || err.message).trim()}`,
      );
    }
  }
}

/**
 * Runs inside a spawned workload process (`node -e`): fetches X.509-SVIDs with our client and prints
 * the SPIFFE IDs as JSON. argv: client module URL, agent socket, wanted SPIFFE ID ("" = any), timeout.
 */
const CHILD_FETCH_SCRIPT = `
const [clientUrl, socketPath, want, timeoutMs] = process.argv.slice(1);
const { WorkloadApiClient } = await import(clientUrl);
const client = new WorkloadApiClient({ socketPath, streams: ["x509"], backoffMaxMs: 500 });
const ids = () => client.current().svids.map((s) => s.spiffeId);
const timer = setTimeout(() => {
  const last = client.stats().x509?.lastError;
  process.stderr.write("no matching SVID within " + timeoutMs + " ms; have " + JSON.stringify(ids()) + (last ? "; last error: " + last : ""));
  client.close();
  process.exit(2);
}, Number(timeoutMs));
const check = () => {
  if (ids().length > 0 && (want === "" || ids().includes(want))) {
    clearTimeout(timer);
    process.stdout.write(JSON.stringify({ ids: ids() }));
    client.close();
  }
};
client.onX509Update(check);
`;

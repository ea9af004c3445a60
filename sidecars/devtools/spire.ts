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
 * @example
 *   const spire = await startSpire({ trustDomain: "hexr.cloud" });
 *   await spire.createEntry({ spiffeId: "spiffe://hexr.cloud/agent/acme/crew/researcher",
 *                             selectors: [`unix:uid:${process.getuid?.()}`] });
 *   await spire.waitForEntry("spiffe://hexr.cloud/agent/acme/crew/researcher");
 *   // ... point a WorkloadApiClient (or Envoy SDS) at spire.agentSocket ...
 *   await spire.stop();
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { HexrError } from "../../filters/errors.ts";
import { WorkloadApiClient } from "../workload-api/client.ts";

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
const POLL_MS = 50;
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_LINES = 40;
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
  readonly uid?: number;
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
  /** A hard link (or copy) of this process's Node binary at `<dir>/bin/<name>`: a distinct `unix:path`. */
  nodeExecutable(name?: string): string;
  /** Stops the agent (SIGTERM, then SIGKILL after a grace period). The data dir is kept. */
  stopAgent(): Promise<void>;
  /** Starts the agent again from its data dir: it loads its stored SVID instead of re-attesting. */
  startAgent(): Promise<void>;
  readonly agentRunning: boolean;
  logs(): { server: string; agent: string };
  /** Stops both processes and removes the temp dir. */
  stop(): Promise<void>;
}

export function spireBinary(name: "spire-server" | "spire-agent", binDir = process.env.HEXR_SPIRE_BIN): string {
  if (binDir) {
    const p = path.join(binDir, name);
    if (existsSync(p)) return p;
  }
  for (const d of (process.env.PATH ?? "").split(path.delimiter)) {
    const p = path.join(d, name);
    if (d && existsSync(p)) return p;
  }
  throw new HexrError("config.spire_missing", `${name} not found in $HEXR_SPIRE_BIN or PATH (run scripts/setup.sh)`);
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-LOG_TAIL_LINES).join("\n");
  } catch {
    return "(no log)";
  }
}

function hclString(s: string): string {
  return JSON.stringify(s); // HCL string literals share JSON's escaping for what we write
}

/** One SPIRE process with its output appended to a log file. */
class SpireProcess {
  readonly name: string;
  readonly logFile: string;
  #proc: ChildProcess | undefined;
  #exit: Promise<void> = Promise.resolve();

  constructor(name: string, logFile: string) {
    this.name = name;
    this.logFile = logFile;
  }

  get running(): boolean {
    return this.#proc !== undefined && this.#proc.exitCode === null && this.#proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  start(bin: string, args: string[]): void {
    const fd = openSync(this.logFile, "a");
    try {
      const proc = spawn(bin, args, { stdio: ["ignore", fd, fd] });
      this.#proc = proc;
      this.#exit = new Promise((resolve) => proc.once("exit", () => resolve()));
      proc.once("error", () => {}); // spawn failures surface as "exited" in waitReady, with the log tail
    } finally {
      closeSync(fd);
    }
  }

  async waitReady(url: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      if (!this.running) throw this.error(`exited (code ${this.#proc?.exitCode ?? "?"}) before becoming ready`);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) return;
        last = `${res.status} ${(await res.text()).slice(0, 200)}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await delay(POLL_MS); // polling the readiness endpoint
    }
    throw this.error(`not ready within ${timeoutMs} ms (${url}: ${last})`);
  }

  error(what: string): HexrError {
    return new HexrError(
      "internal.spire",
      `${this.name} ${what}\n--- ${this.logFile} (tail) ---\n${tail(this.logFile)}`,
    );
  }

  async stop(): Promise<void> {
    const p = this.#proc;
    if (!p || !this.running) return;
    p.kill("SIGTERM");
    const killed = await Promise.race([this.#exit.then(() => false), delay(STOP_GRACE_MS).then(() => true)]);
    if (killed) {
      p.kill("SIGKILL");
      await this.#exit;
    }
  }

  killNow(): void {
    if (this.running) this.#proc?.kill("SIGKILL");
  }
}

/** Starts a SPIRE server and agent; see the module comment. */
export async function startSpire(opts: StartSpireOptions = {}): Promise<SpireHarness> {
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  if (!/^[a-z0-9._-]+$/.test(trustDomain))
    throw new TypeError("trustDomain must be a SPIFFE trust domain name (a-z 0-9 . _ -)");
  const startTimeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const logLevel = opts.logLevel ?? "DEBUG";
  const serverBin = spireBinary("spire-server", opts.binDir);
  const agentBin = spireBinary("spire-agent", opts.binDir);

  const dir = mkdtempSync(path.join(opts.dir ?? tmpdir(), "hexr-spire-"));
  // Workloads under other uids must reach the agent socket (and a Node binary, see nodeExecutable):
  // the root and the public socket dir are world-traversable; server and key material stay private.
  chmodSync(dir, 0o755);
  const d = {
    server: path.join(dir, "server"),
    agent: path.join(dir, "agent"),
    agentData: path.join(dir, "agent", "data"),
    agentPublic: path.join(dir, "agent", "public"),
    agentAdmin: path.join(dir, "agent", "admin"),
    bin: path.join(dir, "bin"),
  };
  for (const p of [d.server, d.agent, d.agentData, d.agentAdmin]) mkdirSync(p, { recursive: true, mode: 0o700 });
  mkdirSync(d.agentPublic, { recursive: true, mode: 0o755 });
  chmodSync(d.agent, 0o755);
  const serverSocket = path.join(d.server, "api.sock");
  const agentSocket = path.join(d.agentPublic, "api.sock");
  const agentAdminSocket = path.join(d.agentAdmin, "admin.sock");
  for (const s of [serverSocket, agentSocket, agentAdminSocket]) {
    if (Buffer.byteLength(s) > MAX_SOCKET_PATH) {
      rmSync(dir, { recursive: true, force: true });
      throw new TypeError(`dir is too deep: socket path ${s} exceeds ${MAX_SOCKET_PATH} bytes`);
    }
  }

  const [serverPort, serverHealthPort, agentHealthPort] = (await freePorts(3)) as [number, number, number];
  const serverConf = path.join(d.server, "server.conf");
  writeFileSync(
    serverConf,
    `server {
  bind_address = "127.0.0.1"
  bind_port = "${serverPort}"
  socket_path = ${hclString(serverSocket)}
  trust_domain = ${hclString(trustDomain)}
  data_dir = ${hclString(d.server)}
  log_level = ${hclString(logLevel)}
  ca_ttl = "${CA_TTL}"
  agent_ttl = "${AGENT_TTL}"
  default_x509_svid_ttl = ${hclString(opts.x509SvidTtl ?? DEFAULT_X509_SVID_TTL)}
  default_jwt_svid_ttl = ${hclString(opts.jwtSvidTtl ?? DEFAULT_JWT_SVID_TTL)}
  experimental {
    cache_reload_interval = "${DEFAULT_SERVER_CACHE_RELOAD_INTERVAL}"
  }
}

plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = ${hclString(path.join(d.server, "datastore.sqlite3"))}
    }
  }
  KeyManager "disk" {
    plugin_data {
      keys_path = ${hclString(path.join(d.server, "keys.json"))}
    }
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
}

health_checks {
  listener_enabled = true
  bind_address = "127.0.0.1"
  bind_port = "${serverHealthPort}"
  live_path = "/live"
  ready_path = "/ready"
}
`,
  );

  const server = new SpireProcess("spire-server", path.join(dir, "server.log"));
  const agent = new SpireProcess("spire-agent", path.join(dir, "agent.log"));
  const killAll = () => {
    agent.killNow();
    server.killNow();
  };
  process.once("exit", killAll); // never leave SPIRE behind if the test runner dies
  let stopped = false;
  const cleanup = async () => {
    if (stopped) return;
    stopped = true;
    process.off("exit", killAll);
    await agent.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };

  const serverCli = async (args: string[]): Promise<string> => {
    try {
      const { stdout } = await execFileP(serverBin, [...args, "-socketPath", serverSocket], { timeout: 30_000 });
      return stdout;
    } catch (e) {
      const err = e as Error & { stderr?: string; stdout?: string };
      throw new HexrError(
        "internal.spire",
        `spire-server ${args[0]} ${args[1] ?? ""} failed: ${(err.stderr || err.stdout || err.message).trim()}`,
      );
    }
  };

  const agentId = `spiffe://${trustDomain}/hexr/spire-agent`;
  const agentConf = path.join(d.agent, "agent.conf");
  const bootstrapBundle = path.join(d.agent, "bootstrap.crt");
  let token: string | undefined;
  const startAgentProcess = async () => {
    if (agent.running) return;
    const args = ["run", "-config", agentConf];
    // Join tokens are single-use. Only the very first start attests with one; later starts load the
    // SVID and key kept in data_dir (disk key manager) and skip node attestation.
    if (token !== undefined) {
      args.push("-joinToken", token);
      token = undefined;
    }
    agent.start(agentBin, args);
    await agent.waitReady(`http://127.0.0.1:${agentHealthPort}/ready`, startTimeoutMs);
  };

  try {
    server.start(serverBin, ["run", "-config", serverConf]);
    await server.waitReady(`http://127.0.0.1:${serverHealthPort}/ready`, startTimeoutMs);

    writeFileSync(bootstrapBundle, await serverCli(["bundle", "show", "-format", "pem"]));
    const tokenOut = JSON.parse(
      await serverCli(["token", "generate", "-spiffeID", agentId, "-ttl", "600", "-output", "json"]),
    ) as { value?: string };
    if (!tokenOut.value) throw new HexrError("internal.spire", "spire-server token generate printed no token");
    token = tokenOut.value;

    writeFileSync(
      agentConf,
      `agent {
  data_dir = ${hclString(d.agentData)}
  log_level = ${hclString(logLevel)}
  server_address = "127.0.0.1"
  server_port = ${serverPort}
  socket_path = ${hclString(agentSocket)}
  admin_socket_path = ${hclString(agentAdminSocket)}
  trust_domain = ${hclString(trustDomain)}
  trust_bundle_path = ${hclString(bootstrapBundle)}
  sds {
    default_svid_name = "${SDS_DEFAULT_SVID_NAME}"
    default_bundle_name = "${SDS_DEFAULT_BUNDLE_NAME}"
    default_all_bundles_name = "${SDS_DEFAULT_ALL_BUNDLES_NAME}"
  }
  experimental {
    sync_interval = ${hclString(opts.agentSyncInterval ?? DEFAULT_AGENT_SYNC_INTERVAL)}
  }
}

plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "disk" {
    plugin_data {
      directory = ${hclString(d.agentData)}
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

health_checks {
  listener_enabled = true
  bind_address = "127.0.0.1"
  bind_port = "${agentHealthPort}"
  live_path = "/live"
  ready_path = "/ready"
}
`,
    );
    await startAgentProcess();
  } catch (e) {
    await cleanup().catch(() => {});
    throw e;
  }

  const linked = new Map<string, string>();
  const nodeExecutable = (name = "node"): string => {
    const have = linked.get(name);
    if (have) return have;
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new TypeError("name must be a plain file name");
    mkdirSync(d.bin, { recursive: true, mode: 0o755 });
    const p = path.join(d.bin, name);
    try {
      linkSync(process.execPath, p); // same file, distinct path: enough for unix:path, and instant
    } catch {
      copyFileSync(process.execPath, p);
    }
    chmodSync(p, 0o755);
    linked.set(name, p);
    return p;
  };

  const fetchSpiffeIdsAs = async (
    as: WorkloadProcess,
    o: { want?: string; timeoutMs?: number } = {},
  ): Promise<string[]> => {
    const timeoutMs = o.timeoutMs ?? DEFAULT_ENTRY_TIMEOUT_MS;
    const foreign = as.uid !== undefined && as.uid !== process.getuid?.();
    const exe = as.execPath ?? (foreign ? nodeExecutable() : process.execPath);
    const clientUrl = pathToFileURL(path.join(import.meta.dirname, "..", "workload-api", "client.ts")).href;
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
      const child = spawn(
        exe,
        [
          "--no-warnings",
          "--input-type=module",
          "-e",
          CHILD_FETCH_SCRIPT,
          clientUrl,
          agentSocket,
          o.want ?? "",
          String(timeoutMs),
        ],
        {
          cwd: dir,
          stdio: ["ignore", "pipe", "pipe"],
          ...(as.uid !== undefined ? { uid: as.uid } : {}),
          ...(as.gid !== undefined ? { gid: as.gid } : as.uid !== undefined ? { gid: as.uid } : {}),
        },
      );
      let out = "";
      let err = "";
      child.stdout.on("data", (b: Buffer) => (out += b));
      child.stderr.on("data", (b: Buffer) => (err += b));
      child.once("error", reject);
      child.once("close", (code) =>
        code === 0
          ? resolve({ stdout: out })
          : reject(
              new HexrError(
                "internal.spire",
                `workload process (${JSON.stringify(as)}) failed (exit ${code}): ${(err || out).trim().slice(-2000)}`,
              ),
            ),
      );
    });
    return (JSON.parse(stdout) as { ids: string[] }).ids;
  };

  const waitForEntry = async (
    spiffeId: string,
    o: { timeoutMs?: number; as?: WorkloadProcess } = {},
  ): Promise<void> => {
    const timeoutMs = o.timeoutMs ?? DEFAULT_ENTRY_TIMEOUT_MS;
    if (o.as) {
      await fetchSpiffeIdsAs(o.as, { want: spiffeId, timeoutMs });
      return;
    }
    const client = new WorkloadApiClient({ socketPath: agentSocket, streams: ["x509"], backoffMaxMs: 500 });
    try {
      await new Promise<void>((resolve, reject) => {
        const has = () => client.current().svids.some((s) => s.spiffeId === spiffeId);
        const timer = setTimeout(() => {
          off();
          const last = client.stats().x509?.lastError;
          reject(
            new HexrError(
              "internal.spire",
              `agent did not serve ${spiffeId} to this process within ${timeoutMs} ms${last ? ` (${last})` : ""}\n--- agent.log (tail) ---\n${tail(agent.logFile)}`,
            ),
          );
        }, timeoutMs);
        const off = client.onX509Update(() => {
          if (has()) {
            clearTimeout(timer);
            off();
            resolve();
          }
        });
      });
    } finally {
      client.close();
    }
  };

  return {
    trustDomain,
    dir,
    serverSocket,
    agentSocket,
    agentAdminSocket,
    serverAddress: `127.0.0.1:${serverPort}`,
    agentId,
    async createEntry(spec: EntrySpec): Promise<string> {
      if (spec.selectors.length === 0) throw new TypeError("selectors must not be empty");
      const args = ["entry", "create", "-parentID", agentId, "-spiffeID", spec.spiffeId, "-output", "json"];
      for (const s of spec.selectors) args.push("-selector", s);
      if (spec.ttl !== undefined) args.push("-x509SVIDTTL", String(spec.ttl));
      if (spec.jwtTtl !== undefined) args.push("-jwtSVIDTTL", String(spec.jwtTtl));
      for (const dns of spec.dnsNames ?? []) args.push("-dns", dns);
      if (spec.hint !== undefined) args.push("-hint", spec.hint);
      const out = JSON.parse(await serverCli(args)) as {
        results?: Array<{ status?: { code?: number; message?: string }; entry?: { id?: string } }>;
      };
      const r = out.results?.[0];
      if (!r?.entry?.id || (r.status?.code ?? 0) !== 0) {
        throw new HexrError(
          "internal.spire",
          `entry create for ${spec.spiffeId} failed: ${r?.status?.message ?? JSON.stringify(out)}`,
        );
      }
      return r.entry.id;
    },
    async deleteEntry(entryId: string): Promise<void> {
      await serverCli(["entry", "delete", "-entryID", entryId]);
    },
    waitForEntry,
    fetchSpiffeIdsAs,
    nodeExecutable,
    stopAgent: () => agent.stop(),
    startAgent: startAgentProcess,
    get agentRunning() {
      return agent.running;
    },
    logs: () => ({ server: tail(server.logFile), agent: tail(agent.logFile) }),
    stop: cleanup,
  };
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

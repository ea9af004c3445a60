/**
 * A real redis-server on loopback for integration tests and the demo: no persistence (`save ""`,
 * `appendonly no`), a free port, readiness by a PING answered over a socket. The handle can freeze the
 * server (SIGSTOP: a hung Redis whose kernel still accepts connections), thaw it, kill it (SIGKILL: the
 * data is gone) and start it again on the same port, which is what the fallback tests need.
 *
 * @example
 *   const redis = await startRedis({ password: "s3cret" });
 *   // connect to redis.url ("redis://:s3cret@127.0.0.1:PORT"), then:
 *   redis.pause(); … redis.resume();
 *   await redis.kill(); await redis.restart();
 *   await redis.stop();
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { GiveUp, waitFor } from "../../envoy-config/runner.ts";
import { freePort } from "./child-process.ts";

/** Attempts at a fresh port when another process takes the one picked before redis binds it. */
const PORT_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 15_000;
const PING_TIMEOUT_MS = 500;

export interface RedisHarness {
  host: "127.0.0.1";
  port: number;
  /** `redis://127.0.0.1:PORT`, with `:password@` when started with one. */
  url: string;
  /** The server's own log file (`logfile`), kept until stop() unless `dir` was given. */
  logPath: string;
  /** The log file and whatever the process wrote to stdout/stderr. */
  logs(): string;
  /** SIGTERM (after a SIGCONT if paused), waits for the exit, removes the temporary directory. */
  stop(): Promise<void>;
  /** SIGSTOP: the process stops answering, connections stay open and new ones still complete. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGKILL and wait for the exit: everything in memory is lost. */
  kill(): Promise<void>;
  /** Starts a new server on the same port (stopping the running one first, if any), ready when it resolves. */
  restart(): Promise<void>;
}

/** `HEXR_REDIS_SERVER`, else `redis-server` on PATH (Debian's redis-server package puts it in /usr/bin). */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.HEXR_REDIS_SERVER;
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`HEXR_REDIS_SERVER=${explicit} does not exist`);
    return explicit;
  }
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, "redis-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error("redis-server not found: set HEXR_REDIS_SERVER or install it (apt-get install redis-server)");
}

/** True once the server answers PING (`+PONG`, or `-NOAUTH` when it wants a password: either way it serves). */
export function pingRedis(port: number, timeoutMs = PING_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      reply += d.toString("latin1");
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG") || reply.startsWith("-NOAUTH"));
    });
  });
}

function configText(port: number, dir: string, logPath: string, password: string | undefined): string {
  const lines = [
    `port ${port}`,
    "bind 127.0.0.1",
    "protected-mode yes",
    'save ""',
    "appendonly no",
    `dir ${JSON.stringify(dir)}`,
    `logfile ${JSON.stringify(logPath)}`,
    "daemonize no",
    "loglevel notice",
  ];
  // in the config file rather than argv, so the password is not in `ps` output
  if (password !== undefined) lines.push(`requirepass ${JSON.stringify(password)}`);
  return `${lines.join("\n")}\n`;
}

interface Running {
  proc: ChildProcess;
  exited: Promise<void>;
  hasExited: () => boolean;
}

export async function startRedis(opts: { dir?: string; password?: string } = {}): Promise<RedisHarness> {
  const bin = findRedisServer();
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), "hexr-redis-"));
  const logPath = path.join(dir, "redis.log");
  const confPath = path.join(dir, "redis.conf");
  let output = "";
  let current: Running | undefined;
  let paused = false;

  const logs = () => (existsSync(logPath) ? readFileSync(logPath, "utf8") : "") + output;

  /** Starts on `port`; resolves when PING is answered, rejects (with `inUse`) if the process exits first. */
  async function launch(port: number): Promise<Running> {
    writeFileSync(confPath, configText(port, dir, logPath, opts.password), { mode: 0o600 });
    const proc = spawn(bin, [confPath], { stdio: ["ignore", "pipe", "pipe"] });
    let exited = false;
    const gone = new Promise<void>((resolve) =>
      proc.once("exit", () => {
        exited = true;
        resolve();
      }),
    );
    const keep = (d: Buffer) => {
      output += d.toString();
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    const running = { proc, exited: gone, hasExited: () => exited };
    try {
      await waitFor(
        `redis-server on 127.0.0.1:${port}`,
        async () => {
          if (exited) throw new GiveUp(`redis-server exited: ${logs().slice(-2000)}`);
          return (await pingRedis(port)) ? true : undefined;
        },
        READY_TIMEOUT_MS,
      );
    } catch (e) {
      if (!exited) proc.kill("SIGKILL");
      await gone;
      throw e;
    }
    return running;
  }

  async function halt(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const r = current;
    if (!r) return;
    if (!r.hasExited()) {
      if (paused && signal === "SIGTERM") r.proc.kill("SIGCONT"); // a stopped process would not act on SIGTERM
      r.proc.kill(signal);
    }
    await r.exited;
    paused = false;
    current = undefined;
  }

  let port = 0;
  let lastError: unknown;
  // redis cannot bind port 0 and report it: pick a free one, and on the rare race for it, pick again
  for (let attempt = 0; attempt < PORT_ATTEMPTS && current === undefined; attempt++) {
    port = await freePort();
    const seen = logs().length;
    try {
      current = await launch(port);
    } catch (e) {
      lastError = e;
      if (!/Address already in use/i.test(logs().slice(seen))) break;
    }
  }
  if (current === undefined) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw lastError instanceof Error ? lastError : new Error("redis-server did not start");
  }

  const auth = opts.password === undefined ? "" : `:${encodeURIComponent(opts.password)}@`;
  return {
    host: "127.0.0.1",
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    logPath,
    logs,
    async stop() {
      await halt("SIGTERM");
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
    pause() {
      if (!current || current.hasExited()) throw new Error("redis-server is not running");
      current.proc.kill("SIGSTOP");
      paused = true;
    },
    resume() {
      if (!current || current.hasExited()) throw new Error("redis-server is not running");
      current.proc.kill("SIGCONT");
      paused = false;
    },
    async kill() {
      await halt("SIGKILL");
    },
    async restart() {
      await halt("SIGTERM");
      current = await launch(port);
    },
  };
}

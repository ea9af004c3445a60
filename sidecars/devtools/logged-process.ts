/**
 * A dev-harness server (SPIRE, moto, SeaweedFS) run as a child process with its output appended to a log
 * file: whether it still runs, readiness polled over HTTP (never a fixed sleep), errors that carry the
 * log's tail, and a stop that sends SIGTERM and escalates to SIGKILL after a grace period. A spawn error
 * (e.g. ENOENT) is reported by `waitReady` at once instead of polling to the deadline.
 *
 * @example
 *   const p = new LoggedProcess("moto_server", path.join(dir, "moto.log"), "internal.moto");
 *   p.start(bin, ["-p", String(port)], { cwd: dir });
 *   await p.waitReady(`http://127.0.0.1:${port}/moto-api/data.json`, 30_000);
 *   await p.stop();
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import net from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { HexrError, type HexrErrorCode } from "../../filters/errors.ts";

const POLL_MS = 50;
const LOG_TAIL_LINES = 40;
const DEFAULT_STOP_GRACE_MS = 10_000;

export class LoggedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly #code: HexrErrorCode;
  readonly #stopGraceMs: number;
  #proc: ChildProcess | undefined;
  #exit: Promise<void> = Promise.resolve();
  #spawnError: Error | undefined;

  constructor(name: string, logFile: string, code: HexrErrorCode, stopGraceMs = DEFAULT_STOP_GRACE_MS) {
    this.name = name;
    this.logFile = logFile;
    this.#code = code;
    this.#stopGraceMs = stopGraceMs;
  }

  get running(): boolean {
    const p = this.#proc;
    return p !== undefined && !this.#spawnError && p.exitCode === null && p.signalCode === null;
  }

  start(bin: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): void {
    const fd = openSync(this.logFile, "a");
    try {
      const proc = spawn(bin, args, { ...opts, stdio: ["ignore", fd, fd] });
      this.#proc = proc;
      this.#spawnError = undefined;
      this.#exit = new Promise((resolve) => {
        proc.once("exit", () => resolve());
        proc.once("error", (e) => {
          this.#spawnError = e;
          resolve();
        });
      });
    } finally {
      closeSync(fd);
    }
  }

  /** Polls `url` until `ok` accepts an answer (default: a 2xx), the process exits, or `timeoutMs` passes. */
  async waitReady(
    url: string,
    timeoutMs: number,
    ok: (r: Response) => boolean | Promise<boolean> = (r) => r.ok,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      if (this.#spawnError) throw this.error(`could not start: ${this.#spawnError.message}`);
      if (!this.running) throw this.error(`exited (code ${this.#proc?.exitCode ?? "?"}) before becoming ready`);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        if (await ok(res)) return;
        last = `${res.status} ${(await res.text().catch(() => "")).slice(0, 200)}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await delay(POLL_MS); // polling the readiness endpoint
    }
    throw this.error(`not ready within ${timeoutMs} ms (${url}: ${last})`);
  }

  error(what: string): HexrError {
    return new HexrError(this.#code, `${this.name} ${what}\n--- ${this.logFile} (tail) ---\n${this.tail()}`);
  }

  tail(): string {
    return logTail(this.logFile);
  }

  async stop(): Promise<void> {
    const p = this.#proc;
    if (!p || !this.running) return;
    p.kill("SIGTERM");
    const grace = new AbortController(); // cancelled on exit, so no timer keeps the process alive
    const killed = await Promise.race([
      this.#exit.then(() => false),
      delay(this.#stopGraceMs, true, { signal: grace.signal }).catch(() => false),
    ]);
    grace.abort();
    if (killed) {
      p.kill("SIGKILL");
      await this.#exit;
    }
  }

  killNow(): void {
    if (this.running) this.#proc?.kill("SIGKILL");
  }
}

/** The last lines of a log file, for error messages. */
export function logTail(file: string): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-LOG_TAIL_LINES).join("\n");
  } catch {
    return "(no log)";
  }
}

/** `n` distinct free loopback ports, all held open at once so no two are the same. */
export async function freePorts(n: number): Promise<number[]> {
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

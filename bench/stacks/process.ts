/**
 * Child processes of the suite: spawned with their output kept (the tail only, for error messages),
 * readiness awaited on a signal the process gives (a log line, a socket, a health URL), and stopped by
 * pid with SIGTERM, then SIGKILL if it does not go.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";

/** How much of a child's output is kept for error messages. */
const OUTPUT_TAIL_CHARS = 16_384;
const STOP_GRACE_MS = 3_000;
export const DEFAULT_READY_TIMEOUT_MS = 30_000;

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Output seen so far (tail). */
  output(): string;
  exited(): boolean;
  /** Resolves when `pattern` has appeared in the output; rejects if the child exits first. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  stop(): Promise<void>;
}

export function startChild(
  name: string,
  bin: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Child {
  const proc = spawn(bin, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: opts.env ?? process.env,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  let out = "";
  let done = false;
  const waiters = new Set<() => void>();
  const append = (b: Buffer) => {
    out += b.toString();
    if (out.length > 2 * OUTPUT_TAIL_CHARS) out = out.slice(-OUTPUT_TAIL_CHARS);
    for (const w of waiters) w();
  };
  proc.stdout?.on("data", append);
  proc.stderr?.on("data", append);
  const exitedP = new Promise<void>((resolve) =>
    proc.once("exit", () => {
      done = true;
      for (const w of waiters) w();
      resolve();
    }),
  );
  proc.once("error", (e) => {
    out += `\n[spawn error] ${e.message}`;
    done = true;
    for (const w of waiters) w();
  });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${bin}`);
  const pid = proc.pid;

  return {
    name,
    proc,
    pid,
    output: () => out.slice(-OUTPUT_TAIL_CHARS),
    exited: () => done,
    waitForOutput(pattern, timeoutMs = DEFAULT_READY_TIMEOUT_MS) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out);
          if (m) return finish(() => resolve(m));
          if (done) return finish(() => reject(new Error(`${name} exited before it was ready:\n${out.slice(-4000)}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`${name}: not ready after ${timeoutMs} ms:\n${out.slice(-4000)}`))),
          timeoutMs,
        );
        const finish = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (done) return;
      proc.kill("SIGTERM");
      const killed = await Promise.race([exitedP.then(() => true), delay(STOP_GRACE_MS).then(() => false)]);
      if (!killed && !done) {
        proc.kill("SIGKILL");
        await exitedP;
      }
    },
  };
}

/** Readiness polling is shared with the Envoy runner the tests use. */
export { GiveUp, waitFor as poll } from "../../envoy-config/runner.ts";

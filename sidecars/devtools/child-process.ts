/**
 * A tool run as a child process by the dev harnesses (the OpenTelemetry Collector, Prometheus): its
 * output kept for error messages and readiness checks, whether it exited, and a stop that waits for the
 * exit. Also a free loopback port for tools that cannot report one they picked themselves.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";

export interface ToolProcess {
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  exited(): boolean;
  /** SIGTERM, then resolves once it has exited. */
  stop(): Promise<void>;
}

export function runTool(bin: string, args: readonly string[]): ToolProcess {
  let output = "";
  let exited = false;
  const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  const keep = (d: Buffer) => {
    output += d.toString();
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const gone = new Promise<void>((resolve) =>
    proc.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  return {
    output: () => output,
    exited: () => exited,
    async stop() {
      if (!exited) proc.kill("SIGTERM");
      await gone;
    },
  };
}

/** A free loopback TCP port (free when asked: a tool binding it later may, rarely, lose a race). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

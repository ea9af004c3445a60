/**
 * Runs a real Envoy on loopback for integration tests: writes the config, starts the binary with an
 * admin address file, waits for `/ready` to say LIVE and reads the bound listener ports from the admin API.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { findEnvoy } from "./validate.ts";

export interface RunningEnvoy {
  adminUrl: string;
  /** listener name → bound port */
  ports: Record<string, number>;
  logs(): string;
  stop(): Promise<void>;
  proc: ChildProcess;
}

/** Thrown from a {@link waitFor} callback to stop waiting at once (the process being waited for died). */
export class GiveUp extends Error {
  override name = "GiveUp";
}

/** Polls `fn` until it returns a value: waiting on a readiness signal, never a fixed sleep. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof GiveUp) throw e;
      last = e;
    }
    await delay(25);
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
}

export async function startEnvoy(
  config: object,
  opts: { concurrency?: number; logLevel?: string } = {},
): Promise<RunningEnvoy> {
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-envoy-"));
  const cfgPath = path.join(dir, "envoy.json");
  const adminPath = path.join(dir, "admin.txt");
  writeFileSync(cfgPath, JSON.stringify(config));
  let output = "";
  const proc = spawn(
    findEnvoy(process.env),
    [
      "-c",
      cfgPath,
      "--admin-address-path",
      adminPath,
      "--concurrency",
      String(opts.concurrency ?? 1),
      "--log-level",
      opts.logLevel ?? "warn",
      "--base-id",
      String(Math.floor(Math.random() * 1_000_000)),
      "--disable-hot-restart",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  proc.stdout?.on("data", (b: Buffer) => (output += b.toString()));
  proc.stderr?.on("data", (b: Buffer) => (output += b.toString()));
  let exited = false;
  proc.on("exit", () => (exited = true));

  const adminUrl = await waitFor("envoy admin address", () => {
    if (exited) throw new GiveUp(`envoy exited:\n${output}`);
    if (!existsSync(adminPath)) return undefined;
    const a = readFileSync(adminPath, "utf8").trim();
    return a ? `http://${a}` : undefined;
  });
  await waitFor("envoy ready", async () => {
    if (exited) throw new GiveUp(`envoy exited:\n${output}`);
    const r = await fetch(`${adminUrl}/ready`);
    return (await r.text()).trim() === "LIVE" ? true : undefined;
  });
  const listeners = (await (await fetch(`${adminUrl}/listeners?format=json`)).json()) as {
    listener_statuses?: Array<{ name: string; local_address?: { socket_address?: { port_value?: number } } }>;
  };
  const ports: Record<string, number> = {};
  for (const l of listeners.listener_statuses ?? []) {
    const p = l.local_address?.socket_address?.port_value;
    if (p) ports[l.name] = p;
  }
  return {
    adminUrl,
    ports,
    proc,
    logs: () => output,
    async stop() {
      if (!exited) {
        const done = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * moto's server (PyPI `moto[server]`, installed by scripts/setup.sh into a venv: `$HEXR_MOTO`) on a free
 * loopback port, for AWS STS/S3 semantics the credential tests check against: AssumeRole* request
 * validation, session names and durations, session policies, and — with `initialNoAuthActionCount` —
 * SigV4 checked against the IAM users' keys moto holds.
 *
 * Readiness: moto's own API (`GET /moto-api/data.json`, the state dump) answering 200: not an AWS action,
 * so it neither needs a signature nor uses up `initialNoAuthActionCount`. (An unsigned `POST /` is not
 * usable as a probe: moto routes requests without a SigV4 credential scope to S3.) Output goes to
 * `moto.log` in the harness's temp dir, quoted in startup errors.
 *
 * @example
 *   const moto = await startMoto();
 *   // point an STS/S3 client at moto.endpoint (any region, any keys unless auth is enforced)
 *   await moto.stop();
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { HexrError } from "../../filters/errors.ts";
import { locateTool } from "../tools.ts";
import { freePort } from "./child-process.ts";
import { LoggedProcess } from "./logged-process.ts";

export const DEFAULT_START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

export interface StartMotoOptions {
  /** Parent of the harness's temp dir (default `os.tmpdir()`); removed on stop. */
  readonly dir?: string;
  /** Path of `moto_server` (default `$HEXR_MOTO`, else `moto_server` on PATH). */
  readonly bin?: string;
  /**
   * moto's `INITIAL_NO_AUTH_ACTION_COUNT`: how many requests it serves before it starts checking SigV4 and
   * IAM policies (default: never). Set to the number of setup calls (creating users and keys) to come.
   */
  readonly initialNoAuthActionCount?: number;
  readonly startTimeoutMs?: number;
}

export interface MotoHarness {
  /** `http://127.0.0.1:<port>`: every service (STS, S3 path-style, IAM) on one endpoint. */
  readonly endpoint: string;
  readonly dir: string;
  readonly logPath: string;
  /** Drops every resource moto holds (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  logs(): string;
  stop(): Promise<void>;
}

export function motoBinary(bin = process.env.HEXR_MOTO): string {
  const found = locateTool("moto_server", bin);
  if (found) return found;
  throw new HexrError("config.moto_missing", "moto_server not found in $HEXR_MOTO or PATH (run scripts/setup.sh)");
}

/** Starts moto_server; see the module comment. */
export async function startMoto(opts: StartMotoOptions = {}): Promise<MotoHarness> {
  const bin = motoBinary(opts.bin);
  const dir = mkdtempSync(path.join(opts.dir ?? tmpdir(), "hexr-moto-"));
  const h = new LocalMoto(bin, dir);
  try {
    await h.start(opts);
  } catch (e) {
    await h.stop().catch(() => {});
    throw e;
  }
  return h;
}

class LocalMoto implements MotoHarness {
  readonly dir: string;
  readonly logPath: string;
  endpoint = "";
  readonly #bin: string;
  readonly #proc: LoggedProcess;
  #stopped = false;
  readonly #kill = () => this.#proc.killNow();

  constructor(bin: string, dir: string) {
    this.#bin = bin;
    this.dir = dir;
    this.logPath = path.join(dir, "moto.log");
    this.#proc = new LoggedProcess("moto_server", this.logPath, "internal.moto", STOP_GRACE_MS);
    process.once("exit", this.#kill);
  }

  async start(opts: StartMotoOptions): Promise<void> {
    const port = await freePort();
    this.endpoint = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: "1" };
    if (opts.initialNoAuthActionCount !== undefined) {
      if (!Number.isInteger(opts.initialNoAuthActionCount) || opts.initialNoAuthActionCount < 0) {
        throw new TypeError("initialNoAuthActionCount must be a non-negative integer");
      }
      env.INITIAL_NO_AUTH_ACTION_COUNT = String(opts.initialNoAuthActionCount);
    } else {
      delete env.INITIAL_NO_AUTH_ACTION_COUNT;
    }
    this.#proc.start(this.#bin, ["-H", "127.0.0.1", "-p", String(port)], { cwd: this.dir, env });
    await this.#proc.waitReady(
      `${this.endpoint}/moto-api/data.json`,
      opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      async (r) => r.ok && (await r.text()).startsWith("{"),
    );
  }

  async reset(): Promise<void> {
    const res = await fetch(`${this.endpoint}/moto-api/reset`, { method: "POST" });
    if (!res.ok) throw this.#proc.error(`reset answered ${res.status}`);
  }

  logs(): string {
    return this.#proc.tail();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    process.off("exit", this.#kill);
    await this.#proc.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

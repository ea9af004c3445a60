/**
 * The Python A2A test agent (sidecars/devtools/a2a-agent-py/agent.py: PyPI's a2a-sdk 1.3.x server classes,
 * served by uvicorn) as a child process on a free loopback port — the second, independent server
 * implementation beside `startA2aAgent` (@a2a-js/sdk). Same paths (`/a2a/jsonrpc`, `/a2a/rest`, the agent
 * card), same echo behaviour, v0.3 compatibility on.
 *
 * What reached the agent is what it appended to its log file (one JSON line per request, written before
 * the SDK parses anything); `received()` reads that file. The card's interface URLs follow `publicUrl`:
 * setting it writes a control file the agent reads on every card request, so no restart.
 *
 * Interpreter: `$HEXR_A2A_PYTHON` (the venv scripts/setup.sh makes). Readiness: the agent card answering
 * 200 (polled). Output goes to `agent.log` in the harness's temp dir, quoted in start-up errors.
 *
 * @example
 *   const agent = await startPythonA2aAgent({ name: "writer" });
 *   agent.publicUrl = `https://127.0.0.1:${dp.inboundPort}`; // what the card advertises
 *   agent.received().length; // requests the agent saw
 *   await agent.stop();
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { HexrError } from "../../filters/errors.ts";
import { locateTool } from "../tools.ts";
import type { ReceivedA2a } from "./a2a-agent.ts";
import { freePort } from "./child-process.ts";

export type { ReceivedA2a } from "./a2a-agent.ts";

export const PYTHON_AGENT_SCRIPT = path.join(import.meta.dirname, "a2a-agent-py", "agent.py");
const START_TIMEOUT_MS = 30_000;
const POLL_MS = 50;
const STOP_GRACE_MS = 5_000;

export interface PythonA2aAgent {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Every request that reached the agent, in order (read from its log file on each call). */
  received(): ReceivedA2a[];
  /** What the card advertises as its interface URLs' base (a card seen through a proxy says the proxy's). */
  publicUrl: string;
  /** The agent process's own output so far. */
  logs(): string;
  stop(): Promise<void>;
}

export function pythonA2aInterpreter(bin = process.env.HEXR_A2A_PYTHON): string {
  const found = locateTool("python", bin);
  if (found && bin) return found;
  throw new HexrError(
    "config.a2a_python_missing",
    "the a2a-sdk venv's python is not in $HEXR_A2A_PYTHON (run scripts/setup.sh and source its env.sh)",
  );
}

export async function startPythonA2aAgent(opts: {
  name: string;
  /** Parent of the harness's temp dir (default `os.tmpdir()`); removed on stop. */
  dir?: string;
  /** Interpreter (default `$HEXR_A2A_PYTHON`). */
  python?: string;
}): Promise<PythonA2aAgent> {
  const python = pythonA2aInterpreter(opts.python);
  const dir = mkdtempSync(path.join(opts.dir ?? tmpdir(), "hexr-a2a-py-"));
  const receivedLog = path.join(dir, "received.jsonl");
  const controlFile = path.join(dir, "public-url");
  const outLog = path.join(dir, "agent.log");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let publicUrl = url;

  const fd = openSync(outLog, "a");
  let proc: ChildProcess;
  try {
    proc = spawn(
      python,
      [
        PYTHON_AGENT_SCRIPT,
        ...["--port", String(port), "--log", receivedLog, "--name", opts.name],
        ...["--public-url", url, "--public-url-file", controlFile],
      ],
      { cwd: dir, env: { ...process.env, PYTHONUNBUFFERED: "1" }, stdio: ["ignore", fd, fd] },
    );
  } finally {
    closeSync(fd);
  }
  let spawnError: Error | undefined;
  const exit = new Promise<void>((resolve) => {
    proc.once("exit", () => resolve());
    proc.once("error", (e) => {
      spawnError = e;
      resolve();
    });
  });
  const running = () => !spawnError && proc.exitCode === null && proc.signalCode === null;
  const kill = () => {
    if (running()) proc.kill("SIGKILL");
  };
  process.once("exit", kill);
  const logs = () => (existsSync(outLog) ? readFileSync(outLog, "utf8") : "");
  const fail = (what: string) =>
    new HexrError("internal.a2a_python", `the Python A2A agent ${what}\n--- ${outLog} ---\n${logs().slice(-4000)}`);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off("exit", kill);
    if (running()) {
      proc.kill("SIGTERM");
      const grace = new AbortController();
      const late = await Promise.race([
        exit.then(() => false),
        delay(STOP_GRACE_MS, true, { signal: grace.signal }).catch(() => false),
      ]);
      grace.abort();
      if (late) {
        proc.kill("SIGKILL");
        await exit;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = "";
  for (;;) {
    if (spawnError) {
      await stop();
      throw fail(`could not start: ${spawnError.message}`);
    }
    if (!running()) {
      const out = fail(`exited (code ${proc.exitCode ?? proc.signalCode}) before becoming ready`);
      await stop();
      throw out;
    }
    try {
      const r = await fetch(`${url}/.well-known/agent-card.json`, { signal: AbortSignal.timeout(2_000) });
      const body = await r.text();
      if (r.ok && (JSON.parse(body) as { name?: string }).name === opts.name) break;
      last = `${r.status} ${body.slice(0, 200)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      const out = fail(`was not ready within ${START_TIMEOUT_MS} ms (${url}: ${last})`);
      await stop();
      throw out;
    }
    await delay(POLL_MS); // polling the readiness request
  }

  return {
    url,
    port,
    received: () =>
      existsSync(receivedLog)
        ? readFileSync(receivedLog, "utf8")
            .split("\n")
            .filter((l) => l.length > 0)
            .map((l) => JSON.parse(l) as ReceivedA2a)
        : [],
    get publicUrl() {
      return publicUrl;
    },
    set publicUrl(u: string) {
      // whole or not at all for the agent reading it: written beside it, then renamed over it
      writeFileSync(`${controlFile}.tmp`, u);
      renameSync(`${controlFile}.tmp`, controlFile);
      publicUrl = u;
    },
    logs,
    stop,
  };
}

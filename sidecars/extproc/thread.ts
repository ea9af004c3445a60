/**
 * The ext_proc server (the LLM guard) on a worker thread of its own, so body parsing and scanning never
 * share an event loop with ext_authz: a 500 KB prompt that costs the guard a second delays other LLM
 * bodies, never an authorization answer. Measured in issue #8 before this: one such prompt took a second
 * agent's plain S3 requests from 40/40 allowed to 30/40 refused (the 250 ms ext_authz deadline).
 *
 * Bounds: the thread's V8 heap (`resourceLimits`), the streams open at once (more are refused, and Envoy
 * answers with the ext_authz status), and the guard's own per-body caps and scan budget. A thread that
 * dies (out of memory, a crash) is restarted after a short backoff; while it is down Envoy cannot reach
 * ext_proc and refuses guarded requests (fail closed). Logs and guard counters come back as messages.
 *
 * @example
 *   const t = await ExtProcThread.start({ listen: { socket: "/run/hexr/ext-proc.sock" }, routes }, logger);
 *   t.stats.blocked; // mirrored from the thread
 *   await t.stop(5_000);
 */
import { Worker } from "node:worker_threads";
import type { Logger } from "../logger.ts";
import { DEFAULT_EXT_PROC_HEAP_MB, DEFAULT_EXT_PROC_MAX_STREAMS, type ExtProcListen } from "./config.ts";
// type only: the scanners (~55 MB of modules and tables) load in the thread, not here as well
import type { GuardStats } from "./guard-processor.ts";
import type { TracingConfig } from "../telemetry/tracing-config.ts";

const zeroStats = (): GuardStats => ({ scanned: 0, blocked: 0, redacted: 0, unscannable: 0 });

const RESTART_BACKOFF_MS = 200;
const START_TIMEOUT_MS = 15_000;

export interface ExtProcThreadData {
  readonly listen: ExtProcListen;
  /** The `ext_proc.routes` config as written (plain data: the thread compiles it). */
  readonly routes: unknown;
  readonly maxStreams: number;
  /** The thread's own tracer (spans of its streams) and LLM price table. */
  readonly telemetry?: GuardThreadTelemetry;
  /** Inbound A2A streams (tagged `a2a`): where the schemas are, and the proxy's public URL for cards. */
  readonly a2a?: A2aThreadConfig;
}

export interface A2aThreadConfig {
  readonly schemasDir?: string;
  readonly publicUrl?: string;
}

/** Telemetry settings the guard thread builds its own registry and tracer from. */
export interface GuardThreadTelemetry {
  readonly tracing?: TracingConfig;
  /** [model, USD per million input tokens, per million output tokens]. */
  readonly prices?: readonly (readonly [string, number, number])[];
}

export type FromThread =
  | { type: "ready"; addresses: string[] }
  | { type: "failed"; message: string }
  | { type: "log"; level: "debug" | "info" | "warn" | "error"; fields: Record<string, unknown> }
  | { type: "stats"; stats: GuardStats }
  | { type: "drained" }
  | { type: "flushed"; id: number }
  | { type: "metrics"; id: number; text: string };

export type ToThread =
  | { type: "drain"; drainMs: number }
  | { type: "flush"; id: number }
  | { type: "metrics"; id: number };

export interface ExtProcThreadOptions {
  readonly listen: ExtProcListen;
  readonly routes: unknown;
  readonly a2a?: A2aThreadConfig;
  readonly maxStreams?: number;
  readonly heapMb?: number;
  readonly telemetry?: GuardThreadTelemetry;
}

// the thread runs the same form of the code as this file: .ts from source, .js from the compiled build
const ENTRY = new URL(import.meta.url.endsWith(".js") ? "./thread-main.js" : "./thread-main.ts", import.meta.url);

export class ExtProcThread {
  readonly #opts: ExtProcThreadOptions;
  readonly #log: Logger;
  #worker: Worker | undefined;
  #stopping = false;
  #restarts = 0;
  /** Guard counters as of the thread's last report (they survive a thread restart). */
  readonly stats: GuardStats = zeroStats();
  addresses: string[] = [];

  private constructor(opts: ExtProcThreadOptions, log: Logger) {
    this.#opts = opts;
    this.#log = log;
  }

  /** Starts the thread and resolves once its server is bound (rejects with the thread's start-up error). */
  static async start(opts: ExtProcThreadOptions, log: Logger): Promise<ExtProcThread> {
    const t = new ExtProcThread(opts, log);
    t.addresses = await t.#spawn();
    return t;
  }

  /** How many times the thread was restarted after dying. */
  get restarts(): number {
    return this.#restarts;
  }

  #spawn(): Promise<string[]> {
    const data: ExtProcThreadData = {
      listen: this.#opts.listen,
      routes: this.#opts.routes,
      maxStreams: this.#opts.maxStreams ?? DEFAULT_EXT_PROC_MAX_STREAMS,
      ...(this.#opts.telemetry ? { telemetry: this.#opts.telemetry } : {}),
      ...(this.#opts.a2a ? { a2a: this.#opts.a2a } : {}),
    };
    const worker = new Worker(ENTRY, {
      workerData: data,
      resourceLimits: { maxOldGenerationSizeMb: this.#opts.heapMb ?? DEFAULT_EXT_PROC_HEAP_MB },
      stdout: false,
      stderr: false,
    });
    this.#worker = worker;
    const base = { ...this.stats };
    return new Promise((resolve, reject) => {
      let started = false;
      const timer = setTimeout(() => {
        if (started) return;
        void worker.terminate();
        reject(new Error(`ext_proc thread did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      worker.on("message", (m: FromThread) => {
        switch (m.type) {
          case "ready":
            started = true;
            clearTimeout(timer);
            resolve(m.addresses);
            break;
          case "failed":
            clearTimeout(timer);
            void worker.terminate();
            reject(new Error(m.message));
            break;
          case "log":
            this.#log[m.level](m.fields);
            break;
          case "stats":
            for (const k of Object.keys(m.stats) as (keyof GuardStats)[]) this.stats[k] = base[k] + m.stats[k];
            break;
          default:
            break;
        }
      });
      worker.on("error", (e) => {
        // never the error's message alone: it could quote what the thread was working on
        this.#log.error({ event: "ext_proc_thread_error", error: e.name, code: (e as { code?: string }).code ?? null });
      });
      worker.on("exit", (code) => {
        clearTimeout(timer);
        if (!started) return reject(new Error(`ext_proc thread exited during start (code ${code})`));
        if (this.#stopping || this.#worker !== worker) return;
        this.#log.error({ event: "ext_proc_thread_exited", code, restart_in_ms: RESTART_BACKOFF_MS });
        setTimeout(() => {
          if (this.#stopping) return;
          this.#restarts++;
          this.#spawn().then(
            (a) => {
              this.addresses = a;
              this.#log.info({ event: "ext_proc_thread_restarted", restarts: this.#restarts });
            },
            (e: unknown) =>
              this.#log.error({ event: "ext_proc_thread_restart_failed", error: e instanceof Error ? e.message : "" }),
          );
        }, RESTART_BACKOFF_MS).unref();
      });
    });
  }

  #flushes = 0;

  /** The thread's metrics in the Prometheus text format ("" while it is down or slow to answer). */
  metrics(timeoutMs = 2_000): Promise<string> {
    const w = this.#worker;
    if (!w) return Promise.resolve("");
    const id = ++this.#flushes;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        w.off("message", onMessage);
        resolve("");
      }, timeoutMs);
      const onMessage = (m: FromThread) => {
        if (m.type !== "metrics" || m.id !== id) return;
        clearTimeout(timer);
        w.off("message", onMessage);
        resolve(m.text);
      };
      w.on("message", onMessage);
      w.postMessage({ type: "metrics", id } satisfies ToThread);
    });
  }

  /**
   * Resolves once every log entry and counter the thread produced before this call has reached this
   * thread (messages keep their order), e.g. before asserting that something was never logged.
   */
  flush(timeoutMs = 5_000): Promise<void> {
    const w = this.#worker;
    if (!w) return Promise.resolve();
    const id = ++this.#flushes;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        w.off("message", onMessage);
        reject(new Error(`ext_proc thread did not flush within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (m: FromThread) => {
        if (m.type !== "flushed" || m.id !== id) return;
        clearTimeout(timer);
        w.off("message", onMessage);
        resolve();
      };
      w.on("message", onMessage);
      w.postMessage({ type: "flush", id } satisfies ToThread);
    });
  }

  /** Drains the thread's server (up to `drainMs`), then ends the thread. */
  async stop(drainMs: number): Promise<void> {
    this.#stopping = true;
    const w = this.#worker;
    if (!w) return;
    const drained = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, drainMs + 1_000);
      t.unref();
      w.on("message", (m: FromThread) => {
        if (m.type === "drained") {
          clearTimeout(t);
          resolve();
        }
      });
      w.once("exit", () => {
        clearTimeout(t);
        resolve();
      });
    });
    w.postMessage({ type: "drain", drainMs } satisfies ToThread);
    await drained;
    await w.terminate();
  }

  /** Ends the thread at once (tests: "the guard crashed"); it is restarted like after any other death. */
  async kill(): Promise<void> {
    await this.#worker?.terminate();
  }
}

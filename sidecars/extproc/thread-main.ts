/**
 * Entry point of the ext_proc worker thread (see thread.ts): its own event loop, its own gRPC server on the
 * ext_proc listen addresses, the guard routes compiled from the raw config section. Nothing here shares a
 * loop with ext_authz, so no body parsing or scanning can queue an authorization answer.
 *
 * Messages to the parent: `ready` (bound addresses), `log` (a structured entry: never bodies), `stats`
 * (guard counters, at most once per event-loop turn), `failed` (start-up error). From the parent: `drain`.
 */
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import type { Logger } from "../logger.ts";
import { HealthService } from "../health.ts";
import { H2GrpcServer } from "../h2-grpc.ts";
import { compileGuardRoutes, type GuardRouteConfig } from "./guard-routes.ts";
import { GuardRouter } from "./router.ts";
import { addExtProcH2, addExtProcService, ExtProcStreams } from "./server.ts";
import type { ExtProcThreadData, FromThread, ToThread } from "./thread.ts";
import { guardMetrics, telemetryMetrics } from "../../filters/telemetry/catalog.ts";
import { GuardTelemetry } from "../telemetry/guard.ts";
import { Registry } from "../../filters/telemetry/metrics.ts";

if (!parentPort) throw new Error("thread-main.ts runs only as a worker thread");
const port = parentPort;
const data = workerData as ExtProcThreadData;
const post = (m: FromThread): void => port.postMessage(m);

function forward(level: "debug" | "info" | "warn" | "error") {
  return (fields: Record<string, unknown>) => post({ type: "log", level, fields });
}
const logger: Logger = {
  debug: forward("debug"),
  info: forward("info"),
  warn: forward("warn"),
  error: forward("error"),
};

/**
 * This thread's nice value. On Linux, nice is per thread (setpriority on the calling thread's id, which
 * is what pid 0 means here), so the guard yields the CPU to ext_authz and Envoy when cores are short: a
 * flood of prompts then slows other prompts, not every request's authorization. Measured on 2 shared cores
 * (bin/hexr bench --only hexr-authz-under-guard-load, 100 rps of ~240 KB pathological prompts beside 500 rps of
 * authz-only requests): nice 0 gave authz p50 32 ms / p99 88 ms, nice 10 no better, nice 19 p50 7.9 ms /
 * p99 41 ms — level with the guard inline on the authz loop (7.0 / 49 ms), without ever queuing a Check.
 */
const GUARD_THREAD_NICE = 19;

async function main(): Promise<void> {
  try {
    setPriority(0, GUARD_THREAD_NICE);
  } catch {
    logger.warn({ event: "ext_proc_thread_priority", reason: "setpriority refused; guard thread at normal priority" });
  }
  const router = new GuardRouter(
    compileGuardRoutes(data.routes as GuardRouteConfig[]),
    logger,
    // loaded only with A2A configured: the validator (ajv, the schemas) is not resident otherwise
    data.a2a ? (await import("./a2a-processor.ts")).a2aProcessors(data.a2a) : undefined,
  );
  // the thread's own registry (served through the parent's admin listener) and tracer
  const registry = new Registry({ constLabels: { thread: "guard" } });
  const tel = data.telemetry;
  const tracing = tel?.tracing
    ? (await import("../telemetry/tracing.ts")).Tracing.start(tel.tracing, telemetryMetrics(registry))
    : undefined;
  const prices = new Map((tel?.prices ?? []).map(([m, i, o]) => [m, { input: i, output: o }]));
  const telemetry = new GuardTelemetry(guardMetrics(registry), tracing, prices);
  // Guard counters, mirrored to the parent after the messages of one turn (they change on scanned bodies).
  let last = "";
  let scheduled = false;
  const publish = () => {
    scheduled = false;
    const s = JSON.stringify(router.stats);
    if (s === last) return;
    last = s;
    post({ type: "stats", stats: { ...router.stats } });
  };
  const streams = { open: 0 };
  const limits = {
    maxStreams: data.maxStreams,
    open: streams,
    onRefused: () => logger.warn({ event: "ext_proc_stream_refused", reason: "max_streams", open: streams.open }),
    afterMessage: () => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(publish);
    },
  };
  const server = await listen(new ExtProcStreams(router, logger, undefined, limits, telemetry));
  port.on("message", (m: ToThread) => {
    if (m.type === "metrics") {
      post({ type: "metrics", id: m.id, text: registry.exposition() });
      return;
    }
    if (m.type === "flush") {
      publish();
      // spans ended before the flush are handed to the exporter and answered before `flushed`
      const done = () => post({ type: "flushed", id: m.id });
      if (tracing) tracing.flush().then(done, done);
      else done();
      return;
    }
    if (m.type !== "drain") return;
    server.drain(m.drainMs).then(
      async () => {
        publish();
        await tracing?.shutdown().catch(() => undefined);
        post({ type: "drained" });
      },
      () => post({ type: "drained" }),
    );
  });
  post({ type: "ready", addresses: server.addresses });
}

interface ThreadServer {
  readonly addresses: string[];
  drain(timeoutMs: number): Promise<void>;
}

/**
 * The thread's server on its listen addresses: plain node:http2 for a socket (`listen.server: http2`, the
 * default; grpc-js is then never loaded in this thread), grpc-js otherwise. Health "" is SERVING.
 */
async function listen(streams: ExtProcStreams): Promise<ThreadServer> {
  const l = data.listen;
  if (l.server === "http2" && l.socket && !l.tcp) {
    const health = new HealthService();
    const h2 = new H2GrpcServer(health, { logger });
    addExtProcH2(h2, streams);
    await h2.listen(l.socket);
    health.set("", "SERVING");
    return { addresses: [`unix:${l.socket}`], drain: (ms) => h2.drain(ms) };
  }
  const { SidecarServer } = await import("../server.ts");
  const server = new SidecarServer();
  addExtProcService(server.grpc, streams);
  const addresses = await server.bind(l);
  server.health.set("", "SERVING");
  return { addresses, drain: (ms) => server.drain(ms) };
}

main().catch((e: unknown) => {
  post({ type: "failed", message: e instanceof Error ? e.message : "ext_proc thread failed to start" });
});

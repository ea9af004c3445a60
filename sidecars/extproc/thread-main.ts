/**
 * Entry point of the ext_proc worker thread (see thread.ts): its own event loop, its own gRPC server on the
 * ext_proc listen addresses, the guard routes compiled from the raw config section. Nothing here shares a
 * loop with ext_authz, so no body parsing or scanning can queue an authorization answer.
 *
 * Messages to the parent: `ready` (bound addresses), `log` (a structured entry: never bodies), `stats`
 * (guard counters, at most once per event-loop turn), `failed` (start-up error). From the parent: `drain`.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { Logger } from "../logger.ts";
import { SidecarServer } from "../server.ts";
import { compileGuardRoutes, type GuardRouteConfig } from "./guard-routes.ts";
import { GuardRouter } from "./router.ts";
import { addExtProcService } from "./server.ts";
import type { ExtProcThreadData, FromThread, ToThread } from "./thread.ts";

if (!parentPort) throw new Error("thread-main.ts runs only as a worker thread");
const port = parentPort;
const data = workerData as ExtProcThreadData;
const post = (m: FromThread): void => port.postMessage(m);

function forward(level: "debug" | "info" | "warn" | "error") {
  return (fields: Record<string, unknown>) => post({ type: "log", level, fields });
}
const logger: Logger = { debug: forward("debug"), info: forward("info"), warn: forward("warn"), error: forward("error") };

async function main(): Promise<void> {
  const router = new GuardRouter(compileGuardRoutes(data.routes as GuardRouteConfig[]), logger);
  const server = new SidecarServer();
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
  addExtProcService(server.grpc, router, logger, undefined, {
    maxStreams: data.maxStreams,
    open: streams,
    onRefused: () => logger.warn({ event: "ext_proc_stream_refused", reason: "max_streams", open: streams.open }),
    afterMessage: () => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(publish);
    },
  });
  const bound = await server.bind(data.listen);
  server.health.set("", "SERVING");

  port.on("message", (m: ToThread) => {
    if (m.type !== "drain") return;
    server.drain(m.drainMs).then(
      () => {
        publish();
        post({ type: "drained" });
      },
      () => post({ type: "drained" }),
    );
  });
  post({ type: "ready", addresses: bound });
}

main().catch((e: unknown) => {
  post({ type: "failed", message: e instanceof Error ? e.message : "ext_proc thread failed to start" });
});

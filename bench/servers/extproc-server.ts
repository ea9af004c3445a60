/**
 * Our ext_proc service as its own process, so its CPU and memory are measured apart from everything else:
 * the sidecar's gRPC server (`SidecarServer`, health included) with the ext_proc stream loop
 * (`addExtProcService`) and a processor router —
 *   `--mode headers`: every request through the pass-through processor (header-only processing);
 *   `--mode guard`:   the guard router (see guard-router.ts).
 * Prints `ready` on stdout once bound; SIGTERM drains and exits.
 *
 * Usage: node bench/servers/extproc-server.ts --socket PATH --mode headers|guard
 */
import { parseArgs } from "node:util";
import { PASS_THROUGH, type ProcessorRouter } from "../../sidecars/extproc/processor.ts";
import { addExtProcService } from "../../sidecars/extproc/server.ts";
import { JsonLogger } from "../../sidecars/logger.ts";
import { SidecarServer } from "../../sidecars/server.ts";
import { loadGuardRouter } from "./guard-router.ts";

const EXT_PROC_HEALTH_SERVICE = "envoy.service.ext_proc.v3.ExternalProcessor";
const DRAIN_MS = 1_000;

const { values } = parseArgs({ options: { socket: { type: "string" }, mode: { type: "string" } } });
if (!values.socket || (values.mode !== "headers" && values.mode !== "guard")) {
  process.stderr.write("usage: extproc-server.ts --socket PATH --mode headers|guard\n");
  process.exit(2);
}

const logger = new JsonLogger(process.stderr, "warn", { component: "hexr-bench-extproc" });
let router: ProcessorRouter;
if (values.mode === "headers") {
  router = { select: () => PASS_THROUGH };
} else {
  const loaded = await loadGuardRouter(logger);
  if ("skipped" in loaded) {
    process.stderr.write(`guard router unavailable: ${loaded.skipped}\n`);
    process.exit(3);
  }
  router = loaded.router;
}

const server = new SidecarServer();
addExtProcService(server.grpc, router, logger);
await server.bind({ socket: values.socket });
server.health.set(EXT_PROC_HEALTH_SERVICE, "SERVING");
server.health.set("", "SERVING");
process.stdout.write("ready\n");

process.once("SIGTERM", () => {
  server.drain(DRAIN_MS).then(() => process.exit(0));
});

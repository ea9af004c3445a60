/**
 * A floor, not a product: an ext_authz gRPC server on the sidecar's own server stack (`SidecarServer`,
 * grpc-js, the sidecar's Check codec `AUTHZ_SERVICE`) whose Check decodes the request and answers OK. What Envoy + this adds over plain Envoy
 * is the cost of a Node gRPC hop alone; the rest of `hexr-authz-*`'s added latency is the pipeline.
 * Prints `ready` once bound.
 *
 * Usage: node bench/servers/noop-authz.ts --socket PATH
 */
import { parseArgs } from "node:util";
import { AUTHZ_SERVICE } from "../../sidecars/authz/service.ts";
import { SidecarServer } from "../../sidecars/server.ts";

const OK = Object.freeze({ status: { code: 0 }, ok_response: { headers: [], headers_to_remove: [] } });

const { values } = parseArgs({ options: { socket: { type: "string" } } });
if (!values.socket) {
  process.stderr.write("usage: noop-authz.ts --socket PATH\n");
  process.exit(2);
}
const server = new SidecarServer();
server.grpc.addService(AUTHZ_SERVICE, {
  Check(_call: unknown, callback: (err: null, res: typeof OK) => void) {
    callback(null, OK);
  },
});
await server.bind({ socket: values.socket });
server.health.set("", "SERVING");
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  server.drain(1_000).then(() => process.exit(0));
});

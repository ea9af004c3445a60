/**
 * A floor, not a product: an ext_authz server on plain `node:http2` (no grpc-js) whose Check answers OK at
 * once with prebuilt gRPC bytes (the length-prefixed CheckResponse from `sidecars/authz/codec.ts`, then
 * `grpc-status: 0` trailers). Beside `noop-authz.ts` (grpc-js, the same codec) it shows what grpc-js itself
 * costs on the hop Envoy waits on: the issue 14 lever "a raw node:http2 gRPC handler". Both decode the
 * CheckRequest with the sidecar's codec and answer OK; this one checks nothing else (no path, no deadline,
 * no flow-control tuning): a measurement, not a server to ship.
 *
 * Usage: node bench/servers/noop-authz-http2.ts --socket PATH   (prints `ready` once bound)
 */
import { rmSync } from "node:fs";
import http2 from "node:http2";
import { parseArgs } from "node:util";
import { decodeCheckRequest, encodeCheckResponse } from "../../sidecars/authz/codec.ts";

const { values } = parseArgs({ options: { socket: { type: "string" } } });
if (!values.socket) {
  process.stderr.write("usage: noop-authz-http2.ts --socket PATH\n");
  process.exit(2);
}
const ok = encodeCheckResponse({ status: { code: 0 }, ok_response: { headers: [], headers_to_remove: [] } });
const frame = Buffer.alloc(5 + ok.length);
frame.writeUInt32BE(ok.length, 1); // byte 0: not compressed
ok.copy(frame, 5);
const HEADERS = { ":status": 200, "content-type": "application/grpc" };
const TRAILERS = { "grpc-status": "0" };

const server = http2.createServer();
server.on("stream", (stream) => {
  const parts: Buffer[] = [];
  stream.on("data", (c: Buffer) => parts.push(c));
  stream.on("end", () => {
    const body = Buffer.concat(parts);
    decodeCheckRequest(body.subarray(5)); // as the grpc-js floor does (its deserializer)
    stream.respond(HEADERS, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers(TRAILERS));
    stream.end(frame);
  });
  stream.on("error", () => {});
});
rmSync(values.socket, { force: true });
server.listen(values.socket, () => process.stdout.write("ready\n"));
process.once("SIGTERM", () => server.close(() => process.exit(0)));

/**
 * Bench stand-in for an A2A agent (not an agent: fixed answers, no task state), run as its own process for
 * the A2A scenarios. It answers A2A v1.0 JSON-RPC, echoing the request's id:
 *  - `SendMessage`: a completed task with one short text artifact (`SendMessageResponse.task`),
 *  - `SendStreamingMessage`: an SSE stream of STREAM_EVENTS status-update events (working …, then
 *    completed), one write per event as an agent flushes them,
 *  - anything else: 404, so a request that reaches it by mistake shows up as an error in the load.
 * Every answer is checked once at start against the protocol's v1.0 definitions (`validateStreamEvent`,
 * the schemas the sidecar validates with): a stand-in whose answers the A2A processor refused would make
 * the benchmark measure refusals. `GET /counts` (straight to its port, not through Envoy) says how many of
 * each it answered. Prints `listening <port>` when ready.
 *
 * Usage: node bench/servers/a2a-upstream.ts
 */
import { createServer } from "node:http";
import { loadA2aSchemas } from "../../filters/a2a/validate.ts";

export const STREAM_EVENTS = 10;
const TASK_ID = "bench-task-1";
const CONTEXT_ID = "bench-ctx-1";
const TIMESTAMP = "2025-11-02T10:00:00.000Z";

const agentMessage = (k: number, text: string) => ({
  messageId: `bench-status-${k}`,
  taskId: TASK_ID,
  contextId: CONTEXT_ID,
  role: "ROLE_AGENT",
  parts: [{ text }],
});

/** `result` of the SendMessage answer. */
const SEND_RESULT = {
  task: {
    id: TASK_ID,
    contextId: CONTEXT_ID,
    status: { state: "TASK_STATE_COMPLETED", timestamp: TIMESTAMP },
    artifacts: [{ artifactId: "bench-artifact-1", parts: [{ text: "The draft summary is ready for review." }] }],
  },
};

/** `result` of each streamed event: status updates, the last one completing the task. */
const STREAM_RESULTS = Array.from({ length: STREAM_EVENTS }, (_, k) => {
  const last = k === STREAM_EVENTS - 1;
  return {
    statusUpdate: {
      taskId: TASK_ID,
      contextId: CONTEXT_ID,
      status: {
        state: last ? "TASK_STATE_COMPLETED" : "TASK_STATE_WORKING",
        message: agentMessage(k, last ? "Done: the draft is ready." : `Working on section ${k + 1}.`),
        timestamp: TIMESTAMP,
      },
    },
  };
});

const schemas = loadA2aSchemas();
for (const [what, result] of [
  ["SendMessage result", SEND_RESULT],
  ...STREAM_RESULTS.map((r, k) => [`event ${k}`, r]),
]) {
  const bad = schemas.validateStreamEvent("1.0", result);
  if (bad) throw new Error(`a2a-upstream: its own ${what} is not valid A2A v1.0: ${bad.path}: ${bad.message}`);
}

/** The id goes between these, so an answer is one string concatenation per request. */
const SEND_HEAD = '{"jsonrpc":"2.0","id":';
const SEND_TAIL = `,"result":${JSON.stringify(SEND_RESULT)}}`;
const STREAM_TAILS = STREAM_RESULTS.map((r) => `,"result":${JSON.stringify(r)}}\n\n`);

const counts = { send: 0, stream: 0, other: 0 };

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/counts") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(counts));
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    let rpc: { id?: unknown; method?: unknown } = {};
    try {
      rpc = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof rpc;
    } catch {
      // answered 404 below
    }
    const id = JSON.stringify(typeof rpc.id === "string" || typeof rpc.id === "number" ? rpc.id : null);
    if (req.method === "POST" && rpc.method === "SendMessage") {
      counts.send++;
      res.writeHead(200, { "content-type": "application/json" }).end(SEND_HEAD + id + SEND_TAIL);
    } else if (req.method === "POST" && rpc.method === "SendStreamingMessage") {
      counts.stream++;
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      for (const tail of STREAM_TAILS) res.write(`data: ${SEND_HEAD}${id}${tail}`);
      res.end();
    } else {
      counts.other++;
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not a bench A2A call"}');
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === "object" && addr ? addr.port : 0}\n`);
});
process.once("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});

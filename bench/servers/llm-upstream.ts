/**
 * An OpenAI-compatible upstream for the guard scenarios, run as its own process:
 * `POST /v1/chat/completions` answers a small `chat.completion`, or with `"stream": true` the real SSE
 * wire format (`chat.completion.chunk` events, then `data: [DONE]`), every event written as soon as it
 * is built so the response reaches Envoy in pieces. Prints `listening <port>` when ready.
 *
 * Usage: node bench/servers/llm-upstream.ts [--events N]
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";

/** Default number of SSE content events per streamed answer (≈ 8 KiB of SSE). */
const DEFAULT_EVENTS = 64;
const MAX_REQUEST_BYTES = 1 << 20;
const WORDS = "the quarterly report shows steady growth across regions while costs stayed within the plan".split(" ");

const { values } = parseArgs({ options: { events: { type: "string" } } });
const events = Number(values.events ?? DEFAULT_EVENTS);

function completion(): string {
  return JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion",
    created: 1_767_225_600,
    model: "gpt-4o-mini",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: "The report shows steady growth." },
        finish_reason: "stop",
      },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 6, total_tokens: 16 },
  });
}

function chunk(i: number, content: string | undefined, finish: string | null): string {
  const delta = content === undefined ? {} : i === 0 ? { role: "assistant", content } : { content };
  return `data: ${JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion.chunk",
    created: 1_767_225_600,
    model: "gpt-4o-mini",
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;
}

function stream(res: http.ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (let i = 0; i < events; i++) res.write(chunk(i, `${WORDS[i % WORDS.length]} `, null));
  res.write(chunk(events, undefined, "stop"));
  res.end("data: [DONE]\n\n");
}

const server = http.createServer((req, res) => {
  let size = 0;
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => {
    size += c.length;
    if (size <= MAX_REQUEST_BYTES) chunks.push(c);
  });
  req.on("end", () => {
    if (req.method !== "POST" || !req.url?.startsWith("/v1/chat/completions")) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end('{"error":{"message":"not found"}}');
      return;
    }
    // a cheap check instead of JSON.parse: the upstream's own cost should stay small and constant
    if (Buffer.concat(chunks).includes('"stream":true')) return stream(res);
    const body = completion();
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 120_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.once("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});

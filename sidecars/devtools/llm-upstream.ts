/**
 * A local OpenAI- and Anthropic-compatible upstream for tests and the demo. It speaks the real wire
 * formats (JSON and SSE: `data:` chunks ending in `data: [DONE]` for OpenAI; typed events from
 * `message_start` to `message_stop` for Anthropic) and records every request body it received.
 * The reply text is whatever the test sets in `reply`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface LlmUpstream {
  port: number;
  /** The assistant's next reply text. */
  reply: string;
  /** Split the streamed reply into deltas of this many characters. */
  deltaSize: number;
  received: Array<{ path: string; headers: http.IncomingHttpHeaders; body: string }>;
  /** Raw SSE bytes of the last streamed response, as sent. */
  lastStream: string;
  close(): Promise<void>;
}

function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

export interface LlmUpstreamOptions {
  /** Keep every request in `received` (tests); off for load generation, where it would grow without bound. */
  record?: boolean;
  reply?: string;
  deltaSize?: number;
}

export async function startLlmUpstream(opts: LlmUpstreamOptions = {}): Promise<LlmUpstream> {
  const record = opts.record ?? true;
  const state: LlmUpstream = {
    port: 0,
    reply: opts.reply ?? "Hello from the model.",
    deltaSize: opts.deltaSize ?? 7,
    received: [],
    lastStream: "",
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const body = Buffer.concat(parts).toString("utf8");
      const path = req.url ?? "";
      if (record) state.received.push({ path, headers: req.headers, body });
      let parsed: { stream?: boolean; model?: string } = {};
      try {
        parsed = JSON.parse(body);
      } catch {
        res.writeHead(400, { "content-type": "application/json" }).end('{"error":{"message":"bad json"}}');
        return;
      }
      const model = parsed.model ?? "test-model";
      if (path.startsWith("/v1/chat/completions")) return openai(res, parsed.stream === true, model);
      if (path.startsWith("/v1/messages")) return anthropic(res, parsed.stream === true, model);
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"message":"not found"}}');
    });
  });

  function sse(res: http.ServerResponse, events: string[]): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    if (record) state.lastStream = events.join("");
    // one write per event, as providers flush them
    for (const e of events) res.write(e);
    res.end();
  }

  function openai(res: http.ServerResponse, stream: boolean, model: string): void {
    const id = "chatcmpl-hexr1";
    const created = 1_767_225_600;
    if (!stream) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id,
          object: "chat.completion",
          created,
          model,
          choices: [
            { index: 0, message: { role: "assistant", content: state.reply, refusal: null }, finish_reason: "stop" },
          ],
          usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
        }),
      );
      return;
    }
    const chunk = (delta: object, finish: string | null) =>
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    sse(res, [
      chunk({ role: "assistant", content: "" }, null),
      ...chunks(state.reply, state.deltaSize).map((t) => chunk({ content: t }, null)),
      chunk({}, "stop"),
      "data: [DONE]\n\n",
    ]);
  }

  function anthropic(res: http.ServerResponse, stream: boolean, model: string): void {
    const id = "msg_hexr1";
    if (!stream) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id,
          type: "message",
          role: "assistant",
          model,
          content: [{ type: "text", text: state.reply }],
          stop_reason: "end_turn",
          stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 10 },
        }),
      );
      return;
    }
    const ev = (event: string, data: object) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    sse(res, [
      ev("message_start", {
        type: "message_start",
        message: {
          id,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 1 },
        },
      }),
      ev("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
      ev("ping", { type: "ping" }),
      ...chunks(state.reply, state.deltaSize).map((t) =>
        ev("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: t } }),
      ),
      ev("content_block_stop", { type: "content_block_stop", index: 0 }),
      ev("message_delta", {
        type: "message_delta",
        delta: { stop_reason: "end_turn", stop_sequence: null },
        usage: { output_tokens: 10 },
      }),
      ev("message_stop", { type: "message_stop" }),
    ]);
  }

  server.keepAliveTimeout = 120_000; // load generators keep their connections
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.port = (server.address() as AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

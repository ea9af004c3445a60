/**
 * A local OpenAI- and Anthropic-compatible upstream for tests and the demo. It speaks the real wire
 * formats (JSON and SSE: Chat Completions chunks ending in `data: [DONE]`; the Responses API's typed
 * events from `response.created` through the `*.done` events to `response.completed`; Anthropic's typed
 * events from `message_start` to `message_stop`) and records every request body it received.
 *
 * What it answers is set by the test: `reply` (text), `toolCall` (a function/tool call with JSON
 * arguments), `refusal` (OpenAI). `tamper` may change any event (or JSON body) before it is sent — to put
 * text only in a done event, say; `raw` answers the next request with exact bytes and content type.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ToolCall {
  name: string;
  /** JSON text of the arguments (OpenAI) / input (Anthropic). */
  arguments: string;
}

/** One SSE event before serialization: `event:` line (Anthropic, Responses) and JSON data. */
export interface WireEvent {
  event?: string;
  data: Record<string, unknown>;
}

export interface LlmUpstream {
  port: number;
  /** The assistant's next reply text. */
  reply: string;
  /** Split the streamed reply into deltas of this many characters. */
  deltaSize: number;
  /** The assistant also calls this tool (until reset to undefined). */
  toolCall: ToolCall | undefined;
  /** OpenAI only: the assistant refuses with this text (replacing the reply's text). */
  refusal: string | undefined;
  /** Rewrites each SSE event / JSON body before it is sent (return it changed, or a new object). */
  tamper: ((e: WireEvent) => WireEvent) | undefined;
  /** Sends an SSE event without its `event:` line (Anthropic), for events whose data type matches. */
  omitEventLine: ReadonlySet<string>;
  /** The next response, exactly (then cleared). */
  raw: { status?: number; contentType?: string; body: string } | undefined;
  received: Array<{ path: string; headers: http.IncomingHttpHeaders; body: string }>;
  /** Raw SSE bytes (or JSON body) of the last response, as sent. */
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

export interface ReplySpec {
  model: string;
  reply: string;
  deltaSize: number;
  toolCall?: ToolCall | undefined;
  refusal?: string | undefined;
}

const CREATED = 1_767_225_600;

/** Chat Completions stream chunks for `spec` (role, content or refusal deltas, tool-call argument deltas). */
export function chatEvents(spec: ReplySpec): WireEvent[] {
  const id = "chatcmpl-hexr1";
  const chunk = (delta: object, finish: string | null): WireEvent => ({
    data: {
      id,
      object: "chat.completion.chunk",
      created: CREATED,
      model: spec.model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    },
  });
  const out = [chunk({ role: "assistant", content: "" }, null)];
  if (spec.refusal !== undefined) {
    for (const t of chunks(spec.refusal, spec.deltaSize)) out.push(chunk({ refusal: t }, null));
  } else for (const t of chunks(spec.reply, spec.deltaSize)) out.push(chunk({ content: t }, null));
  if (spec.toolCall) {
    const tc = spec.toolCall;
    out.push(
      chunk(
        { tool_calls: [{ index: 0, id: "call_hexr1", type: "function", function: { name: tc.name, arguments: "" } }] },
        null,
      ),
    );
    for (const t of chunks(tc.arguments, spec.deltaSize))
      out.push(chunk({ tool_calls: [{ index: 0, function: { arguments: t } }] }, null));
  }
  out.push(chunk({}, spec.toolCall ? "tool_calls" : "stop"));
  return out;
}

/** The non-streamed Chat Completions body for `spec`. */
export function chatBody(spec: ReplySpec): Record<string, unknown> {
  const message: Record<string, unknown> = {
    role: "assistant",
    content: spec.refusal === undefined ? spec.reply : null,
    refusal: spec.refusal ?? null,
  };
  if (spec.toolCall)
    message.tool_calls = [
      {
        id: "call_hexr1",
        type: "function",
        function: { name: spec.toolCall.name, arguments: spec.toolCall.arguments },
      },
    ];
  return {
    id: "chatcmpl-hexr1",
    object: "chat.completion",
    created: CREATED,
    model: spec.model,
    choices: [{ index: 0, message, finish_reason: spec.toolCall ? "tool_calls" : "stop", logprobs: null }],
    usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
  };
}

function responseOutput(spec: ReplySpec): Record<string, unknown>[] {
  const part =
    spec.refusal !== undefined
      ? { type: "refusal", refusal: spec.refusal }
      : { type: "output_text", text: spec.reply, annotations: [], logprobs: [] };
  const out: Record<string, unknown>[] = [
    { id: "msg_hexr1", type: "message", status: "completed", role: "assistant", content: [part] },
  ];
  if (spec.toolCall)
    out.push({
      id: "fc_hexr1",
      type: "function_call",
      status: "completed",
      call_id: "call_hexr1",
      name: spec.toolCall.name,
      arguments: spec.toolCall.arguments,
    });
  return out;
}

/** The Responses API response object for `spec` (`status` and `output` as given). */
export function responseBody(
  spec: ReplySpec,
  status = "completed",
  output = responseOutput(spec),
): Record<string, unknown> {
  return {
    id: "resp_hexr1",
    object: "response",
    created_at: CREATED,
    status,
    model: spec.model,
    output,
    parallel_tool_calls: true,
    tool_choice: "auto",
    tools: [],
    usage:
      status === "completed"
        ? {
            input_tokens: 10,
            output_tokens: 10,
            total_tokens: 20,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens_details: { reasoning_tokens: 0 },
          }
        : null,
  };
}

/** The Responses API event sequence for `spec`, with every done event and `response.completed`. */
export function responsesEvents(spec: ReplySpec): WireEvent[] {
  const evs: WireEvent[] = [];
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>) =>
    evs.push({ event: type, data: { type, sequence_number: seq++, ...data } });
  const final = responseOutput(spec);
  ev("response.created", { response: responseBody(spec, "in_progress", []) });
  ev("response.in_progress", { response: responseBody(spec, "in_progress", []) });
  const msg = final[0]!;
  ev("response.output_item.added", { output_index: 0, item: { ...msg, status: "in_progress", content: [] } });
  const refusing = spec.refusal !== undefined;
  const text = refusing ? spec.refusal! : spec.reply;
  const emptyPart = refusing
    ? { type: "refusal", refusal: "" }
    : { type: "output_text", text: "", annotations: [], logprobs: [] };
  const at = { item_id: "msg_hexr1", output_index: 0, content_index: 0 };
  ev("response.content_part.added", { ...at, part: emptyPart });
  for (const t of chunks(text, spec.deltaSize))
    ev(refusing ? "response.refusal.delta" : "response.output_text.delta", {
      ...at,
      delta: t,
      ...(refusing ? {} : { logprobs: [] }),
    });
  if (refusing) ev("response.refusal.done", { ...at, refusal: text });
  else ev("response.output_text.done", { ...at, text, logprobs: [] });
  ev("response.content_part.done", { ...at, part: (msg.content as object[])[0] });
  ev("response.output_item.done", { output_index: 0, item: msg });
  if (spec.toolCall) {
    const fc = final[1]!;
    const fat = { item_id: "fc_hexr1", output_index: 1 };
    ev("response.output_item.added", { output_index: 1, item: { ...fc, status: "in_progress", arguments: "" } });
    for (const t of chunks(spec.toolCall.arguments, spec.deltaSize))
      ev("response.function_call_arguments.delta", { ...fat, delta: t });
    ev("response.function_call_arguments.done", {
      ...fat,
      name: spec.toolCall.name,
      arguments: spec.toolCall.arguments,
    });
    ev("response.output_item.done", { output_index: 1, item: fc });
  }
  ev("response.completed", { response: responseBody(spec, "completed", final) });
  return evs;
}

/** Anthropic Messages event sequence for `spec`: a text block, then a tool_use block with input_json_delta. */
export function anthropicEvents(spec: ReplySpec): WireEvent[] {
  const evs: WireEvent[] = [];
  const ev = (type: string, data: Record<string, unknown>) => evs.push({ event: type, data: { type, ...data } });
  ev("message_start", {
    message: {
      id: "msg_hexr1",
      type: "message",
      role: "assistant",
      model: spec.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 1 },
    },
  });
  ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
  ev("ping", {});
  for (const t of chunks(spec.reply, spec.deltaSize))
    ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: t } });
  ev("content_block_stop", { index: 0 });
  if (spec.toolCall) {
    ev("content_block_start", {
      index: 1,
      content_block: { type: "tool_use", id: "toolu_hexr1", name: spec.toolCall.name, input: {} },
    });
    for (const t of chunks(spec.toolCall.arguments, spec.deltaSize))
      ev("content_block_delta", { index: 1, delta: { type: "input_json_delta", partial_json: t } });
    ev("content_block_stop", { index: 1 });
  }
  ev("message_delta", {
    delta: { stop_reason: spec.toolCall ? "tool_use" : "end_turn", stop_sequence: null },
    usage: { output_tokens: 10 },
  });
  ev("message_stop", {});
  return evs;
}

/** The non-streamed Anthropic Messages body for `spec`. */
export function anthropicBody(spec: ReplySpec): Record<string, unknown> {
  const content: object[] = [{ type: "text", text: spec.reply }];
  if (spec.toolCall)
    content.push({
      type: "tool_use",
      id: "toolu_hexr1",
      name: spec.toolCall.name,
      input: JSON.parse(spec.toolCall.arguments),
    });
  return {
    id: "msg_hexr1",
    type: "message",
    role: "assistant",
    model: spec.model,
    content,
    stop_reason: spec.toolCall ? "tool_use" : "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 10 },
  };
}

/** Serialize events: `event:` lines where set (unless omitted for that data type), one `data:` line each. */
export function formatEvents(evs: readonly WireEvent[], omitEventLine: ReadonlySet<string> = new Set()): string[] {
  return evs.map((e) => {
    const line = e.event !== undefined && !omitEventLine.has(String(e.data.type)) ? `event: ${e.event}\n` : "";
    return `${line}data: ${JSON.stringify(e.data)}\n\n`;
  });
}

export async function startLlmUpstream(opts: LlmUpstreamOptions = {}): Promise<LlmUpstream> {
  const record = opts.record ?? true;
  const state: LlmUpstream = {
    port: 0,
    reply: opts.reply ?? "Hello from the model.",
    deltaSize: opts.deltaSize ?? 7,
    toolCall: undefined,
    refusal: undefined,
    tamper: undefined,
    omitEventLine: new Set(),
    raw: undefined,
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
      if (state.raw) {
        const r = state.raw;
        state.raw = undefined;
        const headers: Record<string, string> = r.contentType === undefined ? {} : { "content-type": r.contentType };
        if (record) state.lastStream = r.body;
        res.writeHead(r.status ?? 200, headers).end(r.body);
        return;
      }
      let parsed: { stream?: boolean; model?: string } = {};
      try {
        parsed = body === "" ? {} : JSON.parse(body);
      } catch {
        res.writeHead(400, { "content-type": "application/json" }).end('{"error":{"message":"bad json"}}');
        return;
      }
      const spec: ReplySpec = {
        model: parsed.model ?? "test-model",
        reply: state.reply,
        deltaSize: state.deltaSize,
        toolCall: state.toolCall,
        refusal: state.refusal,
      };
      const stream = parsed.stream === true;
      if (path.startsWith("/v1/chat/completions")) return answer(res, stream, chatEvents(spec), chatBody(spec), true);
      if (path.startsWith("/v1/responses"))
        return answer(res, stream, responsesEvents(spec), responseBody(spec), false);
      if (path.startsWith("/v1/messages/count_tokens")) return json(res, { input_tokens: 10 });
      if (path.startsWith("/v1/messages"))
        return answer(res, stream, anthropicEvents(spec), anthropicBody(spec), false);
      if (path.startsWith("/v1/embeddings"))
        return json(res, {
          object: "list",
          data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2] }],
          model: spec.model,
        });
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"message":"not found"}}');
    });
  });

  function json(res: http.ServerResponse, body: Record<string, unknown>): void {
    const data = state.tamper ? state.tamper({ data: body }).data : body;
    const text = JSON.stringify(data);
    if (record) state.lastStream = text;
    res.writeHead(200, { "content-type": "application/json" }).end(text);
  }

  function answer(
    res: http.ServerResponse,
    stream: boolean,
    events: WireEvent[],
    body: Record<string, unknown>,
    doneLine: boolean,
  ): void {
    if (!stream) {
      json(res, body);
      return;
    }
    const tampered = state.tamper ? events.map((e) => state.tamper!(e)) : events;
    const out = formatEvents(tampered, state.omitEventLine);
    if (doneLine) out.push("data: [DONE]\n\n");
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    if (record) state.lastStream = out.join("");
    // one write per event, as providers flush them
    for (const e of out) res.write(e);
    res.end();
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

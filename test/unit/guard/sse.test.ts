import { describe, expect, it } from "vitest";
import { HexrError } from "../../../filters/errors.ts";
import {
  anthropicStreamDeltas,
  anthropicStreamError,
  anthropicWithDeltas,
} from "../../../filters/guard/adapters/anthropic-stream.ts";
import {
  openAiStreamDeltas,
  openAiStreamError,
  openAiWithDeltas,
} from "../../../filters/guard/adapters/openai-stream.ts";
import { formatSseEvent, replaceEventData, type SseEvent, SseParser } from "../../../filters/guard/adapters/sse.ts";

function parseAll(
  chunks: (string | Uint8Array)[],
  opts?: { maxEventSize?: number },
): { events: SseEvent[]; tail: string } {
  const p = new SseParser(opts);
  const events: SseEvent[] = [];
  for (const c of chunks) events.push(...p.push(c));
  return { events, tail: p.end() };
}

const dispatched = (evs: SseEvent[]) =>
  evs.filter((e) => e.dispatched).map((e) => ({ event: e.event, data: e.data, id: e.id }));

describe("SseParser (WHATWG event-stream rules)", () => {
  it.each([
    ["a single data line", "data: hello\n\n", [{ event: "message", data: "hello", id: "" }]],
    ["multi-line data joined with LF", "data: a\ndata: b\ndata:c\n\n", [{ event: "message", data: "a\nb\nc", id: "" }]],
    ["only one leading space is stripped", "data:  two\n\n", [{ event: "message", data: " two", id: "" }]],
    ["event type", "event: content_block_delta\ndata: {}\n\n", [{ event: "content_block_delta", data: "{}", id: "" }]],
    ["CRLF line endings", "data: x\r\n\r\n", [{ event: "message", data: "x", id: "" }]],
    [
      "CR line endings",
      "data: x\r\rdata: y\r\r",
      [
        { event: "message", data: "x", id: "" },
        { event: "message", data: "y", id: "" },
      ],
    ],
    ["comments are ignored", ": keep-alive\ndata: x\n: more\n\n", [{ event: "message", data: "x", id: "" }]],
    ["a field without a colon", "data\n\n", [{ event: "message", data: "", id: "" }]],
    ["unknown fields are ignored", "foo: bar\ndata: x\n\n", [{ event: "message", data: "x", id: "" }]],
    [
      "id persists to later events",
      "id: 7\ndata: a\n\ndata: b\n\n",
      [
        { event: "message", data: "a", id: "7" },
        { event: "message", data: "b", id: "7" },
      ],
    ],
    ["id with NUL is ignored", "id: a\0b\ndata: x\n\n", [{ event: "message", data: "x", id: "" }]],
    [
      "event type resets after dispatch",
      "event: e\ndata: 1\n\ndata: 2\n\n",
      [
        { event: "e", data: "1", id: "" },
        { event: "message", data: "2", id: "" },
      ],
    ],
    ["a block without data is not dispatched", "event: ping\n\ndata: x\n\n", [{ event: "message", data: "x", id: "" }]],
    ["a leading BOM is ignored", "\uFEFFdata: x\n\n", [{ event: "message", data: "x", id: "" }]],
    ["an empty data line adds an empty line", "data:\ndata: b\n\n", [{ event: "message", data: "\nb", id: "" }]],
  ])("%s", (_name, input, expected) => {
    expect(dispatched(parseAll([input]).events)).toEqual(expected);
  });

  it("parses retry only when it is all digits", () => {
    const { events } = parseAll(["retry: 3000\ndata: a\n\nretry: 1x\ndata: b\n\n"]);
    expect(events[0]?.retry).toBe(3000);
    expect(events[1]?.retry).toBeUndefined();
  });

  it("discards an unterminated final event but returns its raw text", () => {
    const { events, tail } = parseAll(["data: complete\n\ndata: partial"]);
    expect(dispatched(events)).toEqual([{ event: "message", data: "complete", id: "" }]);
    expect(tail).toBe("data: partial");
  });

  const STREAM = [
    ": comment\r\n",
    "event: content_block_delta\r\n",
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"héllo wörld 你好 🎉"}}\r\n',
    "\r\n",
    "id: 42\n",
    "data: line one\n",
    "data: line two\r",
    "\r",
    "data: [DONE]\n\n",
  ].join("");

  it("gives the same events for every split point of the bytes, and raw text reproduces the input", () => {
    const bytes = Buffer.from(STREAM);
    const whole = parseAll([bytes]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = parseAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(dispatched(r.events)).toEqual(dispatched(whole.events));
      expect(r.events.map((e) => e.raw).join("") + r.tail).toBe(STREAM);
    }
    expect(dispatched(whole.events).map((e) => e.data)).toEqual([
      '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"héllo wörld 你好 🎉"}}',
      "line one\nline two",
      "[DONE]",
    ]);
  });

  it("gives the same events when fed one byte at a time", () => {
    const bytes = Buffer.from(STREAM);
    const r = parseAll([...bytes].map((b) => new Uint8Array([b])));
    expect(dispatched(r.events)).toEqual(dispatched(parseAll([STREAM]).events));
  });

  it("treats a CRLF split across chunks as one line ending", () => {
    const r = parseAll(["data: a\r", "\n\r", "\ndata: b\r\n\r\n"]);
    expect(dispatched(r.events).map((e) => e.data)).toEqual(["a", "b"]);
    expect(r.events.map((e) => e.raw).join("")).toBe("data: a\r\n\r\ndata: b\r\n\r\n");
  });

  it("bounds memory: an event over maxEventSize throws guard.sse_event_too_large", () => {
    const p = new SseParser({ maxEventSize: 64 });
    expect(p.push("data: short\n\n")).toHaveLength(1);
    let err: unknown;
    try {
      for (let i = 0; i < 10; i++) p.push("data: 0123456789\n");
    } catch (e) {
      err = e;
    }
    expect((err as HexrError).code).toBe("guard.sse_event_too_large");
    expect(() => p.push("data: x\n\n")).toThrow(HexrError); // stays failed
  });

  it("bounds memory for a line that never ends", () => {
    const p = new SseParser({ maxEventSize: 100 });
    expect(() => {
      for (let i = 0; i < 20; i++) p.push("xxxxxxxxxx");
    }).toThrow("maxEventSize");
  });

  it("rejects invalid UTF-8 with guard.bad_utf8", () => {
    const p = new SseParser();
    expect(() => p.push(new Uint8Array([0x64, 0x61, 0xff, 0x0a]))).toThrow(HexrError);
    const q = new SseParser();
    q.push(new Uint8Array([0x64, 0xe4, 0xbd])); // stream ends inside a 3-byte sequence
    expect(() => q.end()).toThrow("UTF-8");
  });
});

describe("formatSseEvent / replaceEventData", () => {
  it("formats and reparses", () => {
    const raw = formatSseEvent({ event: "error", id: "9", data: "a\nb" });
    expect(raw).toBe("event: error\nid: 9\ndata: a\ndata: b\n\n");
    expect(dispatched(parseAll([raw]).events)).toEqual([{ event: "error", data: "a\nb", id: "9" }]);
  });

  it("replaces data lines and keeps the others in place", () => {
    const raw = ": c\r\nevent: x\r\ndata: old1\r\ndata: old2\r\nid: 3\r\n\r\n";
    expect(replaceEventData(raw, "new")).toBe(": c\r\nevent: x\r\ndata: new\nid: 3\r\n\r\n");
  });
});

describe("OpenAI stream adapter", () => {
  const ev = (data: string, event = "message"): SseEvent => ({
    event,
    data,
    id: "",
    dispatched: true,
    raw: formatSseEvent({ event, data }),
  });
  const chunk = (content: string, index = 0) =>
    ev(
      JSON.stringify({
        id: "c",
        object: "chat.completion.chunk",
        choices: [{ index, delta: { content }, finish_reason: null }],
      }),
    );

  it("extracts chat completion deltas per choice", () => {
    expect(openAiStreamDeltas(chunk("Hel")).deltas).toEqual([{ index: 0, text: "Hel" }]);
    expect(openAiStreamDeltas(chunk("x", 2)).deltas).toEqual([{ index: 2, text: "x" }]);
    expect(
      openAiStreamDeltas(ev(JSON.stringify({ choices: [{ index: 0, delta: { role: "assistant" } }] }))).deltas,
    ).toEqual([]);
    expect(openAiStreamDeltas(ev("[DONE]"))).toEqual({ deltas: [], done: true });
  });

  it("extracts Responses API text deltas", () => {
    const e = ev(
      JSON.stringify({ type: "response.output_text.delta", output_index: 1, content_index: 0, delta: "hi" }),
      "response.output_text.delta",
    );
    expect(openAiStreamDeltas(e).deltas).toEqual([{ index: 1024, text: "hi" }]);
    expect(openAiStreamDeltas(ev(JSON.stringify({ type: "response.completed" }))).done).toBe(true);
  });

  it("rewrites a delta keeping the rest of the chunk", () => {
    const raw = openAiWithDeltas(chunk("secret"), new Map([[0, "[REDACTED:secret]"]]));
    const [out] = parseAll([raw]).events;
    expect(JSON.parse(out!.data).choices[0].delta.content).toBe("[REDACTED:secret]");
    expect(JSON.parse(out!.data).object).toBe("chat.completion.chunk");
  });

  it("formats its error event the way the OpenAI SDK reads it", () => {
    const raw = openAiStreamError({ message: "blocked by guard: secret" });
    const [e] = parseAll([raw]).events;
    expect(e!.event).toBe("message");
    expect(JSON.parse(e!.data)).toEqual({
      error: { message: "blocked by guard: secret", type: "hexr_guard_blocked", code: "content_blocked", param: null },
    });
  });

  it("throws guard.bad_json on unparseable data", () => {
    expect(() => openAiStreamDeltas(ev("{nope"))).toThrow(HexrError);
  });
});

describe("Anthropic stream adapter", () => {
  const ev = (event: string, data: object): SseEvent => {
    const raw = formatSseEvent({ event, data: JSON.stringify(data) });
    return { event, data: JSON.stringify(data), id: "", dispatched: true, raw };
  };

  it("extracts text and thinking deltas by block index", () => {
    expect(
      anthropicStreamDeltas(
        ev("content_block_delta", { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "Hi" } }),
      ).deltas,
    ).toEqual([{ index: 1, text: "Hi" }]);
    expect(
      anthropicStreamDeltas(
        ev("content_block_delta", {
          type: "content_block_delta",
          index: 0,
          delta: { type: "thinking_delta", thinking: "hmm" },
        }),
      ).deltas,
    ).toEqual([{ index: 0, text: "hmm" }]);
    expect(
      anthropicStreamDeltas(
        ev("content_block_delta", {
          type: "content_block_delta",
          index: 2,
          delta: { type: "input_json_delta", partial_json: "{" },
        }),
      ).deltas,
    ).toEqual([]);
    expect(anthropicStreamDeltas(ev("message_start", { type: "message_start", message: {} })).deltas).toEqual([]);
    expect(anthropicStreamDeltas(ev("message_stop", { type: "message_stop" })).done).toBe(true);
  });

  it("rewrites a text delta keeping the event line", () => {
    const e = ev("content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: "my ssn" },
    });
    const raw = anthropicWithDeltas(e, new Map([[0, "my [REDACTED:pii]"]]));
    const [out] = parseAll([raw]).events;
    expect(out!.event).toBe("content_block_delta");
    expect(JSON.parse(out!.data).delta.text).toBe("my [REDACTED:pii]");
  });

  it("formats Anthropic's error event", () => {
    const raw = anthropicStreamError({ message: "blocked by guard: pii" });
    expect(raw.startsWith("event: error\n")).toBe(true);
    const [e] = parseAll([raw]).events;
    expect(JSON.parse(e!.data)).toEqual({
      type: "error",
      error: { type: "permission_error", message: "blocked by guard: pii" },
    });
  });
});

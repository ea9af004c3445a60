import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HexrError } from "../../../filters/errors.ts";
import { anthropicStreamError, anthropicStreamEvent } from "../../../filters/guard/adapters/anthropic-stream.ts";
import {
  chatChunk,
  openAiStreamError,
  openAiStreamEvent,
  plainChatChunk,
} from "../../../filters/guard/adapters/openai-stream.ts";
import { formatSseEvent, replaceEventData, type SseEvent, SseParser } from "../../../filters/guard/adapters/sse.ts";
import { type EventView, rewriteEvent } from "../../../filters/guard/adapters/stream-event.ts";
import { formatPath } from "../../../filters/guard/adapters/types.ts";

/** `[path, kind, key]` of every text slot of an event view. */
const refs = (v: EventView) =>
  v.slots.map((s) => [formatPath(s.path), s.stream?.kind ?? "plain", s.stream?.key ?? "", s.text] as const);

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
  const ev = (data: unknown, event = "message"): SseEvent => {
    const d = typeof data === "string" ? data : JSON.stringify(data);
    return { event, data: d, id: "", dispatched: true, raw: formatSseEvent({ event, data: d }) };
  };
  const chunk = (delta: object, index = 0, finish: string | null = null) =>
    ev({ id: "c", object: "chat.completion.chunk", choices: [{ index, delta, finish_reason: finish }] });

  it.each([
    ["content", chunk({ content: "Hel" }), [["$.choices[0].delta.content", "delta", "c0/t/", "Hel"]]],
    ["content of choice 2", chunk({ content: "x" }, 2), [["$.choices[0].delta.content", "delta", "c2/t/", "x"]]],
    ["refusal", chunk({ refusal: "no" }), [["$.choices[0].delta.refusal", "delta", "c0/r/", "no"]]],
    [
      "tool-call arguments (by tool-call index), the name is plain",
      chunk({ tool_calls: [{ index: 3, id: "call_1", type: "function", function: { name: "f", arguments: '{"a' } }] }),
      [
        ["$.choices[0].delta.tool_calls[0].function.name", "plain", "", "f"],
        ["$.choices[0].delta.tool_calls[0].function.arguments", "delta", "c0/tc3/", '{"a'],
      ],
    ],
    [
      "legacy function_call arguments",
      chunk({ function_call: { arguments: '"x' } }),
      [["$.choices[0].delta.function_call.arguments", "delta", "c0/f/", '"x']],
    ],
    [
      "audio transcript (audio data skipped)",
      chunk({ audio: { id: "a", data: "UklGRg==", transcript: "hi" } }),
      [["$.choices[0].delta.audio.transcript", "delta", "c0/a/", "hi"]],
    ],
    ["role only: nothing", chunk({ role: "assistant" }), []],
    [
      "legacy completions text",
      ev({ id: "x", object: "text_completion", choices: [{ index: 0, text: "abc", finish_reason: null }] }),
      [["$.choices[0].text", "delta", "c0/t/", "abc"]],
    ],
  ])("chat chunk: %s", (_n, e, expected) => {
    expect(refs(openAiStreamEvent(e))).toEqual(expected);
  });

  it("reads every generated chunk exactly as the generic walk does (the plain-chunk fast path included)", () => {
    // chunk-like documents around the common shape: extra or odd-typed fields, refusals, nulls, data URLs,
    // strings where numbers go, several choices — the fast path takes some, the walk the rest
    const str = fc.oneof(
      fc.constantFrom("", "Hello", " world", "data:image/png;base64,AAAA", "AKIAIOSFODNN7EXAMPLE12"),
      fc.string({ maxLength: 12 }),
    );
    const scalar = fc.oneof(str, fc.integer(), fc.constant(null), fc.boolean());
    const delta = fc.record(
      { role: fc.oneof(fc.constant("assistant"), scalar), content: scalar, refusal: scalar, extra: scalar },
      { requiredKeys: [] },
    );
    const choice = fc.record(
      {
        index: fc.oneof(fc.integer({ min: 0, max: 3 }), scalar),
        delta: fc.oneof(delta, scalar),
        finish_reason: fc.oneof(fc.constantFrom("stop", "length"), scalar),
        logprobs: fc.oneof(fc.constant(null), fc.constant({ content: [{ token: "x" }] })),
        text: str,
      },
      { requiredKeys: [] },
    );
    // the common shape itself, every field optional
    const plain = fc.record(
      {
        id: str,
        object: fc.constant("chat.completion.chunk"),
        created: fc.integer(),
        model: str,
        system_fingerprint: fc.oneof(str, fc.constant(null)),
        usage: fc.constant(null),
        choices: fc
          .record(
            {
              index: fc.integer({ min: 0, max: 3 }),
              delta: fc.record(
                { role: fc.constant("assistant"), content: fc.oneof(str, fc.constant(null)) },
                { requiredKeys: [] },
              ),
              finish_reason: fc.oneof(fc.constantFrom("stop", "length"), fc.constant(null)),
              logprobs: fc.constant(null),
            },
            { requiredKeys: ["delta"] },
          )
          .map((c) => [c]),
      },
      { requiredKeys: ["choices"] },
    );
    const odd = fc.record(
      {
        id: fc.oneof(str, scalar),
        object: fc.constant("chat.completion.chunk"),
        created: fc.oneof(fc.integer(), scalar),
        model: fc.oneof(str, fc.constant({ name: "m" })),
        system_fingerprint: scalar,
        obfuscation: str,
        usage: fc.oneof(fc.constant(null), fc.constant({ prompt_tokens: 1, note: "hi" })),
        note: str,
        choices: fc.array(choice, { minLength: 1, maxLength: 2 }),
      },
      { requiredKeys: ["choices"] },
    );
    const doc = fc.oneof(plain, odd);
    let fast = 0;
    fc.assert(
      fc.property(doc, (d) => {
        const e = ev(d);
        const parsed = JSON.parse(e.data) as Record<string, unknown>;
        const walked = chatChunk(parsed, parsed.choices as unknown[]);
        const got = openAiStreamEvent(e);
        expect({ slots: got.slots, ends: got.ends, done: got.done }).toEqual({
          slots: walked.slots,
          ends: walked.ends,
          done: walked.done,
        });
        if (plainChatChunk(parsed, parsed.choices as unknown[]) !== undefined) fast++;
      }),
      { numRuns: 3000 },
    );
    expect(fast).toBeGreaterThan(100); // the fast path is exercised, not only the walk
  });

  it("an audio transcript stream cannot be redacted; a finish_reason ends the choice's streams", () => {
    const v = openAiStreamEvent(chunk({ audio: { transcript: "x" } }, 1, "stop"));
    expect(v.slots[0]!.redactable).toBe(false);
    expect(v.ends).toEqual(["c1/"]);
    expect(openAiStreamEvent(ev("[DONE]"))).toMatchObject({ done: true, slots: [] });
  });

  it.each([
    [
      "output_text.delta",
      { type: "response.output_text.delta", output_index: 1, content_index: 0, delta: "hi", obfuscation: "Zq3x" },
      [["$.delta", "delta", "o1/c0/", "hi"]],
      [],
    ],
    [
      "refusal.delta",
      { type: "response.refusal.delta", output_index: 0, content_index: 1, delta: "no" },
      [["$.delta", "delta", "o0/c1/", "no"]],
      [],
    ],
    [
      "function_call_arguments.delta",
      { type: "response.function_call_arguments.delta", output_index: 2, item_id: "fc", delta: '{"q' },
      [["$.delta", "delta", "o2/args/", '{"q']],
      [],
    ],
    [
      "output_text.done",
      { type: "response.output_text.done", output_index: 1, content_index: 0, text: "hi there", logprobs: [] },
      [["$.text", "snapshot", "o1/c0/", "hi there"]],
      ["o1/c0/"],
    ],
    [
      "content_part.done",
      {
        type: "response.content_part.done",
        output_index: 0,
        content_index: 0,
        part: { type: "output_text", text: "t", annotations: [] },
      },
      [["$.part.text", "snapshot", "o0/c0/", "t"]],
      ["o0/c0/"],
    ],
    [
      "function_call_arguments.done",
      { type: "response.function_call_arguments.done", output_index: 2, arguments: "{}" },
      [["$.arguments", "snapshot", "o2/args/", "{}"]],
      ["o2/args/"],
    ],
    [
      "output_item.done with a message and a function call",
      {
        type: "response.output_item.done",
        output_index: 3,
        item: { type: "function_call", id: "fc", call_id: "c", name: "lookup", arguments: '{"a":1}' },
      },
      [
        ["$.item.name", "plain", "", "lookup"],
        ["$.item.arguments", "snapshot", "o3/args/", '{"a":1}'],
      ],
      ["o3/"],
    ],
    [
      "response.completed: every output item, and echoed instructions",
      {
        type: "response.completed",
        response: {
          id: "resp_1",
          object: "response",
          status: "completed",
          instructions: "be brief",
          output: [
            {
              type: "message",
              id: "m",
              role: "assistant",
              content: [{ type: "output_text", text: "a", annotations: [] }],
            },
            { type: "function_call", id: "f", call_id: "c", name: "n", arguments: "{}" },
          ],
        },
      },
      [
        ["$.response.instructions", "plain", "", "be brief"],
        ["$.response.output[0].content[0].text", "snapshot", "o0/c0/", "a"],
        ["$.response.output[1].name", "plain", "", "n"],
        ["$.response.output[1].arguments", "snapshot", "o1/args/", "{}"],
      ],
      [],
    ],
  ])("responses: %s", (_n, data, expected, ends) => {
    const v = openAiStreamEvent(ev(data, String(data.type)));
    expect(refs(v)).toEqual(expected);
    expect(v.ends).toEqual(ends);
  });

  it("response.completed ends the stream; an unknown event's text is plain", () => {
    expect(openAiStreamEvent(ev({ type: "response.completed", response: { output: [] } })).done).toBe(true);
    expect(refs(openAiStreamEvent(ev({ type: "error", message: "boom" })))).toEqual([
      ["$.message", "plain", "", "boom"],
    ]);
  });

  it("rewrites by path, keeps the rest of the chunk, and clears logprobs of a changed choice", () => {
    const e = ev({
      id: "c",
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta: { content: "secret" }, logprobs: { content: [{ token: "secret" }] } }],
    });
    const v = openAiStreamEvent(e);
    const [out] = parseAll([rewriteEvent(e, v, new Map([[0, "[REDACTED:secret]"]]))]).events;
    const d = JSON.parse(out!.data);
    expect(d.choices[0].delta.content).toBe("[REDACTED:secret]");
    expect(d.choices[0].logprobs).toBeNull();
    expect(d.object).toBe("chat.completion.chunk");
  });

  it("formats its error event the way the OpenAI SDK reads it", () => {
    const raw = openAiStreamError({ message: "blocked by guard: secret" });
    const [e] = parseAll([raw]).events;
    expect(e!.event).toBe("message");
    expect(JSON.parse(e!.data)).toEqual({
      error: { message: "blocked by guard: secret", type: "hexr_guard_blocked", code: "content_blocked", param: null },
    });
  });

  it.each([
    ["unparseable data", "{nope", "guard.bad_json"],
    ["a duplicate key", '{"choices":[],"choices":[{"delta":{"content":"x"}}]}', "guard.duplicate_key"],
  ])("throws on %s", (_n, data, code) => {
    let err: unknown;
    try {
      openAiStreamEvent(ev(data));
    } catch (e) {
      err = e;
    }
    expect((err as HexrError).code).toBe(code);
  });
});

describe("Anthropic stream adapter", () => {
  const ev = (event: string | undefined, data: object): SseEvent => {
    const raw = formatSseEvent({ ...(event ? { event } : {}), data: JSON.stringify(data) });
    return { event: event ?? "message", data: JSON.stringify(data), id: "", dispatched: true, raw };
  };

  it.each([
    [
      "text_delta",
      { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "Hi" } },
      [["$.delta.text", "delta", "b1/", "Hi"]],
    ],
    [
      "thinking_delta",
      { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "hmm" } },
      [["$.delta.thinking", "delta", "b0/", "hmm"]],
    ],
    [
      "input_json_delta",
      { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '{"cmd": "l' } },
      [["$.delta.partial_json", "delta", "b2/", '{"cmd": "l']],
    ],
    [
      "signature_delta: opaque",
      { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "EqQB" } },
      [],
    ],
    [
      "content_block_start of a text block",
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "Pre" } },
      [["$.content_block.text", "delta", "b0/", "Pre"]],
    ],
    [
      "content_block_start of a tool_use block: its input is plain text, keys included",
      {
        type: "content_block_start",
        index: 1,
        content_block: { type: "tool_use", id: "toolu_1", name: "sh", input: { cmd: "ls" } },
      },
      [
        ["$.content_block.name", "plain", "", "sh"],
        ["$.content_block.input.cmd", "plain", "", "cmd"],
        ["$.content_block.input.cmd", "plain", "", "ls"],
      ],
    ],
    ["message_start", { type: "message_start", message: { id: "m", content: [], model: "c" } }, []],
  ])("%s", (_n, data, expected) => {
    expect(refs(anthropicStreamEvent(ev(String(data.type), data)))).toEqual(expected);
  });

  it("classifies by the data's type, with or without (or despite) the event: line", () => {
    const d = { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "x" } };
    for (const name of [undefined, "content_block_delta", "ping"]) {
      expect(refs(anthropicStreamEvent(ev(name, d)))).toEqual([["$.delta.text", "delta", "b0/", "x"]]);
    }
    expect(anthropicStreamEvent(ev(undefined, { type: "message_stop" })).done).toBe(true);
    expect(anthropicStreamEvent(ev("content_block_stop", { type: "content_block_stop", index: 4 })).ends).toEqual([
      "b4/",
    ]);
  });

  it("rewrites a text delta keeping the event line", () => {
    const e = ev("content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: "my ssn" },
    });
    const raw = rewriteEvent(e, anthropicStreamEvent(e), new Map([[0, "my [REDACTED:pii]"]]));
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

describe("SseParser.idle", () => {
  it("is true only while no byte of an unfinished block or character is held", () => {
    const p = new SseParser();
    expect(p.idle).toBe(true);
    p.push(new TextEncoder().encode("data: a\n"));
    expect(p.idle).toBe(false); // inside a block
    p.push(new TextEncoder().encode("\n"));
    expect(p.idle).toBe(true);
    const euro = new TextEncoder().encode("data: €\n\n");
    p.push(euro.subarray(0, 7)); // "data: " + the first byte of €
    expect(p.idle).toBe(false);
    p.push(euro.subarray(7));
    expect(p.idle).toBe(true);
    p.push(euro.subarray(0, 6));
    p.push(euro.subarray(6, 8)); // two of €'s three bytes
    expect(p.idle).toBe(false);
  });
});

import fc from "fast-check";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { HexrError } from "../../../filters/errors.ts";
import { anthropicMessages } from "../../../filters/guard/adapters/anthropic-messages.ts";
import { compileJsonPath, createGenericAdapter } from "../../../filters/guard/adapters/generic-json.ts";
import { jsonText } from "../../../filters/guard/adapters/json-text.ts";
import { openaiChat } from "../../../filters/guard/adapters/openai-chat.ts";
import { openaiResponses } from "../../../filters/guard/adapters/openai-responses.ts";
import { checkJsonKeys, MAX_JSON_DEPTH } from "../../../filters/guard/adapters/strict-json.ts";
import {
  clearLogprobs,
  formatPath,
  type GuardAdapter,
  parseJsonBody,
  type TextSlot,
} from "../../../filters/guard/adapters/types.ts";
import { DEFAULT_GUARD_POLICY, parseGuardPolicy } from "../../../filters/guard/policy.ts";
import { scanSlots } from "../../../filters/guard/scan-slots.ts";

/** A random AWS access key id (never the documented example, which the guard allows). */
const awsKey = () => `AKIA${Array.from(randomBytes(16), (b) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[b % 32]).join("")}`;
const REDACT = parseGuardPolicy({ scanners: { secret: { action: "redact" }, prompt_injection: { action: "off" } } });
const texts = (slots: readonly TextSlot[]) => slots.map((s) => s.text);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as HexrError).code;
  }
  return "no error";
}

/** Scan a request or response through an adapter; paths of the findings, and the rewritten document. */
function scanDoc(adapter: GuardAdapter, doc: unknown, side: "request" | "response", policy = DEFAULT_GUARD_POLICY) {
  const d = structuredClone(doc);
  const slots = side === "request" ? adapter.extractRequest(d) : adapter.extractResponse(d);
  const r = scanSlots(slots, policy);
  for (const [i, t] of r.rewrites) adapter.rewrite(d, slots[i]!, t);
  const shown = (i: number) => slots[i]!.shownPath ?? slots[i]!.path;
  return { action: r.action, paths: r.findings.map((f) => formatPath(shown(f.slot))), doc: d };
}

const fn = (description: string, prop = "q", propDescription = "the query") => ({
  type: "function",
  function: {
    name: "search",
    description,
    parameters: { type: "object", properties: { [prop]: { type: "string", description: propDescription } } },
  },
});

// [case, adapter, side, document with the secret placed by `k`, path of the finding]
type Case = [string, GuardAdapter, "request" | "response", (k: string) => unknown, string];

const CASES: Case[] = [
  // OpenAI Chat Completions requests
  [
    "chat: tool description",
    openaiChat,
    "request",
    (k) => ({ messages: [], tools: [fn(`uses ${k}`)] }),
    "$.tools[0].function.description",
  ],
  [
    "chat: tool parameter description",
    openaiChat,
    "request",
    (k) => ({ messages: [], tools: [fn("search", "q", `key ${k}`)] }),
    "$.tools[0].function.parameters.properties.*.description",
  ],
  [
    "chat: tool parameter name (a schema key)",
    openaiChat,
    "request",
    (k) => ({ messages: [], tools: [fn("search", k)] }),
    "$.tools[0].function.parameters.properties.*",
  ],
  [
    "chat: legacy functions",
    openaiChat,
    "request",
    (k) => ({ messages: [], functions: [{ name: "f", description: `use ${k}`, parameters: {} }] }),
    "$.functions[0].description",
  ],
  [
    "chat: assistant tool-call arguments",
    openaiChat,
    "request",
    (k) => ({
      messages: [
        {
          role: "assistant",
          tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: `{"k":"${k}"}` } }],
        },
      ],
    }),
    "$.messages[0].tool_calls[0].function.arguments",
  ],
  [
    "chat: legacy assistant function_call arguments",
    openaiChat,
    "request",
    (k) => ({ messages: [{ role: "assistant", function_call: { name: "f", arguments: `{"k":"${k}"}` } }] }),
    "$.messages[0].function_call.arguments",
  ],
  [
    "chat: refusal part",
    openaiChat,
    "request",
    (k) => ({ messages: [{ role: "assistant", content: [{ type: "refusal", refusal: `no, ${k}` }] }] }),
    "$.messages[0].content[0].refusal",
  ],
  [
    "chat: message name",
    openaiChat,
    "request",
    (k) => ({ messages: [{ role: "user", name: k, content: "hi" }] }),
    "$.messages[0].name",
  ],
  [
    "chat: response_format schema",
    openaiChat,
    "request",
    (k) => ({
      messages: [],
      response_format: { type: "json_schema", json_schema: { name: "x", schema: { description: `key ${k}` } } },
    }),
    "$.response_format.json_schema.schema.description",
  ],
  [
    "chat: escaped arguments (only the decoded text shows the key)",
    openaiChat,
    "request",
    (k) => ({
      messages: [
        {
          role: "assistant",
          tool_calls: [
            {
              id: "c",
              function: { name: "f", arguments: `{"k":"\\u00${k.charCodeAt(0).toString(16)}${k.slice(1)}"}` },
            },
          ],
        },
      ],
    }),
    "$.messages[0].tool_calls[0].function.arguments",
  ],
  // OpenAI Responses requests
  [
    "responses: input_text part",
    openaiResponses,
    "request",
    (k) => ({ input: [{ role: "user", content: [{ type: "input_text", text: `key ${k}` }] }] }),
    "$.input[0].content[0].text",
  ],
  [
    "responses: function tool definition",
    openaiResponses,
    "request",
    (k) => ({ input: "hi", tools: [{ type: "function", name: "f", description: `key ${k}`, parameters: {} }] }),
    "$.tools[0].description",
  ],
  [
    "responses: function_call_output",
    openaiResponses,
    "request",
    (k) => ({ input: [{ type: "function_call_output", call_id: "a", output: `tool said ${k}` }] }),
    "$.input[0].output",
  ],
  [
    "responses: instructions",
    openaiResponses,
    "request",
    (k) => ({ instructions: `use ${k}`, input: "hi" }),
    "$.instructions",
  ],
  // Anthropic Messages requests
  [
    "anthropic: document block with a text source",
    anthropicMessages,
    "request",
    (k) => ({
      messages: [
        {
          role: "user",
          content: [{ type: "document", source: { type: "text", media_type: "text/plain", data: `doc ${k}` } }],
        },
      ],
    }),
    "$.messages[0].content[0].source.data",
  ],
  [
    "anthropic: search_result block",
    anthropicMessages,
    "request",
    (k) => ({
      messages: [
        {
          role: "user",
          content: [
            {
              type: "search_result",
              source: "https://x.test",
              title: "t",
              content: [{ type: "text", text: `found ${k}` }],
            },
          ],
        },
      ],
    }),
    "$.messages[0].content[0].content[0].text",
  ],
  [
    "anthropic: tool_result with a string",
    anthropicMessages,
    "request",
    (k) => ({
      messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: `out ${k}` }] }],
    }),
    "$.messages[0].content[0].content",
  ],
  [
    "anthropic: tool_result with a document",
    anthropicMessages,
    "request",
    (k) => ({
      messages: [
        {
          role: "user",
          content: [
            {
              type: "tool_result",
              tool_use_id: "t",
              content: [{ type: "document", source: { type: "text", media_type: "text/plain", data: k } }],
            },
          ],
        },
      ],
    }),
    "$.messages[0].content[0].content[0].source.data",
  ],
  [
    "anthropic: tool_use.input value",
    anthropicMessages,
    "request",
    (k) => ({
      messages: [{ role: "assistant", content: [{ type: "tool_use", id: "t", name: "n", input: { a: { b: [k] } } }] }],
    }),
    "$.messages[0].content[0].input.*.*[0]",
  ],
  [
    "anthropic: tool_use.input key",
    anthropicMessages,
    "request",
    (k) => ({
      messages: [{ role: "assistant", content: [{ type: "tool_use", id: "t", name: "n", input: { [k]: 1 } }] }],
    }),
    "$.messages[0].content[0].input.*",
  ],
  [
    "anthropic: tool description",
    anthropicMessages,
    "request",
    (k) => ({ messages: [], tools: [{ name: "t", description: `key ${k}`, input_schema: { type: "object" } }] }),
    "$.tools[0].description",
  ],
  [
    "anthropic: tool input_schema property description",
    anthropicMessages,
    "request",
    (k) => ({
      messages: [],
      tools: [{ name: "t", input_schema: { type: "object", properties: { x: { type: "string", description: k } } } }],
    }),
    "$.tools[0].input_schema.properties.*.description",
  ],
  ["anthropic: system string", anthropicMessages, "request", (k) => ({ system: `key ${k}`, messages: [] }), "$.system"],
  // buffered responses
  [
    "chat response: legacy function_call",
    openaiChat,
    "response",
    (k) => ({
      choices: [{ index: 0, message: { role: "assistant", function_call: { name: "f", arguments: `{"k":"${k}"}` } } }],
    }),
    "$.choices[0].message.function_call.arguments",
  ],
  [
    "chat response: refusal",
    openaiChat,
    "response",
    (k) => ({ choices: [{ index: 0, message: { role: "assistant", content: null, refusal: `no ${k}` } }] }),
    "$.choices[0].message.refusal",
  ],
  [
    "chat response: audio transcript",
    openaiChat,
    "response",
    (k) => ({
      choices: [
        { index: 0, message: { role: "assistant", audio: { id: "a", data: "UklGRg==", transcript: `say ${k}` } } },
      ],
    }),
    "$.choices[0].message.audio.transcript",
  ],
  [
    "chat response: tool-call arguments",
    openaiChat,
    "response",
    (k) => ({
      choices: [{ message: { tool_calls: [{ id: "c", function: { name: "f", arguments: `{"k":"${k}"}` } }] } }],
    }),
    "$.choices[0].message.tool_calls[0].function.arguments",
  ],
  [
    "anthropic response: tool_use input",
    anthropicMessages,
    "response",
    (k) => ({ content: [{ type: "tool_use", id: "t", name: "n", input: { cmd: `export KEY=${k}` } }] }),
    "$.content[0].input.*",
  ],
  [
    "responses response: function_call arguments",
    openaiResponses,
    "response",
    (k) => ({ output: [{ type: "function_call", id: "fc", call_id: "c", name: "f", arguments: `{"k":"${k}"}` }] }),
    "$.output[0].arguments",
  ],
  [
    "responses response: refusal part",
    openaiResponses,
    "response",
    (k) => ({ output: [{ type: "message", role: "assistant", content: [{ type: "refusal", refusal: `no ${k}` }] }] }),
    "$.output[0].content[0].refusal",
  ],
  ["json-text: embeddings input", jsonText, "request", (k) => ({ model: "e", input: [`a`, `b ${k}`] }), "$.input[1]"],
  [
    "json-text: a field nobody listed",
    jsonText,
    "request",
    (k) => ({ future: { deep: [{ x: k }] } }),
    "$.future.deep[0].x",
  ],
];

describe("every text-bearing field is scanned (a random AWS key in each, default policy)", () => {
  it.each(CASES)("%s", (_name, adapter, side, make, path) => {
    const key = awsKey();
    const r = scanDoc(adapter, make(key), side);
    expect(r.action).toBe("block");
    expect(r.paths).toContain(path);
    // a reported path never names the secret (keys that are text are shown as *)
    expect(JSON.stringify(r.paths)).not.toContain(key.slice(4));
  });

  it.each(CASES)("hard negative — %s with a benign value passes", (_name, adapter, side, make) => {
    const r = scanDoc(adapter, make("Lisbon"), side);
    expect(r.action).toBe("allow");
  });
});

describe("what is left out: identifiers, enums, binary payloads", () => {
  it("does not read ids, models, roles, base64 images and data URLs as text", () => {
    const b64 = randomBytes(600).toString("base64");
    const slots = anthropicMessages.extractRequest({
      model: "claude-x",
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: b64 } },
            { type: "tool_result", tool_use_id: "toolu_01ABCDEF", content: "ok" },
          ],
        },
      ],
    });
    expect(texts(slots)).toEqual(["ok"]);
    const chat = openaiChat.extractRequest({
      model: "gpt-x",
      messages: [
        { role: "user", content: [{ type: "image_url", image_url: { url: `data:image/png;base64,${b64}` } }] },
      ],
    });
    expect(chat).toEqual([]);
    expect(
      scanDoc(
        anthropicMessages,
        { messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", data: b64 } }] }] },
        "request",
      ).action,
    ).toBe("allow");
  });

  it("still reads http URLs, stop sequences and metadata (they leave to the provider too)", () => {
    const slots = openaiChat.extractRequest({
      messages: [],
      stop: ["END"],
      metadata: { note: "n" },
      user: "u",
    });
    expect(texts(slots)).toEqual(["END", "note", "n", "u"]);
  });

  it("skips logprobs (a token copy of the content) and clears them when the content is rewritten", () => {
    const key = awsKey();
    const res = {
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: `the key is ${key}` },
          logprobs: { content: [{ token: key, logprob: -1, bytes: [65] }] },
        },
      ],
    };
    const slots = openaiChat.extractResponse(res);
    expect(texts(slots)).toEqual([`the key is ${key}`]);
    const r = scanDoc(openaiChat, res, "response", REDACT);
    const doc = r.doc as typeof res;
    clearLogprobs(doc, ["choices", 0, "message", "content"]);
    expect(JSON.stringify(doc)).not.toContain(key);
    expect(doc.choices[0]!.logprobs).toBeNull();
  });
});

describe("scanned as the model reads it", () => {
  it("a secret split across two text parts of one message is one secret, redacted in both parts", () => {
    const key = awsKey();
    const doc = {
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: `deploy with ${key.slice(0, 9)}` },
            { type: "text", text: `${key.slice(9)} please` },
          ],
        },
      ],
    };
    expect(scanDoc(openaiChat, doc, "request").action).toBe("block");
    const r = scanDoc(openaiChat, doc, "request", REDACT);
    expect(r.action).toBe("redact");
    const parts = (r.doc as typeof doc).messages[0]!.content;
    expect(parts.map((p) => p.text)).toEqual(["deploy with [REDACTED:secret]", " please"]);
    expect(JSON.stringify(r.doc)).not.toContain(key.slice(4, 12));
  });

  it("hard negative: parts of different messages are not joined", () => {
    const key = awsKey();
    const doc = {
      messages: [
        { role: "user", content: [{ type: "text", text: key.slice(0, 9) }] },
        { role: "user", content: [{ type: "text", text: key.slice(9) }] },
      ],
    };
    expect(scanDoc(openaiChat, doc, "request").action).toBe("allow");
  });

  it("text parts are joined with nothing, other strings of a message with a newline", () => {
    const slots = anthropicMessages.extractRequest({
      system: [
        { type: "text", text: "a" },
        { type: "text", text: "b" },
      ],
      messages: [{ role: "user", name: "n", content: [{ type: "text", text: "c" }] }],
    });
    expect(slots.map((s) => [s.text, s.group, s.sep])).toEqual([
      ["a", "system", "\n"],
      ["b", "system", ""],
      ["n", "messages/0", "\n"],
      ["c", "messages/0", "\n"],
    ]);
  });

  it("redacts by path in tool definitions, tool inputs and arguments (JSON stays valid)", () => {
    const key = awsKey();
    const r = scanDoc(
      anthropicMessages,
      {
        messages: [
          { role: "assistant", content: [{ type: "tool_use", id: "t", name: "n", input: { cmd: `aws ${key}` } }] },
        ],
        tools: [{ name: "t", description: `key ${key}`, input_schema: { type: "object" } }],
      },
      "request",
      REDACT,
    );
    expect(r.action).toBe("redact");
    expect(JSON.stringify(r.doc)).not.toContain(key);
    const chat = scanDoc(
      openaiChat,
      {
        messages: [
          { role: "assistant", tool_calls: [{ id: "c", function: { name: "f", arguments: `{"k":"${key}"}` } }] },
        ],
      },
      "request",
      REDACT,
    );
    const args = (chat.doc as { messages: { tool_calls: { function: { arguments: string } }[] }[] }).messages[0]!
      .tool_calls[0]!.function.arguments;
    expect(JSON.parse(args)).toEqual({ k: "[REDACTED:secret]" });
  });

  it.each([
    ["a key (schema property name)", (k: string) => ({ messages: [], tools: [fn("s", k)] }), openaiChat, "request"],
    [
      "an audio transcript",
      (k: string) => ({ choices: [{ message: { audio: { data: "AAAA", transcript: `say ${k}` } } }] }),
      openaiChat,
      "response",
    ],
  ] as const)("a redaction that cannot be applied to %s blocks instead", (_n, make, adapter, side) => {
    expect(scanDoc(adapter, make(awsKey()), side, REDACT).action).toBe("block");
  });
});

describe("duplicate keys and depth", () => {
  it.each([
    ['{"a":1,"a":2}'],
    ['{"content":"benign","x":{"y":1},"content":"other"}'],
    ['{"a":{"b":1,"b":2}}'],
    ['[{"k":1},{"k":2,"k":3}]'],
    ['{"a":1,"\\u0061":2}'],
  ])("rejects %s", (t) => {
    expect(code(() => parseJsonBody(t))).toBe("guard.duplicate_key");
  });

  it.each([
    ['{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}'],
    ['{"a":"{\\"a\\":1,\\"a\\":2}","b":"\\"a\\":"}'],
    ['{"a":"x,\\"a\\"","b":["a","a"]}'],
  ])("hard negative: accepts %s", (t) => {
    expect(() => checkJsonKeys(t)).not.toThrow();
    expect(() => parseJsonBody(t)).not.toThrow();
  });

  it("finds a repeat exactly where a per-object key set does, on generated documents", () => {
    // objects written by hand so keys may repeat, in any object, spelled plainly or with \u escapes
    const key = fc.constantFrom("a", "b", "\\u0061", "content", "__proto__", "1");
    const leaf = fc.oneof(fc.integer().map(String), fc.constant('"x,\\"a\\":{"'), fc.constant("null"));
    const doc: fc.Arbitrary<string> = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: "small" }, leaf, tie("object"), tie("array")),
      object: fc
        .array(fc.tuple(key, tie("value")), { maxLength: 4 })
        .map((es) => `{${es.map(([k, v]) => `"${k}":${v}`).join(",")}}`),
      array: fc.array(tie("value"), { maxLength: 3 }).map((vs) => `[${vs.join(",")}]`),
    })).object as fc.Arbitrary<string>;
    let repeats = 0;
    fc.assert(
      fc.property(doc, (t) => {
        let bySet = "ok";
        try {
          checkJsonKeys(t);
        } catch {
          bySet = "guard.duplicate_key";
        }
        if (bySet !== "ok") repeats++;
        expect(code(() => parseJsonBody(t)).replace("no error", "ok")).toBe(bySet);
      }),
      { numRuns: 1000 },
    );
    expect(repeats).toBeGreaterThan(100); // the generator does produce repeats
  });

  it("refuses nesting deeper than MAX_JSON_DEPTH", () => {
    const deep = `${"[".repeat(MAX_JSON_DEPTH + 1)}${"]".repeat(MAX_JSON_DEPTH + 1)}`;
    expect(code(() => parseJsonBody(deep))).toBe("guard.too_deep");
    const ok = `${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`;
    expect(code(() => parseJsonBody(ok))).toBe("no error");
  });
});

describe("token-id prompts cannot be read", () => {
  it.each([
    [jsonText, { model: "e", input: [[1, 2, 3]] }],
    [jsonText, { model: "e", input: [1, 2, 3] }],
    [openaiChat, { model: "m", prompt: [5, 6] }],
  ] as const)("%#: guard.token_input", (adapter, body) => {
    expect(code(() => adapter.extractRequest(body))).toBe("guard.token_input");
  });
});

describe("generic-json", () => {
  it("follows configured paths with wildcards, indexes and quoted names", () => {
    const a = createGenericAdapter({
      request: ["$.prompt", "$.messages[*].content", "$['odd key'].v", "$.list[1]"],
      response: ["$.out.*"],
    });
    const doc = {
      prompt: "p",
      messages: [{ content: "m0" }, { content: [{ type: "text", text: "m1" }, "m2"] }, { content: 5 }],
      "odd key": { v: "k" },
      list: ["a", "b"],
    };
    const slots = a.extractRequest(doc);
    expect(texts(slots)).toEqual(["p", "m0", "m1", "m2", "k", "b"]);
    a.rewrite(doc, slots[2]!, "M1");
    expect(doc.messages[1]!.content).toEqual([{ type: "text", text: "M1" }, "m2"]);
    expect(texts(a.extractResponse({ out: { x: "1", y: { text: "2" } } }))).toEqual(["1", "2"]);
  });

  it.each(["prompt", "$.", "$[", "$[x]", "$.a b", "$..a"])("rejects the path %s", (p) => {
    expect(code(() => compileJsonPath(p))).toBe("guard.bad_path");
  });

  it("does not walk into prototype properties", () => {
    const a = createGenericAdapter({ request: ["$.constructor", "$.__proto__"] });
    expect(a.extractRequest({})).toEqual([]);
  });
});

describe("errors", () => {
  it.each([
    ["invalid JSON text", "{not json", "guard.bad_json"],
    ["truncated JSON", '{"messages": [', "guard.bad_json"],
    ["invalid UTF-8 bytes", new Uint8Array([0x7b, 0xff, 0x7d]), "guard.bad_utf8"],
    ["a JSON array body", "[1,2]", "guard.bad_shape"],
    ["a JSON string body", '"text"', "guard.bad_shape"],
  ])("%s", (_name, body, expected) => {
    for (const a of [openaiChat, openaiResponses, anthropicMessages, createGenericAdapter({ request: ["$.x"] })]) {
      expect(code(() => a.extractRequest(body))).toBe(expected);
    }
  });

  it("rewrite of a path that is not a string throws guard.bad_path", () => {
    expect(code(() => openaiChat.rewrite({ messages: [] }, { path: ["messages", 0, "content"], text: "" }, "x"))).toBe(
      "guard.bad_path",
    );
  });

  it("parseJsonBody passes parsed documents through", () => {
    const d = { a: 1 };
    expect(parseJsonBody(d)).toBe(d);
  });
});

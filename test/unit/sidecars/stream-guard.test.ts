/**
 * StreamGuard over the providers' real event sequences (built by the dev upstream): every copy of a
 * redacted span — deltas, done events, output items, `response.completed` — is rewritten the same way;
 * a secret that appears only in a snapshot, a tool-call argument or a tool input is still caught.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SseParser } from "../../../filters/guard/adapters/sse.ts";
import { DEFAULT_GUARD_POLICY, parseGuardPolicy } from "../../../filters/guard/policy.ts";
import {
  anthropicEvents,
  chatEvents,
  formatEvents,
  type ReplySpec,
  responsesEvents,
  type WireEvent,
} from "../../../sidecars/devtools/llm-upstream.ts";
import type { StreamProvider } from "../../../sidecars/extproc/guard-routes.ts";
import { StreamGuard } from "../../../sidecars/extproc/stream-guard.ts";

const awsKey = () => `AKIA${Array.from(randomBytes(16), (b) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[b % 32]).join("")}`;
const REDACT = parseGuardPolicy({ scanners: { secret: { action: "redact" } } });

/**
 * Feed the events one per chunk (split mid-event too), return what the client receives. Every case also runs
 * with the whole answer in one chunk (how Envoy hands over a fast upstream's answer: one scan for all of
 * it): the same bytes when nothing blocks, a block when the per-chunk run blocks.
 */
function run(provider: StreamProvider, events: string[], policy = DEFAULT_GUARD_POLICY) {
  const r = runCut(provider, events, policy);
  const whole = new StreamGuard(provider, policy).push(Buffer.from(events.join("")), true);
  expect(whole.blocked).toBe(r.blocked);
  if (!r.blocked) expect(whole.text ?? events.join("")).toBe(r.out);
  return r;
}

function runCut(provider: StreamProvider, events: string[], policy: typeof DEFAULT_GUARD_POLICY) {
  const g = new StreamGuard(provider, policy);
  const bytes = Buffer.from(events.join(""));
  let out = "";
  let blocked = false;
  const cuts = [0];
  for (const e of events) cuts.push(cuts[cuts.length - 1]! + Buffer.byteLength(e) - Math.min(3, Buffer.byteLength(e)));
  cuts.push(bytes.length);
  for (let i = 0; i + 1 < cuts.length; i++) {
    const chunk = bytes.subarray(cuts[i], cuts[i + 1]);
    const r = g.push(chunk, i + 2 === cuts.length);
    if (r.blocked) blocked = true;
    out += r.text === undefined ? chunk.toString() : r.text;
  }
  const data = new SseParser()
    .push(out)
    .filter((e) => e.dispatched && e.data !== "[DONE]")
    .map((e) => JSON.parse(e.data) as Record<string, unknown>);
  return { out, blocked, data };
}

const spec = (over: Partial<ReplySpec>): ReplySpec => ({ model: "m", reply: "Hello there.", deltaSize: 5, ...over });
const tamper = (evs: WireEvent[], type: string, f: (d: Record<string, unknown>) => void) =>
  evs.map((e) => {
    if (e.data.type !== type) return e;
    const d = structuredClone(e.data);
    f(d);
    return { ...e, data: d };
  });

describe("Responses API streams", () => {
  it("a benign stream passes byte-for-byte", () => {
    const evs = formatEvents(responsesEvents(spec({ toolCall: { name: "f", arguments: '{"city":"Lisbon"}' } })));
    const r = run("openai", evs);
    expect(r.out).toBe(evs.join(""));
  });

  it("a redacted span is rewritten in deltas, output_text.done, content_part.done, output_item.done and response.completed", () => {
    const key = awsKey();
    const r = run(
      "openai",
      formatEvents(responsesEvents(spec({ reply: `Use ${key} for deploys, then log out.` }))),
      REDACT,
    );
    expect(r.blocked).toBe(false);
    expect(r.out).not.toContain(key.slice(4, 14));
    const want = "Use [REDACTED:secret] for deploys, then log out.";
    const byType = (t: string) => r.data.filter((d) => d.type === t);
    expect(
      byType("response.output_text.delta")
        .map((d) => d.delta)
        .join(""),
    ).toBe(want);
    expect(byType("response.output_text.done")[0]!.text).toBe(want);
    expect((byType("response.content_part.done")[0]!.part as { text: string }).text).toBe(want);
    const item = byType("response.output_item.done")[0]!.item as { content: { text: string }[] };
    expect(item.content[0]!.text).toBe(want);
    const completed = byType("response.completed")[0]!.response as { output: { content: { text: string }[] }[] };
    expect(completed.output[0]!.content[0]!.text).toBe(want);
  });

  it.each([
    ["response.output_text.done", (d: Record<string, unknown>, k: string) => (d.text = `Hello there. ${k}`)],
    [
      "response.content_part.done",
      (d: Record<string, unknown>, k: string) => ((d.part as { text: string }).text = `Hello there. ${k}`),
    ],
    [
      "response.output_item.done",
      (d: Record<string, unknown>, k: string) =>
        ((d.item as { content: { text: string }[] }).content[0]!.text = `Hello ${k}`),
    ],
    [
      "response.completed",
      (d: Record<string, unknown>, k: string) =>
        ((d.response as { output: { content: { text: string }[] }[] }).output[0]!.content[0]!.text = `x ${k}`),
    ],
    [
      "response.completed (echoed instructions)",
      (d: Record<string, unknown>, k: string) => ((d.response as { instructions: string }).instructions = k),
    ],
  ])("a secret only in %s is caught (blocked, never sent)", (type, put) => {
    const key = awsKey();
    const evs = tamper(responsesEvents(spec({})), type.split(" ")[0]!, (d) => put(d, key));
    const r = run("openai", formatEvents(evs));
    expect(r.blocked).toBe(true);
    expect(r.out).not.toContain(key.slice(4));
    expect(r.data.at(-1)).toMatchObject({ error: { type: "hexr_guard_blocked" } });
  });

  it("a secret only in a done event is redacted there under a redact policy", () => {
    const key = awsKey();
    const evs = tamper(responsesEvents(spec({})), "response.output_text.done", (d) => (d.text = `Hello ${key}`));
    const r = run("openai", formatEvents(evs), REDACT);
    expect(r.blocked).toBe(false);
    expect(r.out).not.toContain(key.slice(4));
    expect(r.data.find((d) => d.type === "response.output_text.done")!.text).toBe("Hello [REDACTED:secret]");
  });

  it("function_call_arguments deltas: a split secret blocks; redacted, every copy agrees", () => {
    const key = awsKey();
    const toolCall = { name: "deploy", arguments: JSON.stringify({ key, region: "eu-west-1" }) };
    const blocked = run("openai", formatEvents(responsesEvents(spec({ toolCall, deltaSize: 4 }))));
    expect(blocked.blocked).toBe(true);
    expect(blocked.out).not.toContain(key.slice(4, 14));
    const r = run("openai", formatEvents(responsesEvents(spec({ toolCall, deltaSize: 4 }))), REDACT);
    expect(r.out).not.toContain(key.slice(4, 14));
    const args = r.data
      .filter((d) => d.type === "response.function_call_arguments.delta")
      .map((d) => d.delta)
      .join("");
    const done = r.data.find((d) => d.type === "response.function_call_arguments.done")!.arguments;
    const completed = (r.data.at(-1)!.response as { output: { arguments?: string }[] }).output[1]!.arguments;
    expect(JSON.parse(args)).toEqual({ key: "[REDACTED:secret]", region: "eu-west-1" });
    expect(done).toBe(args);
    expect(completed).toBe(args);
  });

  it("refusal deltas are scanned", () => {
    const key = awsKey();
    const r = run("openai", formatEvents(responsesEvents(spec({ refusal: `I will not share ${key} with you.` }))));
    expect(r.blocked).toBe(true);
    expect(r.out).not.toContain(key.slice(4, 14));
  });
});

describe("Chat Completions streams", () => {
  it.each([
    [
      "tool-call argument deltas",
      (k: string) => spec({ toolCall: { name: "f", arguments: `{"k":"${k}"}` }, deltaSize: 3 }),
    ],
    ["refusal deltas", (k: string) => spec({ refusal: `Not sharing ${k} today.` })],
  ])("%s carrying a split secret are blocked before any part leaves", (_n, make) => {
    const key = awsKey();
    const r = run("openai", [...formatEvents(chatEvents(make(key))), "data: [DONE]\n\n"]);
    expect(r.blocked).toBe(true);
    expect(r.out).not.toContain(key.slice(0, 8));
  });

  it("legacy function_call argument deltas are scanned", () => {
    const key = awsKey();
    const chunk = (delta: object) => ({
      data: { id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: null }] },
    });
    const evs = [
      chunk({ role: "assistant" }),
      ...[`{"k":"${key.slice(0, 9)}`, `${key.slice(9)}"}`].map((a) => chunk({ function_call: { arguments: a } })),
    ];
    const r = run("openai", [...formatEvents(evs), "data: [DONE]\n\n"]);
    expect(r.blocked).toBe(true);
    expect(r.out).not.toContain(key.slice(0, 9));
  });

  it("redacted tool-call arguments stay valid JSON across the deltas", () => {
    const key = awsKey();
    const r = run(
      "openai",
      [
        ...formatEvents(chatEvents(spec({ toolCall: { name: "f", arguments: `{"k":"${key}"}` }, deltaSize: 3 }))),
        "data: [DONE]\n\n",
      ],
      REDACT,
    );
    const args = r.data
      .map(
        (d) =>
          (d.choices as { delta: { tool_calls?: { function: { arguments?: string } }[] } }[])[0]!.delta.tool_calls?.[0]
            ?.function.arguments ?? "",
      )
      .join("");
    expect(JSON.parse(args)).toEqual({ k: "[REDACTED:secret]" });
  });
});

describe("Anthropic streams", () => {
  it("a benign stream passes byte-for-byte", () => {
    const evs = formatEvents(anthropicEvents(spec({ toolCall: { name: "f", arguments: '{"city":"Lisbon"}' } })));
    expect(run("anthropic", evs).out).toBe(evs.join(""));
  });

  it("input_json_delta carrying a split secret is blocked", () => {
    const key = awsKey();
    const r = run(
      "anthropic",
      formatEvents(
        anthropicEvents(spec({ toolCall: { name: "sh", arguments: `{"cmd":"export K=${key}"}` }, deltaSize: 4 })),
      ),
    );
    expect(r.blocked).toBe(true);
    expect(r.out).not.toContain(key.slice(0, 8));
    expect(r.data.at(-1)).toMatchObject({ type: "error", error: { message: expect.stringMatching(/Hexr LLM guard/) } });
  });

  it("a tool_use block's input in content_block_start is scanned", () => {
    const key = awsKey();
    const evs = tamper(
      anthropicEvents(spec({ toolCall: { name: "sh", arguments: "{}" } })),
      "content_block_start",
      (d) => {
        const b = d.content_block as { type: string; input?: object };
        if (b.type === "tool_use") b.input = { env: { AWS_ACCESS_KEY_ID: key } };
      },
    );
    const r = run("anthropic", formatEvents(evs));
    expect(r.blocked).toBe(true);
    expect(r.out).not.toContain(key.slice(4));
  });

  it("events without an event: line are classified by their data type", () => {
    const key = awsKey();
    const omit = new Set(["content_block_delta"]);
    const r = run(
      "anthropic",
      formatEvents(anthropicEvents(spec({ reply: `here: ${key} and more text follows` })), omit),
    );
    expect(r.blocked).toBe(true);
    expect(r.out).not.toContain(key.slice(0, 8));
    const benign = formatEvents(anthropicEvents(spec({})), omit);
    expect(run("anthropic", benign).out).toBe(benign.join(""));
  });

  it("redacts a text span consistently; other blocks untouched", () => {
    const key = awsKey();
    const r = run("anthropic", formatEvents(anthropicEvents(spec({ reply: `key ${key} ok`, deltaSize: 3 }))), REDACT);
    const text = r.data
      .filter((d) => d.type === "content_block_delta")
      .map((d) => (d.delta as { text: string }).text)
      .join("");
    expect(text).toBe("key [REDACTED:secret] ok");
  });
});

describe("chunks that go out unchanged", () => {
  const chunksOf = (evs: string[]) => evs.map((e) => new Uint8Array(Buffer.from(e)));

  it("a benign stream cut at event boundaries is answered 'unchanged' for every chunk, and stays exact", () => {
    const evs = formatEvents(
      chatEvents(spec({ reply: "The quarterly report shows steady growth, as planned. ", deltaSize: 6 })),
    );
    const g = new StreamGuard("openai", DEFAULT_GUARD_POLICY);
    const chunks = chunksOf(evs);
    const answers = chunks.map((c, i) => g.push(c, i === chunks.length - 1));
    // the scanner holds back the unfinished word, so some event waits; every chunk after which nothing is
    // held is 'unchanged', and the rest are re-encoded: together, exactly the input
    expect(answers.some((a) => a.text === undefined)).toBe(true);
    let out = "";
    answers.forEach((a, i) => {
      out += a.text === undefined ? Buffer.from(chunks[i]!).toString() : a.text;
    });
    expect(out).toBe(evs.join(""));
  });

  it("never 'unchanged' when the chunk carries only part of an event, a split character, or a redaction", () => {
    const key = awsKey();
    const text = formatEvents(chatEvents(spec({ reply: `Café déjà vu — use ${key} then stop. `, deltaSize: 4 }))).join(
      "",
    );
    const bytes = Buffer.from(text);
    const g = new StreamGuard("openai", REDACT);
    let out = Buffer.alloc(0);
    // cut every 7 bytes: mid-event and mid-character
    for (let i = 0; i < bytes.length; i += 7) {
      const c = new Uint8Array(bytes.subarray(i, i + 7));
      const r = g.push(c, i + 7 >= bytes.length);
      expect(r.text).toBeDefined(); // no 7-byte cut both starts and ends at an event boundary here
      out = Buffer.concat([out, r.text === undefined ? Buffer.from(c) : Buffer.from(r.text)]);
    }
    const s = out.toString("utf8");
    expect(s).not.toContain(key.slice(4, 14));
    expect(s).toContain("[REDACTED:");
    // what is not the key is exact: the decoded characters survived every cut
    expect(s).toContain("Caf\u00e9");
    expect(new SseParser().push(s).filter((e) => e.dispatched).length).toBeGreaterThan(5);
    expect(s.includes("\uFFFD")).toBe(false);
  });
});

describe("the last chunk", () => {
  it("an unterminated final block is never forwarded as is, even after unchanged chunks", () => {
    const key = awsKey();
    const evs = formatEvents(chatEvents(spec({ reply: "All good here. ", deltaSize: 20 })));
    const g = new StreamGuard("openai", REDACT);
    const first = g.push(new Uint8Array(Buffer.from(evs[0]!)), false);
    expect(first.text).toBeUndefined(); // a whole event, nothing held: forwarded as is
    // the final chunk: one more event without its blank line, carrying a key, with end_of_stream
    const tail = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: `key ${key} done.` } }] })}\n`;
    const last = g.push(new Uint8Array(Buffer.from(tail)), true);
    expect(last.text).toBeDefined();
    expect(last.text).not.toContain(key.slice(4, 14));
  });
});

describe("a whole answer in one chunk (one scan for all of it)", () => {
  const key = awsKey();
  const chunk = (evs: string[]) => Buffer.from(evs.join(""));
  /** The text a chat client assembles from what it received (deltas joined: a split value shows whole). */
  const textOf = (out: string) =>
    new SseParser()
      .push(out)
      .filter((e) => e.dispatched && e.data !== "[DONE]" && e.data.includes('"choices"'))
      .map(
        (e) => (JSON.parse(e.data) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? "",
      )
      .join("");

  it("events before the one with a secret go out, redacted as scanned; nothing of the secret or after it", () => {
    const evs = formatEvents(
      chatEvents(spec({ reply: `Mail jane.doe@example.com now. Then use ${key} to deploy it all.`, deltaSize: 6 })),
    );
    const r = new StreamGuard("openai", DEFAULT_GUARD_POLICY).push(chunk(evs), true);
    expect(r.blocked).toBe(true);
    const said = textOf(r.text ?? "");
    expect(said).toContain("Mail [REDACTED:email]");
    expect(said).not.toContain("jane.doe");
    expect(said).not.toContain(key.slice(0, 6));
    expect(said).not.toContain("deploy");
    expect(r.text).toContain("hexr_guard_blocked");
  });

  it("a private JWK's members before its d are held with it (no whitespace: one token), never released before the block", () => {
    const b64 = (n: number) =>
      Array.from(
        randomBytes(n),
        (x) => "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[x % 64],
      ).join("");
    const p = b64(86);
    const q = b64(86);
    const jwk = `{"kty":"RSA","n":"${b64(171)}","e":"AQAB","p":"${p}","q":"${q}","d":"${b64(171)}"}`;
    const evs = formatEvents(chatEvents(spec({ reply: `Here it is: ${jwk}`, deltaSize: 9 })));
    for (const feed of ["whole", "cut"] as const) {
      const r = feed === "whole" ? new StreamGuard("openai", DEFAULT_GUARD_POLICY).push(chunk(evs), true) : undefined;
      const out = r ? (r.text ?? "") : runCut("openai", evs, DEFAULT_GUARD_POLICY).out;
      expect(out).toContain("hexr_guard_blocked");
      const said = textOf(out);
      expect(said).toContain("Here it");
      expect(said).not.toContain(p.slice(0, 12));
      expect(said).not.toContain(q.slice(0, 12));
    }
  });

  it("fail open: an error after a redaction in the same chunk keeps the redaction", () => {
    // more parallel text streams than the guard scans: an error after the first choice's email was redacted
    const first = formatEvents(chatEvents(spec({ reply: "write to jane.doe@example.com today", deltaSize: 7 })));
    const many = Array.from(
      { length: 70 },
      (_, i) => `data: ${JSON.stringify({ choices: [{ index: i + 1, delta: { content: "x " } }] })}\n\n`,
    );
    const evs = [...first.slice(0, -1), ...many, ...first.slice(-1)]; // the finish event last
    const r = new StreamGuard("openai", DEFAULT_GUARD_POLICY, "open").push(chunk(evs), true);
    expect(r.error).toBeDefined();
    const said = textOf(r.text ?? "");
    expect(said).toContain("write to [REDACTED:email]");
    expect(said).not.toContain("jane.doe");
  });
});

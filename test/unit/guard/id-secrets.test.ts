/**
 * Request ids, enums and model names are not text the model reads (PII and injection scanners skip them),
 * but a credential pasted into one leaves the pod all the same: they are scanned for secrets, together,
 * and nothing else.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { anthropicMessages } from "../../../filters/guard/adapters/anthropic-messages.ts";
import { jsonText } from "../../../filters/guard/adapters/json-text.ts";
import { openaiChat } from "../../../filters/guard/adapters/openai-chat.ts";
import { openaiResponses } from "../../../filters/guard/adapters/openai-responses.ts";
import type { GuardAdapter } from "../../../filters/guard/adapters/types.ts";
import { DEFAULT_GUARD_POLICY } from "../../../filters/guard/policy.ts";
import { scanSlots } from "../../../filters/guard/scan-slots.ts";

const B62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const rand = (n: number) => Array.from(randomBytes(n), (b) => B62[b % 62]).join("");
const awsKey = () => `AKIA${Array.from(randomBytes(16), (b) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[b % 32]).join("")}`;
const openaiKey = () => `sk-proj-${rand(48)}T3BlbkFJ${rand(48)}`;

function scan(adapter: GuardAdapter, doc: unknown) {
  return scanSlots(adapter.extractRequest(doc), DEFAULT_GUARD_POLICY);
}

describe("a credential in a request's id or enum field is a secret finding", () => {
  it.each([
    ["openai chat: model", openaiChat, (k: string) => ({ model: k, messages: [{ role: "user", content: "hi" }] })],
    [
      "openai chat: tool_call_id",
      openaiChat,
      (k: string) => ({ model: "gpt-4o", messages: [{ role: "tool", tool_call_id: k, content: "42" }] }),
    ],
    [
      "responses: previous_response_id",
      openaiResponses,
      (k: string) => ({ model: "o3", previous_response_id: k, input: "hi" }),
    ],
    [
      "anthropic: model",
      anthropicMessages,
      (k: string) => ({ model: k, max_tokens: 10, messages: [{ role: "user", content: "hi" }] }),
    ],
    ["json-text: any *_id", jsonText, (k: string) => ({ input: "hello", session_id: k })],
  ] as const)("%s", (_name, adapter, make) => {
    for (const key of [awsKey(), openaiKey()]) {
      const r = scan(adapter, make(key));
      expect(r.action).toBe("block");
      expect(r.findings.map((f) => f.type)).toEqual(["secret"]);
    }
  });
});

it("a whole private key in an id field (over 1 KB) is read too", () => {
  const lines = Array.from({ length: 26 }, () => Buffer.from(randomBytes(48)).toString("base64"));
  const pem = `-----BEGIN PRIVATE KEY-----\n${lines.join("\n")}\n-----END PRIVATE KEY-----`;
  expect(pem.length).toBeGreaterThan(1024);
  const r = scan(jsonText, { input: "hello", session_id: pem });
  expect(r.action).toBe("block");
  expect(r.findings.map((f) => f.subtype)).toContain("private_key");
});

describe("real ids, models and enums are not findings of any kind", () => {
  it.each([
    [
      "provider ids and dated models",
      {
        model: "gpt-4o-mini-2024-07-18",
        messages: [
          {
            role: "assistant",
            content: null,
            tool_calls: [
              { id: "call_Xk9sQ2VbN7pLm4TrW1yZ8cDe", type: "function", function: { name: "f", arguments: "{}" } },
            ],
          },
          { role: "tool", tool_call_id: "call_Xk9sQ2VbN7pLm4TrW1yZ8cDe", content: "ok" },
        ],
        previous_response_id: "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
      },
    ],
    [
      "anthropic ids",
      {
        model: "claude-sonnet-4-5-20250929",
        messages: [{ role: "user", content: "hi" }],
        metadata: { user_id: "5f0c3d1e-2a4b-4c6d-8e9f-0a1b2c3d4e5f" },
      },
    ],
    // an id that is a phone-shaped or email-shaped string is not PII here: ids are scanned for secrets only
    [
      "id fields never get PII or injection",
      {
        model: "m",
        messages: [{ role: "user", content: "hi" }],
        order_id: "ORDER-4155550132-2024",
        run_id: "IgnorePreviousInstructions2024",
      },
    ],
  ])("%s", (_name, doc) => {
    const r = scan(openaiChat, doc);
    expect(r.findings).toEqual([]);
    expect(r.action).toBe("allow");
  });
});

/**
 * OpenAI Chat Completions (`POST /v1/chat/completions`).
 * Request: `messages[].content` (string, or parts `[{type:"text", text}]`) and assistant
 * `messages[].tool_calls[].function.arguments`. Response: `choices[].message.content` and
 * `choices[].message.tool_calls[].function.arguments` (model output can leak data into tool arguments).
 */
import {
  type GuardAdapter,
  isRecord,
  pushTextParts,
  roleOf,
  rootObject,
  setAtPath,
  slot,
  type TextSlot,
} from "./types.ts";

const TEXT_PARTS: ReadonlySet<string> = new Set(["text"]);

function toolCallArgs(out: TextSlot[], msg: Record<string, unknown>, base: (string | number)[]): void {
  const calls = msg.tool_calls;
  if (!Array.isArray(calls)) return;
  for (let k = 0; k < calls.length; k++) {
    const fn: unknown = isRecord(calls[k]) ? (calls[k] as Record<string, unknown>).function : undefined;
    if (isRecord(fn) && typeof fn.arguments === "string")
      out.push(slot([...base, "tool_calls", k, "function", "arguments"], fn.arguments, "tool_call"));
  }
}

export const openaiChat: GuardAdapter = {
  name: "openai-chat",
  extractRequest(body) {
    const doc = rootObject(body);
    const out: TextSlot[] = [];
    const msgs = doc.messages;
    if (!Array.isArray(msgs)) return out;
    for (let i = 0; i < msgs.length; i++) {
      const m: unknown = msgs[i];
      if (!isRecord(m)) continue;
      pushTextParts(out, m.content, ["messages", i, "content"], roleOf(m), TEXT_PARTS);
      toolCallArgs(out, m, ["messages", i]);
    }
    return out;
  },
  extractResponse(body) {
    const doc = rootObject(body);
    const out: TextSlot[] = [];
    const choices = doc.choices;
    if (!Array.isArray(choices)) return out;
    for (let i = 0; i < choices.length; i++) {
      const c: unknown = choices[i];
      const msg = isRecord(c) ? c.message : undefined;
      if (!isRecord(msg)) continue;
      pushTextParts(out, msg.content, ["choices", i, "message", "content"], roleOf(msg) ?? "assistant", TEXT_PARTS);
      toolCallArgs(out, msg, ["choices", i, "message"]);
    }
    return out;
  },
  rewrite(doc, s, newText) {
    setAtPath(doc, s.path, newText);
  },
};

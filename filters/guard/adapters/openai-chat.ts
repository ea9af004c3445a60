/**
 * OpenAI Chat Completions (`POST /v1/chat/completions`, and the legacy `POST /v1/completions`).
 *
 * Request: every text field (walk.ts) — message `content` (strings and `text` parts, joined as one text
 * per message), `name`, `refusal`, assistant `tool_calls[].function.arguments` and legacy
 * `function_call.arguments`, `tools[]`/legacy `functions[]` (names, descriptions, parameter schemas with
 * their property names), `response_format` schemas, `prediction`, `stop`, `prompt`. One group per
 * message, per tool, per other top-level field.
 * Response: every text field of each choice (`message.content`, `refusal`, `tool_calls`, legacy
 * `function_call`, `audio.transcript`, `text` of legacy completions), one group per choice. An audio
 * transcript cannot be redacted (the audio says the same words), so a redaction there blocks.
 */
import { type GuardAdapter, type JsonPath, rootObject, setAtPath, type TextSlot } from "./types.ts";
import { groupByItem, refuseTokenInput, walkStrings } from "./walk.ts";

function isTranscript(path: JsonPath): boolean {
  const n = path.length;
  return n >= 2 && path[n - 1] === "transcript" && path[n - 2] === "audio";
}

export const openaiChat: GuardAdapter = {
  name: "openai-chat",
  extractRequest(body) {
    const out: TextSlot[] = [];
    const doc = rootObject(body);
    refuseTokenInput(doc); // legacy completions accept token-id prompts
    walkStrings(doc, [], out, groupByItem, { ids: true });
    return out;
  },
  extractResponse(body) {
    const out: TextSlot[] = [];
    walkStrings(rootObject(body), [], out, groupByItem);
    for (let i = 0; i < out.length; i++) if (isTranscript(out[i]!.path)) out[i] = { ...out[i]!, redactable: false };
    return out;
  },
  rewrite(doc, s, newText) {
    setAtPath(doc, s.path, newText);
  },
};

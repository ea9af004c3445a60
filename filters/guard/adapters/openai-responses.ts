/**
 * OpenAI Responses (`/v1/responses`, including retrieved responses and their input items).
 *
 * Request: every text field (walk.ts) — `instructions`; `input` as a string or items: messages with
 * `content` as a string or parts (`input_text`/`output_text`/`refusal`, joined as one text per item),
 * `function_call.arguments`, `function_call_output.output` (untrusted tool results), reasoning
 * summaries, custom tool inputs; `tools[]` (descriptions, parameter schemas and their property names);
 * `text.format` schemas; `prompt` variables. One group per input item, per tool, per other field.
 * Response: every text field of each `output[]` item (one group per item), and the echoed request fields.
 */
import { type GuardAdapter, rootObject, setAtPath, type TextSlot } from "./types.ts";
import { groupByItem, walkStrings } from "./walk.ts";

export const openaiResponses: GuardAdapter = {
  name: "openai-responses",
  extractRequest(body) {
    const out: TextSlot[] = [];
    walkStrings(rootObject(body), [], out, groupByItem, { ids: true });
    return out;
  },
  extractResponse(body) {
    const out: TextSlot[] = [];
    walkStrings(rootObject(body), [], out, groupByItem);
    return out;
  },
  rewrite(doc, s, newText) {
    setAtPath(doc, s.path, newText);
  },
};

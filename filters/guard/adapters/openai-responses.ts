/**
 * OpenAI Responses (`POST /v1/responses`).
 * Request: `instructions`; `input` as a string or items — messages with `content` as a string or parts
 * (`input_text`/`output_text`), `function_call_output.output` (tool results: untrusted content),
 * `function_call.arguments`. Response: `output[].content[].text` and `output[].arguments`.
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

const TEXT_PARTS: ReadonlySet<string> = new Set(["input_text", "output_text", "text", "summary_text"]);

function items(out: TextSlot[], list: unknown, key: string): void {
  if (!Array.isArray(list)) return;
  for (let i = 0; i < list.length; i++) {
    const it: unknown = list[i];
    if (!isRecord(it)) continue;
    if (it.type === "function_call_output" && typeof it.output === "string")
      out.push(slot([key, i, "output"], it.output, "tool"));
    else if (it.type === "function_call" && typeof it.arguments === "string")
      out.push(slot([key, i, "arguments"], it.arguments, "tool_call"));
    else if (it.content !== undefined)
      pushTextParts(
        out,
        it.content,
        [key, i, "content"],
        roleOf(it) ?? (key === "output" ? "assistant" : undefined),
        TEXT_PARTS,
      );
  }
}

export const openaiResponses: GuardAdapter = {
  name: "openai-responses",
  extractRequest(body) {
    const doc = rootObject(body);
    const out: TextSlot[] = [];
    if (typeof doc.instructions === "string") out.push(slot(["instructions"], doc.instructions, "system"));
    if (typeof doc.input === "string") out.push(slot(["input"], doc.input, "user"));
    else items(out, doc.input, "input");
    return out;
  },
  extractResponse(body) {
    const out: TextSlot[] = [];
    items(out, rootObject(body).output, "output");
    return out;
  },
  rewrite(doc, s, newText) {
    setAtPath(doc, s.path, newText);
  },
};

/**
 * Anthropic Messages (`POST /v1/messages`).
 * Request: `system` (string or text blocks), `messages[].content` as a string or blocks — `text`,
 * and `tool_result` whose `content` is a string or text blocks (untrusted tool output).
 * Response: `content[]` blocks of type `text` (and `thinking`).
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

const TEXT_BLOCKS: ReadonlySet<string> = new Set(["text"]);

function blocks(out: TextSlot[], content: unknown, base: (string | number)[], role: string | undefined): void {
  if (typeof content === "string") {
    out.push(slot(base, content, role));
    return;
  }
  if (!Array.isArray(content)) return;
  for (let j = 0; j < content.length; j++) {
    const b: unknown = content[j];
    if (!isRecord(b)) continue;
    if (b.type === "text" && typeof b.text === "string") out.push(slot([...base, j, "text"], b.text, role));
    else if (b.type === "thinking" && typeof b.thinking === "string")
      out.push(slot([...base, j, "thinking"], b.thinking, "thinking"));
    else if (b.type === "tool_result") pushTextParts(out, b.content, [...base, j, "content"], "tool", TEXT_BLOCKS);
  }
}

export const anthropicMessages: GuardAdapter = {
  name: "anthropic-messages",
  extractRequest(body) {
    const doc = rootObject(body);
    const out: TextSlot[] = [];
    blocks(out, doc.system, ["system"], "system");
    const msgs = doc.messages;
    if (Array.isArray(msgs)) {
      for (let i = 0; i < msgs.length; i++) {
        const m: unknown = msgs[i];
        if (isRecord(m)) blocks(out, m.content, ["messages", i, "content"], roleOf(m));
      }
    }
    return out;
  },
  extractResponse(body) {
    const out: TextSlot[] = [];
    blocks(out, rootObject(body).content, ["content"], "assistant");
    return out;
  },
  rewrite(doc, s, newText) {
    setAtPath(doc, s.path, newText);
  },
};

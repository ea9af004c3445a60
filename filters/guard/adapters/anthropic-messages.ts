/**
 * Anthropic Messages (`/v1/messages`, `/v1/messages/count_tokens`, the legacy `/v1/complete`).
 *
 * Request: every text field (walk.ts) — `system` (a string or text blocks: one text), `messages[]`
 * content blocks (`text`, `document` with text or content sources, `search_result`, `tool_result` with
 * any content, `tool_use.input` objects with their keys, thinking), `tools[]` (descriptions and input
 * schemas with their property names), legacy `prompt`. One group per message, per tool, one for system.
 * Response: every text field of `content[]` — `text`, `thinking`, `tool_use.input`, server tool
 * results — as one text (one assistant message).
 */
import { type GuardAdapter, type JsonPath, rootObject, setAtPath, type TextSlot } from "./types.ts";
import { groupByItem, walkStrings } from "./walk.ts";

const requestGroup = (path: JsonPath): string | undefined => (path[0] === "system" ? "system" : groupByItem(path));
const responseGroup = (path: JsonPath): string | undefined => (path[0] === "content" ? "content" : groupByItem(path));

export const anthropicMessages: GuardAdapter = {
  name: "anthropic-messages",
  extractRequest(body) {
    const out: TextSlot[] = [];
    walkStrings(rootObject(body), [], out, requestGroup, { ids: true });
    return out;
  },
  extractResponse(body) {
    const out: TextSlot[] = [];
    walkStrings(rootObject(body), [], out, responseGroup);
    return out;
  },
  rewrite(doc, s, newText) {
    setAtPath(doc, s.path, newText);
  },
};

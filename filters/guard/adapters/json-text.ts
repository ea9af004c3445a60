/**
 * Any JSON document on an LLM provider's host, scanned as text: every string (walk.ts rules), one group
 * per top-level field or top-level array element. The catch-all adapter for provider paths nobody wrote
 * an adapter for (embeddings, moderations, batches, …), so no path on an LLM host goes unscanned.
 * Unlike the provider adapters it accepts any JSON value at the top (NDJSON lines, arrays). A prompt
 * given as token ids (embeddings `input: [[1, 2]]`) cannot be read: `guard.token_input`, unscannable.
 */
import { type GuardAdapter, parseJsonBody, setAtPath, type TextSlot } from "./types.ts";
import { groupByItem, refuseTokenInput, walkStrings } from "./walk.ts";

function extract(body: unknown, request = false): TextSlot[] {
  const doc = parseJsonBody(body);
  if (request) refuseTokenInput(doc);
  const out: TextSlot[] = [];
  if (typeof doc === "string") out.push({ path: [], text: doc });
  else walkStrings(doc, [], out, groupByItem, { ids: request });
  return out;
}

export const jsonText: GuardAdapter = {
  name: "json-text",
  extractRequest: (body) => extract(body, true),
  extractResponse: (body) => extract(body),
  rewrite(doc, s, newText) {
    setAtPath(doc, s.path, newText);
  },
};

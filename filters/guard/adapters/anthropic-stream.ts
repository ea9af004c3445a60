/**
 * Anthropic Messages streaming: which strings of an SSE event are text deltas, snapshots or plain text
 * (see stream-event.ts), and Anthropic's own `event: error` ending a blocked stream (the
 * `@anthropic-ai/sdk` throws an APIError on it).
 *
 * Events are classified by their data's `type` (Anthropic always sends it), never by the `event:` line,
 * which may be missing or disagree. Per content block `index`, one stream `b<index>/`: the initial
 * `text`/`thinking` of `content_block_start` and every `text_delta.text`, `thinking_delta.thinking` and
 * `input_json_delta.partial_json`; `content_block_stop` ends it, `message_stop` ends the stream. Everything
 * else with text — a `tool_use` block's `input` object in `content_block_start`, citations, the message
 * in `message_start`, error messages — is plain text, scanned too. Legacy `/v1/complete` streams
 * (`completion` events) are one stream of their `completion` deltas.
 */
import { formatSseEvent, type SseEvent } from "./sse.ts";
import { type EventView, eventSlots, NO_TEXT, parseEventData, type StreamRef } from "./stream-event.ts";
import type { StreamErrorInfo } from "./openai-stream.ts";
import { isRecord, type JsonPath } from "./types.ts";

const DELTA_FIELDS = new Set(["text", "thinking", "partial_json"]);
const START_FIELDS = new Set(["text", "thinking"]);

/** Classify one event's texts. Throws `guard.bad_json` (or `guard.duplicate_key`) on bad data. */
export function anthropicStreamEvent(ev: SseEvent): EventView {
  if (!ev.dispatched) return NO_TEXT;
  const d = parseEventData(ev);
  const type = isRecord(d) && typeof d.type === "string" ? d.type : "";
  const index = isRecord(d) && typeof d.index === "number" && Number.isInteger(d.index) ? d.index : 0;
  const key = `b${index}/`;
  let refOf: (p: JsonPath) => StreamRef | undefined = () => undefined;
  if (type === "content_block_delta")
    refOf = (p) =>
      p.length === 2 && p[0] === "delta" && DELTA_FIELDS.has(String(p[1])) ? { key, kind: "delta" } : undefined;
  else if (type === "completion")
    // legacy /v1/complete: one text stream
    refOf = (p) => (p.length === 1 && p[0] === "completion" ? { key: "completion/", kind: "delta" } : undefined);
  else if (type === "content_block_start")
    refOf = (p) =>
      p.length === 2 && p[0] === "content_block" && START_FIELDS.has(String(p[1])) ? { key, kind: "delta" } : undefined;
  return {
    doc: d,
    slots: eventSlots(d, refOf),
    ends: type === "content_block_stop" ? [key] : [],
    done: type === "message_stop",
  };
}

/** `event: error` + `{"type":"error","error":{"type","message"}}` — Anthropic's stream error event. */
export function anthropicStreamError(e: StreamErrorInfo): string {
  return formatSseEvent({
    event: "error",
    data: JSON.stringify({ type: "error", error: { type: e.type ?? "permission_error", message: e.message } }),
  });
}

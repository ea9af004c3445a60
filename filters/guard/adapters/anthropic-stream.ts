/**
 * Anthropic Messages streaming: `content_block_delta` events carry `text_delta.text` (and
 * `thinking_delta.thinking`) per content block `index`; `message_stop` ends the stream. A blocked
 * stream ends with Anthropic's own `event: error` (the `@anthropic-ai/sdk` throws an APIError on it).
 */
import { HexrError } from "../../errors.ts";
import { isRecord } from "./types.ts";
import type { StreamDeltas, StreamErrorInfo } from "./openai-stream.ts";
import { formatSseEvent, replaceEventData, type SseEvent } from "./sse.ts";

const NONE: StreamDeltas = { deltas: [], done: false };

function parseData(ev: SseEvent): unknown {
  try {
    return JSON.parse(ev.data);
  } catch (e) {
    throw new HexrError("guard.bad_json", "stream event data is not valid JSON", { cause: e });
  }
}

function deltaField(delta: Record<string, unknown>): "text" | "thinking" | null {
  if (delta.type === "text_delta" && typeof delta.text === "string") return "text";
  if (delta.type === "thinking_delta" && typeof delta.thinking === "string") return "thinking";
  return null;
}

/** Text deltas in one event (by content block index). Throws `guard.bad_json` on unparseable data. */
export function anthropicStreamDeltas(ev: SseEvent): StreamDeltas {
  if (!ev.dispatched) return NONE;
  if (ev.event === "message_stop") return { deltas: [], done: true };
  if (ev.event !== "content_block_delta" && ev.event !== "content_block_start") return NONE;
  const d = parseData(ev);
  if (!isRecord(d)) return NONE;
  const index = typeof d.index === "number" ? d.index : 0;
  if (isRecord(d.delta)) {
    const f = deltaField(d.delta);
    if (f !== null) return { deltas: [{ index, text: d.delta[f] as string }], done: false };
  }
  const block = d.content_block;
  if (isRecord(block) && block.type === "text" && typeof block.text === "string" && block.text.length > 0) {
    return { deltas: [{ index, text: block.text }], done: false };
  }
  return NONE;
}

/** The event with its delta text replaced (`texts` by content block index). */
export function anthropicWithDeltas(ev: SseEvent, texts: ReadonlyMap<number, string>): string {
  const d = parseData(ev);
  if (!isRecord(d)) return ev.raw;
  const t = texts.get(typeof d.index === "number" ? d.index : 0);
  if (t === undefined) return ev.raw;
  if (isRecord(d.delta)) {
    const f = deltaField(d.delta);
    if (f === null) return ev.raw;
    d.delta[f] = t;
  } else if (isRecord(d.content_block) && typeof d.content_block.text === "string") d.content_block.text = t;
  else return ev.raw;
  return replaceEventData(ev.raw, JSON.stringify(d));
}

/** `event: error` + `{"type":"error","error":{"type","message"}}` — Anthropic's stream error event. */
export function anthropicStreamError(e: StreamErrorInfo): string {
  return formatSseEvent({
    event: "error",
    data: JSON.stringify({ type: "error", error: { type: e.type ?? "permission_error", message: e.message } }),
  });
}

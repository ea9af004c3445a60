/**
 * OpenAI streaming: text deltas out of SSE events, replacement text back in, and the error event that
 * ends a blocked stream in OpenAI's own format (the `openai` SDK throws an APIError when a chunk has
 * `error`). Handles Chat Completions chunks (`choices[].delta.content`) and Responses API events
 * (`response.output_text.delta`). `data: [DONE]` ends the stream.
 */
import { HexrError } from "../../errors.ts";
import { isRecord } from "./types.ts";
import { formatSseEvent, replaceEventData, type SseEvent } from "./sse.ts";

export interface StreamDelta {
  /** Which text stream (choice index, or output/content index for Responses): scan each separately. */
  readonly index: number;
  readonly text: string;
}

export interface StreamDeltas {
  readonly deltas: StreamDelta[];
  /** The event ends the stream (`[DONE]`, `response.completed`). */
  readonly done: boolean;
}

const NONE: StreamDeltas = { deltas: [], done: false };
const RESPONSES_STRIDE = 1024;

function parseData(ev: SseEvent): unknown {
  try {
    return JSON.parse(ev.data);
  } catch (e) {
    throw new HexrError("guard.bad_json", "stream event data is not valid JSON", { cause: e });
  }
}

/** Text deltas in one event; non-text events yield none. Throws `guard.bad_json` on unparseable data. */
export function openAiStreamDeltas(ev: SseEvent): StreamDeltas {
  if (!ev.dispatched) return NONE;
  if (ev.data === "[DONE]") return { deltas: [], done: true };
  const d = parseData(ev);
  if (!isRecord(d)) return NONE;
  if (typeof d.type === "string") {
    if (d.type === "response.output_text.delta" && typeof d.delta === "string") {
      return { deltas: [{ index: responsesIndex(d), text: d.delta }], done: false };
    }
    return { deltas: [], done: d.type === "response.completed" || d.type === "response.failed" };
  }
  const choices = d.choices;
  if (!Array.isArray(choices)) return NONE;
  const deltas: StreamDelta[] = [];
  for (let i = 0; i < choices.length; i++) {
    const c: unknown = choices[i];
    if (!isRecord(c) || !isRecord(c.delta)) continue;
    const text = c.delta.content;
    if (typeof text === "string" && text.length > 0)
      deltas.push({ index: typeof c.index === "number" ? c.index : i, text });
  }
  return { deltas, done: false };
}

function responsesIndex(d: Record<string, unknown>): number {
  const o = typeof d.output_index === "number" ? d.output_index : 0;
  const c = typeof d.content_index === "number" ? d.content_index : 0;
  return o * RESPONSES_STRIDE + c;
}

/** The event with its text deltas replaced (`texts` by stream index); other fields and lines kept. */
export function openAiWithDeltas(ev: SseEvent, texts: ReadonlyMap<number, string>): string {
  const d = parseData(ev);
  if (!isRecord(d)) return ev.raw;
  if (d.type === "response.output_text.delta") {
    const t = texts.get(responsesIndex(d));
    if (t === undefined) return ev.raw;
    d.delta = t;
  } else if (Array.isArray(d.choices)) {
    d.choices.forEach((c: unknown, i: number) => {
      if (!isRecord(c) || !isRecord(c.delta) || typeof c.delta.content !== "string") return;
      const t = texts.get(typeof c.index === "number" ? c.index : i);
      if (t !== undefined) c.delta.content = t;
    });
  }
  return replaceEventData(ev.raw, JSON.stringify(d));
}

export interface StreamErrorInfo {
  readonly message: string;
  readonly type?: string;
  readonly code?: string;
}

/** `data: {"error":{"message","type","code","param":null}}` — the OpenAI-format event ending a blocked stream. */
export function openAiStreamError(e: StreamErrorInfo): string {
  return formatSseEvent({
    data: JSON.stringify({
      error: {
        message: e.message,
        type: e.type ?? "hexr_guard_blocked",
        code: e.code ?? "content_blocked",
        param: null,
      },
    }),
  });
}

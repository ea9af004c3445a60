/**
 * OpenAI streaming: which strings of an SSE event are text deltas, snapshots or plain text (see
 * stream-event.ts), and the error event that ends a blocked stream in OpenAI's own format (the `openai`
 * SDK throws an APIError when a chunk has `error`).
 *
 * Chat Completions chunks (`choices[]`, per choice `index`): `delta.content`, `delta.refusal`,
 * `delta.tool_calls[].function.arguments` (per tool-call `index`), legacy `delta.function_call.arguments`,
 * `delta.audio.transcript` (not redactable: the audio carries the same words), and legacy completions'
 * `text`; a `finish_reason` ends the choice's streams; `data: [DONE]` ends the stream.
 *
 * Responses API events: `*.delta` of output text, refusals, reasoning text and summaries, function-call,
 * custom-tool and MCP arguments, code-interpreter code, audio transcripts; their `*.done` events,
 * `content_part.*`, `output_item.*` and the lifecycle events (`response.created` … `response.completed`,
 * whose `response.output[]` repeats every item) are snapshots of the same streams. Everything else with
 * text in it is plain text, scanned too.
 */
import { formatSseEvent, type SseEvent } from "./sse.ts";
import {
  type EventView,
  eventSlots,
  NO_TEXT,
  parseEventData,
  type StreamRef,
  type StreamSlot,
} from "./stream-event.ts";
import { isRecord, type JsonPath } from "./types.ts";
import { isDataUrl, isNotTextKey } from "./walk.ts";

const DONE: EventView = Object.freeze({ doc: undefined, slots: [], ends: [], done: true });

const num = (v: unknown, dflt: number): number => (typeof v === "number" && Number.isInteger(v) ? v : dflt);

/** Classify one event's texts. Throws `guard.bad_json` (or `guard.duplicate_key`) on bad data. */
export function openAiStreamEvent(ev: SseEvent): EventView {
  if (!ev.dispatched) return NO_TEXT;
  if (ev.data === "[DONE]") return DONE;
  const d = parseEventData(ev);
  if (isRecord(d) && typeof d.type === "string" && d.type.startsWith("response.")) return responsesEvent(d, d.type);
  if (isRecord(d) && Array.isArray(d.choices)) return plainChatChunk(d, d.choices) ?? chatChunk(d, d.choices);
  return { doc: d, slots: eventSlots(d, () => undefined), ends: [], done: false };
}

// ---- Chat Completions --------------------------------------------------------------------------------

/** Top-level fields of a plain chunk, and whether each is an id/enum string (never text) or a number. */
const PLAIN_CHUNK: Readonly<Record<string, "string" | "number" | "choices" | "usage">> = {
  id: "string",
  object: "string",
  model: "string",
  system_fingerprint: "string",
  service_tier: "string",
  obfuscation: "string",
  created: "number",
  choices: "choices",
  usage: "usage",
};
const PLAIN_CHOICE = new Set(["index", "delta", "finish_reason", "logprobs"]);
// the fast path skips these strings unread; the walk must skip them too (or the fast path would hide text)
for (const k of [...Object.keys(PLAIN_CHUNK).filter((k) => PLAIN_CHUNK[k] === "string"), "role", "finish_reason"])
  if (!isNotTextKey(k)) throw new Error(`plainChatChunk skips ${k}, which walk.ts reads as text`);

/**
 * The chunk nearly every event of a streamed answer is — one choice whose delta holds a role and/or
 * content — classified without the generic walk: exactly what {@link chatChunk} returns for it (the unit
 * test compares the two on generated chunks). Anything else (another field, a refusal, tool calls, usage,
 * a second choice, a data URL as content) → undefined, and the walk reads it.
 */
export function plainChatChunk(d: Record<string, unknown>, choices: unknown[]): EventView | undefined {
  if (choices.length !== 1) return undefined;
  for (const k in d) {
    const want = PLAIN_CHUNK[k];
    const v = d[k];
    if (want === undefined || !Object.hasOwn(PLAIN_CHUNK, k)) return undefined;
    if (want === "string" && v !== null && typeof v !== "string") return undefined;
    if (want === "number" && typeof v !== "number") return undefined;
    if (want === "usage" && v !== null) return undefined;
  }
  const c = choices[0];
  if (!isRecord(c)) return undefined;
  for (const k in c) if (!PLAIN_CHOICE.has(k)) return undefined;
  const delta = c.delta;
  if (!isRecord(delta)) return undefined;
  let content: string | undefined;
  for (const k in delta) {
    const v = delta[k];
    if (k === "role" && (v === null || typeof v === "string")) continue;
    if (k === "content" && v === null) continue;
    if (k === "content" && typeof v === "string" && !isDataUrl(v)) content = v;
    else return undefined;
  }
  const fr = c.finish_reason;
  if (fr !== undefined && fr !== null && typeof fr !== "string") return undefined;
  const index = c.index;
  if (index !== undefined && typeof index !== "number") return undefined;
  const ch = `c${num(index, 0)}`;
  const slots: StreamSlot[] =
    content === undefined || content === ""
      ? []
      : [
          {
            path: ["choices", 0, "delta", "content"],
            text: content,
            group: "event",
            sep: "\n",
            stream: { key: `${ch}/t/`, kind: "delta" },
          },
        ];
  return { doc: d, slots, ends: typeof fr === "string" ? [`${ch}/`] : [], done: false };
}

/** Every chunk, through the generic walk (exported for the test that holds the fast path to it). */
export function chatChunk(d: Record<string, unknown>, choices: unknown[]): EventView {
  const ends: string[] = [];
  const choiceIndex = (j: number): number => num(isRecord(choices[j]) ? choices[j].index : undefined, j);
  for (let j = 0; j < choices.length; j++) {
    const c = choices[j];
    if (isRecord(c) && typeof c.finish_reason === "string") ends.push(`c${choiceIndex(j)}/`);
  }
  const refOf = (p: JsonPath): StreamRef | undefined => {
    if (p[0] !== "choices" || typeof p[1] !== "number") return undefined;
    const c = `c${choiceIndex(p[1])}`;
    if (p.length === 3 && p[2] === "text") return { key: `${c}/t/`, kind: "delta" }; // legacy completions
    if (p[2] !== "delta") return undefined;
    const f = p[3];
    if (p.length === 4 && f === "content") return { key: `${c}/t/`, kind: "delta" };
    if (p.length === 4 && f === "refusal") return { key: `${c}/r/`, kind: "delta" };
    if (p.length === 5 && f === "function_call" && p[4] === "arguments") return { key: `${c}/f/`, kind: "delta" };
    if (p.length === 5 && f === "audio" && p[4] === "transcript")
      return { key: `${c}/a/`, kind: "delta", redactable: false };
    if (p.length === 7 && f === "tool_calls" && typeof p[4] === "number" && p[6] === "arguments") {
      const delta = (choices[p[1]] as Record<string, unknown>).delta as Record<string, unknown>;
      const call = (delta.tool_calls as unknown[])[p[4]];
      return { key: `${c}/tc${num(isRecord(call) ? call.index : undefined, p[4])}/`, kind: "delta" };
    }
    return undefined;
  };
  return { doc: d, slots: eventSlots(d, refOf), ends, done: false };
}

// ---- Responses API -----------------------------------------------------------------------------------

/** Delta event types → the stream (relative to the output item) their `delta` extends. */
const RESPONSES_DELTAS: Readonly<Record<string, (d: Record<string, unknown>) => string>> = {
  "response.output_text.delta": (d) => `c${num(d.content_index, 0)}/`,
  "response.refusal.delta": (d) => `c${num(d.content_index, 0)}/`,
  "response.reasoning_text.delta": (d) => `c${num(d.content_index, 0)}/`,
  "response.reasoning_summary_text.delta": (d) => `s${num(d.summary_index, 0)}/`,
  "response.function_call_arguments.delta": () => "args/",
  "response.custom_tool_call_input.delta": () => "args/",
  "response.mcp_call_arguments.delta": () => "args/",
  "response.code_interpreter_call_code.delta": () => "code/",
};

/** `*.done` event types → [field holding the whole text, its stream relative to the item]. */
const RESPONSES_DONE: Readonly<Record<string, (d: Record<string, unknown>) => [string, string]>> = {
  "response.output_text.done": (d) => ["text", `c${num(d.content_index, 0)}/`],
  "response.refusal.done": (d) => ["refusal", `c${num(d.content_index, 0)}/`],
  "response.reasoning_text.done": (d) => ["text", `c${num(d.content_index, 0)}/`],
  "response.reasoning_summary_text.done": (d) => ["text", `s${num(d.summary_index, 0)}/`],
  "response.function_call_arguments.done": () => ["arguments", "args/"],
  "response.mcp_call_arguments.done": () => ["arguments", "args/"],
  "response.custom_tool_call_input.done": () => ["input", "args/"],
  "response.code_interpreter_call_code.done": () => ["code", "code/"],
};

const LIFECYCLE_DONE = new Set(["response.completed", "response.failed", "response.incomplete"]);

/** A string inside an output item (`rest` = path below the item) → its stream, relative to the item. */
function itemStream(rest: JsonPath): string | undefined {
  if (rest.length === 3 && rest[0] === "content" && typeof rest[1] === "number")
    return rest[2] === "text" || rest[2] === "refusal" ? `c${rest[1]}/` : undefined;
  if (rest.length === 3 && rest[0] === "summary" && typeof rest[1] === "number" && rest[2] === "text")
    return `s${rest[1]}/`;
  if (rest.length === 1 && (rest[0] === "arguments" || rest[0] === "input")) return "args/";
  if (rest.length === 1 && rest[0] === "code") return "code/";
  return undefined;
}

function responsesEvent(d: Record<string, unknown>, type: string): EventView {
  const o = `o${num(d.output_index, 0)}/`;
  const snap = (key: string): StreamRef => ({ key, kind: "snapshot" });
  const ends: string[] = [];
  let refOf: (p: JsonPath) => StreamRef | undefined = () => undefined;
  const delta = RESPONSES_DELTAS[type];
  const done = RESPONSES_DONE[type];
  if (delta) {
    const key = o + delta(d);
    refOf = (p) => (p.length === 1 && p[0] === "delta" ? { key, kind: "delta" } : undefined);
  } else if (type === "response.audio.transcript.delta") {
    refOf = (p) =>
      p.length === 1 && p[0] === "delta" ? { key: "audio/", kind: "delta", redactable: false } : undefined;
  } else if (type === "response.audio.transcript.done") {
    ends.push("audio/");
  } else if (done) {
    const [field, rel] = done(d);
    ends.push(o + rel);
    refOf = (p) => (p.length === 1 && p[0] === field ? snap(o + rel) : undefined);
  } else if (type.startsWith("response.content_part.") || type.startsWith("response.reasoning_summary_part.")) {
    const rel = type.startsWith("response.content_part.")
      ? `c${num(d.content_index, 0)}/`
      : `s${num(d.summary_index, 0)}/`;
    if (type.endsWith(".done")) ends.push(o + rel);
    refOf = (p) =>
      p.length === 2 && p[0] === "part" && (p[1] === "text" || p[1] === "refusal") ? snap(o + rel) : undefined;
  } else if (type.startsWith("response.output_item.")) {
    if (type === "response.output_item.done") ends.push(o);
    refOf = (p) => {
      const rel = p[0] === "item" ? itemStream(p.slice(1)) : undefined;
      return rel === undefined ? undefined : snap(o + rel);
    };
  } else if (isRecord(d.response)) {
    refOf = (p) => {
      if (p[0] !== "response" || p[1] !== "output" || typeof p[2] !== "number") return undefined;
      const rel = itemStream(p.slice(3));
      return rel === undefined ? undefined : snap(`o${p[2]}/${rel}`);
    };
  }
  return { doc: d, slots: eventSlots(d, refOf), ends, done: LIFECYCLE_DONE.has(type) };
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

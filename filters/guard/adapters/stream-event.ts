/**
 * One SSE event as the stream guard reads it: every text string of its data (walk.ts rules), each
 * classified by the provider adapter as
 *
 * - a **delta** of a named text stream (`c0/t/` = choice 0's content, `o1/c0/` = output item 1's content
 *   part 0, `b2/` = content block 2): scanned with the stream's earlier text, held back and released by
 *   the stream scanner;
 * - a **snapshot** of a stream (a `*.done` event, `response.completed`, `output_item.done`): the stream's
 *   whole text. If it equals what was streamed, the redacted stream text replaces it, so every copy of a
 *   redacted span is rewritten the same way; if not, it is scanned on its own;
 * - **plain** text (anything else: tool inputs, error messages, echoed instructions): scanned as one
 *   document per event.
 *
 * Stream keys end with "/", so `ends` can name one stream (`o1/c0/`) or every stream of an item (`o1/`).
 */
import { parseStrictJson } from "./strict-json.ts";
import type { SseEvent } from "./sse.ts";
import { clearLogprobs, type JsonPath, setAtPath, type TextSlot } from "./types.ts";
import { replaceEventData } from "./sse.ts";
import { walkStrings } from "./walk.ts";

export interface StreamRef {
  readonly key: string;
  readonly kind: "delta" | "snapshot";
  /** false: the stream cannot be redacted (an audio transcript): a redaction blocks. */
  readonly redactable?: boolean;
}

export interface StreamSlot extends TextSlot {
  readonly stream?: StreamRef;
}

export interface EventView {
  /** The parsed data (rewritten in place by {@link rewriteEvent}); undefined when there is none. */
  readonly doc: unknown;
  readonly slots: readonly StreamSlot[];
  /** Key prefixes of the streams this event finishes. */
  readonly ends: readonly string[];
  /** The event ends the whole stream (`[DONE]`, `response.completed`, `message_stop`). */
  readonly done: boolean;
}

export const NO_TEXT: EventView = Object.freeze({ doc: undefined, slots: [], ends: [], done: false });

/** Strict JSON of an event's data: `guard.bad_json`, `guard.duplicate_key`, `guard.too_deep`. */
export function parseEventData(ev: SseEvent): unknown {
  return parseStrictJson(ev.data, "stream event data is not valid JSON");
}

/**
 * Every text string of `doc`, classified by `refOf(path)` (undefined: plain). Keys and decoded views
 * (not redactable) are never deltas: they are scanned as plain text of the event.
 */
export function eventSlots(doc: unknown, refOf: (path: JsonPath) => StreamRef | undefined): StreamSlot[] {
  const raw: TextSlot[] = [];
  walkStrings(doc, [], raw, () => "event");
  const out: StreamSlot[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const s = raw[i]!;
    const ref = s.redactable === false ? undefined : refOf(s.path);
    if (ref === undefined) out[i] = s;
    else if (ref.kind === "snapshot" && s.redactable === false) out[i] = s;
    else out[i] = { ...s, stream: ref, ...(ref.redactable === false ? { redactable: false } : {}) };
  }
  return out;
}

/** The event with the given slots' texts replaced (by slot index); other fields and lines kept. */
export function rewriteEvent(ev: SseEvent, view: EventView, texts: ReadonlyMap<number, string>): string {
  if (texts.size === 0 || view.doc === undefined) return ev.raw;
  let doc = view.doc;
  for (const [i, t] of texts) {
    const s = view.slots[i]!;
    if (s.path.length === 0) {
      doc = t; // the data is one JSON string
      continue;
    }
    setAtPath(doc, s.path, t);
    clearLogprobs(doc, s.path);
  }
  return replaceEventData(ev.raw, JSON.stringify(doc));
}

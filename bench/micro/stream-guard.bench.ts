/**
 * The streamed-response guard in process: one whole OpenAI Chat Completions SSE answer through
 * `StreamGuard.push` (64 content events of one 12-character word each, the bench upstream's answer, and a
 * 512-event one): one chunk per event (a model's tokens trickling in), and the whole answer in one chunk —
 * how Envoy hands `hexr-guard-stream`'s answer over (`bench/micro/extproc-chunks.ts` counts 1 message).
 */
import { chatEvents, formatEvents } from "../../sidecars/devtools/llm-upstream.ts";
import { DEFAULT_GUARD_POLICY } from "../../filters/guard/policy.ts";
import { StreamGuard } from "../../sidecars/extproc/stream-guard.ts";
import type { MicroSuite } from "./harness.ts";

const WORDS = "the quarterly report shows steady growth across regions while costs stayed within the plan".split(" ");

function sseChunks(events: number): Uint8Array[] {
  const reply = Array.from({ length: events }, (_, i) => `${WORDS[i % WORDS.length]} `.padEnd(12)).join("");
  const enc = new TextEncoder();
  return formatEvents(chatEvents({ model: "gpt-4o-mini", reply, deltaSize: 12 })).map((e) => enc.encode(e));
}

const suite: MicroSuite = (bench) => {
  for (const events of [64, 512]) {
    const chunks = sseChunks(events);
    bench.add(`stream guard: ${events}-event SSE answer, one chunk per event`, () => {
      const g = new StreamGuard("openai", DEFAULT_GUARD_POLICY);
      for (let i = 0; i < chunks.length; i++) {
        const r = g.push(chunks[i] as Uint8Array, i === chunks.length - 1);
        if (r.blocked || r.error) throw new Error(`unexpected: ${r.error ?? "blocked"}`);
      }
    });
    const whole = Buffer.concat(chunks);
    bench.add(`stream guard: ${events}-event SSE answer, in one chunk`, () => {
      const r = new StreamGuard("openai", DEFAULT_GUARD_POLICY).push(whole, true);
      if (r.blocked || r.error) throw new Error(`unexpected: ${r.error ?? "blocked"}`);
    });
  }
};
export default suite;

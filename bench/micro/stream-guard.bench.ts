/**
 * The streamed-response guard in process: one whole OpenAI Chat Completions SSE answer through
 * `StreamGuard.push`, one chunk per event as Envoy hands them over, the way `hexr-guard-stream` sends it
 * (64 content events of one 12-character word each, the bench upstream's answer), and a 512-event one.
 * What is left of the scenario's CPU per request beyond this is the ext_proc hop (gRPC messages).
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
  }
};
export default suite;

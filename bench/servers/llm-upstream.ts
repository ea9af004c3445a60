/**
 * The OpenAI-compatible upstream for the guard scenarios, run as its own process: the same server the
 * tests and the demo use (`sidecars/devtools/llm-upstream.ts`: real JSON and SSE wire formats, one write
 * per SSE event), without request recording. Prints `listening <port>` when ready.
 *
 * Usage: node bench/servers/llm-upstream.ts [--events N]
 */
import { parseArgs } from "node:util";
import { startLlmUpstream } from "../../sidecars/devtools/llm-upstream.ts";

/** Default number of SSE content events per streamed answer (≈ 8 KiB of SSE). */
const DEFAULT_EVENTS = 64;
const WORD_CHARS = 12;
const WORDS = "the quarterly report shows steady growth across regions while costs stayed within the plan".split(" ");

const { values } = parseArgs({ options: { events: { type: "string" } } });
const events = Number(values.events ?? DEFAULT_EVENTS);
// one word per event: each padded to the delta size so the stream has exactly `events` content events
const reply = Array.from({ length: events }, (_, i) => `${WORDS[i % WORDS.length]} `.padEnd(WORD_CHARS)).join("");

const upstream = await startLlmUpstream({ record: false, reply, deltaSize: WORD_CHARS });
process.stdout.write(`listening ${upstream.port}\n`);
process.once("SIGTERM", () => {
  upstream.close().then(() => process.exit(0));
});

/**
 * Micro-benchmark of the LLM guard: each scanner and the whole `scanText` pipeline on realistic mixed
 * text (prose, code, markdown, a little PII and non-ASCII) at 1 KB, 4 KB and 16 KB.
 * Target: a 4 KB prompt through every scanner in ≤ 0.5 ms at p99.
 *
 *   node bench/micro/guard.bench.ts            (HEXR_BENCH_TIME=ms per task, default 1000)
 */
import { Bench } from "tinybench";
import { scanInvisible } from "../../filters/guard/invisible.ts";
import { normalize } from "../../filters/guard/normalize.ts";
import { scanPii } from "../../filters/guard/pii.ts";
import { defaultLinearModel } from "../../filters/guard/injection-model.ts";
import { scanInjection, setLearnedInjectionModel } from "../../filters/guard/prompt-injection.ts";
import { scanText } from "../../filters/guard/scan.ts";
import { scanSecrets } from "../../filters/guard/secrets.ts";

const PARAGRAPHS = [
  "Hi team, following up on yesterday's planning meeting. We agreed to ship the billing migration in two phases: first the read path, then writes behind a flag. Please review the rollout doc before Thursday and leave comments inline.",
  "Can you summarize the attached incident report? The outage started at 14:05 UTC when the connection pool was exhausted; p99 latency went from 120 ms to 4.2 s. Root cause looks like a missing index on orders(customer_id, created_at).",
  '```python\ndef load_config(path: str) -> dict:\n    with open(path) as f:\n        cfg = yaml.safe_load(f)\n    system = cfg.get("system", {})\n    return {**DEFAULTS, **system}\n```',
  "Refactor this function so that it streams results instead of building a list, and add type hints. Keep the public signature unchanged; callers in reports/ and exports/ depend on it.",
  "For context, see [the design doc](https://docs.example.com/design/billing-v2?rev=12) and the dashboard ![latency](https://grafana.example.com/render/d/abc?width=600&height=300).",
  "Customer wrote: « Bonjour, je n'arrive pas à me connecter depuis la mise à jour. » Please draft a polite reply in French and English. Ticket #48213, priority normal.",
  "会议纪要：下周一上午十点讨论发布计划，请各位提前准备材料。Thanks! 🎉 The demo went well 👍🏽 and the client asked for a follow-up.",
  "If anything is unclear, reach me at dana.kim@example.org or on +1 415 555 0132 after 3pm. My manager is cc'd.",
  '{"query": "SELECT id, total FROM invoices WHERE status = \'open\' LIMIT 50", "timeout_ms": 3000, "retries": 2}',
  "Translate the following paragraph into German, keeping technical terms in English: The sidecar intercepts outbound requests, verifies the workload identity and injects short-lived credentials.",
];

function mixedText(bytes: number, seed: number): string {
  let s = "";
  let k = seed;
  while (Buffer.byteLength(s) < bytes) {
    s += `${PARAGRAPHS[k % PARAGRAPHS.length]}\n\n`;
    k = (k * 7 + 3) % 101;
  }
  while (Buffer.byteLength(s) > bytes - 1) s = s.slice(0, -1);
  return s;
}

const SIZES = [1024, 4096, 16384] as const;
const time = Number(process.env.HEXR_BENCH_TIME ?? 1000);
const bench = new Bench({ time, warmupTime: 200 });

/**
 * Distinct flat string objects per size, rotated per call: the RE2 binding caches the UTF-8 copy of
 * the last string it saw, and a request body is always a new string.
 */
const COPIES = 32;
/** The learned injection tier alone, and the rules without it ("injection" is both, as in scanText). */
const learned = defaultLinearModel();
const rulesOnly = {
  beforeAll: () => setLearnedInjectionModel(null),
  afterAll: () => setLearnedInjectionModel(learned),
};

for (const size of SIZES) {
  const texts = Array.from(
    { length: COPIES },
    (_, k) => JSON.parse(JSON.stringify(mixedText(size, size) + String(k % 10))) as string,
  );
  const norms = texts.map(normalize);
  const label = `${size / 1024}KB`;
  let k = 0;
  const next = (): number => (k = (k + 1) % COPIES);
  bench.add(`normalize ${label}`, () => normalize(texts[next()]!));
  bench.add(`invisible ${label}`, () => scanInvisible(texts[next()]!, norms[k]));
  bench.add(`secrets ${label}`, () => scanSecrets(texts[next()]!, norms[k]));
  bench.add(`pii ${label}`, () => scanPii(texts[next()]!, norms[k]));
  bench.add(`injection ${label}`, () => scanInjection(texts[next()]!, norms[k]));
  bench.add(`injection rules only ${label}`, () => scanInjection(texts[next()]!, norms[k]), rulesOnly);
  bench.add(`injection learned tier ${label}`, () => learned.score(norms[next()]!));
  bench.add(`scanText (all) ${label}`, () => scanText(texts[next()]!));
}

await bench.run();

const rows = bench.tasks.map((t) => {
  const r = t.result;
  if (r.state !== "completed") return { task: t.name, state: r.state };
  return {
    task: t.name,
    "ops/s": Math.round(r.throughput.mean),
    "mean µs": +(r.latency.mean * 1000).toFixed(1),
    "p99 µs": +(r.latency.p99 * 1000).toFixed(1),
    samples: r.latency.samplesCount,
  };
});
console.table(rows);

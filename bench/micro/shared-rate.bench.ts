/**
 * Micro-benchmark of the shared per-agent rate counter on a real loopback redis-server: one hit (one
 * Lua round trip), a burst of 100 concurrent hits on one agent (auto-pipelined into a few writes), and a
 * hit while Redis is down (the command fails at once, the local counter answers). The in-process
 * RateCounter is the reference. Standalone (it starts and stops its own Redis); needs redis-server
 * (HEXR_REDIS_SERVER or PATH).
 *
 *   node bench/micro/shared-rate.bench.ts            (HEXR_BENCH_TIME=ms per task, default 1000)
 */
import type { Redis } from "ioredis";
import { Bench } from "tinybench";
import { RateCounter } from "../../filters/authz/rate.ts";
import { defineSharedRate, type RateHit, SharedRateCounter } from "../../filters/authz/shared-rate.ts";
import { startRedis } from "../../sidecars/devtools/redis.ts";
import { createRedis, isUp } from "../../sidecars/redis.ts";

const time = Number(process.env.HEXR_BENCH_TIME ?? 1000);
const KEY = "acme-corp/content-crew";
const BURST = 100;

/**
 * Longer than the sidecar's 20 ms: this measures the round trip, and one late reply on a busy machine
 * would otherwise pause sharing (by design) and leave the rest of the task timing the local fallback.
 */
const COMMAND_TIMEOUT_MS = 1000;

const ready = (c: Redis) => new Promise<void>((resolve) => (isUp(c) ? resolve() : c.once("ready", () => resolve())));
const connect = (url: string) =>
  createRedis({ url, keyPrefix: "hexr:", commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: 1000 });

const redis = await startRedis();
const gone = await startRedis();
const up = connect(redis.url);
const down = connect(gone.url);
try {
  await Promise.all([ready(up), ready(down)]);
  await gone.kill();
  await new Promise<void>((resolve) => (isUp(down) ? down.once("reconnecting", () => resolve()) : resolve()));

  const shared = new SharedRateCounter({ store: defineSharedRate(up) });
  const fallback = new SharedRateCounter({ store: defineSharedRate(down) });
  const local = new RateCounter();
  // a moving clock, so hits spread over seconds and minutes like real traffic
  let now = Date.parse("2026-03-02T10:00:00Z");
  const tick = () => (now += 7);

  const bench = new Bench({ time, warmupTime: 200 });
  bench.add("rate: local RateCounter.hit (reference)", () => {
    local.hit(KEY, tick());
  });
  const mustShare = (h: RateHit) => {
    if (!h.shared) throw new Error("answered by the local fallback: Redis did not reply in time");
  };
  bench.add("rate: shared hit (one Lua round trip, loopback Redis)", async () => {
    mustShare(await shared.hit(KEY, tick()));
  });
  bench.add(`rate: ${BURST} concurrent shared hits, one agent (auto-pipelined)`, async () => {
    const t = tick();
    const hits: Promise<RateHit>[] = [];
    for (let i = 0; i < BURST; i++) hits.push(shared.hit(KEY, t));
    for (const h of await Promise.all(hits)) mustShare(h);
  });
  bench.add("rate: hit with Redis down (fails at once, local answer)", async () => {
    if ((await fallback.hit(KEY, tick())).shared) throw new Error("a stopped Redis answered");
  });
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
} finally {
  up.disconnect();
  down.disconnect();
  await redis.stop();
  await gone.stop();
}

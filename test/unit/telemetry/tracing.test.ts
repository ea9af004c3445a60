import { ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../sidecars/config.ts";
import { telemetryMetrics } from "../../../filters/telemetry/catalog.ts";
import { Registry } from "../../../filters/telemetry/metrics.ts";
import { Tracing } from "../../../sidecars/telemetry/tracing.ts";

/** An exporter that holds every export's callback until the test releases it (a stalled receiver). */
class HeldExporter implements SpanExporter {
  readonly batches: ReadableSpan[][] = [];
  readonly pending: ((ok: boolean) => void)[] = [];
  export(spans: ReadableSpan[], done: (r: { code: ExportResultCode }) => void): void {
    this.batches.push(spans);
    this.pending.push((ok) => done({ code: ok ? ExportResultCode.SUCCESS : ExportResultCode.FAILED }));
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const CFG = {
  endpoint: "http://127.0.0.1:1",
  ratio: 1,
  serviceName: "t",
  maxQueue: 4,
  maxBatch: 2,
  flushIntervalMs: 10_000,
  exportTimeoutMs: 100,
};

function counters(r: Registry): string {
  return r
    .exposition()
    .split("\n")
    .filter((l) => l.startsWith("hexr_trace_"))
    .join("\n");
}

describe("the bounded batch processor", () => {
  it("a stalled receiver: one export in flight, the queue bounded, drops counted, spans ended at once", () => {
    const r = new Registry();
    const exp = new HeldExporter();
    const t = Tracing.start(CFG, telemetryMetrics(r), exp);
    const started = performance.now();
    for (let i = 0; i < 100; i++) t.tracer.startSpan(`s${i}`).end();
    expect(performance.now() - started).toBeLessThan(200);
    expect(exp.batches).toHaveLength(1); // the first full batch; the receiver never answers
    expect(exp.batches[0]).toHaveLength(2);
    expect(counters(r)).toContain("hexr_trace_spans_dropped_total 94");
    exp.pending[0]!(false);
    expect(counters(r)).toContain('hexr_trace_spans_exported_total{result="failed"} 2');
    expect(exp.batches).toHaveLength(2); // the next full batch goes once the first is answered
  });

  it("unsampled parents are not exported; sampling ratio 0 exports nothing", async () => {
    const exp = new HeldExporter();
    const t = Tracing.start({ ...CFG, ratio: 0, maxBatch: 1 }, undefined, exp);
    t.tracer.startSpan("root").end();
    const child = t.tracer.startSpan("c", {}, t.parent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
    expect(child.isRecording()).toBe(false);
    child.end();
    const sampled = t.tracer.startSpan("s", {}, t.parent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    expect(sampled.spanContext().traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    sampled.end();
    expect(exp.batches.map((b) => b.map((s) => s.name))).toEqual([["s"]]);
  });
});

describe("the real OTLP exporter with no receiver listening", () => {
  it("ending spans never waits; the failed export is counted", async () => {
    const r = new Registry();
    // a port nothing listens on: the receiver is down
    const t = Tracing.start(
      { ...CFG, endpoint: "http://127.0.0.1:9", maxQueue: 100, maxBatch: 10, exportTimeoutMs: 500 },
      telemetryMetrics(r),
    );
    const started = performance.now();
    for (let i = 0; i < 25; i++) t.tracer.startSpan(`s${i}`).end();
    expect(performance.now() - started).toBeLessThan(100);
    await t.flush();
    expect(counters(r)).toContain('hexr_trace_spans_exported_total{result="failed"} 25');
    expect(counters(r)).toContain('hexr_trace_spans_exported_total{result="ok"} 0');
    await t.shutdown();
  });
});

describe("telemetry config", () => {
  const base = { trust_domains: ["hexr.cloud"] };
  it("is off by default", () => {
    expect(parseConfig(JSON.stringify(base)).telemetry).toEqual({ agentLabels: false, prices: [] });
  });
  it("parses admin, tracing and prices", () => {
    const t = parseConfig(
      JSON.stringify({
        ...base,
        telemetry: {
          admin: { listen: "127.0.0.1:9464" },
          tracing: { endpoint: "http://127.0.0.1:4317", sampling_ratio: 0.1 },
          llm_prices: { "gpt-4o": { input_per_million: 2.5, output_per_million: 10 } },
        },
      }),
    ).telemetry;
    expect(t.adminListen).toBe("127.0.0.1:9464");
    expect(t.tracing).toMatchObject({ endpoint: "http://127.0.0.1:4317", ratio: 0.1, maxQueue: 2048 });
    expect(t.prices).toEqual([{ model: "gpt-4o", input: 2.5, output: 10 }]);
  });
  it.each([
    [{ tracing: { endpoint: "127.0.0.1:4317" } }, /telemetry.tracing.endpoint/],
    [{ tracing: { endpoint: "http://c:4317", sampling_ratio: 2 } }, /sampling_ratio/],
    [{ admin: { listen: "nope" } }, /telemetry.admin.listen/],
    [{ llm_prices: { m: { input_per_million: -1, output_per_million: 1 } } }, /input_per_million/],
    [{ tracing: { endpoint: "http://c:4317", typo: 1 } }, /telemetry.tracing.typo/],
  ])("refuses %j", (telemetry, msg) => {
    expect(() => parseConfig(JSON.stringify({ ...base, telemetry }))).toThrow(msg);
  });
});

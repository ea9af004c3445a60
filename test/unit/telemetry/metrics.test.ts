import { describe, expect, it } from "vitest";
import { reasonCode } from "../../../sidecars/telemetry/authz.ts";
import { allMetricFamilies } from "../../../filters/telemetry/catalog.ts";
import {
  costUsd,
  modelLabel,
  readRequestFacts,
  readResponseFacts,
  type LlmFacts,
} from "../../../filters/telemetry/llm-facts.ts";
import { guardMetrics } from "../../../filters/telemetry/catalog.ts";
import { mergeExpositions, Registry } from "../../../filters/telemetry/metrics.ts";
import { GuardTelemetry, MAX_MODEL_LABELS } from "../../../sidecars/telemetry/guard.ts";
import { traceIdOf } from "../../../filters/telemetry/traceparent.ts";

describe("Registry", () => {
  it("writes counters, gauges and cumulative histogram buckets in the text format", () => {
    const r = new Registry();
    r.counter("t_total", "A counter.", ["a"]).labels('x"y\\z\n').inc(2);
    r.gauge("g", "A gauge.").labels().set(1.5);
    const h = r.histogram("h_seconds", "A histogram.", ["k"], [0.1, 1]);
    h.labels("v").observe(0.05);
    h.labels("v").observe(0.5);
    h.labels("v").observe(5);
    const text = r.exposition();
    expect(text).toContain('# TYPE t_total counter\nt_total{a="x\\"y\\\\z\\n"} 2\n');
    expect(text).toContain("g 1.5\n");
    expect(text).toContain('h_seconds_bucket{k="v",le="0.1"} 1\n');
    expect(text).toContain('h_seconds_bucket{k="v",le="1"} 2\n');
    expect(text).toContain('h_seconds_bucket{k="v",le="+Inf"} 3\n');
    expect(text).toContain('h_seconds_sum{k="v"} 5.55\nh_seconds_count{k="v"} 3\n');
  });

  it("caps series per metric: new label sets past the cap go to _other and are counted", () => {
    const r = new Registry({ maxSeries: 3 });
    const c = r.counter("c_total", "C.", ["k"]);
    for (let i = 0; i < 100; i++) c.labels(`v${i}`).inc();
    const text = r.exposition();
    const series = text.split("\n").filter((l) => l.startsWith("c_total{"));
    expect(series).toHaveLength(4);
    expect(text).toContain('c_total{k="_other"} 97');
    expect(text).toContain('hexr_telemetry_series_overflow_total{metric="all"} 97');
  });

  it("refuses bad names, a reserved label and a wrong number of label values", () => {
    const r = new Registry();
    expect(() => r.counter("bad-name", "x")).toThrow(TypeError);
    expect(() => r.counter("ok_total", "x", ["le"])).toThrow(TypeError);
    const c = r.counter("two_total", "x", ["a", "b"]);
    expect(() => c.labels("only-one")).toThrow(TypeError);
    expect(() => r.counter("two_total", "again")).toThrow(/twice/);
  });

  it("the catalog registers without clashes, every family in Prometheus naming", () => {
    const names = allMetricFamilies().map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const f of allMetricFamilies()) {
      if (f.kind === "counter") expect(f.name).toMatch(/_total$/);
      expect(f.labels).not.toContain("spiffe_id_of_caller");
    }
  });
});

describe("reasonCode", () => {
  it.each([
    ["identity.certificate_expired: the client certificate expired at …", "identity.certificate_expired"],
    ["jwt_svid.bad_signature: signature does not verify", "jwt_svid.bad_signature"],
    ["policy.unavailable: no policy bundle loaded", "policy.unavailable"],
    ["role writer may not use gcp_bigquery", "policy.denied"],
    ["rate limit exceeded: 121 calls in the last minute (limit 120)", "policy.rate_limited"],
    ["Has: a colon but no code", "policy.denied"],
    [undefined, "none"],
  ])("%s → %s", (reason, code) => {
    expect(reasonCode(reason)).toBe(code);
  });
});

describe("traceIdOf", () => {
  it.each([
    ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"],
    [" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ", "4bf92f3577b34da6a3ce929d0e0e4736"],
    ["00-00000000000000000000000000000000-00f067aa0ba902b7-01", null],
    ["00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", null],
    ["ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", null],
    ["00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", null],
    ["00-4bf92f3577b34da6a3ce929d0e0e4736", null],
    ["garbage", null],
    [undefined, null],
  ])("%s → %s", (tp, id) => {
    expect(traceIdOf(tp)).toBe(id);
  });
});

describe("LLM facts", () => {
  it("reads model and usage from each provider's response and stream shapes", () => {
    const f: LlmFacts = {};
    readRequestFacts({ model: "gpt-4o-mini", stream: true, messages: [] }, f);
    readResponseFacts({ model: "gpt-4o-mini-2024-07-18", usage: { prompt_tokens: 12, completion_tokens: 7 } }, f);
    expect(f).toEqual({
      requestModel: "gpt-4o-mini",
      stream: true,
      responseModel: "gpt-4o-mini-2024-07-18",
      inputTokens: 12,
      outputTokens: 7,
    });
    const a: LlmFacts = {};
    readResponseFacts(
      { type: "message_start", message: { model: "claude-x", usage: { input_tokens: 30, output_tokens: 1 } } },
      a,
    );
    readResponseFacts({ type: "message_delta", usage: { output_tokens: 42 } }, a);
    expect(a).toMatchObject({ responseModel: "claude-x", inputTokens: 30, outputTokens: 42 });
    const r: LlmFacts = {};
    readResponseFacts(
      { type: "response.completed", response: { model: "o3", usage: { input_tokens: 5, output_tokens: 9 } } },
      r,
    );
    expect(r).toMatchObject({ responseModel: "o3", inputTokens: 5, outputTokens: 9 });
  });

  it("keeps only identifier-shaped model names and sane counts", () => {
    expect(modelLabel("gpt-4o")).toBe("gpt-4o");
    expect(modelLabel("accounts/fireworks/models/llama-v3p1-8b-instruct")).toBe(
      "accounts/fireworks/models/llama-v3p1-8b-instruct",
    );
    expect(modelLabel('x"} evil{')).toBe("other");
    expect(modelLabel("a".repeat(200))).toBe("other");
    expect(modelLabel(42)).toBeUndefined();
    // a credential pasted into the model field never becomes a label or an attribute
    const key = `sk-proj-${"Ab3xK9mQ2vL7pR4tW8yZ1cN6".repeat(2)}`;
    expect(modelLabel(key)).toBe("redacted");
    expect(modelLabel("ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8")).toBe("redacted");
    expect(modelLabel("claude-sonnet-4-5-20250929")).toBe("claude-sonnet-4-5-20250929");
    expect(modelLabel("gpt-4o-mini-2024-07-18")).toBe("gpt-4o-mini-2024-07-18");
    const f: LlmFacts = {};
    readResponseFacts({ usage: { input_tokens: -1, output_tokens: 1.5 } }, f);
    expect(f).toEqual({});
  });

  it("prices a call per million tokens, only for listed models", () => {
    const prices = new Map([["m", { input: 2, output: 8 }]]);
    expect(costUsd(prices, "m", { inputTokens: 1000, outputTokens: 500 })).toBeCloseTo(0.006, 12);
    expect(costUsd(prices, "other", { inputTokens: 1000 })).toBeUndefined();
    expect(costUsd(prices, "m", {})).toBeUndefined();
  });
});

describe("mergeExpositions", () => {
  it("one header per family, every registry's samples under it", () => {
    const main = new Registry();
    const guard = new Registry({ constLabels: { thread: "guard" } });
    main.counter("x_total", "X.").labels().inc(1);
    guard.counter("x_total", "X.").labels().inc(2);
    guard.counter("y_total", "Y.", ["k"]).labels("v").inc(3);
    const text = mergeExpositions([main.exposition(), guard.exposition()]);
    expect(text.match(/# TYPE x_total counter/g)).toHaveLength(1);
    expect(text.match(/# TYPE hexr_telemetry_series_overflow_total counter/g)).toHaveLength(1);
    expect(text).toContain('x_total 1\nx_total{thread="guard"} 2\n');
    expect(text).toContain('y_total{thread="guard",k="v"} 3\n');
  });
});

describe("model labels", () => {
  it("a flood of made-up model names ends in 'other' and never crowds out the names seen first", () => {
    const r = new Registry();
    const g = new GuardTelemetry(guardMetrics(r));
    const call = (model: string) => {
      const s = g.begin({});
      s.route("openai-chat", "openai", "chat");
      s.facts.requestModel = model;
      s.facts.inputTokens = 1;
      s.end();
    };
    call("gpt-4o-mini");
    for (let i = 0; i < 1000; i++) call(`made-up-${i}`);
    call("gpt-4o-mini");
    const text = r.exposition();
    expect(text).toContain(
      'gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o-mini"} 2',
    );
    expect(text).toContain('gen_ai_request_model="other"');
    const models = new Set([...text.matchAll(/gen_ai_request_model="([^"]+)"/g)].map((m) => m[1]));
    expect(models.size).toBeLessThanOrEqual(MAX_MODEL_LABELS + 1);
  });
});

/**
 * What one ext_proc stream records: guard metrics (scans, actions, findings by type and subtype,
 * unscannable bodies by cause), the GenAI metrics for LLM calls (token usage, duration, time to first
 * chunk, cost from the configured price table) and, with tracing on, one span per stream:
 * `hexr.llm.chat` on a guarded LLM route (OpenTelemetry GenAI attributes, semantic conventions 1.45),
 * `hexr.extproc.stream` otherwise. Findings are reported by type and subtype only: no text, prompt or
 * body reaches a metric or a span.
 *
 * @example
 *   const s = guardTelemetry.begin({ traceparent });
 *   s.route("openai-chat", "openai", "chat"); s.facts.requestModel = "gpt-4o";
 *   s.outcome("request", "redact", findings); s.end();
 */
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
} from "../../filters/telemetry/semconv.ts";
import type { TraceHeaders } from "./authz.ts";
import type { GuardMetrics } from "../../filters/telemetry/catalog.ts";
import { costUsd, type LlmFacts, type PriceTable } from "../../filters/telemetry/llm-facts.ts";
import type { Tracing } from "./tracing.ts";

export type GuardPhase = "request" | "response";
export type GuardOutcome = "allow" | "annotate" | "redact" | "block" | "invalid" | "unscannable";

const RANK: Record<GuardOutcome, number> = { allow: 0, annotate: 1, redact: 2, unscannable: 3, invalid: 4, block: 5 };
/**
 * Distinct model names used as metric labels; past these, "other". Models are client-chosen strings: a
 * flood of made-up names must not crowd the real ones out of the registry's per-metric series budget
 * (spans still carry the name).
 */
export const MAX_MODEL_LABELS = 64;
const MAX_FINDING_KINDS = 32;

export class GuardTelemetry {
  readonly metrics: GuardMetrics;
  readonly tracing: Tracing | undefined;
  readonly prices: PriceTable;

  constructor(metrics: GuardMetrics, tracing?: Tracing, prices: PriceTable = new Map()) {
    this.metrics = metrics;
    this.tracing = tracing;
    this.prices = prices;
  }

  readonly #models = new Set<string>();

  /** The label for `model`: itself while fewer than {@link MAX_MODEL_LABELS} are known, else `other`. */
  modelLabel(model: string): string {
    if (this.#models.has(model)) return model;
    if (this.#models.size >= MAX_MODEL_LABELS) return "other";
    this.#models.add(model);
    return model;
  }

  begin(trace: TraceHeaders): StreamTelemetry {
    return new StreamTelemetry(this, trace);
  }

  /** Time the guard spent answering one ext_proc message. */
  message(phase: string, ms: number): void {
    this.metrics.phaseDuration.labels(phase).observe(ms / 1000);
  }
}

export class StreamTelemetry {
  readonly #t: GuardTelemetry;
  readonly #started = performance.now();
  #trace: TraceHeaders;
  #route: string | undefined;
  #provider = "unknown";
  #operation = "chat";
  #outcome: GuardOutcome = "allow";
  #firstChunkMs: number | undefined;
  #kinds = new Set<string>();
  #findingCount = 0;
  #unscannable: string | undefined;
  #ended = false;
  readonly facts: LlmFacts = {};

  constructor(t: GuardTelemetry, trace: TraceHeaders) {
    this.#t = t;
    this.#trace = trace;
    t.metrics.activeStreams.labels().inc();
  }

  /** The request's own `traceparent`, used when Envoy sent none on the stream. */
  requestTrace(traceparent: string | undefined): void {
    if (this.#trace.traceparent === undefined && traceparent !== undefined) this.#trace = { traceparent };
  }

  /** The guarded route this stream matched (not called for pass-through streams). */
  route(name: string, provider: string, operation: string): void {
    this.#route = name;
    this.#provider = provider;
    this.#operation = operation;
  }

  scanned(phase: GuardPhase): void {
    if (this.#route !== undefined) this.#t.metrics.scans.labels(this.#route, phase).inc();
  }

  outcome(phase: GuardPhase, action: GuardOutcome, findings: readonly { type: string; subtype: string }[]): void {
    const m = this.#t.metrics;
    m.actions.labels(this.#route ?? "none", phase, action).inc();
    for (const f of findings) {
      m.findings.labels(f.type, f.subtype, action).inc();
      this.#findingCount++;
      if (this.#kinds.size < MAX_FINDING_KINDS) this.#kinds.add(`${f.type}/${f.subtype}`);
    }
    if (RANK[action] > RANK[this.#outcome]) this.#outcome = action;
  }

  unscannable(phase: GuardPhase, cause: string): void {
    this.#t.metrics.unscannable.labels(this.#route ?? "none", phase, cause).inc();
    this.#unscannable ??= cause;
    if (RANK.unscannable > RANK[this.#outcome]) this.#outcome = "unscannable";
  }

  /** The first response body bytes of a streamed answer. */
  firstChunk(): void {
    this.#firstChunkMs ??= performance.now();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const t = this.#t;
    const m = t.metrics;
    m.activeStreams.labels().dec();
    const seconds = (performance.now() - this.#started) / 1000;
    const route = this.#route ?? "none";
    m.streams.labels(route).inc();
    m.streamDuration.labels(route).observe(seconds);
    const f = this.facts;
    const model = t.modelLabel(f.requestModel ?? f.responseModel ?? "unknown");
    const llm = this.#route !== undefined;
    let cost: number | undefined;
    if (llm) {
      m.operationDuration.labels(this.#operation, this.#provider, model).observe(seconds);
      if (f.inputTokens !== undefined)
        m.tokenUsage.labels(this.#operation, this.#provider, model, "input").observe(f.inputTokens);
      if (f.outputTokens !== undefined)
        m.tokenUsage.labels(this.#operation, this.#provider, model, "output").observe(f.outputTokens);
      if (this.#firstChunkMs !== undefined)
        m.timeToFirstToken.labels(this.#provider).observe((this.#firstChunkMs - this.#started) / 1000);
      cost = costUsd(t.prices, f.requestModel ?? f.responseModel, f);
      if (cost !== undefined) m.cost.labels(this.#provider, model).inc(cost);
    }
    const tr = t.tracing;
    if (tr === undefined) return;
    const span = tr.tracer.startSpan(
      llm ? "hexr.llm.chat" : "hexr.extproc.stream",
      {
        kind: SpanKind.SERVER,
        startTime: this.#started,
        attributes: {
          "hexr.route": route,
          "hexr.guard.action": this.#outcome,
          "hexr.guard.finding_count": this.#findingCount,
          ...(this.#kinds.size > 0 ? { "hexr.guard.findings": [...this.#kinds] } : {}),
          ...(this.#unscannable !== undefined ? { "hexr.guard.unscannable": this.#unscannable } : {}),
          ...(llm
            ? {
                [ATTR_GEN_AI_OPERATION_NAME]: this.#operation,
                [ATTR_GEN_AI_PROVIDER_NAME]: this.#provider,
                ...(f.requestModel !== undefined ? { [ATTR_GEN_AI_REQUEST_MODEL]: f.requestModel } : {}),
                ...(f.responseModel !== undefined ? { [ATTR_GEN_AI_RESPONSE_MODEL]: f.responseModel } : {}),
                ...(f.stream !== undefined ? { [ATTR_GEN_AI_REQUEST_STREAM]: f.stream } : {}),
                ...(f.inputTokens !== undefined ? { [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: f.inputTokens } : {}),
                ...(f.outputTokens !== undefined ? { [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: f.outputTokens } : {}),
                ...(this.#firstChunkMs !== undefined
                  ? { [ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]: (this.#firstChunkMs - this.#started) / 1000 }
                  : {}),
                ...(cost !== undefined ? { "hexr.llm.cost_usd": cost } : {}),
              }
            : {}),
        },
      },
      tr.parent(this.#trace.traceparent, this.#trace.tracestate),
    );
    if (this.#outcome === "unscannable") span.setStatus({ code: SpanStatusCode.ERROR, message: "guard.unscannable" });
    span.end();
  }
}

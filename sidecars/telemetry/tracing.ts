/**
 * Traces: an OpenTelemetry tracer whose spans go to an OTLP gRPC receiver, batched behind a bounded queue.
 * Exporting never slows or fails a request: a span that finds the queue full is dropped and counted
 * (`hexr_trace_spans_dropped_total`), one export runs at a time off the request's turn, and a failed export
 * is counted, not retried (the next batch goes on).
 *
 * Off by default: with no `telemetry.tracing` there is no provider at all, and the hot path only reads a
 * `traceparent` it was given (for the audit record's trace id).
 *
 * Sampling is parent-based with a ratio for roots: when Envoy (or the agent) sent a sampled `traceparent`,
 * our spans join that trace; an unsampled parent is never sampled here.
 *
 * @example
 *   const t = Tracing.start({ endpoint: "http://127.0.0.1:4317", ratio: 1, serviceName: "hexr-sidecar" }, m);
 *   const parent = t.parent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
 */
import { type Context, context, ROOT_CONTEXT, type TextMapGetter, trace, type Tracer } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  ParentBasedSampler,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import type { TelemetryMetrics } from "../../filters/telemetry/catalog.ts";
import type { TracingConfig } from "./tracing-config.ts";

const SAMPLED = 1;

/**
 * A batch span processor with a hard bound and counters: onEnd is an array push (or a counted drop), and
 * at most one export is in flight.
 */
export class BoundedBatchProcessor implements SpanProcessor {
  readonly #exporter: SpanExporter;
  readonly #cfg: Pick<TracingConfig, "maxQueue" | "maxBatch" | "flushIntervalMs">;
  readonly #metrics: TelemetryMetrics | undefined;
  #queue: ReadableSpan[] = [];
  #timer: NodeJS.Timeout | undefined;
  #exporting = false;
  #idle: (() => void)[] = [];
  #closed = false;

  constructor(
    exporter: SpanExporter,
    cfg: Pick<TracingConfig, "maxQueue" | "maxBatch" | "flushIntervalMs">,
    metrics?: TelemetryMetrics,
  ) {
    this.#exporter = exporter;
    this.#cfg = cfg;
    this.#metrics = metrics;
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#closed || (span.spanContext().traceFlags & SAMPLED) === 0) return;
    if (this.#queue.length >= this.#cfg.maxQueue) {
      this.#metrics?.spansDropped.labels().inc();
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= this.#cfg.maxBatch) this.#exportNext();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#exportNext();
      }, this.#cfg.flushIntervalMs);
      this.#timer.unref();
    }
  }

  #exportNext(): void {
    if (this.#exporting) return;
    if (this.#queue.length === 0) {
      for (const f of this.#idle.splice(0)) f();
      return;
    }
    const batch = this.#queue.splice(0, this.#cfg.maxBatch);
    this.#exporting = true;
    const done = (r: ExportResult) => {
      this.#exporting = false;
      this.#metrics?.spansExported.labels(r.code === ExportResultCode.SUCCESS ? "ok" : "failed").inc(batch.length);
      if (this.#queue.length >= this.#cfg.maxBatch || this.#idle.length > 0) this.#exportNext();
    };
    try {
      this.#exporter.export(batch, done);
    } catch {
      done({ code: ExportResultCode.FAILED });
    }
  }

  /** Resolves once every queued span has been handed to the exporter and its export answered. */
  forceFlush(): Promise<void> {
    if (this.#queue.length === 0 && !this.#exporting) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle.push(resolve);
      if (this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
      this.#exportNext();
    });
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.#closed = true;
    await this.#exporter.shutdown();
  }
}

const getter: TextMapGetter<Readonly<Record<string, string | undefined>>> = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
};
const propagator = new W3CTraceContextPropagator();

/** The sidecar's tracer, or none (tracing off). */
export class Tracing {
  readonly tracer: Tracer;
  readonly #provider: TracerProvider;

  private constructor(provider: TracerProvider) {
    this.#provider = provider;
    this.tracer = provider.getTracer("hexr-dataplane");
  }

  static start(cfg: TracingConfig, metrics?: TelemetryMetrics, exporter?: SpanExporter): Tracing {
    const exp =
      exporter ??
      new OTLPTraceExporter({
        url: cfg.endpoint,
        timeoutMillis: cfg.exportTimeoutMs,
      });
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: cfg.serviceName, [ATTR_SERVICE_VERSION]: "0.1.0" }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.ratio) }),
      spanProcessors: [new BoundedBatchProcessor(exp, cfg, metrics)],
      // attribute values we set are short facts; bound them anyway so no value can grow a span
      spanLimits: { attributeValueLengthLimit: 512, attributeCountLimit: 64, eventCountLimit: 16 },
    });
    return new Tracing(provider);
  }

  /** The context whose span is the W3C `traceparent` given (ROOT_CONTEXT when absent or malformed). */
  parent(traceparent: string | undefined, tracestate?: string): Context {
    if (traceparent === undefined) return ROOT_CONTEXT;
    const carrier = tracestate === undefined ? { traceparent } : { traceparent, tracestate };
    return propagator.extract(ROOT_CONTEXT, carrier, getter);
  }

  flush(): Promise<void> {
    return this.#provider.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#provider.shutdown();
  }
}

/** `context.with` for callers that do not import the API themselves. */
export const withContext = context.with.bind(context);
export { trace };

/** Tracing settings (parsed in sidecars/config.ts; used by tracing.ts, which alone loads the SDK). */

export interface TracingConfig {
  /** OTLP gRPC endpoint, `http://host:port` (plaintext, e.g. a node-local collector) or `https://…`. */
  readonly endpoint: string;
  /** Fraction of root traces sampled, in [0, 1]; children follow their parent's decision. */
  readonly ratio: number;
  readonly serviceName: string;
  /** Spans held for export at most; more are dropped. */
  readonly maxQueue: number;
  /** Spans per export call. */
  readonly maxBatch: number;
  /** Longest a span waits in the queue before an export starts. */
  readonly flushIntervalMs: number;
  /** Per export call; a slow receiver costs a failed export, never a request. */
  readonly exportTimeoutMs: number;
}

export const DEFAULT_TRACING: Omit<TracingConfig, "endpoint"> = {
  ratio: 1,
  serviceName: "hexr-sidecar",
  maxQueue: 2048,
  maxBatch: 512,
  flushIntervalMs: 1000,
  exportTimeoutMs: 5000,
};

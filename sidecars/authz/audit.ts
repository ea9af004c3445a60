/**
 * Audit records: one JSON line per decision. The record type lists every field that may appear,
 * so credentials, tokens, prompts and bodies have no place to go.
 */
import type { Writable } from "node:stream";

export interface AuditRecord {
  time: string;
  decision_id: string;
  spiffe_id: string | null;
  tenant: string | null;
  agent: string | null;
  role: string | null;
  service: string;
  action: string;
  /** Every permission the request needed (`action` first), e.g. a copy's read of its source. */
  actions: readonly string[];
  allow: boolean;
  reasons: readonly string[];
  policy_revision: string | null;
  /** Where the injected credential came from: the in-process cache, the shared cache, or a fresh exchange. */
  credential_tier: "l1" | "l2" | "issuer" | null;
  /** The configured provider that issued it (`aws`, `gcp`, …). */
  credential_provider?: string;
  /** What was down and worked around for this decision (`l2_unavailable`, `issuer_unavailable`, `rate_local`). */
  degraded?: readonly string[];
  cached: boolean;
  latency_ms: number;
  /** The W3C trace this decision belongs to (our span's, or the request's `traceparent`); null without one. */
  trace_id: string | null;
}

export interface AuditSink {
  write(record: AuditRecord): void;
  /** Write out anything buffered (called when the sidecar stops). */
  flush?(): void;
}

/**
 * JSON lines to a stream, batched: records of one event-loop turn go out in a single write (one write
 * per decision cost as much as evaluating the policy under load). The batch is bounded, and `flush`
 * writes what is pending (on drain).
 */
export class JsonLinesAudit implements AuditSink {
  static readonly MAX_BATCH = 512;
  readonly #out: Writable;
  #pending: string[] = [];
  #scheduled = false;

  constructor(out: Writable) {
    this.#out = out;
  }

  write(r: AuditRecord): void {
    this.#pending.push(JSON.stringify(r));
    if (this.#pending.length >= JsonLinesAudit.MAX_BATCH) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const lines = this.#pending;
    this.#pending = [];
    this.#out.write(`${lines.join("\n")}\n`);
  }
}

export class MemoryAudit implements AuditSink {
  readonly records: AuditRecord[] = [];
  write(r: AuditRecord): void {
    this.records.push(r);
  }
}

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
  allow: boolean;
  reasons: readonly string[];
  policy_revision: string | null;
  credential_tier: "l1" | "l2" | "issuer" | null;
  cached: boolean;
  latency_ms: number;
}

export interface AuditSink {
  write(record: AuditRecord): void;
}

export class JsonLinesAudit implements AuditSink {
  readonly #out: Writable;
  constructor(out: Writable) {
    this.#out = out;
  }
  write(r: AuditRecord): void {
    this.#out.write(`${JSON.stringify(r)}\n`);
  }
}

export class MemoryAudit implements AuditSink {
  readonly records: AuditRecord[] = [];
  write(r: AuditRecord): void {
    this.records.push(r);
  }
}

/**
 * JSON-lines logger. Callers pass structured fields, never request bodies, tokens or header values;
 * `redactedDigest` is the one way to refer to a sensitive value (length + short hash).
 */
import { createHash } from "node:crypto";
import type { Writable } from "node:stream";

export type Level = "debug" | "info" | "warn" | "error";
const LEVELS: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(fields: Record<string, unknown>): void;
  info(fields: Record<string, unknown>): void;
  warn(fields: Record<string, unknown>): void;
  error(fields: Record<string, unknown>): void;
}

export class JsonLogger implements Logger {
  readonly #out: Writable;
  readonly #min: number;
  readonly #base: Record<string, unknown>;

  constructor(out: Writable, level: Level = "info", base: Record<string, unknown> = {}) {
    this.#out = out;
    this.#min = LEVELS[level];
    this.#base = base;
  }

  #write(level: Level, fields: Record<string, unknown>): void {
    if (LEVELS[level] < this.#min) return;
    this.#out.write(`${JSON.stringify({ time: new Date().toISOString(), level, ...this.#base, ...fields })}\n`);
  }

  debug(f: Record<string, unknown>): void {
    this.#write("debug", f);
  }
  info(f: Record<string, unknown>): void {
    this.#write("info", f);
  }
  warn(f: Record<string, unknown>): void {
    this.#write("warn", f);
  }
  error(f: Record<string, unknown>): void {
    this.#write("error", f);
  }
}

/** A logger that records entries in memory (tests, and `hexr demo` summaries). */
export class MemoryLogger implements Logger {
  readonly entries: Array<Record<string, unknown> & { level: Level }> = [];
  debug(f: Record<string, unknown>): void {
    this.entries.push({ level: "debug", ...f });
  }
  info(f: Record<string, unknown>): void {
    this.entries.push({ level: "info", ...f });
  }
  warn(f: Record<string, unknown>): void {
    this.entries.push({ level: "warn", ...f });
  }
  error(f: Record<string, unknown>): void {
    this.entries.push({ level: "error", ...f });
  }
}

/** `len=<n> sha256=<first 12 hex>`: lets logs correlate a sensitive value without revealing it. */
export function redactedDigest(value: string): string {
  return `len=${value.length} sha256=${createHash("sha256").update(value).digest("hex").slice(0, 12)}`;
}

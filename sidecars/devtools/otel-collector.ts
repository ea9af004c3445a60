/**
 * A real OpenTelemetry Collector on loopback (built by scripts/setup.sh with the collector builder: the
 * OTLP receiver and the file exporter only). Everything it receives is written as OTLP JSON lines to a
 * file the caller reads: the test and the demo see exactly what a receiver got, to assert on and to grep
 * for anything that must never be exported.
 *
 * @example
 *   const c = await startCollector();
 *   // point OTLP gRPC at c.endpoint ("http://127.0.0.1:PORT"), then:
 *   const spans = await c.spans();
 *   await c.stop();
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { GiveUp, waitFor } from "../../envoy-config/runner.ts";
import { freePort, runTool } from "./child-process.ts";

export { freePort } from "./child-process.ts";

export interface OtlpAttribute {
  key: string;
  value: {
    stringValue?: string;
    intValue?: string | number;
    boolValue?: boolean;
    doubleValue?: number;
    arrayValue?: { values: OtlpAttribute["value"][] };
  };
}

/** One received span, flattened with its resource's service name. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status?: { code?: number; message?: string };
}

export interface RunningCollector {
  /** OTLP gRPC, plaintext: `http://127.0.0.1:PORT`. */
  endpoint: string;
  port: number;
  /** The file every received batch is appended to (OTLP JSON, one request per line). */
  file: string;
  /** The file's whole text (what the receiver got, verbatim). */
  raw(): string;
  spans(): ReceivedSpan[];
  logs(): string;
  stop(): Promise<void>;
}

export function findCollector(env: NodeJS.ProcessEnv = process.env): string {
  const p = env.HEXR_OTELCOL;
  if (!p || !existsSync(p)) {
    throw new Error("HEXR_OTELCOL is not set or missing: run scripts/setup.sh (it builds the OpenTelemetry Collector)");
  }
  return p;
}

function value(v: OtlpAttribute["value"]): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(value);
  return undefined;
}

function attrs(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list ?? []) out[a.key] = value(a.value);
  return out;
}

interface OtlpLine {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind?: number;
        attributes?: OtlpAttribute[];
        status?: { code?: number; message?: string };
      }[];
    }[];
  }[];
}

export function parseOtlpJsonLines(text: string): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  // the exporter may be writing the last line right now: only complete lines are read
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  for (const line of complete.split("\n")) {
    if (line.trim() === "") continue;
    const doc = JSON.parse(line) as OtlpLine;
    for (const rs of doc.resourceSpans ?? []) {
      const service = String(attrs(rs.resource?.attributes)["service.name"] ?? "");
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? [])
          out.push({
            service,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? "",
            name: s.name,
            kind: s.kind ?? 0,
            attributes: attrs(s.attributes),
            ...(s.status ? { status: s.status } : {}),
          });
    }
  }
  return out;
}

export async function startCollector(): Promise<RunningCollector> {
  const bin = findCollector();
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-otelcol-"));
  const file = path.join(dir, "spans.jsonl");
  const config = path.join(dir, "config.yaml");
  let lastError: unknown;
  // the port is chosen before the collector binds it: on the rare collision, try another
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    writeFileSync(
      config,
      [
        "receivers:",
        "  otlp:",
        "    protocols:",
        `      grpc: {endpoint: "127.0.0.1:${port}"}`,
        "exporters:",
        `  file: {path: ${JSON.stringify(file)}, flush_interval: 100ms}`,
        "service:",
        "  telemetry: {metrics: {level: none}, logs: {level: info}}",
        "  pipelines:",
        "    traces: {receivers: [otlp], exporters: [file]}",
        "",
      ].join("\n"),
    );
    const proc = runTool(bin, ["--config", `file:${config}`]);
    try {
      await waitFor(
        "the OpenTelemetry Collector to start",
        () => {
          if (proc.exited()) throw new GiveUp(`collector exited: ${proc.output().slice(-2000)}`);
          return proc.output().includes("Everything is ready") ? true : undefined;
        },
        30_000,
      );
    } catch (e) {
      lastError = e;
      await proc.stop();
      continue;
    }
    const raw = () => (existsSync(file) ? readFileSync(file, "utf8") : "");
    return {
      endpoint: `http://127.0.0.1:${port}`,
      port,
      file,
      raw,
      spans: () => parseOtlpJsonLines(raw()),
      logs: proc.output,
      async stop() {
        await proc.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error("the OpenTelemetry Collector did not start");
}

/**
 * The demo's telemetry: a real OpenTelemetry Collector (Envoy's and the sidecar's spans, as OTLP JSON in
 * a file) and a real Prometheus scraping the sidecar's /metrics and Envoy's stats, started beside the
 * local data plane; after the scripted requests, a summary of what they hold and where to query them.
 * With `--panels DIR`, the main dashboard panels are drawn from Prometheus range queries over a minute or
 * two of scripted traffic (the README's pictures).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { allPanels } from "../../charts/hexr-system/dashboards/src/index.ts";
import { waitFor } from "../../envoy-config/runner.ts";
import type { LocalDataPlane } from "../devtools/local-dataplane.ts";
import { type ReceivedSpan, type RunningCollector, startCollector } from "../devtools/otel-collector.ts";
import { panelSeries, panelSvg } from "../devtools/panel-svg.ts";
import { type RunningPrometheus, startPrometheus } from "../devtools/prometheus.ts";

export interface DemoTelemetry {
  collector: RunningCollector;
  prometheus?: RunningPrometheus;
  stop(): Promise<void>;
}

/** The collector, or undefined when setup has not built it (the demo then runs without traces). */
export async function startDemoCollector(): Promise<RunningCollector | undefined> {
  try {
    return await startCollector();
  } catch (e) {
    process.stdout.write(`(no traces: ${(e as Error).message})\n`);
    return undefined;
  }
}

/** Prometheus scraping the data plane's sidecar and Envoy (undefined when it is not installed). */
export async function startDemoPrometheus(dp: LocalDataPlane): Promise<RunningPrometheus | undefined> {
  const admin = dp.sidecar.admin?.address;
  if (!admin) return undefined;
  try {
    const p = await startPrometheus([
      { job: "hexr-sidecar", target: admin },
      { job: "envoy", target: new URL(dp.envoy.adminUrl).host, metricsPath: "/stats/prometheus" },
    ]);
    await p.untilScraped();
    return p;
  } catch (e) {
    process.stdout.write(`(no Prometheus: ${(e as Error).message})\n`);
    return undefined;
  }
}

/** One trace as an indented tree: service, span name and the attributes worth showing. */
function traceTree(all: readonly ReceivedSpan[]): string[] {
  // Envoy exports its ext_proc client span twice when the stream ends cancelled (same span id, the second
  // with grpc.status_code): one line per span id
  const spans = [...new Map(all.map((s) => [s.spanId, s])).values()];
  const byParent = new Map<string, ReceivedSpan[]>();
  const ids = new Set(spans.map((s) => s.spanId));
  for (const s of spans) {
    const p = ids.has(s.parentSpanId) ? s.parentSpanId : "";
    byParent.set(p, [...(byParent.get(p) ?? []), s]);
  }
  const SHOW = [
    "hexr.decision",
    "hexr.spiffe_id",
    "hexr.service",
    "hexr.guard.action",
    "gen_ai.request.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
  ];
  const out: string[] = [];
  const walk = (parent: string, depth: number) => {
    for (const s of byParent.get(parent) ?? []) {
      const attrs = SHOW.filter((k) => s.attributes[k] !== undefined).map((k) => `${k}=${String(s.attributes[k])}`);
      out.push(`    ${"  ".repeat(depth)}${s.service}: ${s.name}${attrs.length ? `  (${attrs.join(", ")})` : ""}`);
      walk(s.spanId, depth + 1);
    }
  };
  walk("", 0);
  return out;
}

/** What the receiver and Prometheus hold after the script, and how to look. */
export async function printTelemetry(
  dp: LocalDataPlane,
  collector: RunningCollector | undefined,
  prom: RunningPrometheus | undefined,
  flush: () => Promise<void>,
  decisions: number,
): Promise<void> {
  await flush();
  // the receiver writes what it got every 100 ms and Prometheus scrapes every second: wait for both
  // to hold the script's traffic (readiness, not a fixed pause), then show what they hold
  if (collector) {
    await waitFor("the LLM call's spans at the collector", () =>
      collector.spans().some((s) => s.name === "hexr.llm.chat") ? true : undefined,
    ).catch(() => undefined);
  }
  if (prom) {
    await waitFor("Prometheus to scrape the script's decisions", async () => {
      const r = await prom.query("sum(hexr_authz_decisions_total)");
      return Number(r[0]?.value[1] ?? 0) >= decisions ? true : undefined;
    }).catch(() => undefined);
  }
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w("\nTelemetry");
  if (collector) {
    // Envoy sends its spans every 200 ms here: wait until the LLM call's trace holds Envoy's span too
    const spans = collector.spans();
    const llm = [...spans].reverse().find((s) => s.name === "hexr.llm.chat");
    const traces = new Set(spans.map((s) => s.traceId));
    w(
      `  traces   ${spans.length} spans in ${traces.size} traces at the OpenTelemetry Collector (OTLP gRPC ${collector.endpoint})`,
    );
    w(`           every span received, as OTLP JSON lines: ${collector.file}`);
    if (llm) {
      w(`  one LLM call's trace (${llm.traceId}): Envoy's spans and ours, parent and child`);
      for (const line of traceTree(spans.filter((s) => s.traceId === llm.traceId))) w(line);
    }
  }
  if (dp.sidecar.admin)
    w(`  metrics  sidecar http://${dp.sidecar.admin.address}/metrics, Envoy ${dp.envoy.adminUrl}/stats/prometheus`);
  if (prom) {
    const q = async (expr: string) => (await prom.query(expr)).map((s) => s.metric);
    const count = async (expr: string, label: string) =>
      (await prom.query(expr)).map((s) => `${s.metric[label]} ${Number(s.value[1]).toFixed(0)}`).join(", ");
    w(
      `  Prometheus ${prom.url}  (try: curl '${prom.url}/api/v1/query?query=sum%20by%20(result)(hexr_authz_decisions_total)')`,
    );
    w(`           decisions: ${await count("sum by (result) (hexr_authz_decisions_total)", "result")}`);
    w(
      `           deny reasons: ${await count('sum by (reason) (hexr_authz_decisions_total{result="deny"})', "reason")}`,
    );
    w(`           guard findings: ${(await count("sum by (type) (hexr_guard_findings_total)", "type")) || "none"}`);
    const svids = await q("hexr_svid_expiry_timestamp_seconds");
    if (svids.length > 0) w(`           X.509-SVIDs whose expiry the sidecar exports: ${svids.length}`);
    w(
      "  dashboards: charts/hexr-system/dashboards/*.json (Grafana), alerts: charts/hexr-system/alerts/hexr-rules.yaml",
    );
  }
}

/** The panels drawn for the README: [dashboard uid, panel title]. */
export const PICTURED: readonly (readonly [string, string])[] = [
  ["hexr-overview", "Decisions by result"],
  ["hexr-authz", "Denials by reason code"],
  ["hexr-authz", "Check latency percentiles"],
  ["hexr-guard", "Guard actions"],
  ["hexr-guard", "Findings by type"],
  ["hexr-guard", "Tokens per second by type"],
  ["hexr-identity", "Time until SVID expiry"],
];

/**
 * Draws {@link PICTURED} from `prom` over [startS, endS]: the panels' own PromQL with Grafana's
 * `$__rate_interval` as 30 s (a short run), one SVG each in `dir`.
 */
export async function drawPanels(
  prom: RunningPrometheus,
  dir: string,
  startS: number,
  endS: number,
): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const panels = allPanels();
  const written: string[] = [];
  for (const [uid, title] of PICTURED) {
    const targets = panels.filter((p) => p.uid === uid && p.title === title);
    if (targets.length === 0) throw new Error(`no panel ${uid} / ${title}`);
    const series = [];
    for (const t of targets) {
      const expr = t.grafanaExpr.replaceAll("$__rate_interval", "30s").replaceAll("$__range", "2m");
      const legend =
        targets.length > 1 && !t.legend ? (/histogram_quantile\((0\.\d+)/.exec(expr)?.[1] ?? "") : t.legend;
      const s = panelSeries(
        await prom.queryRange(expr, startS, endS, 2),
        legend ? legend.replace(/^0\./, "p") : undefined,
      );
      series.push(...s);
    }
    const unit = /latency|expiry/i.test(title) ? "s" : "";
    const perSecond =
      unit === "" && !/per second/i.test(title) && targets.every((t) => t.grafanaExpr.includes("rate("));
    const file = path.join(dir, `${uid}-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}.svg`);
    const caption = `${title}${perSecond ? ", per second" : ""} (${uid})`;
    writeFileSync(file, panelSvg(caption, unit, series, startS, endS));
    written.push(file);
  }
  return written;
}

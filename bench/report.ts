/** The report as markdown: one latency table per rate, the comparison with the reference, goals, micro. */
import path from "node:path";
import type { ScenarioResult, SkippedScenario, SuiteReport } from "./types.ts";
import { isSkipped } from "./types.ts";

const fmt = (v: number | null | undefined, digits = 3): string =>
  v === null || v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(digits);
const signed = (v: number | undefined): string => (v === undefined ? "–" : `${v >= 0 ? "+" : ""}${v.toFixed(3)}`);

function row(r: ScenarioResult | SkippedScenario): string {
  if (isSkipped(r)) return `| ${r.id} | skipped: ${r.skipped.replaceAll("|", "\\|")} |${" |".repeat(12)}`;
  const id = `${r.id}${r.helper ? " (helper)" : ""}${r.saturated ? " ⚠ rate not held" : ""}`;
  return [
    id,
    fmt(r.p50_ms),
    fmt(r.p90_ms),
    fmt(r.p99_ms),
    fmt(r.p999_ms),
    fmt(r.max_ms),
    fmt(r.achieved_rps, 1),
    String(r.errors),
    signed(r.added_p50_ms),
    signed(r.added_p99_ms),
    fmt(r.server_cpu_per_krps, 2),
    fmt(r.server_rss_mb, 0),
    fmt(r.server_idle_rss_mb, 0),
    fmt(r.envoy_cpu_per_krps, 2),
  ]
    .join(" | ")
    .replace(/^/, "| ")
    .concat(" |");
}

const HEADER =
  "| scenario | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | achieved rps | errors | added p50 ms | added p99 ms | server CPU / krps | server RSS MB | idle RSS MB | Envoy CPU / krps |\n" +
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |";

/** The latency tables alone (what RESULTS.md embeds). */
export function latencyTables(report: SuiteReport, plotDir?: string): string {
  const out: string[] = [];
  for (const rate of report.rates) {
    out.push(`### ${rate} rps`, "", HEADER);
    for (const r of report.scenarios) if (r.rate === rate) out.push(row(r));
    const plot = report.outputs.plots.find((p) => p.includes(`-${rate}rps`));
    if (plot)
      out.push(
        "",
        `![latency at ${rate} rps](${plotDir ? path.join(plotDir, path.basename(plot)) : path.basename(plot)})`,
      );
    out.push("");
  }
  return out.join("\n");
}

export function markdownReport(report: SuiteReport): string {
  const m = report.machine;
  const out: string[] = [
    `# Hexr data plane benchmark${report.quick ? " (quick)" : ""}`,
    "",
    `Envoy ${report.envoy_version} (--concurrency ${report.envoy_concurrency}), fortio ${report.tools.fortio}, ` +
      `opa-envoy-plugin ${report.tools.opa_envoy_plugin}, Node ${report.tools.node}` +
      (report.sidecar_build
        ? `, sidecars run from ${report.sidecar_build === "dist" ? "the compiled build" : "the TypeScript sources"}. `
        : ". ") +
      `${report.runs} interleaved run(s) of ${report.duration_s} s per scenario and rate, ${report.connections} ` +
      `keep-alive connections, medians over runs. Machine: ${m.description}; load average at start ${m.loadavg_at_start.join(" ")}.`,
    "",
    "Latency is measured by the client (fortio) from request sent to response complete. Added = scenario − " +
      "its baseline at the same rate (`envoy`; for the guard scenarios `envoy-llm-*`, the same request to the same " +
      "OpenAI-compatible upstream through Envoy alone). Rows marked (helper) are not issue scenarios: those " +
      "baselines, and `node-grpc-noop`, the floor — Envoy + a Node gRPC ext_authz server that allows at once. " +
      "Server CPU / krps = CPU seconds of the ext_authz/ext_proc process per 1000 requests (= cores busy per 1000 rps). " +
      "Server RSS is read after each measurement; idle RSS once, after every stack started and before any request.",
    "",
    latencyTables(report),
  ];
  if (report.comparison.length > 0) {
    out.push(
      "## Hexr vs the reference (opa-envoy-plugin)",
      "",
      "| rate | hexr added p50 ms | reference added p50 ms | hexr added p99 ms | reference added p99 ms | ratio p99 (goal ≤ 0.8) |",
      "| ---: | ---: | ---: | ---: | ---: | ---: |",
      ...report.comparison.map(
        (c) =>
          `| ${c.rate} | ${fmt(c.hexr_added_p50_ms)} | ${fmt(c.reference_added_p50_ms)} | ${fmt(c.hexr_added_p99_ms)} | ${fmt(c.reference_added_p99_ms)} | ${fmt(c.ratio_p99, 2)} |`,
      ),
      "",
    );
  }
  if (report.parity) {
    const p = report.parity;
    out.push(
      `Decision parity: ${p.checked} requests through both rbac stacks, ${p.allowed} allowed, ${p.mismatches.length} mismatches.`,
      "",
    );
  }
  out.push("## Goals", "", "| goal | target | measured | met |", "| --- | --- | --- | --- |");
  for (const g of report.goals)
    out.push(`| ${g.goal} | ${g.target} | ${g.measured} | ${g.met === null ? "–" : g.met ? "yes" : "**no**"} |`);
  out.push("");
  if (report.micro) {
    out.push("## Micro-benchmarks", "");
    if ("skipped" in report.micro) out.push(`skipped: ${report.micro.skipped}`);
    else {
      out.push("| function | mean µs | p99 µs | samples |", "| --- | ---: | ---: | ---: |");
      for (const r of report.micro)
        out.push(`| ${r.name} | ${fmt(r.mean_us, 2)} | ${fmt(r.p99_us, 2)} | ${r.samples} |`);
    }
    out.push("");
  }
  return out.join("\n");
}

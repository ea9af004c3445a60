/**
 * The Grafana dashboards in charts/hexr-system/dashboards: the JSON on disk is what the sources generate,
 * every panel is complete (query, title, description, unit, datasource), and every query names only
 * metrics and labels the sidecar (sidecars/telemetry/catalog.ts) or Envoy (src/envoy-metrics.ts) exposes.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Dashboard, Panel, RowPanel } from "@grafana/schema";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { promtool } from "../../../charts/hexr-system/alerts/promtool.ts";
import {
  allPanels,
  DASHBOARDS,
  ENVOY_METRICS,
  knownMetrics,
  lintPromql,
  promqlRefs,
  renderDashboardFiles,
  toPrometheus,
} from "../../../charts/hexr-system/dashboards/src/index.ts";
import { allMetricFamilies } from "../../../filters/telemetry/catalog.ts";

const DIR = path.resolve(import.meta.dirname, "../../../charts/hexr-system/dashboards");
const MIN_PANELS = 42;
/** Grafana's variable reference, spelled out (not a JS template). */
const GRAFANA_DATASOURCE = ["$", "{datasource}"].join("");

const files = renderDashboardFiles();
const dashboards = [...files].map(([file, text]) => ({ file, json: JSON.parse(text) as Dashboard }));
const known = knownMetrics();

function panelsOf(d: Dashboard): Panel[] {
  return (d.panels ?? []).filter((p): p is Panel => p.type !== "row");
}

describe("generated files", () => {
  it.each([...files.keys()])(
    "%s on disk is what the sources generate (run node charts/hexr-system/dashboards/build.ts)",
    (file) => {
      expect(readFileSync(path.join(DIR, file), "utf8")).toBe(files.get(file));
    },
  );

  it("has no dashboard file without a source", () => {
    const onDisk = readdirSync(DIR).filter((f) => f.endsWith(".json"));
    expect(onDisk.sort()).toEqual([...files.keys()].sort());
  });

  it("renders the same bytes twice", () => {
    expect(renderDashboardFiles()).toEqual(files);
  });
});

describe("dashboards", () => {
  it("ship the seven the issue asks for, with unique uids", () => {
    const uids = DASHBOARDS.map((d) => d.uid);
    expect(uids).toEqual([
      "hexr-overview",
      "hexr-authz",
      "hexr-guard",
      "hexr-credentials",
      "hexr-identity",
      "hexr-a2a",
      "hexr-envoy",
    ]);
    expect(new Set(uids).size).toBe(uids.length);
  });

  it(`have at least ${MIN_PANELS} panels between them`, () => {
    const total = dashboards.reduce((n, d) => n + panelsOf(d.json).length, 0);
    expect(total).toBeGreaterThanOrEqual(MIN_PANELS);
  });

  it.each(dashboards)("$file has a Prometheus datasource variable that every panel and query uses", ({ json }) => {
    const vars = json.templating?.list ?? [];
    expect(vars).toContainEqual(
      expect.objectContaining({ name: "datasource", type: "datasource", query: "prometheus" }),
    );
    for (const p of panelsOf(json)) {
      expect(p.datasource, p.title).toEqual({ type: "prometheus", uid: GRAFANA_DATASOURCE });
      for (const t of p.targets ?? []) expect(t["datasource"], p.title).toEqual(p.datasource);
    }
  });

  it.each(dashboards)("$file: every panel has a title, a description, a unit and a query", ({ json }) => {
    for (const p of panelsOf(json)) {
      expect(p.title?.trim(), JSON.stringify(p.gridPos)).toBeTruthy();
      expect(p.description?.length ?? 0, p.title).toBeGreaterThan(20);
      expect(p.fieldConfig?.defaults.unit, p.title).toMatch(/^[a-zA-Z:/ ]+$/);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        expect(typeof t["expr"] === "string" && t["expr"].length > 0, p.title).toBe(true);
        expect(t["refId"], p.title).toMatch(/^[A-Z]$/);
      }
    }
  });

  it.each(dashboards)("$file: no panel id or title repeats", ({ json }) => {
    const all = (json.panels ?? []) as (Panel | RowPanel)[];
    const ids = all.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const titles = panelsOf(json).map((p) => p.title);
    expect(new Set(titles).size).toBe(titles.length);
  });

  it.each(dashboards)("$file: panels fit the 24-column grid and do not overlap", ({ json }) => {
    const boxes = (json.panels ?? []).map((p) => p.gridPos!);
    for (const b of boxes) expect(b.x + b.w).toBeLessThanOrEqual(24);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!;
        const b = boxes[j]!;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${JSON.stringify(a)} and ${JSON.stringify(b)}`).toBe(false);
      }
    }
  });
});

describe("panel queries", () => {
  const panels = allPanels();

  it("lists one entry per query, with Grafana's interval variables replaced", () => {
    const queries = dashboards.flatMap((d) => panelsOf(d.json).flatMap((p) => p.targets ?? []));
    expect(panels).toHaveLength(queries.length);
    for (const p of panels) expect(p.expr, p.title).not.toMatch(/\$/);
  });

  it.each(panels.map((p) => [`${p.uid} / ${p.title}`, p] as const))(
    "%s names only metrics and labels that exist",
    (_name, p) => {
      expect(lintPromql(p.grafanaExpr, known)).toEqual([]);
    },
  );

  it("marks every panel on credential metrics as needing credentials, and every A2A panel as needing A2A", () => {
    for (const p of panels) {
      const metrics = promqlRefs(p.expr).selectors.map((s) => s.metric);
      if (metrics.some((m) => m.startsWith("hexr_credentials_"))) expect(p.needs, p.title).toBe("credentials");
      if (p.uid === "hexr-a2a") expect(p.needs, p.title).toBe("a2a");
    }
    expect(panels.filter((p) => p.needs === undefined).length).toBeGreaterThanOrEqual(MIN_PANELS);
  });

  it("use every family of the sidecar's catalog somewhere", () => {
    // a `__name__=~` selector (Envoy's certificate gauges) names no catalog family: skipped here
    const used = new Set(
      panels.flatMap((p) =>
        promqlRefs(p.expr)
          .selectors.filter((s) => known.has(s.metric))
          .map((s) => known.get(s.metric)!.family),
      ),
    );
    const unused = allMetricFamilies()
      .map((f) => f.name)
      .filter((n) => !used.has(n));
    expect(unused).toEqual([]);
  });

  it("all parse as PromQL (promtool check rules, as recording rules)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "hexr-dashboards-"));
    try {
      const rules = panels.map((p, i) => ({ record: `hexr_dashboard:panel_${i}`, expr: p.expr }));
      const file = path.join(dir, "panels.yaml");
      writeFileSync(file, stringify({ groups: [{ name: "dashboard-panels", rules }] }));
      const r = promtool(["check", "rules", file]);
      expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the PromQL reader the checks rely on", () => {
  it.each([
    ['sum by (reason) (rate(hexr_authz_decisions_total{result="deny"}[5m]))', []],
    [
      "sum by (route) (rate(hexr_authz_decisions_total[5m]))",
      ["by (route): hexr_authz_decisions_total has no label route"],
    ],
    ["sum(rate(hexr_authz_decisions_total[5m])) by (reason)", []],
    [
      "sum(rate(hexr_authz_decisions_total[5m])) by (phase)",
      ["by (phase): hexr_authz_decisions_total has no label phase"],
    ],
    ["hexr_authz_decisions_total", ["hexr_authz_decisions_total is cumulative: read it through rate() or increase()"]],
    ["sum(hexr_guard_scans_total)", ["hexr_guard_scans_total is cumulative: read it through rate() or increase()"]],
    [
      "rate(hexr_svid_expiry_timestamp_seconds[5m])",
      ["hexr_svid_expiry_timestamp_seconds is a gauge: rate over it is not meaningful"],
    ],
    ["min(hexr_svid_expiry_timestamp_seconds - time())", []],
    ["changes(hexr_svid_expiry_timestamp_seconds[1h])", []],
    [
      "histogram_quantile(0.99, sum by (result) (rate(hexr_authz_check_duration_seconds_bucket[5m])))",
      ["hexr_authz_check_duration_seconds_bucket must be aggregated with by (le, ...) before histogram_quantile"],
    ],
    [
      "histogram_quantile(0.9, sum by (le, result) (rate(hexr_authz_check_duration_seconds_bucket[$__rate_interval])))",
      [],
    ],
    [
      'sum(rate(hexr_authz_check_duration_seconds_count{le="1"}[5m]))',
      ["hexr_authz_check_duration_seconds_count has no label le"],
    ],
    ["sum(rate(hexr_authz_check_duration_seconds[5m]))", ["unknown metric hexr_authz_check_duration_seconds"]],
    ["sum(rate(hexr_nope_total[5m]))", ["unknown metric hexr_nope_total"]],
    [
      'sum(rate(envoy_http_ext_authz_ok{envoy_cluster_name="x"}[5m]))',
      ["envoy_http_ext_authz_ok has no label envoy_cluster_name"],
    ],
    ['sum by (job) (rate(envoy_http_ext_authz_ok{instance=~"a|b"}[5m]))', []],
    ["frobnicate(envoy_server_live)", ["unknown function frobnicate()"]],
    ["vector(1)", ["selects no metric"]],
    [
      "sum by (le) (rate(hexr_guard_scans_total[5m])) / on (route) sum by (route) (rate(hexr_guard_scans_total[5m]))",
      ["by (le): hexr_guard_scans_total has no label le"],
    ],
    ['sum(rate(hexr_guard_scans_total{route="a,b"}[5m] offset 1h))', []],
  ] as const)("%s → %j", (expr, problems) => {
    expect(lintPromql(expr, known)).toEqual(problems);
  });

  it("replaces Grafana's interval variables for Prometheus", () => {
    const braced = ["$", "{__range}"].join("");
    expect(toPrometheus(`rate(x[$__rate_interval]) + increase(y[${braced}])`)).toBe("rate(x[5m]) + increase(y[1h])");
  });
});

describe("the Envoy stat list", () => {
  it("names each family once, with its Envoy doc page", () => {
    const names = ENVOY_METRICS.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of ENVOY_METRICS) {
      expect(m.name).toMatch(/^envoy_[a-z0-9_]+$/);
      expect(m.doc).toMatch(/^https:\/\/www\.envoyproxy\.io\/docs\/envoy\/latest\/[a-z_/]+(#[a-z-]+)?$/);
      expect(m.stat.split(".")[0]).toMatch(/^(http|listener|cluster|server)$/);
    }
  });

  it("does not overlap the sidecar's own names", () => {
    const sidecar = new Set(allMetricFamilies().map((f) => f.name));
    expect(ENVOY_METRICS.filter((m) => sidecar.has(m.name))).toEqual([]);
  });
});

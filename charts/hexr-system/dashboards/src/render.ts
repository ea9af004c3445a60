/**
 * The dashboards this chart ships, their files, and the flat list of panel queries a live test runs.
 *
 * @example
 *   for (const [file, text] of renderDashboardFiles()) writeFileSync(path.join(dir, file), text);
 *   for (const p of allPanels()) await prometheusQuery(p.expr); // each must return a series
 */
import type { Dashboard } from "@grafana/schema";
import { a2a } from "./a2a.ts";
import { authz } from "./authz.ts";
import { credentials } from "./credentials.ts";
import { envoy } from "./envoy.ts";
import { guard } from "./guard.ts";
import { identity } from "./identity.ts";
import { overview } from "./overview.ts";
import { type DashboardSpec, type Needs, renderDashboard } from "./panels.ts";
import { toPrometheus } from "./promql-lint.ts";

/** In the order Grafana should list them. */
export const DASHBOARDS: readonly DashboardSpec[] = [overview, authz, guard, credentials, identity, a2a, envoy];

/** `hexr-overview` → `hexr-overview.json`. */
export const dashboardFile = (d: DashboardSpec): string => `${d.uid}.json`;

/** The dashboard as written to disk: two-space JSON and a final newline, byte-stable for the same input. */
export function dashboardJson(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}

/** file name → file content, for every dashboard. */
export function renderDashboardFiles(): Map<string, string> {
  return new Map(DASHBOARDS.map((d) => [dashboardFile(d), dashboardJson(renderDashboard(d))]));
}

export interface PanelQuery {
  /** Dashboard title, e.g. "Hexr / Authorization". */
  dashboard: string;
  uid: string;
  title: string;
  /** The PromQL as Prometheus runs it: Grafana's `$__rate_interval` → 5m, `$__range` → 1h. */
  expr: string;
  /** The query exactly as in the dashboard JSON. */
  grafanaExpr: string;
  legend?: string;
  /** Set when the panel's data comes from a feature not built yet; absent means it should have data now. */
  needs?: Needs;
}

/** Every (dashboard, panel, query), one entry per query (a panel may have several). */
export function allPanels(): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const d of DASHBOARDS) {
    for (const r of d.rows) {
      for (const p of r.panels) {
        for (const t of p.targets) {
          out.push({
            dashboard: d.title,
            uid: d.uid,
            title: p.title,
            expr: toPrometheus(t.expr),
            grafanaExpr: t.expr,
            ...(t.legend !== undefined ? { legend: t.legend } : {}),
            ...(p.needs !== undefined ? { needs: p.needs } : {}),
          });
        }
      }
    }
  }
  return out;
}

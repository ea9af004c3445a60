/** Grafana dashboards for the Hexr data plane, as typed sources; `build.ts` writes the JSON files. */
export {
  allPanels,
  DASHBOARDS,
  dashboardFile,
  dashboardJson,
  type PanelQuery,
  renderDashboardFiles,
} from "./render.ts";
export { type DashboardSpec, type Needs, type PanelSpec, renderDashboard } from "./panels.ts";
export { ENVOY_DOCS, ENVOY_METRICS, type EnvoyMetric } from "./envoy-metrics.ts";
export { knownMetrics, lintPromql, promqlRefs, toPrometheus, TARGET_LABELS } from "./promql-lint.ts";

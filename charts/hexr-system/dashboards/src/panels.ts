/**
 * The few shapes our dashboards are made of, and how they become Grafana dashboard JSON (the classic
 * `schemaVersion` model that Grafana's sidecar loader reads, typed with `@grafana/schema`).
 *
 * A dashboard file says what to show: rows of panels, each a title, a description for the operator, a unit
 * and PromQL. Layout, ids, datasource wiring and panel options are decided here, once, so every dashboard
 * looks and behaves the same.
 *
 * @example
 *   const d = dashboard({ uid: "hexr-authz", title: "Hexr / Authorization", description: "…", tags: [], rows: [
 *     row("Decisions", [timeseries({ title: "Checks", description: "…", unit: "reqps", targets: [q("sum(rate(…[5m]))")] })]),
 *   ] });
 */
import {
  type Dashboard,
  DashboardCursorSync,
  type DataSourceRef,
  FieldColorModeId,
  type FieldConfigSource,
  type Panel,
  type RowPanel,
  ThresholdsMode,
  type VariableModel,
  VariableRefresh,
} from "@grafana/schema";

/** Grafana's classic dashboard JSON model version these files are written for (Grafana 11–13). */
export const SCHEMA_VERSION = 41;
/** Every panel and query reads from the dashboard's `datasource` variable. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
export const DATASOURCE: DataSourceRef = { type: "prometheus", uid: "${datasource}" };

const GRID_WIDTH = 24;
const STAT_SIZE = { w: 6, h: 4 };
const GRAPH_SIZE = { w: 12, h: 8 };

/** A feature a panel's data depends on that is not built yet. */
/** What a panel's series need beyond the defaults: a `credentials` section, A2A traffic, an enabled decision cache. */
export type Needs = "credentials" | "a2a" | "decision_cache";

export interface Query {
  expr: string;
  legend?: string;
}

export interface PanelSpec {
  kind: "timeseries" | "stat" | "bargauge" | "table";
  title: string;
  /** What the panel tells an operator, and what to do about it. */
  description: string;
  /** A Grafana unit id: `s`, `ms`, `reqps`, `percentunit`, `bytes`, `short`, `currencyUSD`, … */
  unit: string;
  targets: Query[];
  /** Stat panels: colour steps, lowest first (`base` is the colour below the first value). */
  thresholds?: { base: string; steps?: { value: number; color: string }[] };
  min?: number;
  max?: number;
  width?: number;
  height?: number;
  needs?: Needs;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  rows: RowSpec[];
}

type Common = Omit<PanelSpec, "kind">;

export const q = (expr: string, legend?: string): Query => (legend === undefined ? { expr } : { expr, legend });
export const timeseries = (p: Common): PanelSpec => ({ kind: "timeseries", ...p });
export const stat = (p: Common): PanelSpec => ({ kind: "stat", ...p });
/** Horizontal bars of one value per series (an instant query: top-N over the dashboard's range). */
export const bars = (p: Common): PanelSpec => ({ kind: "bargauge", ...p });
/** One row per series with its labels (an instant query), e.g. which policy revision each sidecar runs. */
export const table = (p: Common): PanelSpec => ({ kind: "table", ...p });
export const row = (title: string, panels: PanelSpec[]): RowSpec => ({ title, panels });

const REF_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

function targets(p: PanelSpec): Record<string, unknown>[] {
  const instant = p.kind === "bargauge" || p.kind === "table";
  return p.targets.map((t, i) => ({
    refId: REF_IDS[i]!,
    datasource: DATASOURCE,
    editorMode: "code",
    expr: t.expr,
    legendFormat: t.legend ?? "__auto",
    range: !instant,
    instant,
    ...(p.kind === "table" ? { format: "table" } : {}),
  }));
}

function fieldConfig(p: PanelSpec): FieldConfigSource {
  const steps = [
    { color: p.thresholds?.base ?? "green", value: null },
    ...(p.thresholds?.steps ?? []).map((s) => ({ color: s.color, value: s.value })),
  ];
  const custom: Record<string, unknown> =
    p.kind === "timeseries"
      ? { drawStyle: "line", lineWidth: 1, fillOpacity: 10, showPoints: "never", spanNulls: false }
      : {};
  return {
    defaults: {
      unit: p.unit,
      color: { mode: p.kind === "stat" ? FieldColorModeId.Thresholds : FieldColorModeId.PaletteClassic },
      thresholds: { mode: ThresholdsMode.Absolute, steps },
      custom,
      ...(p.min !== undefined ? { min: p.min } : {}),
      ...(p.max !== undefined ? { max: p.max } : {}),
    },
    overrides: [],
  };
}

function options(p: PanelSpec): Record<string, unknown> {
  const reduce = { calcs: ["lastNotNull"], fields: "", values: false };
  switch (p.kind) {
    case "timeseries":
      return {
        legend: { displayMode: "list", placement: "bottom", showLegend: true },
        tooltip: { mode: "multi", sort: "desc" },
      };
    case "stat":
      return {
        reduceOptions: reduce,
        colorMode: "value",
        graphMode: "area",
        justifyMode: "auto",
        orientation: "auto",
        textMode: "auto",
      };
    case "bargauge":
      return { reduceOptions: reduce, displayMode: "gradient", orientation: "horizontal", showUnfilled: true };
    case "table":
      return { showHeader: true, cellHeight: "sm" };
  }
}

/** Lays panels out left to right, wrapping at the grid width; each row starts on a new line. */
class Layout {
  x = 0;
  y = 0;
  lineHeight = 0;
  place(w: number, h: number): { x: number; y: number; w: number; h: number } {
    if (this.x + w > GRID_WIDTH) this.newLine();
    const pos = { x: this.x, y: this.y, w, h };
    this.x += w;
    this.lineHeight = Math.max(this.lineHeight, h);
    return pos;
  }
  newLine(): void {
    this.y += this.lineHeight;
    this.x = 0;
    this.lineHeight = 0;
  }
}

function size(p: PanelSpec): { w: number; h: number } {
  const base = p.kind === "stat" ? STAT_SIZE : GRAPH_SIZE;
  return { w: p.width ?? base.w, h: p.height ?? base.h };
}

export function renderPanel(p: PanelSpec, id: number, gridPos: Panel["gridPos"]): Panel {
  return {
    id,
    type: p.kind,
    title: p.title,
    description: p.description,
    datasource: DATASOURCE,
    gridPos,
    fieldConfig: fieldConfig(p),
    options: options(p),
    targets: targets(p),
  };
}

const VARIABLES: VariableModel[] = [
  {
    name: "datasource",
    label: "Data source",
    type: "datasource",
    query: "prometheus",
    refresh: VariableRefresh.onDashboardLoad,
    regex: "",
    options: [],
  },
  {
    name: "filter",
    label: "Filters",
    description: "Narrow every panel to some targets (job, instance, namespace, pod …).",
    type: "adhoc",
    datasource: DATASOURCE,
  },
];

/** The Grafana dashboard for a spec. Panel ids are 1, 2, 3 … in layout order (rows included). */
export function renderDashboard(spec: DashboardSpec): Dashboard {
  const layout = new Layout();
  const panels: (Panel | RowPanel)[] = [];
  let id = 0;
  for (const r of spec.rows) {
    layout.newLine();
    panels.push({
      id: ++id,
      type: "row",
      title: r.title,
      collapsed: false,
      panels: [],
      gridPos: layout.place(GRID_WIDTH, 1),
    });
    layout.newLine();
    for (const p of r.panels) {
      const { w, h } = size(p);
      panels.push(renderPanel(p, ++id, layout.place(w, h)));
    }
  }
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ["hexr", ...spec.tags],
    editable: true,
    graphTooltip: DashboardCursorSync.Crosshair,
    refresh: "30s",
    schemaVersion: SCHEMA_VERSION,
    time: { from: "now-1h", to: "now" },
    timezone: "browser",
    fiscalYearStartMonth: 0,
    liveNow: false,
    weekStart: "",
    version: 1,
    links: [
      {
        title: "Hexr dashboards",
        type: "dashboards",
        tags: ["hexr"],
        asDropdown: true,
        icon: "external link",
        includeVars: true,
        keepTime: true,
        targetBlank: false,
        tooltip: "",
      },
    ],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: "grafana", uid: "-- Grafana --" },
          enable: true,
          hide: true,
          iconColor: "rgba(0, 211, 255, 1)",
          name: "Annotations & Alerts",
          type: "dashboard",
        },
      ],
    },
    templating: { list: VARIABLES },
    panels,
  };
}

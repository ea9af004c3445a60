/**
 * A small PromQL reader for checking dashboards and alert rules against the metrics that exist: it finds
 * every metric selector (with the label names its matchers use) and every `by (...)` grouping (with the
 * metrics it aggregates), then `lintPromql` checks them against the sidecar's catalog and the Envoy list.
 *
 * Not a parser: it tokenizes and tracks brackets, which is enough for the queries we write (aggregations in
 * prefix or postfix form, functions, binary and set operators, range and subquery brackets, Grafana
 * variables such as `$__rate_interval`). Syntax is promtool's job; this answers "does every name exist".
 *
 * @example
 *   lintPromql('sum by (reason) (rate(hexr_authz_decisions_total{result="deny"}[5m]))', knownMetrics());
 *   // → [] (no problems)
 */
import { allMetricFamilies } from "../../../../filters/telemetry/catalog.ts";
import { ENVOY_METRICS } from "./envoy-metrics.ts";

export type MetricKind = "counter" | "gauge" | "histogram";

/** One series name a query may select: a family, or a histogram's `_bucket` / `_sum` / `_count`. */
export interface KnownSeries {
  family: string;
  kind: MetricKind;
  /** `bucket`, `sum`, `count` for a histogram's series. */
  part?: "bucket" | "sum" | "count";
  labels: ReadonlySet<string>;
  source: "sidecar" | "envoy";
}

/** Labels Prometheus adds to every scraped series (the scrape target's). */
export const TARGET_LABELS: readonly string[] = ["job", "instance"];

/** Every series name the sidecar and Envoy expose, histogram suffixes expanded. */
export function knownMetrics(): Map<string, KnownSeries> {
  const out = new Map<string, KnownSeries>();
  const add = (name: string, kind: MetricKind, labels: readonly string[], source: KnownSeries["source"]) => {
    const base = new Set([...labels, ...TARGET_LABELS]);
    if (kind !== "histogram") {
      out.set(name, { family: name, kind, labels: base, source });
      return;
    }
    out.set(`${name}_bucket`, { family: name, kind, part: "bucket", labels: new Set([...base, "le"]), source });
    out.set(`${name}_sum`, { family: name, kind, part: "sum", labels: base, source });
    out.set(`${name}_count`, { family: name, kind, part: "count", labels: base, source });
  };
  for (const f of allMetricFamilies()) add(f.name, f.kind as MetricKind, f.labels, "sidecar");
  for (const f of ENVOY_METRICS) add(f.name, f.kind, f.labels, "envoy");
  return out;
}

const AGGREGATIONS = new Set([
  "sum",
  "avg",
  "min",
  "max",
  "count",
  "group",
  "stddev",
  "stdvar",
  "topk",
  "bottomk",
  "quantile",
  "count_values",
  "limitk",
  "limit_ratio",
]);

const FUNCTIONS = new Set([
  "abs",
  "absent",
  "absent_over_time",
  "avg_over_time",
  "ceil",
  "changes",
  "clamp",
  "clamp_max",
  "clamp_min",
  "count_over_time",
  "day_of_month",
  "day_of_week",
  "days_in_month",
  "delta",
  "deriv",
  "exp",
  "floor",
  "histogram_quantile",
  "hour",
  "idelta",
  "increase",
  "irate",
  "label_join",
  "label_replace",
  "last_over_time",
  "ln",
  "log10",
  "log2",
  "max_over_time",
  "min_over_time",
  "minute",
  "month",
  "predict_linear",
  "quantile_over_time",
  "rate",
  "resets",
  "round",
  "scalar",
  "sgn",
  "sort",
  "sort_desc",
  "sqrt",
  "stddev_over_time",
  "stdvar_over_time",
  "sum_over_time",
  "time",
  "timestamp",
  "vector",
  "year",
]);

/** Functions that take a counter's range and give a per-second or per-window change. */
const COUNTER_FUNCTIONS = new Set(["rate", "increase", "irate"]);
/** Functions that make no sense on a counter's raw value but are fine on a gauge's range. */
const GAUGE_RANGE_FUNCTIONS = new Set([
  "changes",
  "avg_over_time",
  "min_over_time",
  "max_over_time",
  "last_over_time",
  "deriv",
  "delta",
  "predict_linear",
]);

const MODIFIERS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const KEYWORDS = new Set(["bool", "and", "or", "unless", "offset", "inf", "nan", "atan2", "start", "end"]);

type TokKind = "id" | "str" | "num" | "var" | "op";
interface Tok {
  kind: TokKind;
  text: string;
}

const ID = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const NUM = /(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?:[a-zA-Z]+[0-9]*)*/y;
const VAR = /\$(?:\{[^}]+\}|[a-zA-Z_][a-zA-Z0-9_]*)/y;
const OPS = [
  "=~",
  "!~",
  "!=",
  "==",
  ">=",
  "<=",
  "(",
  ")",
  "{",
  "}",
  "[",
  "]",
  ",",
  "=",
  "+",
  "-",
  "*",
  "/",
  "%",
  "^",
  "<",
  ">",
  ":",
  "@",
];

export function tokenize(expr: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const at = (re: RegExp): string | undefined => {
    re.lastIndex = i;
    const m = re.exec(expr);
    return m ? m[0] : undefined;
  };
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < expr.length && expr[i] !== "\n") i++;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === "\\" && c !== "`" ? 2 : 1;
      if (j >= expr.length) throw new SyntaxError(`unterminated string at ${i} in ${expr}`);
      out.push({ kind: "str", text: expr.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    let m = at(VAR);
    if (m) {
      out.push({ kind: "var", text: m });
      i += m.length;
      continue;
    }
    if (/[0-9.]/.test(c) && (m = at(NUM))) {
      out.push({ kind: "num", text: m });
      i += m.length;
      continue;
    }
    if ((m = at(ID))) {
      out.push({ kind: "id", text: m });
      i += m.length;
      continue;
    }
    const op = OPS.find((o) => expr.startsWith(o, i));
    if (!op) throw new SyntaxError(`unexpected ${JSON.stringify(c)} at ${i} in ${expr}`);
    out.push({ kind: "op", text: op });
    i += op.length;
  }
  return out;
}

/** A metric selector: the name, the label names its matchers use, where it sits. */
export interface SelectorRef {
  metric: string;
  labels: string[];
  /** The function directly around it (`rate` in `rate(x[5m])`), if any. */
  fn: string | undefined;
  /** Followed by a range `[...]`. */
  range: boolean;
  index: number;
}

/** `by (...)` / `without (...)` / `on (...)`: the labels, and the selectors in what it applies to. */
export interface GroupingRef {
  modifier: string;
  labels: string[];
  /** For by/without: the selectors inside the aggregated argument; for on/ignoring: all of the query's. */
  selectors: SelectorRef[];
}

export interface PromqlRefs {
  selectors: SelectorRef[];
  groupings: GroupingRef[];
  unknownFunctions: string[];
}

/** Matching bracket for every opening `(`, `{`, `[` (and back). */
function brackets(toks: Tok[]): Map<number, number> {
  const pairs = new Map<number, number>();
  const stack: number[] = [];
  const open: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  toks.forEach((t, i) => {
    if (t.kind !== "op") return;
    if (t.text === "(" || t.text === "[" || t.text === "{") stack.push(i);
    else if (t.text in open) {
      const j = stack.pop();
      if (j === undefined || toks[j]!.text !== open[t.text]) throw new SyntaxError(`unbalanced ${t.text}`);
      pairs.set(j, i);
      pairs.set(i, j);
    }
  });
  if (stack.length) throw new SyntaxError("unbalanced brackets");
  return pairs;
}

/** Reads `( a, b, c )` starting at an opening parenthesis; returns the names. */
function labelList(toks: Tok[], open: number, pairs: Map<number, number>): string[] {
  const close = pairs.get(open)!;
  return toks
    .slice(open + 1, close)
    .filter((t) => t.kind === "id")
    .map((t) => t.text);
}

/** Marks a selector's metric as a `__name__` regex (in {@link SelectorRef.metric}). */
export const NAME_REGEX = "__name__=~";

export function promqlRefs(expr: string): PromqlRefs {
  const toks = tokenize(expr);
  const pairs = brackets(toks);
  const selectors: SelectorRef[] = [];
  const unknownFunctions: string[] = [];
  const pending: { modifier: string; labels: string[]; from: number; to: number }[] = [];
  const skip = new Set<number>();
  // the function name owning each "(" (or undefined for plain grouping parentheses)
  const owner = new Map<number, string>();

  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (skip.has(i)) continue;
    if (t.kind === "op" && t.text === "{" && toks[i - 1]?.kind !== "id") {
      // a bare selector `{__name__=~"re", …}`: the metric is every known name the regex matches
      const close = pairs.get(i)!;
      const labels: string[] = [];
      let metric: string | undefined;
      for (let j = i + 1; j < close; j++) {
        const m = toks[j]!;
        const op = toks[j + 1]?.text ?? "";
        if (m.kind === "id" && ["=", "!=", "=~", "!~"].includes(op)) {
          if (m.text === "__name__" && (op === "=" || op === "=~") && toks[j + 2]?.kind === "str") {
            metric = op === "=" ? toks[j + 2]!.text : `${NAME_REGEX}${toks[j + 2]!.text}`;
          } else labels.push(m.text);
        }
      }
      for (let j = i; j <= close; j++) skip.add(j);
      if (metric === undefined) throw new SyntaxError(`a bare selector without __name__ in ${expr}`);
      selectors.push({ metric, labels, fn: undefined, range: toks[close + 1]?.text === "[", index: i });
      continue;
    }
    if (t.kind === "op" && (t.text === "[" || t.text === "{")) {
      // ranges and bare matchers are handled with their selector; skip a range's content
      if (t.text === "[") for (let j = i; j <= pairs.get(i)!; j++) skip.add(j);
      continue;
    }
    if (t.kind !== "id") continue;
    const next = toks[i + 1];
    const word = t.text;
    if (MODIFIERS.has(word) && next?.text === "(") {
      const labels = labelList(toks, i + 1, pairs);
      const close = pairs.get(i + 1)!;
      for (let j = i + 1; j <= close; j++) skip.add(j);
      if (word === "by" || word === "without") {
        // prefix form `sum by (x) (arg)`, or postfix form `sum (arg) by (x)`
        const after = toks[close + 1];
        const before = toks[i - 1];
        if (after?.text === "(" && AGGREGATIONS.has(before?.text ?? "")) {
          owner.set(close + 1, before!.text);
          pending.push({ modifier: word, labels, from: close + 1, to: pairs.get(close + 1)! });
        } else if (before?.text === ")") {
          const open = pairs.get(i - 1)!;
          pending.push({ modifier: word, labels, from: open, to: i - 1 });
        } else {
          throw new SyntaxError(`${word} (...) without an aggregation in ${expr}`);
        }
      } else {
        pending.push({ modifier: word, labels, from: 0, to: toks.length - 1 });
      }
      continue;
    }
    if (next?.text === "(" && (AGGREGATIONS.has(word) || FUNCTIONS.has(word))) {
      owner.set(i + 1, word);
      continue;
    }
    if (AGGREGATIONS.has(word) && (next?.text === "by" || next?.text === "without")) continue;
    if (next?.text === "(") {
      unknownFunctions.push(word);
      continue;
    }
    if (KEYWORDS.has(word.toLowerCase())) continue;
    // a metric name
    const labels: string[] = [];
    let end = i;
    if (next?.text === "{") {
      const close = pairs.get(i + 1)!;
      for (let j = i + 2; j < close; j++) {
        const m = toks[j]!;
        if (m.kind === "id" && ["=", "!=", "=~", "!~"].includes(toks[j + 1]?.text ?? "")) labels.push(m.text);
        skip.add(j);
      }
      skip.add(close);
      end = close;
    }
    const range = toks[end + 1]?.text === "[";
    selectors.push({ metric: word, labels, fn: undefined, range, index: i });
  }

  // the innermost function around each selector: walk out through the open brackets before it
  for (const s of selectors) {
    let fn: string | undefined;
    for (let j = s.index - 1; j >= 0; j--) {
      const close = pairs.get(j);
      if (toks[j]!.text === "(" && close !== undefined && close > s.index) {
        fn = owner.get(j);
        break;
      }
    }
    s.fn = fn;
  }
  const groupings: GroupingRef[] = pending.map((p) => ({
    modifier: p.modifier,
    labels: p.labels,
    selectors: selectors.filter((s) => s.index > p.from && s.index < p.to),
  }));
  return { selectors, groupings, unknownFunctions };
}

/**
 * Problems with one query: unknown metrics, functions or label names; counters read without
 * `rate`/`increase`; gauges under `rate`; histogram buckets aggregated without `le`.
 */
export function lintPromql(expr: string, known: Map<string, KnownSeries>): string[] {
  const problems: string[] = [];
  let refs: PromqlRefs;
  try {
    refs = promqlRefs(expr);
  } catch (e) {
    return [`cannot read: ${(e as Error).message}`];
  }
  for (const f of refs.unknownFunctions) problems.push(`unknown function ${f}()`);
  if (refs.selectors.length === 0) problems.push("selects no metric");
  for (const s of refs.selectors) {
    let k = known.get(s.metric);
    if (!k && s.metric.startsWith(NAME_REGEX)) {
      // `__name__=~"re"`: judged as the first known metric it matches (they must all be of one kind)
      const re = new RegExp(`^(?:${s.metric.slice(NAME_REGEX.length)})$`);
      const hits = [...known.entries()].filter(([n]) => re.test(n));
      if (new Set(hits.map(([, v]) => v.kind)).size > 1) problems.push(`${s.metric} matches metrics of several kinds`);
      k = hits[0]?.[1];
    }
    if (!k) {
      problems.push(`unknown metric ${s.metric}`);
      continue;
    }
    for (const l of s.labels) {
      if (!k.labels.has(l)) problems.push(`${s.metric} has no label ${l}`);
    }
    const cumulative = k.kind === "counter" || (k.kind === "histogram" && k.part !== undefined);
    if (cumulative && !(s.range && COUNTER_FUNCTIONS.has(s.fn ?? ""))) {
      problems.push(`${s.metric} is cumulative: read it through rate() or increase()`);
    }
    if (k.kind === "gauge" && s.range && !GAUGE_RANGE_FUNCTIONS.has(s.fn ?? "")) {
      problems.push(`${s.metric} is a gauge: ${s.fn ?? "a range"} over it is not meaningful`);
    }
    if (k.part === "bucket") {
      const inLe = refs.groupings.some(
        (g) => g.modifier === "by" && g.labels.includes("le") && g.selectors.includes(s),
      );
      if (!inLe) problems.push(`${s.metric} must be aggregated with by (le, ...) before histogram_quantile`);
    }
  }
  for (const g of refs.groupings) {
    if (g.modifier === "by") {
      for (const l of g.labels) {
        for (const s of g.selectors) {
          const k = known.get(s.metric);
          if (k && !k.labels.has(l)) problems.push(`by (${l}): ${s.metric} has no label ${l}`);
        }
      }
    } else if (g.modifier !== "without") {
      for (const l of g.labels) {
        const anywhere = g.selectors.some((s) => known.get(s.metric)?.labels.has(l));
        if (!anywhere) problems.push(`${g.modifier} (${l}): no metric in the query has label ${l}`);
      }
    }
  }
  return problems;
}

/** Grafana's interval variables, replaced by what a Prometheus query would use over a 1 h dashboard. */
export const GRAFANA_DEFAULTS: Readonly<Record<string, string>> = {
  $__rate_interval: "5m",
  $__interval: "1m",
  $__range: "1h",
};

/** The query as Prometheus runs it: Grafana's interval variables replaced (see {@link GRAFANA_DEFAULTS}). */
export function toPrometheus(expr: string): string {
  return expr.replace(/\$\{?(__rate_interval|__interval|__range)\}?/g, (_m, v: string) => GRAFANA_DEFAULTS[`$${v}`]!);
}

/**
 * PromQL builders for the dashboards: the same few shapes (sum of rates, quantile from buckets, a ratio)
 * written one way everywhere. Windows default to Grafana's `$__rate_interval`, which is at least four
 * scrape intervals, so a rate never reads a single sample.
 *
 * @example
 *   sumRate("hexr_authz_decisions_total", { by: ["result"] });
 *   // sum by (result) (rate(hexr_authz_decisions_total[$__rate_interval]))
 */

export const RATE_WINDOW = "$__rate_interval";
export const RANGE = "$__range";

export interface Sel {
  /** Label matchers, as written inside the braces: `result="deny", reason=~"a|b"`. */
  where?: string;
  by?: string[];
  window?: string;
}

export function selector(metric: string, where?: string): string {
  return where ? `${metric}{${where}}` : metric;
}

function sumBy(by: string[] | undefined, inner: string): string {
  return by?.length ? `sum by (${by.join(", ")}) (${inner})` : `sum(${inner})`;
}

/** `sum [by (…)] (rate(metric{…}[window]))`. */
export function sumRate(metric: string, s: Sel = {}): string {
  return sumBy(s.by, `rate(${selector(metric, s.where)}[${s.window ?? RATE_WINDOW}])`);
}

/** `sum [by (…)] (increase(metric{…}[window]))`; the window defaults to the dashboard's range. */
export function sumIncrease(metric: string, s: Sel = {}): string {
  return sumBy(s.by, `increase(${selector(metric, s.where)}[${s.window ?? RANGE}])`);
}

/** The q-quantile of a histogram, from its buckets summed by `le` (and `by`). */
export function quantile(q: number, histogram: string, s: Sel = {}): string {
  const by = ["le", ...(s.by ?? [])].join(", ");
  return `histogram_quantile(${q}, sum by (${by}) (rate(${selector(`${histogram}_bucket`, s.where)}[${s.window ?? RATE_WINDOW}])))`;
}

/** Mean of a histogram's observations: rate of the sum over rate of the count. */
export function mean(histogram: string, s: Sel = {}): string {
  return `${sumRate(`${histogram}_sum`, s)} / ${sumRate(`${histogram}_count`, s)}`;
}

/**
 * A filtered sum that is 0 instead of empty when no series matches yet (no deny has happened), so a stat
 * panel shows 0 and a ratio still has a numerator. Only for sums without `by`: `vector(0)` has no labels.
 */
export function orZero(expr: string): string {
  return `(${expr} or vector(0))`;
}

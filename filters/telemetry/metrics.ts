/**
 * A small Prometheus registry for the hot path: counters, gauges and histograms whose label sets are
 * resolved once (`labels(...)` returns a child that is cached and reused), so recording is an array
 * index and an add. Exposition is the text format 0.0.4, built only when scraped.
 *
 * Cardinality is bounded per metric: past `maxSeries` distinct label sets, new ones are recorded under
 * the value `_other` for every label (and `hexr_telemetry_series_overflow_total` counts them), so no
 * input can grow memory or the scrape without bound.
 *
 * @example
 *   const r = new Registry();
 *   const decisions = r.counter("hexr_authz_decisions_total", "Decisions.", ["result", "reason"]);
 *   decisions.labels("deny", "identity.no_identity").inc();
 *   r.exposition(); // "# HELP hexr_authz_decisions_total Decisions.\n# TYPE …"
 */

export const DEFAULT_MAX_SERIES = 500;
const OTHER = "_other";
const SEP = "\u0000";

/** Seconds; fits a sidecar hop (0.1 ms) up to a slow LLM call (60 s). */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
/** Tokens per LLM call (OpenTelemetry GenAI's advice for gen_ai.client.token.usage, powers of 4). */
export const TOKEN_BUCKETS: readonly number[] = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

type Kind = "counter" | "gauge" | "histogram";

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(n);
}

abstract class Family<C> {
  readonly #children = new Map<string, C>();
  readonly #labelText = new Map<C, string>();

  readonly name: string;
  readonly help: string;
  readonly kind: Kind;
  readonly labelNames: readonly string[];
  readonly maxSeries: number;
  readonly onOverflow: () => void;

  readonly constText: string;

  constructor(
    name: string,
    help: string,
    kind: Kind,
    labelNames: readonly string[],
    maxSeries: number,
    onOverflow: () => void,
    constText = "",
  ) {
    this.constText = constText;
    this.name = name;
    this.help = help;
    this.kind = kind;
    this.labelNames = labelNames;
    this.maxSeries = maxSeries;
    this.onOverflow = onOverflow;
  }

  protected abstract create(): C;
  protected abstract lines(out: string[], labels: string, child: C): void;

  /** The child for these label values (one per label name, in order). */
  labels(...values: string[]): C {
    const key = values.length === 1 ? values[0]! : values.join(SEP);
    let c = this.#children.get(key);
    if (c !== undefined) return c;
    if (values.length !== this.labelNames.length) {
      throw new TypeError(`${this.name}: expected ${this.labelNames.length} label values, got ${values.length}`);
    }
    if (this.#children.size >= this.maxSeries) {
      this.onOverflow();
      const other = this.labelNames.map(() => OTHER);
      const ok = other.length === 1 ? other[0]! : other.join(SEP);
      c = this.#children.get(ok);
      if (c !== undefined) return c;
      values = other;
    }
    c = this.create();
    this.#children.set(values.length === 1 ? values[0]! : values.join(SEP), c);
    const own = this.labelNames.map((n, i) => `${n}="${escapeLabel(values[i]!)}"`).join(",");
    this.#labelText.set(c, this.constText && own ? `${this.constText},${own}` : this.constText || own);
    return c;
  }

  /** Forgets every series (e.g. an info gauge whose label changed). */
  clear(): void {
    this.#children.clear();
    this.#labelText.clear();
  }

  /** Series for every label set seen, in the order first seen. */
  write(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.kind}`);
    for (const c of this.#children.values()) this.lines(out, this.#labelText.get(c)!, c);
  }
}

export class CounterChild {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class Counter extends Family<CounterChild> {
  protected create(): CounterChild {
    return new CounterChild();
  }
  protected lines(out: string[], labels: string, c: CounterChild): void {
    out.push(`${this.name}${labels ? `{${labels}}` : ""} ${formatNumber(c.value)}`);
  }
}

export class GaugeChild {
  value = 0;
  set(v: number): void {
    this.value = v;
  }
  inc(by = 1): void {
    this.value += by;
  }
  dec(by = 1): void {
    this.value -= by;
  }
}

export class Gauge extends Family<GaugeChild> {
  /** Called before each scrape, to read values that live elsewhere (SVID expiry, memory). */
  collect: (() => void) | undefined;
  protected create(): GaugeChild {
    return new GaugeChild();
  }
  protected lines(out: string[], labels: string, c: GaugeChild): void {
    out.push(`${this.name}${labels ? `{${labels}}` : ""} ${formatNumber(c.value)}`);
  }
  override write(out: string[]): void {
    this.collect?.();
    super.write(out);
  }
}

export class HistogramChild {
  readonly buckets: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(buckets: readonly number[]) {
    this.buckets = buckets;
    this.counts = new Float64Array(buckets.length);
  }
  observe(v: number): void {
    const b = this.buckets;
    // buckets are few (≤ 18): a linear scan beats a binary search at this size
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    if (i < b.length) this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

export class Histogram extends Family<HistogramChild> {
  readonly buckets: readonly number[];
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
    maxSeries: number,
    onOverflow: () => void,
    constText = "",
  ) {
    super(name, help, "histogram", labelNames, maxSeries, onOverflow, constText);
    this.buckets = buckets;
  }
  protected create(): HistogramChild {
    return new HistogramChild(this.buckets);
  }
  protected lines(out: string[], labels: string, c: HistogramChild): void {
    const pre = labels ? `${labels},` : "";
    let cum = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cum += c.counts[i]!;
      out.push(`${this.name}_bucket{${pre}le="${formatNumber(this.buckets[i]!)}"} ${cum}`);
    }
    out.push(`${this.name}_bucket{${pre}le="+Inf"} ${c.count}`);
    const braces = labels ? `{${labels}}` : "";
    out.push(`${this.name}_sum${braces} ${formatNumber(c.sum)}`, `${this.name}_count${braces} ${c.count}`);
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class Registry {
  readonly #families = new Map<string, Family<unknown>>();
  readonly #maxSeries: number;
  readonly #constText: string;
  readonly overflow: CounterChild;

  /**
   * `constLabels` go on every series (e.g. `{ thread: "guard" }` for the guard thread's registry, whose
   * exposition is merged with the main thread's: see {@link mergeExpositions}).
   */
  constructor(opts: { maxSeries?: number; constLabels?: Readonly<Record<string, string>> } = {}) {
    this.#maxSeries = opts.maxSeries ?? DEFAULT_MAX_SERIES;
    this.#constText = Object.entries(opts.constLabels ?? {})
      .map(([k, v]) => {
        if (!LABEL.test(k)) throw new TypeError(`bad label name ${k}`);
        return `${k}="${escapeLabel(v)}"`;
      })
      .join(",");
    this.overflow = this.counter(
      "hexr_telemetry_series_overflow_total",
      "Label sets recorded as _other because their metric reached its series limit.",
      ["metric"],
    ).labels("all");
  }

  #add<F extends Family<unknown>>(f: F): F {
    if (!NAME.test(f.name)) throw new TypeError(`bad metric name ${f.name}`);
    for (const l of f.labelNames) if (!LABEL.test(l) || l === "le") throw new TypeError(`bad label name ${l}`);
    if (this.#families.has(f.name)) throw new TypeError(`metric ${f.name} registered twice`);
    this.#families.set(f.name, f);
    return f;
  }

  #onOverflow = (): void => {
    this.overflow?.inc();
  };

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(
      new Counter(name, help, "counter", labelNames, this.#maxSeries, this.#onOverflow, this.#constText),
    );
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, "gauge", labelNames, this.#maxSeries, this.#onOverflow, this.#constText));
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.#add(
      new Histogram(name, help, labelNames, buckets, this.#maxSeries, this.#onOverflow, this.#constText),
    );
  }

  /** Every registered family: name, kind and label names. */
  families(): { name: string; kind: string; labels: readonly string[] }[] {
    return [...this.#families.values()].map((f) => ({ name: f.name, kind: f.kind, labels: f.labelNames }));
  }

  /** The text exposition format (version 0.0.4). */
  exposition(): string {
    const out: string[] = [];
    for (const f of this.#families.values()) f.write(out);
    return `${out.join("\n")}\n`;
  }
}

/**
 * Several registries' expositions as one: a family present in more than one (the series-overflow and
 * span counters exist on both threads) keeps one HELP/TYPE header with every registry's samples under it
 * (their series differ by the registries' const labels). The text format allows one header per name.
 */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, { head: string[]; samples: string[] }>();
  for (const text of texts) {
    let current: { head: string[]; samples: string[] } | undefined;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      if (line.startsWith("# HELP ")) {
        const name = line.slice(7, line.indexOf(" ", 7) === -1 ? undefined : line.indexOf(" ", 7));
        current = families.get(name);
        if (current === undefined) {
          current = { head: [line], samples: [] };
          families.set(name, current);
        }
        continue;
      }
      if (line.startsWith("# TYPE ")) {
        if (current && current.head.length === 1) current.head.push(line);
        continue;
      }
      current?.samples.push(line);
    }
  }
  const out: string[] = [];
  for (const f of families.values()) out.push(...f.head, ...f.samples);
  return `${out.join("\n")}\n`;
}

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

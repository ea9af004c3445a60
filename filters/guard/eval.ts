/**
 * Scoring the guard on a labelled set, the way a user measures it on their own data: per expected type
 * (and `type/subtype`) the recall, per type the false-positive rate on cases that do not expect it, and
 * the scan time per case. Texts are never copied into the report.
 *
 * A case is `{"id", "text", "expect": ["secret", "pii/phone", …]}`; an empty `expect` is a benign case.
 * A bare type is found by any finding of that type; `type/subtype` only by that subtype.
 *
 * @example
 *   const ev = new GuardEvaluation(policy);
 *   for (const c of cases) ev.add(c);
 *   const report = ev.report();
 *   report.types.secret.recall; // 0.93
 */
import { HexrError } from "../errors.ts";
import { DEFAULT_GUARD_POLICY, type GuardPolicy } from "./policy.ts";
import { scanText } from "./scan.ts";
import { FINDING_TYPES, type FindingType } from "./types.ts";

export interface EvalCase {
  readonly id?: unknown;
  readonly text: string;
  /** Expected types or `type/subtype`s; empty for a benign case. */
  readonly expect: readonly string[];
}

export interface Counts {
  /** Cases that expect it. */
  expected: number;
  found: number;
  /** found / expected, or null with none expected. */
  recall: number | null;
}

export interface TypeReport extends Counts {
  /** Cases that do not expect this type. */
  negatives: number;
  falsePositives: number;
  /** falsePositives / negatives, or null with no negatives. */
  falsePositiveRate: number | null;
}

export interface EvalReport {
  cases: number;
  benign: number;
  /** Benign cases with any finding at or above the policy thresholds. */
  benignFlagged: number;
  types: Record<FindingType, TypeReport>;
  /** Per expected `type/subtype`. */
  subtypes: Record<string, Counts>;
  /** Scan time per case, milliseconds. */
  ms: { mean: number; p50: number; p99: number; max: number };
  /** Cases that could not be scanned (over the size cap, say), by error code. */
  errors: Record<string, number>;
}

const TYPES: ReadonlySet<string> = new Set(FINDING_TYPES);

/** Parse and check one label: a finding type, or `type/subtype`. Throws `guard.bad_input`. */
export function parseLabel(label: unknown): { type: FindingType; subtype?: string } {
  if (typeof label !== "string" || label.length === 0 || label.length > 128)
    throw new HexrError("guard.bad_input", "expect entries must be non-empty strings");
  const slash = label.indexOf("/");
  const type = slash === -1 ? label : label.slice(0, slash);
  if (!TYPES.has(type))
    throw new HexrError("guard.bad_input", `expect: unknown type (one of ${FINDING_TYPES.join(", ")})`);
  return slash === -1 ? { type: type as FindingType } : { type: type as FindingType, subtype: label.slice(slash + 1) };
}

function ratio(a: number, b: number): number | null {
  return b === 0 ? null : Math.round((a / b) * 10_000) / 10_000;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export class GuardEvaluation {
  readonly #policy: GuardPolicy;
  readonly #types = new Map<FindingType, { expected: number; found: number; negatives: number; fp: number }>();
  readonly #subtypes = new Map<string, { expected: number; found: number }>();
  readonly #ms: number[] = [];
  readonly #errors = new Map<string, number>();
  #cases = 0;
  #benign = 0;
  #benignFlagged = 0;

  constructor(policy: GuardPolicy = DEFAULT_GUARD_POLICY) {
    this.#policy = policy;
    for (const t of FINDING_TYPES) this.#types.set(t, { expected: 0, found: 0, negatives: 0, fp: 0 });
  }

  /** Scores one case. Throws `guard.bad_input` for a malformed label (nothing is counted then). */
  add(c: EvalCase): void {
    const labels = c.expect.map(parseLabel);
    let findings: ReturnType<typeof scanText>["findings"];
    const t0 = performance.now();
    try {
      findings = scanText(c.text, this.#policy).findings;
    } catch (e) {
      const code = e instanceof HexrError ? e.code : "guard.scan_error";
      this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1);
      return;
    }
    this.#ms.push(performance.now() - t0);
    this.#cases++;
    const foundTypes = new Set<string>();
    const foundSubtypes = new Set<string>();
    for (const f of findings) {
      foundTypes.add(f.type);
      foundSubtypes.add(`${f.type}/${f.subtype}`);
    }
    const expectedTypes = new Set(labels.map((l) => l.type));
    for (const l of labels) {
      if (l.subtype === undefined) continue;
      const key = `${l.type}/${l.subtype}`;
      const s = this.#subtypes.get(key) ?? { expected: 0, found: 0 };
      s.expected++;
      if (foundSubtypes.has(key)) s.found++;
      this.#subtypes.set(key, s);
    }
    for (const t of FINDING_TYPES) {
      const row = this.#types.get(t)!;
      if (expectedTypes.has(t)) {
        row.expected++;
        // a type is found when every label of that type is: its bare type, or each named subtype
        const ofType = labels.filter((l) => l.type === t);
        if (ofType.every((l) => (l.subtype === undefined ? foundTypes.has(t) : foundSubtypes.has(`${t}/${l.subtype}`))))
          row.found++;
      } else {
        row.negatives++;
        if (foundTypes.has(t)) row.fp++;
      }
    }
    if (labels.length === 0) {
      this.#benign++;
      if (findings.length > 0) this.#benignFlagged++;
    }
  }

  report(): EvalReport {
    const types = {} as Record<FindingType, TypeReport>;
    for (const t of FINDING_TYPES) {
      const r = this.#types.get(t)!;
      types[t] = {
        expected: r.expected,
        found: r.found,
        recall: ratio(r.found, r.expected),
        negatives: r.negatives,
        falsePositives: r.fp,
        falsePositiveRate: ratio(r.fp, r.negatives),
      };
    }
    const subtypes: Record<string, Counts> = {};
    for (const [k, v] of [...this.#subtypes].sort(([a], [b]) => a.localeCompare(b)))
      subtypes[k] = { expected: v.expected, found: v.found, recall: ratio(v.found, v.expected) };
    const sorted = [...this.#ms].sort((a, b) => a - b);
    const r3 = (n: number) => Math.round(n * 1000) / 1000;
    return {
      cases: this.#cases,
      benign: this.#benign,
      benignFlagged: this.#benignFlagged,
      types,
      subtypes,
      ms: {
        mean: r3(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
        p50: r3(percentile(sorted, 50)),
        p99: r3(percentile(sorted, 99)),
        max: r3(sorted.at(-1) ?? 0),
      },
      errors: Object.fromEntries(this.#errors),
    };
  }
}

/** The report as a plain-text table (what `hexr guard eval` prints without `--json`). */
export function formatEvalReport(r: EvalReport): string {
  const pct = (v: number | null) => (v === null ? "–" : `${(v * 100).toFixed(1)} %`);
  const lines = [
    `cases ${r.cases} (benign ${r.benign}, of which flagged ${r.benignFlagged}); ` +
      `scan ms/case mean ${r.ms.mean} p50 ${r.ms.p50} p99 ${r.ms.p99} max ${r.ms.max}`,
    "",
    "type               expected   found   recall   negatives   false pos   FP rate",
  ];
  for (const t of FINDING_TYPES) {
    const x = r.types[t];
    lines.push(
      `${t.padEnd(18)} ${String(x.expected).padStart(8)} ${String(x.found).padStart(7)} ${pct(x.recall).padStart(8)} ` +
        `${String(x.negatives).padStart(11)} ${String(x.falsePositives).padStart(11)} ${pct(x.falsePositiveRate).padStart(9)}`,
    );
  }
  const subs = Object.entries(r.subtypes);
  if (subs.length > 0) {
    lines.push("", "subtype                                  expected   found   recall");
    for (const [k, v] of subs)
      lines.push(
        `${k.padEnd(40)} ${String(v.expected).padStart(8)} ${String(v.found).padStart(7)} ${pct(v.recall).padStart(8)}`,
      );
  }
  const errs = Object.entries(r.errors);
  if (errs.length > 0) lines.push("", `not scanned: ${errs.map(([c, n]) => `${c} ${n}`).join(", ")}`);
  return `${lines.join("\n")}\n`;
}

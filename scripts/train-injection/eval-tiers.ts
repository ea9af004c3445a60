/**
 * Recall and false-positive rate of the prompt-injection tiers on the held-out split that train.py
 * writes (guard-eval JSON lines with `source`, `lang`, `hard`): rules alone, the learned tier alone,
 * and both as the default pipeline runs them, at the default route threshold. Prints JSON for the
 * model card.
 *
 *   node scripts/train-injection/eval-tiers.ts ~/.cache/hexr/train/heldout-test.jsonl
 */
import { readFileSync } from "node:fs";
import { normalize } from "../../filters/guard/normalize.ts";
import { defaultLinearModel } from "../../filters/guard/injection-model.ts";
import { LEARNED_FLAG_SCORE, scanInjection, setLearnedInjectionModel } from "../../filters/guard/prompt-injection.ts";

interface Row {
  text: string;
  expect: string[];
  source: string;
  lang: string;
  hard: boolean;
}

const THRESHOLD = 0.5;
const file = process.argv[2];
if (file === undefined) throw new TypeError("usage: eval-tiers.ts HELDOUT.jsonl");
const rows = readFileSync(file, "utf8")
  .split("\n")
  .filter((l) => l !== "")
  .map((l) => JSON.parse(l) as Row);
const model = defaultLinearModel();

function flags(tier: "rules" | "learned" | "both", text: string): boolean {
  const n = normalize(text);
  if (tier === "learned") return model.score(n).score >= LEARNED_FLAG_SCORE;
  setLearnedInjectionModel(tier === "both" ? model : null);
  return scanInjection(text, n, { minScore: THRESHOLD }).length > 0;
}

type Block = { injections: number; found: number; benign: number; falsePositives: number };
const blank = (): Block => ({ injections: 0, found: 0, benign: 0, falsePositives: 0 });
const report: Record<string, Record<string, Block>> = {};
for (const tier of ["rules", "learned", "both"] as const) {
  const by: Record<string, Block> = {};
  const add = (key: string, inj: boolean, hit: boolean): void => {
    const b = (by[key] ??= blank());
    if (inj) {
      b.injections++;
      if (hit) b.found++;
    } else {
      b.benign++;
      if (hit) b.falsePositives++;
    }
  };
  for (const r of rows) {
    const inj = r.expect.includes("prompt_injection");
    const hit = flags(tier, r.text);
    add("overall", inj, hit);
    if (!inj && r.hard) add("hard_benign", inj, hit);
    add(`source:${r.source}`, inj, hit);
    add(`lang:${r.lang}`, inj, hit);
  }
  report[tier] = by;
}
setLearnedInjectionModel(model);
const rate = (a: number, b: number): number | null => (b === 0 ? null : Math.round((a / b) * 1000) / 1000);
const out: Record<string, unknown> = {};
for (const [tier, by] of Object.entries(report))
  out[tier] = Object.fromEntries(
    Object.entries(by).map(([k, b]) => [
      k,
      { ...b, recall: rate(b.found, b.injections), fpr: rate(b.falsePositives, b.benign) },
    ]),
  );
console.log(JSON.stringify(out, null, 1));

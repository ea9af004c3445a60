/**
 * Every secret rule's own examples (filters/guard/secret-rules/): each `match` template, expanded with
 * seeded random bodies (and valid checksums where the format has one), is found with the rule's subtype
 * over exactly the marked span, in several surroundings; each `nomatch` text yields no finding of it.
 * Tokens are built here, at test time, so no realistic credential is ever committed.
 */
import { describe, expect, it } from "vitest";
import {
  DETECTOR_FORMATS,
  type ExampleFn,
  SECRET_RULES,
  type SecretRule,
  TEMPLATE_ALPHABETS,
} from "../../../filters/guard/secret-rules/index.ts";
import { scanSecrets } from "../../../filters/guard/secrets.ts";
import type { Finding } from "../../../filters/guard/types.ts";

function rng(seed: number): (alphabet: string, n: number) => string {
  let x = (seed * 2654435761) >>> 0 || 0x9e3779b9;
  return (alphabet, n) => {
    let s = "";
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      s += alphabet[x % alphabet.length];
    }
    return s;
  };
}

/** Expand a template (see rule.ts): the text, and the span the finding must cover. */
function expand(
  template: string | ExampleFn,
  seed: number,
  rule?: Pick<SecretRule, "checksum">,
): { text: string; start: number; end: number } {
  const random = rng(seed);
  let text = typeof template === "function" ? template(random) : "";
  if (typeof template === "string") {
    for (const part of template.split(/(\[\[[^\]]+\]\])/)) {
      const m = /^\[\[(\w+)(?::(\d+))?\]\]$/.exec(part);
      if (!m) text += part;
      else if (m[1] === "sum") {
        const from = Math.max(text.lastIndexOf("«") + 1, 0);
        text += rule!.checksum!.make(text.slice(from));
      } else text += random(TEMPLATE_ALPHABETS[m[1]!]!, Number(m[2]));
    }
  }
  const a = text.indexOf("«");
  if (a === -1) return { text, start: 0, end: text.length };
  const b = text.indexOf("»");
  return { text: text.slice(0, a) + text.slice(a + 1, b) + text.slice(b + 1), start: a, end: b - 1 };
}

const SURROUNDINGS: readonly [string, string][] = [
  ["", ""],
  ["token: ", "\n"],
  ['{"key": "', '"}'],
  ["export KEY=", "; echo ok"],
  ["see (", ") for details"],
];

const ALL = [...SECRET_RULES, ...DETECTOR_FORMATS];
const label = (r: { provider: string; subtype: string }, k: number) => `${r.provider} ${r.subtype} #${k}`;

/** The finding of `subtype` over exactly [start, end), and no finding above it covering that span. */
function expectFound(fs: Finding[], subtype: string, text: string, start: number, end: number): Finding {
  const f = fs.find((x) => x.subtype === subtype && x.start === start && x.end === end);
  expect(f, `${subtype} over ${JSON.stringify(text.slice(start, end))} in ${JSON.stringify(fs)}`).toBeDefined();
  const over = fs.filter((x) => x !== f && x.start <= start && x.end >= end && x.score > f!.score);
  expect(over, "a higher-scoring finding shadows it").toEqual([]);
  return f!;
}

describe("secret rules: table", () => {
  it("covers at least 150 formats (provider and kind) from at least 120 providers", () => {
    const kinds = new Set(ALL.map((r) => `${r.provider}/${r.subtype}`));
    const providers = new Set(ALL.map((r) => r.provider));
    expect(kinds.size).toBeGreaterThanOrEqual(150);
    expect(providers.size).toBeGreaterThanOrEqual(120);
  });

  it.each(ALL.map((r, k) => [label(r, k), r] as const))(
    "%s has examples of both kinds and a snake_case subtype",
    (_n, r) => {
      expect(r.examples.match.length).toBeGreaterThan(0);
      expect(r.examples.nomatch.length).toBeGreaterThan(0);
      expect(r.subtype).toMatch(/^[a-z0-9]+(_[a-z0-9]+)*$/);
    },
  );

  it.each(SECRET_RULES.map((r, k) => [label(r, k), r] as const))("%s is well-formed", (_n, r) => {
    expect(r.prefix !== undefined || (r.context?.length ?? 0) > 0).toBe(true);
    expect(r.min).toBeLessThanOrEqual(r.max);
    expect(r.score).toBeGreaterThan(0);
    expect(r.score).toBeLessThanOrEqual(1);
    if (r.prefix !== undefined) expect(r.prefix).not.toMatch(/\s$/);
  });
});

describe("secret rules: each rule finds its own examples", () => {
  const cases = ALL.flatMap((r, k) => r.examples.match.map((t, j) => [`${label(r, k)} match ${j}`, r, t] as const));
  it.each(cases)("%s", (_n, r, template) => {
    for (let seed = 1; seed <= 3; seed++) {
      const ex = expand(template, seed * 7919 + 13, r as SecretRule);
      const marked = typeof template === "function" ? ex.text.includes("«") : template.includes("«");
      const wraps = marked || "detector" in r ? [["", ""] as [string, string]] : SURROUNDINGS;
      for (const [before, after] of wraps) {
        const text = before + ex.text + after;
        const f = expectFound(scanSecrets(text), r.subtype, text, ex.start + before.length, ex.end + before.length);
        if (typeof template === "string" && template.includes("[[sum]]")) expect(f.score).toBe(r.score);
      }
    }
  });
});

describe("secret rules: each rule ignores its own hard negatives", () => {
  const cases = ALL.flatMap((r, k) => r.examples.nomatch.map((t, j) => [`${label(r, k)} nomatch ${j}`, r, t] as const));
  it.each(cases)("%s", (_n, r, template) => {
    for (let seed = 1; seed <= 3; seed++) {
      const { text } = expand(template, seed * 104729 + 7, r as SecretRule);
      const fs = scanSecrets(text).filter((f) => f.subtype === r.subtype);
      expect(fs, JSON.stringify(text)).toEqual([]);
    }
  });
});

describe("secret rules: checksums", () => {
  const withSum = SECRET_RULES.filter((r) => r.checksum);
  it.each(withSum.map((r, k) => [label(r, k), r] as const))(
    "%s: a valid checksum verifies and a changed one fails",
    (_n, r) => {
      const t = r.examples.match.find((m): m is string => typeof m === "string" && m.includes("[[sum]]"))!;
      for (let seed = 1; seed <= 20; seed++) {
        const { text } = expand(t, seed, r);
        expect(r.checksum!.verify(text, 0, text.length)).toBe(true);
        const k = text.length - 3;
        const swapped = text.slice(0, k) + (text[k] === "0" ? "1" : "0") + text.slice(k + 1);
        expect(r.checksum!.verify(swapped, 0, swapped.length)).toBe(false);
      }
    },
  );

  it("scores a token whose checksum fails below one that verifies", () => {
    const gh = SECRET_RULES.find((r) => r.prefix === "ghp_")!;
    const { text } = expand("ghp_[[a:30]][[sum]]", 5, gh);
    const bad = `${text.slice(0, -1)}${text.endsWith("0") ? "1" : "0"}`;
    const good = scanSecrets(text)[0]!.score;
    const worse = scanSecrets(bad)[0]!.score;
    expect(good).toBeGreaterThan(worse);
    expect(worse).toBeGreaterThanOrEqual(0.5);
  });
});

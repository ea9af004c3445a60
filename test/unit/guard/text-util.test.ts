/**
 * The character helpers behind the scanners, each against the plain definition it replaced for speed
 * (window search per candidate, a 128-bucket entropy loop, a lowercased copy per placeholder check).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { entropy, looksPlaceholder, WindowWords, wordNear } from "../../../filters/guard/text-util.ts";

const WORDS = ["card", "tel", "text me", "ip", "append", "encode", "url-encode"];
const text = fc
  .array(fc.constantFrom(...WORDS, "a", "x", " ", "-", "\n", "cards", "ipa", "é", "T"), { maxLength: 60 })
  .map((a) => a.join(""));
const windows = fc.array(fc.tuple(fc.integer({ min: -10, max: 300 }), fc.integer({ min: 0, max: 120 })), {
  minLength: 20, // past the direct searches, into the index
  maxLength: 40,
});

describe("WindowWords", () => {
  it.each([true, false])("answers as a search of each window does (whole words: %s)", (wholeWord) => {
    fc.assert(
      fc.property(text, windows, (t, wins) => {
        const ww = new WindowWords(t, WORDS, wholeWord);
        for (const [from, len] of wins) {
          const a = Math.max(from, 0);
          const b = Math.min(from + len, t.length);
          const want = wholeWord
            ? wordNear(t, WORDS, from, from + len)
            : b > a && WORDS.some((w) => t.slice(a, b).includes(w));
          expect(ww.has(from, from + len), `${JSON.stringify(t)} [${from}, ${from + len})`).toBe(want);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("entropy and looksPlaceholder", () => {
  function entropyByBuckets(s: string, start: number, end: number): number {
    const n = end - start;
    if (n <= 0) return 0;
    const counts = new Array<number>(128).fill(0);
    for (let i = start; i < end; i++) {
      const u = s.charCodeAt(i);
      counts[u < 128 ? u : 0]!++;
    }
    let h = 0;
    for (const c of counts) if (c > 0) h -= (c / n) * Math.log2(c / n);
    return h;
  }
  const PLACEHOLDER = ["example", "your", "placeholder", "dummy", "redacted", "sample", "changeme", "xxxx", "<"];
  /** The definition before it read in place (one repeated unit, a run of 6, or a word in a lowercased copy). */
  function placeholderByCopy(s: string, start: number, end: number): boolean {
    if (end - start <= 0) return true;
    let same = true;
    let run = 1;
    let maxRun = 1;
    for (let i = start + 1; i < end; i++) {
      if (s.charCodeAt(i) !== s.charCodeAt(start)) same = false;
      run = s.charCodeAt(i) === s.charCodeAt(i - 1) ? run + 1 : 1;
      maxRun = Math.max(maxRun, run);
    }
    if (same || maxRun >= 6) return true;
    const sub = s.slice(start, end).toLowerCase();
    return [...PLACEHOLDER, "${", "{{", "1234567890", "abcdef0123", "abcdefgh"].some((w) => sub.includes(w));
  }
  const token = fc
    .array(
      fc.oneof(
        fc.constantFrom(...PLACEHOLDER, "EXAMPLE", "YoUr", "$", "{", "\u212a", "\u0130", "é", "😀", "\ud800"),
        fc.string({ unit: "grapheme-ascii", maxLength: 8 }),
      ),
      { maxLength: 10 },
    )
    .map((a) => a.join(""));

  it("give exactly what the plain definitions give", () => {
    fc.assert(
      fc.property(token, fc.nat(), fc.nat(), (s, x, y) => {
        const a = x % (s.length + 1);
        const b = a + (y % (s.length - a + 1));
        expect(entropy(s, a, b)).toBe(entropyByBuckets(s, a, b)); // the same double, not just close
        expect(looksPlaceholder(s, a, b)).toBe(placeholderByCopy(s, a, b));
      }),
      { numRuns: 3000 },
    );
  });
});

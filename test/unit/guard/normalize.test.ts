import { describe, expect, it } from "vitest";
import { normalize, toOriginal } from "../../../filters/guard/normalize.ts";

describe("normalize", () => {
  it.each([
    ["plain ASCII is lowercased", "Hello World", "hello world"],
    ["fullwidth letters fold to ASCII", "Ｉｇｎｏｒｅ", "ignore"],
    ["math alphanumerics fold", "𝐢𝐠𝐧𝐨𝐫𝐞", "ignore"],
    ["ligatures expand", "ﬁle", "file"],
    ["diacritics are dropped", "précédentes instruções", "precedentes instrucoes"],
    ["zero-width and bidi controls are removed", "ig\u200Bno\u202Ere\u2060", "ignore"],
    ["tag characters and variation selectors are removed", "a\u{E0041}b\uFE0Fc\u{E0100}", "abc"],
    ["soft hyphens are removed", "ig\u00ADnore", "ignore"],
    ["Cyrillic lookalikes in a Latin word fold", "іgnоrе", "ignore"],
    ["Greek lookalikes in a Latin word fold", "ρrοmpt ΡRΟΜΡΤ", "prompt prompt"],
    ["a word made only of lookalikes folds", "ѕау", "say"],
    ["real Russian words stay Cyrillic (accents dropped)", "Игнорируй инструкции", "игнорируи инструкции"],
    ["kana keeps its voicing marks", "ガイド", "ガイド"],
    ["Hangul stays composed", "무시하세요", "무시하세요"],
    ["typographic quotes fold to ASCII", "don’t “x”", 'don\'t "x"'],
  ])("%s", (_name, input, expected) => {
    expect(normalize(input).text).toBe(expected);
  });

  it("uses an identity map for ASCII input", () => {
    const n = normalize("ABC def");
    expect(n.map).toBeNull();
    expect(toOriginal(n, 4, 7)).toEqual([4, 7]);
  });

  it("maps spans back over removed invisible characters", () => {
    const text = "x ig\u200Bnore y";
    const n = normalize(text);
    const s = n.text.indexOf("ignore");
    const [a, b] = toOriginal(n, s, s + 6);
    expect(text.slice(a, b)).toBe("ig\u200Bnore");
  });

  it("does not extend a span over invisible characters that follow it", () => {
    const text = "key\u200B\u200B rest";
    const n = normalize(text);
    expect(toOriginal(n, 0, 3)).toEqual([0, 3]);
  });

  it("maps expansions back to the whole original character", () => {
    const text = "a ﬁle";
    const n = normalize(text);
    expect(n.text).toBe("a file");
    expect(toOriginal(n, 2, 3)).toEqual([2, 3]); // "f" comes from "ﬁ"
    expect(toOriginal(n, 2, 6)).toEqual([2, 5]);
  });

  it("maps astral characters by UTF-16 offsets", () => {
    const text = "😀 𝐤𝐞𝐲";
    const n = normalize(text);
    expect(n.text.endsWith("key")).toBe(true);
    const s = n.text.indexOf("key");
    expect(toOriginal(n, s, s + 3)).toEqual([3, 9]);
  });

  it("records homoglyphs only for mixed-script words", () => {
    expect(normalize("іgnоrе").homoglyphs?.length).toBe(3);
    expect(normalize("все").homoglyphs).toBeUndefined();
  });

  it("clamps out-of-range spans", () => {
    const n = normalize("héllo");
    expect(toOriginal(n, -5, 99)).toEqual([0, 5]);
    expect(toOriginal(n, 3, 1)).toEqual([3, 3]);
  });
});

/**
 * National identifiers (issue #9). Valid examples are generated here from each issuer's check-digit
 * rule, written independently of the scanner's validators, over seeded pseudo-random bases.
 */
import { describe, expect, it } from "vitest";
import { normalize } from "../../../filters/guard/normalize.ts";
import { scanPii } from "../../../filters/guard/pii.ts";
import { redact } from "../../../filters/guard/scan.ts";
import { fake, expectPiiFinding } from "./helpers.ts";

const scan = (t: string) => scanPii(t, normalize(t));
const DIGITS = "0123456789";
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ds = (s: string): number[] => [...s].map(Number);
const wsum = (d: number[], w: number[]): number => w.reduce((a, x, k) => a + x * (d[k] ?? 0), 0);

/** The first `count` values `make(seed)` returns (it returns null when a base has no valid check digit). */
function gen(count: number, make: (seed: number) => string | null): string[] {
  const out: string[] = [];
  for (let seed = 1; out.length < count; seed++) {
    const v = make(seed);
    if (v !== null) out.push(v);
  }
  return out;
}

// --- generators, one per identifier ---

function nhs(seed: number): string | null {
  const b = fake(DIGITS, 9, seed);
  const c = 11 - (wsum(ds(b), [10, 9, 8, 7, 6, 5, 4, 3, 2]) % 11);
  return c === 10 ? null : b + String(c % 11);
}
function nino(seed: number): string {
  const first = "ABCEGHJKLMNOPRSTWXYZ".replace(/[GNT]/g, ""); // avoid the excluded BG GB KN NK NT TN ZZ pairs
  const second = "ABCEGHJKLMNPRSTWXYZ".replace(/[BKNZ]/g, "");
  return `${fake(first, 1, seed)}${fake(second, 1, seed + 7)}${fake(DIGITS, 6, seed)}${fake("ABCD", 1, seed)}`;
}
function bsn(seed: number): string | null {
  const b = `${fake("123456789", 1, seed)}${fake(DIGITS, 7, seed)}`;
  const r = wsum(ds(b), [9, 8, 7, 6, 5, 4, 3, 2]) % 11;
  return r > 9 ? null : b + String(r);
}
const DNI_TABLE = "TRWAGMYFPDXBNJZSQVHLCKE";
function dni(seed: number): string {
  const n = fake(DIGITS, 8, seed);
  return n + DNI_TABLE[Number(n) % 23];
}
function nie(seed: number): string {
  const p = "XYZ"[seed % 3]!;
  const n = fake(DIGITS, 7, seed);
  return p + n + DNI_TABLE[Number(String("XYZ".indexOf(p)) + n) % 23];
}
const CF_ODD: Record<string, number> = {};
[1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23].forEach((v, k) => {
  CF_ODD[LETTERS[k]!] = v;
  if (k < 10) CF_ODD[String(k)] = v;
});
function cfCheck(s15: string): string {
  let sum = 0;
  for (let k = 0; k < 15; k++) {
    const ch = s15[k]!;
    sum += k % 2 === 0 ? CF_ODD[ch]! : /\d/.test(ch) ? Number(ch) : ch.charCodeAt(0) - 65;
  }
  return LETTERS[sum % 26]!;
}
function cf(seed: number): string {
  const body = `${fake(LETTERS, 6, seed)}${fake(DIGITS, 2, seed)}${fake("ABCDEHLMPRST", 1, seed)}${fake("0123", 1, seed)}${fake(DIGITS, 1, seed + 3)}${fake(LETTERS, 1, seed + 5)}${fake(DIGITS, 3, seed)}`;
  return body + cfCheck(body);
}
function nirKey(body13: string): string {
  const n = BigInt(body13.replace("2A", "19").replace("2B", "18"));
  return String(97n - (n % 97n)).padStart(2, "0");
}
function nir(seed: number): string {
  const body = `${fake("12", 1, seed)}${fake(DIGITS, 2, seed)}${String((seed % 12) + 1).padStart(2, "0")}${fake("1234567", 1, seed)}${fake(DIGITS, 7, seed + 1)}`;
  return body + nirKey(body);
}
function nirCorsica(seed: number): string {
  const body = `${fake("12", 1, seed)}${fake(DIGITS, 2, seed)}${String((seed % 12) + 1).padStart(2, "0")}2${seed % 2 ? "A" : "B"}${fake(DIGITS, 6, seed + 1)}`;
  return body + nirKey(body);
}
function steuerId(seed: number): string | null {
  // ten digits: nine distinct, one of them twice (the rule since 2016 also allows three times)
  const pool = [...fake(DIGITS, 40, seed)].filter((ch, k, a) => a.indexOf(ch) === k);
  if (pool.length < 9 || pool[0] === "0") return null;
  const nine = pool.slice(0, 9);
  const ten = [...nine.slice(0, 4), nine[1]!, ...nine.slice(4)].join("");
  let product = 10;
  for (const ch of ten) {
    const sum = (Number(ch) + product) % 10 || 10;
    product = (sum * 2) % 11;
  }
  return ten + String((11 - product) % 10);
}
const brDv = (sum: number): number => (sum % 11 < 2 ? 0 : 11 - (sum % 11));
function cpf(seed: number): string {
  const b = fake(DIGITS, 9, seed);
  const d1 = brDv(wsum(ds(b), [10, 9, 8, 7, 6, 5, 4, 3, 2]));
  const d2 = brDv(wsum(ds(b + d1), [11, 10, 9, 8, 7, 6, 5, 4, 3, 2]));
  return `${b}${d1}${d2}`;
}
function cnpj(seed: number): string {
  const b = `${fake(DIGITS, 8, seed)}0001`;
  const d1 = brDv(wsum(ds(b), [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]));
  const d2 = brDv(wsum(ds(b + d1), [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]));
  return `${b}${d1}${d2}`;
}
/** Verhoeff from the group D5 (not a table): rotations 0–4, reflections 5–9. */
function d5(i: number, j: number): number {
  if (i < 5) return j < 5 ? (i + j) % 5 : 5 + ((i + j - 5) % 5);
  return j < 5 ? 5 + ((((i - j) % 5) + 5) % 5) : (i - j + 5) % 5;
}
const P1 = [1, 5, 7, 6, 2, 8, 3, 0, 9, 4];
function perm(k: number, v: number): number {
  let x = v;
  for (let n = 0; n < k % 8; n++) x = P1[x]!;
  return x;
}
function verhoeffCheck(base: string): number {
  let c = 0;
  const r = [...base].reverse();
  r.forEach((ch, k) => {
    c = d5(c, perm(k + 1, Number(ch)));
  });
  const inverse = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];
  return inverse[c]!;
}
function aadhaar(seed: number): string {
  const b = `${fake("23456789", 1, seed)}${fake(DIGITS, 10, seed)}`;
  return b + String(verhoeffCheck(b));
}
function pan(seed: number): string {
  return `${fake(LETTERS, 3, seed)}${fake("PCHFATBLJG", 1, seed)}${fake(LETTERS, 1, seed + 2)}${fake(DIGITS, 4, seed)}${fake(LETTERS, 1, seed + 4)}`;
}
function luhnCheck(base: string): number {
  let sum = 0;
  [...base].reverse().forEach((ch, k) => {
    const v = Number(ch) * (k % 2 === 0 ? 2 : 1);
    sum += v > 9 ? v - 9 : v;
  });
  return (10 - (sum % 10)) % 10;
}
function sin(seed: number): string {
  const b = `${fake("1234567", 1, seed)}${fake(DIGITS, 7, seed)}`;
  return b + String(luhnCheck(b));
}
/** An "omocodia" code: the last digit replaced by its letter (L M N P Q R S T U V for 0–9), check recomputed. */
function cfOmocode(seed: number): string {
  const v = cf(seed);
  const body = v.slice(0, 14) + "LMNPQRSTUV"[Number(v[14])]!;
  return body + cfCheck(body);
}
/** Every digit written as its omocodia letter. */
function cfAllLetters(seed: number): string {
  const v = cf(seed);
  let body = "";
  for (let k = 0; k < 15; k++) body += /\d/.test(v[k]!) ? "LMNPQRSTUV"[Number(v[k])]! : v[k]!;
  return body + cfCheck(body);
}
function tfn8(seed: number): string | null {
  const b = fake(DIGITS, 7, seed);
  const c = (11 - (wsum(ds(b), [10, 7, 8, 4, 6, 3, 5]) % 11)) % 11;
  return c === 10 ? null : b + String(c);
}
function tfn(seed: number): string | null {
  const b = fake(DIGITS, 8, seed);
  const s = wsum(ds(b), [1, 4, 3, 7, 5, 8, 6, 9]);
  for (let d = 0; d < 10; d++) if ((s + 10 * d) % 11 === 0) return b + String(d);
  return null;
}

const group = (s: string, sizes: number[], sep: string): string => {
  const out: string[] = [];
  let k = 0;
  for (const n of sizes) {
    out.push(s.slice(k, k + n));
    k += n;
  }
  return out.join(sep);
};
/** Change the last digit (a wrong check digit). */
const bumpLast = (s: string): string => s.slice(0, -1) + String((Number(s.at(-1)) + 1) % 10);
const bumpLetter = (s: string): string => s.slice(0, -1) + LETTERS[(LETTERS.indexOf(s.at(-1)!) + 1) % 26]!;

const N = 4;

interface Family {
  readonly subtype: string;
  /** [description, text, the identifier as written in the text]. */
  readonly positives: readonly (readonly [string, string, string])[];
  /** [description, text]: no finding of this subtype at or above 0.5. */
  readonly negatives: readonly (readonly [string, string])[];
}

const FAMILIES: readonly Family[] = [
  {
    subtype: "uk_nhs",
    positives: gen(N, nhs).flatMap((v) => [
      ["3-3-4 spaced, context after", `patient ${group(v, [3, 3, 4], " ")} (NHS)`, group(v, [3, 3, 4], " ")],
      ["compact with context", `NHS number: ${v}`, v],
      ["spaced with context", `NHS no ${group(v, [3, 3, 4], " ")}`, group(v, [3, 3, 4], " ")],
    ]) as [string, string, string][],
    negatives: [
      ...gen(N, nhs).map((v) => ["wrong check digit", `NHS number ${group(bumpLast(v), [3, 3, 4], " ")}`] as const),
      ["all same digits", "NHS number 111 111 1111"],
      ...gen(N, nhs).map((v) => ["compact without context", `order ${v} shipped`] as const),
    ],
  },
  {
    subtype: "uk_nino",
    positives: gen(N, nino).flatMap((v) => [
      ["compact with context", `National Insurance number ${v}`, v],
      ["spaced with context", `NINO: ${group(v, [2, 2, 2, 2, 1], " ")}`, group(v, [2, 2, 2, 2, 1], " ")],
    ]) as [string, string, string][],
    negatives: [
      ...gen(N, nino).map((v) => ["without context", `ref ${v} noted`] as const),
      ["excluded prefix GB", "national insurance GB123456A"],
      ["excluded first letter D", "national insurance DA123456A"],
      ["excluded second letter O", "national insurance AO123456A"],
      ["suffix outside A-D", "national insurance AB123456E"],
    ],
  },
  {
    subtype: "nl_bsn",
    positives: gen(N, bsn).flatMap((v) => [
      ["with context", `BSN ${v}`, v],
      ["long context word", `burgerservicenummer: ${v}.`, v],
    ]) as [string, string, string][],
    negatives: [
      ...gen(N, bsn).map((v) => ["valid checksum without context", `invoice ${v} paid`] as const),
      ...gen(N, bsn).map((v) => ["wrong check digit", `BSN ${bumpLast(v)}`] as const),
      ["all same digits", "BSN 999999999"],
    ],
  },
  {
    subtype: "es_dni",
    positives: gen(N, dni).flatMap((v) => [
      ["compact", `titular ${v}`, v],
      ["with a dash and context", `DNI ${v.slice(0, 8)}-${v.slice(8)}`, `${v.slice(0, 8)}-${v.slice(8)}`],
    ]) as [string, string, string][],
    negatives: [
      ...gen(N, dni).map((v) => ["wrong letter", `DNI ${bumpLetter(v)}`] as const),
      ["all same digits", "DNI 00000000T"],
      ["space before the letter", `reference ${dni(5).slice(0, 8)} ${dni(5).slice(8)}`],
    ],
  },
  {
    subtype: "es_nie",
    positives: gen(N, nie).flatMap((v) => [
      ["compact", `NIE ${v}`, v],
      ["without context", `residente ${v}`, v],
    ]) as [string, string, string][],
    negatives: gen(N, nie).map((v) => ["wrong letter", `NIE ${bumpLetter(v)}`] as const),
  },
  {
    subtype: "it_codice_fiscale",
    positives: [
      ["the ministry's example", "codice fiscale RSSMRA85T10A562S", "RSSMRA85T10A562S"],
      ...gen(N, cf).map((v) => ["generated", `CF: ${v}`, v] as const),
      ...gen(N, cf).map((v) => ["without context", `intestatario ${v.toLowerCase()}`, v.toLowerCase()] as const),
      ...gen(N, cfOmocode).map((v) => ["omocodia (a digit written as a letter)", `CF ${v}`, v] as const),
      ...gen(N, cfAllLetters).map((v) => ["omocodia (every digit a letter)", `CF ${v}`, v] as const),
    ],
    negatives: [
      ...gen(N, cf).map((v) => ["wrong check letter", `codice fiscale ${bumpLetter(v)}`] as const),
      ["a 16-character identifier", "build ABCDEF12G34H567I failed"],
    ],
  },
  {
    subtype: "fr_nir",
    positives: [
      ...gen(N, nir).map((v) => {
        const w = group(v, [1, 2, 2, 2, 3, 3, 2], " ");
        return ["spaced", `assuré ${w}`, w] as const;
      }),
      ...gen(N, nir).map((v) => ["compact with context", `numéro de sécurité sociale ${v}`, v] as const),
      ...gen(N, nirCorsica).map((v) => {
        const w = group(v, [1, 2, 2, 2, 3, 3, 2], " ");
        return ["Corsica, spaced", `né en Corse ${w}`, w] as const;
      }),
      ...gen(N, nirCorsica).map((v) => ["Corsica, compact with context", `NIR ${v}`, v] as const),
    ],
    negatives: [
      ...gen(N, nir).map((v) => ["wrong key", `NIR ${group(bumpLast(v), [1, 2, 2, 2, 3, 3, 2], " ")}`] as const),
      ...gen(N, nirCorsica).map((v) => ["Corsica, wrong key", `NIR ${bumpLast(v)}`] as const),
    ],
  },
  {
    subtype: "de_tax_id",
    positives: gen(N, steuerId).flatMap((v) => [
      ["with context", `Steuer-ID ${v}`, v],
      ["long context word", `Steueridentifikationsnummer: ${v}`, v],
    ]) as [string, string, string][],
    negatives: [
      ...gen(N, steuerId).map((v) => ["without context", `Bestellung ${v} versandt`] as const),
      ...gen(N, steuerId).map((v) => ["wrong check digit", `Steuer-ID ${bumpLast(v)}`] as const),
      ["all digits distinct", "Steuer-ID 12345678903"],
    ],
  },
  {
    subtype: "br_cpf",
    positives: gen(N, cpf).flatMap((v) => [
      [
        "formatted",
        `cliente ${v.slice(0, 3)}.${v.slice(3, 6)}.${v.slice(6, 9)}-${v.slice(9)}`,
        `${v.slice(0, 3)}.${v.slice(3, 6)}.${v.slice(6, 9)}-${v.slice(9)}`,
      ],
      ["compact with context", `CPF ${v}`, v],
    ]) as [string, string, string][],
    negatives: [
      ...gen(N, cpf).map((v) => ["wrong check digit", `CPF ${bumpLast(v)}`] as const),
      ["all same digits", "CPF 111.111.111-11"],
    ],
  },
  {
    subtype: "br_cnpj",
    positives: gen(N, cnpj).flatMap((v) => {
      const f = `${v.slice(0, 2)}.${v.slice(2, 5)}.${v.slice(5, 8)}/${v.slice(8, 12)}-${v.slice(12)}`;
      return [
        ["formatted", `empresa ${f}`, f],
        ["compact with context", `CNPJ ${v}`, v],
      ];
    }) as [string, string, string][],
    negatives: [
      ...gen(N, cnpj).map((v) => ["wrong check digit", `CNPJ ${bumpLast(v)}`] as const),
      ["all same digits", "CNPJ 00.000.000/0000-00"],
    ],
  },
  {
    subtype: "in_aadhaar",
    positives: gen(N, aadhaar).flatMap((v) => [
      ["4-4-4 spaced", `holder ${group(v, [4, 4, 4], " ")}`, group(v, [4, 4, 4], " ")],
      ["compact with context", `Aadhaar ${v}`, v],
    ]) as [string, string, string][],
    negatives: [
      ...gen(N, aadhaar).map((v) => ["wrong check digit", `Aadhaar ${group(bumpLast(v), [4, 4, 4], " ")}`] as const),
      [
        "first digit 1",
        `Aadhaar ${group(`1${aadhaar(3).slice(1, 11)}${verhoeffCheck(`1${aadhaar(3).slice(1, 11)}`)}`, [4, 4, 4], " ")}`,
      ],
      // three years in the 4-4-4 layout that pass the Verhoeff check (one in ten do)
      ["three years in a row", "Revenue for 2023 2024 2025 grew."],
      ["three years, another decade", "in 2001 2003 2004 the plant was rebuilt"],
    ],
  },
  {
    subtype: "in_pan",
    positives: gen(N, pan).map((v) => ["with context", `PAN: ${v}`, v] as const),
    negatives: [
      ...gen(N, pan).map((v) => ["without context", `batch ${v} done`] as const),
      ["holder type outside the set", "PAN ABCDE1234F"],
    ],
  },
  {
    subtype: "ca_sin",
    positives: gen(N, sin).flatMap((v) => [
      ["3-3-3 with context", `SIN ${group(v, [3, 3, 3], " ")}`, group(v, [3, 3, 3], " ")],
      ["compact with context", `social insurance number ${v}`, v],
    ]) as [string, string, string][],
    negatives: [
      ...gen(N, sin).map((v) => ["without context", `ticket ${group(v, [3, 3, 3], "-")} closed`] as const),
      ...gen(N, sin).map((v) => ["wrong check digit", `SIN ${bumpLast(v)}`] as const),
      ["first digit 8", `SIN 8${sin(2).slice(1, 8)}${luhnCheck(`8${sin(2).slice(1, 8)}`)}`],
    ],
  },
  {
    subtype: "au_tfn",
    positives: gen(N, tfn)
      .flatMap((v) => [
        ["with context", `TFN ${v}`, v],
        ["spaced with context", `tax file number ${group(v, [3, 3, 3], " ")}`, group(v, [3, 3, 3], " ")],
      ])
      .concat(gen(N, tfn8).map((v) => ["old 8-digit TFN with context", `TFN ${v}`, v])) as [string, string, string][],
    negatives: [
      ...gen(N, tfn).map((v) => ["without context", `shipment ${v} arrived`] as const),
      ...gen(N, tfn).map((v) => ["wrong check digit", `TFN ${bumpLast(v)}`] as const),
    ],
  },
];

describe.each(FAMILIES)("$subtype", ({ subtype, positives, negatives }) => {
  it.each(positives)("finds it: %s — %s", (_name, text, value) => {
    expectPiiFinding(scan(text), text, subtype, value);
  });

  it.each(negatives)("ignores it: %s — %s", (_name, text) => {
    expect(scan(text).filter((f) => f.subtype === subtype && f.score >= 0.5)).toEqual([]);
  });
});

describe("national identifiers beside other numbers", () => {
  const NATIONAL = new Set(FAMILIES.map((f) => f.subtype));
  it.each([
    ["order number", "order 482913375 shipped on Monday"],
    ["Unix timestamp", "created at 1767225600 and updated at 1767229200"],
    ["millisecond timestamp", "ts=1767225600123 "],
    ["ISO date", "on 2026-01-15 we shipped"],
    ["amounts", "total 1 234 567 EUR"],
    ["prose with numbers", "Between 2019 and 2024 the team grew from 12 to 340 people in 9 offices."],
    ["words that start like identifiers", "The Abcdef team; Mr. Ab reads; ABCDE fields"],
    ["UK phones", "ring 020 7946 0958 or 07700 900123"],
    ["a Brazilian mobile", "ligue (11) 91234-5678"],
    ["order numbers of every national-id length", "orders 48291337, 482913375, 4829133752, 48291337521, 482913375219"],
    ["hex and ids in code", "commit 4e180c1a, build 20260115-1234, uuid 9f1c2d3e-4b5a"],
    ["prices and measurements", "costs 1.234.567,89 EUR for 12 345 678 units"],
  ])("reports no national identifier in %s", (_name, text) => {
    expect(scan(text).filter((f) => NATIONAL.has(f.subtype) && f.score >= 0.5)).toEqual([]);
  });

  it.each([
    ["US phone", "call me at (415) 555-2671 tomorrow", "phone"],
    ["US phone spaced 3-3-4", "call 415 555 2671", "phone"],
    ["card", "card 4111 1111 1111 1111", "payment_card"],
    ["SSN", "SSN 536-22-8193", "ssn"],
  ])("a %s stays what it is", (_name, text, subtype) => {
    const fs = scan(text).filter((f) => f.score >= 0.5);
    expect(fs.map((f) => f.subtype)).toEqual([subtype]);
  });

  it("context words raise the score of a checksum-valid compact number", () => {
    const v = gen(1, nhs)[0]!;
    const bare = scan(`ref ${v}`).find((f) => f.subtype === "uk_nhs");
    const ctx = scan(`NHS ${v}`).find((f) => f.subtype === "uk_nhs");
    expect(ctx!.score).toBeGreaterThan(bare?.score ?? 0);
  });

  it("a 9-digit number that passes several checks is labelled by its context word", () => {
    // find one that passes both the BSN and the TFN checks
    const v = gen(1, (seed) => {
      const b = bsn(seed);
      return b !== null && wsum(ds(b), [1, 4, 3, 7, 5, 8, 6, 9, 10]) % 11 === 0 ? b : null;
    })[0]!;
    expect(scan(`BSN ${v}`).find((f) => f.score >= 0.5)?.subtype).toBe("nl_bsn");
    expect(scan(`TFN ${v}`).find((f) => f.score >= 0.5)?.subtype).toBe("au_tfn");
  });
});

describe("national identifiers in ordinary numbers and in redaction", () => {
  const NATIONAL = new Set(FAMILIES.map((f) => f.subtype));

  it("never reports a compact digit run of a national-id length without its context word", () => {
    // a tenth of these pass some mod-11 or Verhoeff check by chance; none may be reported unnamed
    for (let len = 8; len <= 15; len++) {
      for (let seed = 1; seed <= 60; seed++) {
        const text = `order ${fake("123456789", 1, seed)}${fake(DIGITS, len - 1, seed * 31 + len)} shipped`;
        const hits = scan(text).filter((f) => NATIONAL.has(f.subtype));
        expect(hits, text).toEqual([]);
      }
    }
  });

  it("redacts with the subtype label like other PII", () => {
    const v = cpf(9);
    const text = `CPF do cliente: ${v.slice(0, 3)}.${v.slice(3, 6)}.${v.slice(6, 9)}-${v.slice(9)}, obrigado`;
    const fs = scan(text).filter((f) => f.score >= 0.5);
    expect(fs.map((f) => f.subtype)).toEqual(["br_cpf"]);
    expect(redact(text, fs)).toBe("CPF do cliente: [REDACTED:br_cpf], obrigado");
  });

  it("finds identifiers written in fullwidth digits (normalized text, original offsets)", () => {
    const v = gen(1, bsn)[0]!;
    const wide = [...v].map((ch) => String.fromCharCode(0xff10 + Number(ch))).join("");
    const text = `BSN ${wide}`;
    const f = scan(text).find((x) => x.subtype === "nl_bsn");
    expect(f && text.slice(f.start, f.end)).toBe(wide);
  });
});

describe("the generators agree with published examples", () => {
  it.each([
    ["Verhoeff (236 → 3)", () => verhoeffCheck("236"), 3],
    ["codice fiscale check letter (RSSMRA85T10A562 → S)", () => cfCheck("RSSMRA85T10A562"), "S"],
    [
      "NHS check digit (943 476 591 → 9)",
      () => (11 - (wsum(ds("943476591"), [10, 9, 8, 7, 6, 5, 4, 3, 2]) % 11)) % 11,
      9,
    ],
  ])("%s", (_name, f, want) => {
    expect(f()).toBe(want);
  });

  it("finds the NHS number in NHS Digital's documentation", () => {
    expect(scan("NHS number 943 476 5919").map((f) => f.subtype)).toEqual(["uk_nhs"]);
  });
});

/**
 * Property tests: arbitrary input (full Unicode, lone surrogates, adversarial mixes of the tokens the
 * scanners key on) never throws and finishes fast, for every scanner, scanText, the stream scanner
 * and the SSE parser. numRuns keep the whole file to a few seconds.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isHexrError } from "../../../filters/errors.ts";
import { type SseEvent, SseParser } from "../../../filters/guard/adapters/sse.ts";
import { scanInvisible } from "../../../filters/guard/invisible.ts";
import { normalize, toOriginal } from "../../../filters/guard/normalize.ts";
import { parseGuardPolicy } from "../../../filters/guard/policy.ts";
import { scanPii } from "../../../filters/guard/pii.ts";
import { scanInjection } from "../../../filters/guard/prompt-injection.ts";
import { redact, scanText } from "../../../filters/guard/scan.ts";
import { scanSecrets } from "../../../filters/guard/secrets.ts";
import { StreamScanner } from "../../../filters/guard/stream-scanner.ts";
import type { Finding } from "../../../filters/guard/types.ts";

/** Pieces the scanners react to, so random strings actually reach the deep code paths. */
const FRAGMENTS = [
  "ghp_",
  "AKIA",
  "sk-",
  "sk-ant-",
  "eyJ",
  "SG.",
  "xoxb-",
  "://",
  ":",
  "@",
  "-----BEGIN RSA PRIVATE KEY-----",
  "-----END ",
  "AccountKey=",
  "aws_secret_access_key=",
  "auth_token",
  "twilio",
  "![",
  "](",
  "http://x/?q={",
  "<img src=",
  "<|",
  "|>",
  "[INST]",
  "\nHuman:",
  "### System:",
  "ignore",
  "previous",
  "instructions",
  "all",
  "your",
  "system prompt",
  "reveal",
  "you are now",
  "i g n o r e",
  "1gn0r3",
  "4111 1111 1111 1111",
  "+1 415 555 2671",
  "DE89 3704 0044 0532 0130 00",
  "536-22-8193",
  "8.8.8.8",
  "2001:db8::1",
  "::",
  "\u200B",
  "\u200D",
  "\u202E",
  "\u2066",
  "\u00AD",
  "\uFE0F",
  "\u{E0041}",
  "\u{E0100}",
  "🏴",
  "\u{E007F}",
  "👨",
  "é",
  "і",
  "Ｉ",
  "忽略",
  "指令",
  "무시",
  "\uD800",
  "\uDC00",
  "=",
  "==",
  "\n",
  " ",
  ".",
  "QUJD",
  "SWdub3Jl",
  "\r\n",
];

const unicodeText = fc.string({ unit: "binary", maxLength: 400 });
const anyUnits = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  maxLength: 300,
});
const tokenSoup = fc
  .array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ unit: "binary", maxLength: 6 })), { maxLength: 120 })
  .map((a) => a.join(""));
const anyText = fc.oneof(unicodeText, anyUnits, tokenSoup);

const RUNS = 300;
/** Per call on ≤ ~2 KB inputs: far above normal (~0.1 ms) so machine noise never trips it, far below a hang. */
const SLOW_MS = 500;

function checkFindings(text: string, fs: Finding[]): void {
  for (const f of fs) {
    expect(f.start).toBeGreaterThanOrEqual(0);
    expect(f.end).toBeLessThanOrEqual(text.length);
    expect(f.end).toBeGreaterThanOrEqual(f.start);
    expect(f.score).toBeGreaterThanOrEqual(0);
    expect(f.score).toBeLessThanOrEqual(1);
  }
}

function timed<T>(fn: () => T): T {
  const t0 = performance.now();
  const r = fn();
  expect(performance.now() - t0).toBeLessThan(SLOW_MS);
  return r;
}

describe("properties: scanners", () => {
  it.each([
    [
      "normalize",
      (t: string) => {
        const n = normalize(t);
        const [a, b] = toOriginal(n, 0, n.text.length);
        expect(a).toBeGreaterThanOrEqual(0);
        expect(a).toBeLessThanOrEqual(b);
        expect(b).toBeLessThanOrEqual(t.length);
        // every unit maps into the original, in order, and non-empty units map to non-empty spans
        let prev = 0;
        for (let i = 0; i < n.text.length; i++) {
          const [s, e] = toOriginal(n, i, i + 1);
          expect(s).toBeGreaterThanOrEqual(prev);
          expect(e).toBeGreaterThan(s);
          expect(e).toBeLessThanOrEqual(t.length);
          prev = s;
        }
        return [];
      },
    ],
    ["invisible", (t: string) => scanInvisible(t, normalize(t))],
    ["secrets", (t: string) => scanSecrets(t, normalize(t))],
    ["pii", (t: string) => scanPii(t, normalize(t))],
    ["injection", (t: string) => scanInjection(t, normalize(t))],
    ["scanText", (t: string) => scanText(t).findings],
  ] as const)("%s never throws, stays in bounds and is fast", (_name, scan) => {
    fc.assert(
      fc.property(anyText, (t) => {
        checkFindings(
          t,
          timed(() => scan(t)),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("redact never throws and keeps text outside the findings", () => {
    fc.assert(
      fc.property(anyText, (t) => {
        const { findings } = scanText(t);
        const out = redact(t, findings);
        if (findings.length === 0) expect(out).toBe(t);
      }),
      { numRuns: RUNS },
    );
  });

  it("the stream scanner never throws and releases every item exactly once", () => {
    fc.assert(
      fc.property(fc.array(anyText, { maxLength: 12 }), (deltas) => {
        const s = new StreamScanner<number>({ window: 128, maxHold: 256 });
        const seen: number[] = [];
        for (let i = 0; i < deltas.length; i++) {
          const step = s.push(deltas[i]!, i);
          if (step.action === "block") return;
          seen.push(...step.released.map((r) => r.tag));
        }
        const end = s.end();
        if (end.action === "block") return;
        seen.push(...end.released.map((r) => r.tag));
        expect(seen).toEqual(deltas.map((_, i) => i));
      }),
      { numRuns: 150 },
    );
  });

  it("a secret anywhere in a stream, split anywhere, never leaves unredacted", () => {
    const policy = parseGuardPolicy({ scanners: { secret: { action: "redact" } } });
    const secret = `ghp_${"aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4c".slice(0, 36)}`;
    fc.assert(
      fc.property(
        tokenSoup,
        tokenSoup,
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
        (a, b, sizes) => {
          const text = `${a} ${secret} ${b}`;
          const s = new StreamScanner<number>({ policy, window: 128, maxHold: 512 });
          let out = "";
          let k = 0;
          for (let i = 0; i < text.length; k++) {
            const n = sizes[k % sizes.length]!;
            const step = s.push(text.slice(i, i + n), k);
            i += n;
            if (step.action === "block") return; // ending the stream is also safe
            out += step.released.map((r) => r.text).join("");
          }
          const end = s.end();
          if (end.action === "block") return;
          out += end.released.map((r) => r.text).join("");
          expect(out).not.toContain(secret.slice(4, 20));
        },
      ),
      { numRuns: 150 },
    );
  });

  it("adversarial repetitions at 16 KB stay fast", () => {
    for (const piece of [
      "a ",
      "ignore ",
      "1 ",
      "@a",
      "a.",
      ":a",
      "eyJ",
      "ghp_",
      "![a](",
      "<|",
      "\u200B",
      "0 0 ",
      "i g ",
      "AAAA",
      "9".repeat(7) + " ",
      "а",
    ]) {
      const text = piece.repeat(Math.ceil(16384 / piece.length)).slice(0, 16384);
      const t0 = performance.now();
      scanText(text);
      expect(performance.now() - t0, piece).toBeLessThan(500); // linear: ~1 ms; a quadratic path would take seconds
    }
  });
});

describe("properties: SSE parser", () => {
  const ALLOWED = new Set(["guard.bad_utf8", "guard.sse_event_too_large"]);

  it("arbitrary bytes in arbitrary chunks: events or a typed error, never anything else", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 16 }), (chunks) => {
        const p = new SseParser({ maxEventSize: 512 });
        try {
          for (const c of chunks) p.push(c);
          p.end();
        } catch (e) {
          expect(isHexrError(e) && ALLOWED.has(e.code)).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  const sseText = fc
    .array(
      fc.oneof(
        fc.constantFrom(
          "data: ",
          "data:",
          "event: x\n",
          "id: 1\n",
          "retry: 10\n",
          ": c\n",
          "\n",
          "\r\n",
          "\r",
          "\n\n",
          "data",
        ),
        fc.string({ unit: "binary", maxLength: 10 }),
      ),
      { maxLength: 60 },
    )
    .map((a) => a.join("").replace(/[\uD800-\uDFFF]/g, "x")); // valid UTF-8 only: lone surrogates cannot be encoded

  it("the same text split at any points yields the same events, and raw reproduces the input", () => {
    fc.assert(
      fc.property(sseText, fc.array(fc.nat(), { maxLength: 8 }), (text, cutsRaw) => {
        const bytes = Buffer.from(text);
        const cuts = [...new Set(cutsRaw.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const whole = new SseParser();
        const a = whole.push(bytes);
        const tailA = whole.end();
        const split = new SseParser();
        const b: SseEvent[] = [];
        let prev = 0;
        for (const c of [...cuts, bytes.length]) {
          b.push(...split.push(bytes.subarray(prev, c)));
          prev = c;
        }
        const tailB = split.end();
        // a CR at a chunk end is a line end at once (no waiting for a possible LF), so a split CRLF's LF
        // is carried by the next block's raw: compare meaning per event, and raw as a whole
        const meaning = ({ raw: _raw, ...rest }: SseEvent) => rest;
        expect(b.map(meaning)).toEqual(a.map(meaning));
        expect(b.map((e) => e.raw).join("") + tailB).toBe(text);
        expect(a.map((e) => e.raw).join("") + tailA).toBe(text);
      }),
      { numRuns: RUNS },
    );
  });
});

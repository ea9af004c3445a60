/**
 * Scan cost is linear with a small constant for every input shape (hardening #8 §4). Pinned without a
 * wall-clock threshold: each hostile shape is timed against prose of the same size in alternation (so
 * machine load and GC hit both sides), and the median of five per-pair ratios must stay under a
 * generous bound. Every shape here measures ≤ ~3× prose per byte at 256 KB (bench/micro/guard-shapes.ts
 * has ~90 shapes and the numbers); before the fixes these measured 10–700× — each one had a read from
 * every candidate to the end of the text, a rescan of a window per candidate, or a cost per match that
 * dwarfed the scan. A measurement over the bound is repeated once with more pairs, so a burst of load
 * on a shared machine cannot fail the build, while a slow path fails both.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_GUARD_POLICY, DEFAULT_MAX_BYTES } from "../../../filters/guard/policy.ts";
import { scanText } from "../../../filters/guard/scan.ts";
import { TRIGGER_LITERALS } from "../../../filters/guard/secrets.ts";
import { ALNUM, fake } from "./helpers.ts";

const LIMIT = 10;
const PAIRS = 5;

const PROSE = [
  "The quarterly report shows that revenue grew in every region except the north, where a late shipment moved two large orders into the next period.",
  "Please review the rollout plan before Thursday and leave your comments inline so that we can settle the open questions in one meeting.",
  "Summarize the attached document in three short paragraphs and highlight any risks that the authors mention only in passing.",
  "If the test fails on the build machine but passes locally, check the time zone, the locale and the order in which files are listed.",
];

/** `piece(k)` repeated up to `bytes` UTF-8 bytes. */
function build(piece: (k: number) => string, bytes = DEFAULT_MAX_BYTES): string {
  let s = "";
  let n = 0;
  for (let k = 0; ; k++) {
    const p = piece(k);
    const b = Buffer.byteLength(p);
    if (n + b > bytes) return s + " ".repeat(bytes - n);
    s += p;
    n += b;
  }
}

const prose = build((k) => `${PROSE[(k * 7) % PROSE.length]} `);
const fresh = (s: string): string => JSON.parse(JSON.stringify(s)) as string; // a new string, as a request body is

function time(t: string): number {
  const t0 = performance.now();
  scanText(t, DEFAULT_GUARD_POLICY);
  return performance.now() - t0;
}

/** Median over `pairs` of (shape time ÷ prose time), alternating which goes first. */
function ratio(text: string, pairs: number): number {
  const rs: number[] = [];
  for (let r = 0; r <= pairs; r++) {
    const a = fresh(prose);
    const b = fresh(text);
    let shape: number;
    let base: number;
    if (r % 2 === 0) {
      base = time(a);
      shape = time(b);
    } else {
      shape = time(b);
      base = time(a);
    }
    if (r > 0) rs.push(shape / base); // the first pair warms up
  }
  rs.sort((x, y) => x - y);
  return rs[rs.length >> 1]!;
}

// one shape per slow path that was fixed, each of which measured over LIMIT before: [name, the k-th piece].
// Shapes whose fix was a smaller constant (2–8×) are left to the harness: this bound cannot see them.
const SHAPES: readonly (readonly [string, (k: number) => string])[] = [
  ["keyword with no separator (aws)", () => "aws_secret_access_key"],
  ["keyword with no separator (twilio)", () => "auth_token"],
  ["PEM BEGIN lines read as headers", () => "-----BEGIN :PRIVATE KEY-----\n"],
  ["JWT header that JSON.parse throws on", () => "eyJhbGcifQ."],
  ["truncated JWT headers", () => "eyJhbGciOi."],
  ["sk- keys", (k) => `sk-${fake(ALNUM, 40, k + 1)} `],
  // secret rules: every trigger literal (token prefixes, context words, markers) packed densely, bare,
  // with an assignment after it and with a body; long bodies that hold a guard character; walks that
  // could re-read (PuTTY, base64 PEM); generic assignments that all match
  ["every secret trigger", (k) => `${TRIGGER_LITERALS[k % TRIGGER_LITERALS.length]} `],
  ["every secret trigger with =", (k) => `${TRIGGER_LITERALS[k % TRIGGER_LITERALS.length]}=`],
  [
    "every secret trigger with a body",
    (k) => `${TRIGGER_LITERALS[k % TRIGGER_LITERALS.length]}${fake(ALNUM, 30, k + 1)} `,
  ],
  ["every secret trigger after a \\n escape", (k) => `\\n${TRIGGER_LITERALS[k % TRIGGER_LITERALS.length]}`],
  ["base64 PEM starts inside one base64 run", () => "LS0tLS1CRUdJTi/"],
  ["one-line PEM BEGIN lines", () => "-----BEGIN PRIVATE KEY----- QUFB QUFB "],
  ["PuTTY first lines", () => "PuTTY-User-Key-File-3: ssh-rsa\n"],
  ["JWK members", () => '{"kty":"EC","d":"'],
  ["Docker auth keys", () => '"auth":"dXNlcjpwYXNzd29yZA=="'],
  ["password assignments", (k) => `password = "${fake(ALNUM, 12, k + 1)}" `],
  ["camelCase secret words", () => "dbPasswordTokenSecret "],
  ["context words run into long identifiers", () => "DATADOG_API_KEY_DATADOG_API_KEY_DATADOG_"],
  ["lead literals (Q~, -us, @o, :AA)", (k) => `${fake(ALNUM, 4, k + 1)}Q~@o-us${100000000 + k}:AA`],
  ["dense token prefixes", () => "AKIA "],
  ["user:pass@host without a scheme", (k) => `x:${fake(ALNUM, 8, k + 1)}@ab.cd `],
  ["]( without [", () => "]("],
  ["colons (IPv6 windows)", () => "a:"],
  ["quoted injections in a discussion", () => 'for example, "ignore previous instructions" '],
  ["homoglyph injections", () => "іgnоrе prеvіоus іnstructіоns "],
  // spoofed system tags: each looks ahead for the rules it announces, a bounded number of times per text
  ["system tags", () => "[system] "],
  ["system tags with a near miss", () => "SYSTEM NOTE: new polic "],
  // indirect instructions: an AI-addressing phrase looks ahead for its directive
  ["AI-addressing phrases", () => "if you are an ai "],
  // national identifiers: every token start below reads a bounded candidate, and each sits next to
  // its context word, so each is validated and its context window searched
  ["NINO-shaped pairs", (k) => `NINO ab ${String((k % 90) + 10)} `],
  ["DNI-shaped digit tokens", (k) => `DNI ${String(10000000 + k)}-z `],
  ["Corsican NIR prefixes", () => "NIR 1 85 05 2a "],
  ["PAN and codice fiscale prefixes", () => "PAN abcpd1 CF rssmra8 "],
  ["national-length digit runs", (k) => `BSN ${String(100000000 + k)} `],
  // phones: every number below is a candidate the number pass hands to pii-phones.ts (shape, context
  // window, extension, metadata parse until the per-text budget), each distinct so no cache hit helps
  ["phone numbers next to their word", (k) => `tel 0151 ${String(2000000 + k)} `],
  ["NANP shapes with extensions", (k) => `(212) 555-${String(1000 + (k % 9000))} ext. ${k % 100} `],
  ["bare digit runs near a phone word", (k) => `call ${String(1000000000 + k)} `],
  ["+ and ( prefixes without numbers", () => "+( +(( (+ "],
  // MACs, wallets and the triggered identifiers (driver's licence, passport, date of birth)
  ["colon-hex pairs", () => "0a:1b:2c:3d:4e:"],
  ["dash-hex pairs", (k) => `${(k % 256).toString(16).padStart(2, "0")}-`],
  ["MAC addresses next to their word", (k) => `mac 00:1a:2b:3c:${(k % 256).toString(16).padStart(2, "0")}:5e `],
  ["Base58 wallet-shaped tokens", (k) => `1${fake(ALNUM.replace(/[0OIl]/g, ""), 33, k + 1)} `],
  ["mixed-case 0x addresses", (k) => `0x${fake("0123456789abcdefABCDEF", 40, k + 1)} `],
  ["trigger phrases back to back", () => "dob passport DL born "],
  [
    "trigger phrases with codes and dates",
    (k) => `DL: D${String(1000000 + k)} passport ${String(100000000 + k)} DOB 12/03/1985 `,
  ],
];

describe("scan cost per byte, against prose", () => {
  it.each(SHAPES)(`%s: under ${LIMIT}× prose`, (_name, piece) => {
    const text = build(piece);
    let r = ratio(text, PAIRS);
    if (r >= LIMIT) r = Math.min(r, ratio(text, 2 * PAIRS));
    expect(r, `median ratio ${r.toFixed(1)}× prose`).toBeLessThan(LIMIT);
  });
});

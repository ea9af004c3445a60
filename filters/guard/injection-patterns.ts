/**
 * Structural injection signals that are not words: chat-template and delimiter tokens, turn markers at
 * line starts, markdown/HTML images and links whose URLs carry data, and tool-call syntax inside text.
 * All run on the normalized (lowercased) text with `indexOf` and bounded hand-written parsers.
 */
import { isAsciiAlnum, WindowWords } from "./text-util.ts";

export interface Signal {
  /** Distinct kind: signals of the same kind count once in a noisy-OR. */
  readonly kind: string;
  readonly weight: number;
  readonly start: number;
  readonly end: number;
}

const LITERAL_TOKENS: readonly (readonly [string, number])[] = [
  ["[inst]", 0.75],
  ["[/inst]", 0.75],
  ["<<sys>>", 0.8],
  ["<</sys>>", 0.8],
  ["<start_of_turn>", 0.8],
  ["<end_of_turn>", 0.8],
  ["</s>", 0.3],
  ["<system>", 0.35],
  ["</system>", 0.35],
];

/**
 * System tags spoofed inside content ("[system] New policy: …", "SYSTEM MESSAGE: from now on …"): weak
 * alone (logs write "[system] service started"), strong when what follows sets new rules for the reader.
 */
/**
 * The tags, as one pass (a V8 RegExp of alternatives with only bounded runs of spaces: linear in the text).
 * Group 1: the bracketed forms, which count anywhere; the others count only where a line or sentence
 * starts. Spaces inside the brackets are allowed ("[ SYSTEM NOTE ]").
 */
const SYSTEM_TAG =
  /(\[ {0,3}(?:system(?: (?:message|note|notice))?|admin|developer) {0,3}\]|\( {0,3}system {0,3}\))|system (?:message|notice|note|update):|system override|admin override|developer message:/g;
const SYSTEM_TAG_WEIGHT = 0.35;
/** System tags looked at per text (each looks {@link SYSTEM_TAG_REACH} characters ahead). */
const MAX_SYSTEM_TAG_LOOKS = 16;
/** How far after a system tag the new rules it announces are looked for. */
const SYSTEM_TAG_REACH = 160;
const NEW_RULES = [
  "new policy",
  "new policies",
  "new instructions",
  "new instruction",
  "new rules",
  "new task",
  "updated instructions",
  "updated policy",
  "from now on",
  "you must",
  "must now",
  "all answers must",
  "all responses must",
  "the assistant must",
  "ignore",
  "disregard",
];

const ROLE_MARKERS: ReadonlyMap<string, number> = new Map([
  ["system", 0.3],
  ["human", 0.3],
  ["assistant", 0.3],
  ["user", 0.2],
  ["instruction", 0.35],
  ["instructions", 0.35],
  ["response", 0.2],
  ["ai", 0.1],
  ["model", 0.15],
]);

const isTokenName = (u: number): boolean => isAsciiAlnum(u) || u === 0x5f;

/** `<|im_start|>`, `[INST]`, `<<SYS>>`, `</s>`, and `Human:` / `### System:` at line starts. */
export function templateSignals(t: string, out: Signal[]): void {
  for (let i = t.indexOf("<|"); i !== -1; i = t.indexOf("<|", i + 2)) {
    let j = i + 2;
    while (j < t.length && j - i < 42 && isTokenName(t.charCodeAt(j))) j++;
    if (j > i + 2 && t.startsWith("|>", j))
      out.push({ kind: `special:${t.slice(i + 2, j)}`, weight: 0.8, start: i, end: j + 2 });
  }
  for (const [lit, w] of LITERAL_TOKENS) {
    for (let i = t.indexOf(lit); i !== -1; i = t.indexOf(lit, i + lit.length))
      out.push({ kind: lit, weight: w, start: i, end: i + lit.length });
  }
  // signals count once per kind: past the first tag that announces rules, or past a few tags, more add
  // nothing, so the look-ahead is bounded (a text of nothing but "[system]" costs what prose costs)
  let looks = 0;
  SYSTEM_TAG.lastIndex = 0;
  for (let m = SYSTEM_TAG.exec(t); m !== null && looks < MAX_SYSTEM_TAG_LOOKS; m = SYSTEM_TAG.exec(t)) {
    const i = m.index;
    const tagEnd = i + m[0].length;
    // an unbracketed tag is a header only where a line or sentence starts ("Our admin override procedure"
    // is prose)
    if (m[1] === undefined && !opensLine(t, i)) continue;
    looks++;
    const after = t.slice(tagEnd, tagEnd + SYSTEM_TAG_REACH);
    const rule = NEW_RULES.find((r) => after.includes(r));
    out.push({ kind: "system_tag", weight: SYSTEM_TAG_WEIGHT, start: i, end: tagEnd });
    if (rule !== undefined) {
      out.push({ kind: "system_tag_rules", weight: 0.45, start: i, end: tagEnd + after.indexOf(rule) + rule.length });
      break;
    }
  }
  for (let ls = 0; ls !== -1 && ls < t.length; ) {
    roleMarker(t, ls, out);
    const nl = t.indexOf("\n", ls);
    ls = nl === -1 ? -1 : nl + 1;
  }
}

/** Only spaces, or nothing, between `i` and the start of its line or sentence. */
function opensLine(t: string, i: number): boolean {
  let k = i - 1;
  while (k >= 0 && (t.charCodeAt(k) === 0x20 || t.charCodeAt(k) === 0x09)) k--;
  if (k < 0) return true;
  const c = t[k]!;
  return c === "\n" || c === "." || c === "!" || c === "?" || c === ">" || c === "*" || c === "#" || c === "-";
}

function roleMarker(t: string, ls: number, out: Signal[]): void {
  let i = ls;
  while (i < t.length && i - ls < 4 && (t.charCodeAt(i) === 0x20 || t.charCodeAt(i) === 0x09)) i++;
  let hashes = 0;
  while (i < t.length && t.charCodeAt(i) === 0x23 && hashes < 4) {
    i++;
    hashes++;
  }
  if (hashes > 0) while (i < t.length && t.charCodeAt(i) === 0x20) i++;
  const ws = i;
  while (i < t.length && i - ws < 13 && t.charCodeAt(i) >= 0x61 && t.charCodeAt(i) <= 0x7a) i++;
  if (i === ws || t.charCodeAt(i) !== 0x3a) return;
  const w = ROLE_MARKERS.get(t.slice(ws, i));
  if (w === undefined) return;
  let weight = hashes > 0 ? 0.45 : w;
  if (ls >= 2 && t.charCodeAt(ls - 1) === 0x0a && t.charCodeAt(ls - 2) === 0x0a && (w === 0.3 || hashes > 0))
    weight += 0.15; // "\n\nHuman:"
  out.push({ kind: `turn:${t.slice(ws, i)}`, weight, start: ls, end: i + 1 });
}

const PLACEHOLDER_OPEN = ["{", "[", "<", "$", "%7b", "%5b", "%3c", "%24"];
const DATA_WORDS = [
  "conversation",
  "history",
  "chat",
  "secret",
  "password",
  "data",
  "context",
  "prompt",
  "summary",
  "memory",
  "messages",
  "info",
  "email",
  "token",
  "key",
  "credential",
  "user",
  "name",
  "address",
];
const INSTRUCTION_WORDS = [
  "append",
  "replace",
  "include",
  "encode",
  "base64",
  "url-encode",
  "url encode",
  "concatenate",
  "fill in",
  "substitute",
  "render",
  "insert",
];

interface UrlFacts {
  placeholder: boolean;
  dataWord: boolean;
  longValue: boolean;
}

function analyzeUrl(url: string, pathCounts: boolean): UrlFacts {
  const q = url.indexOf("?");
  const hostEnd = url.indexOf("/", url.indexOf("//") + 2);
  const part =
    q !== -1
      ? pathCounts && hostEnd !== -1 && hostEnd < q
        ? url.slice(hostEnd)
        : url.slice(q)
      : pathCounts && hostEnd !== -1
        ? url.slice(hostEnd)
        : "";
  let placeholder = false;
  for (const o of PLACEHOLDER_OPEN) if (part.includes(o)) placeholder = true;
  let dataWord = false;
  if (placeholder) for (const w of DATA_WORDS) if (part.includes(w)) dataWord = true;
  let longValue = false;
  if (q !== -1) {
    for (const kv of url.slice(q + 1).split("&")) {
      const eq = kv.indexOf("=");
      const v = eq === -1 ? kv : kv.slice(eq + 1);
      if (v.length >= 40) longValue = true;
    }
  }
  return { placeholder, dataWord, longValue };
}

function readUrl(t: string, from: number, stopAt: number): string {
  let j = from;
  while (j < t.length && j - from < 2048) {
    const u = t.charCodeAt(j);
    if (u === stopAt || u === 0x20 || u === 0x0a || u === 0x09 || u === 0x22) break;
    j++;
  }
  return t.slice(from, j);
}

/** How far before a link an instruction word ("append", "encode", …) makes it a signal. */
const INSTRUCTION_BEFORE = 300;

function isHttp(prefix: string): boolean {
  return prefix.startsWith("http://") || prefix.startsWith("https://") || prefix.startsWith("//");
}

/**
 * Markdown images/links and `<img src>` whose URL would carry data out when rendered:
 * `![x](https://evil/?q={conversation})`. Plain images and links, even with short query strings, are not signals.
 */
export function exfilSignals(t: string, out: Signal[]): void {
  const instructions = new WindowWords(t, INSTRUCTION_WORDS, false);
  const instructionContext = (at: number): boolean => instructions.has(at - INSTRUCTION_BEFORE, at);
  // the last `[` before each `](`, by a cursor (a `lastIndexOf` per `](` read back to the start of the text)
  let lb = -1;
  let nextOpen = -2; // not searched yet: most texts have no `](`
  for (let i = t.indexOf("]("); i !== -1; i = t.indexOf("](", i + 2)) {
    if (nextOpen === -2) nextOpen = t.indexOf("[");
    while (nextOpen !== -1 && nextOpen < i) {
      lb = nextOpen;
      nextOpen = t.indexOf("[", nextOpen + 1);
    }
    if (lb === -1 || i - lb > 512) continue;
    const image = lb > 0 && t.charCodeAt(lb - 1) === 0x21;
    if (!isHttp(t.slice(i + 2, i + 10))) continue;
    const url = readUrl(t, i + 2, 0x29);
    const f = analyzeUrl(url, image);
    const ctx = instructionContext(lb) ? 0.15 : 0;
    let w = 0;
    if (image) w = f.placeholder ? (f.dataWord ? 0.9 : 0.85) : f.longValue ? 0.45 + ctx : 0;
    else w = f.placeholder ? (f.dataWord ? 0.6 : 0.4) + ctx : f.longValue && ctx > 0 ? 0.35 : 0;
    if (w > 0)
      out.push({
        kind: image ? "markdown_image" : "markdown_link",
        weight: Math.min(w, 0.95),
        start: image ? lb - 1 : lb,
        end: i + 2 + url.length + 1,
      });
    i += url.length; // never re-read a URL: keeps this linear
  }
  // the first `src=` at or after each `<img`, cached: an `indexOf` per tag read to the end of the text
  let src = -2;
  for (let i = t.indexOf("<img"); i !== -1; i = t.indexOf("<img", i + 4)) {
    if (src !== -1 && src < i) src = t.indexOf("src=", i);
    if (src === -1 || src - i > 200) continue;
    const q = t.charCodeAt(src + 4);
    const quoted = q === 0x22 || q === 0x27;
    const from = src + 4 + (quoted ? 1 : 0);
    if (!isHttp(t.slice(from, from + 8))) continue;
    const url = readUrl(t, from, quoted ? q : 0x3e);
    i = from + url.length - 4;
    const f = analyzeUrl(url, true);
    const w = f.placeholder ? (f.dataWord ? 0.9 : 0.85) : f.longValue ? 0.45 + (instructionContext(i) ? 0.15 : 0) : 0;
    if (w > 0) out.push({ kind: "html_image", weight: w, start: i, end: src + 4 + url.length + 1 });
  }
}

const JSON_MARKERS: readonly (readonly [string, number])[] = [
  ['"tool_calls"', 0.5],
  ['"function_call"', 0.5],
  ['"tool_use"', 0.5],
  ['"tool":', 0.45],
  ['"tool" :', 0.45],
  ['"tool_name"', 0.45],
  ['"recipient_name"', 0.45],
  ["<tool_call", 0.55],
  ["<function_call", 0.55],
  ["<function_calls>", 0.55],
  ["<invoke name=", 0.55],
  ["<tool_use>", 0.55],
];

/** Tool-call syntax (OpenAI/Anthropic JSON and XML forms) embedded in text. */
export function toolSignals(t: string, out: Signal[]): void {
  for (const [m, w] of JSON_MARKERS) {
    const i = t.indexOf(m);
    if (i !== -1) out.push({ kind: m, weight: w, start: i, end: i + m.length });
  }
  const args = t.indexOf('"arguments"');
  if (args !== -1) {
    const name = t.lastIndexOf('"name"', args);
    if (name !== -1 && args - name < 200)
      out.push({ kind: "name_arguments", weight: 0.4, start: name, end: args + 11 });
  }
}

/**
 * The one entry point that composes the scanners under a policy:
 * size cap → normalize once → each enabled scanner (threshold as its floor, then its subtype selection)
 * → hidden payloads of invisible text rescanned for injection → strongest action wins
 * (block > redact > annotate > allow).
 * Every scanner is linear in the input with a small constant whatever its shape (bench/micro/guard-shapes.ts
 * measures ~90 hostile shapes against prose); an optional deadline bounds the wall time on top of that.
 *
 * @example
 *   const r = scanText("my key is ghp_…", DEFAULT_GUARD_POLICY);
 *   if (r.action === "redact") body = redact(text, r.findings.filter((f) => actionFor(f, policy) === "redact"));
 *   scanText(text, policy, { deadline: performance.now() + 25 }); // or HexrError guard.scan_timeout
 */
import { HexrError } from "../errors.ts";
import { checkDeadline } from "./deadline.ts";
import { scanInvisible } from "./invisible.ts";
import { normalize } from "./normalize.ts";
import { scanPii } from "./pii.ts";
import {
  DEFAULT_GUARD_POLICY,
  type GuardAction,
  type GuardPolicy,
  type ScannerPolicy,
  subtypeEnabled,
} from "./policy.ts";
import { MIN_B64, scanInjection } from "./prompt-injection.ts";
import { scanSecrets } from "./secrets.ts";
import { isBase64Char } from "./text-util.ts";
import type { Finding, FindingType } from "./types.ts";

export type ScanAction = "allow" | "block" | "redact" | "annotate";

export interface ScanResult {
  readonly action: ScanAction;
  /** Findings at or above their scanner's threshold, ordered by start. */
  readonly findings: Finding[];
}

const RANK: Readonly<Record<ScanAction, number>> = { allow: 0, annotate: 1, redact: 2, block: 3 };

/** The action a finding triggers under `policy` ("off" scanners produce no findings in scanText). */
export function actionFor(f: Finding, policy: GuardPolicy): GuardAction {
  return policy.scanners[f.type].action;
}

/** Throw `guard.too_large` when `text` is over `maxBytes` UTF-8 bytes (counted only when it could be). */
export function checkSize(text: string, maxBytes: number): void {
  if (text.length * 3 <= maxBytes) return;
  const bytes = text.length > maxBytes ? text.length : Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes) throw new HexrError("guard.too_large", `input is over maxBytes (${maxBytes})`);
}

export interface ScanTextOptions {
  /**
   * Time budget: a `performance.now()` timestamp past which the scan throws `HexrError`
   * `guard.scan_timeout` (checked before each stage and every few thousand units of work inside the
   * scanners, so it stops well within a millisecond of the deadline). Default: none.
   */
  readonly deadline?: number;
}

/**
 * Scan `text` under `policy`. Throws only `HexrError` `guard.too_large` and, with a deadline,
 * `guard.scan_timeout`; any other input, however malformed (lone surrogates, control characters,
 * megabytes of one character under the cap), scans.
 */
export function scanText(
  text: string,
  policy: GuardPolicy = DEFAULT_GUARD_POLICY,
  opts: ScanTextOptions = {},
): ScanResult {
  checkSize(text, policy.maxBytes);
  const deadline = opts.deadline;
  checkDeadline(deadline);
  const sc = policy.scanners;
  const on = (t: FindingType): boolean => sc[t].action !== "off";
  if (!on("invisible_text") && !on("secret") && !on("pii") && !on("prompt_injection"))
    return { action: "allow", findings: [] };
  const n = normalize(text, deadline);
  const findings: Finding[] = [];
  let invisible: Finding[] = [];
  if (on("invisible_text") || on("prompt_injection")) invisible = scanInvisible(text, n, { deadline });
  if (on("invisible_text"))
    keep(
      findings,
      invisible.filter((f) => f.score >= sc.invisible_text.threshold),
      sc.invisible_text,
    );
  if (on("secret")) keep(findings, scanSecrets(text, n, { minScore: sc.secret.threshold, deadline }), sc.secret);
  if (on("pii")) {
    const p = sc.pii;
    // the selection goes in, so overlaps resolve among the enabled subtypes (a disabled NHS number
    // does not hide the phone it overlaps)
    const enabled = selective(p) ? (s: string) => subtypeEnabled(p, s) : undefined;
    findings.push(...scanPii(text, n, { minScore: p.threshold, phoneRegions: policy.phoneRegions, enabled, deadline }));
  }
  if (on("prompt_injection")) {
    const min = sc.prompt_injection.threshold;
    keep(findings, scanInjection(text, n, { minScore: min, deadline }), sc.prompt_injection);
    keep(findings, hiddenInstructions(invisible, min, deadline), sc.prompt_injection);
  }
  let action: ScanAction = "allow";
  for (const f of findings) {
    const a = sc[f.type].action as ScanAction;
    if (RANK[a] > RANK[action]) action = a;
  }
  findings.sort((a, b) => a.start - b.start || a.end - b.end);
  return { action, findings };
}

function selective(p: ScannerPolicy): boolean {
  return p.subtypes !== null || p.disabled !== null;
}

/** Append the findings whose subtype `p` selects (all of them without a selection). */
function keep(out: Finding[], found: readonly Finding[], p: ScannerPolicy): void {
  if (!selective(p)) {
    for (const f of found) out.push(f);
    return;
  }
  for (const f of found) if (subtypeEnabled(p, f.subtype)) out.push(f);
}

/** Up to this many hidden payloads are rescanned one by one; more go through one joined scan first. */
const MAX_SEPARATE_PAYLOADS = 16;
/** After the joined scan, up to this many suspect payloads are still rescanned one by one. */
const MAX_SUSPECT_RESCANS = 64;
const MIN_PAYLOAD = 4;

/**
 * Text smuggled in tag characters or variation selectors is what the model reads: scan it as a prompt,
 * each payload on its own. Text made of thousands of tiny payloads made that a scanner call per payload
 * (~3–5× prose per byte), so past MAX_SEPARATE_PAYLOADS the payloads are first joined by line breaks
 * (clause breaks: no rule pairs words across them) and scanned once. A payload that scores on its own
 * has its signals in the joined text too, so it overlaps a joined finding: only those suspects are
 * rescanned alone (exact), up to MAX_SUSPECT_RESCANS; past that each takes the best joined finding that
 * overlaps it. Payloads holding a base64 run are always rescanned alone (the joined scan decodes a few
 * blobs only; such payloads are long, so this is cheap per byte).
 */
function hiddenInstructions(invisible: readonly Finding[], min: number, deadline: number | undefined): Finding[] {
  const payloads = invisible.filter((f) => f.detail !== undefined && f.detail.length >= MIN_PAYLOAD);
  const n = payloads.length;
  const best = new Float64Array(n);
  const alone = (k: number): void => {
    const d = payloads[k]!.detail!;
    best[k] = 0;
    for (const g of scanInjection(d, normalize(d), { deadline })) if (g.score > best[k]!) best[k] = g.score;
  };
  if (n <= MAX_SEPARATE_PAYLOADS) for (let k = 0; k < n; k++) alone(k);
  else {
    const starts = new Int32Array(n + 1);
    let joined = "";
    for (let k = 0; k < n; k++) {
      starts[k] = joined.length;
      joined += `${payloads[k]!.detail!}\n`;
    }
    starts[n] = joined.length;
    const suspect = new Uint8Array(n);
    for (const g of scanInjection(joined, normalize(joined, deadline), { deadline })) {
      let lo = 0; // the payload holding g.start, then every one the finding reaches into
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= g.start) lo = mid;
        else hi = mid - 1;
      }
      for (let k = lo; k < n && starts[k]! < Math.max(g.end, g.start + 1); k++) {
        suspect[k] = 1;
        if (g.score > best[k]!) best[k] = g.score;
      }
    }
    let suspects = 0;
    for (let k = 0; k < n; k++) suspects += suspect[k]!;
    for (let k = 0; k < n; k++)
      if ((suspects <= MAX_SUSPECT_RESCANS && suspect[k] === 1) || hasBase64Run(payloads[k]!.detail!)) alone(k);
  }
  const out: Finding[] = [];
  for (let k = 0; k < n; k++) {
    const f = payloads[k]!;
    const score = Math.min(0.99, best[k]! + 0.1);
    if (best[k]! > 0 && score >= min)
      out.push({ type: "prompt_injection", subtype: "hidden_instructions", start: f.start, end: f.end, score });
  }
  return out;
}

function hasBase64Run(s: string): boolean {
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    run = isBase64Char(s.charCodeAt(i)) ? run + 1 : 0;
    if (run >= MIN_B64) return true;
  }
  return false;
}

export type RedactStyle = "label" | "mask";

/**
 * The name a `label` redaction writes: the subtype for PII (`[REDACTED:phone]`, `[REDACTED:iban]`), so
 * the model and the reader still know what kind of data stood there; the finding type otherwise
 * (`[REDACTED:secret]`: a provider's name says more than a reader needs).
 */
export function redactionLabel(f: Pick<Finding, "type" | "subtype">): string {
  return f.type === "pii" ? f.subtype : f.type;
}

/**
 * Mask `findings` in `text` (offsets into `text`). Overlapping spans merge. `label` writes
 * `[REDACTED:<name>]` ({@link redactionLabel} of the first visible finding of the merged span), `mask`
 * writes one `*` per UTF-16 unit; invisible-text spans are removed either way.
 */
export function redact(text: string, findings: readonly Finding[], style: RedactStyle = "label"): string {
  if (findings.length === 0) return text;
  const spans = findings
    .filter((f) => f.end > f.start && f.start >= 0 && f.end <= text.length)
    .slice()
    .sort((a, b) => a.start - b.start || b.end - a.end);
  let out = "";
  let at = 0;
  for (let k = 0; k < spans.length; ) {
    const first = spans[k]!;
    let end = first.end;
    let name = redactionLabel(first);
    let onlyInvisible = first.type === "invisible_text";
    k++;
    while (k < spans.length && spans[k]!.start < end) {
      const g = spans[k]!;
      if (g.end > end) end = g.end;
      if (g.type !== "invisible_text") {
        if (onlyInvisible) name = redactionLabel(g);
        onlyInvisible = false;
      }
      k++;
    }
    const start = Math.max(first.start, at);
    out += text.slice(at, start);
    if (!onlyInvisible) out += style === "mask" ? "*".repeat(end - start) : `[REDACTED:${name}]`;
    at = end;
  }
  return out + text.slice(at);
}

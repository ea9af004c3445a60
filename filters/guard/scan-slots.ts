/**
 * Scanning a document's text slots the way the model reads them, and mapping the result back.
 *
 * Slots of one group (one message, one tool definition) are joined — with each slot's `sep` — into one
 * text and scanned once, so a finding can span parts. Each finding is reported against the slot where it
 * starts (offsets relative to that slot's text; `end` may run past it). A redaction is applied to every
 * slot that holds part of the span: the label goes where the span starts, the rest of the span is
 * removed from the following parts. A redaction that would touch a slot that cannot be rewritten
 * (`redactable: false`), or would break the JSON syntax of a `json` slot, blocks instead.
 *
 * All scanning of buffered documents goes through {@link scanTexts}: one call with every text, so the
 * scanners can move behind an async worker pool by changing that function alone.
 *
 * @example
 *   const r = scanSlots(adapter.extractRequest(doc), policy);
 *   if (r.action !== "block") for (const [i, t] of r.rewrites) adapter.rewrite(doc, slots[i], t);
 */
import type { TextSlot } from "./adapters/types.ts";
import type { GuardPolicy } from "./policy.ts";
import { type RedactStyle, redactionLabel, type ScanAction, type ScanResult, scanText } from "./scan.ts";
import type { Finding, FindingType } from "./types.ts";

const RANK: Readonly<Record<ScanAction, number>> = { allow: 0, annotate: 1, redact: 2, block: 3 };

/**
 * Scan several texts under one policy, all within one `deadline` (a `performance.now()` value; the texts
 * share the budget). Throws `guard.too_large` when any text is over the cap, `guard.scan_timeout` past it.
 */
export function scanTexts(texts: readonly string[], policy: GuardPolicy, deadline?: number): ScanResult[] {
  const out: ScanResult[] = new Array(texts.length);
  const opts = deadline === undefined ? {} : { deadline };
  for (let i = 0; i < texts.length; i++) out[i] = scanText(texts[i]!, policy, opts);
  return out;
}

const SECRETS_ONLY = new WeakMap<GuardPolicy, GuardPolicy>();

/** `policy` with every scanner but secrets off (cached per policy: policies are frozen and long-lived). */
function secretsOnly(policy: GuardPolicy): GuardPolicy {
  let p = SECRETS_ONLY.get(policy);
  if (p === undefined) {
    const off = Object.freeze({ ...policy.scanners.pii, action: "off" as const });
    p = Object.freeze({
      ...policy,
      scanners: Object.freeze({ ...policy.scanners, pii: off, prompt_injection: off, invisible_text: off }),
    });
    SECRETS_ONLY.set(policy, p);
  }
  return p;
}

export interface SlotFinding extends Finding {
  /** Index of the slot where the finding starts; `start`/`end` are relative to that slot's text. */
  readonly slot: number;
}

export interface SlotScan {
  readonly action: ScanAction;
  readonly findings: SlotFinding[];
  /** New text per slot index, for the slots a redaction changed (empty when the action is block). */
  readonly rewrites: Map<number, string>;
}

interface Piece {
  start: number;
  end: number;
  type: FindingType;
  /** What a label redaction writes (scan.ts redactionLabel). */
  name: string;
  label: boolean;
}

/** Group slot indices, in first-seen order; an ungrouped slot is a group of its own. */
function groupSlots(slots: readonly TextSlot[]): number[][] {
  const byName = new Map<string, number[]>();
  const groups: number[][] = [];
  for (let i = 0; i < slots.length; i++) {
    const g = slots[i]!.group;
    if (g === undefined) {
      groups.push([i]);
      continue;
    }
    let list = byName.get(g);
    if (!list) {
      list = [];
      byName.set(g, list);
      groups.push(list);
    }
    list.push(i);
  }
  return groups;
}

function validJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * Scan `slots` (grouped) under `policy`. Throws `guard.too_large` when a group's text is over the cap and
 * `guard.scan_timeout` when the scan runs past `deadline`.
 */
export function scanSlots(
  slots: readonly TextSlot[],
  policy: GuardPolicy,
  style: RedactStyle = "label",
  deadline?: number,
): SlotScan {
  const groups = groupSlots(slots);
  const starts: number[] = new Array(slots.length);
  const texts: string[] = [];
  for (const g of groups) {
    let text = "";
    for (let k = 0; k < g.length; k++) {
      const s = slots[g[k]!]!;
      if (k > 0) text += s.sep ?? "\n";
      starts[g[k]!] = text.length;
      text += s.text;
    }
    texts.push(text);
  }
  // a group of ids (secrets-only slots) is scanned for secrets alone
  const idGroup = groups.findIndex((g) => slots[g[0]!]!.secretsOnly === true);
  const results =
    idGroup === -1
      ? scanTexts(texts, policy, deadline)
      : [
          ...scanTexts(texts.slice(0, idGroup), policy, deadline),
          ...scanTexts([texts[idGroup]!], secretsOnly(policy), deadline),
          ...scanTexts(texts.slice(idGroup + 1), policy, deadline),
        ];
  let action: ScanAction = "allow";
  const findings: SlotFinding[] = [];
  const pieces = new Map<number, Piece[]>();
  for (let gi = 0; gi < groups.length; gi++) {
    const g = groups[gi]!;
    const r = results[gi]!;
    if (RANK[r.action] > RANK[action]) action = r.action;
    let p = 0; // findings are ordered by start: the first slot that ends after it only moves forward
    for (const f of r.findings) {
      while (p < g.length - 1 && starts[g[p]!]! + slots[g[p]!]!.text.length <= f.start) p++;
      const first = g[p]!;
      const base = starts[first]!;
      findings.push({ ...f, slot: first, start: Math.max(0, f.start - base), end: f.end - base });
      if (policy.scanners[f.type].action !== "redact") continue;
      for (let q = p; q < g.length && starts[g[q]!]! < f.end; q++) {
        const i = g[q]!;
        const s = slots[i]!;
        const a = Math.max(f.start, starts[i]!) - starts[i]!;
        const b = Math.min(f.end, starts[i]! + s.text.length) - starts[i]!;
        if (b <= a) continue;
        if (s.redactable === false) {
          action = "block";
          continue;
        }
        let list = pieces.get(i);
        if (!list) pieces.set(i, (list = []));
        list.push({ start: a, end: b, type: f.type, name: redactionLabel(f), label: q === p });
      }
    }
  }
  const rewrites = new Map<number, string>();
  if (action === "block") return { action, findings, rewrites };
  for (const [i, list] of pieces) {
    const s = slots[i]!;
    const next = applyPieces(s.text, list, style);
    if (s.json && validJson(s.text) && !validJson(next)) return { action: "block", findings, rewrites: new Map() };
    if (next !== s.text) rewrites.set(i, next);
  }
  return { action, findings, rewrites };
}

/** Redact `pieces` of `text`: overlapping pieces merge; a label is written only where a span starts. */
function applyPieces(text: string, pieces: Piece[], style: RedactStyle): string {
  pieces.sort((x, y) => x.start - y.start || y.end - x.end);
  let out = "";
  let at = 0;
  for (let k = 0; k < pieces.length; ) {
    const first = pieces[k]!;
    let end = first.end;
    let label = first.label;
    let type = first.type;
    let name = first.name;
    k++;
    while (k < pieces.length && pieces[k]!.start < end) {
      const g = pieces[k]!;
      if (g.end > end) end = g.end;
      if (g.label) label = true;
      if (type === "invisible_text") {
        type = g.type;
        name = g.name;
      }
      k++;
    }
    const start = Math.max(first.start, at);
    out += text.slice(at, start);
    if (type !== "invisible_text") {
      if (style === "mask") out += "*".repeat(end - start);
      else if (label) out += `[REDACTED:${name}]`;
    }
    at = end;
  }
  return out + text.slice(at);
}

/**
 * `hexr guard scan [--jsonl] [--policy FILE]`: run the LLM guard scanners offline, exactly as the
 * sidecar does, so policy authors can try rules. Output is one JSON line per input:
 *   {"id", "action", "findings": [{"type", "subtype", "start", "end", "score"}]}
 * A bad input line produces {"id", "line", "error"} for that line and scanning continues.
 *
 * `hexr guard eval FILE.jsonl [--policy FILE] [--json]`: score the scanners on a labelled set
 * (`{"id", "text", "expect": [types]}` per line): recall per type and subtype, false-positive rate, ms per case.
 */
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { parse as parseYaml } from "yaml";
import { isHexrError } from "../../filters/errors.ts";
import { DEFAULT_GUARD_POLICY, type GuardPolicy, parseGuardPolicy } from "../../filters/guard/policy.ts";
import { type EvalCase, formatEvalReport, GuardEvaluation } from "../../filters/guard/eval.ts";
import { scanText } from "../../filters/guard/scan.ts";
import type { Finding } from "../../filters/guard/types.ts";
import { type Command, parseFlags, UsageError } from "./command.ts";

const USAGE = `Usage: hexr guard scan [--jsonl] [--policy FILE]
       hexr guard eval FILE.jsonl [--policy FILE] [--json]

Scan text for prompt injection, PII, secrets and invisible text with the sidecar's scanners.

Input (stdin):
  default      the whole of stdin is one text
  --jsonl      one JSON object per line: {"id": <any>, "text": "<string>"}

Output (stdout), one JSON line per input:
  {"id": ..., "action": "allow|annotate|redact|block",
   "findings": [{"type", "subtype", "start", "end", "score"}]}
  offsets are UTF-16 code units into the input text; matched text is never printed.
  A bad input line yields {"id": ..., "line": N, "error": "<code>: <reason>"} and scanning goes on.

Options:
  --policy FILE  guard policy, YAML or JSON:
                   maxBytes: 262144
                   phoneRegions: [US, GB, DE, FR, IN, BR, ES, IT, NL, CA, AU]
                   scanners:
                     prompt_injection: { action: block, threshold: 0.5 }
                     secret:           { action: block, threshold: 0.5 }
                     pii:              { action: redact, threshold: 0.5, disable: [ipv4, ipv6] }
                     invisible_text:   { action: redact, threshold: 0.5 }
                 actions: block, redact, annotate, off; thresholds in [0, 1];
                 subtypes: [..] (only these) or disable: [..] per scanner
  --jsonl        read JSON lines instead of one text
  -h, --help     show this help

eval: scores the scanners on a labelled JSON-lines file, one case a line:
  {"id": <any>, "text": "<string>", "expect": ["secret", "pii/phone", ...]}   ([] = benign)
  A bare type is found by any finding of it; "type/subtype" only by that subtype. Prints recall per type
  and per expected subtype, the false-positive rate per type on cases not expecting it, benign cases
  flagged, and scan ms per case; --json prints the same as one JSON object. Texts are never printed.
  Bad lines are reported on stderr by line number and skipped.

Exit status: 0 when input was read (even if some lines had errors), 2 on usage or policy errors.
`;

async function loadPolicy(file: string | undefined): Promise<GuardPolicy> {
  if (file === undefined) return DEFAULT_GUARD_POLICY;
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(file, "utf8"));
  } catch (e) {
    throw new UsageError(`--policy ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return parseGuardPolicy(raw);
  } catch (e) {
    throw new UsageError(`--policy ${file}: ${isHexrError(e) ? e.reason : String(e)}`);
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function publicFinding(f: Finding): { type: string; subtype: string; start: number; end: number; score: number } {
  return { type: f.type, subtype: f.subtype, start: f.start, end: f.end, score: round(f.score) };
}

function scanLine(id: unknown, text: string, policy: GuardPolicy): string {
  const r = scanText(text, policy);
  return JSON.stringify({ id, action: r.action, findings: r.findings.map(publicFinding) });
}

function errorLine(id: unknown, line: number | undefined, e: unknown): string {
  const reason = isHexrError(e) ? e.reason : e instanceof Error ? e.message : String(e);
  return JSON.stringify(line === undefined ? { id, error: reason } : { id, line, error: reason });
}

async function write(s: string): Promise<void> {
  if (!process.stdout.write(`${s}\n`)) await new Promise<void>((resolve) => process.stdout.once("drain", resolve));
}

function parseJsonLine(line: string): { id: unknown; text: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new Error("guard.bad_json: line is not valid JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error("guard.bad_input: line must be a JSON object");
  const o = v as Record<string, unknown>;
  if (typeof o.text !== "string")
    throw Object.assign(new Error('guard.bad_input: "text" must be a string'), { id: o.id });
  return { id: o.id ?? null, text: o.text };
}

async function scanJsonl(policy: GuardPolicy): Promise<void> {
  const rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() === "") continue;
    let id: unknown = null;
    try {
      const item = parseJsonLine(line);
      id = item.id;
      await write(scanLine(id, item.text, policy));
    } catch (e) {
      const known = (e as { id?: unknown }).id;
      await write(errorLine(known ?? id, n, e));
    }
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseCase(line: string): EvalCase {
  const { id, text } = parseJsonLine(line);
  const o = JSON.parse(line) as Record<string, unknown>;
  const expect = o.expect ?? [];
  if (!Array.isArray(expect)) throw new Error('guard.bad_input: "expect" must be a list');
  return { id, text, expect: expect as string[] };
}

async function evaluate(file: string, policy: GuardPolicy, json: boolean): Promise<void> {
  const ev = new GuardEvaluation(policy);
  let input: NodeJS.ReadableStream;
  try {
    input = createReadStream(file);
    await new Promise<void>((resolve, reject) => {
      (input as ReturnType<typeof createReadStream>).once("open", () => resolve()).once("error", reject);
    });
  } catch (e) {
    throw new UsageError(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  let bad = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() === "") continue;
    try {
      ev.add(parseCase(line));
    } catch (e) {
      bad++;
      const reason = isHexrError(e) ? e.reason : e instanceof Error ? e.message : String(e);
      process.stderr.write(`hexr guard eval: ${file}:${n}: ${reason}\n`);
    }
  }
  const report = ev.report();
  await write(json ? JSON.stringify({ ...report, bad_lines: bad }) : formatEvalReport(report).trimEnd());
}

const guard: Command = {
  name: "guard",
  summary: "scan text with the LLM guard scanners",
  usage: USAGE,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === "-h" || sub === "--help") {
      process.stdout.write(USAGE);
      return 0;
    }
    if (sub !== "scan" && sub !== "eval")
      throw new UsageError(sub === undefined ? "missing subcommand (scan, eval)" : `unknown subcommand '${sub}'`);
    const { values, positionals } = parseFlags(
      rest,
      {
        jsonl: { type: "boolean" },
        json: { type: "boolean" },
        policy: { type: "string" },
      },
      true,
    );
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (sub === "scan" && positionals.length > 0) throw new UsageError("scan reads stdin; it takes no FILE");
    const policy = await loadPolicy(values.policy);
    if (sub === "eval") {
      const [file, ...extra] = positionals;
      if (file === undefined || extra.length > 0) throw new UsageError("eval takes one FILE.jsonl");
      await evaluate(file, policy, values.json === true);
      return 0;
    }
    if (values.jsonl) await scanJsonl(policy);
    else {
      const text = await readStdin();
      try {
        await write(scanLine(null, text, policy));
      } catch (e) {
        await write(errorLine(null, undefined, e));
      }
    }
    return 0;
  },
};

export default guard;

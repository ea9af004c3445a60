/**
 * The guard's own normalization for the training script: JSON strings in (one per line on stdin),
 * `normalize(s).text` out as JSON strings, one per line, in order. Training and the hot path thus see
 * byte-identical text without a second implementation of normalize.ts in Python.
 *
 *   node scripts/train-injection/normalize.ts < texts.jsonl > normalized.jsonl
 */
import { createInterface } from "node:readline";
import { normalize } from "../../filters/guard/normalize.ts";

const out: string[] = [];
const flush = (): void => {
  if (out.length > 0) process.stdout.write(`${out.join("\n")}\n`);
  out.length = 0;
};
for await (const line of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
  if (line === "") continue;
  out.push(JSON.stringify(normalize(JSON.parse(line) as string).text));
  if (out.length >= 512) flush();
}
flush();

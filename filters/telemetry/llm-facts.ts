/**
 * The facts of an LLM call that telemetry may carry: model names and token counts, read from the request
 * and response documents the guard already parsed (never any text). Shapes read:
 *  - request: top-level `model`, `stream`;
 *  - response and stream events: `model` and `usage` at the top (OpenAI chat and Responses, Anthropic
 *    Messages), under `response` (Responses stream events: `response.created`, `response.completed`) or
 *    under `message` (Anthropic `message_start`). Usage is `input_tokens`/`output_tokens` or
 *    `prompt_tokens`/`completion_tokens`; a later value replaces an earlier one (Anthropic's
 *    `message_delta.usage.output_tokens` is cumulative, OpenAI's last chunk carries the totals).
 *
 * Model names become span attributes and metric labels, so only a plain identifier shape is kept
 * (anything else is `other`, anything the secrets scanner flags `redacted`), and the metric registry
 * bounds how many distinct ones are counted.
 */

import { scanSecrets } from "../guard/secrets.ts";

export interface LlmFacts {
  requestModel?: string;
  responseModel?: string;
  stream?: boolean;
  inputTokens?: number;
  outputTokens?: number;
}

const MODEL = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Confidence from which a secret-shaped model name is withheld (the secret scanner's default threshold). */
const SECRET_SCORE = 0.5;

/**
 * A model name as telemetry shows it: the name when it is a plain identifier, else `other`; `redacted` when
 * the secrets scanner finds a credential in it (a key pasted into the `model` field must not become a span
 * attribute or a metric label). The field is short (≤ 128 characters): the scan costs well under a µs.
 */
export function modelLabel(v: unknown): string | undefined {
  if (typeof v !== "string" || v.length === 0) return undefined;
  // every chunk of an OpenAI stream repeats the model: one check per distinct name, not per event
  if (v === lastModel) return lastLabel;
  const label = !MODEL.test(v) ? "other" : scanSecrets(v).some((f) => f.score >= SECRET_SCORE) ? "redacted" : v;
  lastModel = v;
  lastLabel = label;
  return label;
}

let lastModel: string | undefined;
let lastLabel: string | undefined;

function count(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 40 ? v : undefined;
}

export function readRequestFacts(doc: unknown, f: LlmFacts): void {
  if (!isObj(doc)) return;
  const m = modelLabel(doc.model);
  if (m !== undefined) f.requestModel = m;
  if (typeof doc.stream === "boolean") f.stream = doc.stream;
}

function readUsage(u: unknown, f: LlmFacts): void {
  if (!isObj(u)) return;
  const input = count(u.input_tokens) ?? count(u.prompt_tokens);
  const output = count(u.output_tokens) ?? count(u.completion_tokens);
  if (input !== undefined) f.inputTokens = input;
  if (output !== undefined) f.outputTokens = output;
}

function readOne(o: Record<string, unknown>, f: LlmFacts): void {
  const m = modelLabel(o.model);
  if (m !== undefined) f.responseModel = m;
  readUsage(o.usage, f);
}

/** A response document or one stream event's data. */
export function readResponseFacts(doc: unknown, f: LlmFacts): void {
  if (!isObj(doc)) return;
  readOne(doc, f);
  if (isObj(doc.response)) readOne(doc.response, f);
  if (isObj(doc.message)) readOne(doc.message, f);
}

/** USD per million tokens, per model (exact request model name). */
export type PriceTable = ReadonlyMap<string, { readonly input: number; readonly output: number }>;

export function costUsd(prices: PriceTable, model: string | undefined, f: LlmFacts): number | undefined {
  if (model === undefined) return undefined;
  const p = prices.get(model);
  if (p === undefined || (f.inputTokens === undefined && f.outputTokens === undefined)) return undefined;
  return ((f.inputTokens ?? 0) * p.input + (f.outputTokens ?? 0) * p.output) / 1e6;
}

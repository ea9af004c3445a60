/**
 * The learned prompt-injection tier: a logistic regression over hashed character and word n-grams
 * (injection-model-features.ts) of the normalized text, trained by scripts/train-injection/train.py on
 * labelled data shipped in public packages (filters/guard/models/README.md is its model card).
 *
 * Scored over overlapping windows of the compact text, the highest window wins, so an instruction
 * hidden in the middle of a long document is scored on its own neighbourhood and not diluted by the
 * rest. Up to `maxUnits` compact units every window is scored (prefix sums: one pass over the text);
 * past that, `maxUnits / window` evenly spaced windows are, so the cost is bounded whatever the length.
 *
 * The model file is read and checked once, when this module loads; scoring allocates nothing per call
 * beyond growing scratch buffers.
 *
 * @example
 *   const m = defaultLinearModel();
 *   const r = m.score(normalize(text));  // { score: 0.97, start: 120, end: 410 } (normalized offsets)
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { checkDeadline } from "./deadline.ts";
import { accumulate, compact, HASH_BITS, NGRAM_MAX, NGRAM_MIN, WORD_MAX } from "./injection-model-features.ts";
import type { NormalizedText } from "./normalize.ts";

const MODEL_DIR = new URL("./models/", import.meta.url);
const MODEL_NAME = "injection-linear";
/** Windows scored between two deadline checks on the long-text path. */
const DEADLINE_WINDOWS = 16;

/** The JSON header next to the weights (written by train.py; the metrics are for the model card). */
export interface LinearModelHeader {
  readonly format: 1;
  readonly hashBits: number;
  readonly ngramMin: number;
  readonly ngramMax: number;
  readonly wordMax: number;
  readonly window: number;
  readonly stride: number;
  readonly maxUnits: number;
  /** 0.5: a window's weight sum is divided by √(its feature count); 1: by the count. */
  readonly normPower: 0.5 | 1;
  readonly bias: number;
  /** int8 weight × scale = the trained weight. */
  readonly scale: number;
  /** The window logit at which the calibrated score is 0.5 (chosen for ≤ 1 % FPR on benign text). */
  readonly threshold: number;
  /** score = sigmoid(slope · (logit − threshold)), the slope fitted on the calibration split. */
  readonly slope: number;
  readonly sha256: string;
}

/** The best window of a text: its calibrated score and its span in NORMALIZED offsets. */
export interface LearnedScore {
  readonly score: number;
  readonly logit: number;
  readonly start: number;
  readonly end: number;
}

export class LinearInjectionModel {
  readonly header: LinearModelHeader;
  readonly #w: Int8Array;
  #qsum = new Int32Array(4096);
  #count = new Int32Array(4096);

  constructor(header: LinearModelHeader, weights: Int8Array) {
    const h = header;
    if (h.format !== 1) throw new TypeError(`${MODEL_NAME}: unknown model format ${String(h.format)}`);
    if (h.hashBits !== HASH_BITS || h.ngramMin !== NGRAM_MIN || h.ngramMax !== NGRAM_MAX || h.wordMax !== WORD_MAX)
      throw new TypeError(`${MODEL_NAME}: feature settings differ from injection-model-features.ts`);
    if (weights.length !== 1 << HASH_BITS)
      throw new TypeError(`${MODEL_NAME}: ${weights.length} weights, expected ${1 << HASH_BITS}`);
    if (!(h.window > 0 && h.stride > 0 && h.maxUnits >= h.window && (h.normPower === 0.5 || h.normPower === 1)))
      throw new TypeError(`${MODEL_NAME}: bad window settings`);
    this.header = h;
    this.#w = weights;
  }

  /** Calibrated probability for a window logit. */
  calibrate(logit: number): number {
    return 1 / (1 + Math.exp(-this.header.slope * (logit - this.header.threshold)));
  }

  #logit(q: number, n: number): number {
    const h = this.header;
    return n === 0 ? h.bias : h.bias + (h.scale * q) / (h.normPower === 0.5 ? Math.sqrt(n) : n);
  }

  /** Score the best window of `n` (see the module comment); `deadline` as in deadline.ts. */
  score(n: NormalizedText, deadline?: number): LearnedScore {
    const { window: W, stride: S, maxUnits } = this.header;
    const c = compact(n.text);
    const len = c.length;
    let best = Number.NEGATIVE_INFINITY;
    let ba = 0;
    let bb = 0;
    if (len <= maxUnits) {
      const q = this.#grow(len);
      const cnt = this.#count;
      q[0] = 0;
      cnt[0] = 0;
      accumulate(c, 0, len, this.#w, q, cnt);
      for (let i = 1; i <= len; i++) {
        q[i] = q[i]! + q[i - 1]!;
        cnt[i] = cnt[i]! + cnt[i - 1]!;
      }
      const win = (a: number, b: number): void => {
        const lg = this.#logit(q[b]! - q[a]!, cnt[b]! - cnt[a]!);
        if (lg > best) {
          best = lg;
          ba = a;
          bb = b;
        }
      };
      if (len <= W) win(0, len);
      else {
        let a = 0;
        for (; a + W <= len; a += S) win(a, a + W);
        if (a - S + W !== len) win(len - W, len);
      }
    } else {
      const k = Math.floor(maxUnits / W);
      const q = this.#grow(W);
      const cnt = this.#count;
      for (let j = 0; j < k; j++) {
        if (j % DEADLINE_WINDOWS === 0) checkDeadline(deadline);
        const a = Math.floor((j * (len - W)) / (k - 1));
        accumulate(c, a, a + W, this.#w, q, cnt);
        let qs = 0;
        let ns = 0;
        for (let i = 1; i <= W; i++) {
          qs += q[i]!;
          ns += cnt[i]!;
        }
        const lg = this.#logit(qs, ns);
        if (lg > best) {
          best = lg;
          ba = a;
          bb = a + W;
        }
      }
    }
    const pos = c.pos;
    const start = pos[ba]!;
    const end = bb > ba ? pos[bb - 1]! + 1 : start;
    return { score: this.calibrate(best), logit: best, start, end: Math.min(end, n.text.length) };
  }

  #grow(len: number): Int32Array {
    if (this.#qsum.length < len + 1) {
      const size = Math.max(len + 1, this.#qsum.length * 2);
      this.#qsum = new Int32Array(size);
      this.#count = new Int32Array(size);
    }
    return this.#qsum;
  }
}

/** Read and check a model: `<dir>/<name>.json` (header) and `<dir>/<name>.bin` (int8 weights). */
export function loadLinearModel(dir: URL = MODEL_DIR, name = MODEL_NAME): LinearInjectionModel {
  const header = JSON.parse(readFileSync(new URL(`${name}.json`, dir), "utf8")) as LinearModelHeader;
  const bin = readFileSync(new URL(`${name}.bin`, dir));
  const digest = createHash("sha256").update(bin).digest("hex");
  if (digest !== header.sha256) throw new TypeError(`${name}.bin: sha256 ${digest} does not match its header`);
  return new LinearInjectionModel(header, new Int8Array(bin.buffer, bin.byteOffset, bin.byteLength));
}

let defaultModel: LinearInjectionModel | undefined;

/** The committed model, loaded on first use (prompt-injection.ts asks for it at module load). */
export function defaultLinearModel(): LinearInjectionModel {
  defaultModel ??= loadLinearModel();
  return defaultModel;
}

/**
 * Calls per key (agent) in the last minute: a ring of 60 one-second buckets per key with a running
 * total, so a hit is O(1) amortized. Keys live in a bounded LRU; an evicted key starts again at zero
 * (bounded memory wins over exactness for the 10 001st concurrently active agent).
 *
 * Window: at second `s` the count covers seconds `s-59 … s`. Time is injected; a clock that steps
 * backwards counts into the newest bucket rather than rewriting history.
 *
 * @example
 *   const rate = new RateCounter();
 *   const calls = rate.hit(`${tenant}/${agent}`, Date.now()); // includes this call
 */
import { LRUCache } from "lru-cache";

export const DEFAULT_MAX_KEYS = 10_000;
const WINDOW_SECONDS = 60;

function slot(second: number): number {
  return ((second % WINDOW_SECONDS) + WINDOW_SECONDS) % WINDOW_SECONDS;
}

class Window {
  readonly counts = new Uint32Array(WINDOW_SECONDS);
  lastSecond: number;
  total = 0;

  constructor(second: number) {
    this.lastSecond = second;
  }

  /** Moves the window to `second`, dropping buckets that fell out of it. */
  advance(second: number): void {
    const gap = second - this.lastSecond;
    if (gap <= 0) return;
    if (gap >= WINDOW_SECONDS) {
      this.counts.fill(0);
      this.total = 0;
    } else {
      for (let s = this.lastSecond + 1; s <= second; s++) {
        const i = slot(s);
        this.total -= this.counts[i] as number;
        this.counts[i] = 0;
      }
    }
    this.lastSecond = second;
  }
}

export class RateCounter {
  readonly #windows: LRUCache<string, Window>;

  constructor(opts: { maxKeys?: number } = {}) {
    const max = opts.maxKeys ?? DEFAULT_MAX_KEYS;
    if (!Number.isInteger(max) || max < 1) throw new TypeError("maxKeys must be an integer ≥ 1");
    this.#windows = new LRUCache({ max });
  }

  /** Records one call for `key` at `nowMs`; returns the calls in the last minute including this one. */
  hit(key: string, nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    let w = this.#windows.get(key);
    if (!w) {
      w = new Window(second);
      this.#windows.set(key, w);
    }
    w.advance(second);
    const i = slot(w.lastSecond);
    w.counts[i] = (w.counts[i] as number) + 1;
    return ++w.total;
  }

  /** Calls in the last minute without recording one. */
  count(key: string, nowMs: number): number {
    const w = this.#windows.peek(key);
    if (!w) return 0;
    w.advance(Math.floor(nowMs / 1000));
    return w.total;
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.#windows.size;
  }
}

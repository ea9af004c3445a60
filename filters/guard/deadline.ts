/**
 * A per-call scan-time budget. The caller passes an absolute `performance.now()` timestamp; scanners
 * check it between stages and every few thousand units of work inside long loops (never per character:
 * a clock read costs ~30 ns), so an over-budget scan stops within a small fraction of a millisecond.
 *
 * @example
 *   scanText(text, policy, { deadline: performance.now() + 20 }); // throws guard.scan_timeout after ~20 ms
 */
import { HexrError } from "../errors.ts";

/** Loop iterations between clock reads inside a scanner (a power of two minus one, used as a mask). */
export const DEADLINE_EVERY = 4095;

/** Throw `HexrError` `guard.scan_timeout` when `deadline` (a `performance.now()` value) has passed. */
export function checkDeadline(deadline: number | undefined): void {
  if (deadline !== undefined && performance.now() > deadline)
    throw new HexrError("guard.scan_timeout", "scan exceeded its time budget (deadline)");
}

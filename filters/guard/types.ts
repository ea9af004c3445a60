/**
 * Shared shapes of the LLM guard. A {@link Finding} points into the ORIGINAL text (UTF-16 offsets,
 * `end` exclusive) and never carries the matched text itself, so findings can be logged, returned in
 * a 403 body and used as metric labels without leaking what they found.
 */
import type { NormalizedText } from "./normalize.ts";

export type FindingType = "prompt_injection" | "pii" | "secret" | "invisible_text";

/** All finding types, in the order scanners run. */
export const FINDING_TYPES: readonly FindingType[] = ["invisible_text", "secret", "pii", "prompt_injection"];

export interface Finding {
  readonly type: FindingType;
  /** What was found, e.g. `email`, `github_token`, `instruction_override`, `tag_characters`. */
  readonly subtype: string;
  /** UTF-16 offset into the original text (inclusive). */
  readonly start: number;
  /** UTF-16 offset into the original text (exclusive). */
  readonly end: number;
  /** Confidence in [0, 1]; compared against the route's threshold. */
  readonly score: number;
  /**
   * Only for hidden payloads of invisible text (Unicode tag characters, variation-selector smuggling):
   * the decoded, otherwise invisible ASCII. Never set for secrets or PII.
   */
  readonly detail?: string;
}

export interface ScanOptions {
  /** Findings scoring below this are not returned. Default 0 (everything the scanner considers). */
  readonly minScore?: number;
  /**
   * A `performance.now()` timestamp: past it the scanner throws `HexrError` `guard.scan_timeout`
   * (checked at coarse intervals, see deadline.ts). Default: no budget.
   */
  readonly deadline?: number;
}

/** One scanner: `text` is the original, `normalized` its {@link normalize}d copy. */
export type Scanner<O extends ScanOptions = ScanOptions> = (
  text: string,
  normalized: NormalizedText,
  opts?: O,
) => Finding[];

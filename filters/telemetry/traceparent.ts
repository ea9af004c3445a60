/**
 * W3C Trace Context, the one part the hot path reads with tracing off: the trace id of a `traceparent`
 * for the audit record. Kept apart from tracing.ts so that a sidecar without tracing never loads the SDK.
 */

const HEX = /^[0-9a-f]+$/;

/**
 * The trace id of a W3C `traceparent` (version 00 layout: `00-<32 hex>-<16 hex>-<2 hex>`), or null when
 * absent or malformed (all-zero ids are invalid). Cheap: used for the audit record with tracing off.
 */
export function traceIdOf(traceparent: string | undefined): string | null {
  if (traceparent === undefined || traceparent.length < 55) return null;
  const t = traceparent.trim();
  if (t.length < 55 || t[2] !== "-" || t[35] !== "-" || t[52] !== "-") return null;
  const id = t.slice(3, 35);
  if (!HEX.test(id) || id === "00000000000000000000000000000000") return null;
  if (t.slice(0, 2) === "ff" || !HEX.test(t.slice(36, 52)) || t.slice(36, 52) === "0000000000000000") return null;
  return id;
}

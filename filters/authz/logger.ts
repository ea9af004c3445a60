/**
 * The logging surface the authz filters need. Fields are structured and never carry tokens, keys,
 * bodies or header values; the JSON-lines implementation lives with the sidecar.
 *
 * @example
 *   logger.error({ event: "bundle_rejected", code: "bundle.corrupt", path });
 */
export interface Logger {
  info(fields: Record<string, unknown>): void;
  warn(fields: Record<string, unknown>): void;
  error(fields: Record<string, unknown>): void;
}

/** Discards everything (tools and tests that do not care). */
export const NOOP_LOGGER: Logger = Object.freeze({
  info() {},
  warn() {},
  error() {},
});

/**
 * The one place where the benchmark meets the guard processor: the sidecar's `GuardRouter` with the
 * default guard routes (OpenAI chat/responses, Anthropic messages; default scanner policy, fail closed),
 * exactly what `ext_proc.routes` defaults to in the sidecar config. Everything else passes through.
 * If the router cannot be built, the guard scenarios are reported as skipped with the reason rather than
 * measured with something else.
 */
import { compileGuardRoutes, DEFAULT_GUARD_ROUTES } from "../../sidecars/extproc/guard-routes.ts";
import type { ProcessorRouter } from "../../sidecars/extproc/processor.ts";
import { GuardRouter } from "../../sidecars/extproc/router.ts";
import type { Logger } from "../../sidecars/logger.ts";

export type GuardRouterResult = { router: ProcessorRouter } | { skipped: string };

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export async function loadGuardRouter(logger: Logger = SILENT): Promise<GuardRouterResult> {
  try {
    return { router: new GuardRouter(compileGuardRoutes(DEFAULT_GUARD_ROUTES), logger) };
  } catch (e) {
    return { skipped: `the guard router could not be built: ${(e as Error).message.split("\n")[0]}` };
  }
}

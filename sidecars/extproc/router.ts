/** Chooses a processor per request: guarded LLM routes get a GuardProcessor, everything else passes. */
import type { Logger } from "../logger.ts";
import { GuardProcessor, type GuardStats, newGuardStats } from "./guard-processor.ts";
import { type GuardRoute, matchGuardRoute } from "./guard-routes.ts";
import { PASS_THROUGH, type Processor, type ProcessorRouter } from "./processor.ts";
import type { Headers } from "./types.ts";
import type { StreamTelemetry } from "../telemetry/guard.ts";

export class GuardRouter implements ProcessorRouter {
  readonly #routes: readonly GuardRoute[];
  readonly #log: Logger;
  readonly stats: GuardStats = newGuardStats();

  constructor(routes: readonly GuardRoute[], log: Logger) {
    this.#routes = routes;
    this.#log = log;
  }

  select(headers: Headers, tel?: StreamTelemetry): Processor {
    const authority = headers.get(":authority") ?? headers.get("host") ?? "";
    const path = headers.get(":path") ?? "";
    const route = matchGuardRoute(this.#routes, authority, path);
    return route ? new GuardProcessor(route, this.#log, this.stats, tel) : PASS_THROUGH;
  }
}

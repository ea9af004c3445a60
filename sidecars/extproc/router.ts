/** Chooses a processor per request: guarded LLM routes get a GuardProcessor, everything else passes. */
import type { Logger } from "../logger.ts";
import { GuardProcessor, type GuardStats, newGuardStats } from "./guard-processor.ts";
import { type GuardRoute, matchGuardRoute } from "./guard-routes.ts";
import { DUPLEX_PASS_THROUGH, PASS_THROUGH, type Processor, type ProcessorRouter } from "./processor.ts";
import type { Headers, ProtocolConfiguration } from "./types.ts";
import type { StreamTelemetry } from "../telemetry/guard.ts";

/** The `x-hexr-route` stream metadata Envoy's inbound listener sets: the stream is an A2A call. */
export const A2A_ROUTE_TAG = "a2a";

export class GuardRouter implements ProcessorRouter {
  readonly #routes: readonly GuardRoute[];
  readonly #log: Logger;
  readonly stats: GuardStats = newGuardStats();

  readonly #a2a: (() => Processor) | undefined;

  /**
   * `a2a`: a new A2A processor (`a2a-processor.ts`) for each stream Envoy tags `a2a` (the inbound listener).
   * A factory, so a router without A2A never loads the A2A validator (ajv and the schemas).
   */
  constructor(routes: readonly GuardRoute[], log: Logger, a2a?: () => Processor) {
    this.#routes = routes;
    this.#log = log;
    this.#a2a = a2a;
  }

  select(headers: Headers, tel?: StreamTelemetry, tag?: string, modes?: ProtocolConfiguration): Processor {
    if (tag === A2A_ROUTE_TAG && this.#a2a) return this.#a2a();
    const authority = headers.get(":authority") ?? headers.get("host") ?? "";
    const path = headers.get(":path") ?? "";
    const route = matchGuardRoute(this.#routes, authority, path);
    if (route) return new GuardProcessor(route, this.#log, this.stats, tel, modes);
    return modes?.response_body_mode === "FULL_DUPLEX_STREAMED" ? DUPLEX_PASS_THROUGH : PASS_THROUGH;
  }
}

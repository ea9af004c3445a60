/**
 * grpc.health.v1.Health: per-service serving status, with Watch streams notified on change.
 * The empty service name "" reports the whole server. Served on grpc-js by `server.ts`
 * ({@link addHealthService}), on node:http2 by `h2-grpc.ts` (Check only); this module loads neither.
 */
export type ServingStatus = "SERVING" | "NOT_SERVING";

export class HealthService {
  readonly #status = new Map<string, ServingStatus>();
  readonly #watchers = new Set<{ service: string; write: (m: { status: string }) => void }>();

  set(service: string, status: ServingStatus): void {
    if (this.#status.get(service) === status) return;
    this.#status.set(service, status);
    for (const w of this.#watchers) if (w.service === service) w.write({ status });
  }

  /** A service's status (undefined: not a service this server knows). */
  status(service: string): ServingStatus | undefined {
    return this.#status.get(service);
  }

  /** Marks every known service NOT_SERVING (used when draining). */
  drain(): void {
    for (const s of [...this.#status.keys()]) this.set(s, "NOT_SERVING");
  }

  /** Calls `write` with the service's status now and on every change, until the returned function is called. */
  watch(service: string, write: (m: { status: string }) => void): () => void {
    const entry = { service, write };
    this.#watchers.add(entry);
    write({ status: this.#status.get(service) ?? "SERVICE_UNKNOWN" });
    return () => this.#watchers.delete(entry);
  }
}

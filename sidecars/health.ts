/**
 * grpc.health.v1.Health: per-service serving status, with Watch streams notified on change.
 * The empty service name "" reports the whole server.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { HEALTH_PROTO } from "./envoy-protos.ts";

export type ServingStatus = "SERVING" | "NOT_SERVING";

interface HealthRequest {
  service?: string;
}

export class HealthService {
  readonly #status = new Map<string, ServingStatus>();
  readonly #watchers = new Set<{ service: string; call: grpc.ServerWritableStream<HealthRequest, unknown> }>();

  set(service: string, status: ServingStatus): void {
    if (this.#status.get(service) === status) return;
    this.#status.set(service, status);
    for (const w of this.#watchers) if (w.service === service) w.call.write({ status });
  }

  /** A service's status (undefined: not a service this server knows). */
  status(service: string): ServingStatus | undefined {
    return this.#status.get(service);
  }

  /** Marks every known service NOT_SERVING (used when draining). */
  drain(): void {
    for (const s of [...this.#status.keys()]) this.set(s, "NOT_SERVING");
  }

  addTo(server: grpc.Server): void {
    const def = protoLoader.loadSync(HEALTH_PROTO, { keepCase: true, enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    server.addService(pkg.grpc.health.v1.Health.service, {
      Check: (call: grpc.ServerUnaryCall<HealthRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const status = this.#status.get(call.request.service ?? "");
        if (!status) cb({ code: grpc.status.NOT_FOUND, details: "unknown service" });
        else cb(null, { status });
      },
      Watch: (call: grpc.ServerWritableStream<HealthRequest, unknown>) => {
        const service = call.request.service ?? "";
        const entry = { service, call };
        this.#watchers.add(entry);
        call.write({ status: this.#status.get(service) ?? "SERVICE_UNKNOWN" });
        call.on("cancelled", () => this.#watchers.delete(entry));
        call.on("close", () => this.#watchers.delete(entry));
      },
    });
  }
}

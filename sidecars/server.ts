/**
 * The gRPC server that Envoy calls: binds Unix sockets and/or TCP, serves health, drains on stop.
 *
 * grpc-js is loaded on first use of {@link SidecarServer.grpc} (TCP, mTLS, a socket shared by ext_authz and
 * ext_proc): a sidecar whose listeners are all served by the plain node:http2 server (`h2-grpc.ts`, the
 * default for Unix sockets) never loads it. Measured: grpc-js and proto-loader are ~15 MB of resident
 * memory above node:http2 alone.
 */
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type * as grpc from "@grpc/grpc-js";
import type * as protoLoader from "@grpc/proto-loader";
import { HealthService } from "./health.ts";
import type { ListenConfig } from "./config.ts";

const require = createRequire(import.meta.url);
/** grpc-js, loaded on first call (both packages are CommonJS, so loading is synchronous). */
const grpcJs = (): typeof grpc => require("@grpc/grpc-js") as typeof grpc;
const HEALTH_PROTO = path.join(import.meta.dirname, "..", "proto", "grpc", "health", "v1", "health.proto");

export const GRPC_SERVER_OPTIONS: grpc.ServerOptions = {
  "grpc.max_receive_message_length": 8 << 20,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.http2.min_ping_interval_without_data_ms": 5_000,
};

/** Another server that shares this one's lifecycle (the http2 Check server). */
export interface CompanionServer {
  drain(timeoutMs: number): Promise<void>;
  kill(): void;
}

interface HealthRequest {
  service?: string;
}

/** `grpc.health.v1.Health` (Check and Watch) on a grpc-js server, reporting `health`. */
export function addHealthService(server: grpc.Server, health: HealthService): void {
  const loader = require("@grpc/proto-loader") as typeof protoLoader;
  const def = loader.loadSync(HEALTH_PROTO, { keepCase: true, enums: String, defaults: true });
  const pkg = grpcJs().loadPackageDefinition(def) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  server.addService(pkg.grpc.health.v1.Health.service, {
    Check: (call: grpc.ServerUnaryCall<HealthRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const status = health.status(call.request.service ?? "");
      if (!status) cb({ code: grpcJs().status.NOT_FOUND, details: "unknown service" });
      else cb(null, { status });
    },
    Watch: (call: grpc.ServerWritableStream<HealthRequest, unknown>) => {
      const stop = health.watch(call.request.service ?? "", (m) => call.write(m));
      call.on("cancelled", stop);
      call.on("close", stop);
    },
  });
}

export class SidecarServer {
  #grpc: grpc.Server | undefined;
  readonly health = new HealthService();
  readonly addresses: string[] = [];
  #sockets: string[] = [];
  readonly #companions: CompanionServer[] = [];

  /** Drained and killed with this server; `address` is added to {@link addresses}. */
  attach(companion: CompanionServer, address: string): void {
    this.#companions.push(companion);
    this.addresses.push(address);
  }

  /** The grpc-js server (with health), created and grpc-js loaded on first use. */
  get grpc(): grpc.Server {
    if (this.#grpc === undefined) {
      this.#grpc = new (grpcJs().Server)(GRPC_SERVER_OPTIONS);
      addHealthService(this.#grpc, this.health);
    }
    return this.#grpc;
  }

  /** Binds every address in `listen`; returns the bound addresses (`unix:/path`, `127.0.0.1:port`). */
  async bind(listen: ListenConfig): Promise<string[]> {
    const bound: string[] = [];
    if (listen.socket) {
      rmSync(listen.socket, { force: true }); // a stale socket from a crashed run would block bind
      await this.#bindOne(`unix:${listen.socket}`);
      this.#sockets.push(listen.socket);
      bound.push(`unix:${listen.socket}`);
    }
    if (listen.tcp) {
      const port = await this.#bindOne(listen.tcp);
      const host = listen.tcp.slice(0, listen.tcp.lastIndexOf(":"));
      bound.push(`${host}:${port}`);
    }
    this.addresses.push(...bound);
    return bound;
  }

  #bindOne(addr: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.grpc.bindAsync(addr, grpcJs().ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(new Error(`cannot listen on ${addr}: ${err.message}`)) : resolve(port),
      );
    });
  }

  /** Health NOT_SERVING, then let in-flight calls finish up to `timeoutMs`, then force. */
  async drain(timeoutMs: number): Promise<void> {
    this.health.drain();
    const companions = Promise.all(this.#companions.map((c) => c.drain(timeoutMs)));
    const g = this.#grpc;
    if (g)
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          g.forceShutdown();
          resolve();
        }, timeoutMs);
        t.unref();
        g.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
    await companions;
    for (const s of this.#sockets) rmSync(s, { force: true });
  }

  /** Immediate stop (tests: "authz server gone"). */
  kill(): void {
    for (const c of this.#companions) c.kill();
    this.#grpc?.forceShutdown();
    for (const s of this.#sockets) rmSync(s, { force: true });
  }
}

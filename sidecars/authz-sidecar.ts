/**
 * Composes the ext_authz sidecar from a validated config: policy store (hot reload), catalog,
 * rate counters, decision cache, audit sink, gRPC server. `main` owns signals; this owns wiring.
 */
import { createWriteStream, readFileSync } from "node:fs";
import type { Writable } from "node:stream";
import { DecisionCache, DEFAULT_CATALOG, PolicyStore, RateCounter, ServiceCatalog } from "../filters/authz/index.ts";
import { JsonLinesAudit, type AuditSink } from "./authz/audit.ts";
import { AuthzPipeline } from "./authz/pipeline.ts";
import { addAuthzService } from "./authz/service.ts";
import type { SidecarConfig } from "./config.ts";
import type { Logger } from "./logger.ts";
import { SidecarServer } from "./server.ts";
import { parse as parseYaml } from "yaml";

export const AUTHZ_HEALTH_SERVICE = "envoy.service.auth.v3.Authorization";

export interface RunningSidecar {
  server: SidecarServer;
  store?: PolicyStore;
  pipeline?: AuthzPipeline;
  addresses: string[];
  stop(drainMs?: number): Promise<void>;
}

export interface SidecarDeps {
  logger: Logger;
  /** Where audit lines go; default from config (stdout / stderr / file). */
  audit?: AuditSink;
  now?: () => number;
}

function openAudit(path: string): Writable {
  if (path === "stdout") return process.stdout;
  if (path === "stderr") return process.stderr;
  return createWriteStream(path, { flags: "a" });
}

export async function startSidecar(cfg: SidecarConfig, deps: SidecarDeps): Promise<RunningSidecar> {
  const server = new SidecarServer();
  server.health.set("", "NOT_SERVING");
  let store: PolicyStore | undefined;
  let pipeline: AuthzPipeline | undefined;

  if (cfg.authz) {
    const a = cfg.authz;
    store = await PolicyStore.open(a.bundlePath, {
      logger: deps.logger,
      pollMs: a.bundlePollMs,
      strict: a.strictSignatures,
      ...(a.verificationKeys.length
        ? {
            verification: {
              keys: Object.fromEntries(
                a.verificationKeys.map((k) => [k.keyId, { key: k.key, algorithm: k.algorithm }]),
              ),
            },
          }
        : {}),
    });
    store.watch();
    const catalog = ServiceCatalog.compile(
      a.catalogPath ? (parseYaml(readFileSync(a.catalogPath, "utf8")) as never) : DEFAULT_CATALOG,
    );
    const cache = new DecisionCache({ max: a.decisionCache.maxEntries, ttlMs: a.decisionCache.ttlMs });
    store.onSwap(() => cache.clear());
    pipeline = new AuthzPipeline({
      trustDomains: cfg.trustDomains,
      policy: store,
      catalog,
      rate: new RateCounter(),
      cache,
      audit: deps.audit ?? new JsonLinesAudit(openAudit(cfg.audit.path)),
      ...(deps.now ? { now: deps.now } : {}),
    });
    addAuthzService(server.grpc, pipeline);
    await server.bind(a.listen);
    server.health.set(AUTHZ_HEALTH_SERVICE, "SERVING");
  }
  server.health.set("", "SERVING");
  deps.logger.info({
    event: "sidecar_started",
    addresses: server.addresses,
    policy_revision: store?.current()?.revision ?? null,
  });

  return {
    server,
    ...(store ? { store } : {}),
    ...(pipeline ? { pipeline } : {}),
    addresses: server.addresses,
    async stop(drainMs = cfg.drainTimeoutMs) {
      store?.close();
      await server.drain(drainMs);
      deps.logger.info({ event: "sidecar_stopped" });
    },
  };
}

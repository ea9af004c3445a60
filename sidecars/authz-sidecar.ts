/**
 * Composes the ext_authz sidecar from a validated config: policy store (hot reload), catalog,
 * rate counters, decision cache, audit sink, gRPC server, and — with `workload_api` — the SPIFFE
 * Workload API client that feeds our mTLS listener's SVID (rotated in place) and the JWT-SVID verifier's
 * bundles. `main` owns signals; this owns wiring.
 */
import { createWriteStream, readFileSync } from "node:fs";
import type { Writable } from "node:stream";
import type * as grpc from "@grpc/grpc-js";
import { HexrError } from "../filters/errors.ts";
import { DecisionCache, DEFAULT_CATALOG, PolicyStore, RateCounter, ServiceCatalog } from "../filters/authz/index.ts";
import { JsonLinesAudit, type AuditSink } from "./authz/audit.ts";
import type { buildCredentialStage } from "./authz/credentials-setup.ts";
import type { A2aInboundStage } from "./a2a/inbound.ts";
import type { createRedis } from "./redis.ts";
import { AuthzPipeline } from "./authz/pipeline.ts";
import { H2CheckServer } from "./authz/h2-server.ts";
import { addAuthzService } from "./authz/service.ts";
import type { GuardStats } from "./extproc/guard-processor.ts";
import { ExtProcThread } from "./extproc/thread.ts";
import type { SidecarConfig, WorkloadApiConfig } from "./config.ts";
import type { Logger } from "./logger.ts";
import { SidecarServer } from "./server.ts";
import { parse as parseYaml } from "yaml";
import type { WorkloadApiClient, WorkloadSnapshot } from "./workload-api/client.ts";
import { WorkloadJwtSvidVerifier } from "./workload-api/jwt-svid.ts";
import { SvidCertificateProvider, svidServerCredentials } from "./workload-api/tls.ts";
import { AdminServer } from "./telemetry/admin.ts";
import { AuthzTelemetry } from "./telemetry/authz.ts";
import {
  authzMetrics,
  type IdentityMetrics,
  identityMetrics,
  processMetrics,
  telemetryMetrics,
} from "../filters/telemetry/catalog.ts";
import { Registry } from "../filters/telemetry/metrics.ts";
import type { Tracing } from "./telemetry/tracing.ts";

export const AUTHZ_HEALTH_SERVICE = "envoy.service.auth.v3.Authorization";
export const EXT_PROC_HEALTH_SERVICE = "envoy.service.ext_proc.v3.ExternalProcessor";

export interface RunningSidecar {
  server: SidecarServer;
  store?: PolicyStore;
  pipeline?: AuthzPipeline;
  /** The LLM guard (with `ext_proc`): its counters, and in thread mode the thread itself. */
  guard?: { readonly stats: GuardStats };
  /** The ext_proc worker thread (isolation: thread, the default). */
  extProcThread?: ExtProcThread;
  addresses: string[];
  /** The Workload API client (with `workload_api`). */
  workloadApi?: WorkloadApiClient;
  /** The SVID the mTLS listener presents: `svid` (current, undefined once expired) and `rotations`. */
  serverIdentity?: SvidCertificateProvider;
  /** The JWT-SVID verifier (with `authz.jwt_svid`); `ready` once JWT bundles arrived. */
  jwtSvid?: WorkloadJwtSvidVerifier;
  /** This thread's metrics (the guard thread keeps its own; the admin listener serves both). */
  registry: Registry;
  /** The admin listener (with `telemetry.admin.listen`): `/metrics`, `/ready`. */
  admin?: AdminServer;
  /** The tracer (with `telemetry.tracing`). */
  tracing?: Tracing;
  stop(drainMs?: number): Promise<void>;
}

export interface SidecarDeps {
  logger: Logger;
  /** Where audit lines go; default from config (stdout / stderr / file). */
  audit?: AuditSink;
  /** Policy clock; default Date.now. JWT-SVID expiry always uses the wall clock. */
  now?: () => number;
  /** Use this Workload API client instead of opening one from `workload_api.socket` (not closed on stop). */
  workloadApi?: WorkloadApiClient;
}

function openAudit(path: string): Writable {
  if (path === "stdout") return process.stdout;
  if (path === "stderr") return process.stderr;
  return createWriteStream(path, { flags: "a" });
}

function servedSvid(s: WorkloadSnapshot, id: string | undefined) {
  return id === undefined ? s.svids[0] : s.svids.find((v) => v.spiffeId === id);
}

/**
 * Opens (or adopts) the Workload API client and logs what it receives: IDs, serials, expiry, never keys.
 * The metrics read each SVID's expiry at scrape time.
 */
async function openWorkloadApi(
  cfg: WorkloadApiConfig,
  deps: SidecarDeps,
  m: IdentityMetrics,
): Promise<{ client: WorkloadApiClient; owned: boolean }> {
  // the client (and grpc-js with it) is loaded only for a sidecar that talks to the Workload API
  const client =
    deps.workloadApi ?? new (await import("./workload-api/client.ts")).WorkloadApiClient({ socketPath: cfg.socket });
  m.svidExpiry.collect = () => {
    m.svidExpiry.clear();
    for (const v of client.current().svids) m.svidExpiry.labels(v.spiffeId).set(v.expiresAt.getTime() / 1000);
  };
  let serial = "";
  const logSvid = (s: WorkloadSnapshot) => {
    const svid = servedSvid(s, cfg.svid);
    if (!svid || svid.serialNumber === serial) return;
    if (serial !== "") m.svidRotations.labels().inc();
    serial = svid.serialNumber;
    deps.logger.info({
      event: "svid_updated",
      spiffe_id: svid.spiffeId,
      serial: svid.serialNumber,
      expires_at: svid.expiresAt.toISOString(),
    });
  };
  client.onX509Update(logSvid);
  logSvid(client.current());
  client.onError((e) => {
    m.workloadApiErrors.labels(e.code).inc();
    deps.logger.warn({ event: "workload_api_error", code: e.code, error: e.message });
  });
  return { client, owned: deps.workloadApi === undefined };
}

/** Resolves once the agent serves the SVID our listener is configured to present. */
async function waitForServedSvid(client: WorkloadApiClient, cfg: WorkloadApiConfig): Promise<void> {
  await client.ready({ timeoutMs: cfg.readyTimeoutMs });
  if (servedSvid(client.current(), cfg.svid)) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(
        new HexrError(
          "config.svid_missing",
          `workload_api.svid ${cfg.svid} was not issued to this process within ${cfg.readyTimeoutMs} ms`,
        ),
      );
    }, cfg.readyTimeoutMs);
    const off = client.onX509Update((s) => {
      if (!servedSvid(s, cfg.svid)) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

function bindTls(server: SidecarServer, addr: string, creds: grpc.ServerCredentials): Promise<string> {
  return new Promise((resolve, reject) => {
    server.grpc.bindAsync(addr, creds, (err, port) => {
      if (err) return reject(new Error(`cannot listen on ${addr}: ${err.message}`));
      const bound = `${addr.slice(0, addr.lastIndexOf(":"))}:${port}`;
      server.addresses.push(bound);
      resolve(bound);
    });
  });
}

async function sharedRate(redis: ReturnType<typeof createRedis>, log: Logger) {
  const { defineSharedRate, SharedRateCounter } = await import("../filters/authz/shared-rate.ts");
  return new SharedRateCounter({ store: defineSharedRate(redis), log });
}

export async function startSidecar(cfg: SidecarConfig, deps: SidecarDeps): Promise<RunningSidecar> {
  const server = new SidecarServer();
  server.health.set("", "NOT_SERVING");
  let store: PolicyStore | undefined;
  let audit: AuditSink | undefined;
  let pipeline: AuthzPipeline | undefined;
  let serverIdentity: SvidCertificateProvider | undefined;
  let jwtSvid: WorkloadJwtSvidVerifier | undefined;
  let redis: ReturnType<typeof createRedis> | undefined;
  let credentials: ReturnType<typeof buildCredentialStage> | undefined;
  const registry = new Registry();
  processMetrics(registry);
  const idMetrics = identityMetrics(registry);
  const tel = cfg.telemetry;
  // loaded only when configured: a sidecar without tracing never loads the OpenTelemetry SDK
  const tracing = tel.tracing
    ? (await import("./telemetry/tracing.ts")).Tracing.start(tel.tracing, telemetryMetrics(registry))
    : undefined;
  const wl = cfg.workloadApi ? await openWorkloadApi(cfg.workloadApi, deps, idMetrics) : undefined;

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
    const am = authzMetrics(registry, { agentLabels: tel.agentLabels });
    const showRevision = () => {
      const p = store?.current();
      am.policyRevision.clear();
      if (p) am.policyRevision.labels(p.revision).set(1);
      am.policyLoadedAt.labels().set(Date.now() / 1000);
    };
    showRevision();
    store.onSwap(() => {
      am.policyReloads.labels("ok").inc();
      showRevision();
    });
    store.onReject(() => am.policyReloads.labels("failed").inc());
    const catalog = ServiceCatalog.compile(
      a.catalogPath ? (parseYaml(readFileSync(a.catalogPath, "utf8")) as never) : DEFAULT_CATALOG,
    );
    const cache =
      a.decisionCache.maxEntries > 0
        ? new DecisionCache({ max: a.decisionCache.maxEntries, ttlMs: a.decisionCache.ttlMs })
        : undefined;
    store.onSwap(() => cache?.clear());
    // optional parts are loaded only when configured: a sidecar without them never holds their modules
    redis = cfg.redis ? (await import("./redis.ts")).createRedis(cfg.redis, deps.logger) : undefined;
    if (cfg.credentials) {
      const { buildCredentialStage } = await import("./authz/credentials-setup.ts");
      credentials = buildCredentialStage(cfg.credentials, {
        ...(redis ? { redis } : {}),
        metrics: am,
        logger: deps.logger,
      });
    }
    if (a.jwtSvid && wl) {
      jwtSvid = new WorkloadJwtSvidVerifier(wl.client, {
        // a JWT-SVID for a credential provider's audience may identify the caller too (then it is exchanged)
        audiences: [...new Set([...a.jwtSvid.audiences, ...(credentials?.stage.presentedAudiences() ?? [])])],
        trustDomains: cfg.trustDomains,
        clockSkewSeconds: a.jwtSvid.clockSkewSeconds,
        maxLifetimeSeconds: a.jwtSvid.maxLifetimeSeconds,
        onBundles: (u) => {
          idMetrics.jwtBundleUpdates.labels().inc();
          deps.logger.info({
            event: "jwt_bundles_updated",
            trust_domains: u.trustDomains,
            keys: u.keys,
            skipped: u.skipped,
          });
        },
      });
    }
    let a2a: A2aInboundStage | undefined;
    if (cfg.a2a) {
      const c = cfg.a2a;
      const [{ A2aInboundStage }, { ChainSigner }, { loadA2aSchemas }] = await Promise.all([
        import("./a2a/inbound.ts"),
        import("./a2a/chain-signer.ts"),
        import("../filters/a2a/validate.ts"),
      ]);
      a2a = new A2aInboundStage({
        target: c.target,
        ...(c.restBase ? { restBase: c.restBase } : {}),
        ...(c.limits ? { limits: c.limits } : {}),
        ...(c.jsonrpcPath ? { jsonrpcPath: c.jsonrpcPath } : {}),
        ...(c.allowGrpc ? { allowGrpc: true } : {}),
        schemas: loadA2aSchemas(c.schemasDir),
        ...(c.chain && wl
          ? {
              chains: new ChainSigner(wl.client, {
                trustDomains: cfg.trustDomains,
                signers: c.chain.signers,
                maxDepth: c.chain.maxDepth,
                ttlSeconds: c.chain.ttlSeconds,
                maxLifetimeSeconds: c.chain.ttlSeconds,
                ...(cfg.workloadApi?.svid ? { spiffeId: cfg.workloadApi.svid } : {}),
              }),
            }
          : {}),
      });
    }
    audit = deps.audit ?? new JsonLinesAudit(openAudit(cfg.audit.path));
    pipeline = new AuthzPipeline({
      trustDomains: cfg.trustDomains,
      policy: store,
      catalog,
      rate: cfg.rate.shared && redis ? await sharedRate(redis, deps.logger) : new RateCounter(),
      ...(cache ? { cache } : {}),
      audit,
      telemetry: new AuthzTelemetry(am, tracing, { agentLabels: tel.agentLabels, decisionCache: cache !== undefined }),
      ...(jwtSvid ? { jwtSvid } : {}),
      ...(credentials ? { credentials: credentials.stage } : {}),
      ...(a2a ? { a2a } : {}),
      ...(deps.now ? { now: deps.now } : {}),
    });
    const mtls = a.listen.mtls;
    if (a.listen.server === "http2" && a.listen.socket) {
      // Check (and health) on plain node:http2: the socket is not bound by the grpc-js server
      const h2 = new H2CheckServer(pipeline, server.health, { logger: deps.logger });
      await h2.listen(a.listen.socket);
      server.attach(h2, `unix:${a.listen.socket}`);
    } else if (mtls && a.listen.tcp && wl && cfg.workloadApi) {
      addAuthzService(server.grpc, pipeline, { allowedClients: mtls.allowedClients });
      if (a.listen.socket) await server.bind({ socket: a.listen.socket });
      await waitForServedSvid(wl.client, cfg.workloadApi);
      serverIdentity = new SvidCertificateProvider(wl.client, {
        ...(cfg.workloadApi.svid ? { spiffeId: cfg.workloadApi.svid } : {}),
        trustDomains: [...cfg.trustDomains],
      });
      await bindTls(server, a.listen.tcp, svidServerCredentials(serverIdentity));
    } else {
      addAuthzService(server.grpc, pipeline, mtls ? { allowedClients: mtls.allowedClients } : {});
      await server.bind(a.listen);
    }
    server.health.set(AUTHZ_HEALTH_SERVICE, "SERVING");
  }
  let guard: { readonly stats: GuardStats } | undefined;
  let extProcThread: ExtProcThread | undefined;
  if (cfg.extProc) {
    const e = cfg.extProc;
    const l = e.listen;
    const have = new Set(server.addresses);
    const shared = (l.socket !== undefined && have.has(`unix:${l.socket}`)) || (l.tcp !== undefined && have.has(l.tcp));
    if (e.isolation === "thread" && !shared) {
      // the guard on its own event loop: no body it parses or scans can queue an authorization answer
      extProcThread = await ExtProcThread.start(
        {
          listen: l,
          routes: e.routesRaw,
          maxStreams: e.maxStreams,
          heapMb: e.heapMb,
          telemetry: {
            ...(tel.tracing ? { tracing: tel.tracing } : {}),
            prices: tel.prices.map((p) => [p.model, p.input, p.output] as const),
          },
          ...(cfg.a2a
            ? {
                a2a: {
                  ...(cfg.a2a.schemasDir ? { schemasDir: cfg.a2a.schemasDir } : {}),
                  ...(cfg.a2a.publicUrl ? { publicUrl: cfg.a2a.publicUrl } : {}),
                },
              }
            : {}),
        },
        deps.logger,
      );
      server.addresses.push(...extProcThread.addresses);
      guard = extProcThread;
    } else {
      if (e.isolation === "thread") {
        deps.logger.warn({ event: "ext_proc_inline", reason: "ext_proc shares the authz listener; guard runs inline" });
      }
      // loaded only here: with the guard on its thread, this thread never loads the scanners
      const { GuardRouter } = await import("./extproc/router.ts");
      const router = new GuardRouter(
        e.routes,
        deps.logger,
        cfg.a2a ? (await import("./extproc/a2a-processor.ts")).a2aProcessors(cfg.a2a) : undefined,
      );
      const [{ addExtProcService, ExtProcStreams }, { GuardTelemetry }, { guardMetrics }] = await Promise.all([
        import("./extproc/server.ts"),
        import("./telemetry/guard.ts"),
        import("../filters/telemetry/catalog.ts"),
      ]);
      const gt = new GuardTelemetry(
        guardMetrics(registry),
        tracing,
        new Map(tel.prices.map((p) => [p.model, { input: p.input, output: p.output }])),
      );
      addExtProcService(server.grpc, new ExtProcStreams(router, deps.logger, undefined, undefined, gt));
      await server.bind({
        ...(l.socket && !have.has(`unix:${l.socket}`) ? { socket: l.socket } : {}),
        ...(l.tcp && !have.has(l.tcp) ? { tcp: l.tcp } : {}),
      });
      guard = router;
    }
    server.health.set(EXT_PROC_HEALTH_SERVICE, "SERVING");
  }
  let serving = true;
  const admin = tel.adminListen
    ? await AdminServer.start(tel.adminListen, {
        registry,
        extra: extProcThread ? [() => (extProcThread as ExtProcThread).metrics()] : [],
        ready: () => serving,
      })
    : undefined;
  server.health.set("", "SERVING");
  deps.logger.info({
    event: "sidecar_started",
    addresses: server.addresses,
    ...(admin ? { admin: admin.address } : {}),
    policy_revision: store?.current()?.revision ?? null,
  });

  return {
    server,
    ...(store ? { store } : {}),
    ...(pipeline ? { pipeline } : {}),
    ...(guard ? { guard } : {}),
    ...(extProcThread ? { extProcThread } : {}),
    ...(wl ? { workloadApi: wl.client } : {}),
    ...(serverIdentity ? { serverIdentity } : {}),
    ...(jwtSvid ? { jwtSvid } : {}),
    registry,
    ...(admin ? { admin } : {}),
    ...(tracing ? { tracing } : {}),
    addresses: server.addresses,
    async stop(drainMs = cfg.drainTimeoutMs) {
      serving = false;
      store?.close();
      jwtSvid?.close();
      await Promise.all([server.drain(drainMs), extProcThread?.stop(drainMs)]);
      audit?.flush?.();
      await admin?.close();
      await tracing?.shutdown().catch(() => undefined);
      credentials?.close();
      redis?.disconnect();
      if (wl?.owned) wl.client.close();
      deps.logger.info({ event: "sidecar_stopped" });
    },
  };
}

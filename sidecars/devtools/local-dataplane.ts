/**
 * A whole data plane on loopback: real Envoy (rendered bootstrap, outbound listener, ext_authz), the authz
 * sidecar in this process, and a sample upstream that records what reached it. Used by `hexr demo` and the
 * integration tests. Two identity modes:
 *
 *  - `dev-ca` (default): a CA made here; Envoy's certificate and key are PEM files in a temp dir; clients
 *    get certificates with whatever URI SANs a test needs (including ones SPIRE would never issue).
 *  - `spire`: a real SPIRE server and agent (see `spire.ts`). Envoy is a workload of the agent (entry with
 *    selectors `unix:uid` + `unix:path` of the Envoy binary) and takes its SVID and trust bundle over SDS;
 *    the sidecar serves ext_authz over TCP with mTLS on its own SVID and verifies JWT-SVIDs with the agent's
 *    JWT bundles; in-process clients get SVIDs through the Workload API (several entries with this process's
 *    selectors: the agent returns every SVID that matches). No certificate or key file exists in this mode.
 *
 * @example
 *   const dp = await startLocalDataPlane({ identity: "spire", bundlePath, logger, identities: [RESEARCHER] });
 *   const r = await dp.send(await dp.identity([RESEARCHER]), { host: "bigquery.googleapis.com", path: "/" });
 *   await dp.stop();
 */
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { findEnvoy, renderSidecarBootstrap, type SidecarEnvoyOptions } from "../../envoy-config/index.ts";
import { type RunningEnvoy, startEnvoy, waitFor } from "../../envoy-config/runner.ts";
import type { AuditSink } from "../authz/audit.ts";
import { type RunningSidecar, startSidecar } from "../authz-sidecar.ts";
import { parseConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { WorkloadApiClient, type WorkloadSnapshot } from "../workload-api/client.ts";
import { type ClientIdentity, type Reply, request } from "./client.ts";
import { type TestCa as DevCa, makeCa, makeLeaf } from "./dev-ca.ts";
import { type EntrySpec, type SpireHarness, startSpire, type WorkloadProcess } from "./spire.ts";
import { type LlmUpstream, startLlmUpstream } from "./llm-upstream.ts";
import { startUpstream, type Upstream } from "./upstream.ts";
import {
  type SvidReply,
  svidRequest,
  WORKLOAD_SCRIPT,
  type WorkloadScriptInput,
  type WorkloadScriptOutput,
} from "./workload.ts";

export const LOCAL_TRUST_DOMAIN = "hexr.cloud";
/** Audience the local sidecar accepts on JWT-SVIDs (SPIRE mode). */
export const LOCAL_JWT_AUDIENCE = "hexr-authz";
/** Leeway for JWT-SVID exp/nbf in the local sidecar. */
export const LOCAL_JWT_CLOCK_SKEW_SECONDS = 5;
const SDS_RETRY_BACKOFF = { baseMs: 100, maxMs: 1_000 };
const READY_TIMEOUT_MS = 30_000;
const CHILD_TIMEOUT_MS = 30_000;

/** Hosts the local Envoy routes to the sample upstream (stand-ins for the real APIs). */
export const LOCAL_UPSTREAM_DOMAINS = [
  "bigquery.googleapis.com",
  "storage.googleapis.com",
  "s3.amazonaws.com",
  "*.s3.amazonaws.com",
  "*.blob.core.windows.net",
];

/** LLM provider hosts, routed to a local OpenAI/Anthropic-compatible upstream through the guard (ext_proc). */
export const LOCAL_LLM_DOMAINS = ["api.openai.com", "api.anthropic.com"];

/** A further Envoy upstream (e.g. a real S3 for credential tests); its domains win over the sample upstream's. */
export interface ExtraUpstream {
  readonly name: string;
  readonly domains: readonly string[];
  readonly address: string;
  readonly port: number;
  /** Another agent's inbound listener: mTLS checking its SPIFFE ID, the A2A policy, a chain link. */
  readonly a2aTarget?: string;
}

/** Envoy upstreams of the local data plane: cloud APIs skip ext_proc; LLM routes go through the guard. */
function localUpstreams(upstream: Upstream, llm: LlmUpstream, extra: readonly ExtraUpstream[] = []) {
  return [
    ...extra.map((u) => ({
      name: u.name,
      domains: [...u.domains],
      address: u.address,
      port: u.port,
      extProc: "off" as const,
      ...(u.a2aTarget
        ? {
            a2aTarget: u.a2aTarget,
            tls: { mode: "spiffe" as const, peerIdPrefixes: [u.a2aTarget] },
            authzBodyBytes: 1 << 20,
          }
        : {}),
    })),
    {
      name: "sample_upstream",
      domains: LOCAL_UPSTREAM_DOMAINS,
      address: "127.0.0.1",
      port: upstream.port,
      extProc: "off" as const,
    },
    { name: "llm_upstream", domains: LOCAL_LLM_DOMAINS, address: "127.0.0.1", port: llm.port },
  ];
}

/** Envoy's SPIFFE ID in SPIRE mode. */
export function localEnvoyId(td = LOCAL_TRUST_DOMAIN): string {
  return `spiffe://${td}/hexr/envoy`;
}

/** The authz sidecar's SPIFFE ID in SPIRE mode. */
export function localAuthzId(td = LOCAL_TRUST_DOMAIN): string {
  return `spiffe://${td}/hexr/authz`;
}

export interface LocalDataPlaneOptions {
  bundlePath: string;
  trustDomain?: string;
  logger: Logger;
  audit?: AuditSink;
  bundlePollMs?: number;
  authzTimeoutMs?: number;
  /** The sidecar's clock (policy time facts); default Date.now. */
  now?: () => number;
  /** `dev-ca` (default) or `spire`; see the module comment. */
  identity?: "dev-ca" | "spire";
  /** Envoy's downstream connection lifetime cap (`http.maxConnectionDurationMs`); default Envoy's template default. */
  maxConnectionDurationMs?: number;
  /** Metrics on an admin listener (127.0.0.1, a free port) and, with `otlpPort`, traces from Envoy and the sidecar. */
  telemetry?: { otlpPort?: number; samplingRatio?: number };
  /** More top-level sidecar config sections (`redis`, `rate`, `credentials`), merged into the generated config. */
  sidecarConfig?: Record<string, unknown>;
  /** What serves Check on the authz socket (`authz.listen.server`); default the sidecar's default. */
  authzServer?: "grpc-js" | "http2";
  extraUpstreams?: readonly ExtraUpstream[];
}

/** The sidecar's `telemetry` config section and Envoy's tracing options for {@link LocalDataPlaneOptions.telemetry}. */
function localTelemetry(t: LocalDataPlaneOptions["telemetry"]): { sidecar: object; envoy: object } {
  if (!t) return { sidecar: {}, envoy: {} };
  return {
    sidecar: {
      telemetry: {
        admin: { listen: "127.0.0.1:0" },
        llm_prices: { "gpt-4o-mini": { input_per_million: 0.15, output_per_million: 0.6 } },
        ...(t.otlpPort
          ? {
              tracing: {
                endpoint: `http://127.0.0.1:${t.otlpPort}`,
                sampling_ratio: t.samplingRatio ?? 1,
                flush_interval_ms: 200,
              },
            }
          : {}),
      },
    },
    envoy: t.otlpPort
      ? { tracing: { collector: { address: "127.0.0.1", port: t.otlpPort }, flushIntervalMs: 200 } }
      : {},
  };
}

export interface SpireDataPlaneOptions extends LocalDataPlaneOptions {
  identity: "spire";
  /** Use this SPIRE (it must run `trustDomain`); it is left running on stop. Default: start one. */
  spire?: SpireHarness;
  /** X.509-SVID TTL (seconds) of the entries this data plane registers (Envoy, sidecar, identities). */
  svidTtlSeconds?: number;
  /** Agent SPIFFE IDs to register for this process at start (this uid + this Node binary). */
  identities?: readonly string[];
  /** Default {@link LOCAL_JWT_AUDIENCE}. */
  jwtAudience?: string;
  /** Default {@link LOCAL_JWT_CLOCK_SKEW_SECONDS}. */
  jwtClockSkewSeconds?: number;
  /**
   * The SPIFFE ID Envoy takes over SDS and presents (default {@link localEnvoyId}). Beside an agent pod it is
   * the agent's own ID, so an inbound A2A call's mTLS peer is the calling agent.
   */
  envoyId?: string;
  /** An inbound (agent-to-agent) listener in front of a local agent on 127.0.0.1:`appPort`. */
  inbound?: { appPort: number; authzBodyBytes?: number; port?: number; a2aExtProc?: boolean };
  /** The sidecar's own SPIFFE ID (default {@link localAuthzId}); two data planes on one SPIRE need two. */
  authzId?: string;
}

export interface LocalDataPlane {
  mode: "dev-ca" | "spire";
  dir: string;
  /** Dev-CA mode: the CA Envoy trusts. SPIRE mode: a CA Envoy does not trust (for negative cases). */
  ca: DevCa;
  envoy: RunningEnvoy;
  sidecar: RunningSidecar;
  upstream: Upstream;
  /** The OpenAI/Anthropic-compatible upstream behind the guard; set `llm.reply` to script the model. */
  llm: LlmUpstream;
  /** Where Envoy reaches ext_authz: `unix:/…` (dev-CA) or `127.0.0.1:<port>` with mTLS (SPIRE). */
  authzAddress: string;
  outboundPort: number;
  /**
   * Dev-CA mode: a certificate from the dev CA with these URI SANs (none → no SPIFFE SAN).
   * SPIRE mode: the X.509-SVID for `uris[0]`, registered for this process if needed, following rotations.
   */
  identity(uris: string[], dns?: string[]): Promise<ClientIdentity>;
  /** No client certificate at all (SPIRE mode: sent to the JWT-SVID listener). */
  anonymous(): ClientIdentity;
  send(
    id: ClientIdentity,
    req: { method?: string; host: string; path: string; headers?: Record<string, string>; body?: string },
  ): Promise<Reply>;
  stop(): Promise<void>;
}

export type SendRequest = Parameters<LocalDataPlane["send"]>[1];

export interface SpireDataPlane extends LocalDataPlane {
  mode: "spire";
  /** Envoy's `outbound_jwt` listener (no client certificate; a JWT-SVID is required). `send` uses it for clients without a certificate. */
  jwtPort: number;
  /** The inbound listener's port (with `inbound`). */
  inboundPort?: number;
  spire: SpireHarness;
  /** This process's Workload API client (shared with the sidecar). */
  workloadApi: WorkloadApiClient;
  envoyId: string;
  authzId: string;
  /** Real path of the Envoy binary (its `unix:path` selector). */
  envoyPath: string;
  jwtAudience: string;
  /** Registers agent SPIFFE IDs for this process and waits until the agent serves all of them. */
  register(ids: readonly string[], opts?: Pick<EntrySpec, "ttl" | "jwtTtl">): Promise<void>;
  /** A JWT-SVID minted by the agent for `spiffeId` (registered for this process) and `audience`. */
  jwtSvid(spiffeId: string, audience?: string | readonly string[]): Promise<string>;
  /** A dev-CA certificate with any SANs: well-formed, but not issued by SPIRE, so Envoy refuses it. */
  untrustedIdentity(uris: string[], dns?: string[]): Promise<ClientIdentity>;
  send(id: ClientIdentity, req: SendRequest): Promise<SvidReply>;
  /** Like `send`, but never checks Envoy's certificate (to see how Envoy treats a client, e.g. an expired SVID). */
  sendUnverified(id: ClientIdentity, req: SendRequest): Promise<SvidReply>;
  /**
   * Sends `req` from a separate workload process `as` (another uid or executable) that fetches its own SVID
   * from the agent (`want`: wait for that ID) and presents it to Envoy.
   */
  sendAs(as: WorkloadProcess, req: SendRequest, opts?: { want?: string }): Promise<WorkloadScriptOutput>;
}

export function startLocalDataPlane(opts: SpireDataPlaneOptions): Promise<SpireDataPlane>;
export function startLocalDataPlane(opts: LocalDataPlaneOptions): Promise<LocalDataPlane>;
export function startLocalDataPlane(opts: LocalDataPlaneOptions | SpireDataPlaneOptions): Promise<LocalDataPlane> {
  return opts.identity === "spire" ? startSpireDataPlane(opts as SpireDataPlaneOptions) : startDevCaDataPlane(opts);
}

/** Closes everything started so far, in reverse order, when start-up fails half way. */
class Cleanup {
  readonly #steps: Array<() => Promise<unknown> | unknown> = [];
  add(step: () => Promise<unknown> | unknown): void {
    this.#steps.unshift(step);
  }
  async run(): Promise<void> {
    for (const s of this.#steps)
      await Promise.resolve()
        .then(s)
        .catch(() => undefined);
  }
}

/** One keep-alive connection pool per client identity, like an agent's HTTP client. */
class AgentPool {
  readonly #agents = new Map<ClientIdentity, https.Agent>();
  get(id: ClientIdentity): https.Agent {
    let agent = this.#agents.get(id);
    if (!agent) {
      agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
      this.#agents.set(id, agent);
    }
    return agent;
  }
  destroy(): void {
    for (const a of this.#agents.values()) a.destroy();
  }
}

async function startDevCaDataPlane(opts: LocalDataPlaneOptions): Promise<LocalDataPlane> {
  const td = opts.trustDomain ?? LOCAL_TRUST_DOMAIN;
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-dp-"));
  const cleanup = new Cleanup();
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const ca = await makeCa("hexr-dev-ca");
    const envoyLeaf = await makeLeaf(ca, { uris: [`spiffe://${td}/sidecar/envoy`], dns: ["envoy.hexr.test"] });
    const files = {
      ca: path.join(dir, "ca.pem"),
      cert: path.join(dir, "envoy.pem"),
      key: path.join(dir, "envoy-key.pem"),
    };
    writeFileSync(files.ca, ca.certPem);
    writeFileSync(files.cert, envoyLeaf.certPem);
    writeFileSync(files.key, envoyLeaf.keyPem, { mode: 0o600 });

    const upstream = await startUpstream();
    cleanup.add(() => upstream.close());
    const llm = await startLlmUpstream();
    cleanup.add(() => llm.close());
    const telemetry = localTelemetry(opts.telemetry);
    const authzSocket = path.join(dir, "authz.sock");
    const procSocket = path.join(dir, "ext-proc.sock");
    const cfg = parseConfig(
      JSON.stringify({
        trust_domains: [td],
        authz: {
          listen: {
            socket: authzSocket,
            ...(opts.authzServer ? { server: opts.authzServer } : {}),
          },
          bundle: opts.bundlePath,
          bundle_poll_ms: opts.bundlePollMs ?? 200,
        },
        ext_proc: { listen: { socket: procSocket } },
        audit: { path: "stderr" },
        ...telemetry.sidecar,
        ...opts.sidecarConfig,
      }),
      path.join(dir, "hexr.yaml"),
    );
    const sidecar = await startSidecar(cfg, {
      logger: opts.logger,
      ...(opts.audit ? { audit: opts.audit } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    cleanup.add(() => sidecar.stop(0));

    const envoy = await startEnvoy(
      renderSidecarBootstrap({
        tls: { mode: "files", certChain: files.cert, privateKey: files.key, clientCa: files.ca },
        outbound: { address: "127.0.0.1", port: 0 },
        authz: { socket: authzSocket, timeoutMs: opts.authzTimeoutMs ?? 1000 },
        extProc: { socket: procSocket },
        upstreams: localUpstreams(upstream, llm, opts.extraUpstreams),
        accessLog: false,
        ...(opts.maxConnectionDurationMs ? { http: { maxConnectionDurationMs: opts.maxConnectionDurationMs } } : {}),
        ...telemetry.envoy,
      }),
    );
    cleanup.add(() => envoy.stop());
    const outboundPort = envoy.ports.outbound;
    if (!outboundPort) throw new Error(`envoy has no 'outbound' listener: ${JSON.stringify(envoy.ports)}`);

    const pool = new AgentPool();
    cleanup.add(() => pool.destroy());
    const anonymous: ClientIdentity = { ca: ca.certPem };
    return {
      mode: "dev-ca",
      dir,
      ca,
      envoy,
      sidecar,
      upstream,
      llm,
      authzAddress: `unix:${authzSocket}`,
      outboundPort,
      async identity(uris, dns) {
        const leaf = await makeLeaf(ca, { uris, ...(dns ? { dns } : {}) });
        return { cert: leaf.certPem, key: leaf.keyPem, ca: ca.certPem };
      },
      anonymous: () => anonymous,
      send: (id, req) => request(outboundPort, id, { ...req, agent: pool.get(id) }),
      stop: () => cleanup.run(),
    };
  } catch (e) {
    await cleanup.run();
    throw e;
  }
}

function svidsServed(s: WorkloadSnapshot, ids: readonly string[]): boolean {
  return ids.every((id) => s.svids.some((v) => v.spiffeId === id));
}

/** Resolves once the snapshot satisfies `ok` (checked now and on every X.509 update). */
function untilX509(client: WorkloadApiClient, ok: (s: WorkloadSnapshot) => boolean, what: string): Promise<void> {
  if (ok(client.current())) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${READY_TIMEOUT_MS} ms waiting for ${what}`));
    }, READY_TIMEOUT_MS);
    const off = client.onX509Update((s) => {
      if (!ok(s)) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

async function startSpireDataPlane(opts: SpireDataPlaneOptions): Promise<SpireDataPlane> {
  const td = opts.trustDomain ?? LOCAL_TRUST_DOMAIN;
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-dp-"));
  const cleanup = new Cleanup();
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const spire = opts.spire ?? (await startSpire({ trustDomain: td, logLevel: "INFO" }));
    if (!opts.spire) cleanup.add(() => spire.stop());
    if (spire.trustDomain !== td) throw new TypeError(`spire runs ${spire.trustDomain}, not trustDomain ${td}`);
    const envoyId = opts.envoyId ?? localEnvoyId(td);
    const authzId = opts.authzId ?? localAuthzId(td);
    const envoyPath = realpathSync(findEnvoy());
    const uid = process.getuid?.() ?? 0;
    const self = [`unix:uid:${uid}`, `unix:path:${process.execPath}`];
    const ttl = opts.svidTtlSeconds === undefined ? {} : { ttl: opts.svidTtlSeconds };
    const jwtAudience = opts.jwtAudience ?? LOCAL_JWT_AUDIENCE;
    const registered = new Set<string>();

    const workloadApi = new WorkloadApiClient({ socketPath: spire.agentSocket, backoffMaxMs: 500 });
    cleanup.add(() => workloadApi.close());
    const register = async (ids: readonly string[], extra: Pick<EntrySpec, "ttl" | "jwtTtl"> = {}) => {
      const fresh = ids.filter((id) => !registered.has(id));
      await Promise.all(fresh.map((spiffeId) => spire.createEntry({ spiffeId, selectors: self, ...ttl, ...extra })));
      for (const id of fresh) registered.add(id);
      await untilX509(workloadApi, (s) => svidsServed(s, ids), `SVIDs ${ids.join(", ")} for this process`);
    };

    // Envoy is a workload of the agent like any other: matched by uid and the real path of its binary.
    await spire.createEntry({ spiffeId: envoyId, selectors: [`unix:uid:${uid}`, `unix:path:${envoyPath}`], ...ttl });
    await register([authzId, ...(opts.identities ?? [])]);

    const upstream = await startUpstream();
    cleanup.add(() => upstream.close());
    const llm = await startLlmUpstream();
    cleanup.add(() => llm.close());
    const telemetry = localTelemetry(opts.telemetry);
    const procSocket = path.join(dir, "ext-proc.sock");
    const cfg = parseConfig(
      JSON.stringify({
        trust_domains: [td],
        workload_api: { socket: spire.agentSocket, svid: authzId },
        authz: {
          listen: { tcp: "127.0.0.1:0", mtls: { allowed_clients: [envoyId] } },
          bundle: opts.bundlePath,
          bundle_poll_ms: opts.bundlePollMs ?? 200,
          jwt_svid: {
            audiences: [jwtAudience],
            clock_skew_seconds: opts.jwtClockSkewSeconds ?? LOCAL_JWT_CLOCK_SKEW_SECONDS,
          },
        },
        // the guard on a Unix socket in the pod's shared volume (plaintext; ext_authz uses mTLS over TCP)
        ext_proc: { listen: { socket: procSocket } },
        audit: { path: "stderr" },
        ...telemetry.sidecar,
        ...opts.sidecarConfig,
      }),
      path.join(dir, "hexr.yaml"),
    );
    const sidecar = await startSidecar(cfg, {
      logger: opts.logger,
      workloadApi,
      ...(opts.audit ? { audit: opts.audit } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    cleanup.add(() => sidecar.stop(0));
    const authzAddress = sidecar.addresses.find((a) => !a.startsWith("unix:"));
    if (!authzAddress) throw new Error(`sidecar has no TCP address: ${sidecar.addresses.join(", ")}`);
    const authzPort = Number(authzAddress.slice(authzAddress.lastIndexOf(":") + 1));

    const envoyOptions: SidecarEnvoyOptions = {
      tls: {
        mode: "spire",
        sdsSocket: spire.agentSocket,
        spiffeId: envoyId,
        trustDomain: td,
        sdsRetryBackoff: SDS_RETRY_BACKOFF,
      },
      outbound: { address: "127.0.0.1", port: 0 },
      // For agents that carry only a JWT-SVID: no client certificate, so ext_authz demands a valid JWT-SVID.
      outboundJwt: { address: "127.0.0.1", port: 0 },
      authz: {
        tcp: { address: "127.0.0.1", port: authzPort },
        tls: { serverIds: [authzId] },
        timeoutMs: opts.authzTimeoutMs ?? 1000,
      },
      extProc: { socket: procSocket },
      upstreams: localUpstreams(upstream, llm, opts.extraUpstreams),
      accessLog: false,
      ...telemetry.envoy,
      ...(opts.inbound
        ? {
            inbound: {
              address: "127.0.0.1",
              port: opts.inbound.port ?? 0,
              app: { address: "127.0.0.1", port: opts.inbound.appPort },
              ...(opts.inbound.authzBodyBytes ? { authzBodyBytes: opts.inbound.authzBodyBytes } : {}),
              // the A2A processor (ext_proc) reads the message and the answers; it asks for bodies itself
              ...(opts.inbound.a2aExtProc ? { extProc: { metadata: { "x-hexr-route": "a2a" } } } : {}),
            },
          }
        : {}),
    };
    const envoy = await startEnvoy(renderSidecarBootstrap(envoyOptions));
    cleanup.add(() => envoy.stop());
    const outboundPort = envoy.ports.outbound;
    const jwtPort = envoy.ports.outbound_jwt;
    if (!outboundPort || !jwtPort) throw new Error(`envoy lacks outbound listeners: ${JSON.stringify(envoy.ports)}`);
    // Readiness: Envoy holds its SVID from SDS, and the sidecar holds JWT bundles.
    await waitFor(
      "Envoy's SVID over SDS",
      async () => ((await (await fetch(`${envoy.adminUrl}/certs`)).text()).includes(envoyId) ? true : undefined),
      READY_TIMEOUT_MS,
    );
    await new Promise<void>((resolve, reject) => {
      const jwt = sidecar.jwtSvid;
      if (!jwt || jwt.ready) return resolve();
      const timer = setTimeout(() => reject(new Error("no JWT bundles from the agent")), READY_TIMEOUT_MS);
      const off = workloadApi.onJwtBundlesUpdate(() => {
        if (!jwt.ready) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });

    const ca = await makeCa("hexr-untrusted-ca");
    const bundle = () => workloadApi.current().x509Bundles.get(td)?.join("\n") ?? "";
    const svidFor = (id: string) => workloadApi.current().svids.find((s) => s.spiffeId === id);
    const pool = new AgentPool();
    cleanup.add(() => pool.destroy());
    // one object, so requests without a certificate share a keep-alive pool like any other client
    const anonymous: ClientIdentity = {
      get ca() {
        return bundle();
      },
    };
    const sendWith = (id: ClientIdentity, req: SendRequest, insecureSkipServerCheck: boolean) =>
      svidRequest({
        // a client with an X.509-SVID uses the mTLS listener; one without uses the JWT-SVID listener
        port: id.cert ? outboundPort : jwtPort,
        serverId: envoyId,
        ca: id.ca,
        ...(id.cert ? { cert: id.cert, key: id.key } : {}),
        ...req,
        agent: pool.get(id),
        insecureSkipServerCheck,
      });

    return {
      mode: "spire",
      dir,
      ca,
      envoy,
      sidecar,
      upstream,
      llm,
      authzAddress,
      outboundPort,
      jwtPort,
      ...(envoy.ports.inbound ? { inboundPort: envoy.ports.inbound } : {}),
      spire,
      workloadApi,
      envoyId,
      authzId,
      envoyPath,
      jwtAudience,
      register,
      async identity(uris) {
        const [id] = uris;
        if (uris.length !== 1 || !id?.startsWith(`spiffe://${td}/`)) {
          throw new TypeError("SPIRE issues one SPIFFE ID of its trust domain per SVID; see untrustedIdentity()");
        }
        await register([id]);
        // Read at connect time: after a rotation the pool (keyed by cert/key) opens connections with the new SVID.
        return {
          get cert() {
            return svidFor(id)?.certChainPem ?? "";
          },
          get key() {
            return svidFor(id)?.keyPem ?? "";
          },
          get ca() {
            return bundle();
          },
        };
      },
      anonymous: () => anonymous,
      async untrustedIdentity(uris, dns) {
        const leaf = await makeLeaf(ca, { uris, ...(dns ? { dns } : {}) });
        return {
          cert: leaf.certPem,
          key: leaf.keyPem,
          get ca() {
            return bundle();
          },
        };
      },
      async jwtSvid(spiffeId, audience = jwtAudience) {
        await register([spiffeId]);
        return (await workloadApi.fetchJwtSvid({ audience, spiffeId })).token;
      },
      send: (id, req) => sendWith(id, req, false),
      sendUnverified: (id, req) => sendWith(id, req, true),
      async sendAs(as, req, o = {}) {
        const input: WorkloadScriptInput = {
          socket: spire.agentSocket,
          port: outboundPort,
          serverId: envoyId,
          trustDomain: td,
          request: req,
          ...(o.want ? { want: o.want } : {}),
          timeoutMs: CHILD_TIMEOUT_MS,
        };
        const out = await spire.runAs(as, ["--no-warnings", WORKLOAD_SCRIPT, JSON.stringify(input)], {
          timeoutMs: CHILD_TIMEOUT_MS + 5_000,
        });
        return JSON.parse(out) as WorkloadScriptOutput;
      },
      stop: () => cleanup.run(),
    };
  } catch (e) {
    await cleanup.run();
    throw e;
  }
}

/**
 * Sidecar configuration: one YAML file, validated once at start into a typed runtime config.
 * Every error names the offending field (`authz.decision_cache.max_entries: must be an integer ≥ 0`).
 *
 * @example
 *   const cfg = parseConfig(readFileSync("hexr.yaml", "utf8"), "hexr.yaml");
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { HexrError } from "../filters/errors.ts";
import {
  DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
  MAX_CLOCK_SKEW_SECONDS,
  MAX_TOKEN_LIFETIME_SECONDS,
} from "../filters/identity/index.ts";
import {
  type CredentialsConfig,
  parseCredentialsSection,
  parseRateSection,
  parseRedisSection,
  type RedisSection,
} from "./authz/credentials-config.ts";
import { type A2aConfig, parseA2aSection } from "./a2a/config.ts";
import { type ExtProcConfig, parseExtProcSection } from "./extproc/config.ts";
import { bool, fail, hostPort, int, obj, onlyKeys, spiffeId, str } from "./config-fields.ts";
import { DEFAULT_TRACING, type TracingConfig } from "./telemetry/tracing-config.ts";

/**
 * Off by default: the policy input carries the caller's call count for the last minute, which grows by one
 * on every call within a second (and the timestamp changes every second), so no two Checks have the same
 * input and a cached decision can never be reused — the cache only cost a key and an entry per Check (up to
 * max_entries of them resident). A policy whose input has no per-call fact can turn it on.
 */
export const DEFAULT_DECISION_CACHE_ENTRIES = 0;
export const DEFAULT_DECISION_CACHE_TTL_MS = 5_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;
export const DEFAULT_BUNDLE_POLL_MS = 1_000;
export const MAX_CONFIG_BYTES = 1 << 20;
/** How long start-up waits for the first X.509-SVID when a listener serves mTLS with it. */
export const DEFAULT_WORKLOAD_API_READY_TIMEOUT_MS = 30_000;
/** Leeway for JWT-SVID `exp` / `nbf` (the verifier's default). */
export const DEFAULT_JWT_SVID_CLOCK_SKEW_SECONDS = 30;

export interface ListenConfig {
  /** Unix socket path (Envoy reaches the sidecar over a `pipe`). */
  socket?: string;
  /** `host:port` for TCP. */
  tcp?: string;
  /**
   * `authz.listen` only: what serves Check — `http2` (plain node:http2 with the hand-written codec: less
   * memory and CPU per Check; Unix socket only) or `grpc-js`. Always set after parsing: `http2` for a
   * socket-only listener that ext_proc does not share, `grpc-js` otherwise (TCP, mTLS, a shared socket).
   */
  server?: "grpc-js" | "http2";
  /**
   * Serve `tcp` with mTLS on this process's X.509-SVID from the Workload API (rotated in place), accepting
   * only these client SPIFFE IDs. Needs `workload_api`. The Unix socket, if any, stays plaintext.
   */
  mtls?: { allowedClients: ReadonlySet<string> };
}

/** Where the SPIFFE Workload API is (the SPIRE agent socket) and which of this process's SVIDs to serve. */
export interface WorkloadApiConfig {
  /** Absolute path or `unix:///path`. */
  socket: string;
  /** The SVID our servers present; default: the first (default) SVID the agent returns. */
  svid?: string;
  readyTimeoutMs: number;
}

/** JWT-SVIDs as an identity carrier (`x-hexr-svid` / `Authorization: Bearer`), verified with the Workload API's JWT bundles. */
export interface JwtSvidConfig {
  audiences: string[];
  clockSkewSeconds: number;
  maxLifetimeSeconds: number;
}

export interface BundleKeyConfig {
  keyId: string;
  algorithm: string;
  /** PEM public key, or HMAC secret, read from `key_file` at load. */
  key: string;
}

export interface AuthzConfig {
  listen: ListenConfig;
  bundlePath: string;
  bundlePollMs: number;
  strictSignatures: boolean;
  verificationKeys: BundleKeyConfig[];
  /** `maxEntries` 0: no decision cache (the default, see DEFAULT_DECISION_CACHE_ENTRIES). */
  decisionCache: { maxEntries: number; ttlMs: number };
  catalogPath?: string;
  jwtSvid?: JwtSvidConfig;
}

export interface SidecarConfig {
  trustDomains: ReadonlySet<string>;
  workloadApi?: WorkloadApiConfig;
  authz?: AuthzConfig;
  /** The LLM guard ext_proc server (see extproc/config.ts). */
  extProc?: ExtProcConfig;
  audit: { path: "stdout" | "stderr" | string };
  log: { level: "debug" | "info" | "warn" | "error" };
  drainTimeoutMs: number;
  telemetry: TelemetryConfig;
  /** Shared state for rate counters and the credential L2 cache. */
  redis?: RedisSection;
  /** Per-agent rate counters across replicas (in Redis) instead of per sidecar. */
  rate: { shared: boolean };
  /** Short-lived cloud credentials injected by the authz pipeline. */
  credentials?: CredentialsConfig;
  /** Inbound agent-to-agent calls: classification, validation, delegation chains. */
  a2a?: A2aConfig;
}

/** Metrics (Prometheus on the admin listener) and traces (OTLP gRPC). Both off unless configured. */
export interface TelemetryConfig {
  /** `host:port` of the admin HTTP listener serving `/metrics` (and `/ready`). */
  adminListen?: string;
  /** Label per-request metrics with tenant and agent (more series; off by default). */
  agentLabels: boolean;
  tracing?: TracingConfig;
  /** LLM prices for the cost metric and span attribute: USD per million input / output tokens, per model. */
  prices: { model: string; input: number; output: number }[];
}

function telemetry(v: unknown): TelemetryConfig {
  const o = v === undefined ? {} : obj(v, "telemetry");
  onlyKeys(o, "telemetry", ["admin", "metrics", "tracing", "llm_prices"]);
  const prices: TelemetryConfig["prices"] = [];
  if (o.llm_prices !== undefined) {
    const ps = obj(o.llm_prices, "telemetry.llm_prices");
    for (const [model, pv] of Object.entries(ps)) {
      const f = `telemetry.llm_prices.${model}`;
      const p = obj(pv, f);
      onlyKeys(p, f, ["input_per_million", "output_per_million"]);
      const num = (v: unknown, k: string) => {
        if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) fail(`${f}.${k}`, "must be a number ≥ 0 (USD)");
        return v;
      };
      prices.push({
        model,
        input: num(p.input_per_million, "input_per_million"),
        output: num(p.output_per_million, "output_per_million"),
      });
    }
  }
  const admin = o.admin === undefined ? {} : obj(o.admin, "telemetry.admin");
  onlyKeys(admin, "telemetry.admin", ["listen"]);
  const metrics = o.metrics === undefined ? {} : obj(o.metrics, "telemetry.metrics");
  onlyKeys(metrics, "telemetry.metrics", ["agent_labels"]);
  let tracing: TracingConfig | undefined;
  if (o.tracing !== undefined) {
    const f = "telemetry.tracing";
    const t = obj(o.tracing, f);
    onlyKeys(t, f, [
      "endpoint",
      "sampling_ratio",
      "service_name",
      "max_queue",
      "max_batch",
      "flush_interval_ms",
      "export_timeout_ms",
    ]);
    const endpoint = str(t.endpoint, `${f}.endpoint`);
    if (!/^https?:\/\/[^/\s]+\/?$/.test(endpoint))
      fail(`${f}.endpoint`, "must be http://host:port or https://host:port");
    const ratio = t.sampling_ratio ?? DEFAULT_TRACING.ratio;
    if (typeof ratio !== "number" || !(ratio >= 0 && ratio <= 1))
      fail(`${f}.sampling_ratio`, "must be a number in [0, 1]");
    tracing = {
      endpoint,
      ratio,
      serviceName:
        t.service_name === undefined ? DEFAULT_TRACING.serviceName : str(t.service_name, `${f}.service_name`),
      maxQueue: int(t.max_queue, `${f}.max_queue`, 1, DEFAULT_TRACING.maxQueue, 1 << 20),
      maxBatch: int(t.max_batch, `${f}.max_batch`, 1, DEFAULT_TRACING.maxBatch, 1 << 16),
      flushIntervalMs: int(t.flush_interval_ms, `${f}.flush_interval_ms`, 1, DEFAULT_TRACING.flushIntervalMs),
      exportTimeoutMs: int(t.export_timeout_ms, `${f}.export_timeout_ms`, 1, DEFAULT_TRACING.exportTimeoutMs),
    };
  }
  return {
    ...(admin.listen !== undefined ? { adminListen: hostPort(admin.listen, "telemetry.admin.listen") } : {}),
    agentLabels: bool(metrics.agent_labels, "telemetry.metrics.agent_labels", false),
    ...(tracing ? { tracing } : {}),
    prices,
  };
}

function listen(v: unknown, field: string): ListenConfig {
  const o = obj(v, field);
  onlyKeys(o, field, ["socket", "tcp", "mtls", ...(field === "authz.listen" ? ["server"] : [])]);
  const out: ListenConfig = {};
  if (o.socket !== undefined) out.socket = str(o.socket, `${field}.socket`);
  if (o.tcp !== undefined) out.tcp = hostPort(o.tcp, `${field}.tcp`);
  if (!out.socket && !out.tcp) fail(field, "needs socket and/or tcp");
  if (o.server !== undefined) {
    if (o.server !== "grpc-js" && o.server !== "http2") fail(`${field}.server`, "must be grpc-js or http2");
    if (o.server === "http2" && (out.tcp || !out.socket))
      fail(`${field}.server`, "http2 serves a Unix socket only (no tcp listener yet)");
    out.server = o.server;
  }
  if (o.mtls !== undefined) {
    const m = obj(o.mtls, `${field}.mtls`);
    onlyKeys(m, `${field}.mtls`, ["allowed_clients"]);
    if (!out.tcp) fail(`${field}.mtls`, "applies to tcp only (add listen.tcp)");
    const ids = m.allowed_clients;
    if (!Array.isArray(ids) || ids.length === 0) fail(`${field}.mtls.allowed_clients`, "must be a non-empty list");
    out.mtls = { allowedClients: new Set(ids.map((id, i) => spiffeId(id, `${field}.mtls.allowed_clients[${i}]`))) };
  }
  return out;
}

function workloadApi(v: unknown): WorkloadApiConfig {
  const o = obj(v, "workload_api");
  onlyKeys(o, "workload_api", ["socket", "svid", "ready_timeout_ms"]);
  const socket = str(o.socket, "workload_api.socket");
  const p = socket.startsWith("unix://") ? socket.slice(7) : socket.startsWith("unix:") ? socket.slice(5) : socket;
  if (!p.startsWith("/")) fail("workload_api.socket", "must be an absolute path or a unix:// address");
  return {
    socket,
    ...(o.svid !== undefined ? { svid: spiffeId(o.svid, "workload_api.svid") } : {}),
    readyTimeoutMs: int(o.ready_timeout_ms, "workload_api.ready_timeout_ms", 1, DEFAULT_WORKLOAD_API_READY_TIMEOUT_MS),
  };
}

function jwtSvid(v: unknown): JwtSvidConfig {
  const f = "authz.jwt_svid";
  const o = obj(v, f);
  onlyKeys(o, f, ["audiences", "clock_skew_seconds", "max_lifetime_seconds"]);
  const auds = o.audiences;
  if (!Array.isArray(auds) || auds.length === 0) fail(`${f}.audiences`, "must be a non-empty list");
  return {
    audiences: auds.map((a, i) => str(a, `${f}.audiences[${i}]`)),
    clockSkewSeconds: int(
      o.clock_skew_seconds,
      `${f}.clock_skew_seconds`,
      0,
      DEFAULT_JWT_SVID_CLOCK_SKEW_SECONDS,
      MAX_CLOCK_SKEW_SECONDS,
    ),
    maxLifetimeSeconds: int(
      o.max_lifetime_seconds,
      `${f}.max_lifetime_seconds`,
      1,
      DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
      MAX_TOKEN_LIFETIME_SECONDS,
    ),
  };
}

/** Parses and validates YAML text. Relative paths resolve against the config file's directory. */
export function parseConfig(text: string, file = "<config>", readFile?: (p: string) => string): SidecarConfig {
  if (text.length > MAX_CONFIG_BYTES) fail(file, `larger than ${MAX_CONFIG_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new HexrError("config.bad_yaml", `${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  const root = obj(raw ?? {}, "(root)");
  onlyKeys(root, "", [
    "trust_domains",
    "workload_api",
    "authz",
    "ext_proc",
    "audit",
    "log",
    "drain_timeout_ms",
    "telemetry",
    "redis",
    "rate",
    "credentials",
    "a2a",
  ]);
  const base = path.dirname(path.resolve(file));
  const abs = (p: string) => path.resolve(base, p);

  const tds = root.trust_domains;
  if (!Array.isArray(tds) || tds.length === 0) fail("trust_domains", "must be a non-empty list");
  const trustDomains = new Set<string>();
  tds.forEach((td, i) => {
    const s = str(td, `trust_domains[${i}]`);
    if (!/^[a-z0-9._-]{1,255}$/.test(s)) fail(`trust_domains[${i}]`, "not a valid trust domain name");
    trustDomains.add(s);
  });

  const wl = root.workload_api === undefined ? undefined : workloadApi(root.workload_api);

  let authz: AuthzConfig | undefined;
  let explicitServer: ListenConfig["server"];
  if (root.authz !== undefined) {
    const a = obj(root.authz, "authz");
    onlyKeys(a, "authz", ["listen", "bundle", "bundle_poll_ms", "signatures", "decision_cache", "catalog", "jwt_svid"]);
    const sig = a.signatures === undefined ? {} : obj(a.signatures, "authz.signatures");
    onlyKeys(sig, "authz.signatures", ["strict", "keys"]);
    const keys: BundleKeyConfig[] = [];
    if (sig.keys !== undefined) {
      const ks = obj(sig.keys, "authz.signatures.keys");
      for (const [keyId, kv] of Object.entries(ks)) {
        const f = `authz.signatures.keys.${keyId}`;
        const k = obj(kv, f);
        onlyKeys(k, f, ["key_file", "algorithm"]);
        const keyFile = abs(str(k.key_file, `${f}.key_file`));
        let key: string;
        try {
          key = (readFile ?? ((p: string) => readFileSync(p, "utf8")))(keyFile);
        } catch {
          fail(`${f}.key_file`, "cannot be read");
        }
        keys.push({ keyId, algorithm: str(k.algorithm ?? "RS256", `${f}.algorithm`), key });
      }
    }
    const strict = bool(sig.strict, "authz.signatures.strict", false);
    if (strict && keys.length === 0) fail("authz.signatures.keys", "strict mode needs at least one key");
    const dc = a.decision_cache === undefined ? {} : obj(a.decision_cache, "authz.decision_cache");
    onlyKeys(dc, "authz.decision_cache", ["max_entries", "ttl_ms"]);
    const authzListen = listen(a.listen, "authz.listen");
    // relative to the config file, as every other path here (ext_proc's socket included, which it is compared with)
    if (authzListen.socket !== undefined) authzListen.socket = abs(authzListen.socket);
    explicitServer = authzListen.server;
    authzListen.server ??= authzListen.socket && !authzListen.tcp ? "http2" : "grpc-js";
    if (authzListen.mtls && !wl) fail("authz.listen.mtls", "needs workload_api (the SVID comes from the Workload API)");
    const jwt = a.jwt_svid === undefined ? undefined : jwtSvid(a.jwt_svid);
    if (jwt && !wl) fail("authz.jwt_svid", "needs workload_api (JWT bundles come from the Workload API)");
    authz = {
      listen: authzListen,
      bundlePath: abs(str(a.bundle, "authz.bundle")),
      bundlePollMs: int(a.bundle_poll_ms, "authz.bundle_poll_ms", 100, DEFAULT_BUNDLE_POLL_MS),
      strictSignatures: strict,
      verificationKeys: keys,
      decisionCache: {
        maxEntries: int(dc.max_entries, "authz.decision_cache.max_entries", 0, DEFAULT_DECISION_CACHE_ENTRIES),
        ttlMs: int(dc.ttl_ms, "authz.decision_cache.ttl_ms", 1, DEFAULT_DECISION_CACHE_TTL_MS),
      },
      ...(a.catalog !== undefined ? { catalogPath: abs(str(a.catalog, "authz.catalog")) } : {}),
      ...(jwt ? { jwtSvid: jwt } : {}),
    };
  }

  const au = root.audit === undefined ? {} : obj(root.audit, "audit");
  onlyKeys(au, "audit", ["path"]);
  const lg = root.log === undefined ? {} : obj(root.log, "log");
  onlyKeys(lg, "log", ["level"]);
  const level = lg.level ?? "info";
  if (level !== "debug" && level !== "info" && level !== "warn" && level !== "error") {
    fail("log.level", "must be one of debug, info, warn, error");
  }
  const auditPath = au.path === undefined ? "stdout" : str(au.path, "audit.path");
  const redis = root.redis === undefined ? undefined : parseRedisSection(root.redis);
  if (root.credentials !== undefined && !authz)
    fail("credentials", "needs the authz section (credentials are injected by it)");
  const credentials =
    root.credentials === undefined
      ? undefined
      : parseCredentialsSection(
          root.credentials,
          abs,
          redis !== undefined,
          readFile ? (p) => Buffer.from(readFile(p), "utf8") : undefined,
        );
  const extProc = root.ext_proc !== undefined ? parseExtProcSection(root.ext_proc, abs) : undefined;
  const explicitExtProcServer = (root.ext_proc as { listen?: { server?: unknown } } | undefined)?.listen?.server;
  // ext_proc inline on the authz socket is served by grpc-js: one server per socket, and the http2 Check
  // server does not run ext_proc's stream loop on the authz event loop
  if (authz?.listen.socket !== undefined && authz.listen.socket === extProc?.listen.socket) {
    if (explicitServer === "http2")
      fail(
        "authz.listen.server",
        "http2 serves Check only; ext_proc shares this socket (use grpc-js or another socket)",
      );
    if (explicitExtProcServer === "http2")
      fail("ext_proc.listen.server", "http2 needs a socket of its own; this one is shared with authz");
    authz.listen.server = "grpc-js";
    extProc.listen.server = "grpc-js";
  }
  return {
    trustDomains,
    ...(wl ? { workloadApi: wl } : {}),
    ...(authz ? { authz } : {}),
    ...(extProc ? { extProc } : {}),
    audit: { path: auditPath === "stdout" || auditPath === "stderr" ? auditPath : abs(auditPath) },
    log: { level },
    drainTimeoutMs: int(root.drain_timeout_ms, "drain_timeout_ms", 0, DEFAULT_DRAIN_TIMEOUT_MS),
    telemetry: telemetry(root.telemetry),
    ...(redis ? { redis } : {}),
    rate: root.rate === undefined ? { shared: false } : parseRateSection(root.rate, redis !== undefined),
    ...(credentials ? { credentials } : {}),
    ...(root.a2a !== undefined ? { a2a: parseA2aSection(root.a2a, abs, wl !== undefined) } : {}),
  };
}

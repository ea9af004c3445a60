/**
 * The `credentials` and `redis` sections of the sidecar config, validated into typed settings.
 *
 *   redis: { url: redis://redis.hexr-system:6379, key_prefix: "hexr:", command_timeout_ms: 20 }
 *   rate: { shared: true }                       # per-agent counters across replicas (needs redis)
 *   credentials:
 *     exchange_timeout_ms: 1500                  # keep under Envoy's ext_authz timeout
 *     cache: { l1_max_entries: 10000, l1_max_bytes: 16777216, min_remaining_seconds: 300,
 *              max_exchanges_per_agent_minute: 60,
 *              l2: { key_file: /run/secrets/hexr/l2.key } }   # 32 bytes (raw, hex or base64); needs redis
 *     delegated:                                 # the SPIRE agent's Delegated Identity API
 *       socket: /run/spire/agent-admin/admin.sock
 *       agents: { "spiffe://hexr.cloud/agent/acme/crew/researcher": ["unix:uid:1001"] }
 *     providers:
 *       aws:   { audience: sts.amazonaws.com, role_arn: "arn:aws:iam::123456789012:role/hexr-{tenant}-{agent}-{role}",
 *                endpoint: https://sts.us-east-1.amazonaws.com, region: us-east-1, duration_seconds: 900 }
 *       gcp:   { pool_provider: "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/hexr",
 *                audience: …, service_account: "{agent}-{role}@proj.iam.gserviceaccount.com" }
 *       azure: { tenant_id: …, scope: "https://storage.azure.com/.default", client_id: "…" , client_ids: { … } }
 *
 * One provider per kind (`aws`, `gcp`, `azure`): the catalog's `credentials:` names a kind.
 */
import { readFileSync } from "node:fs";
import { checkTemplate } from "../../filters/credentials/names.ts";
import { SEAL_KEY_BYTES } from "../../filters/credentials/sealed.ts";
import type { ProviderKind } from "../../filters/credentials/types.ts";
import { bool, fail, int, obj, onlyKeys, spiffeId, str } from "../config-fields.ts";
import { parseSelector, type Selector } from "../workload-api/selector.ts";
import type { TokenSourceMode } from "./credentials.ts";

export const DEFAULT_EXCHANGE_TIMEOUT_MS = 1_500;
export const DEFAULT_CREDENTIAL_SECONDS = 900;
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 20;
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 1_000;
const KINDS: readonly ProviderKind[] = ["aws", "gcp", "azure"];
const TOKEN_SOURCES: readonly TokenSourceMode[] = ["presented", "delegated", "either"];

interface ProviderCommon {
  readonly name: string;
  readonly durationSeconds: number;
  readonly tokenSource: TokenSourceMode;
  readonly timeoutMs?: number;
}

export type ProviderConfig =
  | (ProviderCommon & {
      readonly kind: "aws";
      readonly audience: string;
      readonly roleArn: string;
      readonly endpoint?: string;
      readonly region?: string;
      readonly maxDurationSeconds?: number;
    })
  | (ProviderCommon & {
      readonly kind: "gcp";
      readonly audience: string;
      readonly poolProvider: string;
      readonly serviceAccount?: string;
      readonly scopes?: readonly string[];
      readonly stsUrl?: string;
      readonly iamCredentialsUrl?: string;
    })
  | (ProviderCommon & {
      readonly kind: "azure";
      readonly tenantId: string;
      readonly scope: string;
      readonly clientId?: string;
      readonly clientIds?: Readonly<Record<string, string>>;
      readonly audience?: string;
      readonly tokenUrl?: string;
    });

export interface CredentialsConfig {
  readonly exchangeTimeoutMs: number;
  readonly cache: {
    readonly l1MaxEntries?: number;
    readonly l1MaxBytes?: number;
    readonly minRemainingMs?: number;
    readonly maxExchangesPerCallerMinute?: number;
    /** The L2 seal key (32 bytes), when L2 is on. */
    readonly l2Key?: Buffer;
  };
  readonly delegated?: { readonly socket: string; readonly agents: ReadonlyMap<string, readonly Selector[]> };
  readonly providers: readonly ProviderConfig[];
}

export interface RedisSection {
  readonly url: string;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

function url(v: unknown, field: string, schemes: readonly string[]): string {
  const s = str(v, field);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    fail(field, "must be a URL");
  }
  if (!schemes.includes(u.protocol)) fail(field, `must be a ${schemes.join(" or ")} URL`);
  return s;
}

function strings(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || v.length === 0) fail(field, "must be a non-empty list");
  return v.map((x, i) => str(x, `${field}[${i}]`));
}

/** 32 bytes: raw, or written as 64 hex characters or base64. */
export function readSealKey(file: string, field: string, read: (p: string) => Buffer): Buffer {
  let raw: Buffer;
  try {
    raw = read(file);
  } catch {
    fail(field, "cannot be read");
  }
  if (raw.length === SEAL_KEY_BYTES) return raw;
  const text = raw.toString("utf8").trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  const b = Buffer.from(text, "base64");
  if (b.length === SEAL_KEY_BYTES && /^[A-Za-z0-9+/=_-]+$/.test(text)) return b;
  fail(field, `must hold ${SEAL_KEY_BYTES} bytes (raw, 64 hex characters or base64)`);
}

export function parseRedisSection(v: unknown): RedisSection {
  const o = obj(v, "redis");
  onlyKeys(o, "redis", ["url", "key_prefix", "command_timeout_ms", "connect_timeout_ms"]);
  const prefix = o.key_prefix === undefined ? "hexr:" : str(o.key_prefix, "redis.key_prefix");
  if (prefix.length > 64 || /[{}\s]/.test(prefix))
    fail("redis.key_prefix", "at most 64 characters, no braces or spaces");
  return {
    url: url(o.url, "redis.url", ["redis:", "rediss:"]),
    keyPrefix: prefix,
    commandTimeoutMs: int(
      o.command_timeout_ms,
      "redis.command_timeout_ms",
      1,
      DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
      10_000,
    ),
    connectTimeoutMs: int(
      o.connect_timeout_ms,
      "redis.connect_timeout_ms",
      1,
      DEFAULT_REDIS_CONNECT_TIMEOUT_MS,
      60_000,
    ),
  };
}

export function parseRateSection(v: unknown, hasRedis: boolean): { shared: boolean } {
  const o = obj(v, "rate");
  onlyKeys(o, "rate", ["shared"]);
  const shared = bool(o.shared, "rate.shared", false);
  if (shared && !hasRedis) fail("rate.shared", "needs the redis section (counters live in Redis)");
  return { shared };
}

function provider(name: string, v: unknown): ProviderConfig {
  const f = `credentials.providers.${name}`;
  const o = obj(v, f);
  const kind = (o.kind ?? name) as ProviderKind;
  if (!KINDS.includes(kind)) fail(`${f}.kind`, "must be aws, gcp or azure (or name the provider after its kind)");
  const common = {
    name,
    durationSeconds: int(o.duration_seconds, `${f}.duration_seconds`, 60, DEFAULT_CREDENTIAL_SECONDS, 43_200),
    tokenSource: (o.token_source ?? "either") as TokenSourceMode,
    ...(o.timeout_ms !== undefined ? { timeoutMs: int(o.timeout_ms, `${f}.timeout_ms`, 1, 0, 60_000) } : {}),
  };
  if (!TOKEN_SOURCES.includes(common.tokenSource)) fail(`${f}.token_source`, "must be presented, delegated or either");
  const shared = ["kind", "duration_seconds", "token_source", "timeout_ms"];
  const opt = (k: string, read: (x: unknown, field: string) => unknown) =>
    o[k] === undefined ? {} : { [camel(k)]: read(o[k], `${f}.${k}`) };
  const https = (x: unknown, field: string) => url(x, field, ["https:", "http:"]);
  if (kind === "aws") {
    onlyKeys(o, f, [...shared, "audience", "role_arn", "endpoint", "region", "max_duration_seconds"]);
    const roleArn = str(o.role_arn, `${f}.role_arn`);
    checkTemplate(roleArn, `${f}.role_arn`);
    return {
      ...common,
      kind,
      audience: str(o.audience, `${f}.audience`),
      roleArn,
      ...opt("endpoint", https),
      ...opt("region", str),
      ...opt("max_duration_seconds", (x, fl) => int(x, fl, 900, 3600, 43_200)),
    } as ProviderConfig;
  }
  if (kind === "gcp") {
    onlyKeys(o, f, [
      ...shared,
      "audience",
      "pool_provider",
      "service_account",
      "scopes",
      "sts_url",
      "iam_credentials_url",
    ]);
    if (o.service_account !== undefined)
      checkTemplate(str(o.service_account, `${f}.service_account`), `${f}.service_account`);
    return {
      ...common,
      kind,
      audience: str(o.audience, `${f}.audience`),
      poolProvider: str(o.pool_provider, `${f}.pool_provider`),
      ...opt("service_account", str),
      ...opt("scopes", strings),
      ...opt("sts_url", https),
      ...opt("iam_credentials_url", https),
    } as ProviderConfig;
  }
  onlyKeys(o, f, [...shared, "tenant_id", "scope", "client_id", "client_ids", "audience", "token_url"]);
  if (o.client_id === undefined && o.client_ids === undefined) fail(f, "needs client_id (a template) or client_ids");
  if (o.client_id !== undefined) checkTemplate(str(o.client_id, `${f}.client_id`), `${f}.client_id`);
  const ids: Record<string, string> = {};
  if (o.client_ids !== undefined) {
    for (const [id, c] of Object.entries(obj(o.client_ids, `${f}.client_ids`))) {
      ids[spiffeId(id, `${f}.client_ids`)] = str(c, `${f}.client_ids.${id}`);
    }
  }
  return {
    ...common,
    kind,
    tenantId: str(o.tenant_id, `${f}.tenant_id`),
    scope: str(o.scope, `${f}.scope`),
    ...opt("client_id", str),
    ...(o.client_ids !== undefined ? { clientIds: ids } : {}),
    ...opt("audience", str),
    ...opt("token_url", https),
  } as ProviderConfig;
}

function camel(k: string): string {
  return k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function parseCredentialsSection(
  v: unknown,
  abs: (p: string) => string,
  hasRedis: boolean,
  readBytes: (p: string) => Buffer = (p) => readFileSync(p),
): CredentialsConfig {
  const f = "credentials";
  const o = obj(v, f);
  onlyKeys(o, f, ["exchange_timeout_ms", "cache", "delegated", "providers"]);
  const c = o.cache === undefined ? {} : obj(o.cache, `${f}.cache`);
  onlyKeys(c, `${f}.cache`, [
    "l1_max_entries",
    "l1_max_bytes",
    "min_remaining_seconds",
    "max_exchanges_per_agent_minute",
    "l2",
  ]);
  let l2Key: Buffer | undefined;
  if (c.l2 !== undefined) {
    const l2 = obj(c.l2, `${f}.cache.l2`);
    onlyKeys(l2, `${f}.cache.l2`, ["key_file"]);
    if (!hasRedis) fail(`${f}.cache.l2`, "needs the redis section");
    l2Key = readSealKey(abs(str(l2.key_file, `${f}.cache.l2.key_file`)), `${f}.cache.l2.key_file`, readBytes);
  }
  let delegated: CredentialsConfig["delegated"];
  if (o.delegated !== undefined) {
    const d = obj(o.delegated, `${f}.delegated`);
    onlyKeys(d, `${f}.delegated`, ["socket", "agents"]);
    const agents = new Map<string, Selector[]>();
    for (const [id, sels] of Object.entries(obj(d.agents, `${f}.delegated.agents`))) {
      const field = `${f}.delegated.agents.${id}`;
      agents.set(
        spiffeId(id, `${f}.delegated.agents`),
        strings(sels, field).map(
          (s, i) => parseSelector(s) ?? fail(`${field}[${i}]`, "must be type:value (unix:uid:1001)"),
        ),
      );
    }
    delegated = { socket: str(d.socket, `${f}.delegated.socket`), agents };
  }
  const providers = Object.entries(obj(o.providers, `${f}.providers`)).map(([n, p]) => provider(n, p));
  if (providers.length === 0) fail(`${f}.providers`, "must name at least one provider");
  const seen = new Set<ProviderKind>();
  for (const p of providers) {
    if (seen.has(p.kind)) fail(`${f}.providers.${p.name}`, `a second ${p.kind} provider (one per kind)`);
    seen.add(p.kind);
    if (p.tokenSource === "delegated" && !delegated) {
      fail(`${f}.providers.${p.name}.token_source`, "delegated needs credentials.delegated");
    }
  }
  return {
    exchangeTimeoutMs: int(o.exchange_timeout_ms, `${f}.exchange_timeout_ms`, 1, DEFAULT_EXCHANGE_TIMEOUT_MS, 60_000),
    cache: {
      ...(c.l1_max_entries !== undefined
        ? { l1MaxEntries: int(c.l1_max_entries, `${f}.cache.l1_max_entries`, 1, 0) }
        : {}),
      ...(c.l1_max_bytes !== undefined ? { l1MaxBytes: int(c.l1_max_bytes, `${f}.cache.l1_max_bytes`, 4096, 0) } : {}),
      ...(c.min_remaining_seconds !== undefined
        ? { minRemainingMs: int(c.min_remaining_seconds, `${f}.cache.min_remaining_seconds`, 0, 0, 3600) * 1000 }
        : {}),
      ...(c.max_exchanges_per_agent_minute !== undefined
        ? {
            maxExchangesPerCallerMinute: int(
              c.max_exchanges_per_agent_minute,
              `${f}.cache.max_exchanges_per_agent_minute`,
              1,
              0,
              100_000,
            ),
          }
        : {}),
      ...(l2Key ? { l2Key } : {}),
    },
    ...(delegated ? { delegated } : {}),
    providers,
  };
}

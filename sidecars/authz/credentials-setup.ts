/**
 * Builds the credential stage from its config: one provider per kind, the exchanger, the three-tier cache
 * (L2 on the shared Redis when configured) and the token sources. Provider option errors become
 * `config.invalid` naming the provider, so a bad template or URL stops the sidecar at start, not at the
 * first request.
 *
 * @example
 *   const { stage, close } = buildCredentialStage(cfg.credentials, { redis, metrics, logger });
 */
import type { Redis } from "ioredis";
import { CredentialCache } from "../../filters/credentials/cache.ts";
import { Exchanger } from "../../filters/credentials/exchange.ts";
import { RedisCredentialStore } from "../../filters/credentials/l2-redis.ts";
import { AwsStsProvider } from "../../filters/credentials/providers/aws-sts.ts";
import { EntraProvider } from "../../filters/credentials/providers/azure-entra.ts";
import { GcpStsProvider } from "../../filters/credentials/providers/gcp-sts.ts";
import { CredentialSeal } from "../../filters/credentials/sealed.ts";
import type { CredentialProvider, ProviderKind } from "../../filters/credentials/types.ts";
import { HexrError, isHexrError } from "../../filters/errors.ts";
import type { Counter } from "../../filters/telemetry/metrics.ts";
import type { Logger } from "../logger.ts";
import { DelegatedTokenSource } from "../workload-api/delegated.ts";
import type { CredentialsConfig, ProviderConfig } from "./credentials-config.ts";
import { CredentialStage, type ProviderSetup } from "./credentials.ts";

export interface CredentialStageDeps {
  readonly redis?: Redis;
  readonly keyPrefix?: string;
  readonly metrics?: { readonly credentialLookups: Counter; readonly credentialExchanges: Counter };
  readonly logger: Logger;
}

function makeProvider(p: ProviderConfig): CredentialProvider {
  const timeout = p.timeoutMs !== undefined ? { timeoutMs: p.timeoutMs } : {};
  switch (p.kind) {
    case "aws":
      return new AwsStsProvider({
        name: p.name,
        audience: p.audience,
        roleArn: p.roleArn,
        ...(p.endpoint ? { endpoint: p.endpoint } : {}),
        ...(p.maxDurationSeconds ? { maxDurationSeconds: p.maxDurationSeconds } : {}),
        ...timeout,
      });
    case "gcp":
      return new GcpStsProvider({
        name: p.name,
        audience: p.audience,
        poolProvider: p.poolProvider,
        ...(p.serviceAccount ? { serviceAccountTemplate: p.serviceAccount } : {}),
        ...(p.scopes ? { scopes: p.scopes } : {}),
        ...(p.stsUrl ? { stsUrl: p.stsUrl } : {}),
        ...(p.iamCredentialsUrl ? { iamCredentialsUrl: p.iamCredentialsUrl } : {}),
        ...timeout,
      });
    case "azure":
      return new EntraProvider({
        name: p.name,
        tenantId: p.tenantId,
        scope: p.scope,
        ...(p.clientId ? { clientIdTemplate: p.clientId } : {}),
        ...(p.clientIds ? { clientIds: p.clientIds } : {}),
        ...(p.audience ? { audience: p.audience } : {}),
        ...(p.tokenUrl ? { tokenUrl: p.tokenUrl } : {}),
        ...timeout,
      });
  }
}

export function buildCredentialStage(
  cfg: CredentialsConfig,
  deps: CredentialStageDeps,
): { stage: CredentialStage; close(): void } {
  const providers = new Map<ProviderKind, ProviderSetup>();
  for (const p of cfg.providers) {
    let provider: CredentialProvider;
    try {
      provider = makeProvider(p);
    } catch (e) {
      if (isHexrError(e)) throw e;
      throw new HexrError("config.invalid", `credentials.providers.${p.name}: ${(e as Error).message}`);
    }
    if (p.durationSeconds < provider.minDurationSeconds || p.durationSeconds > provider.maxDurationSeconds) {
      throw new HexrError(
        "config.invalid",
        `credentials.providers.${p.name}.duration_seconds: must be in [${provider.minDurationSeconds}, ${provider.maxDurationSeconds}]`,
      );
    }
    providers.set(p.kind, {
      provider,
      durationSeconds: p.durationSeconds,
      tokenSource: p.tokenSource,
      ...(p.kind === "aws" && p.region ? { region: p.region } : {}),
    });
  }
  const delegated = cfg.delegated
    ? new DelegatedTokenSource({ socketPath: cfg.delegated.socket, agents: cfg.delegated.agents })
    : undefined;
  const m = deps.metrics;
  const cache = new CredentialCache({
    exchanger: new Exchanger({ deadlineMs: cfg.exchangeTimeoutMs }),
    ...(cfg.cache.l1MaxEntries ? { l1MaxEntries: cfg.cache.l1MaxEntries } : {}),
    ...(cfg.cache.l1MaxBytes ? { l1MaxBytes: cfg.cache.l1MaxBytes } : {}),
    ...(cfg.cache.minRemainingMs !== undefined ? { minRemainingMs: cfg.cache.minRemainingMs } : {}),
    ...(cfg.cache.maxExchangesPerCallerMinute
      ? { maxExchangesPerCallerMinute: cfg.cache.maxExchangesPerCallerMinute }
      : {}),
    ...(cfg.cache.l2Key && deps.redis
      ? {
          l2: {
            store: new RedisCredentialStore(deps.redis as never, ""),
            seal: new CredentialSeal(cfg.cache.l2Key),
          },
        }
      : {}),
    events: {
      lookup: (provider, tier, result) => m?.credentialLookups.labels(provider, tier, result).inc(),
      exchange: (provider, result) => {
        m?.credentialExchanges.labels(provider, result).inc();
        if (result !== "ok") deps.logger.warn({ event: "credential_exchange_failed", provider, code: result });
      },
    },
  });
  return {
    stage: new CredentialStage({ providers, cache, ...(delegated ? { delegated } : {}) }),
    close: () => delegated?.close(),
  };
}

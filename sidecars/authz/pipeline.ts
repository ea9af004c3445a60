/**
 * The ext_authz pipeline, read top to bottom:
 *   identity → service resolution → rate → policy → (credentials) → response
 * Each stage either produces its fact or ends the request with a deny reason. Nothing throws at
 * Envoy: unexpected errors become a 403 with `internal.error` (fail closed).
 */
import { randomUUID } from "node:crypto";
import { isHexrError } from "../../filters/errors.ts";
import type { Decision, OpaInput } from "../../filters/authz/index.ts";
import { allowListHeaders, buildInput, decisionCacheKey } from "../../filters/authz/index.ts";
import type { CheckAttributes, Principal } from "../../filters/identity/index.ts";
import { identityFromCheckAttributes } from "../../filters/identity/index.ts";
import type { AuditSink } from "./audit.ts";
import type { CheckResponse } from "./response.ts";
import { deniedResponse, okResponse } from "./response.ts";

/** Headers a client may never set: ours, and a forwarded client certificate. */
const CLIENT_FORBIDDEN_PREFIX = "x-hexr-";
const XFCC = "x-forwarded-client-cert";
const UNKNOWN_SERVICE = "unknown";

export interface PolicySource {
  current(): { engine: { evaluate(input: OpaInput): Decision }; revision: string; generation: number } | undefined;
}

export interface ServiceResolver {
  resolve(method: string, host: string, path: string): { service: string; action: string } | undefined;
}

export interface RateSource {
  hit(key: string, nowMs: number): number;
}

export interface DecisionCacheLike {
  get(key: string): Decision | undefined;
  set(key: string, d: Decision): void;
}

export interface AuthzPipelineDeps {
  trustDomains: ReadonlySet<string>;
  policy: PolicySource;
  catalog: ServiceResolver;
  rate: RateSource;
  cache?: DecisionCacheLike;
  audit: AuditSink;
  now?: () => number;
}

export interface CheckRequestLike {
  attributes?: CheckAttributes;
}

function stripPath(p: string): string {
  const q = p.indexOf("?");
  return q === -1 ? p : p.slice(0, q);
}

export class AuthzPipeline {
  readonly #d: AuthzPipelineDeps;
  readonly #now: () => number;

  constructor(deps: AuthzPipelineDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  check(req: CheckRequestLike): CheckResponse {
    const started = performance.now();
    const decisionId = randomUUID();
    const http = req.attributes?.request?.http;
    const headers = http?.headers ?? {};
    const method = http?.method ?? "";
    const host = http?.host ?? "";
    const path = stripPath(http?.path ?? "");

    let principal: Principal | undefined;
    let service = UNKNOWN_SERVICE;
    let action = method.toLowerCase();
    let decision: Decision;
    let revision: string | null = null;
    let cached = false;
    try {
      // 1. identity: only from the peer certificate / Envoy's principal, never from headers
      principal = identityFromCheckAttributes(req.attributes ?? {}, { trustDomains: this.#d.trustDomains });
      // 2. service and action from the catalog
      const resolved = this.#d.catalog.resolve(method, host, path);
      if (resolved) {
        service = resolved.service;
        action = resolved.action;
      }
      // 3. rate facts for the policy
      const now = this.#now();
      const calls = this.#d.rate.hit(`${principal.tenant}/${principal.agent}`, now);
      // 4. policy (fail closed when no policy has loaded)
      const policy = this.#d.policy.current();
      if (!policy) {
        decision = { allow: false, reasons: ["policy.unavailable: no policy bundle loaded"] };
      } else {
        revision = policy.revision;
        const input = buildInput({
          principal,
          service,
          action,
          method,
          host,
          path,
          headers: allowListHeaders(headers),
          now,
          callsLastMinute: calls,
        });
        const key = this.#d.cache ? decisionCacheKey(policy.generation, input) : "";
        const hit = this.#d.cache?.get(key);
        if (hit) {
          decision = hit;
          cached = true;
        } else {
          decision = policy.engine.evaluate(input);
          this.#d.cache?.set(key, decision);
        }
      }
    } catch (e) {
      decision = { allow: false, reasons: [isHexrError(e) ? e.reason : "internal.error: authorization failed"] };
    }

    const response = decision.allow
      ? okResponse(decisionId, headersToRemove(headers))
      : deniedResponse(decisionId, decision.reasons);
    this.#d.audit.write({
      time: new Date().toISOString(),
      decision_id: decisionId,
      spiffe_id: principal?.spiffeId ?? null,
      tenant: principal?.tenant ?? null,
      agent: principal?.agent ?? null,
      role: principal?.role ?? null,
      service,
      action,
      allow: decision.allow,
      reasons: decision.reasons,
      policy_revision: revision,
      credential_tier: null,
      cached,
      latency_ms: Math.round((performance.now() - started) * 1000) / 1000,
    });
    return response;
  }
}

/** Client-supplied `x-hexr-*` and XFCC headers, removed before the request goes upstream. */
export function headersToRemove(headers: Record<string, string>): string[] {
  let out: string[] | undefined;
  for (const name in headers) {
    if (name.length > 7 && name.startsWith(CLIENT_FORBIDDEN_PREFIX) && name !== "x-hexr-decision-id") {
      (out ??= []).push(name);
    } else if (name === XFCC) {
      (out ??= []).push(name);
    }
  }
  return out ?? [];
}

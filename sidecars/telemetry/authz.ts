/**
 * What one ext_authz decision records beyond its audit line: the decision metrics and, with tracing on, a
 * `hexr.authz.check` span joined to the caller's trace (Envoy's ext_authz span when Envoy traces, else the
 * agent's own `traceparent`). Everything is taken from the audit record, which by its type holds no
 * credential, token or body: the span carries exactly the facts the audit already shows.
 *
 * @example
 *   const t = new AuthzTelemetry(authzMetrics(registry, { agentLabels: false }), tracing);
 *   record.trace_id = t.decided(record, { traceparent }, started, "mtls");
 */
import { context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { AuditRecord } from "../authz/audit.ts";
import type { AuthzMetrics } from "../../filters/telemetry/catalog.ts";
import { traceIdOf } from "../../filters/telemetry/traceparent.ts";
import type { Tracing } from "./tracing.ts";

export interface TraceHeaders {
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}

const CODE = /^([a-z0-9_]+(?:\.[a-z0-9_]+)+):/;
const RATE_LIMITED = "rate limit exceeded";

/**
 * A deny reason's stable code, for metric labels: the sidecar's own reasons start with one
 * (`identity.certificate_expired: …`); a policy's free-text reasons become `policy.denied` (or
 * `policy.rate_limited`), so no policy text or input value can become a label.
 */
export function reasonCode(reason: string | undefined): string {
  if (reason === undefined) return "none";
  const m = CODE.exec(reason);
  if (m) return m[1]!;
  return reason.startsWith(RATE_LIMITED) ? "policy.rate_limited" : "policy.denied";
}

/** When the credential stage ran for a decision (performance.now() ms) and what it used. */
export interface CredentialTiming {
  readonly started: number;
  readonly ended: number;
  readonly provider: string;
}

export class AuthzTelemetry {
  readonly #m: AuthzMetrics;
  readonly #tracing: Tracing | undefined;
  readonly #agentLabels: boolean;
  readonly #decisionCache: boolean;

  /** `decisionCache: false`: no cache is configured, so no hit/miss is counted (default true). */
  constructor(
    metrics: AuthzMetrics,
    tracing: Tracing | undefined,
    opts: { agentLabels?: boolean; decisionCache?: boolean } = {},
  ) {
    this.#m = metrics;
    this.#tracing = tracing;
    this.#agentLabels = opts.agentLabels === true;
    this.#decisionCache = opts.decisionCache !== false;
  }

  /**
   * Records a decision; returns the trace id for the audit record (null when there is no trace: tracing
   * off and no `traceparent` came with the request).
   */
  decided(
    r: AuditRecord,
    headers: TraceHeaders,
    started: number,
    carrier: "mtls" | "jwt_svid",
    credential?: CredentialTiming,
  ): string | null {
    const result = r.allow ? "allow" : "deny";
    const code = r.allow ? "none" : reasonCode(r.reasons[0]);
    const m = this.#m;
    if (this.#agentLabels) m.decisions.labels(result, code, r.tenant ?? "", r.agent ?? "").inc();
    else m.decisions.labels(result, code).inc();
    m.checkDuration.labels(result).observe(r.latency_ms / 1000);
    if (this.#decisionCache && r.policy_revision !== null) m.decisionCache.labels(r.cached ? "hit" : "miss").inc();
    m.identity.labels(carrier, r.spiffe_id === null ? code : "ok").inc();
    if (r.degraded?.includes("rate_local")) m.rateLocal.labels().inc();
    if (!r.allow && r.reasons.some((x) => x.startsWith(RATE_LIMITED))) {
      if (this.#agentLabels) m.rateLimited.labels(r.tenant ?? "", r.agent ?? "").inc();
      else m.rateLimited.labels().inc();
    }
    const t = this.#tracing;
    if (t === undefined) return traceIdOf(headers.traceparent);
    const span = t.tracer.startSpan(
      "hexr.authz.check",
      {
        kind: SpanKind.SERVER,
        startTime: started,
        attributes: {
          "hexr.decision_id": r.decision_id,
          "hexr.decision": result,
          "hexr.reasons": [...r.reasons],
          "hexr.reason_code": code,
          "hexr.service": r.service,
          "hexr.action": r.action,
          "hexr.actions": [...r.actions],
          "hexr.identity.carrier": carrier,
          "hexr.decision_cached": r.cached,
          ...(r.spiffe_id !== null ? { "hexr.spiffe_id": r.spiffe_id } : {}),
          ...(r.tenant !== null ? { "hexr.tenant": r.tenant } : {}),
          ...(r.agent !== null ? { "hexr.agent": r.agent } : {}),
          ...(r.role !== null ? { "hexr.role": r.role } : {}),
          ...(r.policy_revision !== null ? { "hexr.policy.revision": r.policy_revision } : {}),
          ...(r.credential_tier !== null ? { "hexr.credential.tier": r.credential_tier } : {}),
        },
      },
      t.parent(headers.traceparent, headers.tracestate),
    );
    // a deny is the policy working, not an error; an internal failure (fail closed) is
    if (code === "internal.error" || code === "policy.unavailable") {
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
    }
    if (credential) this.#credentialSpan(t, span, r, credential);
    const recording = span.isRecording();
    span.end();
    return recording || headers.traceparent !== undefined ? span.spanContext().traceId : null;
  }

  /** `hexr.cache.lookup`: the credential stage under the decision span (tier, provider, what was degraded). */
  #credentialSpan(t: Tracing, parent: Span, r: AuditRecord, c: CredentialTiming): void {
    const child = t.tracer.startSpan(
      "hexr.cache.lookup",
      {
        kind: SpanKind.INTERNAL,
        startTime: c.started,
        attributes: {
          "hexr.credential.provider": c.provider,
          "hexr.credential.tier": r.credential_tier ?? "none",
          ...(r.degraded ? { "hexr.degraded": [...r.degraded] } : {}),
        },
      },
      trace.setSpan(context.active(), parent),
    );
    if (r.credential_tier === null) {
      child.setStatus({ code: SpanStatusCode.ERROR, message: reasonCode(r.reasons[0]) });
    }
    child.end(c.ended);
  }
}

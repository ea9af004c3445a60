/**
 * Every metric the sidecar exposes, in one place: dashboards and alert rules are checked against these
 * names (test/unit/telemetry/dashboards.test.ts), so a panel can only query what exists.
 *
 * Labels are low-cardinality by construction: results, reason CODES (never a policy's free text), finding
 * types and subtypes, route names from config, LLM provider and model names (bounded by the registry's
 * series limit). SPIFFE IDs appear only on the per-SVID expiry gauge (one series per SVID this process
 * holds), never on per-request series. Tenant and agent labels are off unless `telemetry.metrics.agent_labels`.
 *
 * The GenAI metrics follow OpenTelemetry semantic conventions 1.45 (gen_ai.client.token.usage,
 * gen_ai.client.operation.duration), written in Prometheus form (dots to underscores, unit suffix).
 */
import { LATENCY_BUCKETS, Registry, TOKEN_BUCKETS } from "./metrics.ts";

/**
 * Series that must read 0 rather than be absent before their first event (alerts and panels on a rate of
 * them would otherwise see nothing): created at start.
 */
function zeroes(m: { labels(...v: string[]): unknown }, sets: readonly (readonly string[])[]): void {
  for (const v of sets) m.labels(...v);
}

export function authzMetrics(r: Registry, opts: { agentLabels: boolean }) {
  const m = authzMetricFamilies(r, opts);
  if (!opts.agentLabels) {
    zeroes(m.decisions, [
      ["deny", "internal.error"],
      ["deny", "policy.unavailable"],
    ]);
    zeroes(m.rateLimited, [[]]);
    zeroes(m.rateLocal, [[]]);
  }
  zeroes(m.policyReloads, [["ok"], ["failed"]]);
  return m;
}

function authzMetricFamilies(r: Registry, opts: { agentLabels: boolean }) {
  const who = opts.agentLabels ? ["tenant", "agent"] : [];
  return {
    decisions: r.counter("hexr_authz_decisions_total", "ext_authz decisions by result (allow, deny) and reason code.", [
      "result",
      "reason",
      ...who,
    ]),
    checkDuration: r.histogram(
      "hexr_authz_check_duration_seconds",
      "Time from a Check's arrival to its answer, by result.",
      ["result"],
      LATENCY_BUCKETS,
    ),
    decisionCache: r.counter("hexr_authz_decision_cache_total", "Decision cache lookups by result (hit, miss).", [
      "result",
    ]),
    identity: r.counter(
      "hexr_authz_identity_total",
      "Identities established per carrier (mtls, jwt_svid) and result (ok or the identity reason code).",
      ["carrier", "result"],
    ),
    rateLimited: r.counter("hexr_authz_rate_limited_total", "Checks denied by a rate limit.", who),
    rateLocal: r.counter(
      "hexr_authz_rate_local_total",
      "Checks whose rate count came from this sidecar alone because the shared counters (Redis) did not answer.",
    ),
    policyRevision: r.gauge("hexr_policy_revision_info", "The policy bundle in force (value 1, revision label).", [
      "revision",
    ]),
    policyReloads: r.counter("hexr_policy_reloads_total", "Policy bundle reloads by result (ok, failed).", ["result"]),
    policyLoadedAt: r.gauge(
      "hexr_policy_last_reload_timestamp_seconds",
      "When the policy in force was loaded (Unix seconds).",
    ),
    credentialLookups: r.counter(
      "hexr_credentials_cache_lookups_total",
      "Credential cache lookups by tier (l1, l2) and result (hit, miss).",
      ["provider", "tier", "result"],
    ),
    credentialExchanges: r.counter(
      "hexr_credentials_exchanges_total",
      "Credential exchanges with an issuer (STS) by provider and result (ok or the error code).",
      ["provider", "result"],
    ),
  };
}

export function identityMetrics(r: Registry) {
  const m = identityMetricFamilies(r);
  zeroes(m.svidRotations, [[]]);
  zeroes(m.jwtBundleUpdates, [[]]);
  return m;
}

function identityMetricFamilies(r: Registry) {
  return {
    svidExpiry: r.gauge(
      "hexr_svid_expiry_timestamp_seconds",
      "When each X.509-SVID this process holds expires (Unix seconds).",
      ["spiffe_id"],
    ),
    svidRotations: r.counter("hexr_svid_rotations_total", "X.509-SVID updates received from the Workload API."),
    workloadApiErrors: r.counter("hexr_workload_api_errors_total", "Workload API stream errors by code.", ["code"]),
    jwtBundleUpdates: r.counter("hexr_jwt_bundle_updates_total", "JWT bundle updates received from the Workload API."),
  };
}

export function guardMetrics(r: Registry) {
  return {
    streams: r.counter("hexr_extproc_streams_total", "ext_proc streams by route.", ["route"]),
    activeStreams: r.gauge("hexr_extproc_active_streams", "ext_proc streams open now."),
    streamDuration: r.histogram(
      "hexr_extproc_stream_duration_seconds",
      "ext_proc stream lifetime (request headers to end), by route.",
      ["route"],
      LATENCY_BUCKETS,
    ),
    phaseDuration: r.histogram(
      "hexr_extproc_message_duration_seconds",
      "Time the guard spent on one ext_proc message, by phase (request_headers, request_body, …).",
      ["phase"],
      LATENCY_BUCKETS,
    ),
    scans: r.counter("hexr_guard_scans_total", "Bodies scanned by route and phase (request, response).", [
      "route",
      "phase",
    ]),
    actions: r.counter(
      "hexr_guard_actions_total",
      "What the guard did with a body, by route, phase and action (allow, redact, block, invalid).",
      ["route", "phase", "action"],
    ),
    findings: r.counter("hexr_guard_findings_total", "Guard findings by type, subtype and the action taken.", [
      "type",
      "subtype",
      "action",
    ]),
    unscannable: r.counter(
      "hexr_guard_unscannable_total",
      "Bodies the guard could not scan, by route, phase and cause (too_large, encoding, media, parse, timeout, stream).",
      ["route", "phase", "cause"],
    ),
    tokenUsage: r.histogram(
      "gen_ai_client_token_usage",
      "Tokens per LLM call by type (input, output), as gen_ai.client.token.usage.",
      ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_token_type"],
      TOKEN_BUCKETS,
    ),
    operationDuration: r.histogram(
      "gen_ai_client_operation_duration_seconds",
      "LLM call duration seen by the guard, as gen_ai.client.operation.duration.",
      ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"],
      LATENCY_BUCKETS,
    ),
    timeToFirstToken: r.histogram(
      "hexr_llm_time_to_first_token_seconds",
      "Time from request to the first streamed response bytes, by provider.",
      ["gen_ai_provider_name"],
      LATENCY_BUCKETS,
    ),
    cost: r.counter("hexr_llm_cost_usd_total", "Estimated LLM spend from the configured price table, in USD.", [
      "gen_ai_provider_name",
      "gen_ai_request_model",
    ]),
  };
}

export function telemetryMetrics(r: Registry) {
  const m = telemetryMetricFamilies(r);
  zeroes(m.spansDropped, [[]]);
  zeroes(m.spansExported, [["ok"], ["failed"]]);
  return m;
}

function telemetryMetricFamilies(r: Registry) {
  return {
    spansDropped: r.counter(
      "hexr_trace_spans_dropped_total",
      "Spans dropped because the export queue was full (exporting never waits on a request).",
    ),
    spansExported: r.counter("hexr_trace_spans_exported_total", "Spans handed to the OTLP exporter by result.", [
      "result",
    ]),
  };
}

export function processMetrics(r: Registry) {
  const rss = r.gauge("hexr_process_resident_memory_bytes", "Resident set size of the sidecar process.");
  const heap = r.gauge("hexr_process_heap_used_bytes", "V8 heap in use on the main thread.");
  const start = r.gauge("hexr_process_start_time_seconds", "When the sidecar started (Unix seconds).");
  start.labels().set(Math.floor(Date.now() / 1000 - process.uptime()));
  const rssChild = rss.labels();
  const heapChild = heap.labels();
  rss.collect = () => rssChild.set(process.memoryUsage.rss());
  heap.collect = () => heapChild.set(process.memoryUsage().heapUsed);
  return { rss, heap, start };
}

export type AuthzMetrics = ReturnType<typeof authzMetrics>;
export type IdentityMetrics = ReturnType<typeof identityMetrics>;
export type GuardMetrics = ReturnType<typeof guardMetrics>;
export type TelemetryMetrics = ReturnType<typeof telemetryMetrics>;

/**
 * The names a full sidecar exposes (both threads), for tests that check dashboards and alert rules
 * against them. Histograms expose `_bucket`, `_sum` and `_count` series under their name.
 */
export function allMetricFamilies(): { name: string; kind: string; labels: readonly string[] }[] {
  const r = new Registry();
  authzMetrics(r, { agentLabels: true });
  identityMetrics(r);
  guardMetrics(r);
  telemetryMetrics(r);
  processMetrics(r);
  return r.families();
}

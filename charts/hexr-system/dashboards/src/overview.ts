/** Data-plane overview: is traffic flowing, how much is refused and why, is anything about to break. */
import { bars, type DashboardSpec, q, row, stat, timeseries } from "./panels.ts";
import { soonestSvidExpiry } from "./identity.ts";
import { mean, orZero, quantile, sumRate } from "./promql.ts";

const DECISIONS = "hexr_authz_decisions_total";
const FAIL_CLOSED = 'result="deny", reason=~"internal\\\\.error|policy\\\\.unavailable"';
const AGENT_LISTENERS = 'envoy_http_conn_manager_prefix!="admin"';

export const overview: DashboardSpec = {
  uid: "hexr-overview",
  title: "Hexr / Data plane overview",
  description:
    "One screen for the whole data plane: requests through Envoy, authorization decisions, the LLM guard, identity and the sidecar process. Start here; every other Hexr dashboard drills into one row.",
  tags: ["overview"],
  rows: [
    row("Now", [
      stat({
        title: "Authorization checks",
        description:
          "ext_authz Check calls answered per second by all selected sidecars. Zero while agents are busy means Envoy is not reaching the sidecar.",
        unit: "reqps",
        targets: [q(sumRate(DECISIONS))],
      }),
      stat({
        title: "Deny ratio",
        description:
          "Share of checks denied. A step change after a policy rollout is the first thing to look at; the Authorization dashboard breaks it down by reason.",
        unit: "percentunit",
        targets: [q(`${orZero(sumRate(DECISIONS, { where: 'result="deny"' }))} / ${sumRate(DECISIONS)}`)],
        thresholds: {
          base: "green",
          steps: [
            { value: 0.05, color: "orange" },
            { value: 0.25, color: "red" },
          ],
        },
        min: 0,
        max: 1,
      }),
      stat({
        title: "Fail-closed denials",
        description:
          "Denials because the sidecar itself failed (internal.error) or has no policy (policy.unavailable). These refuse legitimate traffic: anything above zero needs attention.",
        unit: "reqps",
        targets: [q(orZero(sumRate(DECISIONS, { where: FAIL_CLOSED })))],
        thresholds: { base: "green", steps: [{ value: 0.001, color: "red" }] },
      }),
      stat({
        title: "Check latency p99",
        description:
          "99th percentile of the time from a Check's arrival to its answer. Every request pays this before it leaves the pod.",
        unit: "s",
        targets: [q(quantile(0.99, "hexr_authz_check_duration_seconds"))],
        thresholds: {
          base: "green",
          steps: [
            { value: 0.01, color: "orange" },
            { value: 0.05, color: "red" },
          ],
        },
      }),
      soonestSvidExpiry(),
      stat({
        title: "Guard blocks",
        description:
          "Bodies the LLM guard refused per second (prompt injection, secrets, policy). A burst usually means one agent is looping on a blocked prompt.",
        unit: "reqps",
        targets: [q(orZero(sumRate("hexr_guard_actions_total", { where: 'action="block"' })))],
      }),
      stat({
        title: "Unscannable bodies",
        description:
          "Bodies the guard could not read (too large, encoding, media, parse, timeout). Depending on the route's fail mode they were refused or passed unscanned.",
        unit: "reqps",
        targets: [q(orZero(sumRate("hexr_guard_unscannable_total")))],
        thresholds: {
          base: "green",
          steps: [
            { value: 0.1, color: "orange" },
            { value: 1, color: "red" },
          ],
        },
      }),
      stat({
        title: "Envoy ext_authz errors",
        description:
          "Requests Envoy refused because the Check call itself failed (sidecar unreachable, timeout). Fail closed: these never reached the upstream.",
        unit: "reqps",
        targets: [q(sumRate("envoy_http_ext_authz_error"))],
        thresholds: { base: "green", steps: [{ value: 0.001, color: "red" }] },
      }),
    ]),
    row("Traffic", [
      timeseries({
        title: "Requests through Envoy by listener",
        description:
          "Downstream requests per second on each Envoy listener: outbound (agent → cloud/LLM), outbound_jwt (JWT-SVID callers), inbound (agent-to-agent).",
        unit: "reqps",
        targets: [
          q(
            sumRate("envoy_http_downstream_rq_total", {
              where: AGENT_LISTENERS,
              by: ["envoy_http_conn_manager_prefix"],
            }),
            "{{envoy_http_conn_manager_prefix}}",
          ),
        ],
      }),
      timeseries({
        title: "Responses by status class",
        description:
          "Envoy's responses to agents by status class. 403s are denials (policy or fail closed), 404s unknown hosts, 5xx upstream or guard failures.",
        unit: "reqps",
        targets: [
          q(
            sumRate("envoy_http_downstream_rq_xx", { where: AGENT_LISTENERS, by: ["envoy_response_code_class"] }),
            "{{envoy_response_code_class}}xx",
          ),
        ],
      }),
      timeseries({
        title: "Decisions by result",
        description: "Authorization decisions per second, allowed and denied.",
        unit: "reqps",
        targets: [q(sumRate(DECISIONS, { by: ["result"] }), "{{result}}")],
      }),
      bars({
        title: "Top deny reasons",
        description:
          "The most frequent deny reason codes over the dashboard's time range. Reason codes are stable (identity.*, policy.*, jwt_svid.*): search the audit log for the code to see the requests.",
        unit: "short",
        targets: [q(`topk(10, sum by (reason) (increase(${DECISIONS}{result="deny"}[$__range])))`, "{{reason}}")],
      }),
    ]),
    row("Sidecar", [
      timeseries({
        title: "Check latency (mean and p99)",
        description:
          "Mean and 99th percentile Check latency. A rising mean with a flat p99 is load; a rising p99 alone is usually policy evaluation or a cold decision cache.",
        unit: "s",
        targets: [
          q(mean("hexr_authz_check_duration_seconds"), "mean"),
          q(quantile(0.99, "hexr_authz_check_duration_seconds"), "p99"),
        ],
      }),
      timeseries({
        title: "Sidecar memory",
        description:
          "Resident memory and V8 heap of each sidecar. Steady growth with flat traffic is a leak; compare with the pod's memory limit.",
        unit: "bytes",
        targets: [
          q("max by (instance) (hexr_process_resident_memory_bytes)", "rss {{instance}}"),
          q("max by (instance) (hexr_process_heap_used_bytes)", "heap {{instance}}"),
        ],
      }),
      timeseries({
        title: "Sidecar uptime",
        description: "Time since each sidecar started. A sawtooth means restarts (crash loop or OOM kill).",
        unit: "s",
        targets: [q("time() - max by (instance) (hexr_process_start_time_seconds)", "{{instance}}")],
      }),
      timeseries({
        title: "Trace spans dropped",
        description:
          "Spans dropped because the export queue was full. Exporting never slows a request, so a collector outage shows up here, not as latency.",
        unit: "cps",
        targets: [q(sumRate("hexr_trace_spans_dropped_total", { by: ["instance"] }), "{{instance}}")],
      }),
      timeseries({
        title: "Trace spans exported by result",
        description:
          "Spans handed to the OTLP exporter per second, by export result. Failed exports with no drops mean the collector rejects spans; check its logs.",
        unit: "cps",
        targets: [q(sumRate("hexr_trace_spans_exported_total", { by: ["result"] }), "{{result}}")],
      }),
      timeseries({
        title: "Label sets over the series limit",
        description:
          "Label sets recorded as _other because a metric reached its series limit. Non-zero means some panel's breakdown is lumping values together: too many routes, models or reason codes for the limit.",
        unit: "cps",
        targets: [q(sumRate("hexr_telemetry_series_overflow_total", { by: ["instance"] }), "{{instance}}")],
      }),
    ]),
  ],
};

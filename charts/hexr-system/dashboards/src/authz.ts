/** Authorization: every ext_authz decision, why it was made, how long it took, which policy made it. */
import { bars, type DashboardSpec, q, row, stat, table, timeseries } from "./panels.ts";
import { mean, orZero, quantile, sumIncrease, sumRate } from "./promql.ts";

const DECISIONS = "hexr_authz_decisions_total";
const CHECK = "hexr_authz_check_duration_seconds";
const FAIL_CLOSED = 'result="deny", reason=~"internal\\\\.error|policy\\\\.unavailable"';

export const authz: DashboardSpec = {
  uid: "hexr-authz",
  title: "Hexr / Authorization",
  description:
    "ext_authz decisions: allow and deny by reason code, fail-closed denials, Check latency, the decision cache, identity verification, rate limits and the policy bundle in force.",
  tags: ["authz"],
  rows: [
    row("Decisions", [
      timeseries({
        title: "Decisions by result",
        description: "Checks per second, allowed and denied.",
        unit: "reqps",
        targets: [q(sumRate(DECISIONS, { by: ["result"] }), "{{result}}")],
      }),
      timeseries({
        title: "Denials by reason code",
        description:
          "Denials per second by stable reason code: identity.* (no or bad client identity), jwt_svid.*, policy.denied (the policy said no), policy.rate_limited, internal.error / policy.unavailable (fail closed).",
        unit: "reqps",
        targets: [q(sumRate(DECISIONS, { where: 'result="deny"', by: ["reason"] }), "{{reason}}")],
      }),
      timeseries({
        title: "Fail-closed denials",
        description:
          "Denials caused by the sidecar, not by policy: internal.error (an unexpected failure while deciding) and policy.unavailable (no policy bundle loaded). Each one refused a request that policy might have allowed.",
        unit: "reqps",
        targets: [q(sumRate(DECISIONS, { where: FAIL_CLOSED, by: ["reason"] }), "{{reason}}")],
      }),
      stat({
        title: "Denied over the range",
        description: "Total denials in the dashboard's time range.",
        unit: "short",
        targets: [q(orZero(sumIncrease(DECISIONS, { where: 'result="deny"' })))],
      }),
      stat({
        title: "Fail-closed share of denials",
        description:
          "Fraction of denials that came from sidecar failures rather than policy. Near zero in a healthy system.",
        unit: "percentunit",
        targets: [
          q(
            `${orZero(sumRate(DECISIONS, { where: FAIL_CLOSED }))} / ${sumRate(DECISIONS, { where: 'result="deny"' })}`,
          ),
        ],
        thresholds: {
          base: "green",
          steps: [
            { value: 0.01, color: "orange" },
            { value: 0.1, color: "red" },
          ],
        },
        min: 0,
        max: 1,
      }),
      bars({
        title: "Denials by tenant (top 10)",
        description:
          "Tenants with the most denials over the range. Empty tenant labels mean telemetry.metrics.agent_labels is off (the default: tenant and agent are not recorded).",
        unit: "short",
        targets: [q(`topk(10, sum by (tenant) (increase(${DECISIONS}{result="deny"}[$__range])))`, "{{tenant}}")],
      }),
      bars({
        title: "Denials by agent (top 10)",
        description:
          "Agents with the most denials over the range (needs telemetry.metrics.agent_labels). One agent at the top is usually a misconfigured role or a loop.",
        unit: "short",
        targets: [
          q(
            `topk(10, sum by (tenant, agent) (increase(${DECISIONS}{result="deny"}[$__range])))`,
            "{{tenant}}/{{agent}}",
          ),
        ],
      }),
    ]),
    row("Latency", [
      timeseries({
        title: "Check latency percentiles",
        description: "p50, p90 and p99 of the time from a Check's arrival to its answer, over all results.",
        unit: "s",
        targets: [q(quantile(0.5, CHECK), "p50"), q(quantile(0.9, CHECK), "p90"), q(quantile(0.99, CHECK), "p99")],
      }),
      timeseries({
        title: "Check latency p99 by result",
        description:
          "p99 latency of allowed and denied checks separately. Allowed checks that need a credential exchange are slower; a slow deny path points at identity verification.",
        unit: "s",
        targets: [q(quantile(0.99, CHECK, { by: ["result"] }), "{{result}}")],
      }),
      timeseries({
        title: "Mean check latency",
        description: "Average Check latency: total time spent deciding divided by the number of checks.",
        unit: "s",
        targets: [q(mean(CHECK), "mean")],
      }),
      timeseries({
        title: "Decision cache hit ratio",
        needs: "decision_cache",
        description:
          "Share of checks answered from the decision cache without evaluating the policy; it drops to zero after every policy reload, then recovers. Empty unless authz.decision_cache.max_entries > 0: the cache is off by default, because the policy input's per-agent call count makes every input new.",
        unit: "percentunit",
        min: 0,
        max: 1,
        targets: [
          q(
            `${orZero(sumRate("hexr_authz_decision_cache_total", { where: 'result="hit"' }))} / ${sumRate("hexr_authz_decision_cache_total")}`,
            "hit ratio",
          ),
        ],
      }),
    ]),
    row("Identity and limits", [
      timeseries({
        title: "Identities by carrier and result",
        description:
          "How callers proved who they are: mtls (peer certificate) or jwt_svid (header), ok or the identity reason code.",
        unit: "reqps",
        targets: [q(sumRate("hexr_authz_identity_total", { by: ["carrier", "result"] }), "{{carrier}} {{result}}")],
      }),
      timeseries({
        title: "Identity failures",
        description:
          "Checks whose caller identity could not be established, by reason code (expired certificate, wrong trust domain, bad JWT-SVID …).",
        unit: "reqps",
        targets: [
          q(
            sumRate("hexr_authz_identity_total", { where: 'result!="ok"', by: ["carrier", "result"] }),
            "{{carrier}} {{result}}",
          ),
        ],
      }),
      timeseries({
        title: "Rate-limited checks",
        description: "Checks denied by a rate limit, by tenant and agent when agent labels are on.",
        unit: "reqps",
        targets: [q(sumRate("hexr_authz_rate_limited_total", { by: ["tenant", "agent"] }), "{{tenant}}/{{agent}}")],
      }),
      timeseries({
        title: "Rate counts from one sidecar only",
        description:
          "Checks whose per-agent call count came from this sidecar's own counter because the shared counters (Redis) did not answer: limits then hold per replica, not per agent.",
        unit: "reqps",
        targets: [q(sumRate("hexr_authz_rate_local_total"))],
      }),
    ]),
    row("Policy", [
      table({
        title: "Sidecars per policy revision",
        description:
          "How many sidecars run each policy bundle revision. More than one row for long means a rollout is stuck or some sidecars cannot read the new bundle.",
        unit: "short",
        targets: [q("count by (revision) (hexr_policy_revision_info)")],
      }),
      timeseries({
        title: "Policy reloads by result",
        description:
          "Policy bundle reloads, ok and failed. A failed reload keeps the previous policy in force; see the sidecar log for the bundle error.",
        unit: "short",
        targets: [
          q(sumIncrease("hexr_policy_reloads_total", { by: ["result"], window: "$__rate_interval" }), "{{result}}"),
        ],
      }),
      timeseries({
        title: "Policy age",
        description:
          "Time since each sidecar loaded the policy in force. Ages that keep growing while a new bundle was published mean the sidecar is not seeing it.",
        unit: "s",
        targets: [q("time() - max by (instance) (hexr_policy_last_reload_timestamp_seconds)", "{{instance}}")],
      }),
    ]),
  ],
};

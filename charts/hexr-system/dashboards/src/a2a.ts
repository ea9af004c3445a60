/**
 * Agent-to-agent (A2A): the sidecar has no A2A metrics yet (A2A validation is not built), but the
 * `inbound` Envoy listener carries only agent-to-agent calls, so Envoy's stats for that connection
 * manager already show who is calling this agent and how many calls are refused. Every panel is marked
 * `needs: "a2a"`: the series exist when the bootstrap has an inbound listener and agents call it.
 */
import { type DashboardSpec, type PanelSpec, q, row, stat, timeseries } from "./panels.ts";
import { quantile, sumRate } from "./promql.ts";

const INBOUND = 'envoy_http_conn_manager_prefix="inbound"';
const needs = (p: PanelSpec): PanelSpec => ({ ...p, needs: "a2a" });

export const a2a: DashboardSpec = {
  uid: "hexr-a2a",
  title: "Hexr / Agent-to-agent",
  description:
    "Agent-to-agent calls arriving on the inbound listener (mTLS, caller SPIFFE ID checked): request rate, authorization outcomes, guard streams, latency and the local agent's answers. From Envoy's stats until the sidecar has A2A metrics of its own.",
  tags: ["a2a"],
  rows: [
    row("Inbound calls", [
      needs(
        stat({
          title: "Inbound calls",
          description: "Agent-to-agent requests per second arriving at the selected agents.",
          unit: "reqps",
          targets: [q(sumRate("envoy_http_downstream_rq_total", { where: INBOUND }))],
        }),
      ),
      needs(
        stat({
          title: "Inbound deny ratio",
          description:
            "Share of inbound calls the authorization policy denied (who-may-talk-to-whom). A jump after deploying a new caller means its role is missing from the policy.",
          unit: "percentunit",
          min: 0,
          max: 1,
          targets: [
            q(
              `${sumRate("envoy_http_ext_authz_denied", { where: INBOUND })} / (${sumRate("envoy_http_ext_authz_ok", { where: INBOUND })} + ${sumRate("envoy_http_ext_authz_denied", { where: INBOUND })} + ${sumRate("envoy_http_ext_authz_error", { where: INBOUND })})`,
            ),
          ],
        }),
      ),
      needs(
        stat({
          title: "Active inbound connections",
          description: "Open mTLS connections from other agents now.",
          unit: "short",
          targets: [q(`sum(envoy_http_downstream_cx_active{${INBOUND}})`)],
        }),
      ),
      needs(
        stat({
          title: "Inbound latency p99",
          description:
            "99th percentile of inbound call duration at Envoy, including authorization, the guard and the local agent.",
          unit: "ms",
          targets: [q(quantile(0.99, "envoy_http_downstream_rq_time", { where: INBOUND }))],
        }),
      ),
      needs(
        timeseries({
          title: "Inbound authorization outcomes",
          description:
            "ext_authz outcomes on the inbound listener: ok, denied by policy, error (the authz server failed; the call was refused).",
          unit: "reqps",
          targets: [
            q(sumRate("envoy_http_ext_authz_ok", { where: INBOUND }), "ok"),
            q(sumRate("envoy_http_ext_authz_denied", { where: INBOUND }), "denied"),
            q(sumRate("envoy_http_ext_authz_error", { where: INBOUND }), "error"),
          ],
        }),
      ),
      needs(
        timeseries({
          title: "Inbound responses by status class",
          description:
            "Responses to calling agents by status class: 403 denied, 5xx the local agent or the guard failed.",
          unit: "reqps",
          targets: [
            q(
              sumRate("envoy_http_downstream_rq_xx", { where: INBOUND, by: ["envoy_response_code_class"] }),
              "{{envoy_response_code_class}}xx",
            ),
          ],
        }),
      ),
      needs(
        timeseries({
          title: "Inbound guard streams",
          description:
            "ext_proc streams on inbound calls (A2A message checks): started, failed, and calls answered by the processor itself (refused).",
          unit: "reqps",
          targets: [
            q(sumRate("envoy_http_ext_proc_streams_started", { where: INBOUND }), "started"),
            q(sumRate("envoy_http_ext_proc_streams_failed", { where: INBOUND }), "failed"),
            q(sumRate("envoy_http_ext_proc_immediate_responses_sent", { where: INBOUND }), "answered by guard"),
          ],
        }),
      ),
      needs(
        timeseries({
          title: "Local agent answers",
          description:
            "Responses from the local agent to forwarded inbound calls, by status class. 5xx here is the agent, not the data plane.",
          unit: "reqps",
          targets: [
            q(
              sumRate("envoy_cluster_upstream_rq_xx", {
                where: 'envoy_cluster_name="local_agent"',
                by: ["envoy_response_code_class"],
              }),
              "{{envoy_response_code_class}}xx",
            ),
          ],
        }),
      ),
    ]),
  ],
};

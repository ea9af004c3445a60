/** Envoy's own view: ext_authz and ext_proc filter stats, TLS on the listeners, HTTP and upstreams. */
import { type DashboardSpec, q, row, stat, timeseries } from "./panels.ts";
import { quantile, sumIncrease, sumRate } from "./promql.ts";

const BY_LISTENER = { by: ["envoy_http_conn_manager_prefix"] };
const AGENT_LISTENERS = 'envoy_http_conn_manager_prefix!="admin"';
const SIDECAR_CLUSTERS = 'envoy_cluster_name=~"hexr_authz|hexr_ext_proc"';
const L = "{{envoy_http_conn_manager_prefix}}";

export const envoy: DashboardSpec = {
  uid: "hexr-envoy",
  title: "Hexr / Envoy",
  description:
    "Envoy's own statistics for the data plane: the ext_authz and ext_proc filters (both fail closed), TLS handshakes and verification failures on the listeners, HTTP traffic per listener, the sidecar and upstream clusters, and the Envoy process.",
  tags: ["envoy"],
  rows: [
    row("ext_authz filter", [
      stat({
        title: "Requests allowed without authorization",
        description:
          "ext_authz failure_mode_allowed over the range: requests let through because the Check failed. The Hexr bootstrap sets failure_mode_allow false, so anything but 0 means a hand-edited or foreign Envoy config.",
        unit: "short",
        targets: [q(sumIncrease("envoy_http_ext_authz_failure_mode_allowed"))],
        thresholds: { base: "green", steps: [{ value: 1, color: "red" }] },
      }),
      stat({
        title: "ext_authz errors over the range",
        description:
          "Checks that failed (sidecar unreachable, timeout, gRPC error) over the range; each request was refused with status_on_error.",
        unit: "short",
        targets: [q(sumIncrease("envoy_http_ext_authz_error"))],
        thresholds: { base: "green", steps: [{ value: 1, color: "orange" }] },
      }),
      stat({
        title: "Invalid ext_authz responses",
        description: "Check responses Envoy could not apply (invalid header mutations from the server) over the range.",
        unit: "short",
        targets: [q(sumIncrease("envoy_http_ext_authz_invalid"))],
        thresholds: { base: "green", steps: [{ value: 1, color: "red" }] },
      }),
      stat({
        title: "Authz cluster latency p99",
        description:
          "99th percentile of Check round trips as Envoy sees them (the hexr_authz cluster), including the socket hop the sidecar's own histogram does not see.",
        unit: "ms",
        targets: [q(quantile(0.99, "envoy_cluster_upstream_rq_time", { where: 'envoy_cluster_name="hexr_authz"' }))],
      }),
      timeseries({
        title: "ext_authz outcomes",
        description: "ext_authz results per second across listeners: ok, denied, error, disabled (per-route off).",
        unit: "reqps",
        targets: [
          q(sumRate("envoy_http_ext_authz_ok"), "ok"),
          q(sumRate("envoy_http_ext_authz_denied"), "denied"),
          q(sumRate("envoy_http_ext_authz_error"), "error"),
          q(sumRate("envoy_http_ext_authz_disabled"), "disabled"),
        ],
      }),
      timeseries({
        title: "ext_authz errors by listener",
        description:
          "Failed Checks per listener. Errors with no sidecar-side denials mean Envoy cannot reach the sidecar (socket path, sidecar down, timeout too short).",
        unit: "reqps",
        targets: [q(sumRate("envoy_http_ext_authz_error", BY_LISTENER), L)],
      }),
    ]),
    row("ext_proc filter", [
      timeseries({
        title: "ext_proc streams",
        description:
          "ext_proc streams started, closed and failed per second. Failed streams refuse the request (fail closed).",
        unit: "reqps",
        targets: [
          q(sumRate("envoy_http_ext_proc_streams_started"), "started"),
          q(sumRate("envoy_http_ext_proc_streams_closed"), "closed"),
          q(sumRate("envoy_http_ext_proc_streams_failed"), "failed"),
        ],
      }),
      timeseries({
        title: "ext_proc messages",
        description:
          "Messages Envoy sent to and received from the guard per second. Bodies are several messages each when streamed.",
        unit: "cps",
        targets: [
          q(sumRate("envoy_http_ext_proc_stream_msgs_sent"), "sent"),
          q(sumRate("envoy_http_ext_proc_stream_msgs_received"), "received"),
        ],
      }),
      timeseries({
        title: "ext_proc timeouts and protocol errors",
        description:
          "Message timeouts (the guard took longer than message_timeout), spurious messages (protocol violations) and failure_mode_allowed (must stay 0: the bootstrap fails closed).",
        unit: "cps",
        targets: [
          q(sumRate("envoy_http_ext_proc_message_timeouts"), "message timeouts"),
          q(sumRate("envoy_http_ext_proc_spurious_msgs_received"), "spurious"),
          q(sumRate("envoy_http_ext_proc_failure_mode_allowed"), "failure_mode_allowed"),
        ],
      }),
      timeseries({
        title: "Requests answered by ext_proc",
        description:
          "Immediate responses from the ext_proc path per listener: guard blocks and, when a stream fails, Envoy's own status_on_error answer.",
        unit: "reqps",
        targets: [q(sumRate("envoy_http_ext_proc_immediate_responses_sent", BY_LISTENER), L)],
      }),
      timeseries({
        title: "Rejected header mutations",
        description:
          "Header changes from the guard that Envoy refused (system headers are off-limits). Non-zero means a guard bug.",
        unit: "cps",
        targets: [q(sumRate("envoy_http_ext_proc_rejected_header_mutations", BY_LISTENER), L)],
      }),
      timeseries({
        title: "Guard cluster latency p99",
        description:
          "99th percentile duration of requests on the hexr_ext_proc cluster as Envoy sees them (a stream lasts as long as its HTTP request).",
        unit: "ms",
        targets: [
          q(quantile(0.99, "envoy_cluster_upstream_rq_time", { where: 'envoy_cluster_name="hexr_ext_proc"' }), "p99"),
        ],
      }),
    ]),
    row("TLS", [
      timeseries({
        title: "TLS handshakes by listener",
        description: "Successful TLS handshakes per second on each listener address.",
        unit: "cps",
        targets: [
          q(sumRate("envoy_listener_ssl_handshake", { by: ["envoy_listener_address"] }), "{{envoy_listener_address}}"),
        ],
      }),
      timeseries({
        title: "TLS failures by kind",
        description:
          "Failed downstream TLS: connection_error (handshake failed), fail_verify_no_cert (client sent no certificate), fail_verify_error (not signed by the trust bundle), fail_verify_san (SPIFFE ID not allowed on this listener).",
        unit: "cps",
        targets: [
          q(sumRate("envoy_listener_ssl_connection_error"), "connection_error"),
          q(sumRate("envoy_listener_ssl_fail_verify_no_cert"), "fail_verify_no_cert"),
          q(sumRate("envoy_listener_ssl_fail_verify_error"), "fail_verify_error"),
          q(sumRate("envoy_listener_ssl_fail_verify_san"), "fail_verify_san"),
        ],
      }),
      timeseries({
        title: "TLS versions negotiated",
        description: "Handshakes per second by TLS version. Anything older than TLSv1.2 here is a client to chase.",
        unit: "cps",
        targets: [q(sumRate("envoy_listener_ssl_versions", { by: ["envoy_ssl_version"] }), "{{envoy_ssl_version}}")],
      }),
      timeseries({
        title: "Upstream TLS errors by cluster",
        description:
          "TLS failures Envoy hit when originating TLS to upstreams: connection errors and SAN mismatches (wrong SNI or a spoofed endpoint).",
        unit: "cps",
        targets: [
          q(
            sumRate("envoy_cluster_ssl_connection_error", { by: ["envoy_cluster_name"] }),
            "{{envoy_cluster_name}} connection_error",
          ),
          q(
            sumRate("envoy_cluster_ssl_fail_verify_san", { by: ["envoy_cluster_name"] }),
            "{{envoy_cluster_name}} fail_verify_san",
          ),
        ],
      }),
    ]),
    row("HTTP", [
      timeseries({
        title: "Requests by listener",
        description: "Downstream requests per second per connection manager.",
        unit: "reqps",
        targets: [q(sumRate("envoy_http_downstream_rq_total", { where: AGENT_LISTENERS, ...BY_LISTENER }), L)],
      }),
      timeseries({
        title: "Responses by listener and class",
        description: "Responses per second per listener and status class.",
        unit: "reqps",
        targets: [
          q(
            sumRate("envoy_http_downstream_rq_xx", {
              where: AGENT_LISTENERS,
              by: ["envoy_http_conn_manager_prefix", "envoy_response_code_class"],
            }),
            `${L} {{envoy_response_code_class}}xx`,
          ),
        ],
      }),
      timeseries({
        title: "Request duration p99 by listener",
        description:
          "99th percentile of the whole request at Envoy (authz, guard, upstream). For LLM routes this is dominated by the provider.",
        unit: "ms",
        targets: [q(quantile(0.99, "envoy_http_downstream_rq_time", { where: AGENT_LISTENERS, ...BY_LISTENER }), L)],
      }),
      timeseries({
        title: "Active connections and requests",
        description: "Open downstream connections and in-flight requests per listener.",
        unit: "short",
        targets: [
          q(
            `sum by (envoy_http_conn_manager_prefix) (envoy_http_downstream_cx_active{${AGENT_LISTENERS}})`,
            `${L} connections`,
          ),
          q(
            `sum by (envoy_http_conn_manager_prefix) (envoy_http_downstream_rq_active{${AGENT_LISTENERS}})`,
            `${L} requests`,
          ),
        ],
      }),
      timeseries({
        title: "Rejected and timed-out requests",
        description:
          "Requests Envoy refused on its own: paths that failed normalization (traversal attempts, escaped slashes), request headers not sent in time (slow loris), and request timeouts.",
        unit: "cps",
        targets: [
          q(
            sumRate("envoy_http_downstream_rq_failed_path_normalization", { where: AGENT_LISTENERS }),
            "failed path normalization",
          ),
          q(sumRate("envoy_http_downstream_rq_header_timeout", { where: AGENT_LISTENERS }), "header timeout"),
          q(sumRate("envoy_http_downstream_rq_timeout", { where: AGENT_LISTENERS }), "request timeout"),
        ],
      }),
      timeseries({
        title: "Connections closed at max duration",
        description:
          "Connections drained because they reached max_connection_duration. The cap bounds how long an identity checked at the handshake stays trusted; a steady trickle is expected.",
        unit: "cps",
        targets: [
          q(sumRate("envoy_http_downstream_cx_max_duration_reached", { where: AGENT_LISTENERS, ...BY_LISTENER }), L),
        ],
      }),
    ]),
    row("Upstreams", [
      timeseries({
        title: "Upstream latency p99 by cluster",
        description:
          "99th percentile upstream request time per cluster (cloud APIs, LLM providers, the local agent, the sidecar's own services).",
        unit: "ms",
        targets: [
          q(quantile(0.99, "envoy_cluster_upstream_rq_time", { by: ["envoy_cluster_name"] }), "{{envoy_cluster_name}}"),
        ],
      }),
      timeseries({
        title: "Upstream 5xx by cluster",
        description: "5xx responses per second from each upstream cluster.",
        unit: "reqps",
        targets: [
          q(
            sumRate("envoy_cluster_upstream_rq_xx", {
              where: 'envoy_response_code_class="5"',
              by: ["envoy_cluster_name"],
            }),
            "{{envoy_cluster_name}}",
          ),
        ],
      }),
      timeseries({
        title: "Upstream timeouts by cluster",
        description: "Upstream requests that hit the route timeout, per cluster.",
        unit: "cps",
        targets: [
          q(sumRate("envoy_cluster_upstream_rq_timeout", { by: ["envoy_cluster_name"] }), "{{envoy_cluster_name}}"),
        ],
      }),
      timeseries({
        title: "Sidecar cluster connect failures",
        description:
          "Failed connections from Envoy to the sidecar's authz and ext_proc sockets. Any value here turns into ext_authz/ext_proc errors and refused requests.",
        unit: "cps",
        targets: [
          q(
            sumRate("envoy_cluster_upstream_cx_connect_fail", { where: SIDECAR_CLUSTERS, by: ["envoy_cluster_name"] }),
            "{{envoy_cluster_name}}",
          ),
        ],
      }),
    ]),
    row("Server", [
      stat({
        title: "Envoy live",
        description: "1 when every selected Envoy reports itself live (the lowest value across them).",
        unit: "bool",
        targets: [q("min(envoy_server_live)")],
        thresholds: { base: "red", steps: [{ value: 1, color: "green" }] },
      }),
      stat({
        title: "Envoy uptime",
        description: "Shortest uptime across the selected Envoys; small values mean a restart.",
        unit: "s",
        targets: [q("min(envoy_server_uptime)")],
      }),
      timeseries({
        title: "Envoy memory allocated",
        description: "Heap memory allocated by each Envoy.",
        unit: "bytes",
        targets: [q("max by (instance) (envoy_server_memory_allocated)", "{{instance}}")],
      }),
    ]),
  ],
};

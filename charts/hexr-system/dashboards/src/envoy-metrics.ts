/**
 * The Envoy statistics the dashboards and alert rules read, as Envoy 1.40's admin `/stats/prometheus`
 * names them: the dotted stat name with its tags extracted into labels (`http.outbound.ext_authz.ok` →
 * `envoy_http_ext_authz_ok{envoy_http_conn_manager_prefix="outbound"}`), dots to underscores, `envoy_`
 * in front. Counters keep their name (no `_total`); histograms expose `_bucket{le}`, `_sum`, `_count`, in
 * milliseconds for Envoy's `*_time` / `*_ms` timers.
 *
 * Each entry names the Envoy doc page that defines the stat. Every name and label set here was also checked
 * against the output of a real Envoy 1.40.0 running the sidecar bootstrap (`renderSidecarBootstrap`: the
 * `outbound`, `outbound_jwt` and `inbound` connection managers, clusters `hexr_authz`, `hexr_ext_proc`,
 * `local_agent`, one per upstream). Tag names come from Envoy's default tag extractors
 * (source/common/config/well_known_names.cc; `stats_config.use_all_default_tags` defaults to true).
 *
 * Laziness matters for panels: the `http.*` filter and connection-manager stats, `listener.*` and
 * `cluster.*` connection stats exist from start-up at 0; `cluster.<target>.ext_authz.*` and
 * `cluster.*.upstream_rq_time` appear only after the first request that produces them.
 */

export interface EnvoyMetric {
  /** Prometheus family name (histograms: without `_bucket`/`_sum`/`_count`). */
  name: string;
  kind: "counter" | "gauge" | "histogram";
  labels: readonly string[];
  /** Envoy's own dotted stat name, with its tag placeholders. */
  stat: string;
  /** The Envoy documentation page that defines it. */
  doc: string;
}

const DOCS = "https://www.envoyproxy.io/docs/envoy/latest";
export const ENVOY_DOCS = {
  extAuthz: `${DOCS}/configuration/http/http_filters/ext_authz_filter#statistics`,
  extProc: `${DOCS}/configuration/http/http_filters/ext_proc_filter#statistics`,
  hcm: `${DOCS}/configuration/http/http_conn_man/stats`,
  listener: `${DOCS}/configuration/listeners/stats`,
  sds: `${DOCS}/configuration/security/secret#statistics`,
  cluster: `${DOCS}/configuration/upstream/cluster_manager/cluster_stats`,
  server: `${DOCS}/configuration/observability/statistics`,
  prometheus: `${DOCS}/operations/admin#get--stats-prometheus`,
} as const;

const HCM = ["envoy_http_conn_manager_prefix"] as const;
const LISTENER = ["envoy_listener_address"] as const;
const CLUSTER = ["envoy_cluster_name"] as const;

function family(
  name: string,
  kind: EnvoyMetric["kind"],
  labels: readonly string[],
  stat: string,
  doc: string,
): EnvoyMetric {
  return { name, kind, labels, stat, doc };
}

const extAuthz = (s: string) =>
  family(`envoy_http_ext_authz_${s}`, "counter", HCM, `http.<stat_prefix>.ext_authz.${s}`, ENVOY_DOCS.extAuthz);
const extProc = (s: string) =>
  family(`envoy_http_ext_proc_${s}`, "counter", HCM, `http.<stat_prefix>.ext_proc.${s}`, ENVOY_DOCS.extProc);
const hcm = (s: string, kind: EnvoyMetric["kind"] = "counter") =>
  family(`envoy_http_${s}`, kind, HCM, `http.<stat_prefix>.${s}`, ENVOY_DOCS.hcm);
const ssl = (s: string) =>
  family(`envoy_listener_ssl_${s}`, "counter", LISTENER, `listener.<address>.ssl.${s}`, ENVOY_DOCS.listener);
const cluster = (s: string, kind: EnvoyMetric["kind"] = "counter") =>
  family(`envoy_cluster_${s}`, kind, CLUSTER, `cluster.<name>.${s}`, ENVOY_DOCS.cluster);
const server = (s: string, kind: EnvoyMetric["kind"] = "gauge") =>
  family(`envoy_server_${s}`, kind, [], `server.${s}`, ENVOY_DOCS.server);

/** Every Envoy family a dashboard panel or alert rule may reference. */
export const ENVOY_METRICS: readonly EnvoyMetric[] = [
  // ext_authz HTTP filter, per connection manager (eager)
  extAuthz("ok"),
  extAuthz("denied"),
  extAuthz("error"),
  extAuthz("disabled"),
  extAuthz("failure_mode_allowed"),
  extAuthz("invalid"),
  // ext_proc HTTP filter, per connection manager (eager)
  extProc("streams_started"),
  extProc("streams_closed"),
  extProc("streams_failed"),
  extProc("stream_msgs_sent"),
  extProc("stream_msgs_received"),
  extProc("failure_mode_allowed"),
  extProc("message_timeouts"),
  extProc("immediate_responses_sent"),
  extProc("rejected_header_mutations"),
  extProc("spurious_msgs_received"),
  // HTTP connection manager
  hcm("downstream_rq_total"),
  family(
    "envoy_http_downstream_rq_xx",
    "counter",
    [...HCM, "envoy_response_code_class"],
    "http.<stat_prefix>.downstream_rq_<N>xx",
    ENVOY_DOCS.hcm,
  ),
  hcm("downstream_rq_time", "histogram"),
  hcm("downstream_rq_active", "gauge"),
  hcm("downstream_cx_active", "gauge"),
  hcm("downstream_cx_ssl_total"),
  hcm("downstream_cx_max_duration_reached"),
  hcm("downstream_rq_failed_path_normalization"),
  hcm("downstream_rq_header_timeout"),
  hcm("downstream_rq_timeout"),
  // listener TLS
  ssl("handshake"),
  ssl("connection_error"),
  ssl("fail_verify_no_cert"),
  ssl("fail_verify_error"),
  ssl("fail_verify_san"),
  ssl("no_certificate"),
  family(
    "envoy_listener_ssl_versions",
    "counter",
    [...LISTENER, "envoy_ssl_version"],
    "listener.<address>.ssl.versions.<version>",
    ENVOY_DOCS.listener,
  ),
  family(
    "envoy_listener_ssl_certificate_expiration_unix_time_seconds",
    "gauge",
    [...LISTENER, "envoy_tls_certificate"],
    "listener.<address>.ssl.certificate.<name>.expiration_unix_time_seconds",
    ENVOY_DOCS.listener,
  ),
  family(
    "envoy_listener_downstream_cx_active",
    "gauge",
    LISTENER,
    "listener.<address>.downstream_cx_active",
    ENVOY_DOCS.listener,
  ),
  // SDS on the listener's TLS socket factory
  family(
    "envoy_listener_server_ssl_socket_factory_ssl_context_update_by_sds",
    "counter",
    LISTENER,
    "listener.<address>.server_ssl_socket_factory.ssl_context_update_by_sds",
    ENVOY_DOCS.sds,
  ),
  family(
    "envoy_listener_server_ssl_socket_factory_downstream_context_secrets_not_ready",
    "counter",
    LISTENER,
    "listener.<address>.server_ssl_socket_factory.downstream_context_secrets_not_ready",
    ENVOY_DOCS.sds,
  ),
  // clusters (hexr_authz, hexr_ext_proc, local_agent, one per upstream)
  cluster("upstream_rq_time", "histogram"),
  family(
    "envoy_cluster_upstream_rq_xx",
    "counter",
    [...CLUSTER, "envoy_response_code_class"],
    "cluster.<name>.upstream_rq_<N>xx",
    ENVOY_DOCS.cluster,
  ),
  cluster("upstream_rq_timeout"),
  cluster("upstream_cx_connect_fail"),
  cluster("upstream_cx_active", "gauge"),
  cluster("membership_healthy", "gauge"),
  cluster("ssl_connection_error"),
  cluster("ssl_fail_verify_san"),
  // server
  server("live"),
  server("uptime"),
  server("memory_allocated"),
  server("days_until_first_cert_expiring"),
];

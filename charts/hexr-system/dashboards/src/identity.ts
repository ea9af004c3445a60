/** Identity: the sidecar's X.509-SVIDs from the Workload API, their rotation, and Envoy's own certificates. */
import { type DashboardSpec, type PanelSpec, q, row, stat, timeseries } from "./panels.ts";
import { sumRate } from "./promql.ts";

/**
 * Envoy's certificate expiry gauge. Envoy's tag extractor takes the certificate name only up to its first
 * dot, so an SDS certificate named by a SPIFFE ID (`spiffe://hexr.cloud/hexr/envoy`) leaves the rest of
 * the name in the metric name (`envoy_listener_ssl_certificate_cloud_hexr_envoy_expiration_unix_time_seconds`,
 * seen on Envoy 1.40 with SPIRE): match every such name.
 */
const ENVOY_CERT_EXPIRY = '{__name__=~"envoy_listener_ssl_certificate_(.+_)?expiration_unix_time_seconds"}';

/** The soonest X.509-SVID expiry of the selected sidecars (on the overview and the identity dashboard). */
export const soonestSvidExpiry = (): PanelSpec =>
  stat({
    title: "Soonest SVID expiry",
    description:
      "Time until the first X.509-SVID held by any selected sidecar expires. SPIRE rotates at half the TTL, so this stays above half a TTL; under 10 minutes rotation has failed and requests start failing soon.",
    unit: "s",
    targets: [q("min(hexr_svid_expiry_timestamp_seconds - time())")],
    thresholds: {
      base: "red",
      steps: [
        { value: 600, color: "orange" },
        { value: 1200, color: "green" },
      ],
    },
  });

export const identity: DashboardSpec = {
  uid: "hexr-identity",
  title: "Hexr / Identity",
  description:
    "SPIFFE identity: time until each X.509-SVID expires, rotations, Workload API errors, JWT bundle updates, Envoy's SDS certificates and identity verification at the authz server.",
  tags: ["identity", "spiffe"],
  rows: [
    row("SVIDs", [
      soonestSvidExpiry(),
      stat({
        title: "Soonest Envoy certificate expiry",
        description:
          "Time until the first certificate Envoy serves on a listener expires (its SVID from SPIRE's SDS). Envoy and the sidecar rotate separately: both must stay healthy.",
        unit: "s",
        targets: [q(`min(${ENVOY_CERT_EXPIRY}) - time()`)],
        thresholds: {
          base: "red",
          steps: [
            { value: 600, color: "orange" },
            { value: 1200, color: "green" },
          ],
        },
      }),
      stat({
        title: "SVID rotations over the range",
        description:
          "X.509-SVID updates received from the Workload API in the dashboard's range. With a 1 h TTL expect about two per hour per sidecar; zero for longer than a TTL means rotation is stuck.",
        unit: "short",
        targets: [q("sum(increase(hexr_svid_rotations_total[$__range]))")],
      }),
      stat({
        title: "Days until Envoy's first certificate expires",
        description:
          "Envoy's own count of days until the first certificate it holds expires (0 for SVIDs that live less than a day).",
        unit: "d",
        targets: [q("min(envoy_server_days_until_first_cert_expiring)")],
      }),
      timeseries({
        title: "Time until SVID expiry",
        description:
          "Time until each X.509-SVID expires, per sidecar and SPIFFE ID. A healthy line is a sawtooth: it falls, then jumps back at each rotation. A line that keeps falling is a sidecar that stopped rotating.",
        unit: "s",
        targets: [
          q("min by (instance, spiffe_id) (hexr_svid_expiry_timestamp_seconds - time())", "{{spiffe_id}} {{instance}}"),
        ],
      }),
      timeseries({
        title: "Time until Envoy certificate expiry",
        description:
          "Time until each certificate Envoy holds on a listener expires (the SVID and the trust bundle's CA), per listener address.",
        unit: "s",
        targets: [
          q(`min by (instance, envoy_listener_address) (${ENVOY_CERT_EXPIRY}) - time()`, "{{envoy_listener_address}}"),
        ],
      }),
    ]),
    row("Workload API", [
      timeseries({
        title: "SVID rotations per hour",
        description: "X.509-SVID updates received per sidecar in the last hour.",
        unit: "short",
        targets: [q("sum by (instance) (increase(hexr_svid_rotations_total[1h]))", "{{instance}}")],
      }),
      timeseries({
        title: "Workload API errors by code",
        description:
          "Errors on the Workload API stream by gRPC code. UNAVAILABLE means the SPIRE agent socket is gone (agent restart); PERMISSION_DENIED means no registration entry matches this workload.",
        unit: "cps",
        // `or vector(0)`: a healthy sidecar has no error series at all; the panel reads 0, not "no data"
        targets: [q(`${sumRate("hexr_workload_api_errors_total", { by: ["code"] })} or vector(0)`, "{{code}}")],
      }),
      timeseries({
        title: "JWT bundle updates per hour",
        description:
          "JWT bundle updates received per sidecar in the last hour. They follow key rotation on the SPIRE server; none for a day while keys rotate means JWT-SVIDs signed with new keys will fail.",
        unit: "short",
        targets: [q("sum by (instance) (increase(hexr_jwt_bundle_updates_total[1h]))", "{{instance}}")],
      }),
      timeseries({
        title: "Envoy certificate updates from SDS",
        description:
          "Times Envoy's listener TLS contexts were updated by SDS in the last hour: Envoy's own SVID rotations.",
        unit: "short",
        targets: [
          q(
            "sum by (instance) (increase(envoy_listener_server_ssl_socket_factory_ssl_context_update_by_sds[1h]))",
            "{{instance}}",
          ),
        ],
      }),
      timeseries({
        title: "Listener connections without a certificate",
        description:
          "Connections Envoy reset because the listener's SDS certificate was not ready (SPIRE agent unreachable at start-up or the entry is missing).",
        unit: "cps",
        targets: [
          q(
            sumRate("envoy_listener_server_ssl_socket_factory_downstream_context_secrets_not_ready", {
              by: ["envoy_listener_address"],
            }),
            "{{envoy_listener_address}}",
          ),
        ],
      }),
    ]),
    row("Verification", [
      timeseries({
        title: "JWT-SVID verifications by result",
        description:
          "Callers that presented a JWT-SVID: ok, or why it was rejected (expired, unknown_kid, bad audience …). unknown_kid right after a key rotation means the JWT bundle update is late.",
        unit: "reqps",
        targets: [
          q(sumRate("hexr_authz_identity_total", { where: 'carrier="jwt_svid"', by: ["result"] }), "{{result}}"),
        ],
      }),
      timeseries({
        title: "mTLS identities by result",
        description: "Callers identified by their peer certificate: ok, or the identity reason code.",
        unit: "reqps",
        targets: [q(sumRate("hexr_authz_identity_total", { where: 'carrier="mtls"', by: ["result"] }), "{{result}}")],
      }),
    ]),
  ],
};

/** LLM guard: what the guard scanned, found and did, what it could not read, and the LLM calls it saw. */
import { bars, type DashboardSpec, q, row, stat, timeseries } from "./panels.ts";
import { orZero, quantile, sumIncrease, sumRate } from "./promql.ts";

const SCANS = "hexr_guard_scans_total";
const ACTIONS = "hexr_guard_actions_total";
const FINDINGS = "hexr_guard_findings_total";
const UNSCANNABLE = "hexr_guard_unscannable_total";
const TOKENS = "gen_ai_client_token_usage";
const DURATION = "gen_ai_client_operation_duration_seconds";
const TTFT = "hexr_llm_time_to_first_token_seconds";
const COST = "hexr_llm_cost_usd_total";
const MODEL = ["gen_ai_provider_name", "gen_ai_request_model"];

export const guard: DashboardSpec = {
  uid: "hexr-guard",
  title: "Hexr / LLM guard",
  description:
    "The ext_proc LLM guard: bodies scanned, findings by type, blocks and redactions, unscannable bodies, guard latency, and the LLM calls it saw (GenAI token usage, duration, time to first token, estimated cost).",
  tags: ["guard", "llm"],
  rows: [
    row("Scanning", [
      timeseries({
        title: "Bodies scanned by route and phase",
        description: "Request and response bodies scanned per second on each guarded route.",
        unit: "reqps",
        targets: [q(sumRate(SCANS, { by: ["route", "phase"] }), "{{route}} {{phase}}")],
      }),
      timeseries({
        title: "Guard actions",
        description:
          "What the guard did with each body: allow, redact (findings masked, body forwarded), block (refused), invalid (malformed request, 400).",
        unit: "reqps",
        targets: [q(sumRate(ACTIONS, { by: ["action"] }), "{{action}}")],
      }),
      timeseries({
        title: "Block ratio by route",
        description:
          "Share of scanned bodies blocked on each route. A route that suddenly blocks most traffic usually has a new prompt template tripping a rule.",
        unit: "percentunit",
        min: 0,
        targets: [
          q(
            `${sumRate(ACTIONS, { where: 'action="block"', by: ["route"] })} / ${sumRate(SCANS, { by: ["route"] })}`,
            "{{route}}",
          ),
        ],
      }),
      stat({
        title: "Redacted over the range",
        description: "Bodies forwarded with findings masked, over the dashboard's time range.",
        unit: "short",
        targets: [q(orZero(sumIncrease(ACTIONS, { where: 'action="redact"' })))],
      }),
      stat({
        title: "Blocked over the range",
        description: "Bodies refused over the dashboard's time range.",
        unit: "short",
        targets: [q(orZero(sumIncrease(ACTIONS, { where: 'action="block"' })))],
      }),
    ]),
    row("Findings", [
      timeseries({
        title: "Findings by type",
        description:
          "Findings per second by detector type (prompt_injection, secret, pii, invisible_text …). Never the text itself.",
        unit: "cps",
        targets: [q(sumRate(FINDINGS, { by: ["type"] }), "{{type}}")],
      }),
      bars({
        title: "Top findings by subtype",
        description:
          "The most frequent finding subtypes over the range (e.g. secret/aws_access_key, pii/email). Tells you which rule to look at first.",
        unit: "short",
        targets: [q(`topk(10, sum by (type, subtype) (increase(${FINDINGS}[$__range])))`, "{{type}}/{{subtype}}")],
      }),
      timeseries({
        title: "Findings by action taken",
        description:
          "Findings by the action they led to. Many findings with action allow means a detector runs in report-only mode.",
        unit: "cps",
        targets: [q(sumRate(FINDINGS, { by: ["action"] }), "{{action}}")],
      }),
    ]),
    row("Unscannable", [
      timeseries({
        title: "Unscannable bodies by cause",
        description:
          "Bodies the guard could not read, by cause: too_large, encoding (compressed), media, parse, timeout, stream. With fail mode closed each was refused (413/502); with fail mode open each passed unscanned.",
        unit: "reqps",
        targets: [q(sumRate(UNSCANNABLE, { by: ["cause"] }), "{{cause}}")],
      }),
      timeseries({
        title: "Unscannable share by route",
        description:
          "Unscannable bodies as a share of all bodies the guard looked at (scanned + unscannable) per route. A high share on a fail-open route means the guard is not protecting it.",
        unit: "percentunit",
        min: 0,
        max: 1,
        targets: [
          q(
            `${sumRate(UNSCANNABLE, { by: ["route"] })} / (${sumRate(SCANS, { by: ["route"] })} + ${sumRate(UNSCANNABLE, { by: ["route"] })})`,
            "{{route}}",
          ),
        ],
      }),
    ]),
    row("ext_proc", [
      timeseries({
        title: "ext_proc streams by route",
        description: "New ext_proc streams per second by route (one per guarded request).",
        unit: "reqps",
        targets: [q(sumRate("hexr_extproc_streams_total", { by: ["route"] }), "{{route}}")],
      }),
      timeseries({
        title: "Active ext_proc streams",
        description:
          "Streams open now. It follows in-flight LLM calls; a climb with flat traffic means streams are not being closed.",
        unit: "short",
        targets: [q("sum by (instance) (hexr_extproc_active_streams)", "{{instance}}")],
      }),
      timeseries({
        title: "Guard time per message p99 by phase",
        description:
          "99th percentile of the guard's own work per ext_proc message (request_headers, request_body, response_body …). This is the latency the guard adds at each phase.",
        unit: "s",
        targets: [q(quantile(0.99, "hexr_extproc_message_duration_seconds", { by: ["phase"] }), "{{phase}}")],
      }),
      timeseries({
        title: "Stream lifetime p99 by route",
        description:
          "99th percentile ext_proc stream lifetime (request headers to end): for LLM routes, roughly the whole call including the upstream.",
        unit: "s",
        targets: [q(quantile(0.99, "hexr_extproc_stream_duration_seconds", { by: ["route"] }), "{{route}}")],
      }),
    ]),
    row("LLM calls (GenAI)", [
      timeseries({
        title: "LLM calls by model",
        description: "LLM calls per second seen by the guard, by provider and requested model.",
        unit: "reqps",
        targets: [q(sumRate(`${DURATION}_count`, { by: MODEL }), "{{gen_ai_provider_name}} {{gen_ai_request_model}}")],
      }),
      timeseries({
        title: "Tokens per second by type",
        description:
          "Input and output tokens per second (gen_ai.client.token.usage, from the responses' usage, streamed usage included).",
        unit: "short",
        targets: [q(sumRate(`${TOKENS}_sum`, { by: ["gen_ai_token_type"] }), "{{gen_ai_token_type}}")],
      }),
      timeseries({
        title: "Tokens per second by model",
        description: "Token throughput per model and token type: where the spend goes.",
        unit: "short",
        targets: [
          q(
            sumRate(`${TOKENS}_sum`, { by: [...MODEL, "gen_ai_token_type"] }),
            "{{gen_ai_request_model}} {{gen_ai_token_type}}",
          ),
        ],
      }),
      timeseries({
        title: "Tokens per call p90",
        description:
          "90th percentile tokens per call, input and output. Growing input tokens per call is context bloat.",
        unit: "short",
        targets: [q(quantile(0.9, TOKENS, { by: ["gen_ai_token_type"] }), "{{gen_ai_token_type}}")],
      }),
      timeseries({
        title: "LLM call duration by model",
        description:
          "p50 and p99 LLM call duration (gen_ai.client.operation.duration) by model, as seen from the data plane.",
        unit: "s",
        targets: [
          q(quantile(0.5, DURATION, { by: ["gen_ai_request_model"] }), "p50 {{gen_ai_request_model}}"),
          q(quantile(0.99, DURATION, { by: ["gen_ai_request_model"] }), "p99 {{gen_ai_request_model}}"),
        ],
      }),
      timeseries({
        title: "Time to first token",
        description:
          "p50 and p99 time from the request to the first streamed response bytes, by provider: what a user waits before text starts to appear.",
        unit: "s",
        targets: [
          q(quantile(0.5, TTFT, { by: ["gen_ai_provider_name"] }), "p50 {{gen_ai_provider_name}}"),
          q(quantile(0.99, TTFT, { by: ["gen_ai_provider_name"] }), "p99 {{gen_ai_provider_name}}"),
        ],
      }),
      timeseries({
        title: "Estimated spend per hour by model",
        description:
          "Estimated LLM spend in USD per hour at the current rate, from the configured price table. An estimate, not the provider's bill.",
        unit: "currencyUSD",
        targets: [q(`${sumRate(COST, { by: MODEL })} * 3600`, "{{gen_ai_provider_name}} {{gen_ai_request_model}}")],
      }),
      stat({
        title: "Estimated spend over the range",
        description: "Estimated LLM spend in USD over the dashboard's time range, all models.",
        unit: "currencyUSD",
        targets: [q(orZero(sumIncrease(COST)))],
      }),
    ]),
  ],
};

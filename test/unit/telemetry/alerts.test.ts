/**
 * The Prometheus alerting rules in charts/hexr-system/alerts/hexr-rules.yaml: complete (for, severity,
 * summary, description, runbook), naming only metrics and labels that exist, accepted by
 * `promtool check rules`, and firing (or not) on recorded series as `promtool test rules` evaluates them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { promtool } from "../../../charts/hexr-system/alerts/promtool.ts";
import { knownMetrics, lintPromql } from "../../../charts/hexr-system/dashboards/src/index.ts";

const RULES_FILE = path.resolve(import.meta.dirname, "../../../charts/hexr-system/alerts/hexr-rules.yaml");

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

const ruleFile = parse(readFileSync(RULES_FILE, "utf8")) as RuleFile;
const rules = ruleFile.groups.flatMap((g) => g.rules.map((r) => ({ group: g.name, ...r })));
const known = knownMetrics();

const tmp = mkdtempSync(path.join(tmpdir(), "hexr-alerts-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("hexr-rules.yaml", () => {
  it("passes promtool check rules", () => {
    const r = promtool(["check", "rules", RULES_FILE]);
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status).toBe(0);
  });

  it("covers what the issue asks to alert on", () => {
    const names = rules.map((r) => r.alert);
    for (const a of [
      "HexrAuthzFailClosedStorm",
      "HexrSvidNearExpiry",
      "HexrSvidNotRotating",
      "HexrPolicyReloadFailed",
      "HexrCredentialExchangeErrors",
      "HexrGuardUnscannableHigh",
      "HexrTraceSpansDropped",
      "HexrEnvoyExtAuthzErrors",
      "HexrEnvoyExtAuthzFailureModeAllowed",
    ]) {
      expect(names).toContain(a);
    }
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(rules.map((r) => [r.alert ?? r.record ?? "?", r] as const))("%s is complete", (_name, r) => {
    expect(r.alert).toMatch(/^Hexr[A-Z][A-Za-z]+$/);
    expect(r.for).toMatch(/^\d+[smh]$/);
    expect(["critical", "warning", "info"]).toContain(r.labels?.["severity"]);
    for (const k of ["summary", "description", "runbook"])
      expect(r.annotations?.[k]?.length ?? 0, k).toBeGreaterThan(20);
  });

  it.each(rules.map((r) => [r.alert ?? "?", r] as const))("%s names only metrics and labels that exist", (_name, r) => {
    expect(lintPromql(r.expr, known)).toEqual([]);
  });
});

/** A promtool unit test: series, then which alerts are firing at a time (labels only). */
interface Case {
  name: string;
  series: Record<string, string>;
  at: string;
  alert: string;
  firing: Record<string, string>[];
}

const T = 'job="hexr", instance="a:9090"';
const TARGET = { job: "hexr", instance: "a:9090" };
const SPIFFE = "spiffe://hexr.test/agent/acme/crew/researcher";

const CASES: Case[] = [
  {
    name: "fail-closed denials at half the traffic fire after 5 minutes",
    series: {
      [`hexr_authz_decisions_total{${T}, result="deny", reason="internal.error"}`]: "0+60x20",
      [`hexr_authz_decisions_total{${T}, result="allow", reason="none"}`]: "0+60x20",
    },
    at: "15m",
    alert: "HexrAuthzFailClosedStorm",
    firing: [{ ...TARGET, severity: "critical" }],
  },
  {
    name: "policy denials are not a fail-closed storm",
    series: {
      [`hexr_authz_decisions_total{${T}, result="deny", reason="policy.denied"}`]: "0+60x20",
      [`hexr_authz_decisions_total{${T}, result="allow", reason="none"}`]: "0+60x20",
    },
    at: "15m",
    alert: "HexrAuthzFailClosedStorm",
    firing: [],
  },
  {
    name: "an SVID with 5 minutes left fires",
    series: { [`hexr_svid_expiry_timestamp_seconds{${T}, spiffe_id="${SPIFFE}"}`]: "3000+0x60" },
    at: "45m",
    alert: "HexrSvidNearExpiry",
    firing: [{ ...TARGET, spiffe_id: SPIFFE, severity: "critical" }],
  },
  {
    name: "an SVID with 20 minutes left does not",
    series: { [`hexr_svid_expiry_timestamp_seconds{${T}, spiffe_id="${SPIFFE}"}`]: "3000+0x60" },
    at: "30m",
    alert: "HexrSvidNearExpiry",
    firing: [],
  },
  {
    name: "an SVID that rotates keeps its distance from expiry",
    // expiry moves forward 60 s every minute: always 50 minutes away
    series: { [`hexr_svid_expiry_timestamp_seconds{${T}, spiffe_id="${SPIFFE}"}`]: "3000+60x200" },
    at: "180m",
    alert: "HexrSvidRotationOverdue",
    firing: [],
  },
  {
    name: "a sidecar up for 3 h with no rotation fires",
    series: {
      [`hexr_process_start_time_seconds{${T}}`]: "0+0x200",
      [`hexr_svid_rotations_total{${T}}`]: "1+0x200",
    },
    at: "180m",
    alert: "HexrSvidNotRotating",
    firing: [{ ...TARGET, severity: "warning" }],
  },
  {
    name: "a sidecar that never received an update counts as not rotating",
    series: { [`hexr_process_start_time_seconds{${T}}`]: "0+0x200" },
    at: "180m",
    alert: "HexrSvidNotRotating",
    firing: [{ ...TARGET, severity: "warning" }],
  },
  {
    name: "a sidecar rotating every 30 minutes does not",
    series: {
      [`hexr_process_start_time_seconds{${T}}`]: "0+0x200",
      [`hexr_svid_rotations_total{${T}}`]: "0+0.0333x200",
    },
    at: "180m",
    alert: "HexrSvidNotRotating",
    firing: [],
  },
  {
    name: "a young sidecar is not yet expected to have rotated",
    series: { [`hexr_process_start_time_seconds{${T}}`]: "3600+0x200" },
    at: "150m",
    alert: "HexrSvidNotRotating",
    firing: [],
  },
  {
    name: "one request through a failed Check fires",
    series: {
      [`envoy_http_ext_authz_failure_mode_allowed{${T}, envoy_http_conn_manager_prefix="outbound"}`]: "0 0 0 1 1 1 1 1",
    },
    at: "5m",
    alert: "HexrEnvoyExtAuthzFailureModeAllowed",
    firing: [{ ...TARGET, severity: "critical" }],
  },
  {
    name: "ext_authz errors for 5 minutes fire",
    series: { [`envoy_http_ext_authz_error{${T}, envoy_http_conn_manager_prefix="outbound"}`]: "0+10x20" },
    at: "12m",
    alert: "HexrEnvoyExtAuthzErrors",
    firing: [{ ...TARGET, severity: "critical" }],
  },
  {
    name: "a failed policy reload fires",
    series: { [`hexr_policy_reloads_total{${T}, result="failed"}`]: "0 0 1 1 1 1" },
    at: "4m",
    alert: "HexrPolicyReloadFailed",
    firing: [{ ...TARGET, severity: "warning" }],
  },
  {
    name: "a third of bodies unscannable on a route fires",
    series: {
      [`hexr_guard_scans_total{${T}, route="openai", phase="request"}`]: "0+60x40",
      [`hexr_guard_unscannable_total{${T}, route="openai", phase="request", cause="too_large"}`]: "0+30x40",
    },
    at: "30m",
    alert: "HexrGuardUnscannableHigh",
    firing: [{ ...TARGET, route: "openai", severity: "warning" }],
  },
  {
    name: "failing STS exchanges fire per provider",
    series: {
      [`hexr_credentials_exchanges_total{${T}, provider="aws", result="ok"}`]: "0+60x30",
      [`hexr_credentials_exchanges_total{${T}, provider="aws", result="access_denied"}`]: "0+30x30",
      [`hexr_credentials_exchanges_total{${T}, provider="gcp", result="ok"}`]: "0+60x30",
    },
    at: "25m",
    alert: "HexrCredentialExchangeErrors",
    firing: [{ ...TARGET, provider: "aws", severity: "warning" }],
  },
  {
    name: "dropped spans for 15 minutes fire",
    series: { [`hexr_trace_spans_dropped_total{${T}}`]: "0+5x40" },
    at: "30m",
    alert: "HexrTraceSpansDropped",
    firing: [{ ...TARGET, severity: "warning" }],
  },
  {
    name: "sidecars on two policy revisions for 30 minutes fire",
    series: {
      'hexr_policy_revision_info{job="hexr", instance="a:9090", revision="r1"}': "1+0x60",
      'hexr_policy_revision_info{job="hexr", instance="b:9090", revision="r2"}': "1+0x60",
    },
    at: "45m",
    alert: "HexrPolicyRevisionSplit",
    firing: [{ severity: "warning" }],
  },
];

describe("promtool test rules", () => {
  // the prose is checked above; here only expressions, `for` and labels matter, so annotations are dropped
  const bare: RuleFile = {
    groups: ruleFile.groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _a, ...r }) => r) })),
  };
  const bareFile = path.join(tmp, "rules.yaml");
  writeFileSync(bareFile, stringify(bare));

  it.each(CASES)("$name", (c) => {
    const test = {
      rule_files: [bareFile],
      evaluation_interval: "1m",
      tests: [
        {
          interval: "1m",
          input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
          alert_rule_test: [
            { eval_time: c.at, alertname: c.alert, exp_alerts: c.firing.map((l) => ({ exp_labels: l })) },
          ],
        },
      ],
    };
    const file = path.join(tmp, `${c.alert}-${CASES.indexOf(c)}.test.yaml`);
    writeFileSync(file, stringify(test));
    const r = promtool(["test", "rules", file]);
    expect(r.output).toContain("SUCCESS");
    expect(r.status).toBe(0);
  });
});

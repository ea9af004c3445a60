/**
 * Traces and metrics against real receivers: Envoy (OpenTelemetry tracer) and the sidecar export OTLP to a
 * real OpenTelemetry Collector whose file exporter holds everything it received; a real Prometheus scrapes
 * the sidecar's admin listener and Envoy's admin stats. Asserted: Envoy's spans and ours form one trace
 * (our Check span is a child of Envoy's ext_authz span), the audit record names that trace, the LLM span
 * carries GenAI attributes from the response's usage, metrics move with decisions, and nothing secret —
 * tokens, API keys, prompts, replies, certificates — reaches the receiver or the metrics.
 */
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../envoy-config/runner.ts";
import { MemoryAudit } from "../../sidecars/authz/audit.ts";
import type { ClientIdentity } from "../../sidecars/devtools/client.ts";
import { type SpireDataPlane, startLocalDataPlane } from "../../sidecars/devtools/local-dataplane.ts";
import { type ReceivedSpan, type RunningCollector, startCollector } from "../../sidecars/devtools/otel-collector.ts";
import { type RunningPrometheus, startPrometheus } from "../../sidecars/devtools/prometheus.ts";
import { MemoryLogger } from "../../sidecars/logger.ts";
import { allPanels } from "../../charts/hexr-system/dashboards/src/index.ts";
import { buildProjectBundle } from "../helpers/bundles.ts";

const TD = "hexr.cloud";
const RESEARCHER = `spiffe://${TD}/agent/acme-corp/content-crew/researcher`;
const WRITER = `spiffe://${TD}/agent/acme-corp/content-crew/writer`;
// a fixed policy clock (inside business hours): the per-agent rate window never slides, so the last test
// can drive one agent over its per-minute limit
const START = Date.parse("2026-01-15T10:30:00Z");
const clock = () => START;

// secrets this test sends; none may reach the receiver, the metrics or the logs
const API_KEY = `sk-proj-${randomBytes(24).toString("hex")}`;
const PROMPT_MARK = `zebra-${randomBytes(6).toString("hex")}`;
const REPLY_MARK = `quokka-${randomBytes(6).toString("hex")}`;
const AWS_KEY = `AKIA${Array.from(randomBytes(16), (b) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[b % 32]).join("")}`;
const CLIENT_TRACE = `${randomBytes(16).toString("hex")}`;
const CLIENT_PARENT = `00-${CLIENT_TRACE}-${randomBytes(8).toString("hex")}-01`;

let collector: RunningCollector;
let prom: RunningPrometheus;
let dp: SpireDataPlane;
let bundlePath: string;
let researcher: ClientIdentity;
let writer: ClientIdentity;
const logger = new MemoryLogger();
const audit = new MemoryAudit();

const BIGQUERY = {
  method: "POST",
  host: "bigquery.googleapis.com",
  path: "/bigquery/v2/projects/p1/queries",
  body: "{}",
};

function chat(content: string, extraHeaders: Record<string, string> = {}) {
  return {
    method: "POST",
    host: "api.openai.com",
    path: "/v1/chat/completions",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}`, ...extraHeaders },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content }] }),
  };
}

async function flushAll(): Promise<void> {
  await dp.sidecar.tracing?.flush();
  await dp.sidecar.extProcThread?.flush();
}

function spansOf(trace: string): ReceivedSpan[] {
  return collector.spans().filter((s) => s.traceId === trace);
}

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-tel-"));
  collector = await startCollector();
  bundlePath = path.join(dir, "bundle.tar.gz");
  copyFileSync(buildProjectBundle(dir, "main.tar.gz"), bundlePath);
  // SPIRE mode: the sidecar's own SVID and JWT bundles come from the Workload API (identity metrics)
  dp = await startLocalDataPlane({
    identity: "spire",
    identities: [RESEARCHER, WRITER],
    bundlePath,
    bundlePollMs: 100,
    logger,
    audit,
    now: clock,
    telemetry: { otlpPort: collector.port },
  });
  researcher = await dp.identity([RESEARCHER]);
  writer = await dp.identity([WRITER]);
  const admin = dp.sidecar.admin?.address;
  if (!admin) throw new Error("the sidecar has no admin listener");
  prom = await startPrometheus([
    { job: "hexr-sidecar", target: admin },
    { job: "envoy", target: new URL(dp.envoy.adminUrl).host, metricsPath: "/stats/prometheus" },
  ]);
  await prom.untilScraped();
}, 120_000);

afterAll(async () => {
  await dp?.stop();
  await prom?.stop();
  await collector?.stop();
});

describe("traces through real Envoy to a real OTLP receiver", () => {
  it("an allowed Check: Envoy's spans and hexr.authz.check form one trace, parent and child, and the audit names it", async () => {
    const r = await dp.send(researcher, BIGQUERY);
    expect(r.status).toBe(200);
    const rec = audit.records.at(-1)!;
    expect(rec.allow).toBe(true);
    expect(rec.trace_id).toMatch(/^[0-9a-f]{32}$/);
    await flushAll();
    const trace = await waitFor("the decision's trace at the receiver", () => {
      const spans = spansOf(rec.trace_id!);
      const ours = spans.find((s) => s.name === "hexr.authz.check");
      // Envoy's ext_authz client span (our parent) and its request span: they may arrive in separate batches
      const envoySpans = spans.filter((s) => s.service === "hexr-envoy");
      return ours && envoySpans.some((s) => s.spanId === ours.parentSpanId) && envoySpans.length >= 2
        ? spans
        : undefined;
    });
    const ours = trace.find((s) => s.name === "hexr.authz.check")!;
    expect(ours.service).toBe("hexr-sidecar");
    expect(ours.attributes).toMatchObject({
      "hexr.decision": "allow",
      "hexr.spiffe_id": RESEARCHER,
      "hexr.tenant": "acme-corp",
      "hexr.agent": "content-crew",
      "hexr.role": "researcher",
      "hexr.service": "gcp_bigquery",
      "hexr.decision_id": rec.decision_id,
      "hexr.identity.carrier": "mtls",
    });
    expect(ours.attributes["hexr.policy.revision"]).toBe(rec.policy_revision);
    // Envoy's parent of our span is its ext_authz client span, itself inside Envoy's request span
    const parent = trace.find((s) => s.spanId === ours.parentSpanId)!;
    expect(parent.service).toBe("hexr-envoy");
    expect(trace.filter((s) => s.service === "hexr-envoy").length).toBeGreaterThanOrEqual(2);
  });

  it("a denied Check is a span with the deny and its reasons", async () => {
    const r = await dp.send(writer, BIGQUERY);
    expect(r.status).toBe(403);
    const rec = audit.records.at(-1)!;
    await flushAll();
    const ours = await waitFor("the denied decision's span", () =>
      spansOf(rec.trace_id!).find((s) => s.name === "hexr.authz.check"),
    );
    expect(ours.attributes["hexr.decision"]).toBe("deny");
    expect(ours.attributes["hexr.reasons"]).toEqual(rec.reasons);
    expect(ours.attributes["hexr.reason_code"]).toBe("policy.denied");
  });

  it("an agent's own traceparent is joined: Envoy continues the agent's trace and our spans are in it", async () => {
    const r = await dp.send(researcher, { ...BIGQUERY, headers: { traceparent: CLIENT_PARENT } });
    expect(r.status).toBe(200);
    expect(audit.records.at(-1)!.trace_id).toBe(CLIENT_TRACE);
    await flushAll();
    await waitFor("the agent's trace with our span", () =>
      spansOf(CLIENT_TRACE).some((s) => s.name === "hexr.authz.check") ? true : undefined,
    );
  });

  it("an LLM call: hexr.llm.chat with the GenAI attributes and token usage, in the same trace as the Check", async () => {
    dp.llm.reply = `The answer is ${REPLY_MARK}.`;
    const r = await dp.send(researcher, chat(`Tell me about ${PROMPT_MARK} please.`));
    expect(r.status).toBe(200);
    const rec = audit.records.at(-1)!;
    await flushAll();
    const span = await waitFor("the LLM span", () => spansOf(rec.trace_id!).find((s) => s.name === "hexr.llm.chat"));
    expect(span.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o-mini",
      "gen_ai.usage.input_tokens": 10,
      "gen_ai.usage.output_tokens": 10,
      "hexr.guard.action": "allow",
      "hexr.route": "openai-chat",
    });
    expect(span.attributes["hexr.llm.cost_usd"]).toBeCloseTo((10 * 0.15 + 10 * 0.6) / 1e6, 12);
    // one ext_proc stream per request: one guard span
    expect(spansOf(rec.trace_id!).filter((s) => s.name === "hexr.llm.chat")).toHaveLength(1);
    expect(spansOf(rec.trace_id!).some((s) => s.name === "hexr.authz.check")).toBe(true);
  });

  it("a streamed Anthropic call: tokens from the stream's usage events, and the time to the first chunk", async () => {
    dp.llm.reply = `Streaming ${REPLY_MARK} back to you in small pieces.`;
    const r = await dp.send(researcher, {
      method: "POST",
      host: "api.anthropic.com",
      path: "/v1/messages",
      headers: { "content-type": "application/json", "x-api-key": API_KEY, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({
        model: "claude-sonnet-4-5",
        max_tokens: 64,
        stream: true,
        messages: [{ role: "user", content: `Stream about ${PROMPT_MARK}.` }],
      }),
    });
    expect(r.status).toBe(200);
    expect(r.body).toContain("message_stop");
    const rec = audit.records.at(-1)!;
    await flushAll();
    const span = await waitFor("the streamed call's span", () =>
      spansOf(rec.trace_id!).find((s) => s.name === "hexr.llm.chat"),
    );
    expect(span.attributes).toMatchObject({
      "gen_ai.provider.name": "anthropic",
      "gen_ai.request.model": "claude-sonnet-4-5",
      "gen_ai.request.stream": true,
      "gen_ai.usage.input_tokens": 10,
      "gen_ai.usage.output_tokens": 10,
    });
    expect(span.attributes["gen_ai.response.time_to_first_chunk"]).toBeGreaterThan(0);
    expect(spansOf(rec.trace_id!).filter((s) => s.name === "hexr.llm.chat")).toHaveLength(1);
  });

  it("a stream the guard cuts (a key in the reply): one span, the block by type", async () => {
    dp.llm.reply = `Use ${AWS_KEY} to deploy, then rotate it.`;
    const r = await dp.send(researcher, {
      ...chat("How do I deploy?"),
      body: JSON.stringify({
        model: "gpt-4o-mini",
        stream: true,
        messages: [{ role: "user", content: "How do I deploy?" }],
      }),
    });
    expect(r.status).toBe(200);
    expect(r.body).not.toContain(AWS_KEY);
    const rec = audit.records.at(-1)!;
    await flushAll();
    const span = await waitFor("the cut stream's span", () =>
      spansOf(rec.trace_id!).find((s) => s.name === "hexr.llm.chat"),
    );
    expect(span.attributes["hexr.guard.action"]).toBe("block");
    expect(spansOf(rec.trace_id!).filter((s) => s.name === "hexr.llm.chat")).toHaveLength(1);
  });

  it("a blocked prompt: the span names the finding by type, never its text", async () => {
    const r = await dp.send(researcher, chat(`my key is ${AWS_KEY} keep it`));
    expect(r.status).toBe(403);
    const rec = audit.records.at(-1)!;
    await flushAll();
    const span = await waitFor("the blocked call's span", () =>
      spansOf(rec.trace_id!).find((s) => s.name === "hexr.llm.chat"),
    );
    expect(span.attributes["hexr.guard.action"]).toBe("block");
    expect(spansOf(rec.trace_id!).filter((s) => s.name === "hexr.llm.chat")).toHaveLength(1);
    expect(span.attributes["hexr.guard.findings"]).toEqual(expect.arrayContaining(["secret/aws_access_key_id"]));
  });

  it("nothing the receiver got holds a token, API key, prompt, reply, secret or certificate", async () => {
    // a key pasted into the model field: the span's model attribute is withheld
    const pasted = chat("hello");
    const r = await dp.send(researcher, {
      ...pasted,
      body: JSON.stringify({ model: API_KEY, messages: [{ role: "user", content: "hi" }] }),
    });
    const rec = audit.records.at(-1)!;
    await flushAll();
    const span = await waitFor("the pasted-key call's span", () =>
      spansOf(rec.trace_id!).find((s) => s.name === "hexr.llm.chat"),
    );
    expect([200, 403]).toContain(r.status);
    expect(span.attributes["gen_ai.request.model"]).toBe("redacted");
    const raw = collector.raw();
    expect(raw.length).toBeGreaterThan(0);
    for (const secret of [API_KEY, PROMPT_MARK, REPLY_MARK, AWS_KEY, "BEGIN CERTIFICATE", "Bearer"]) {
      expect(raw).not.toContain(secret);
    }
  });
});

describe("metrics scraped by a real Prometheus", () => {
  it("decisions by result and reason, Check latency, guard findings and GenAI tokens are queryable", async () => {
    const allowed = async () =>
      Number((await prom.query('sum(hexr_authz_decisions_total{result="allow"})'))[0]?.value[1] ?? 0);
    const before = await allowed();
    expect((await dp.send(researcher, BIGQUERY)).status).toBe(200);
    await waitFor("Prometheus to scrape the new decision", async () => ((await allowed()) > before ? true : undefined));
    const denied = await prom.query('hexr_authz_decisions_total{result="deny",reason="policy.denied"}');
    expect(denied.length).toBe(1);
    // a rate needs two scrapes of the series: wait for the second, not a fixed time
    const p99 = await waitFor("two scrapes of the Check latency histogram", async () => {
      const q = await prom.query(
        "histogram_quantile(0.99, sum by (le) (rate(hexr_authz_check_duration_seconds_bucket[1m])))",
      );
      return q.length === 1 ? q : undefined;
    });
    expect(p99[0]!.metric).toEqual({});
    const overall = await prom.query(
      "histogram_quantile(0.99, sum by (le) (hexr_authz_check_duration_seconds_bucket))",
    );
    expect(Number(overall[0]!.value[1])).toBeGreaterThan(0);
    await waitFor("the guard thread's metrics in the scrape", async () => {
      const f = await prom.query('hexr_guard_findings_total{type="secret",subtype="aws_access_key_id",action="block"}');
      return f.length === 1 ? true : undefined;
    });
    const tokens = await prom.query(
      'gen_ai_client_token_usage_sum{gen_ai_request_model="gpt-4o-mini",gen_ai_token_type="output"}',
    );
    expect(Number(tokens[0]?.value[1])).toBeGreaterThanOrEqual(10);
    const rev = await prom.query("hexr_policy_revision_info");
    expect(rev[0]?.metric.revision).toBe(audit.records.at(-1)!.policy_revision);
    const envoyAuthz = await prom.query("envoy_http_ext_authz_ok");
    expect(envoyAuthz.length).toBeGreaterThan(0);
  });

  it("the exposition holds no SPIFFE ID on per-request series and no secret", async () => {
    const text = await (await fetch(`http://${dp.sidecar.admin!.address}/metrics`)).text();
    for (const secret of [API_KEY, PROMPT_MARK, REPLY_MARK, AWS_KEY]) expect(text).not.toContain(secret);
    for (const line of text.split("\n")) {
      if (line.includes("spiffe://")) expect(line.startsWith("hexr_svid_expiry_timestamp_seconds")).toBe(true);
    }
    expect(text).toContain('hexr_authz_decisions_total{result="allow",reason="none"}');
  });

  it("every dashboard panel's query returns a series from what this data plane exposes", async () => {
    // events the panels count that the tests above did not produce:
    // an identity failure (a JWT-SVID for another audience on the JWT-only listener)
    const wrongAud = await dp.jwtSvid(RESEARCHER, "not-hexr");
    expect((await dp.send(dp.anonymous(), { ...BIGQUERY, headers: { "x-hexr-svid": wrongAud } })).status).toBe(403);
    // a refused policy bundle, then the good one back
    const good = readFileSync(bundlePath);
    const failedBefore = dp.sidecar.store!.stats.rejections;
    writeFileSync(`${bundlePath}.tmp`, "not a bundle");
    renameSync(`${bundlePath}.tmp`, bundlePath);
    await waitFor("the broken bundle to be refused", () =>
      dp.sidecar.store!.stats.rejections > failedBefore ? true : undefined,
    );
    writeFileSync(`${bundlePath}.tmp`, good);
    renameSync(`${bundlePath}.tmp`, bundlePath);
    // an unscannable body (binary media on an LLM route: fail closed) and an upstream 5xx
    const media = { ...chat("x"), headers: { "content-type": "image/png", authorization: `Bearer ${API_KEY}` } };
    expect((await dp.send(researcher, media)).status).toBe(413);
    dp.llm.raw = { status: 500, contentType: "application/json", body: '{"error":"overloaded"}' };
    expect((await dp.send(researcher, chat("hello"))).status).toBe(500);
    // one agent over its per-minute limit (the policy clock is fixed: the window never slides)
    let limited = 0;
    for (let i = 0; i < 110 && limited === 0; i++) {
      const r = await dp.send(writer, { method: "GET", host: "storage.googleapis.com", path: "/storage/v1/b/x/o" });
      if (r.status === 403 && r.body.includes("rate limit exceeded")) limited++;
    }
    expect(limited).toBe(1);

    // A rate needs two scrapes of a series: each panel is waited for (a readiness signal), then judged.
    // The panels of features not built yet (credential injection, A2A) must still be valid PromQL.
    const panels = allPanels();
    const missing: string[] = [];
    for (const p of panels) {
      if (p.needs !== undefined) {
        await prom.query(p.expr);
        continue;
      }
      try {
        await waitFor(p.title, async () => ((await prom.query(p.expr)).length > 0 ? true : undefined), 20_000);
      } catch {
        missing.push(`${p.dashboard} / ${p.title}: ${p.expr}`);
      }
    }
    expect(missing).toEqual([]);
    expect(panels.filter((p) => p.needs === undefined).length).toBeGreaterThanOrEqual(42);
  }, 300_000);
});

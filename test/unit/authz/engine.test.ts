import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ALLOW_ENTRYPOINT, DECISION_ENTRYPOINT, PolicyEngine, readBundle } from "../../../filters/authz/index.ts";
import { buildDir, buildSources, opaInput, POLICIES } from "./helpers.ts";

let engine: PolicyEngine;

beforeAll(async () => {
  const bundle = await readBundle(await buildDir(POLICIES, { revision: "test-rev" }));
  expect(bundle.entrypoints).toEqual([DECISION_ENTRYPOINT, ALLOW_ENTRYPOINT]);
  engine = await PolicyEngine.load(bundle);
});

describe("policies/authz.rego through the WASM engine", () => {
  it("evaluates the decision entrypoint and keeps the bundle revision", () => {
    expect(engine.entrypoint).toBe(DECISION_ENTRYPOINT);
    expect(engine.revision).toBe("test-rev");
  });

  // The seed's role matrix: researchers read BigQuery and S3, writers only PutObject to S3, editors nothing.
  it.each([
    ["researcher", "gcp_bigquery", "bigquery.jobs.create", []],
    ["researcher", "gcp_bigquery", "bigquery.tables.getData", []],
    ["researcher", "gcp_bigquery", "unknown", ["unclassified request to gcp_bigquery (action unknown)"]],
    ["researcher", "aws_s3", "s3:GetObject", []],
    ["researcher", "aws_s3", "s3:ListBucket", []],
    ["researcher", "aws_s3", "s3:GetBucketAcl", ["role researcher may not perform s3:GetBucketAcl on aws_s3"]],
    ["researcher", "aws_s3", "s3:PutObject", ["role researcher may not perform s3:PutObject on aws_s3"]],
    ["researcher", "aws_s3", "s3:DeleteObject", ["role researcher may not perform s3:DeleteObject on aws_s3"]],
    ["researcher", "openai", "chat.completions.create", []],
    [
      "researcher",
      "azure_blob",
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
      ["role researcher may not use azure_blob"],
    ],
    ["writer", "aws_s3", "s3:PutObject", []],
    ["writer", "aws_s3", "s3:GetObject", ["role writer may not perform s3:GetObject on aws_s3"]],
    ["writer", "aws_s3", "s3:PutObjectAcl", ["role writer may not perform s3:PutObjectAcl on aws_s3"]],
    ["writer", "gcp_bigquery", "bigquery.jobs.create", ["role writer may not use gcp_bigquery"]],
    ["editor", "aws_s3", "s3:GetObject", ["role editor may not use aws_s3"]],
    ["editor", "gcp_bigquery", "bigquery.jobs.create", ["role editor may not use gcp_bigquery"]],
    ["editor", "openai", "chat.completions.create", ["role editor may not use openai"]],
    ["writer", "anthropic", "messages.create", []],
    ["admin", "gcp_bigquery", "bigquery.jobs.create", ["unknown role admin"]],
    ["researcher", "unknown", "get", ["unknown service"]],
  ])("%s → %s %s: reasons %j", (role, service, action, reasons) => {
    const d = engine.evaluate(opaInput({ role, service, action }));
    expect(d).toEqual({ allow: reasons.length === 0, reasons });
  });

  it.each([
    ["2026-01-15T07:59:59Z", false],
    ["2026-01-15T08:00:00Z", true],
    ["2026-01-15T17:59:59Z", true],
    ["2026-01-15T18:00:00Z", false],
    ["2026-01-15T09:30:00+02:00", false], // 07:30 UTC
    ["2026-01-15T19:30:00+02:00", true], // 17:30 UTC
    ["2026-01-15T12:00:00.123456789Z", true],
  ])("business hours (UTC, host time builtins): %s → allow %s", (timestamp, allow) => {
    const d = engine.evaluate(opaInput({ timestamp }));
    expect(d).toEqual(allow ? { allow: true, reasons: [] } : { allow: false, reasons: ["outside business hours"] });
  });

  it.each(["yesterday", "2026-02-30T10:00:00Z", "2026-01-15 10:30:00Z", "2026-01-15T24:00:00Z", ""])(
    "an unparseable timestamp %j denies with 'invalid timestamp' (as opa test does)",
    (timestamp) => {
      expect(engine.evaluate(opaInput({ timestamp }))).toEqual({ allow: false, reasons: ["invalid timestamp"] });
    },
  );

  it("business hours apply to researchers only", () => {
    const d = engine.evaluate(
      opaInput({ role: "writer", service: "aws_s3", action: "s3:PutObject", timestamp: "2026-01-15T23:00:00Z" }),
    );
    expect(d.allow).toBe(true);
  });

  it("rate limit: 100 calls allowed, the 101st denied with the count and the limit", () => {
    expect(engine.evaluate(opaInput({ rate: { agent_calls_last_minute: 100 } })).allow).toBe(true);
    expect(engine.evaluate(opaInput({ rate: { agent_calls_last_minute: 101 } }))).toEqual({
      allow: false,
      reasons: ["rate limit exceeded: 101 calls in the last minute (limit 100)"],
    });
  });

  it("reports every reason, sorted", () => {
    const d = engine.evaluate(
      opaInput({
        service: "aws_s3",
        action: "s3:PutObject",
        timestamp: "2026-01-15T20:00:00Z",
        rate: { agent_calls_last_minute: 300 },
      }),
    );
    expect(d).toEqual({
      allow: false,
      reasons: [
        "outside business hours",
        "rate limit exceeded: 300 calls in the last minute (limit 100)",
        "role researcher may not perform s3:PutObject on aws_s3",
      ],
    });
  });

  it.each([
    {},
    { role: undefined },
    { action: undefined },
    { rate: undefined },
    { timestamp: undefined },
    { service: "" },
    { role: "writer", service: "gcp_storage" },
    { role: 7 },
  ])("every deny carries a reason: %j", (overrides) => {
    const input = Object.keys(overrides).length === 0 ? {} : opaInput(overrides);
    const d = engine.evaluate(input);
    expect(d.allow).toBe(false);
    expect(d.reasons.length).toBeGreaterThan(0);
  });

  it("returns frozen decisions, safe to cache", () => {
    const d = engine.evaluate(opaInput());
    expect(Object.isFrozen(d)).toBe(true);
    expect(Object.isFrozen(d.reasons)).toBe(true);
  });
});

describe("PolicyEngine with other policies", () => {
  it("the allow-all example allows everything, with no reasons", async () => {
    const allowAll = await PolicyEngine.load(await readBundle(await buildDir(path.join(POLICIES, "examples"))));
    expect(allowAll.evaluate({})).toEqual({ allow: true, reasons: [] });
    expect(allowAll.evaluate(opaInput({ role: "editor", service: "unknown" }))).toEqual({ allow: true, reasons: [] });
  });

  it("falls back to hexr/authz/allow when there is no decision entrypoint", async () => {
    const seed = `package hexr.authz
default allow := false
allow if {
  input.role == "researcher"
  input.service in {"gcp_bigquery", "aws_s3"}
}
`;
    const e = await PolicyEngine.load(
      await readBundle(await buildSources({ "p.rego": seed }, { entrypoints: ["hexr/authz/allow"] })),
    );
    expect(e.entrypoint).toBe(ALLOW_ENTRYPOINT);
    expect(e.evaluate({ role: "researcher", service: "aws_s3" })).toEqual({ allow: true, reasons: [] });
    expect(e.evaluate({ role: "writer", service: "gcp_bigquery" })).toEqual({
      allow: false,
      reasons: ["denied by policy"],
    });
  });

  it("an undefined allow (no default) denies", async () => {
    const e = await PolicyEngine.load(
      await readBundle(
        await buildSources(
          { "p.rego": "package hexr.authz\nallow if input.ok\n" },
          { entrypoints: ["hexr/authz/allow"] },
        ),
      ),
    );
    expect(e.evaluate({ ok: false })).toEqual({ allow: false, reasons: ["denied by policy"] });
    expect(e.evaluate({ ok: true })).toEqual({ allow: true, reasons: [] });
  });

  it.each([
    ['decision := {"allow": "yes", "reasons": []}'],
    ['decision := {"allow": true}'],
    ['decision := {"allow": false, "reasons": [1, 2]}'],
    ["decision := true"],
    ["decision if input.never"],
    // a scope the policy got wrong never becomes an unscoped credential
    ['decision := {"allow": true, "reasons": [], "resources": "arn:aws:s3:::b/*"}'],
    ['decision := {"allow": true, "reasons": [], "resources": [1]}'],
    ['decision := {"allow": true, "reasons": [], "resources": [""]}'],
    ['decision := {"allow": true, "reasons": [], "credential_seconds": 1.5}'],
    ['decision := {"allow": true, "reasons": [], "credential_seconds": 99999}'],
  ])("a malformed decision (%s) denies with policy.bad_result", async (rule) => {
    const e = await PolicyEngine.load(
      await readBundle(
        await buildSources({ "p.rego": `package hexr.authz\n${rule}\n` }, { entrypoints: ["hexr/authz/decision"] }),
      ),
    );
    expect(e.evaluate({})).toEqual({ allow: false, reasons: ["policy.bad_result"] });
  });

  it("carries an allow's credential scope and lifetime", async () => {
    const e = await PolicyEngine.load(
      await readBundle(
        await buildSources(
          {
            "p.rego":
              'package hexr.authz\ndecision := {"allow": true, "reasons": [], "resources": ["arn:aws:s3:::b/*"], "credential_seconds": 1800}\n',
          },
          { entrypoints: ["hexr/authz/decision"] },
        ),
      ),
    );
    expect(e.evaluate({})).toEqual({
      allow: true,
      reasons: [],
      resources: ["arn:aws:s3:::b/*"],
      credentialSeconds: 1800,
    });
  });

  it("a deny without reasons is still explained", async () => {
    const e = await PolicyEngine.load(
      await readBundle(
        await buildSources(
          { "p.rego": 'package hexr.authz\ndecision := {"allow": false, "reasons": []}\n' },
          { entrypoints: ["hexr/authz/decision"] },
        ),
      ),
    );
    expect(e.evaluate({})).toEqual({ allow: false, reasons: ["denied by policy"] });
  });

  it("an evaluation error denies with policy.eval_error and never throws", async () => {
    // Conflicting values for a complete rule are a runtime error in the WASM module.
    const rego = `package hexr.authz
decision := {"allow": true, "reasons": []} if input.a
decision := {"allow": false, "reasons": ["x"]} if input.b
`;
    const e = await PolicyEngine.load(
      await readBundle(await buildSources({ "p.rego": rego }, { entrypoints: ["hexr/authz/decision"] })),
    );
    expect(e.evaluate({ a: true, b: true })).toEqual({ allow: false, reasons: ["policy.eval_error"] });
    expect(e.evaluate({ a: true })).toEqual({ allow: true, reasons: [] }); // the instance still works afterwards
  });

  it("uses the bundle's data document", async () => {
    const rego = `package hexr.authz
decision := {"allow": input.n <= data.hexr.limits.max, "reasons": []}
`;
    const bundle = await readBundle(
      await buildSources(
        { "p.rego": rego, "data.json": '{"hexr":{"limits":{"max":3}}}' },
        { entrypoints: ["hexr/authz/decision"] },
      ),
    );
    const e = await PolicyEngine.load(bundle);
    expect(e.evaluate({ n: 3 }).allow).toBe(true);
    expect(e.evaluate({ n: 4 }).allow).toBe(false);
  });

  it("refuses a module without either entrypoint", async () => {
    const bundle = await readBundle(
      await buildSources({ "p.rego": "package other\nx := 1\n" }, { entrypoints: ["other/x"] }),
    );
    await expect(PolicyEngine.load(bundle)).rejects.toMatchObject({ code: "bundle.no_entrypoint" });
  });

  it("refuses a module needing a builtin neither WASM, the SDK nor the host provides", async () => {
    const rego = 'package hexr.authz\ndecision := {"allow": semver.compare("1.0.0", input.v) == 0, "reasons": []}\n';
    const bundle = await readBundle(await buildSources({ "p.rego": rego }, { entrypoints: ["hexr/authz/decision"] }));
    await expect(PolicyEngine.load(bundle)).rejects.toMatchObject({ code: "bundle.unsupported_builtin" });
  });
});

/**
 * ext_authz through real Envoy: mTLS client certificates with SPIFFE URI SANs from a CA made here,
 * the sidecar evaluating real OPA-built WASM, and an upstream that records what reached it.
 */
import { copyFileSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { envoyVersion } from "../../envoy-config/index.ts";
import { MemoryAudit } from "../../sidecars/authz/audit.ts";
import type { ClientIdentity } from "../../sidecars/devtools/client.ts";
import { type LocalDataPlane, startLocalDataPlane } from "../../sidecars/devtools/local-dataplane.ts";
import { MemoryLogger } from "../../sidecars/logger.ts";
import { ALLOW_ALL_REGO, buildInlineBundle, buildProjectBundle } from "../helpers/bundles.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TD = "hexr.cloud";
const RESEARCHER = `spiffe://${TD}/agent/acme-corp/content-crew/researcher`;
const WRITER = `spiffe://${TD}/agent/acme-corp/content-crew/writer`;
// From 10:30 UTC (inside the policy's business hours), one simulated second per call: deterministic time
// facts, and the per-agent rate stays under the policy's per-minute limit during steady traffic.
const START = Date.parse("2026-01-15T10:30:00Z");
let tick = 0;
const clock = () => START + 1000 * tick++;

const BIGQUERY = {
  method: "POST",
  host: "bigquery.googleapis.com",
  path: "/bigquery/v2/projects/p1/queries",
  body: "{}",
};

let dp: LocalDataPlane;
let dir: string;
let bundle: string;
let allowAll: string;
let mainBundle: string;
const logger = new MemoryLogger();
const audit = new MemoryAudit();
let researcher: ClientIdentity;
let writer: ClientIdentity;

beforeAll(async () => {
  console.log(`Envoy in use: ${await envoyVersion()}`);
  dir = mkdtempSync(path.join(tmpdir(), "hexr-it-"));
  mainBundle = buildProjectBundle(dir, "main.tar.gz");
  allowAll = buildInlineBundle(dir, "allow-all.tar.gz", { "allow.rego": ALLOW_ALL_REGO });
  bundle = path.join(dir, "bundle.tar.gz");
  copyFileSync(mainBundle, bundle);
  // the policy's business-hours rule reads input.timestamp: pin the sidecar's clock for determinism
  dp = await startLocalDataPlane({ bundlePath: bundle, logger, audit, bundlePollMs: 100, now: clock });
  researcher = await dp.identity([RESEARCHER]);
  writer = await dp.identity([WRITER]);
});

afterAll(async () => {
  await dp?.stop();
});

function upstreamCount(): number {
  return dp.upstream.seen.length;
}

describe("ext_authz through real Envoy", () => {
  it("researcher → BigQuery: 200 from the upstream, which saw x-hexr-decision-id", async () => {
    const before = upstreamCount();
    const r = await dp.send(researcher, BIGQUERY);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ upstream: "ok" });
    expect(upstreamCount()).toBe(before + 1);
    const seen = dp.upstream.seen.at(-1)!;
    const id = seen.headers["x-hexr-decision-id"];
    expect(id).toMatch(UUID);
    const rec = audit.records.find((a) => a.decision_id === id);
    expect(rec).toMatchObject({ allow: true, spiffe_id: RESEARCHER, role: "researcher", service: "gcp_bigquery" });
  });

  it("writer → BigQuery: 403 with reasons, and the upstream saw nothing", async () => {
    const before = upstreamCount();
    const r = await dp.send(writer, BIGQUERY);
    expect(r.status).toBe(403);
    const body = JSON.parse(r.body);
    expect(body.decision).toBe("deny");
    expect(body.reasons.length).toBeGreaterThan(0);
    expect(body.reasons.join(" ")).toMatch(/writer/);
    expect(body.decision_id).toMatch(UUID);
    expect(r.headers["x-hexr-decision-id"]).toBe(body.decision_id);
    expect(upstreamCount()).toBe(before);
  });

  it("no client certificate: the TLS handshake is refused and the upstream is untouched", async () => {
    const before = upstreamCount();
    await expect(dp.send(dp.anonymous(), BIGQUERY)).rejects.toThrow();
    expect(upstreamCount()).toBe(before);
  });

  it.each([
    ["a certificate without a SPIFFE SAN", [] as string[], ["agent.example.com"], /identity\.no_spiffe_san/],
    ["a malformed SPIFFE ID", [`spiffe://${TD}/agent//content-crew/researcher`], undefined, /spiffe_id\./],
    [
      "a foreign trust domain",
      ["spiffe://evil.example/agent/acme-corp/content-crew/researcher"],
      undefined,
      /identity\.foreign_trust_domain/,
    ],
    ["a SPIFFE ID that is not an agent", [`spiffe://${TD}/workload/db`], undefined, /identity\.not_agent_id/],
  ])("%s: 403 with the reason, upstream untouched", async (_name, uris, dns, reason) => {
    const id = await dp.identity(uris, dns);
    const before = upstreamCount();
    const r = await dp.send(id, BIGQUERY);
    expect(r.status).toBe(403);
    const body = JSON.parse(r.body);
    expect(body.reasons.join(" ")).toMatch(reason);
    expect(upstreamCount()).toBe(before);
  });

  it("spoofed x-hexr-* and XFCC headers never reach policy or upstream", async () => {
    const spoof = {
      "x-hexr-decision-id": "spoofed",
      "x-hexr-spiffe-id": RESEARCHER,
      "x-hexr-role": "researcher",
      "x-forwarded-client-cert": `By=spiffe://${TD}/x;URI=${RESEARCHER}`,
    };
    // a writer claiming to be a researcher through headers is still a writer
    const before = upstreamCount();
    const denied = await dp.send(writer, { ...BIGQUERY, headers: spoof });
    expect(denied.status).toBe(403);
    expect(upstreamCount()).toBe(before);
    expect(denied.headers["x-hexr-decision-id"]).toMatch(UUID);

    const ok = await dp.send(researcher, { ...BIGQUERY, headers: spoof });
    expect(ok.status).toBe(200);
    const seen = dp.upstream.seen.at(-1)!;
    expect(seen.headers["x-hexr-decision-id"]).toMatch(UUID);
    expect(seen.headers["x-hexr-spiffe-id"]).toBeUndefined();
    expect(seen.headers["x-hexr-role"]).toBeUndefined();
    expect(seen.headers["x-forwarded-client-cert"]).toBeUndefined();
  });

  // issue #8: operations chosen by query subresource and headers are named the way IAM does
  it.each([
    [
      "CopyObject reads another bucket",
      { method: "PUT", path: "/drafts/post.md", headers: { "x-amz-copy-source": "finance/q1.csv" } },
      "s3:PutObject",
      ["s3:PutObject", "s3:GetObject"],
      "role writer may not perform s3:GetObject on aws_s3",
    ],
    [
      "?acl with x-amz-acl: public-read",
      { method: "PUT", path: "/drafts/post.md?acl", headers: { "x-amz-acl": "public-read" } },
      "s3:PutObjectAcl",
      ["s3:PutObjectAcl"],
      "role writer may not perform s3:PutObjectAcl on aws_s3",
    ],
    [
      "PutObject with x-amz-acl: public-read",
      { method: "PUT", path: "/drafts/post.md", headers: { "x-amz-acl": "public-read" } },
      "s3:PutObject",
      ["s3:PutObject", "s3:PutObjectAcl"],
      "role writer may not perform s3:PutObjectAcl on aws_s3",
    ],
    [
      "SelectObjectContent reads the object",
      { method: "POST", path: "/finance/q1.csv?select&select-type=2", body: "<SelectObjectContentRequest/>" },
      "s3:GetObject",
      ["s3:GetObject"],
      "role writer may not perform s3:GetObject on aws_s3",
    ],
    [
      "?tagging",
      { method: "PUT", path: "/drafts/post.md?tagging", body: "<Tagging/>" },
      "s3:PutObjectTagging",
      ["s3:PutObjectTagging"],
      "role writer may not perform s3:PutObjectTagging on aws_s3",
    ],
    [
      "?retention",
      { method: "PUT", path: "/drafts/post.md?retention", body: "<Retention/>" },
      "s3:PutObjectRetention",
      ["s3:PutObjectRetention"],
      "role writer may not perform s3:PutObjectRetention on aws_s3",
    ],
    [
      "?restore",
      { method: "POST", path: "/drafts/post.md?restore", body: "<RestoreRequest/>" },
      "s3:RestoreObject",
      ["s3:RestoreObject"],
      "role writer may not perform s3:RestoreObject on aws_s3",
    ],
    [
      "an unknown subresource",
      { method: "PUT", path: "/drafts/post.md?nosuchthing" },
      "unknown",
      ["unknown"],
      "unclassified request to aws_s3 (action unknown)",
    ],
  ])(
    "writer, %s: 403, the audit names the IAM action, nothing reached the upstream",
    async (_n, req, action, actions, reason) => {
      const before = upstreamCount();
      const r = await dp.send(writer, { host: "s3.amazonaws.com", ...req });
      expect(r.status).toBe(403);
      const body = JSON.parse(r.body);
      expect(body.reasons).toContain(reason);
      expect(upstreamCount()).toBe(before);
      const rec = audit.records.find((a) => a.decision_id === body.decision_id);
      expect(rec).toMatchObject({ allow: false, service: "aws_s3", action, actions });
    },
  );

  it("writer, plain PutObject: still allowed, audited as s3:PutObject", async () => {
    const r = await dp.send(writer, { method: "PUT", host: "s3.amazonaws.com", path: "/drafts/post.md", body: "hi" });
    expect(r.status).toBe(200);
    const id = dp.upstream.seen.at(-1)!.headers["x-hexr-decision-id"];
    expect(audit.records.find((a) => a.decision_id === id)).toMatchObject({
      allow: true,
      action: "s3:PutObject",
      actions: ["s3:PutObject"],
    });
  });

  it.each([
    ["/reports?acl", "s3:GetBucketAcl"],
    ["/reports?policy", "s3:GetBucketPolicy"],
  ])("researcher GET %s is %s (not ListBucket): denied, upstream untouched", async (p, action) => {
    const before = upstreamCount();
    const r = await dp.send(researcher, { method: "GET", host: "s3.amazonaws.com", path: p });
    expect(r.status).toBe(403);
    const body = JSON.parse(r.body);
    expect(body.reasons).toContain(`role researcher may not perform ${action} on aws_s3`);
    expect(audit.records.find((a) => a.decision_id === body.decision_id)).toMatchObject({ action });
    expect(upstreamCount()).toBe(before);
  });

  it("X-HTTP-Method-Override never reaches the upstream; one naming another method is denied as unknown", async () => {
    const ok = await dp.send(writer, {
      method: "PUT",
      host: "s3.amazonaws.com",
      path: "/drafts/post.md",
      headers: { "x-http-method-override": "PUT", "x-method-override": "put" },
      body: "hi",
    });
    expect(ok.status).toBe(200);
    const seen = dp.upstream.seen.at(-1)!;
    expect(seen.method).toBe("PUT");
    expect(seen.headers["x-http-method-override"]).toBeUndefined();
    expect(seen.headers["x-method-override"]).toBeUndefined();

    const before = upstreamCount();
    const r = await dp.send(researcher, {
      method: "GET",
      host: "reports.s3.amazonaws.com",
      path: "/q1.csv",
      headers: { "x-http-method-override": "DELETE" },
    });
    expect(r.status).toBe(403);
    const body = JSON.parse(r.body);
    expect(body.reasons).toContain("unclassified request to aws_s3 (action unknown)");
    expect(audit.records.find((a) => a.decision_id === body.decision_id)).toMatchObject({ action: "unknown" });
    expect(upstreamCount()).toBe(before);
  });

  it("Google batch endpoint: unknown, denied, upstream untouched", async () => {
    const before = upstreamCount();
    const r = await dp.send(researcher, {
      method: "POST",
      host: "storage.googleapis.com",
      path: "/batch/storage/v1",
      headers: { "content-type": "multipart/mixed; boundary=b" },
      body: "--b--",
    });
    expect(r.status).toBe(403);
    const body = JSON.parse(r.body);
    expect(audit.records.find((a) => a.decision_id === body.decision_id)).toMatchObject({
      service: "gcp_storage",
      action: "unknown",
    });
    expect(upstreamCount()).toBe(before);
  });

  it("bundle replaced during steady traffic: new decisions without restart, zero failed requests", async () => {
    const store = dp.sidecar.store!;
    const oldRevision = store.current()!.revision;
    expect((await dp.send(writer, BIGQUERY)).status).toBe(403);

    let stop = false;
    const statuses: number[] = [];
    const traffic = (async () => {
      // bounded: at most 2000 requests
      for (let i = 0; i < 2000 && !stop; i++) statuses.push((await dp.send(researcher, BIGQUERY)).status);
    })();
    const swapped = new Promise<void>((resolve) => store.onSwap(() => resolve()));
    // atomic replace, as a ConfigMap update or `mv` would do
    const tmp = `${bundle}.new`;
    copyFileSync(allowAll, tmp);
    renameSync(tmp, bundle);
    await swapped;
    expect(store.current()!.revision).not.toBe(oldRevision);
    expect((await dp.send(writer, BIGQUERY)).status).toBe(200);
    stop = true;
    await traffic;
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);

    // restore the main policy for the tests after this one
    const back = new Promise<void>((resolve) => store.onSwap(() => resolve()));
    copyFileSync(mainBundle, tmp);
    renameSync(tmp, bundle);
    await back;
    expect((await dp.send(writer, BIGQUERY)).status).toBe(403);
  });

  it("corrupt bundle: the old policy keeps serving and the error is logged", async () => {
    const store = dp.sidecar.store!;
    const revision = store.current()!.revision;
    const errorsBefore = logger.entries.filter((e) => e.event === "bundle_rejected").length;
    const tmp = `${bundle}.new`;
    writeFileSync(tmp, Buffer.from("this is not a gzip tarball"));
    renameSync(tmp, bundle);
    await store.reload().catch(() => undefined);
    expect(logger.entries.filter((e) => e.event === "bundle_rejected").length).toBeGreaterThan(errorsBefore);
    expect(store.current()!.revision).toBe(revision);
    expect((await dp.send(researcher, BIGQUERY)).status).toBe(200);
    expect((await dp.send(writer, BIGQUERY)).status).toBe(403);
    copyFileSync(mainBundle, tmp);
    renameSync(tmp, bundle);
  });

  it("authz server stopped: the request is refused, never forwarded", async () => {
    const before = upstreamCount();
    dp.sidecar.server.kill();
    const r = await dp.send(researcher, BIGQUERY);
    expect(r.status).toBe(403);
    expect(upstreamCount()).toBe(before);
  });

  it("audit records never carry bodies or credentials", () => {
    const text = JSON.stringify(audit.records);
    expect(text).not.toContain("BEGIN");
    expect(text).not.toMatch(/spoofed/);
    for (const r of audit.records) {
      expect(Object.keys(r).sort()).toEqual([
        "action",
        "actions",
        "agent",
        "allow",
        "cached",
        "credential_tier",
        "decision_id",
        "latency_ms",
        "policy_revision",
        "reasons",
        "role",
        "service",
        "spiffe_id",
        "tenant",
        "time",
        "trace_id",
      ]);
    }
  });
});

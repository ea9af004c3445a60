/**
 * Both Check servers behind real Envoy: the default for a socket (`authz.listen.server: http2`, plain
 * node:http2, no grpc-js) and `server: grpc-js`. The same decisions on each (allow with the decision header
 * upstream, deny with the reason, fail closed when the server is gone), and the gRPC edges on the socket
 * itself with a grpc-js client: health Check, an unknown method, a malformed CheckRequest, a message over
 * the size cap.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ListenConfig } from "../../sidecars/config.ts";
import { MemoryAudit } from "../../sidecars/authz/audit.ts";
import type { ClientIdentity } from "../../sidecars/devtools/client.ts";
import { type LocalDataPlane, startLocalDataPlane } from "../../sidecars/devtools/local-dataplane.ts";
import { HEALTH_PROTO } from "../../sidecars/envoy-protos.ts";
import { MemoryLogger } from "../../sidecars/logger.ts";
import { buildProjectBundle } from "../helpers/bundles.ts";

const RESEARCHER = "spiffe://hexr.cloud/agent/acme-corp/content-crew/researcher";
const WRITER = "spiffe://hexr.cloud/agent/acme-corp/content-crew/writer";
const BIGQUERY = {
  method: "POST",
  host: "bigquery.googleapis.com",
  path: "/bigquery/v2/projects/p1/queries",
  body: "{}",
};
/** A raw unary call on the authz socket: grpc-js as the client, any path, any bytes. */
function call(socket: string, method: string, body: Buffer): Promise<{ code: number; details: string; body?: Buffer }> {
  const client = new grpc.Client(`unix:${socket}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      method,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      (err, res) => {
        client.close();
        resolve(
          err ? { code: err.code, details: err.details } : { code: 0, details: "", ...(res ? { body: res } : {}) },
        );
      },
    );
  });
}

describe.each([
  ["node:http2 (the default)", undefined],
  ["grpc-js", "grpc-js"],
] as const)("Check on %s behind real Envoy", (_name, server: ListenConfig["server"]) => {
  // the policy's business-hours rule reads input.timestamp: a pinned clock, a second per decision
  const START = Date.parse("2026-01-15T10:30:00Z");
  let tick = 0;

  let dp: LocalDataPlane;
  let researcher: ClientIdentity;
  let writer: ClientIdentity;
  let socket: string;
  let dir: string;
  const audit = new MemoryAudit();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hexr-h2-"));
    dp = await startLocalDataPlane({
      bundlePath: buildProjectBundle(dir),
      logger: new MemoryLogger(),
      audit,
      ...(server ? { authzServer: server } : {}),
      now: () => START + 1000 * tick++,
    });
    researcher = await dp.identity([RESEARCHER]);
    writer = await dp.identity([WRITER]);
    socket = (dp.sidecar.addresses.find((a) => a.endsWith("authz.sock")) as string).slice("unix:".length);
  }, 60_000);

  afterAll(async () => {
    await dp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("allows what the policy allows (the decision id reaches the upstream) and denies with the reason", async () => {
    const before = dp.upstream.seen.length;
    const ok = await dp.send(researcher, BIGQUERY);
    expect(ok.status).toBe(200);
    expect(dp.upstream.seen.length).toBe(before + 1);
    expect(JSON.stringify(dp.upstream.seen.at(-1))).toContain("x-hexr-decision-id");
    const denied = await dp.send(writer, BIGQUERY);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body).reasons.join(" ")).toMatch(/role writer may not use gcp_bigquery/);
    expect(dp.upstream.seen.length).toBe(before + 1); // the denied one never reached it
    expect(audit.records.map((r) => [r.spiffe_id, r.allow])).toEqual([
      [RESEARCHER, true],
      [WRITER, false],
    ]);
  });

  it("answers grpc.health.v1 Check on the same socket", async () => {
    const def = protoLoader.loadSync(HEALTH_PROTO, { keepCase: true, enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    const health = new pkg.grpc.health.v1.Health(`unix:${socket}`, grpc.credentials.createInsecure()) as unknown as {
      Check(req: { service: string }, cb: (e: grpc.ServiceError | null, r?: { status: string }) => void): void;
      close(): void;
    };
    const status = (service: string) =>
      new Promise<string>((resolve) =>
        health.Check({ service }, (e, r) => resolve(e ? `error ${e.code}` : String(r?.status))),
      );
    expect(await status("")).toBe("SERVING");
    expect(await status("envoy.service.auth.v3.Authorization")).toBe("SERVING");
    expect(await status("no.such.Service")).toBe(`error ${grpc.status.NOT_FOUND}`);
    health.close();
  });

  it("refuses an unknown method, a malformed CheckRequest and an oversized one with gRPC statuses", async () => {
    expect((await call(socket, "/envoy.service.ext_proc.v3.ExternalProcessor/Process", Buffer.alloc(0))).code).toBe(
      grpc.status.UNIMPLEMENTED,
    );
    const bad = await call(socket, "/envoy.service.auth.v3.Authorization/Check", Buffer.from([0x0a, 0x80]));
    expect(bad.code).toBe(grpc.status.INTERNAL);
    // each server says it in its own words; neither echoes the request
    expect(bad.details).toMatch(server === "grpc-js" ? /^Error deserializing request/ : /^malformed CheckRequest: /);
    const big = await call(socket, "/envoy.service.auth.v3.Authorization/Check", Buffer.alloc(9 << 20));
    expect([grpc.status.RESOURCE_EXHAUSTED, grpc.status.UNAVAILABLE]).toContain(big.code);
    // and the server still serves
    expect((await dp.send(researcher, BIGQUERY)).status).toBe(200);
  });

  it("fails closed when the server is gone: Envoy refuses, nothing is forwarded", async () => {
    dp.sidecar.server.kill();
    const before = dp.upstream.seen.length;
    const r = await dp.send(researcher, BIGQUERY);
    expect(r.status).toBe(403);
    expect(dp.upstream.seen.length).toBe(before);
  });
});

/**
 * A second, independent A2A server implementation behind the data plane: PyPI's a2a-sdk 1.3.x (its own
 * Starlette routes, DefaultRequestHandler and TaskUpdater; sidecars/devtools/a2a-agent-py/agent.py), with
 * @a2a-js/sdk's client as the caller — JS client → Envoy's inbound listener (SPIRE-issued SVIDs on both
 * sides, ext_authz deciding with the body) → Python server. The cases mirror a2a-envoy.test.ts's first
 * block: allowed JSON-RPC (blocking and streaming) and REST calls reach the agent and complete, a call the
 * policy denies and a malformed message are refused in JSON-RPC's format and never appear in the agent's
 * received log (what its ASGI middleware appended before the SDK parsed anything), and the SDK's v0.3
 * compatibility layer (which it has: `enable_v0_3_compat`) answers a v0.3 message/send.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryAudit } from "../../sidecars/authz/audit.ts";
import { sdkClient, sdkMessage, spiffeFetch } from "../../sidecars/devtools/a2a-agent.ts";
import { type PythonA2aAgent, startPythonA2aAgent } from "../../sidecars/devtools/a2a-agent-python.ts";
import { type SpireDataPlane, startLocalDataPlane } from "../../sidecars/devtools/local-dataplane.ts";
import { MemoryLogger } from "../../sidecars/logger.ts";
import { buildProjectBundle } from "../helpers/bundles.ts";

const TD = "hexr.cloud";
const agent = (tenant: string, role: string) => `spiffe://${TD}/agent/${tenant}/content-crew/${role}`;
const WRITER = agent("acme-corp", "writer");
const RESEARCHER = agent("acme-corp", "researcher");

let dp: SpireDataPlane;
let target: PythonA2aAgent;
const audit = new MemoryAudit();
const logger = new MemoryLogger();
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  target = await startPythonA2aAgent({ name: "writer" });
  dp = await startLocalDataPlane({
    identity: "spire",
    bundlePath: buildProjectBundle(mkdtempSync(path.join(tmpdir(), "hexr-a2a-py-it-"))),
    logger,
    audit,
    envoyId: WRITER,
    identities: [RESEARCHER],
    inbound: { appPort: target.port, authzBodyBytes: 1 << 20 },
    sidecarConfig: { a2a: { target: WRITER, rest_base: "/a2a/rest", jsonrpc_path: "/a2a/jsonrpc" } },
  });
  target.publicUrl = `https://127.0.0.1:${dp.inboundPort}`;
}, 180_000);

afterAll(async () => {
  for (const c of closers) await c();
  await dp?.stop();
  await target?.stop();
});

async function fetchAs(id: string): Promise<typeof fetch> {
  const f = spiffeFetch(await dp.identity([id]), WRITER);
  closers.push(f.close);
  return f.fetch;
}

async function clientAs(id: string, transport: "JSONRPC" | "HTTP+JSON" = "JSONRPC") {
  return sdkClient(target.publicUrl, await fetchAs(id), transport);
}

const message = (text: string) => sdkMessage(text);

const bodiesSeen = () =>
  target
    .received()
    .map((r) => r.body)
    .join("\n");

describe("A2A to a2a-sdk's Python server through Envoy's inbound listener", () => {
  it("the card the client reads through Envoy is the Python server's, with Envoy's address", async () => {
    const f = await fetchAs(RESEARCHER);
    const card = (await (await f(`${target.publicUrl}/.well-known/agent-card.json`)).json()) as {
      name: string;
      supportedInterfaces: Array<{ url: string; protocolBinding: string; protocolVersion: string }>;
    };
    expect(card.name).toBe("writer");
    expect(card.supportedInterfaces).toContainEqual({
      url: `${target.publicUrl}/a2a/jsonrpc`,
      protocolBinding: "JSONRPC",
      protocolVersion: "1.0",
    });
    expect(card.supportedInterfaces).toContainEqual({
      url: `${target.publicUrl}/a2a/rest`,
      protocolBinding: "HTTP+JSON",
      protocolVersion: "1.0",
    });
  });

  it("a researcher's SendMessage (JSON-RPC, v1.0) reaches the Python server and comes back completed", async () => {
    const client = await clientAs(RESEARCHER);
    const task = (await client.sendMessage(message("draft the Q1 summary"))) as {
      status: { state: number };
      artifacts: Array<{ parts: Array<{ content: { value: string } }> }>;
    };
    expect(task.status.state).toBe(3); // TASK_STATE_COMPLETED
    expect(task.artifacts[0]?.parts[0]?.content.value).toBe("echo: draft the Q1 summary");
    const seen = target.received().find((r) => r.body.includes("draft the Q1 summary"));
    expect(seen?.path).toBe("/a2a/jsonrpc");
    expect(JSON.parse(seen?.body ?? "{}")).toMatchObject({ method: "SendMessage" });
    expect(audit.records.at(-1)).toMatchObject({
      spiffe_id: RESEARCHER,
      service: "a2a",
      action: "SendMessage",
      allow: true,
    });
  });

  it("SendStreamingMessage streams the task and its three updates", async () => {
    const client = await clientAs(RESEARCHER);
    const kinds: string[] = [];
    for await (const e of client.sendMessageStream(message("stream it"))) {
      kinds.push(Object.keys(e as object).join(","));
    }
    expect(kinds).toHaveLength(4);
    const seen = target.received().find((r) => r.body.includes("stream it"));
    expect(JSON.parse(seen?.body ?? "{}")).toMatchObject({ method: "SendStreamingMessage" });
  });

  it("the REST binding (HTTP+JSON) works the same way", async () => {
    const rest = await clientAs(RESEARCHER, "HTTP+JSON");
    const task = (await rest.sendMessage(message("over REST"))) as {
      status: { state: number };
      artifacts: Array<{ parts: Array<{ content: { value: string } }> }>;
    };
    expect(task.status.state).toBe(3);
    expect(task.artifacts[0]?.parts[0]?.content.value).toBe("echo: over REST");
    expect(target.received().some((r) => r.path === "/a2a/rest/message:send" && r.body.includes("over REST"))).toBe(
      true,
    );
  });

  it("CancelTask, which the policy denies a researcher, is refused with a JSON-RPC error and never received", async () => {
    const client = await clientAs(RESEARCHER);
    const before = target.received().length;
    await expect(client.cancelTask({ id: "t-123", metadata: undefined, tenant: "" } as never)).rejects.toThrow(
      /may not CancelTask/,
    );
    const f = await fetchAs(RESEARCHER);
    const raw = await f(`${target.publicUrl}/a2a/jsonrpc`, {
      method: "POST",
      headers: { "content-type": "application/json", "a2a-version": "1.0" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "CancelTask", params: { id: "t-raw" } }),
    });
    const body = (await raw.json()) as { id: number; error: { code: number; message: string } };
    expect(body.id).toBe(7);
    expect(body.error.code).toBe(-32000);
    expect(target.received().length).toBe(before);
    expect(bodiesSeen()).not.toContain("CancelTask");
    expect(audit.records.at(-1)).toMatchObject({ action: "CancelTask", allow: false });
  });

  it("a malformed SendMessage (a part with text and url) gets -32602 and the field's path, and is never received", async () => {
    const f = await fetchAs(RESEARCHER);
    const before = target.received().length;
    const r = await f(`${target.publicUrl}/a2a/jsonrpc`, {
      method: "POST",
      headers: { "content-type": "application/json", "a2a-version": "1.0" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 5,
        method: "SendMessage",
        params: {
          message: {
            messageId: "m-1",
            role: "ROLE_USER",
            parts: [{ text: "secret-ish text", url: "https://x.example/a" }],
          },
        },
      }),
    });
    const body = (await r.json()) as { id: number; error?: { code: number; message: string } };
    expect(body.id).toBe(5);
    expect(body.error?.code).toBe(-32602);
    expect(body.error?.message).toMatch(/parts\[0\]/);
    expect(body.error?.message).not.toContain("secret-ish text");
    expect(target.received().length).toBe(before);
    expect(bodiesSeen()).not.toContain("secret-ish text");
  });

  it("a v0.3 message/send (no A2A-Version) is validated against v0.3 and answered by the SDK's compat layer", async () => {
    const f = await fetchAs(RESEARCHER);
    const call = (parts: unknown) =>
      f(`${target.publicUrl}/a2a/jsonrpc`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: "v03",
          method: "message/send",
          params: { message: { kind: "message", messageId: crypto.randomUUID(), role: "user", parts } },
        }),
      }).then(
        (r) =>
          r.json() as Promise<{
            result?: { kind: string; status: { state: string }; artifacts: Array<{ parts: Array<{ text: string }> }> };
            error?: { code: number };
          }>,
      );
    const ok = await call([{ kind: "text", text: "hello in 0.3" }]);
    expect(ok.error).toBeUndefined();
    expect(ok.result?.kind).toBe("task");
    expect(ok.result?.status.state).toBe("completed");
    expect(ok.result?.artifacts[0]?.parts[0]?.text).toBe("echo: hello in 0.3");
    expect(bodiesSeen()).toContain("hello in 0.3");
    const before = target.received().length;
    const bad = await call([{ kind: "text" }]);
    expect(bad.error?.code).toBe(-32602);
    expect(target.received().length).toBe(before);
  });
});

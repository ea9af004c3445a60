/**
 * Ways to make the sidecar read an A2A request differently from the agent's server, found by review and
 * pinned here: each one is refused before the agent sees it.
 */
import { describe, expect, it } from "vitest";
import { A2aError } from "../../../filters/a2a/types.ts";
import { loadA2aSchemas } from "../../../filters/a2a/validate.ts";
import { A2aInboundStage } from "../../../sidecars/a2a/inbound.ts";

const stage = new A2aInboundStage({
  target: "spiffe://hexr.cloud/agent/acme-corp/content-crew/writer",
  schemas: loadA2aSchemas(),
  restBase: "/a2a/rest",
  jsonrpcPath: "/a2a/jsonrpc",
});
const enc = (o: unknown) => new TextEncoder().encode(typeof o === "string" ? o : JSON.stringify(o));
const JSON_V1 = { "content-type": "application/json", "a2a-version": "1.0" };
const send = (path: string, body: unknown, headers: Record<string, string> = JSON_V1) =>
  stage.inspect({ method: "POST", path, headers, body: enc(body) });
const rpc = (method: string, params: unknown) => ({ jsonrpc: "2.0", id: 1, method, params });
const code = (r: unknown) => (r instanceof A2aError ? r.code : (r as { method?: string } | undefined)?.method);

describe("the inbound stage refuses requests that parse two ways", () => {
  it("JSON-RPC only at the JSON-RPC path: a case-variant REST route is not read as a JSON-RPC GetTask", () => {
    expect(code(send("/A2A/REST/tasks/t1:cancel", rpc("GetTask", { id: "t1" })))).toBe("a2a.path_case");
    expect(code(send("/a2a/rest/TASKS/t1:cancel", rpc("GetTask", { id: "t1" })))).toBe("a2a.not_the_jsonrpc_path");
    expect(code(send("/a2a/other", rpc("GetTask", { id: "t1" })))).toBe("a2a.not_the_jsonrpc_path");
    expect(code(send("/a2a/jsonrpc", rpc("GetTask", { id: "t1" })))).toBe("GetTask");
    expect(code(send("/a2a/rest/tasks/t1:cancel", {}))).toBe("CancelTask");
  });

  it("refuses any charset but UTF-8 (the reference servers decode UTF-7)", () => {
    const h = { ...JSON_V1, "content-type": "application/json; charset=utf-7" };
    expect(code(send("/a2a/jsonrpc", rpc("GetTask", { id: "+AHQAMQ-" }), h))).toBe("a2a.charset_refused");
    expect(
      code(
        send("/a2a/jsonrpc", rpc("GetTask", { id: "t1" }), {
          ...JSON_V1,
          "content-type": "application/json; charset=UTF-8",
        }),
      ),
    ).toBe("GetTask");
  });

  it("refuses v0.3 REST's proto spelling `request`, which our scanners would not read", () => {
    const body = { request: { messageId: "m1", role: "ROLE_USER", content: [{ text: "hi" }] } };
    expect(
      code(send("/a2a/rest/v1/message:send", body, { "content-type": "application/json", "a2a-version": "0.3" })),
    ).toBe("a2a.alternate_spelling");
  });

  it("refuses a v0.3 REST file part by URL to the metadata endpoint (fileWithUri)", () => {
    const body = {
      message: {
        messageId: "m1",
        role: "ROLE_USER",
        content: [{ file: { fileWithUri: "http://169.254.169.254/latest/meta-data/", mimeType: "text/plain" } }],
      },
    };
    const r = send("/a2a/rest/v1/message:send", body, { "content-type": "application/json", "a2a-version": "0.3" });
    expect(code(r)).toBe("a2a.url_refused");
  });

  it("refuses the gRPC binding unless allowed (its bodies are not inspected)", () => {
    const r = stage.inspect({
      method: "POST",
      path: "/lf.a2a.v1.A2AService/SendMessage",
      headers: { "content-type": "application/grpc", "a2a-version": "1.0" },
      body: undefined,
    });
    expect(code(r)).toBe("a2a.grpc_not_inspected");
  });

  it("never echoes an unknown key that is not a short identifier (a secret planted as a key)", () => {
    const key = "password=hunter2 sk_live_0123456789abcdefghijklmnop";
    const r = send(
      "/a2a/jsonrpc",
      rpc("SendMessage", { message: { messageId: "m", role: "ROLE_USER", parts: [{ text: "x" }], [key]: 1 } }),
    );
    expect(r).toBeInstanceOf(A2aError);
    expect((r as A2aError).message).not.toContain("hunter2");
    expect((r as A2aError).path ?? "").not.toContain("hunter2");
  });
});

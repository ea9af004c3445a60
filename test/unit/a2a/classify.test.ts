import { describe, expect, it } from "vitest";
import { type A2aCall, A2aError, A2aRequestError, classifyA2a } from "../../../filters/a2a/index.ts";

type H = Record<string, string>;
const JSON_CT: H = { "content-type": "application/json" };
const V1: H = { ...JSON_CT, "a2a-version": "1.0" };
const V03: H = { ...JSON_CT, "a2a-version": "0.3" };
const GRPC: H = { "content-type": "application/grpc", "a2a-version": "1.0" };

function rpc(method: string, params?: unknown, id: unknown = 1): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method, ...(params !== undefined ? { params } : {}) });
}

function call(method: string, path: string, headers: H, body?: string | Uint8Array): A2aCall {
  const r = classifyA2a({ method, path, headers, body });
  if (r === undefined || r instanceof A2aError) throw new Error(`expected a call, got ${r?.reason ?? "undefined"}`);
  return r;
}

function refused(method: string, path: string, headers: H, body?: string): A2aRequestError {
  const r = classifyA2a({ method, path, headers, body });
  if (!(r instanceof A2aRequestError)) throw new Error(`expected an A2aRequestError, got ${JSON.stringify(r)}`);
  return r;
}

describe("JSON-RPC, v1.0 names", () => {
  it.each([
    ["SendMessage", { message: { messageId: "m", taskId: "t1", contextId: "c1" } }, "t1", "c1", false],
    ["SendMessage", { message: { messageId: "m", task_id: "t1", context_id: "c1" } }, "t1", "c1", false],
    ["SendStreamingMessage", { message: { messageId: "m" } }, undefined, undefined, true],
    ["GetTask", { id: "t1", historyLength: 3 }, "t1", undefined, false],
    ["ListTasks", { contextId: "c9" }, undefined, "c9", false],
    ["ListTasks", {}, undefined, undefined, false],
    ["CancelTask", { id: "t1" }, "t1", undefined, false],
    ["SubscribeToTask", { id: "t1" }, "t1", undefined, true],
    ["CreateTaskPushNotificationConfig", { taskId: "t1", url: "https://x" }, "t1", undefined, false],
    ["GetTaskPushNotificationConfig", { taskId: "t1", id: "cfg" }, "t1", undefined, false],
    ["ListTaskPushNotificationConfigs", { task_id: "t1" }, "t1", undefined, false],
    ["DeleteTaskPushNotificationConfig", { taskId: "t1", id: "cfg" }, "t1", undefined, false],
    ["GetExtendedAgentCard", {}, undefined, undefined, false],
  ])("%s %j", (method, params, taskId, contextId, streaming) => {
    const c = call("POST", "/", V1, rpc(method, params, "r-1"));
    expect(c).toEqual({
      version: "1.0",
      binding: "jsonrpc",
      method,
      wireMethod: method,
      ...(taskId ? { taskId } : {}),
      ...(contextId ? { contextId } : {}),
      jsonrpcId: "r-1",
      streaming,
    });
  });

  it("GetExtendedAgentCard may come without params", () => {
    expect(call("POST", "/", V1, rpc("GetExtendedAgentCard")).method).toBe("GetExtendedAgentCard");
  });

  it("reads the body as bytes, at any JSON-RPC path, with application/a2a+json", () => {
    const body = new TextEncoder().encode(rpc("GetTask", { id: "t" }));
    const c = call(
      "POST",
      "/a2a/jsonrpc",
      { "content-type": "application/a2a+json; charset=utf-8", "a2a-version": "1.0" },
      body,
    );
    expect(c.method).toBe("GetTask");
  });

  it.each([[0], [42], [null], ["x"]])("accepts id %j", (id) => {
    expect(call("POST", "/", V1, rpc("GetTask", { id: "t" }, id)).jsonrpcId).toBe(id);
  });
});

describe("JSON-RPC, v0.3 names map to canonical methods", () => {
  it.each([
    ["message/send", { message: { taskId: "t1", contextId: "c1" } }, "SendMessage", "t1", "c1"],
    ["message/stream", { message: {} }, "SendStreamingMessage", undefined, undefined],
    ["tasks/get", { id: "t1" }, "GetTask", "t1", undefined],
    ["tasks/cancel", { id: "t1" }, "CancelTask", "t1", undefined],
    ["tasks/resubscribe", { id: "t1" }, "SubscribeToTask", "t1", undefined],
    ["tasks/pushNotificationConfig/set", { taskId: "t1" }, "CreateTaskPushNotificationConfig", "t1", undefined],
    ["tasks/pushNotificationConfig/get", { id: "t1" }, "GetTaskPushNotificationConfig", "t1", undefined],
    ["tasks/pushNotificationConfig/list", { id: "t1" }, "ListTaskPushNotificationConfigs", "t1", undefined],
    [
      "tasks/pushNotificationConfig/delete",
      { id: "t1", pushNotificationConfigId: "p" },
      "DeleteTaskPushNotificationConfig",
      "t1",
      undefined,
    ],
    ["agent/getAuthenticatedExtendedCard", undefined, "GetExtendedAgentCard", undefined, undefined],
  ])("%s", (wire, params, method, taskId, contextId) => {
    const c = call("POST", "/", V03, rpc(wire, params));
    expect(c.version).toBe("0.3");
    expect(c.method).toBe(method);
    expect(c.wireMethod).toBe(wire);
    expect(c.taskId).toBe(taskId);
    expect(c.contextId).toBe(contextId);
  });

  it("an absent or empty A2A-Version is 0.3 (§3.6.2)", () => {
    expect(call("POST", "/", JSON_CT, rpc("tasks/get", { id: "t" })).version).toBe("0.3");
    expect(call("POST", "/", { ...JSON_CT, "a2a-version": " " }, rpc("tasks/get", { id: "t" })).version).toBe("0.3");
  });

  it("v0.3 snake_case is not read as the id (plain JSON there)", () => {
    expect(call("POST", "/", V03, rpc("message/send", { message: { task_id: "t" } })).taskId).toBeUndefined();
  });
});

describe("version negotiation", () => {
  it.each([
    ["1.0", "1.0"],
    ["1.0.2", "1.0"], // patch versions are not negotiated (§3.6)
    ["0.3", "0.3"],
    ["0.3.0", "0.3"],
  ])("header %s → %s", (v, want) => {
    const m = want === "1.0" ? "GetTask" : "tasks/get";
    expect(call("POST", "/", { ...JSON_CT, "a2a-version": v }, rpc(m, { id: "t" })).version).toBe(want);
  });

  it("from the query parameter, any case", () => {
    expect(call("POST", "/?A2A-Version=1.0", JSON_CT, rpc("GetTask", { id: "t" })).version).toBe("1.0");
    expect(call("POST", "/?x=1&a2a-version=1.0", JSON_CT, rpc("GetTask", { id: "t" })).version).toBe("1.0");
    expect(call("GET", "/tasks/t1?A2A-Version=1.0", {}).method).toBe("GetTask");
  });

  it.each([
    [{ "a2a-version": "2.0" }, "", "a2a.version_not_supported", -32009],
    [{ "a2a-version": "1.1" }, "", "a2a.version_not_supported", -32009],
    [{ "a2a-version": "1.0,0.3" }, "", "a2a.version_not_supported", -32009], // repeated header, joined by Envoy
    [{ "a2a-version": "v1" }, "", "a2a.version_not_supported", -32009],
    [{ "a2a-version": "1.0" }, "?A2A-Version=0.3", "a2a.version_ambiguous", -32600],
    [{}, "?A2A-Version=1.0&a2a-version=1.0", "a2a.bad_version", -32600],
    [{}, "?A2A-Version=%E0%A4%A", "a2a.bad_version", -32600],
  ])("refuses %j %s", (h, q, code, rpcCode) => {
    const e = refused("POST", `/${q}`, { ...JSON_CT, ...h }, rpc("GetTask", { id: "t" }));
    expect(e.code).toBe(code);
    expect(e.rpcCode).toBe(rpcCode);
    expect(e.binding).toBe("jsonrpc");
  });

  it("header and query agreeing is fine", () => {
    expect(call("POST", "/?A2A-Version=1.0", V1, rpc("GetTask", { id: "t" })).version).toBe("1.0");
  });
});

describe("JSON-RPC hard negatives", () => {
  it.each([
    ["{", "a2a.parse_error", -32700, undefined],
    ['{"jsonrpc":"2.0",}', "a2a.parse_error", -32700, undefined],
    [`[${rpc("GetTask", { id: "t" })}]`, "a2a.batch_not_supported", -32600, "$"],
    ["[]", "a2a.batch_not_supported", -32600, "$"],
    ['"GetTask"', "a2a.invalid_request", -32600, "$"],
    ['{"jsonrpc":"1.0","id":1,"method":"GetTask","params":{}}', "a2a.invalid_request", -32600, "$.jsonrpc"],
    ['{"jsonrpc":2.0,"id":1,"method":"GetTask","params":{}}', "a2a.invalid_request", -32600, "$.jsonrpc"],
    ['{"jsonrpc":"2.0","method":"GetTask","params":{"id":"t"}}', "a2a.invalid_request", -32600, "$.id"],
    ['{"jsonrpc":"2.0","id":{"a":1},"method":"GetTask","params":{}}', "a2a.invalid_request", -32600, "$.id"],
    ['{"jsonrpc":"2.0","id":[1],"method":"GetTask","params":{}}', "a2a.invalid_request", -32600, "$.id"],
    ['{"jsonrpc":"2.0","id":1.5,"method":"GetTask","params":{}}', "a2a.invalid_request", -32600, "$.id"],
    ['{"jsonrpc":"2.0","id":true,"method":"GetTask","params":{}}', "a2a.invalid_request", -32600, "$.id"],
    ['{"jsonrpc":"2.0","id":1,"method":7,"params":{}}', "a2a.invalid_request", -32600, "$.method"],
    ['{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{},"result":1}', "a2a.invalid_request", -32600, "$"],
    [
      '{"jsonrpc":"2.0","id":1,"method":"GetTask","method":"CancelTask","params":{"id":"t"}}',
      "a2a.duplicate_key",
      -32600,
      undefined,
    ],
    [
      '{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"a","\\u0069d":"b"}}',
      "a2a.duplicate_key",
      -32600,
      undefined,
    ],
    [rpc("NoSuchMethod", {}), "a2a.method_not_found", -32601, "$.method"],
    [rpc("constructor", {}), "a2a.method_not_found", -32601, "$.method"],
    [rpc("getTask", { id: "t" }), "a2a.method_not_found", -32601, "$.method"],
    [rpc("GetTask"), "a2a.invalid_params", -32602, "$.params"],
    [rpc("GetTask", [1]), "a2a.invalid_params", -32602, "$.params"],
    [rpc("GetTask", { id: 7 }), "a2a.invalid_params", -32602, "$.params.id"],
    [rpc("SendMessage", { message: "hi" }), "a2a.invalid_params", -32602, "$.params.message"],
    [
      rpc("SendMessage", { message: { taskId: "a", task_id: "b" } }),
      "a2a.invalid_params",
      -32602,
      "$.params.message.taskId",
    ],
    [rpc("SendMessage", { message: { contextId: ["c"] } }), "a2a.invalid_params", -32602, "$.params.message.contextId"],
    [rpc("ListTasks", { contextId: "a", context_id: "a" }), "a2a.invalid_params", -32602, "$.params.contextId"],
  ])("%s → %s", (body, code, rpcCode, path) => {
    const e = refused("POST", "/", V1, body);
    expect([e.code, e.rpcCode, e.path]).toEqual([code, rpcCode, path]);
  });

  it("keeps the id once it is known, null before", () => {
    expect(refused("POST", "/", V1, rpc("Nope", {}, "abc")).jsonrpcId).toBe("abc");
    expect(refused("POST", "/", V1, "{").jsonrpcId).toBeNull();
    expect(refused("POST", "/", V1, '{"jsonrpc":"2.0","id":{"x":1},"method":"GetTask"}').jsonrpcId).toBeNull();
  });

  it("refuses bad UTF-8 and an empty body", () => {
    expect(
      classifyA2a({ method: "POST", path: "/", headers: V1, body: new Uint8Array([0x7b, 0xff, 0x7d]) }),
    ).toMatchObject({
      code: "a2a.parse_error",
      rpcCode: -32700,
    });
    expect(refused("POST", "/", V1).code).toBe("a2a.invalid_request");
    expect(refused("POST", "/", V1, "").code).toBe("a2a.invalid_request");
  });

  it.each([
    ["message/send", V1, "message/send is an A2A 0.3 method; the request's A2A-Version is 1.0"],
    ["tasks/get", V1, "tasks/get is an A2A 0.3 method; the request's A2A-Version is 1.0"],
    ["SendMessage", V03, "SendMessage is an A2A 1.0 method; the request's A2A-Version is 0.3"],
    ["ListTasks", JSON_CT, "ListTasks is an A2A 1.0 method; the request's A2A-Version is 0.3"],
  ])("method %s in the wrong version → -32601 naming both", (method, headers, message) => {
    const e = refused("POST", "/", headers, rpc(method, { message: {} }));
    expect([e.code, e.rpcCode, e.message]).toEqual(["a2a.method_not_found", -32601, message]);
  });

  it("never echoes an unknown method name", () => {
    const e = refused("POST", "/", V1, rpc("<script>steal</script>", {}));
    expect(e.message).not.toContain("steal");
  });
});

describe("HTTP+JSON v1.0", () => {
  const h: H = { "a2a-version": "1.0" };
  it.each([
    ["POST", "/message:send", "SendMessage", undefined, false],
    ["POST", "/message:stream", "SendStreamingMessage", undefined, true],
    ["GET", "/tasks/t1", "GetTask", "t1", false],
    ["GET", "/tasks/t1?historyLength=2", "GetTask", "t1", false],
    ["GET", "/tasks", "ListTasks", undefined, false],
    ["GET", "/tasks?contextId=c&pageSize=5", "ListTasks", undefined, false],
    ["POST", "/tasks/t1:cancel", "CancelTask", "t1", false],
    ["GET", "/tasks/t1:subscribe", "SubscribeToTask", "t1", true],
    ["POST", "/tasks/t1:subscribe", "SubscribeToTask", "t1", true],
    ["POST", "/tasks/t1/pushNotificationConfigs", "CreateTaskPushNotificationConfig", "t1", false],
    ["GET", "/tasks/t1/pushNotificationConfigs", "ListTaskPushNotificationConfigs", "t1", false],
    ["GET", "/tasks/t1/pushNotificationConfigs/p1", "GetTaskPushNotificationConfig", "t1", false],
    ["DELETE", "/tasks/t1/pushNotificationConfigs/p1", "DeleteTaskPushNotificationConfig", "t1", false],
    ["GET", "/extendedAgentCard", "GetExtendedAgentCard", undefined, false],
    // the /{tenant} additional bindings of a2a.proto
    ["POST", "/acme/message:send", "SendMessage", undefined, false],
    ["GET", "/acme/tasks/t1", "GetTask", "t1", false],
    ["GET", "/acme/tasks", "ListTasks", undefined, false],
    ["POST", "/acme/tasks/t1:cancel", "CancelTask", "t1", false],
    ["GET", "/acme/extendedAgentCard", "GetExtendedAgentCard", undefined, false],
    ["GET", "/v1/tasks/t1", "GetTask", "t1", false], // under 1.0, "v1" is a tenant
    // ids are percent-decoded
    ["GET", "/tasks/a%20b", "GetTask", "a b", false],
  ])("%s %s → %s", (method, path, want, taskId, streaming) => {
    const c = call(method, path, h);
    expect([c.binding, c.version, c.method, c.taskId, c.streaming]).toEqual(["rest", "1.0", want, taskId, streaming]);
  });

  it("a tasks path is read plainly, never with 'tasks' as a tenant", () => {
    expect(call("GET", "/tasks/tasks", h)).toMatchObject({ method: "GetTask", taskId: "tasks" });
    expect(call("GET", "/tasks/x/pushNotificationConfigs", h)).toMatchObject({
      method: "ListTaskPushNotificationConfigs",
      taskId: "x",
    });
  });

  it("takes task and context from a SendMessage body", () => {
    const body = JSON.stringify({ message: { messageId: "m", taskId: "t", contextId: "c" } });
    expect(call("POST", "/message:send", h, body)).toMatchObject({ taskId: "t", contextId: "c" });
    expect(refused("POST", "/message:send", h, '{"message":{"taskId":"a","taskId":"b"}}').code).toBe(
      "a2a.duplicate_key",
    );
    expect(refused("POST", "/message:send", h, "{").rpcCode).toBe(-32700);
    expect(refused("POST", "/message:send", h, "[1]").code).toBe("a2a.invalid_params");
  });

  it("honours a configured base path", () => {
    const r = classifyA2a({ method: "POST", path: "/a2a/rest/message:send", headers: h }, { restBase: "/a2a/rest" });
    expect(r).toMatchObject({ method: "SendMessage", binding: "rest" });
  });

  it.each([
    ["GET", "/message:send", "a2a.method_not_allowed", 405],
    ["DELETE", "/tasks/t1", "a2a.method_not_allowed", 405],
    ["PUT", "/tasks/t1:cancel", "a2a.method_not_allowed", 405],
    ["POST", "/tasks", "a2a.method_not_allowed", 405],
    ["GET", "/tasks/t1:frobnicate", "a2a.not_found", 404],
    ["GET", "/tasks/t1/other", "a2a.not_found", 404],
    ["GET", "/tasks/a/b/c/d", "a2a.not_found", 404],
    ["GET", "/tasks/a:b", "a2a.not_found", 404],
    ["GET", "/tasks/a%2Fb", "a2a.bad_path", 400],
    ["GET", "/tasks/a%3Asubscribe", "a2a.bad_path", 400],
    ["GET", "/tasks/%E0%A4%A", "a2a.bad_path", 400],
    ["GET", "/tasks//x", "a2a.not_found", 404],
    ["GET", "/tasks/../extendedAgentCard", "a2a.not_found", 404],
    ["GET", "/v1/card", "a2a.method_not_found", 404], // the 0.3 form under 1.0
  ])("%s %s → %s", (method, path, code, status) => {
    const e = refused(method, path, h);
    expect([e.code, e.httpStatus, e.binding]).toEqual([code, status, "rest"]);
  });
});

describe("HTTP+JSON v0.3", () => {
  it.each([
    ["POST", "/v1/message:send", "SendMessage", undefined],
    ["POST", "/v1/message:stream", "SendStreamingMessage", undefined],
    ["GET", "/v1/tasks/t1", "GetTask", "t1"],
    ["POST", "/v1/tasks/t1:cancel", "CancelTask", "t1"],
    ["GET", "/v1/tasks/t1:subscribe", "SubscribeToTask", "t1"],
    ["POST", "/v1/tasks/t1/pushNotificationConfigs", "CreateTaskPushNotificationConfig", "t1"],
    ["GET", "/v1/tasks/t1/pushNotificationConfigs", "ListTaskPushNotificationConfigs", "t1"],
    ["GET", "/v1/tasks/t1/pushNotificationConfigs/p", "GetTaskPushNotificationConfig", "t1"],
    ["DELETE", "/v1/tasks/t1/pushNotificationConfigs/p", "DeleteTaskPushNotificationConfig", "t1"],
    ["GET", "/v1/card", "GetExtendedAgentCard", undefined],
  ])("%s %s → %s", (method, path, want, taskId) => {
    const c = call(method, path, {});
    expect([c.version, c.method, c.taskId]).toEqual(["0.3", want, taskId]);
  });

  it.each([
    ["POST", "/message:send", "POST /message:send is A2A 1.0; the request's A2A-Version is 0.3"],
    ["GET", "/tasks", "GET /tasks is A2A 1.0; the request's A2A-Version is 0.3"],
    ["GET", "/acme/tasks/t1", "GET /tasks/{id} is A2A 1.0; the request's A2A-Version is 0.3"],
  ])("the 1.0 form %s %s under 0.3 → -32601 naming both", (method, path, message) => {
    const e = refused(method, path, {});
    expect([e.code, e.rpcCode, e.message]).toEqual(["a2a.method_not_found", -32601, message]);
  });

  it("v0.3 has no ListTasks", () => {
    // under 0.3, /v1/tasks is only the 1.0 ListTasks of tenant "v1"
    expect(refused("GET", "/v1/tasks", {}).message).toBe("GET /tasks is A2A 1.0; the request's A2A-Version is 0.3");
  });
});

describe("gRPC: classified by service and method, body not parsed", () => {
  it.each([
    ["/lf.a2a.v1.A2AService/SendMessage", GRPC, "1.0", "SendMessage", false],
    ["/lf.a2a.v1.A2AService/SendStreamingMessage", GRPC, "1.0", "SendStreamingMessage", true],
    ["/lf.a2a.v1.A2AService/ListTasks", GRPC, "1.0", "ListTasks", false],
    ["/lf.a2a.v1.A2AService/SubscribeToTask", GRPC, "1.0", "SubscribeToTask", true],
    ["/lf.a2a.v1.A2AService/ListTaskPushNotificationConfigs", GRPC, "1.0", "ListTaskPushNotificationConfigs", false],
    [
      "/lf.a2a.v1.A2AService/GetExtendedAgentCard",
      { ...GRPC, "content-type": "application/grpc+proto" },
      "1.0",
      "GetExtendedAgentCard",
      false,
    ],
    ["/a2a.v1.A2AService/SendMessage", { "content-type": "application/grpc" }, "0.3", "SendMessage", false],
    ["/a2a.v1.A2AService/TaskSubscription", { "content-type": "application/grpc" }, "0.3", "SubscribeToTask", true],
    [
      "/a2a.v1.A2AService/ListTaskPushNotificationConfig",
      { "content-type": "application/grpc" },
      "0.3",
      "ListTaskPushNotificationConfigs",
      false,
    ],
    ["/a2a.v1.A2AService/GetAgentCard", { "content-type": "application/grpc" }, "0.3", "GetExtendedAgentCard", false],
  ])("%s", (path, headers, version, method, streaming) => {
    const c = call("POST", path, headers, new Uint8Array([0, 0, 0, 0, 1, 0xff]));
    expect(c).toEqual({ version, binding: "grpc", method, wireMethod: path, streaming });
  });

  it.each([
    ["/lf.a2a.v1.A2AService/TaskSubscription", GRPC, "a2a.method_not_found"],
    ["/lf.a2a.v1.A2AService/QuerySkill", GRPC, "a2a.method_not_found"],
    ["/lf.a2a.v1.A2AService/SendMessage/x", GRPC, "a2a.method_not_found"],
    ["/lf.a2a.v1.A2AService/SendMessage", { "content-type": "application/grpc" }, "a2a.method_not_found"], // no header = 0.3
    ["/a2a.v1.A2AService/SendMessage", GRPC, "a2a.method_not_found"],
    ["/a2a.v1.A2AService/ListTasks", { "content-type": "application/grpc" }, "a2a.method_not_found"],
  ])("%s → %s", (path, headers, code) => {
    const e = refused("POST", path, headers);
    expect([e.code, e.rpcCode, e.binding]).toEqual([code, -32601, "grpc"]);
  });

  it("names both versions for a package of the other version", () => {
    expect(refused("POST", "/a2a.v1.A2AService/SendMessage", GRPC).message).toBe(
      "a2a.v1.A2AService/SendMessage is A2A 0.3; the request's A2A-Version is 1.0",
    );
  });

  it("other gRPC services are not A2A", () => {
    expect(classifyA2a({ method: "POST", path: "/grpc.health.v1.Health/Check", headers: GRPC })).toBeUndefined();
  });
});

describe("agent card and non-A2A requests", () => {
  it("GET /.well-known/agent-card.json is GetAgentCard in either version", () => {
    expect(call("GET", "/.well-known/agent-card.json", {})).toEqual({
      version: "0.3",
      binding: "agent_card",
      method: "GetAgentCard",
      wireMethod: "GET /.well-known/agent-card.json",
      streaming: false,
    });
    expect(call("GET", "/.well-known/agent-card.json", { "a2a-version": "1.0" }).version).toBe("1.0");
    expect(refused("POST", "/.well-known/agent-card.json", {}).httpStatus).toBe(405);
  });

  it.each([
    ["GET", "/healthz", {}],
    ["GET", "/", {}],
    ["GET", "/metrics", V1],
    ["POST", "/upload", { "content-type": "text/plain" }],
    ["GET", "/v1/other", {}],
    ["GET", "relative", {}],
  ])("%s %s is not A2A", (method, path, headers) => {
    expect(classifyA2a({ method, path, headers })).toBeUndefined();
  });

  it("a JSON POST to an unknown path is taken as JSON-RPC (refused in kind, not passed as non-A2A)", () => {
    expect(refused("POST", "/anything", JSON_CT, "{}").code).toBe("a2a.invalid_request");
  });
});

import { describe, expect, it } from "vitest";
import {
  a2aErrorResponse,
  A2aError,
  A2aRequestError,
  classifyA2a,
  encodeGrpcMessage,
} from "../../../filters/a2a/index.ts";

const denial = { reasons: ["agent researcher may not CancelTask on writer"], decisionId: "d-1" };
const notFound = new A2aError("a2a.method_not_found", "no such A2A 1.0 method", -32601, 404, "$.method");

function refusal(method: string, path: string, headers: Record<string, string>, body?: string): A2aRequestError {
  const r = classifyA2a({ method, path, headers, body });
  if (!(r instanceof A2aRequestError)) throw new Error("expected a refusal");
  return r;
}

describe("JSON-RPC", () => {
  it("a v1.0 protocol error: HTTP 200, the request id, ErrorInfo details", () => {
    const r = a2aErrorResponse({ binding: "jsonrpc", version: "1.0", jsonrpcId: "r-7" }, notFound);
    expect(r.status).toBe(200);
    expect(r.headers).toEqual({ "content-type": "application/json" });
    expect(JSON.parse(r.body)).toEqual({
      jsonrpc: "2.0",
      id: "r-7",
      error: {
        code: -32601,
        message: "no such A2A 1.0 method",
        data: [
          {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            reason: "A2A_METHOD_NOT_FOUND",
            domain: "hexr.cloud",
            metadata: { code: "a2a.method_not_found", path: "$.method" },
          },
        ],
      },
    });
  });

  it("a v0.3 protocol error: data is {reason, path}; an unknown id is null", () => {
    const r = a2aErrorResponse({ binding: "jsonrpc", version: "0.3" }, notFound);
    expect(JSON.parse(r.body)).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: {
        code: -32601,
        message: "no such A2A 1.0 method",
        data: { reason: "a2a.method_not_found", path: "$.method" },
      },
    });
  });

  it("answers a classify refusal from the refusal itself (binding, version, id)", () => {
    const e = refusal(
      "POST",
      "/",
      { "content-type": "application/json", "a2a-version": "1.0" },
      '{"jsonrpc":"2.0","id":5,"method":"message/send","params":{}}',
    );
    const body = JSON.parse(a2aErrorResponse(e, e).body);
    expect(body.id).toBe(5);
    expect(body.error.code).toBe(-32601);
    expect(body.error.message).toBe("message/send is an A2A 0.3 method; the request's A2A-Version is 1.0");
  });

  it.each([
    ["{", -32700],
    ['[{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{}}]', -32600],
    ['{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":1}}', -32602],
  ])("%s → code %d, HTTP 200", (body, code) => {
    const e = refusal("POST", "/", { "content-type": "application/json", "a2a-version": "1.0" }, body);
    const r = a2aErrorResponse(e, e);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).error.code).toBe(code);
  });

  it("a policy denial: HTTP 403, -32000, the reasons, the decision id", () => {
    const r = a2aErrorResponse({ binding: "jsonrpc", version: "0.3", jsonrpcId: 3 }, denial);
    expect(r.status).toBe(403);
    expect(r.headers).toEqual({ "content-type": "application/json", "x-hexr-decision-id": "d-1" });
    expect(JSON.parse(r.body)).toEqual({
      jsonrpc: "2.0",
      id: 3,
      error: {
        code: -32000,
        message: "denied by policy: agent researcher may not CancelTask on writer",
        data: { reasons: ["agent researcher may not CancelTask on writer"], decision_id: "d-1" },
      },
    });
    const v1 = JSON.parse(a2aErrorResponse({ binding: "jsonrpc", version: "1.0", jsonrpcId: 3 }, denial).body);
    expect(v1.error.data[0]).toMatchObject({
      reason: "HEXR_POLICY_DENIED",
      metadata: { reasons: '["agent researcher may not CancelTask on writer"]', decision_id: "d-1" },
    });
  });

  it("a denial without reasons still says why", () => {
    const r = a2aErrorResponse({ binding: "jsonrpc", version: "0.3", jsonrpcId: 1 }, { reasons: [] });
    expect(JSON.parse(r.body).error.data.reasons).toEqual(["denied by policy"]);
  });
});

describe("HTTP+JSON", () => {
  it("v1.0: AIP-193 error with the HTTP status and a google.rpc.Code name", () => {
    const e = refusal("GET", "/message:send", { "a2a-version": "1.0" });
    const r = a2aErrorResponse(e, e);
    expect(r.status).toBe(405);
    expect(r.headers).toEqual({ "content-type": "application/a2a+json" });
    expect(JSON.parse(r.body)).toEqual({
      error: {
        code: 405,
        status: "UNIMPLEMENTED",
        message: "this path takes POST",
        details: [
          {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            reason: "A2A_METHOD_NOT_ALLOWED",
            domain: "hexr.cloud",
            metadata: { code: "a2a.method_not_allowed" },
          },
        ],
      },
    });
  });

  it.each([
    ["GET", "/tasks/a:b", 404, "NOT_FOUND"],
    ["GET", "/tasks/a%2Fb", 400, "INVALID_ARGUMENT"],
  ])("v1.0 %s %s → %d %s", (method, path, status, name) => {
    const e = refusal(method, path, { "a2a-version": "1.0" });
    const r = a2aErrorResponse(e, e);
    expect([r.status, JSON.parse(r.body).error.status]).toEqual([status, name]);
  });

  it("v1.0 unsupported version is FAILED_PRECONDITION (VersionNotSupportedError)", () => {
    const e = refusal("GET", "/tasks/t", { "a2a-version": "9.9" });
    const r = a2aErrorResponse(e, e);
    expect([r.status, JSON.parse(r.body).error.status]).toEqual([400, "FAILED_PRECONDITION"]);
  });

  it("v0.3: the legacy {code, message, data} body with the HTTP status", () => {
    const e = refusal("DELETE", "/v1/tasks/t1", {});
    const r = a2aErrorResponse(e, e);
    expect(r.status).toBe(405);
    expect(r.headers).toEqual({ "content-type": "application/json" });
    expect(JSON.parse(r.body)).toEqual({
      code: -32601,
      message: "this path takes GET",
      data: { reason: "a2a.method_not_allowed" },
    });
  });

  it("a policy denial: 403 PERMISSION_DENIED in both versions", () => {
    const v1 = a2aErrorResponse({ binding: "rest", version: "1.0" }, denial);
    expect(v1.status).toBe(403);
    expect(v1.headers["x-hexr-decision-id"]).toBe("d-1");
    expect(JSON.parse(v1.body).error).toMatchObject({ code: 403, status: "PERMISSION_DENIED" });
    const v03 = a2aErrorResponse({ binding: "rest", version: "0.3" }, denial);
    expect([v03.status, JSON.parse(v03.body).code]).toEqual([403, -32000]);
  });

  it("the agent card answers in the REST format", () => {
    const e = refusal("POST", "/.well-known/agent-card.json", { "a2a-version": "1.0" });
    expect(JSON.parse(a2aErrorResponse(e, e).body).error.code).toBe(405);
  });
});

describe("gRPC: trailers-only", () => {
  it("a denial is PERMISSION_DENIED (7)", () => {
    expect(a2aErrorResponse({ binding: "grpc", version: "1.0" }, denial)).toEqual({
      status: 200,
      headers: {
        "x-hexr-decision-id": "d-1",
        "content-type": "application/grpc",
        "grpc-status": "7",
        "grpc-message": "denied by policy: agent researcher may not CancelTask on writer",
      },
      body: "",
    });
  });

  it.each([
    [new A2aError("a2a.method_not_found", "m", -32601, 404), "12"],
    [new A2aError("a2a.invalid_params", "m", -32602, 400), "3"],
    [new A2aError("a2a.invalid_request", "m", -32600, 400), "3"],
    [new A2aError("a2a.parse_error", "m", -32700, 400), "3"],
    [new A2aError("a2a.version_not_supported", "m", -32009, 400), "9"],
    [new A2aError("a2a.internal", "m", -32603, 500), "13"],
    [new A2aError("a2a.other", "m", -32099, 400), "2"],
  ])("%s → grpc-status %s", (err, status) => {
    expect(a2aErrorResponse({ binding: "grpc", version: "0.3" }, err).headers["grpc-status"]).toBe(status);
  });

  it("a classify refusal of a gRPC call answers in gRPC", () => {
    const e = refusal("POST", "/lf.a2a.v1.A2AService/Nope", {
      "content-type": "application/grpc",
      "a2a-version": "1.0",
    });
    const r = a2aErrorResponse(e, e);
    expect([r.status, r.headers["grpc-status"], r.body]).toEqual([200, "12", ""]);
  });

  it("percent-encodes grpc-message", () => {
    expect(encodeGrpcMessage("50% of é\n")).toBe("50%25 of %C3%A9%0A");
  });
});

describe("errors never echo request content", () => {
  it.each([
    ['{"jsonrpc":"2.0","id":1,"method":"SECRET-METHOD","params":{}}'],
    ['{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":{"SECRET":1}}}'],
    ['{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"taskId":"SECRET","task_id":"x"}}}'],
    ['{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"SECRET":1,"SECRET":2}}'],
    ['{"jsonrpc":"1.0-SECRET","id":1}'],
  ])("%s", (body) => {
    const e = refusal("POST", "/", { "content-type": "application/json", "a2a-version": "1.0" }, body);
    for (const version of ["1.0", "0.3"] as const) {
      for (const binding of ["jsonrpc", "rest", "grpc"] as const) {
        const r = a2aErrorResponse({ binding, version, jsonrpcId: 1 }, e);
        expect(r.body + JSON.stringify(r.headers)).not.toContain("SECRET");
      }
    }
  });
});

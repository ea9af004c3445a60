/**
 * A2A validation against the schemas setup.sh builds from the a2a-sdk wheel ($HEXR_A2A_SCHEMAS): valid
 * edge cases that must pass and hard negatives that must fail with the right JSON path and rule.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { HexrError } from "../../../filters/errors.ts";
import type { A2aMethod, A2aVersion } from "../../../filters/a2a/types.ts";
import { type A2aSchemas, loadA2aSchemas, textParts, type ValidateOptions } from "../../../filters/a2a/validate.ts";

const schemas: A2aSchemas = loadA2aSchemas();

const v1Message = (over: Record<string, unknown> = {}) => ({
  messageId: "9229e770-767c-417b-a0b0-f0741243c589",
  role: "ROLE_USER",
  parts: [{ text: "Summarise the attached report" }],
  ...over,
});
const v03Message = (over: Record<string, unknown> = {}) => ({
  kind: "message",
  messageId: "9229e770-767c-417b-a0b0-f0741243c589",
  role: "user",
  parts: [{ kind: "text", text: "Summarise the attached report" }],
  ...over,
});

interface Case {
  readonly name: string;
  readonly version: A2aVersion;
  readonly method: A2aMethod;
  readonly params: unknown;
  readonly opts?: ValidateOptions;
  /** undefined: must pass; else [path, rule substring]. */
  readonly fails?: readonly [string, string];
}

const paramCases: Case[] = [
  // --- v1.0: must pass
  { name: "v1 minimal SendMessage", version: "1.0", method: "SendMessage", params: { message: v1Message() } },
  {
    name: "v1 proto field names and empty metadata",
    version: "1.0",
    method: "SendMessage",
    params: { message: { message_id: "m1", role: "ROLE_USER", parts: [{ text: "x" }], metadata: {} }, metadata: {} },
  },
  {
    name: "v1 enum as number, unicode text, data and url parts",
    version: "1.0",
    method: "SendMessage",
    params: {
      message: v1Message({
        role: 1,
        parts: [
          { text: "日本語のテキスト 🚀 \u200b" },
          { data: { nested: [1, "two", null, { three: true }] }, mediaType: "application/json" },
          { url: "https://example.com/report.pdf", filename: "report.pdf", mediaType: "application/pdf" },
          { raw: "aGVsbG8=" },
        ],
      }),
    },
  },
  {
    name: "v1 large-but-allowed text part",
    version: "1.0",
    method: "SendMessage",
    params: { message: v1Message({ parts: [{ text: "a".repeat(512 * 1024) }] }) },
  },
  {
    name: "v1 configuration (camelCase and snake_case)",
    version: "1.0",
    method: "SendStreamingMessage",
    params: {
      message: v1Message({ contextId: "ctx-1", taskId: "task-1", referenceTaskIds: ["t0"] }),
      configuration: { acceptedOutputModes: ["text/plain"], history_length: 10, returnImmediately: false },
    },
  },
  { name: "v1 GetTask", version: "1.0", method: "GetTask", params: { id: "task-1", historyLength: 2 } },
  {
    name: "v1 ListTasks with enum name and timestamp",
    version: "1.0",
    method: "ListTasks",
    params: { status: "TASK_STATE_WORKING", statusTimestampAfter: "2025-11-02T10:00:00Z", pageSize: 50 },
  },
  { name: "v1 ListTasks takes no required field", version: "1.0", method: "ListTasks", params: {} },
  {
    name: "v1 CreateTaskPushNotificationConfig",
    version: "1.0",
    method: "CreateTaskPushNotificationConfig",
    params: { taskId: "task-1", url: "https://hooks.example.com/a2a", authentication: { scheme: "Bearer" } },
  },
  {
    name: "v1 REST CancelTask body: id comes from the URL",
    version: "1.0",
    method: "CancelTask",
    params: {},
    opts: { binding: "rest" },
  },
  { name: "v1 GetExtendedAgentCard", version: "1.0", method: "GetExtendedAgentCard", params: {} },
  { name: "GetAgentCard has no params", version: "1.0", method: "GetAgentCard", params: undefined },

  // --- v1.0: must fail
  {
    name: "v1 missing message",
    version: "1.0",
    method: "SendMessage",
    params: {},
    fails: ["params.message", "required field missing"],
  },
  {
    name: "v1 missing messageId",
    version: "1.0",
    method: "SendMessage",
    params: { message: { role: "ROLE_USER", parts: [{ text: "x" }] } },
    fails: ["params.message.messageId", "required field missing"],
  },
  {
    name: "v1 empty messageId is missing (reference SDK rule)",
    version: "1.0",
    method: "SendMessage",
    params: { message: v1Message({ messageId: "" }) },
    fails: ["params.message.messageId", "required field missing"],
  },
  {
    name: "v1 ROLE_UNSPECIFIED is missing",
    version: "1.0",
    method: "SendMessage",
    params: { message: v1Message({ role: "ROLE_UNSPECIFIED" }) },
    fails: ["params.message.role", "required field missing"],
  },
  {
    name: "v1 empty parts",
    version: "1.0",
    method: "SendMessage",
    params: { message: v1Message({ parts: [] }) },
    fails: ["params.message.parts", "required field missing"],
  },
  {
    name: "v1 part with two payloads",
    version: "1.0",
    method: "SendMessage",
    params: { message: v1Message({ parts: [{ text: "a" }, { text: "b" }, { text: "c", url: "https://x.example" }] }) },
    fails: ["params.message.parts[2].url", "more than one of oneof content"],
  },
  {
    name: "v1 part with no payload",
    version: "1.0",
    method: "SendMessage",
    params: { message: v1Message({ parts: [{ mediaType: "text/plain" }] }) },
    fails: ["params.message.parts[0]", "exactly one of text, raw, url, data"],
  },
  {
    name: "v1 v0.3-style part is unknown",
    version: "1.0",
    method: "SendMessage",
    params: { message: v1Message({ parts: [{ kind: "text", text: "x" }] }) },
    fails: ["params.message.parts[0].kind", "unknown field"],
  },
  {
    name: "v1 unknown top-level field",
    version: "1.0",
    method: "SendMessage",
    params: { message: v1Message(), stealth: "x" },
    fails: ["params.stealth", "unknown field"],
  },
  {
    name: "v1 wrong type text",
    version: "1.0",
    method: "SendMessage",
    params: { message: v1Message({ parts: [{ text: 42 }] }) },
    fails: ["params.message.parts[0].text", "wrong type (expected string)"],
  },
  {
    name: "v1 v0.3 role spelling is a bad enum",
    version: "1.0",
    method: "SendMessage",
    params: { message: v1Message({ role: "user" }) },
    fails: ["params.message.role", "invalid enum value"],
  },
  {
    name: "v1 undefined enum number",
    version: "1.0",
    method: "ListTasks",
    params: { status: 99 },
    fails: ["params.status", "invalid enum value"],
  },
  {
    name: "v1 v0.3 task state spelling",
    version: "1.0",
    method: "ListTasks",
    params: { status: "working" },
    fails: ["params.status", "invalid enum value"],
  },
  {
    name: "v1 field set under both names",
    version: "1.0",
    method: "SendMessage",
    params: { message: { ...v1Message(), message_id: "other" } },
    fails: ["params.message.message_id", "field set twice"],
  },
  {
    name: "v1 metadata must be an object",
    version: "1.0",
    method: "SendMessage",
    params: { message: v1Message({ metadata: "x" }) },
    fails: ["params.message.metadata", "wrong type"],
  },
  {
    name: "v1 bad timestamp",
    version: "1.0",
    method: "ListTasks",
    params: { statusTimestampAfter: "yesterday" },
    fails: ["params.statusTimestampAfter", "wrong type (expected google.protobuf.Timestamp JSON)"],
  },
  {
    name: "v1 out-of-range int32 is caught by ProtoJSON parsing",
    version: "1.0",
    method: "GetTask",
    params: { id: "task-1", historyLength: 2 ** 40 },
    fails: ["params", "invalid value for lf.a2a.v1.GetTaskRequest.history_length"],
  },
  {
    name: "v1 params must be an object",
    version: "1.0",
    method: "GetTask",
    params: ["task-1"],
    fails: ["params", "wrong type (expected object)"],
  },
  {
    name: "v1 GetTask missing id",
    version: "1.0",
    method: "GetTask",
    params: { historyLength: 1 },
    fails: ["params.id", "required field missing"],
  },
  {
    name: "v1 push config missing url",
    version: "1.0",
    method: "CreateTaskPushNotificationConfig",
    params: { taskId: "task-1" },
    fails: ["params.url", "required field missing"],
  },
  {
    name: "v1 bad base64 raw",
    version: "1.0",
    method: "SendMessage",
    params: { message: v1Message({ parts: [{ raw: "not base64!" }] }) },
    fails: ["params.message.parts[0].raw", "wrong type (expected bytes)"],
  },
  {
    name: "GetAgentCard with params",
    version: "1.0",
    method: "GetAgentCard",
    params: { x: 1 },
    fails: ["params", "no parameters"],
  },

  // --- v0.3 JSON-RPC: must pass
  { name: "v03 minimal message/send", version: "0.3", method: "SendMessage", params: { message: v03Message() } },
  {
    name: "v03 file and data parts, empty metadata, configuration",
    version: "0.3",
    method: "SendStreamingMessage",
    params: {
      message: v03Message({
        contextId: "ctx-1",
        parts: [
          { kind: "text", text: "Ünïcödé ✓" },
          { kind: "file", file: { uri: "https://example.com/a.png", mimeType: "image/png" } },
          { kind: "file", file: { bytes: "aGVsbG8=", name: "a.txt" } },
          { kind: "data", data: { k: [1, 2] } },
        ],
        metadata: {},
      }),
      configuration: { acceptedOutputModes: ["text/plain"], blocking: true, historyLength: 5 },
      metadata: {},
    },
  },
  { name: "v03 tasks/get", version: "0.3", method: "GetTask", params: { id: "task-1", historyLength: 3 } },
  { name: "v03 tasks/cancel", version: "0.3", method: "CancelTask", params: { id: "task-1" } },
  {
    name: "v03 pushNotificationConfig/set",
    version: "0.3",
    method: "CreateTaskPushNotificationConfig",
    params: { taskId: "task-1", pushNotificationConfig: { url: "https://hooks.example.com/a2a" } },
  },
  { name: "v03 extended card takes no params", version: "0.3", method: "GetExtendedAgentCard", params: undefined },
  {
    name: "v03 REST message:send is ProtoJSON of the v0.3 proto",
    version: "0.3",
    method: "SendMessage",
    params: { request: { messageId: "m1", role: "ROLE_USER", content: [{ text: "hi" }] } },
    opts: { binding: "rest" },
  },

  // --- v0.3: must fail
  {
    name: "v03 missing message",
    version: "0.3",
    method: "SendMessage",
    params: {},
    fails: ["params.message", "required field missing"],
  },
  {
    name: "v03 missing part kind",
    version: "0.3",
    method: "SendMessage",
    params: { message: v03Message({ parts: [{ text: "x" }] }) },
    fails: ["params.message.parts[0].kind", "discriminator"],
  },
  {
    name: "v03 unknown part kind",
    version: "0.3",
    method: "SendMessage",
    params: { message: v03Message({ parts: [{ kind: "txt", text: "x" }] }) },
    fails: ["params.message.parts[0].kind", "invalid enum value"],
  },
  {
    name: "v03 text part with a second payload",
    version: "0.3",
    method: "SendMessage",
    params: { message: v03Message({ parts: [{ kind: "text", text: "x", data: {} }] }) },
    fails: ["params.message.parts[0].data", "unknown field"],
  },
  {
    name: "v03 file with both bytes and uri",
    version: "0.3",
    method: "SendMessage",
    params: { message: v03Message({ parts: [{ kind: "file", file: { bytes: "aGk=", uri: "https://x.example" } }] }) },
    fails: ["params.message.parts[0].file.uri", "unknown field"],
  },
  {
    name: "v03 v1.0 role spelling",
    version: "0.3",
    method: "SendMessage",
    params: { message: v03Message({ role: "ROLE_USER" }) },
    fails: ["params.message.role", "invalid enum value"],
  },
  {
    name: "v03 wrong type text",
    version: "0.3",
    method: "SendMessage",
    params: { message: v03Message({ parts: [{ kind: "text", text: ["x"] }] }) },
    fails: ["params.message.parts[0].text", "wrong type (expected string)"],
  },
  {
    name: "v03 unknown field",
    version: "0.3",
    method: "SendMessage",
    params: { message: v03Message(), extra: 1 },
    fails: ["params.extra", "unknown field"],
  },
  {
    name: "v03 message kind must be message",
    version: "0.3",
    method: "SendMessage",
    params: { message: v03Message({ kind: "task" }) },
    fails: ["params.message.kind", "invalid constant value"],
  },
  {
    name: "v03 tasks/get missing id",
    version: "0.3",
    method: "GetTask",
    params: {},
    fails: ["params.id", "required field missing"],
  },
  {
    name: "v03 has no ListTasks",
    version: "0.3",
    method: "ListTasks",
    params: {},
    fails: ["params", "no A2A 0.3 definition"],
  },
  {
    name: "v03 REST body in JSON-RPC shape",
    version: "0.3",
    method: "SendMessage",
    params: { message: v03Message() },
    opts: { binding: "rest" },
    fails: ["params.message.kind", "unknown field"],
  },
];

describe("validateParams", () => {
  it.each(paramCases)("$name", (c) => {
    const err = schemas.validateParams(c.version, c.method, c.params, c.opts);
    if (!c.fails) {
      expect(err).toBeUndefined();
      return;
    }
    expect(err, "must fail").toBeDefined();
    expect(err?.path).toBe(c.fails[0]);
    expect(err?.message).toContain(c.fails[1]);
    if (err?.code !== "a2a.method_not_found") {
      expect(err?.rpcCode).toBe(-32602);
      expect(err?.httpStatus).toBe(400);
    }
  });

  it("never echoes the bad value", () => {
    const secret = "sk-live-4f1c2d9e8b7a6f5e4d3c2b1a";
    const errs = [
      schemas.validateParams("1.0", "SendMessage", { message: v1Message({ role: secret }) }),
      schemas.validateParams("1.0", "SendMessage", { message: v1Message({ parts: [{ raw: `${secret}!` }] }) }),
      schemas.validateParams("1.0", "GetTask", { id: "t", historyLength: secret }),
      schemas.validateParams("1.0", "ListTasks", { statusTimestampAfter: secret }),
      schemas.validateParams("0.3", "SendMessage", { message: v03Message({ role: secret }) }),
      schemas.validateParams("0.3", "SendMessage", { message: v03Message({ parts: [{ kind: secret }] }) }),
    ];
    for (const e of errs) {
      expect(e).toBeDefined();
      expect(JSON.stringify({ m: e?.message, p: e?.path, c: e?.code })).not.toContain(secret);
    }
  });
});

const v1Task = {
  id: "task-1",
  contextId: "ctx-1",
  status: { state: "TASK_STATE_COMPLETED", timestamp: "2025-11-02T10:00:00.123Z" },
  artifacts: [{ artifactId: "a1", parts: [{ text: "done" }] }],
  history: [v1Message()],
};
const v03Task = {
  kind: "task",
  id: "task-1",
  contextId: "ctx-1",
  status: { state: "completed", timestamp: "2025-11-02T10:00:00.123Z" },
  artifacts: [{ artifactId: "a1", parts: [{ kind: "text", text: "done" }] }],
  history: [v03Message()],
};

describe("validateStreamEvent", () => {
  const events: [string, A2aVersion, unknown, (readonly [string, string])?][] = [
    ["v1 task", "1.0", { task: v1Task }],
    [
      "v1 status update, snake_case",
      "1.0",
      { status_update: { task_id: "t", context_id: "c", status: { state: "TASK_STATE_WORKING" } } },
    ],
    [
      "v1 artifact update",
      "1.0",
      {
        artifactUpdate: {
          taskId: "t",
          contextId: "c",
          artifact: { artifactId: "a", parts: [{ text: "x" }] },
          lastChunk: true,
        },
      },
    ],
    ["v1 message", "1.0", { message: v1Message({ role: "ROLE_AGENT" }) }],
    ["v1 empty event", "1.0", {}, ["result", "exactly one of task, message, statusUpdate, artifactUpdate"]],
    [
      "v1 two payloads",
      "1.0",
      { task: v1Task, message: v1Message() },
      ["result.message", "more than one of oneof payload"],
    ],
    [
      "v1 status update without status",
      "1.0",
      { statusUpdate: { taskId: "t", contextId: "c" } },
      ["result.statusUpdate.status", "required field missing"],
    ],
    [
      "v1 v0.3 state spelling",
      "1.0",
      { statusUpdate: { taskId: "t", contextId: "c", status: { state: "working" } } },
      ["result.statusUpdate.status.state", "invalid enum value"],
    ],
    ["v1 v0.3-shaped event", "1.0", { kind: "status-update", taskId: "t" }, ["result.kind", "unknown field"]],
    ["v03 task", "0.3", v03Task],
    [
      "v03 status update",
      "0.3",
      { kind: "status-update", taskId: "t", contextId: "c", final: false, status: { state: "working" } },
    ],
    [
      "v03 artifact update",
      "0.3",
      {
        kind: "artifact-update",
        taskId: "t",
        contextId: "c",
        artifact: { artifactId: "a", parts: [{ kind: "text", text: "x" }] },
        append: true,
      },
    ],
    ["v03 message", "0.3", v03Message({ role: "agent" })],
    ["v03 unknown kind", "0.3", { kind: "progress", taskId: "t" }, ["result.kind", "invalid enum value"]],
    [
      "v03 v1.0 state spelling",
      "0.3",
      { kind: "status-update", taskId: "t", contextId: "c", final: false, status: { state: "TASK_STATE_WORKING" } },
      ["result.status.state", "invalid enum value"],
    ],
    [
      "v03 status update missing final",
      "0.3",
      { kind: "status-update", taskId: "t", contextId: "c", status: { state: "working" } },
      ["result.final", "required field missing"],
    ],
  ];
  it.each(events)("%s", (_name, version, event, fails) => {
    const err = schemas.validateStreamEvent(version, event);
    if (!fails) return expect(err).toBeUndefined();
    expect(err?.path).toBe(fails[0]);
    expect(err?.message).toContain(fails[1]);
    expect(err?.code).toBe("a2a.invalid_event");
    expect(err?.httpStatus).toBe(502);
  });
});

describe("validateResult", () => {
  it("accepts each version's SendMessage and GetTask results", () => {
    expect(schemas.validateResult("1.0", "SendMessage", { task: v1Task })).toBeUndefined();
    expect(schemas.validateResult("1.0", "GetTask", v1Task)).toBeUndefined();
    expect(schemas.validateResult("0.3", "SendMessage", v03Task)).toBeUndefined();
    expect(schemas.validateResult("0.3", "GetTask", v03Task)).toBeUndefined();
    expect(schemas.validateResult("0.3", "DeleteTaskPushNotificationConfig", null)).toBeUndefined();
  });
  it("accepts an empty ListTasks page (ProtoJSON omits empty lists and zeroes)", () => {
    expect(schemas.validateResult("1.0", "ListTasks", {})).toBeUndefined();
  });
  it("refuses a task without status, with the path", () => {
    const { status: _s, ...noStatus } = v1Task;
    expect(schemas.validateResult("1.0", "GetTask", noStatus)?.path).toBe("result.status");
    const { status: _t, ...noStatus03 } = v03Task;
    expect(schemas.validateResult("0.3", "GetTask", noStatus03)?.path).toBe("result.status");
  });
});

describe("validateAgentCard", () => {
  const v1Card = {
    name: "Recipe Agent",
    description: "Finds recipes",
    version: "1.0.0",
    supportedInterfaces: [{ url: "https://agent.example.com/a2a", protocolBinding: "JSONRPC", protocolVersion: "1.0" }],
    capabilities: { streaming: true },
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [{ id: "find", name: "Find", description: "Find recipes", tags: ["cooking"] }],
  };
  const v03Card = {
    name: "Recipe Agent",
    description: "Finds recipes",
    version: "1.0.0",
    url: "https://agent.example.com/a2a",
    protocolVersion: "0.3.0",
    capabilities: { streaming: true },
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [{ id: "find", name: "Find", description: "Find recipes", tags: ["cooking"] }],
  };
  it("accepts both versions' cards, and a merged card (both versions' fields) as either", () => {
    expect(schemas.validateAgentCard("1.0", v1Card)).toBeUndefined();
    expect(schemas.validateAgentCard("0.3", v03Card)).toBeUndefined();
    const merged = { ...v03Card, ...v1Card };
    expect(schemas.validateAgentCard("1.0", merged)).toBeUndefined();
    expect(schemas.validateAgentCard("0.3", merged)).toBeUndefined();
  });
  it("refuses a known field of the wrong type, with the path", () => {
    expect(
      schemas.validateAgentCard("1.0", { ...v1Card, skills: [{ ...v1Card.skills[0], tags: "cooking" }] })?.path,
    ).toBe("card.skills[0].tags");
    expect(schemas.validateAgentCard("0.3", { ...v03Card, capabilities: { streaming: "yes" } })?.path).toBe(
      "card.capabilities.streaming",
    );
    expect(schemas.validateAgentCard("0.3", { ...v03Card, url: undefined })?.path).toBe("card.url");
  });
});

describe("textParts", () => {
  it("finds v1.0 text and data strings with paths, in place", () => {
    const ev = {
      task: {
        ...v1Task,
        status: {
          state: "TASK_STATE_WORKING",
          message: v1Message({ parts: [{ text: "a" }, { data: { k: ["b", 1] } }] }),
        },
      },
    };
    const spans = textParts("1.0", "stream", ev, "result");
    expect(spans.map((s) => [s.path, s.text])).toEqual([
      ["result.task.status.message.parts[0].text", "a"],
      ["result.task.status.message.parts[1].data.k[0]", "b"],
      ["result.task.artifacts[0].parts[0].text", "done"],
      ["result.task.history[0].parts[0].text", "Summarise the attached report"],
    ]);
    const first = spans[0];
    if (first) (first.container as Record<string, unknown>)[first.key] = "[redacted]";
    expect(ev.task.status.message.parts[0]).toEqual({ text: "[redacted]" });
  });
  it("finds v0.3 parts by kind", () => {
    expect(
      textParts(
        "0.3",
        "message",
        v03Message({
          parts: [
            { kind: "text", text: "x" },
            { kind: "file", file: { uri: "u" } },
          ],
        }),
        "params.message",
      ).map((s) => s.path),
    ).toEqual(["params.message.parts[0].text"]);
    const ev = {
      kind: "artifact-update",
      taskId: "t",
      contextId: "c",
      artifact: { artifactId: "a", parts: [{ kind: "data", data: { note: "y" } }] },
    };
    expect(textParts("0.3", "stream", ev).map((s) => [s.path, s.text])).toEqual([["artifact.parts[0].data.note", "y"]]);
    expect(textParts("0.3", "task", v03Task).map((s) => s.text)).toEqual(["done", "Summarise the attached report"]);
  });
});

describe("loadA2aSchemas", () => {
  it("names setup when the schemas are absent", () => {
    const empty = mkdtempSync(join(tmpdir(), "a2a-none-"));
    let err: HexrError | undefined;
    try {
      loadA2aSchemas(empty);
    } catch (e) {
      err = e as HexrError;
    }
    expect(err?.code).toBe("config.a2a_schemas_missing");
    expect(err?.message).toContain("scripts/setup.sh");
  });
});

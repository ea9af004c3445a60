/**
 * GuardProcessor on its own (no Envoy): duplicate keys are refused, every response content type is
 * scanned or gets the fail mode, and findings never name what they found.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { GuardProcessor, newGuardStats } from "../../../sidecars/extproc/guard-processor.ts";
import {
  compileGuardRoutes,
  DEFAULT_GUARD_ROUTES,
  type GuardRouteConfig,
} from "../../../sidecars/extproc/guard-routes.ts";
import type { ProcessingResponse } from "../../../sidecars/extproc/types.ts";
import { MemoryLogger } from "../../../sidecars/logger.ts";

const awsKey = () => `AKIA${Array.from(randomBytes(16), (b) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[b % 32]).join("")}`;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : "");

function processor(name: string, over: Partial<GuardRouteConfig> = {}) {
  const cfg = DEFAULT_GUARD_ROUTES.find((r) => r.name === name)!;
  const [route] = compileGuardRoutes([{ ...cfg, ...over }]);
  const log = new MemoryLogger();
  return { p: new GuardProcessor(route!, log, newGuardStats()), log };
}

function request(name: string, body: string, contentType = "application/json", over: Partial<GuardRouteConfig> = {}) {
  const { p, log } = processor(name, over);
  p.requestHeaders(new Map([["content-type", contentType]]), false);
  return { r: p.requestBody({ body: enc(body), end_of_stream: true }), log };
}

function response(name: string, body: string, contentType: string | undefined, over: Partial<GuardRouteConfig> = {}) {
  const { p, log } = processor(name, over);
  p.requestHeaders(new Map([["content-type", "application/json"]]), false);
  p.requestBody({ body: enc('{"model":"m","messages":[]}'), end_of_stream: true });
  const h = p.responseHeaders(
    new Map(contentType === undefined ? [] : [["content-type", contentType]]),
    false,
  ) as ProcessingResponse; // a route without FULL_DUPLEX_STREAMED: one answer per message
  // an immediate reply, or (fail-open) no body to see: the headers' answer is the outcome
  if (h.immediate_response || h.mode_override?.response_body_mode !== "BUFFERED") return { r: h, log };
  const r = p.responseBody({ body: enc(body), end_of_stream: true });
  if (Array.isArray(r)) throw new Error("a list of answers outside FULL_DUPLEX_STREAMED");
  return { r: r as ProcessingResponse, log };
}

const status = (r: ProcessingResponse) => r.immediate_response?.status.code;
const newBody = (r: ProcessingResponse) => {
  const b = r.response_body?.response?.body_mutation?.body ?? r.request_body?.response?.body_mutation?.body;
  return typeof b === "string" ? b : dec(b);
};
const PII_REDACT = { response_policy: { scanners: { secret: { action: "redact" as const } } } };

describe("duplicate JSON keys", () => {
  it("a request repeating a key is refused with 400 naming the reason, never the content (even fail-open)", () => {
    const key = awsKey();
    for (const fail_mode of ["closed", "open"] as const) {
      const { r } = request(
        "openai-chat",
        `{"model":"m","messages":[{"role":"user","content":"hi","content":"${key}"}]}`,
        "application/json",
        { fail_mode },
      );
      expect(status(r)).toBe(400);
      const body = dec(r.immediate_response!.body);
      expect(JSON.parse(body).error).toMatchObject({ type: "hexr_guard_invalid_json", code: "guard.duplicate_key" });
      expect(body).not.toContain(key);
    }
  });

  it("a buffered JSON response repeating a key gets the fail mode", () => {
    const { r } = response("openai-chat", '{"choices":[],"choices":[]}', "application/json");
    expect(status(r)).toBe(502);
  });

  it("hard negative: the same key in sibling objects is fine", () => {
    const { r } = request("openai-chat", '{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}');
    expect(r.immediate_response).toBeUndefined();
  });
});

describe("responses that are not JSON or SSE are scanned, never forwarded unscanned", () => {
  it.each([["text/plain; charset=utf-8"], [undefined], ["text/html"], ["text/vtt"]])("%s: a secret blocks", (type) => {
    const key = awsKey();
    const { r } = response("openai-any", `transcript: the key is ${key}.`, type);
    expect(status(r)).toBe(403);
    expect(dec(r.immediate_response!.body)).not.toContain(key);
  });

  it("text is redacted in place under a redact policy", () => {
    const key = awsKey();
    const { r } = response("openai-any", `the key is ${key}.`, "text/plain", PII_REDACT);
    expect(newBody(r)).toBe("the key is [REDACTED:secret].");
  });

  it("NDJSON: every line's strings are scanned; only the changed line is re-serialized", () => {
    const key = awsKey();
    const lines = [
      '{"custom_id":"a","result":{"text":"fine"}}',
      `{"custom_id":"b","result":{"text":"key ${key}"}}`,
      "",
    ];
    const blocked = response("anthropic-messages", lines.join("\n"), "application/x-ndjson");
    expect(status(blocked.r)).toBe(403);
    const { r } = response("anthropic-messages", lines.join("\n"), "application/x-jsonlines", PII_REDACT);
    const out = newBody(r).split("\n");
    expect(out[0]).toBe(lines[0]);
    expect(JSON.parse(out[1]!).result.text).toBe("key [REDACTED:secret]");
    expect(out[2]).toBe("");
  });

  it("binary media cannot be scanned: fail mode at the headers (closed: 502; open: passes)", () => {
    expect(status(response("openai-any", "", "audio/mpeg").r)).toBe(502);
    const open = response("openai-any", "", "audio/mpeg", { fail_mode: "open" });
    expect(open.r.immediate_response).toBeUndefined();
    expect(open.log.entries.some((e) => e.event === "guard_unscannable" && e.fail_mode === "open")).toBe(true);
  });

  it("hard negative: benign text passes unchanged", () => {
    const { r } = response("openai-any", "all good here", "text/plain");
    expect(r.immediate_response).toBeUndefined();
    expect(newBody(r)).toBe("");
  });
});

describe("requests", () => {
  it("a non-JSON request body (multipart text fields) is scanned as text", () => {
    const key = awsKey();
    const body = `--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nuse ${key}\r\n--b--\r\n`;
    const { r } = request("openai-any", body, "multipart/form-data; boundary=b");
    expect(status(r)).toBe(403);
  });

  it("a token-id prompt cannot be read: fail mode (closed: 413)", () => {
    const { r, log } = request("openai-embeddings", '{"model":"e","input":[[101,2023,102]]}');
    expect(status(r)).toBe(413);
    expect(log.entries.some((e) => e.code === "guard.token_input")).toBe(true);
  });

  it("a secret that is a tool input key is blocked and the reported path does not name it", () => {
    const key = awsKey();
    const { r, log } = request(
      "anthropic-messages",
      JSON.stringify({
        messages: [{ role: "assistant", content: [{ type: "tool_use", id: "t", name: "n", input: { [key]: "v" } }] }],
      }),
    );
    expect(status(r)).toBe(403);
    const body = dec(r.immediate_response!.body);
    expect(JSON.parse(body).error.findings[0].path).toBe("$.messages[0].content[0].input.*");
    expect(body).not.toContain(key.slice(4));
    expect(JSON.stringify(log.entries)).not.toContain(key.slice(4));
  });
});

describe("scan-time budget", () => {
  // Big enough that no machine scans it within 1 ms, small enough to stay under every size cap.
  const costly = JSON.stringify({ model: "m", messages: [{ role: "user", content: "eyJhbGciOi.".repeat(15_000) }] });

  it("a body whose scan overruns the route's budget gets the fail mode: 413 closed, passed on open", () => {
    const closed = request("openai-chat", costly, "application/json", { scan_budget_ms: 1 });
    expect(status(closed.r)).toBe(413);
    expect(closed.log.entries.some((e) => e.event === "guard_scan_timeout" && e.budget_ms === 1)).toBe(true);
    const open = request("openai-chat", costly, "application/json", { scan_budget_ms: 1, fail_mode: "open" });
    expect(status(open.r)).toBeUndefined();
    // the same body under the default budget is scanned
    expect(status(request("openai-chat", costly).r)).toBeUndefined();
  });

  it.each([0, -5, 1.5, 10_001, "fast"])("scan_budget_ms %j is a config error naming the field", (v) => {
    const cfg = DEFAULT_GUARD_ROUTES.find((r) => r.name === "openai-chat")!;
    expect(() => compileGuardRoutes([{ ...cfg, scan_budget_ms: v as number }])).toThrow(
      /^ext_proc\.routes\[0\]\.scan_budget_ms: must be an integer in \[1, 10000\]/,
    );
  });
});

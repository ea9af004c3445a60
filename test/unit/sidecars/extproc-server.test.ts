/**
 * The ext_proc stream loop over a real gRPC stream (Unix socket): processor selection on request
 * headers, pass-through for local replies, and fail-closed 500s when a processor throws.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { externalProcessorService } from "../../../sidecars/envoy-protos.ts";
import { CONTINUE, PASS_THROUGH, type Processor } from "../../../sidecars/extproc/processor.ts";
import { addExtProcService } from "../../../sidecars/extproc/server.ts";
import type { ProcessingRequest } from "../../../sidecars/extproc/types.ts";
import { type ExtProcClient, exchange as exchangeOn } from "../../helpers/extproc.ts";
import { MemoryLogger } from "../../../sidecars/logger.ts";
import { SidecarServer } from "../../../sidecars/server.ts";

const enc = new TextEncoder();
const logger = new MemoryLogger();
const THROWING: Processor = {
  ...PASS_THROUGH,
  requestBody: () => {
    throw new Error("processor bug with a secret sk-live-123 inside");
  },
};
const selected: string[] = [];
let server: SidecarServer;
let client: ExtProcClient;
let stats: { streams: number; errors: number };

beforeAll(async () => {
  const socket = path.join(mkdtempSync(path.join(tmpdir(), "hexr-ep-")), "ep.sock");
  server = new SidecarServer();
  stats = addExtProcService(
    server.grpc,
    {
      select(h) {
        selected.push(`${h.get(":authority")}${h.get(":path")}`);
        return h.get(":path") === "/boom" ? THROWING : PASS_THROUGH;
      },
    },
    logger,
  );
  await server.bind({ socket });
  const Ctor = externalProcessorService();
  client = new Ctor(`unix:${socket}`, grpc.credentials.createInsecure()) as never;
});

afterAll(() => {
  client?.close();
  server?.kill();
});

const exchange = (msgs: ProcessingRequest[]) => exchangeOn(client, msgs);

const headers = (p: string, raw = false) => ({
  headers: {
    headers: [
      raw
        ? { key: ":authority", raw_value: enc.encode("api.example.com") }
        : { key: ":authority", value: "api.example.com" },
      { key: ":path", raw_value: enc.encode(p) },
    ],
  },
});

describe("ext_proc stream loop", () => {
  it("selects the processor on request headers (value or raw_value) and answers each phase in order", async () => {
    const r = await exchange([
      { request_headers: headers("/ok", true) },
      { request_body: { body: enc.encode("{}"), end_of_stream: true } },
      { response_headers: headers("/ok") },
    ]);
    expect(selected.at(-1)).toBe("api.example.com/ok");
    // the oneof names the phase each answer belongs to
    expect(r.map((m) => (m as { response?: string }).response)).toEqual([
      "request_headers",
      "request_body",
      "response_headers",
    ]);
  });

  it("a processor that throws fails the request closed with a 500 that leaks nothing", async () => {
    const r = await exchange([
      { request_headers: headers("/boom") },
      { request_body: { body: enc.encode("{}"), end_of_stream: true } },
    ]);
    const imm = r[1]!.immediate_response!;
    // decoded with enums as names: HttpStatus 500
    expect(imm.status.code).toBe("InternalServerError");
    expect(Buffer.from(imm.body!).toString()).not.toContain("sk-live");
    expect(stats.errors).toBe(1);
    expect(JSON.stringify(logger.entries)).not.toContain("sk-live");
  });

  it("response phases without request headers (a local reply from ext_authz) pass through", async () => {
    const r = await exchange([
      { response_headers: headers("/x") },
      { response_body: { body: enc.encode("denied"), end_of_stream: true } },
    ]);
    expect(r[0]!.response_headers?.response?.status).toBe(CONTINUE.responseHeaders.response_headers!.response!.status);
    expect(r[1]!.response_body).toBeDefined();
    expect(r.some((m) => m.immediate_response)).toBe(false);
  });
});

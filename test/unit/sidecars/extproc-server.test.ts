/**
 * The ext_proc stream loop over a real gRPC stream (Unix socket), on both transports (grpc-js and the
 * plain node:http2 server): processor selection on request headers, pass-through for local replies, and
 * fail-closed 500s when a processor throws. On node:http2 also the framing: split and joined messages,
 * malformed, compressed, truncated and oversized ones, and the bound on open streams.
 */
import { mkdtempSync } from "node:fs";
import http2 from "node:http2";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { externalProcessorService } from "../../../sidecars/envoy-protos.ts";
import { CONTINUE, PASS_THROUGH, type Processor } from "../../../sidecars/extproc/processor.ts";
import {
  addExtProcH2,
  addExtProcService,
  type ExtProcLimits,
  ExtProcStreams,
} from "../../../sidecars/extproc/server.ts";
import { H2GrpcServer } from "../../../sidecars/h2-grpc.ts";
import { HealthService } from "../../../sidecars/health.ts";
import type { ProcessingRequest } from "../../../sidecars/extproc/types.ts";
import { type ExtProcClient, exchange as exchangeOn } from "../../helpers/extproc.ts";
import { MemoryLogger } from "../../../sidecars/logger.ts";
import { SidecarServer } from "../../../sidecars/server.ts";

const enc = new TextEncoder();
const process_ = externalProcessorService().service.Process as unknown as {
  requestSerialize(v: unknown): Buffer;
  responseDeserialize(b: Buffer): unknown;
};
const logger = new MemoryLogger();
const THROWING: Processor = {
  ...PASS_THROUGH,
  requestBody: () => {
    throw new Error("processor bug with a secret sk-live-123 inside");
  },
};
const selected: string[] = [];
const router = {
  select(h: Map<string, string>) {
    selected.push(`${h.get(":authority")}${h.get(":path")}`);
    return h.get(":path") === "/boom" ? THROWING : PASS_THROUGH;
  },
};

interface Served {
  client: ExtProcClient;
  stats: { streams: number; errors: number };
  socket: string;
  stop(): void;
}

/** The stream loop on a Unix socket, served by grpc-js or by the plain node:http2 server. */
async function serve(transport: "grpc-js" | "http2", limits?: ExtProcLimits): Promise<Served> {
  const socket = path.join(mkdtempSync(path.join(tmpdir(), "hexr-ep-")), "ep.sock");
  const streams = new ExtProcStreams(router, logger, undefined, limits);
  let stop: () => void;
  if (transport === "grpc-js") {
    const server = new SidecarServer();
    addExtProcService(server.grpc, streams);
    await server.bind({ socket });
    stop = () => server.kill();
  } else {
    const server = new H2GrpcServer(new HealthService());
    addExtProcH2(server, streams);
    await server.listen(socket);
    stop = () => server.kill();
  }
  const Ctor = externalProcessorService();
  const client = new Ctor(`unix:${socket}`, grpc.credentials.createInsecure()) as never as ExtProcClient;
  return {
    client,
    stats: streams.stats,
    socket,
    stop: () => {
      client.close();
      stop();
    },
  };
}

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

describe.each(["grpc-js", "http2"] as const)("ext_proc stream loop on %s", (transport) => {
  let served: Served;
  beforeAll(async () => {
    served = await serve(transport);
  });
  afterAll(() => served?.stop());
  const exchange = (msgs: ProcessingRequest[]) => exchangeOn(served.client, msgs);

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
    expect(served.stats.errors).toBe(1);
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

describe("ext_proc on the node:http2 server, at the framing level", () => {
  const request = process_.requestSerialize;
  const response = process_.responseDeserialize;
  let served: Served;
  beforeAll(async () => {
    served = await serve("http2", { maxStreams: 1, open: { open: 0 } });
  });
  afterAll(() => served?.stop());

  const framed = (m: Buffer, flag = 0) => {
    const out = Buffer.alloc(5 + m.length);
    out[0] = flag;
    out.writeUInt32BE(m.length, 1);
    m.copy(out, 5);
    return out;
  };

  /** One raw stream: `pieces` written one by one (then end unless `open`); the answers and grpc-status. */
  function raw(
    session: http2.ClientHttp2Session,
    pieces: Buffer[],
    open = false,
  ): { done: Promise<{ answers: Record<string, unknown>[]; status: string }>; req: http2.ClientHttp2Stream } {
    const req = session.request({
      ":method": "POST",
      ":path": "/envoy.service.ext_proc.v3.ExternalProcessor/Process",
      "content-type": "application/grpc",
    });
    const done = new Promise<{ answers: Record<string, unknown>[]; status: string }>((resolve) => {
      const chunks: Buffer[] = [];
      let status = "none";
      req.on("response", (h) => {
        if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
      });
      req.on("trailers", (t) => {
        status = String(t["grpc-status"]);
      });
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("close", () => {
        const all = Buffer.concat(chunks);
        const answers: Record<string, unknown>[] = [];
        for (let i = 0; i + 5 <= all.length; ) {
          const n = all.readUInt32BE(i + 1);
          answers.push(response(all.subarray(i + 5, i + 5 + n)) as Record<string, unknown>);
          i += 5 + n;
        }
        resolve({ answers, status });
      });
      req.on("error", () => undefined);
    });
    (async () => {
      for (const p of pieces) {
        req.write(p);
        await new Promise((r) => setImmediate(r));
      }
      if (!open) req.end();
    })();
    return { done, req };
  }

  const connect = () => http2.connect("http://localhost", { createConnection: () => netConnect(served.socket) });
  const hdrs = framed(request({ request_headers: headers("/ok") }));
  const body = framed(request({ request_body: { body: enc.encode("{}"), end_of_stream: true } }));

  it("answers messages split byte by byte and messages sharing one write, each once, in order", async () => {
    const s = connect();
    const bytes = Buffer.concat([hdrs, body]);
    const pieces = [...bytes.subarray(0, 9)].map((b) => Buffer.of(b)).concat([bytes.subarray(9)]);
    const split = await raw(s, pieces).done;
    const joined = await raw(s, [bytes]).done;
    s.close();
    for (const r of [split, joined]) {
      expect(r.status).toBe("0");
      expect(r.answers.map((a) => a.response)).toEqual(["request_headers", "request_body"]);
    }
  });

  it.each([
    ["malformed ProcessingRequest bytes", [framed(Buffer.from([0x2a, 0x05, 0x0a]))], "13"],
    ["a compressed message", [framed(request({ request_headers: headers("/ok") }), 1)], "12"],
    ["a stream that ends inside a message", [hdrs.subarray(0, 7)], "13"],
    ["a message over the size limit", [Buffer.from([0, 0x7f, 0xff, 0xff, 0xff])], "8"],
  ])("ends %s with a non-OK status and no answer to it", async (_n, pieces, status) => {
    const s = connect();
    const r = await raw(s, pieces).done;
    s.close();
    expect(r.status).toBe(status);
    expect(r.answers).toEqual([]);
  });

  it("refuses a stream past max_streams (RESOURCE_EXHAUSTED) and frees the slot when a stream closes", async () => {
    const s = connect();
    const first = raw(s, [hdrs], true);
    // the first stream is open (its headers answered) when the second comes
    await new Promise<void>((r) => first.req.once("response", () => r()));
    const second = await raw(s, [hdrs]).done;
    expect(second.status).toBe("8");
    first.req.end();
    expect((await first.done).status).toBe("0");
    const third = await raw(s, [hdrs]).done;
    s.close();
    expect(third.status).toBe("0");
  });
});

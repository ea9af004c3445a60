/**
 * The node:http2 Check server on a real Unix socket with a stub pipeline: many large Checks at once on one
 * HTTP/2 connection (as Envoy multiplexes every agent's Checks) are all answered — none refused because
 * other streams' bodies are large — and a response that cannot be encoded becomes INTERNAL, not a crash.
 */
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHECK_PATH, H2CheckServer } from "../../../sidecars/authz/h2-server.ts";
import { HEALTH_CHECK_PATH, Reassembler } from "../../../sidecars/h2-grpc.ts";
import { okResponse } from "../../../sidecars/authz/response.ts";
import { authorizationService } from "../../../sidecars/envoy-protos.ts";
import { HealthService } from "../../../sidecars/health.ts";

const check = authorizationService().service.Check as unknown as { requestSerialize(v: unknown): Buffer };

let dir: string;
let socket: string;
let server: H2CheckServer;
let seen = 0;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "hexr-h2s-"));
  socket = path.join(dir, "authz.sock");
  const pipeline = {
    check: () => {
      seen++;
      return okResponse("d-1");
    },
  };
  server = new H2CheckServer(pipeline as never, new HealthService());
  await server.listen(socket);
});

afterAll(() => {
  server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** One length-prefixed CheckRequest carrying a raw body of `n` bytes. */
function framed(n: number): Buffer {
  const msg = check.requestSerialize({
    attributes: { request: { http: { method: "POST", path: "/a2a", host: "agent", raw_body: Buffer.alloc(n, 0x61) } } },
  });
  const out = Buffer.alloc(5 + msg.length);
  out.writeUInt32BE(msg.length, 1);
  msg.copy(out, 5);
  return out;
}

function send(session: http2.ClientHttp2Session, body: Buffer, p = CHECK_PATH): Promise<string> {
  return new Promise((resolve) => {
    const req = session.request({ ":method": "POST", ":path": p, "content-type": "application/grpc" });
    let status = "no trailers";
    req.on("trailers", (t) => {
      status = String(t["grpc-status"]);
    });
    req.on("response", (h) => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    });
    req.on("error", (e) => resolve(`error ${e.message}`));
    req.on("close", () => resolve(status));
    req.resume();
    req.end(body);
  });
}

describe("H2CheckServer", () => {
  it("answers six concurrent 6 MiB Checks on one connection, all OK", async () => {
    // 36 MiB in flight on one session
    // the client as Envoy is: no session-memory cap of its own (Node's client default would refuse first)
    const session = http2.connect("http://localhost", {
      createConnection: () => connect(socket),
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    });
    const body = framed(6 << 20);
    const before = seen;
    const statuses = await Promise.all(Array.from({ length: 6 }, () => send(session, body)));
    session.close();
    expect(statuses).toEqual(Array(6).fill("0"));
    expect(seen - before).toBe(6);
  }, 60_000);
});

describe("H2CheckServer with a response that cannot be encoded", () => {
  it("answers INTERNAL (Envoy fails closed) and keeps serving", async () => {
    const d = mkdtempSync(path.join(tmpdir(), "hexr-h2e-"));
    const sock = path.join(d, "authz.sock");
    let bad = true;
    const s = new H2CheckServer(
      { check: () => (bad ? ({ status: { code: "x" } } as never) : okResponse("d-2")) },
      new HealthService(),
    );
    await s.listen(sock);
    try {
      const session = http2.connect("http://localhost", { createConnection: () => connect(sock) });
      expect(await send(session, framed(10))).toBe("13");
      bad = false;
      expect(await send(session, framed(10))).toBe("0");
      session.close();
    } finally {
      s.kill();
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe("H2CheckServer health Check with a hostile length", () => {
  it("refuses a length varint that sets bit 31 (INTERNAL) and keeps answering Checks", async () => {
    const session = http2.connect("http://localhost", { createConnection: () => connect(socket) });
    // HealthCheckRequest field 1 with length 0xFFFFFFFA: once read as -6, it sent the parser backwards forever
    const hostile = Buffer.from([0, 0, 0, 0, 6, 0x0a, 0xfa, 0xff, 0xff, 0xff, 0x0f]);
    expect(await send(session, hostile, HEALTH_CHECK_PATH)).toBe("13");
    expect(await send(session, framed(10))).toBe("0");
    session.close();
  });
});

describe("Reassembler (gRPC messages out of DATA chunks)", () => {
  const framedMsg = (m: Uint8Array) => {
    const out = Buffer.alloc(5 + m.length);
    out.writeUInt32BE(m.length, 1);
    out.set(m, 5);
    return out;
  };

  it("hands over every message once, in order, however the bytes are split", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 30 }),
        (messages, cuts) => {
          const wire = Buffer.concat(messages.map(framedMsg));
          const r = new Reassembler(1 << 20);
          const got: Buffer[] = [];
          for (let at = 0, i = 0; at < wire.length; i++) {
            const n = cuts[i % cuts.length]!;
            // a copy per chunk: the reassembler must not depend on the caller's buffer afterwards
            expect(r.push(Buffer.from(wire.subarray(at, at + n)), (m) => got.push(m) > 0)).toBeUndefined();
            at += n;
          }
          expect(got.map((b) => [...b])).toEqual(messages.map((m) => [...m]));
          expect(r.pending).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("keeps a message trickled in 1-byte chunks in one buffer within twice what arrived", () => {
    const r = new Reassembler(8 << 20);
    const prefix = Buffer.from([0, 0, 0x80, 0, 0]); // announces 8 MiB
    for (const b of prefix) r.push(Buffer.of(b), () => true);
    for (let i = 0; i < 20_000; i++) r.push(Buffer.of(0x61), () => true);
    expect(r.pending).toBe(20_005);
    expect(r.capacity).toBeLessThanOrEqual(2 * 20_005 + 64);
  });

  it("refuses a length over the limit and a compressed message before keeping anything", () => {
    const r = new Reassembler(1024);
    expect(r.push(Buffer.from([0, 0, 0, 0x04, 0x01]), () => true)?.code).toBe(8);
    expect(new Reassembler(1024).push(Buffer.from([1, 0, 0, 0, 1, 0x61]), () => true)?.code).toBe(12);
  });
});

/**
 * FULL_DUPLEX_STREAMED responses (no Envoy): the stream loop reads the route's modes from the first
 * message's `protocol_config`, the guard answers SSE chunks as `streamed_response` pieces (none for a
 * chunk held back whole, the chunk's own bytes when unchanged), gathers everything else and answers its
 * headers when the body is whole (a block stays a 403), and
 * whatever the loop cannot serve in that mode is refused up front, never answered in the wrong form.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  DUPLEX_GATHER_BUDGET_BYTES,
  GuardProcessor,
  gatheredBytes,
  newGuardStats,
} from "../../../sidecars/extproc/guard-processor.ts";
import {
  compileGuardRoutes,
  DEFAULT_GUARD_ROUTES,
  DEFAULT_MAX_BODY_BYTES,
  type GuardRouteConfig,
} from "../../../sidecars/extproc/guard-routes.ts";
import type { Answer, Processor } from "../../../sidecars/extproc/processor.ts";
import { GuardRouter } from "../../../sidecars/extproc/router.ts";
import { ExtProcStreams } from "../../../sidecars/extproc/server.ts";
import type {
  ProcessingRequest,
  ProcessingResponse,
  ProtocolConfiguration,
  StreamedBodyResponse,
} from "../../../sidecars/extproc/types.ts";
import { MemoryLogger } from "../../../sidecars/logger.ts";

const DUPLEX: ProtocolConfiguration = { request_body_mode: "BUFFERED", response_body_mode: "FULL_DUPLEX_STREAMED" };
const enc = (s: string) => new TextEncoder().encode(s);
const awsKey = () => `AKIA${Array.from(randomBytes(16), (b) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[b % 32]).join("")}`;

const list = (a: Answer): readonly ProcessingResponse[] => (Array.isArray(a) ? a : [a as ProcessingResponse]);
const piece = (r: ProcessingResponse): StreamedBodyResponse | undefined =>
  r.response_body?.response?.body_mutation?.streamed_response;
const text = (b: Uint8Array | string | undefined) => (typeof b === "string" ? b : new TextDecoder().decode(b));

function chatProcessor(modes: ProtocolConfiguration = DUPLEX): { p: GuardProcessor; log: MemoryLogger } {
  const [route] = compileGuardRoutes([DEFAULT_GUARD_ROUTES.find((r) => r.name === "openai-chat")!]);
  const log = new MemoryLogger();
  return { p: new GuardProcessor(route!, log, newGuardStats(), undefined, modes), log };
}

const sse = (content: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;

/** An SSE response through a duplex guard, cut into `cuts`-byte chunks; every answer, and the text that went on. */
function stream(body: string, cut: number): { answers: ProcessingResponse[]; out: string } {
  const { p } = chatProcessor();
  p.requestHeaders(new Map([["content-type", "application/json"]]), false);
  p.requestBody({ body: enc('{"model":"m","stream":true,"messages":[]}'), end_of_stream: true });
  const h = list(p.responseHeaders(new Map([["content-type", "text/event-stream"]]), false));
  expect(h).toHaveLength(1);
  expect(h[0]!.mode_override).toBeUndefined(); // the route's FULL_DUPLEX_STREAMED stays
  const bytes = enc(body);
  const answers: ProcessingResponse[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += cut) {
    const end = i + cut >= bytes.length;
    answers.push(...list(p.responseBody({ body: bytes.subarray(i, i + cut), end_of_stream: end })));
  }
  return { answers, out: answers.map((a) => text(piece(a)!.body)).join("") };
}

describe("the guard on a FULL_DUPLEX_STREAMED route", () => {
  it("a benign stream goes on byte for byte, every answer a streamed piece, the last one ending the body", () => {
    const body = `${sse("The quick brown fox ")}${sse("jumps over the lazy dog.")}data: [DONE]\n\n`;
    for (const cut of [1, 7, 64, body.length]) {
      const { answers, out } = stream(body, cut);
      expect(out).toBe(body);
      expect(answers.every((a) => piece(a) !== undefined)).toBe(true);
      expect(answers.map((a) => piece(a)!.end_of_stream)).toEqual([...answers.slice(1).map(() => false), true]);
    }
  });

  it("a chunk that releases nothing is not answered (held back whole), and nothing is lost", () => {
    const body = `${sse("hello there")}data: [DONE]\n\n`;
    const { answers, out } = stream(body, 3);
    expect(answers.length).toBeLessThan(Math.ceil(enc(body).length / 3));
    expect(out).toBe(body);
  });

  it("an email split across chunks and events is redacted; a secret ends the stream and nothing of it goes on", () => {
    const red = stream(`${sse("mail jane.d")}${sse("oe@example.com now")}data: [DONE]\n\n`, 5).out;
    expect(red).not.toContain("jane.d");
    expect(red).toContain("[REDACTED:email]");
    const key = awsKey();
    const cut = stream(`${sse("use ")}${sse(key.slice(0, 9))}${sse(`${key.slice(9)} then more`)}data: [DONE]\n\n`, 4);
    expect(cut.out).toContain("hexr_guard_blocked");
    expect(cut.out).not.toContain(key.slice(0, 8));
    expect(cut.out).not.toContain("then more");
    expect(piece(cut.answers.at(-1)!)!.end_of_stream).toBe(true);
  });

  it("trailers: what is still held goes out before the trailers' answer, not ending the body", () => {
    const { p } = chatProcessor();
    p.requestHeaders(new Map([["content-type", "application/json"]]), true);
    p.responseHeaders(new Map([["content-type", "text/event-stream"]]), false);
    // the scanner holds back text that could still become a finding; the last event has no blank line
    const first = list(p.responseBody({ body: enc(`${sse("hi there")}data: {"x"`), end_of_stream: false }));
    const trailers = list(p.duplex!.responseTrailers());
    expect(trailers.at(-1)).toEqual({ response_trailers: {} });
    const pieces = [...first, ...trailers.slice(0, -1)].map((a) => piece(a)!);
    expect(pieces.every((x) => x.end_of_stream === false)).toBe(true);
    // what was held goes out before the trailers; the cut-off event is dropped, as SSE clients drop it
    expect(pieces.map((x) => text(x.body)).join("")).toBe(sse("hi there"));
  });

  const json = (content: string) =>
    enc(JSON.stringify({ choices: [{ index: 0, message: { role: "assistant", content } }] }));
  function gathered(body: Uint8Array, cut: number, over: Partial<GuardRouteConfig> = {}) {
    const [route] = compileGuardRoutes([{ ...DEFAULT_GUARD_ROUTES.find((x) => x.name === "openai-chat")!, ...over }]);
    const p = new GuardProcessor(route!, new MemoryLogger(), newGuardStats(), undefined, DUPLEX);
    p.requestHeaders(new Map(), true);
    const answers = [...list(p.responseHeaders(new Map([["content-type", "application/json"]]), false))];
    // the headers' answer waits for the whole body: nothing goes out until its last chunk
    expect(answers).toEqual([]);
    for (let i = 0; i < body.length; i += cut) {
      const end = i + cut >= body.length;
      const a = list(p.responseBody({ body: body.subarray(i, i + cut), end_of_stream: end }));
      answers.push(...a);
      if (a.length > 0) return { answers, early: !end };
    }
    return { answers, early: false };
  }

  it("a JSON response is gathered; the headers' answer waits for it, so a block is still a 403", () => {
    const key = awsKey();
    const { answers: blocked, early } = gathered(json(`key ${key}`), 16);
    expect(early).toBe(false);
    expect(blocked).toHaveLength(1);
    expect(blocked[0]!.immediate_response?.status.code).toBe(403);
    expect(text(blocked[0]!.immediate_response?.body)).not.toContain(key);

    const [headers, body] = gathered(json("mail jane.doe@example.com"), 10).answers;
    const set = headers!.response_headers?.response?.header_mutation?.set_headers ?? [];
    expect(set.map((h) => h.header.key)).toEqual(["x-hexr-guard-findings", "content-length"]);
    const b = piece(body!)!;
    expect(b.end_of_stream).toBe(true);
    expect(JSON.parse(text(b.body)).choices[0].message.content).toBe("mail [REDACTED:email]");
    expect(Number(text(set[1]!.header.raw_value))).toBe(enc(text(b.body)).length);

    const clean = json("nothing to see");
    const passed = gathered(clean, 7).answers;
    expect(passed[0]).toEqual({ response_headers: { response: { status: "CONTINUE" } } });
    expect(piece(passed[1]!)).toEqual({ body: Buffer.from(clean), end_of_stream: true });
    expect(passed).toHaveLength(2);
  });

  it("a gathered body past the cap: closed answers 502 before any header went on; open releases it and echoes the rest", () => {
    const big = json("x".repeat(600));
    const { answers: closed, early: cut } = gathered(big, 100, { max_body_bytes: 256 });
    expect(cut).toBe(true); // at the chunk that crossed the cap, not at the end
    expect(closed).toHaveLength(1);
    expect(closed[0]!.immediate_response?.status.code).toBe(502);

    const [route] = compileGuardRoutes([
      { ...DEFAULT_GUARD_ROUTES.find((x) => x.name === "openai-chat")!, max_body_bytes: 256, fail_mode: "open" },
    ]);
    const p = new GuardProcessor(route!, new MemoryLogger(), newGuardStats(), undefined, DUPLEX);
    p.requestHeaders(new Map(), true);
    p.responseHeaders(new Map([["content-type", "application/json"]]), false);
    const out: ProcessingResponse[] = [];
    for (let i = 0; i < big.length; i += 100)
      out.push(...list(p.responseBody({ body: big.subarray(i, i + 100), end_of_stream: i + 100 >= big.length })));
    expect(out[0]).toEqual({ response_headers: { response: { status: "CONTINUE" } } });
    const pieces = out.slice(1).map((a) => piece(a)!);
    expect(Buffer.concat(pieces.map((x) => Buffer.from(x.body as Uint8Array)))).toEqual(Buffer.from(big));
    expect(pieces.map((x) => x.end_of_stream)).toEqual([...pieces.slice(1).map(() => false), true]);
  });

  it("gathered bytes are bounded for the whole thread: past the budget a body is refused (503, whatever the fail mode); closing releases", () => {
    expect(gatheredBytes()).toBe(0);
    const chunk = new Uint8Array(DEFAULT_MAX_BODY_BYTES);
    const held: GuardProcessor[] = [];
    const next = () => {
      const { p } = chatProcessor();
      p.requestHeaders(new Map(), true);
      p.responseHeaders(new Map([["content-type", "application/json"]]), false);
      held.push(p);
      return list(p.responseBody({ body: chunk, end_of_stream: false }));
    };
    for (let i = 0; i < DUPLEX_GATHER_BUDGET_BYTES / DEFAULT_MAX_BODY_BYTES; i++) expect(next()).toEqual([]);
    expect(gatheredBytes()).toBe(DUPLEX_GATHER_BUDGET_BYTES);
    const over = next();
    expect(over[0]!.immediate_response?.status.code).toBe(503);
    expect(text(over[0]!.immediate_response?.body)).toContain("hexr_guard_busy");
    // cancelled streams (a client gone mid-body) give their bytes back
    for (const p of held) p.close();
    expect(gatheredBytes()).toBe(0);
    expect(next()).toEqual([]);
    held.at(-1)!.close();
  });

  it("a gathered body ended by trailers: headers, the body (not ending it), then the trailers' answer", () => {
    const { p } = chatProcessor();
    p.requestHeaders(new Map(), true);
    p.responseHeaders(new Map([["content-type", "application/json"]]), false);
    expect(p.responseBody({ body: json("mail jane.doe@example.com"), end_of_stream: false })).toEqual([]);
    const t = list(p.duplex!.responseTrailers());
    expect(t).toHaveLength(3);
    expect(t[0]!.response_headers).toBeDefined();
    expect(piece(t[1]!)!.end_of_stream).toBe(false);
    expect(text(piece(t[1]!)!.body)).toContain("[REDACTED:email]");
    expect(t[2]).toEqual({ response_trailers: {} });

    // a block found at the trailers: the 403 alone (the stream ends; no trailers' answer after it)
    const q = chatProcessor().p;
    q.requestHeaders(new Map(), true);
    q.responseHeaders(new Map([["content-type", "application/json"]]), false);
    q.responseBody({ body: json(`key ${awsKey()}`), end_of_stream: false });
    const b = list(q.duplex!.responseTrailers());
    expect(b).toHaveLength(1);
    expect(b[0]!.immediate_response?.status.code).toBe(403);
  });

  it("refused at the headers (closed): chunks still in flight and trailers get no answer", () => {
    for (const [type, enc_] of [
      ["audio/mpeg", undefined],
      ["text/event-stream", "gzip"],
    ] as const) {
      const { p } = chatProcessor();
      p.requestHeaders(new Map(), true);
      const h = new Map<string, string>([["content-type", type]]);
      if (enc_) h.set("content-encoding", enc_);
      expect(list(p.responseHeaders(h, false))[0]!.immediate_response?.status.code).toBe(502);
      expect(p.responseBody({ body: enc("late"), end_of_stream: false })).toEqual([]);
      expect(p.duplex!.responseTrailers()).toEqual([]);
    }
  });

  it("a body before any response headers on a duplex route fails the request, never passes unscanned", () => {
    const { p } = chatProcessor();
    p.requestHeaders(new Map(), true);
    expect(() => p.responseBody({ body: enc("x"), end_of_stream: true })).toThrow(/before its headers/);
  });

  it("fail-open media: the headers go on at once and every chunk is echoed as received", () => {
    const [openRoute] = compileGuardRoutes([
      { ...DEFAULT_GUARD_ROUTES.find((x) => x.name === "openai-chat")!, fail_mode: "open" },
    ]);
    const open = new GuardProcessor(openRoute!, new MemoryLogger(), newGuardStats(), undefined, DUPLEX);
    open.requestHeaders(new Map(), true);
    expect(open.responseHeaders(new Map([["content-type", "audio/mpeg"]]), false)).toEqual({
      response_headers: { response: { status: "CONTINUE" } },
    });
    expect(piece(list(open.responseBody({ body: enc("ID3"), end_of_stream: false }))[0]!)).toEqual({
      body: enc("ID3"),
      end_of_stream: false,
    });
  });

  it("a request body the route does not buffer is refused (500, whatever the fail mode); no body: fine", () => {
    const { p } = chatProcessor({ response_body_mode: "FULL_DUPLEX_STREAMED" });
    const r = p.requestHeaders(new Map([["content-type", "application/json"]]), false);
    expect(r.immediate_response?.status.code).toBe(500);
    expect(text(r.immediate_response?.body)).toContain("hexr_guard_route_mode");
    const q = chatProcessor({ response_body_mode: "FULL_DUPLEX_STREAMED" }).p;
    expect(q.requestHeaders(new Map(), true).immediate_response).toBeUndefined();
  });

  it("the request headers' answer sends no mode_override (it would replace the route's response mode)", () => {
    const { p } = chatProcessor();
    const r = p.requestHeaders(new Map([["content-type", "application/json"]]), false);
    expect(r.mode_override).toBeUndefined();
    expect(r.request_headers?.response?.header_mutation?.remove_headers).toEqual(["accept-encoding"]);
  });
});

describe("the stream loop and FULL_DUPLEX_STREAMED", () => {
  const log = new MemoryLogger();
  const guardRouter = new GuardRouter(compileGuardRoutes(DEFAULT_GUARD_ROUTES), log, () => A2A_LIKE);
  const A2A_LIKE: Processor = {
    requestHeaders: () => ({ request_headers: {} }),
    requestBody: () => ({ request_body: {} }),
    responseHeaders: () => ({ response_headers: {} }),
    responseBody: () => ({ response_body: {} }),
  };
  const open = (tag?: string) =>
    new ExtProcStreams(guardRouter, log).open((k) => (k === "x-hexr-route" ? tag : undefined))!;
  const headers = (authority: string, extra: ProcessingRequest = {}): ProcessingRequest => ({
    request_headers: {
      headers: {
        headers: [
          { key: ":authority", value: authority },
          { key: ":path", value: "/v1/chat/completions" },
        ],
      },
      end_of_stream: true,
    },
    ...extra,
  });

  it("a host without a guard route: every chunk goes on as received", () => {
    const s = open();
    s.message(headers("plain.example", { protocol_config: DUPLEX }));
    const h = list(s.message({ response_headers: { headers: { headers: [] } } }));
    expect(h).toEqual([{ response_headers: { response: { status: "CONTINUE" } } }]);
    const b = list(s.message({ response_body: { body: enc("abc"), end_of_stream: true } }));
    expect(piece(b[0]!)).toEqual({ body: enc("abc"), end_of_stream: true });
  });

  it("a local reply's response phases (no request headers) on a duplex stream are echoed, not CONTINUEd", () => {
    const s = open();
    s.message({ response_headers: { headers: { headers: [] } }, protocol_config: DUPLEX });
    const b = list(s.message({ response_body: { body: enc("denied"), end_of_stream: true } }));
    expect(text(piece(b[0]!)!.body)).toBe("denied");
  });

  it("refused up front: duplex request bodies, and a processor that cannot answer duplex (A2A)", () => {
    const a = list(
      open().message(headers("api.openai.com", { protocol_config: { request_body_mode: "FULL_DUPLEX_STREAMED" } })),
    );
    expect(a[0]!.immediate_response?.status.code).toBe(500);
    const b = list(open("a2a").message(headers("agent.example", { protocol_config: DUPLEX })));
    expect(b[0]!.immediate_response?.status.code).toBe(500);
    expect(log.entries.filter((e) => e.event === "ext_proc_unsupported_mode").length).toBe(2);
  });

  it("without protocol_config (an older Envoy) a guarded stream is answered as before: one answer per chunk", () => {
    const s = open();
    const r = list(s.message(headers("api.openai.com", {})));
    expect(r[0]!.mode_override?.request_body_mode).toBe("NONE");
    s.message({ response_headers: { headers: { headers: [{ key: "content-type", value: "text/event-stream" }] } } });
    const body = `${sse("hello")}data: [DONE]\n\n`;
    const a = s.message({ response_body: { body: enc(body), end_of_stream: true } });
    expect(Array.isArray(a)).toBe(false);
    expect(piece(a as ProcessingResponse)).toBeUndefined();
  });

  it("protocol_config counts on the stream's first message only: a later one cannot switch the answers' form", () => {
    const s = open();
    s.message(headers("api.openai.com"));
    s.message({
      response_headers: { headers: { headers: [{ key: "content-type", value: "text/event-stream" }] } },
      protocol_config: DUPLEX,
    });
    const a = s.message({ response_body: { body: enc(`${sse("hello")}data: [DONE]\n\n`), end_of_stream: true } });
    expect(Array.isArray(a)).toBe(false);
    expect(piece(a as ProcessingResponse)).toBeUndefined();
    expect(s.message({ response_trailers: {} })).toEqual({ response_trailers: {} });
  });

  it("a cancelled stream releases what its body gathered (the loop closes its processor)", () => {
    const s = open();
    s.message(headers("api.openai.com", { protocol_config: DUPLEX }));
    s.message({ response_headers: { headers: { headers: [{ key: "content-type", value: "application/json" }] } } });
    expect(s.message({ response_body: { body: enc('{"choices":'), end_of_stream: false } })).toEqual([]);
    expect(gatheredBytes()).toBeGreaterThan(0);
    s.close();
    expect(gatheredBytes()).toBe(0);
    // a message after the cancel (in flight) gathers nothing
  });
});

/**
 * The hand-written ext_proc codec against the real protos (the envoy-api tree from the npm registry,
 * through proto-loader): ProcessingRequests proto-loader encodes decode to what proto-loader decodes;
 * ProcessingResponses we encode are the bytes proto-loader writes, for generated messages and for the
 * processors' own answers; malformed bytes and unknown fields are refused.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { externalProcessorService } from "../../../sidecars/envoy-protos.ts";
import {
  CodecError,
  decodeProcessingRequest,
  encodeProcessingFrame,
  encodeProcessingResponse,
} from "../../../sidecars/extproc/codec.ts";
import { CONTINUE } from "../../../sidecars/extproc/processor.ts";
import type { ProcessingResponse } from "../../../sidecars/extproc/types.ts";
import { setHeader } from "../../../sidecars/extproc/types.ts";

const process = externalProcessorService().service.Process as unknown as {
  requestSerialize(v: unknown): Buffer;
  requestDeserialize(b: Buffer): Record<string, unknown>;
  responseSerialize(v: unknown): Buffer;
  responseDeserialize(b: Buffer): unknown;
};

/** proto-loader's decode without its oneof discriminator (`request: "response_body"`), which we do not set. */
function theirs(bytes: Buffer): Record<string, unknown> {
  const { request: _, ...rest } = process.requestDeserialize(bytes);
  return rest;
}

const text = fc.string({ unit: "binary", maxLength: 40 });
const nonEmpty = fc.string({ unit: "binary", minLength: 1, maxLength: 40 });
const bytes = fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b));
const headerMap = fc.record({
  headers: fc.array(
    fc.oneof(
      fc.record({ key: nonEmpty, raw_value: bytes }),
      fc.record({ key: nonEmpty, value: nonEmpty }),
      fc.record({ key: nonEmpty }),
    ),
    { minLength: 1, maxLength: 5 },
  ),
});
const httpHeaders = fc.record({ headers: headerMap, end_of_stream: fc.constant(true) }, { requiredKeys: [] });
const httpBody = fc.record({ body: bytes, end_of_stream: fc.constant(true) }, { requiredKeys: [] });
const request = fc.oneof(
  httpHeaders.map((h) => ({ request_headers: h })),
  httpHeaders.map((h) => ({ response_headers: h })),
  httpBody.map((b) => ({ request_body: b })),
  httpBody.map((b) => ({ response_body: b })),
  fc.constant({ request_trailers: {} }),
  headerMap.map((t) => ({ response_trailers: { trailers: t } })),
);

describe("decodeProcessingRequest", () => {
  it("decodes what proto-loader encodes to what proto-loader decodes (trailer values aside)", () => {
    fc.assert(
      fc.property(request, (req) => {
        const b = process.requestSerialize(req);
        const expected = theirs(b);
        // trailers are forwarded unchanged: only their presence is read
        if (expected.response_trailers) expected.response_trailers = {};
        expect(decodeProcessingRequest(b)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it("hands over a body as a view of the received bytes, not a copy", () => {
    const b = process.requestSerialize({ response_body: { body: Buffer.from("data: {}\n\n") } });
    const body = decodeProcessingRequest(b).response_body?.body as Uint8Array;
    expect(Buffer.from(body).toString()).toBe("data: {}\n\n");
    expect(body.buffer).toBe(b.buffer);
  });

  it("skips metadata, attributes and observability mode and still reads the phase", () => {
    const req = {
      response_body: { body: Buffer.from("x"), end_of_stream: true },
      metadata_context: { filter_metadata: { a: { fields: { k: { string_value: "v" } } } } },
      attributes: { "envoy.filters.http.ext_proc": { fields: { "request.path": { string_value: "/v1" } } } },
      observability_mode: true,
    };
    expect(decodeProcessingRequest(process.requestSerialize(req))).toEqual({
      response_body: { body: Buffer.from("x"), end_of_stream: true },
    });
  });

  it("keeps the last member of the oneof when two are on the wire, as the protobuf spec says", () => {
    const a = process.requestSerialize({ request_body: { body: Buffer.from("first") } });
    const b = process.requestSerialize({ response_body: { body: Buffer.from("second") } });
    expect(decodeProcessingRequest(Buffer.concat([a, b]))).toEqual({ response_body: { body: Buffer.from("second") } });
  });

  it("decodes a message with no phase to {} (the stream loop answers it with a 500)", () => {
    expect(decodeProcessingRequest(new Uint8Array())).toEqual({});
    expect(decodeProcessingRequest(process.requestSerialize({ observability_mode: true }))).toEqual({});
  });

  it.each([
    ["a truncated varint", [0x2a, 0x80]],
    ["a length past the end", [0x2a, 0x05, 0x0a]],
    ["field number 0", [0x02, 0x00]],
    ["a phase that is not a message", [0x28, 0x01]],
    ["end_of_stream that is not a varint", [0x2a, 0x02, 0x12, 0x00]],
    ["a body that is not length-delimited", [0x2a, 0x02, 0x08, 0x01]],
  ])("refuses %s with a CodecError", (_n, b) => {
    expect(() => decodeProcessingRequest(Uint8Array.from(b))).toThrow(CodecError);
  });

  it("never throws anything but a CodecError on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        try {
          decodeProcessingRequest(b);
        } catch (e) {
          expect(e).toBeInstanceOf(CodecError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("encodeProcessingResponse", () => {
  const option = fc.record({
    header: fc.oneof(fc.record({ key: nonEmpty, raw_value: bytes }), fc.record({ key: nonEmpty, value: text })),
    append_action: fc.constantFrom(
      "OVERWRITE_IF_EXISTS_OR_ADD",
      "APPEND_IF_EXISTS_OR_ADD",
      "ADD_IF_ABSENT",
      "OVERWRITE_IF_EXISTS",
    ),
  });
  const mutation = fc.record(
    { set_headers: fc.array(option, { maxLength: 3 }), remove_headers: fc.array(nonEmpty, { maxLength: 3 }) },
    { requiredKeys: [] },
  );
  const common = fc.record(
    {
      status: fc.constantFrom("CONTINUE", "CONTINUE_AND_REPLACE"),
      header_mutation: mutation,
      body_mutation: fc.oneof(
        bytes.map((body) => ({ body })),
        fc.boolean().map((clear_body) => ({ clear_body })),
      ),
    },
    { requiredKeys: [] },
  );
  const withCommon = fc.record({ response: common }, { requiredKeys: [] });
  const headerMode = fc.constantFrom("DEFAULT", "SEND", "SKIP");
  const bodyMode = fc.constantFrom("NONE", "STREAMED", "BUFFERED", "BUFFERED_PARTIAL");
  const mode = fc.record(
    {
      request_header_mode: headerMode,
      response_header_mode: headerMode,
      request_body_mode: bodyMode,
      response_body_mode: bodyMode,
      request_trailer_mode: headerMode,
      response_trailer_mode: headerMode,
    },
    { requiredKeys: [] },
  );
  const immediate = fc.record(
    {
      status: fc.record({ code: fc.constantFrom(200, 400, 403, 413, 500, 503) }),
      headers: mutation,
      body: bytes,
      details: nonEmpty,
    },
    { requiredKeys: ["status"] },
  );
  const response = fc.tuple(
    fc.oneof(
      withCommon.map((r) => ({ request_headers: r })),
      withCommon.map((r) => ({ response_headers: r })),
      withCommon.map((r) => ({ request_body: r })),
      withCommon.map((r) => ({ response_body: r })),
      fc.constant({ request_trailers: {} }),
      fc.constant({ response_trailers: {} }),
      immediate.map((i) => ({ immediate_response: i })),
    ),
    fc.option(mode, { nil: undefined }),
  );

  it("writes the bytes proto-loader writes for the same response", () => {
    fc.assert(
      fc.property(response, ([phase, m]) => {
        const r = { ...phase, ...(m ? { mode_override: m } : {}) } as ProcessingResponse;
        expect(encodeProcessingResponse(r)).toEqual(process.responseSerialize(r));
      }),
      { numRuns: 500 },
    );
  });

  it("frames every response as a gRPC message whose bytes are the unframed encoding", () => {
    fc.assert(
      fc.property(response, ([phase, m]) => {
        const r = { ...phase, ...(m ? { mode_override: m } : {}) } as ProcessingResponse;
        const f = encodeProcessingFrame(r);
        expect(f[0]).toBe(0);
        expect(f.readUInt32BE(1)).toBe(f.length - 5);
        expect(f.subarray(5)).toEqual(encodeProcessingResponse(r));
      }),
      { numRuns: 300 },
    );
  });

  it("writes a body replacement given as text (any length, any script) as proto-loader writes its UTF-8 bytes", () => {
    const text = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 300 }),
      fc.string({ maxLength: 20 }).map((t) => t.repeat(1 + (t.length % 7) * 1000)), // lengths past 2- and 3-byte varints
    );
    fc.assert(
      fc.property(text, fc.constantFrom("request_body", "response_body"), (t, phase) => {
        const asText = {
          [phase]: { response: { status: "CONTINUE", body_mutation: { body: t } } },
        } as ProcessingResponse;
        const asBytes = {
          [phase]: { response: { status: "CONTINUE", body_mutation: { body: Buffer.from(t, "utf8") } } },
        } as ProcessingResponse;
        const expected = process.responseSerialize(asBytes);
        expect(encodeProcessingResponse(asText)).toEqual(expected);
        expect(encodeProcessingFrame(asText).subarray(5)).toEqual(expected);
        expect(encodeProcessingFrame(asBytes).subarray(5)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it("writes the processors' shared answers and a header-setting one as proto-loader does", () => {
    const answers: ProcessingResponse[] = [
      ...Object.values(CONTINUE),
      {
        request_headers: {
          response: { status: "CONTINUE", header_mutation: { set_headers: [setHeader("x-hexr-guard", "redacted")] } },
        },
        mode_override: { request_body_mode: "BUFFERED", response_body_mode: "NONE" },
      },
    ];
    for (const r of answers) expect(encodeProcessingResponse(r)).toEqual(process.responseSerialize(r));
  });

  it.each([
    ["a field the codec does not write", { response_body: {}, dynamic_metadata: { fields: {} } }],
    ["an unknown status", { response_body: { response: { status: "REPLACE" } } }],
    ["an unknown body mode", { mode_override: { response_body_mode: "FULL_DUPLEX" } }],
    [
      "an unknown append action",
      {
        request_headers: {
          response: { header_mutation: { set_headers: [{ header: { key: "a", value: "b" }, append_action: "X" }] } },
        },
      },
    ],
    ["an unknown CommonResponse field", { response_body: { response: { clear_route_cache: true } } }],
    [
      "a CONTINUE with an ImmediateResponse beside it (the block would be lost)",
      { request_body: { response: { status: "CONTINUE" } }, immediate_response: { status: { code: 403 } } },
    ],
    [
      "a body mutation that both replaces and clears",
      { response_body: { response: { status: "CONTINUE", body_mutation: { body: "x", clear_body: true } } } },
    ],
    ["an enum name inherited from Object.prototype", { mode_override: { response_body_mode: "constructor" } }],
    [
      "a streamed piece beside a whole-body replacement",
      { response_body: { response: { body_mutation: { body: "x", streamed_response: { body: "y" } } } } },
    ],
    [
      "a streamed piece with a field the codec does not write",
      {
        response_body: {
          response: { body_mutation: { streamed_response: { body: "y", grpc_message_compressed: true } } },
        },
      },
    ],
  ])("refuses %s rather than dropping it", (_n, r) => {
    expect(() => encodeProcessingResponse(r as unknown as ProcessingResponse)).toThrow(CodecError);
    expect(() => encodeProcessingFrame(r as unknown as ProcessingResponse)).toThrow(CodecError);
  });
});

/**
 * FULL_DUPLEX_STREAMED fields are newer than the envoy-api tree the npm registry ships, so they are checked
 * against their field numbers (external_processor.proto: ProcessingRequest.protocol_config = 11,
 * ProtocolConfiguration request_body_mode = 1 / response_body_mode = 2; BodyMutation.streamed_response = 3,
 * StreamedBodyResponse body = 1 / end_of_stream = 2; processing_mode.proto: FULL_DUPLEX_STREAMED = 4), and
 * against Envoy 1.40 itself in test/integration/guard-envoy.test.ts.
 */
describe("FULL_DUPLEX_STREAMED on the wire", () => {
  const config = (req: number, res: number) => Buffer.from([0x5a, 0x04, 0x08, req, 0x10, res]);

  it("reads protocol_config beside the phase, whatever their order", () => {
    const headers = process.requestSerialize({ request_headers: { end_of_stream: true } });
    for (const b of [Buffer.concat([headers, config(2, 4)]), Buffer.concat([config(2, 4), headers])])
      expect(decodeProcessingRequest(b)).toEqual({
        request_headers: { end_of_stream: true },
        protocol_config: { request_body_mode: "BUFFERED", response_body_mode: "FULL_DUPLEX_STREAMED" },
      });
  });

  it("refuses a body mode it does not know (bodies in a form nothing here reads)", () => {
    expect(() => decodeProcessingRequest(config(2, 9))).toThrow(/unknown body mode 9/);
  });

  it("writes a streamed piece as its field numbers say", () => {
    const r: ProcessingResponse = {
      response_body: { response: { body_mutation: { streamed_response: { body: "ab", end_of_stream: true } } } },
    };
    const expected = Buffer.from([0x22, 0x0c, 0x0a, 0x0a, 0x1a, 0x08, 0x1a, 0x06, 0x0a, 0x02, 0x61, 0x62, 0x10, 0x01]);
    expect(encodeProcessingResponse(r)).toEqual(expected);
    expect(encodeProcessingFrame(r).subarray(5)).toEqual(expected);
  });

  it("the in-place frame of a streamed piece is the generic encoding (text or bytes, any size, end or not)", () => {
    const body = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 300 }),
      fc.string({ maxLength: 20 }).map((t) => t.repeat(1 + (t.length % 7) * 1000)),
    );
    fc.assert(
      fc.property(body, fc.boolean(), fc.boolean(), (t, end, asBytes) => {
        const b = asBytes ? Buffer.from(t, "utf8") : t;
        const r: ProcessingResponse = {
          response_body: { response: { body_mutation: { streamed_response: { body: b, end_of_stream: end } } } },
        };
        const f = encodeProcessingFrame(r);
        expect(f.readUInt32BE(1)).toBe(f.length - 5);
        expect(f.subarray(5)).toEqual(encodeProcessingResponse(r));
        // and the text form writes the bytes form's bytes
        expect(f.subarray(5)).toEqual(
          encodeProcessingResponse({
            response_body: {
              response: { body_mutation: { streamed_response: { body: Buffer.from(t, "utf8"), end_of_stream: end } } },
            },
          }),
        );
      }),
      { numRuns: 300 },
    );
  });
});

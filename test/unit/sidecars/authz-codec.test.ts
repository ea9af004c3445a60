/**
 * The hand-written ext_authz codec against the real protos: CheckRequests encoded by proto-loader (the
 * envoy-api protos from the npm registry) decode to what proto-loader itself decodes; CheckResponses we
 * encode decode, through proto-loader, to what we meant — for generated messages (fast-check), Envoy-shaped
 * fields we skip, and malformed bytes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CodecError, decodeCheckRequest, encodeCheckResponse } from "../../../sidecars/authz/codec.ts";
import { decodeHealthCheckRequest } from "../../../sidecars/proto-wire.ts";
import { deniedResponse, okResponse } from "../../../sidecars/authz/response.ts";
import { authorizationService } from "../../../sidecars/envoy-protos.ts";

const check = authorizationService().service.Check as unknown as {
  requestSerialize(v: unknown): Buffer;
  requestDeserialize(b: Buffer): unknown;
  responseSerialize(v: unknown): Buffer;
  responseDeserialize(b: Buffer): unknown;
};

const text = fc.string({ unit: "binary", maxLength: 40 });
const nonEmpty = fc.string({ unit: "binary", minLength: 1, maxLength: 40 });
const strMap = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), text, { maxKeys: 5 });
const peer = fc.record(
  {
    address: fc.record({
      socket_address: fc.record({ address: nonEmpty, port_value: fc.integer({ min: 1, max: 65535 }) }),
    }),
    service: nonEmpty,
    labels: strMap,
    principal: nonEmpty,
    certificate: fc.string({ maxLength: 300 }).filter((s) => s.length > 0),
  },
  { requiredKeys: [] },
);
const http = fc.record(
  {
    id: nonEmpty,
    method: fc.constantFrom("GET", "POST", "PUT"),
    headers: strMap,
    path: nonEmpty,
    host: nonEmpty,
    scheme: fc.constantFrom("http", "https"),
    query: nonEmpty,
    fragment: nonEmpty,
    size: fc.oneof(fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: -(2 ** 40), max: -1 })),
    protocol: fc.constantFrom("HTTP/1.1", "HTTP/2"),
    body: nonEmpty,
    raw_body: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)),
    header_map: fc.record({
      headers: fc.array(
        fc.record({
          key: nonEmpty,
          raw_value: fc.uint8Array({ minLength: 1, maxLength: 16 }).map((b) => Buffer.from(b)),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    }),
  },
  { requiredKeys: [] },
);
const attributes = fc.record(
  {
    source: peer,
    destination: peer,
    request: fc.record(
      {
        time: fc.record({
          seconds: fc.oneof(fc.integer({ min: 1, max: 2 ** 34 }), fc.integer({ min: -(2 ** 34), max: -1 })),
          nanos: fc.oneof(fc.integer({ min: 1, max: 999_999_999 }), fc.constant(-1)),
        }),
        http,
      },
      { requiredKeys: [] },
    ),
    context_extensions: strMap,
    tls_session: fc.record({ sni: nonEmpty }),
  },
  { requiredKeys: [] },
);

// biome-ignore lint/suspicious/noExplicitAny: decoded requests are free-form JSON, read by path in tests
type Decoded = Record<string, any>;

/** proto-loader's own round trip: what the pipeline received before this codec. */
const viaProtoLoader = (req: unknown) => check.requestDeserialize(check.requestSerialize(req));

describe("decodeCheckRequest", () => {
  it("decodes what proto-loader encodes to exactly what proto-loader decodes", () => {
    fc.assert(
      fc.property(attributes, (attrs) => {
        const bytes = check.requestSerialize({ attributes: attrs });
        expect(decodeCheckRequest(bytes)).toEqual(check.requestDeserialize(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it("skips the fields it does not read (metadata, route metadata, named ports) and still reads the rest", () => {
    const req = {
      attributes: {
        source: { principal: "spiffe://hexr.cloud/agent/acme/crew/researcher", address: { pipe: { path: "/p" } } },
        metadata_context: { filter_metadata: { a: { fields: { k: { string_value: "v" } } } } },
        route_metadata_context: { filter_metadata: { b: { fields: {} } } },
        destination: { address: { socket_address: { address: "10.0.0.1", named_port: "http" } } },
        request: { http: { method: "GET", path: "/x", headers: { ":authority": "h" } } },
      },
    };
    const got = decodeCheckRequest(check.requestSerialize(req)) as Decoded;
    expect(got.attributes.source.principal).toBe("spiffe://hexr.cloud/agent/acme/crew/researcher");
    expect(got.attributes.request).toEqual(
      viaProtoLoader(req) && { http: { method: "GET", path: "/x", headers: { ":authority": "h" } } },
    );
    expect(got.attributes.metadata_context).toBeUndefined();
    expect(got.attributes.destination.address.socket_address).toEqual({ address: "10.0.0.1" });
  });

  it("keeps a header named __proto__ as a header (an own property, as proto-loader does), not a prototype", () => {
    const req = JSON.parse('{"attributes":{"request":{"http":{"headers":{"__proto__":"x","a":"b"}}}}}');
    const got = decodeCheckRequest(check.requestSerialize(req)) as Decoded;
    const headers = got.attributes.request.http.headers;
    expect(Object.hasOwn(headers, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
    expect(got).toEqual(viaProtoLoader(req));
  });

  it("decodes an empty request to {} and a request without attributes to {}", () => {
    expect(decodeCheckRequest(new Uint8Array())).toEqual({});
    expect(decodeCheckRequest(check.requestSerialize({}))).toEqual({});
  });

  it.each([
    ["a truncated varint", [0x0a, 0x80]],
    ["a length past the end", [0x0a, 0x05, 0x01]],
    ["field number 0", [0x02, 0x00]],
    ["wire type 7", [0x0f]],
    ["a fixed64 past the end", [0x09, 0x01, 0x02]],
  ])("refuses %s with a CodecError, never a partial request", (_n, bytes) => {
    expect(() => decodeCheckRequest(Uint8Array.from(bytes))).toThrow(CodecError);
  });

  it("never throws anything but a CodecError on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        try {
          decodeCheckRequest(b);
        } catch (e) {
          expect(e).toBeInstanceOf(CodecError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("encodeCheckResponse", () => {
  const heads = fc.array(
    fc.record({
      header: fc.record({ key: nonEmpty, value: text }),
      append_action: fc.constantFrom(
        "OVERWRITE_IF_EXISTS_OR_ADD",
        "APPEND_IF_EXISTS_OR_ADD",
        "ADD_IF_ABSENT",
        "OVERWRITE_IF_EXISTS",
      ),
    }),
    { maxLength: 4 },
  );

  it("encodes allows and denials that proto-loader decodes to the same response", () => {
    const ok = fc.record({
      status: fc.record({ code: fc.constant(0) }),
      ok_response: fc.record({ headers: heads, headers_to_remove: fc.array(nonEmpty, { maxLength: 3 }) }),
    });
    const denied = fc.record({
      status: fc.record({ code: fc.constant(7), message: nonEmpty }),
      denied_response: fc.record({
        status: fc.record({ code: fc.constantFrom(401, 403, 429, 503) }),
        headers: heads,
        body: text,
      }),
    });
    fc.assert(
      fc.property(fc.oneof(ok, denied), (r) => {
        const ours = check.responseDeserialize(encodeCheckResponse(r));
        const theirs = check.responseDeserialize(check.responseSerialize(r));
        expect(ours).toEqual(theirs);
      }),
      { numRuns: 300 },
    );
  });

  it("writes the pipeline's own responses byte for byte as proto-loader does", () => {
    for (const r of [
      okResponse("d-1"),
      okResponse(
        "d-2",
        ["authorization", "x-hexr-svid"],
        [{ header: { key: "x-amz-date", value: "20261201T000000Z" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }],
      ),
      deniedResponse("d-3", ["policy: role writer may not use gcp_bigquery"]),
      deniedResponse("d-4", [], { status: 429, headers: { "retry-after": "1" }, body: '{"error":"rate"}' }),
    ]) {
      expect(encodeCheckResponse(r)).toEqual(check.responseSerialize(r));
    }
  });

  it("refuses an append action Envoy does not have", () => {
    expect(() =>
      encodeCheckResponse({
        status: { code: 0 },
        ok_response: {
          headers: [{ header: { key: "a", value: "b" }, append_action: "REPLACE" }],
          headers_to_remove: [],
        },
      }),
    ).toThrow(CodecError);
  });
});

describe("the Check service on grpc-js with this codec", () => {
  it("answers a valid Check, and a malformed one with INTERNAL (Envoy fails closed) without harm to the next", async () => {
    const { addAuthzService } = await import("../../../sidecars/authz/service.ts");
    const grpc = await import("@grpc/grpc-js");
    const server = new grpc.Server();
    const seen: unknown[] = [];
    const pipeline = {
      check: (req: unknown) => {
        seen.push(req);
        return okResponse("d-ok");
      },
    };
    addAuthzService(server, pipeline as never);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = (bytes: Buffer) =>
      new Promise<{ code: number; body?: Buffer }>((resolve) => {
        client.makeUnaryRequest(
          "/envoy.service.auth.v3.Authorization/Check",
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          (err, body) => resolve(err ? { code: err.code } : { code: 0, ...(body ? { body } : {}) }),
        );
      });
    try {
      const bad = await call(Buffer.from([0x0a, 0x80]));
      expect(bad.code).toBe(grpc.status.INTERNAL);
      const req = { attributes: { source: { principal: "spiffe://hexr.cloud/agent/acme/crew/researcher" } } };
      const good = await call(check.requestSerialize(req));
      expect(good.code).toBe(0);
      expect(check.responseDeserialize(good.body as Buffer)).toEqual(
        check.responseDeserialize(check.responseSerialize(okResponse("d-ok"))),
      );
      expect(seen).toEqual([check.requestDeserialize(check.requestSerialize(req))]);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});

describe("decodeHealthCheckRequest", () => {
  it("reads the service, skips unknown fields, and refuses lengths past the end (bit 31 set included)", () => {
    expect(decodeHealthCheckRequest(Buffer.from([0x0a, 3, 0x61, 0x62, 0x63]))).toBe("abc");
    expect(decodeHealthCheckRequest(Buffer.alloc(0))).toBe("");
    expect(decodeHealthCheckRequest(Buffer.from([0x10, 1, 0x0a, 1, 0x78]))).toBe("x");
    expect(() => decodeHealthCheckRequest(Buffer.from([0x0a, 0xfa, 0xff, 0xff, 0xff, 0x0f]))).toThrow(CodecError);
    expect(() => decodeHealthCheckRequest(Buffer.from([0x08, 1]))).toThrow(CodecError); // service as a varint
  });
});

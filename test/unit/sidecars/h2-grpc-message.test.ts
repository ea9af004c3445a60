import { describe, expect, it } from "vitest";
import { grpcMessage } from "../../../sidecars/h2-grpc.ts";

describe("grpcMessage (grpc-message percent-encoding, gRPC over HTTP/2)", () => {
  it("keeps printable ASCII, spaces and colons as they are", () => {
    expect(grpcMessage("malformed CheckRequest: truncated varint")).toBe("malformed CheckRequest: truncated varint");
  });

  it("escapes %, control characters and non-ASCII as UTF-8 bytes, so clients decode them back", () => {
    const text = "100% sure\nunknown method /é/\u0000";
    const enc = grpcMessage(text);
    expect(enc).toBe("100%25 sure%0Aunknown method /%C3%A9/%00");
    expect(decodeURIComponent(enc)).toBe(text);
    expect(enc).toMatch(/^[\x20-\x7e]*$/);
  });
});

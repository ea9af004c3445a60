import { describe, expect, it } from "vitest";
import { isHexrError } from "../../../filters/errors.ts";
import {
  MAX_SPIFFE_ID_BYTES,
  MAX_TRUST_DOMAIN_LENGTH,
  parseSpiffeId,
  tryParseSpiffeId,
} from "../../../filters/identity/spiffe-id.ts";

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isHexrError(e)) return e.code;
    throw e;
  }
  throw new Error("expected a HexrError");
}

describe("parseSpiffeId: valid IDs", () => {
  it.each([
    ["spiffe://example.org", "example.org", "", []],
    ["spiffe://example.org/workload", "example.org", "/workload", ["workload"]],
    [
      "spiffe://hexr.cloud/agent/acme-corp/content-crew/researcher",
      "hexr.cloud",
      "/agent/acme-corp/content-crew/researcher",
      ["agent", "acme-corp", "content-crew", "researcher"],
    ],
    ["spiffe://td/Mixed/CASE_ok/a.b-c", "td", "/Mixed/CASE_ok/a.b-c", ["Mixed", "CASE_ok", "a.b-c"]],
    ["spiffe://a-b_c.0-9/x", "a-b_c.0-9", "/x", ["x"]],
    ["spiffe://td/...", "td", "/...", ["..."]],
    ["spiffe://td/.a/..b", "td", "/.a/..b", [".a", "..b"]],
    ["spiffe://1.2.3.4/x", "1.2.3.4", "/x", ["x"]],
  ])("%s", (uri, trustDomain, path, segments) => {
    const id = parseSpiffeId(uri);
    expect(id).toEqual({ trustDomain, path, segments, uri });
    expect(Object.isFrozen(id)).toBe(true);
    expect(Object.isFrozen(id.segments)).toBe(true);
  });

  it("accepts an ID of exactly the maximum length and a trust domain of exactly 255", () => {
    const prefix = "spiffe://td/";
    expect(parseSpiffeId(prefix + "a".repeat(MAX_SPIFFE_ID_BYTES - prefix.length)).uri).toHaveLength(
      MAX_SPIFFE_ID_BYTES,
    );
    expect(parseSpiffeId(`spiffe://${"a".repeat(MAX_TRUST_DOMAIN_LENGTH)}/x`).trustDomain).toHaveLength(255);
  });
});

describe("parseSpiffeId: rejections", () => {
  it.each([
    ["", "spiffe_id.empty"],
    ["spiffe://", "spiffe_id.empty_trust_domain"],
    ["spiffe:///path", "spiffe_id.empty_trust_domain"],
    ["SPIFFE://td/x", "spiffe_id.bad_scheme"],
    ["Spiffe://td/x", "spiffe_id.bad_scheme"],
    ["spiffe:/td/x", "spiffe_id.bad_scheme"],
    ["spiffe:td/x", "spiffe_id.bad_scheme"],
    ["https://td/x", "spiffe_id.bad_scheme"],
    ["//td/x", "spiffe_id.bad_scheme"],
    [" spiffe://td/x", "spiffe_id.bad_scheme"],
    ["spiffe://TD/x", "spiffe_id.bad_trust_domain_char"],
    ["spiffe://Example.org", "spiffe_id.bad_trust_domain_char"],
    ["spiffe://t d/x", "spiffe_id.bad_trust_domain_char"],
    ["spiffe://td!/x", "spiffe_id.bad_trust_domain_char"],
    ["spiffe://tdé/x", "spiffe_id.bad_trust_domain_char"],
    ["spiffe://td\u0000/x", "spiffe_id.bad_trust_domain_char"],
    ["spiffe://user@td/x", "spiffe_id.port_or_userinfo"],
    ["spiffe://td:443/x", "spiffe_id.port_or_userinfo"],
    ["spiffe://td:443", "spiffe_id.port_or_userinfo"],
    ["spiffe://[::1]/x", "spiffe_id.bad_trust_domain_char"],
    ["spiffe://td?x", "spiffe_id.query_or_fragment"],
    ["spiffe://td#x", "spiffe_id.query_or_fragment"],
    ["spiffe://td/x?y", "spiffe_id.query_or_fragment"],
    ["spiffe://td/x#y", "spiffe_id.query_or_fragment"],
    ["spiffe://td/x?", "spiffe_id.query_or_fragment"],
    ["spiffe://td/%41", "spiffe_id.percent_encoded"],
    ["spiffe://t%64/x", "spiffe_id.percent_encoded"],
    ["spiffe://td/a//b", "spiffe_id.empty_segment"],
    ["spiffe://td//", "spiffe_id.empty_segment"],
    ["spiffe://td/", "spiffe_id.trailing_slash"],
    ["spiffe://td/a/", "spiffe_id.trailing_slash"],
    ["spiffe://td/a/./b", "spiffe_id.dot_segment"],
    ["spiffe://td/a/../b", "spiffe_id.dot_segment"],
    ["spiffe://td/.", "spiffe_id.dot_segment"],
    ["spiffe://td/..", "spiffe_id.dot_segment"],
    ["spiffe://td/a b", "spiffe_id.bad_path_char"],
    ["spiffe://td/a:b", "spiffe_id.bad_path_char"],
    ["spiffe://td/a@b", "spiffe_id.bad_path_char"],
    ["spiffe://td/a+b", "spiffe_id.bad_path_char"],
    ["spiffe://td/a~b", "spiffe_id.bad_path_char"],
    ["spiffe://td/caf\u00e9", "spiffe_id.bad_path_char"],
    ["spiffe://td/\u{1F600}", "spiffe_id.bad_path_char"],
    ["spiffe://td/a\\b", "spiffe_id.bad_path_char"],
    ["spiffe://td/a\nb", "spiffe_id.bad_path_char"],
    [`spiffe://td/${"a".repeat(MAX_SPIFFE_ID_BYTES)}`, "spiffe_id.too_long"],
    [`spiffe://${"a".repeat(MAX_TRUST_DOMAIN_LENGTH + 1)}/x`, "spiffe_id.trust_domain_too_long"],
  ])("%j → %s", (input, code) => {
    expect(codeOf(() => parseSpiffeId(input))).toBe(code);
    const r = tryParseSpiffeId(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(code);
  });

  it("counts the whole ID against the limit, one byte over is rejected", () => {
    const prefix = "spiffe://td/";
    expect(codeOf(() => parseSpiffeId(prefix + "a".repeat(MAX_SPIFFE_ID_BYTES - prefix.length + 1)))).toBe(
      "spiffe_id.too_long",
    );
  });

  it("rejects non-string input without throwing a TypeError", () => {
    expect(codeOf(() => parseSpiffeId(undefined as unknown as string))).toBe("spiffe_id.empty");
  });

  it("never echoes the input in the error message", () => {
    const r = tryParseSpiffeId("spiffe://td/secret-value?token=abc123");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).not.toContain("abc123");
  });
});

describe("tryParseSpiffeId", () => {
  it("returns the id on success", () => {
    const r = tryParseSpiffeId("spiffe://td/a");
    expect(r).toEqual({ ok: true, id: { trustDomain: "td", path: "/a", segments: ["a"], uri: "spiffe://td/a" } });
  });
});

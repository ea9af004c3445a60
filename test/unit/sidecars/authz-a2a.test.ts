/**
 * The pipeline's inbound A2A path with a stand-in for the A2A inspection (the real classifier, validators
 * and chains have their own tests): the caller is the mTLS peer, the call comes from the body, the policy
 * sees `input.a2a`, and every refusal is the protocol's own answer.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_CATALOG,
  type Decision,
  type OpaInput,
  RateCounter,
  ServiceCatalog,
} from "../../../filters/authz/index.ts";
import { type A2aCall, A2aError } from "../../../filters/a2a/types.ts";
import { MemoryAudit } from "../../../sidecars/authz/audit.ts";
import { type A2aInbound, AuthzPipeline } from "../../../sidecars/authz/pipeline.ts";
import type { CheckResponse } from "../../../sidecars/authz/response.ts";
import { makeCa, makeLeaf } from "../../helpers/certs.ts";

const TD = "hexr.cloud";
const RESEARCHER = `spiffe://${TD}/agent/acme-corp/content-crew/researcher`;
const WRITER = `spiffe://${TD}/agent/acme-corp/content-crew/writer`;
const ca = await makeCa("unit-ca");
const cert = encodeURIComponent((await makeLeaf(ca, { uris: [RESEARCHER] })).certPem);

const SEND: A2aCall = {
  version: "1.0",
  binding: "jsonrpc",
  method: "SendMessage",
  wireMethod: "SendMessage",
  taskId: "t-1",
  jsonrpcId: 7,
  streaming: false,
};

function inbound(over: Partial<A2aInbound> = {}): A2aInbound & { refusals: string[][] } {
  const refusals: string[][] = [];
  return {
    target: WRITER,
    inspect: () => SEND,
    chain: () => [],
    forwarded: () => ({ previous: undefined, actsFor: [] }),
    link: async (caller, target) => `link:${caller}->${target}`,
    refusal(call, _h, reasons, err) {
      refusals.push([...reasons]);
      return {
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: call?.jsonrpcId ?? null,
          error: { code: err?.rpcCode ?? -32003, message: reasons[0] },
        }),
      };
    },
    refusals,
    ...over,
  };
}

function setup(decide: (i: OpaInput) => Decision, a2a = inbound()) {
  const audit = new MemoryAudit();
  const p = new AuthzPipeline({
    trustDomains: new Set([TD]),
    policy: { current: () => ({ engine: { evaluate: decide }, revision: "r1", generation: 1 }) },
    catalog: ServiceCatalog.compile(DEFAULT_CATALOG),
    rate: new RateCounter(),
    audit,
    a2a,
  });
  return { p, audit, a2a };
}

function check(
  p: AuthzPipeline,
  direction = "inbound",
  source: object = { principal: RESEARCHER, certificate: cert },
  extra: Record<string, string> = {},
) {
  return p.check({
    attributes: {
      source,
      context_extensions: { "hexr.direction": direction, ...extra },
      request: {
        http: {
          method: "POST",
          host: "writer.agents.local",
          path: "/a2a/jsonrpc",
          headers: { "content-type": "application/json", "x-hexr-role": "admin" },
          raw_body: new TextEncoder().encode('{"jsonrpc":"2.0"}'),
        },
      },
    },
  }) as CheckResponse;
}

describe("inbound A2A Checks", () => {
  it("give the policy input.a2a with the verified caller and this pod's agent, and allow", () => {
    let seen: OpaInput | undefined;
    const { p, audit } = setup((i) => {
      seen = i;
      return { allow: true, reasons: [] };
    });
    const r = check(p);
    expect(r.status.code).toBe(0);
    expect(seen?.a2a).toEqual({
      caller: RESEARCHER,
      target: WRITER,
      method: "SendMessage",
      version: "1.0",
      binding: "jsonrpc",
      chain: [],
      task_id: "t-1",
    });
    expect(seen).toMatchObject({ service: "a2a", action: "SendMessage", role: "researcher" });
    expect(r.ok_response?.headers_to_remove).toContain("x-hexr-role");
    expect(audit.records[0]).toMatchObject({ service: "a2a", action: "SendMessage", allow: true });
  });

  it("answer a policy denial in the protocol's format, with the policy's reasons", () => {
    const { p, a2a } = setup(() => ({ allow: false, reasons: ["agent researcher may not CancelTask on writer"] }));
    const r = check(p);
    expect(r.status.code).toBe(7);
    expect(r.denied_response?.status.code).toBe(200);
    expect(JSON.parse(r.denied_response?.body ?? "{}")).toMatchObject({
      id: 7,
      error: { message: "agent researcher may not CancelTask on writer" },
    });
    expect(a2a.refusals).toEqual([["agent researcher may not CancelTask on writer"]]);
  });

  it("refuse a malformed call before the policy, with the protocol error", () => {
    let evaluated = false;
    const bad = new A2aError(
      "a2a.invalid_params",
      "params.message: required field missing",
      -32602,
      400,
      "params.message",
    );
    const { p } = setup(
      () => {
        evaluated = true;
        return { allow: true, reasons: [] };
      },
      inbound({ inspect: () => bad }),
    );
    const r = check(p);
    expect(r.status.code).toBe(7);
    expect(JSON.parse(r.denied_response?.body ?? "{}").error.code).toBe(-32602);
    expect(evaluated).toBe(false);
  });

  it("refuse what is not A2A, and a caller without an identity, in the protocol's format", () => {
    const { p: notA2a } = setup(() => ({ allow: true, reasons: [] }), inbound({ inspect: () => undefined }));
    expect(JSON.parse(check(notA2a).denied_response?.body ?? "{}").error.message).toMatch(/^a2a\.not_a2a/);
    const { p } = setup(() => ({ allow: true, reasons: [] }));
    const r = check(p, "inbound", {});
    expect(r.status.code).toBe(7);
    expect(JSON.parse(r.denied_response?.body ?? "{}").error.message).toMatch(/^identity\./);
  });

  it("refuse a chain that does not verify, and pass a verified one to the policy", () => {
    const forged = new A2aError("a2a.chain_bad_signature", "delegation chain signature does not verify", -32003, 403);
    const { p } = setup(() => ({ allow: true, reasons: [] }), inbound({ chain: () => forged }));
    expect(check(p).status.code).toBe(7);
    let seen: OpaInput | undefined;
    const planner = `spiffe://${TD}/agent/acme-corp/content-crew/planner`;
    const { p: ok } = setup(
      (i) => {
        seen = i;
        return { allow: true, reasons: [] };
      },
      inbound({ chain: () => [planner] }),
    );
    expect(check(ok).status.code).toBe(0);
    expect(seen?.a2a?.chain).toEqual([planner]);
  });

  it("keep the verified chain header for the agent to forward, and strip the other x-hexr-* headers", () => {
    const { p } = setup(() => ({ allow: true, reasons: [] }));
    const r = p.check({
      attributes: {
        source: { principal: RESEARCHER, certificate: cert },
        context_extensions: { "hexr.direction": "inbound" },
        request: { http: { method: "POST", path: "/", headers: { "x-hexr-a2a-chain": "abc", "x-hexr-role": "x" } } },
      },
    }) as CheckResponse;
    expect(r.ok_response?.headers_to_remove).toEqual(["x-hexr-role"]);
  });

  it("an outbound call to another agent: the same policy with that target, then a chain link added", async () => {
    let seen: OpaInput | undefined;
    const { p } = setup((i) => {
      seen = i;
      return { allow: true, reasons: [] };
    });
    const r = await check(p, "outbound", undefined, { "hexr.a2a.target": WRITER });
    expect(seen?.a2a).toMatchObject({ caller: RESEARCHER, target: WRITER, method: "SendMessage", chain: [] });
    const set = Object.fromEntries((r.ok_response?.headers ?? []).map((h) => [h.header.key, h.header.value]));
    expect(set["x-hexr-a2a-chain"]).toBe(`link:${RESEARCHER}->${WRITER}`);
  });

  it("an outbound call whose forwarded chain does not verify is refused", async () => {
    const bad = new A2aError("a2a.chain_bad_signature", "delegation chain signature does not verify", -32000, 403);
    let decided = false;
    const { p } = setup(
      () => {
        decided = true;
        return { allow: true, reasons: [] };
      },
      inbound({ forwarded: async () => bad }),
    );
    const r = await check(p, "outbound", undefined, { "hexr.a2a.target": WRITER });
    expect(r.status.code).toBe(7);
    expect(decided).toBe(false);
  });

  it("an outbound call the policy refuses gets no chain link signed", async () => {
    let signed = 0;
    const { p } = setup(
      () => ({ allow: false, reasons: ["a2a: writer may not be called"] }),
      inbound({
        link: async () => {
          signed++;
          return "link";
        },
      }),
    );
    const r = await check(p, "outbound", undefined, { "hexr.a2a.target": WRITER });
    expect(r.status.code).toBe(7);
    expect(signed).toBe(0);
    expect(r.denied_response?.headers?.some((h) => h.header?.key === "x-hexr-a2a-chain")).toBe(false);
  });

  it("an allowed outbound call whose link cannot be signed is refused, not sent without one", async () => {
    const none = new A2aError("a2a.chain_no_signing_identity", "no live X.509-SVID to sign with", -32000, 403);
    const { p } = setup(() => ({ allow: true, reasons: [] }), inbound({ link: async () => none }));
    const r = await check(p, "outbound", undefined, { "hexr.a2a.target": WRITER });
    expect(r.status.code).toBe(7);
    expect(r.ok_response).toBeUndefined();
  });

  it("leave outbound Checks to the outbound pipeline", () => {
    let seen: OpaInput | undefined;
    const { p } = setup((i) => {
      seen = i;
      return { allow: true, reasons: [] };
    });
    check(p, "outbound");
    expect(seen?.a2a).toBeUndefined();
    expect(seen?.service).not.toBe("a2a");
  });
});

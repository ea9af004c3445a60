import { describe, expect, it } from "vitest";
import { isHexrError } from "../../../filters/errors.ts";
import { principalFromSpiffeId } from "../../../filters/identity/principal.ts";
import { parseSpiffeId } from "../../../filters/identity/spiffe-id.ts";

describe("principalFromSpiffeId", () => {
  it.each([
    [
      "spiffe://hexr.cloud/agent/acme-corp/content-crew/researcher",
      { tenant: "acme-corp", agent: "content-crew", role: "researcher", subPath: [] },
    ],
    [
      "spiffe://hexr.cloud/agent/acme/crew/writer/worker-1",
      { tenant: "acme", agent: "crew", role: "writer", subPath: ["worker-1"] },
    ],
    ["spiffe://other.td/agent/t/a/r/p1/p2", { tenant: "t", agent: "a", role: "r", subPath: ["p1", "p2"] }],
  ])("%s", (uri, expected) => {
    const id = parseSpiffeId(uri);
    expect(principalFromSpiffeId(id)).toEqual({ spiffeId: uri, trustDomain: id.trustDomain, ...expected });
  });

  it.each([
    "spiffe://hexr.cloud",
    "spiffe://hexr.cloud/agent",
    "spiffe://hexr.cloud/agent/acme",
    "spiffe://hexr.cloud/agent/acme/crew",
    "spiffe://hexr.cloud/Agent/acme/crew/role",
    "spiffe://hexr.cloud/agents/acme/crew/role",
    "spiffe://hexr.cloud/ns/default/sa/agent",
    "spiffe://hexr.cloud/x/agent/acme/crew/role",
  ])("%s → identity.not_agent_id", (uri) => {
    let caught: unknown;
    try {
      principalFromSpiffeId(parseSpiffeId(uri));
    } catch (e) {
      caught = e;
    }
    expect(isHexrError(caught) && caught.code).toBe("identity.not_agent_id");
  });

  it("does not let callers mutate a shared principal", () => {
    const p = principalFromSpiffeId(parseSpiffeId("spiffe://td/agent/t/a/r/s"));
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.subPath)).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../sidecars/config.ts";

const BASE = `
trust_domains: [hexr.cloud]
authz:
  listen: { socket: /run/hexr/authz.sock }
  bundle: bundle.tar.gz
`;
const AWS = `
credentials:
  providers:
    aws: { audience: sts.amazonaws.com, role_arn: "arn:aws:iam::123456789012:role/hexr-{tenant}-{role}" }
`;
const KEY_HEX = "ab".repeat(32);
const read = (p: string) => {
  if (p.endsWith("l2.key")) return KEY_HEX;
  throw new Error("no such file");
};

function errorOf(text: string): string {
  try {
    parseConfig(text, "/etc/hexr/hexr.yaml", read);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected the config to be rejected");
}

describe("credentials, redis and rate config", () => {
  it("parses providers, delegation, the L2 key and shared rates", () => {
    const c = parseConfig(
      `${BASE}
redis: { url: "redis://:pw@redis.hexr-system:6379" }
rate: { shared: true }
credentials:
  exchange_timeout_ms: 1200
  cache: { l1_max_entries: 100, min_remaining_seconds: 120, max_exchanges_per_agent_minute: 10, l2: { key_file: l2.key } }
  delegated:
    socket: /run/spire/admin.sock
    agents: { "spiffe://hexr.cloud/agent/acme/crew/researcher": ["unix:uid:1001", "k8s:ns:tenant-acme"] }
  providers:
    aws: { audience: sts.amazonaws.com, role_arn: "arn:aws:iam::123456789012:role/hexr-{role}", region: eu-west-1, token_source: delegated }
`,
      "/etc/hexr/hexr.yaml",
      read,
    );
    expect(c.redis).toEqual({
      url: "redis://:pw@redis.hexr-system:6379",
      keyPrefix: "hexr:",
      commandTimeoutMs: 20,
      connectTimeoutMs: 1000,
    });
    expect(c.rate).toEqual({ shared: true });
    const cr = c.credentials!;
    expect(cr.exchangeTimeoutMs).toBe(1200);
    expect(cr.cache).toMatchObject({ l1MaxEntries: 100, minRemainingMs: 120_000, maxExchangesPerCallerMinute: 10 });
    expect(cr.cache.l2Key?.toString("hex")).toBe(KEY_HEX);
    expect([...(cr.delegated?.agents.values() ?? [])][0]).toEqual([
      { type: "unix", value: "uid:1001" },
      { type: "k8s", value: "ns:tenant-acme" },
    ]);
    expect(cr.providers[0]).toMatchObject({ kind: "aws", name: "aws", durationSeconds: 900, tokenSource: "delegated" });
  });

  it.each([
    ["credentials without authz", `trust_domains: [a]\n${AWS}`, /^credentials: needs the authz section/],
    ["rate.shared without redis", `${BASE}rate: { shared: true }`, /^rate\.shared: needs the redis section/],
    [
      "L2 without redis",
      `${BASE}${AWS}  cache: { l2: { key_file: l2.key } }`,
      /^credentials\.cache\.l2: needs the redis section/,
    ],
    [
      "an unreadable L2 key",
      `${BASE}redis: { url: "redis://r:6379" }\n${AWS}  cache: { l2: { key_file: missing } }`,
      /^credentials\.cache\.l2\.key_file: cannot be read/,
    ],
    [
      "an unknown placeholder",
      `${BASE}credentials:\n  providers:\n    aws: { audience: a, role_arn: "arn:aws:iam::1:role/{constructor}" }`,
      /unknown placeholder \{constructor\}/,
    ],
    [
      "a provider of no kind",
      `${BASE}credentials:\n  providers:\n    oracle: { audience: a }`,
      /^credentials\.providers\.oracle\.kind: must be aws, gcp or azure/,
    ],
    [
      "two providers of one kind",
      `${BASE}credentials:\n  providers:\n    aws: { audience: a, role_arn: "arn:aws:iam::1:role/x" }\n    aws2: { kind: aws, audience: a, role_arn: "arn:aws:iam::1:role/y" }`,
      /^credentials\.providers\.aws2: a second aws provider/,
    ],
    [
      "delegated tokens without delegation",
      `${BASE}credentials:\n  providers:\n    aws: { audience: a, role_arn: "arn:aws:iam::1:role/x", token_source: delegated }`,
      /token_source: delegated needs credentials\.delegated/,
    ],
    [
      "a selector without a type",
      `${BASE}credentials:\n  delegated: { socket: /s, agents: { "spiffe://hexr.cloud/agent/a/b/c": ["uid1001"] } }\n  providers:\n    aws: { audience: a, role_arn: "arn:aws:iam::1:role/x" }`,
      /must be type:value/,
    ],
    [
      "a redis URL of another scheme",
      `${BASE}redis: { url: "http://r:6379" }`,
      /^redis\.url: must be a redis: or rediss: URL/,
    ],
    ["an unknown credentials field", `${BASE}${AWS}  l3: {}`, /^credentials\.l3: unknown field/],
  ])("refuses %s, naming the field", (_, text, want) => {
    expect(errorOf(text)).toMatch(want);
  });
});

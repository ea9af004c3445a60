import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../sidecars/config.ts";

const OK = `
trust_domains: [hexr.cloud]
authz:
  listen: { socket: /run/hexr/authz.sock }
  bundle: bundle.tar.gz
`;

function errorOf(text: string, readFile?: (p: string) => string): string {
  try {
    parseConfig(text, "/etc/hexr/hexr.yaml", readFile);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected the config to be rejected");
}

describe("sidecar config", () => {
  it("parses a minimal config with defaults and resolves paths against the config file", () => {
    const c = parseConfig(OK, "/etc/hexr/hexr.yaml");
    expect([...c.trustDomains]).toEqual(["hexr.cloud"]);
    expect(c.authz?.bundlePath).toBe("/etc/hexr/bundle.tar.gz");
    expect(c.authz?.decisionCache).toEqual({ maxEntries: 0, ttlMs: 5_000 }); // off: see DEFAULT_DECISION_CACHE_ENTRIES
    expect(c.authz?.bundlePollMs).toBe(1_000);
    expect(c.audit.path).toBe("stdout");
    expect(c.drainTimeoutMs).toBe(5_000);
  });

  it.each([
    [
      "missing trust domains",
      "authz: { listen: { socket: /s }, bundle: b }",
      /^trust_domains: must be a non-empty list/,
    ],
    ["bad trust domain", "trust_domains: [Hexr.Cloud]", /^trust_domains\[0\]: not a valid trust domain/],
    ["unknown top-level field", "trust_domains: [a]\nauthz_typo: 1", /^authz_typo: unknown field/],
    [
      "unknown nested field",
      "trust_domains: [a]\nauthz: { listen: { socket: /s }, bundle: b, cache: 1 }",
      /^authz\.cache: unknown field/,
    ],
    [
      "listen without address",
      "trust_domains: [a]\nauthz: { listen: {}, bundle: b }",
      /^authz\.listen: needs socket and\/or tcp/,
    ],
    [
      "bad tcp address",
      "trust_domains: [a]\nauthz: { listen: { tcp: 'localhost' }, bundle: b }",
      /^authz\.listen\.tcp: must be host:port/,
    ],
    [
      "port out of range",
      "trust_domains: [a]\nauthz: { listen: { tcp: '127.0.0.1:70000' }, bundle: b }",
      /^authz\.listen\.tcp: must be host:port/,
    ],
    [
      "cache size zero",
      "trust_domains: [a]\nauthz: { listen: { socket: /s }, bundle: b, decision_cache: { max_entries: -1 } }",
      /^authz\.decision_cache\.max_entries: must be an integer ≥ 0/,
    ],
    [
      "cache size not a number",
      "trust_domains: [a]\nauthz: { listen: { socket: /s }, bundle: b, decision_cache: { ttl_ms: ten } }",
      /^authz\.decision_cache\.ttl_ms: must be an integer/,
    ],
    [
      "strict without keys",
      "trust_domains: [a]\nauthz: { listen: { socket: /s }, bundle: b, signatures: { strict: true } }",
      /^authz\.signatures\.keys: strict mode needs at least one key/,
    ],
    [
      "strict not a boolean",
      "trust_domains: [a]\nauthz: { listen: { socket: /s }, bundle: b, signatures: { strict: yes please } }",
      /^authz\.signatures\.strict: must be true or false/,
    ],
    ["bad log level", "trust_domains: [a]\nlog: { level: loud }", /^log\.level: must be one of/],
    ["root not a mapping", "- a\n- b", /^\(root\): must be a mapping/],
  ])("%s → an error naming the field", (_name, text, message) => {
    expect(errorOf(text)).toMatch(message);
  });

  it("reports invalid YAML with the file name", () => {
    expect(errorOf("trust_domains: [a\n")).toMatch(/^\/etc\/hexr\/hexr\.yaml: /);
  });

  it("names an unreadable verification key file without echoing any key material", () => {
    const msg = errorOf(
      "trust_domains: [a]\nauthz: { listen: { socket: /s }, bundle: b, signatures: { keys: { ci: { key_file: k.pem } } } }",
      () => {
        throw new Error("ENOENT");
      },
    );
    expect(msg).toBe("authz.signatures.keys.ci.key_file: cannot be read");
  });

  it("reads verification keys at load", () => {
    const c = parseConfig(
      "trust_domains: [a]\nauthz: { listen: { socket: /s }, bundle: b, signatures: { strict: true, keys: { ci: { key_file: k.pem } } } }",
      "/etc/hexr/hexr.yaml",
      (p) => `KEY FROM ${p}`,
    );
    expect(c.authz?.verificationKeys).toEqual([{ keyId: "ci", algorithm: "RS256", key: "KEY FROM /etc/hexr/k.pem" }]);
    expect(c.authz?.strictSignatures).toBe(true);
  });

  it("refuses configs larger than the cap", () => {
    expect(errorOf(`trust_domains: [a]\n#${"x".repeat(1 << 20)}`)).toMatch(/larger than/);
  });
});

/**
 * Every rendered variant goes through the real `envoy --mode validate` (Envoy rejects unknown fields,
 * unknown extensions and unreadable certificate files, so this pins the exact v3 API we emit).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  defaultSidecarOptions,
  embedSnippet,
  envoyVersion,
  findEnvoy,
  renderExtAuthzFilterSnippet,
  renderExtProcFilterSnippet,
  renderSidecarBootstrap,
  renderSnippet,
  renderSpireSdsSnippet,
  SNIPPET_NAMES,
  type SidecarEnvoyOptions,
  SYSTEM_CA_BUNDLE,
  type UpstreamOptions,
  validateWithEnvoy,
} from "../../../envoy-config/index.ts";
import { SPIRE_TLS, sidecarOptions, TD, type TestPki, UPSTREAMS, writeTestPki } from "./fixtures.ts";

let pki: TestPki;
let envoyBin: string;

beforeAll(async () => {
  envoyBin = findEnvoy(process.env);
  console.log(`envoy-config: validating with Envoy ${await envoyVersion(envoyBin)} (${envoyBin})`);
  pki = await writeTestPki();
});

afterAll(() => pki?.cleanup());

/** Public upstreams verify against the system bundle; use the test CA where a machine has none. */
function upstreams(): UpstreamOptions[] {
  if (existsSync(SYSTEM_CA_BUNDLE)) return UPSTREAMS;
  return UPSTREAMS.map((u) => (u.tls && u.tls.mode !== "spiffe" ? { ...u, tls: { ...u.tls, caFile: pki.caFile } } : u));
}

const INBOUND = { address: "127.0.0.1", port: 0, app: { address: "127.0.0.1", port: 8080 } };
const EXT_PROC = { socket: "/run/hexr/ext-proc.sock" };

const VARIANTS: Array<[string, () => SidecarEnvoyOptions]> = [
  ["files mode, trusted_ca", () => sidecarOptions(filesTls(), { upstreams: upstreams() })],
  [
    "files mode, trusted_ca + ext_proc",
    () => sidecarOptions(filesTls(), { upstreams: upstreams(), extProc: EXT_PROC }),
  ],
  [
    "files mode, SPIFFE validator + ext_proc + inbound",
    () =>
      sidecarOptions(filesTls(TD), {
        upstreams: upstreams(),
        extProc: EXT_PROC,
        inbound: { ...INBOUND, extProc: { requestBody: "BUFFERED" } },
      }),
  ],
  [
    "files mode, inbound with explicit peer prefixes",
    () =>
      sidecarOptions(filesTls(), {
        upstreams: upstreams(),
        inbound: { ...INBOUND, allowedPeerPrefixes: [`spiffe://${TD}/agent/acme/`] },
      }),
  ],
  ["SPIRE mode", () => sidecarOptions(SPIRE_TLS, { upstreams: upstreams() })],
  [
    "SPIRE mode, an upstream whose bodies ext_authz signs (with_request_body per route)",
    () =>
      sidecarOptions(SPIRE_TLS, {
        upstreams: [
          ...upstreams(),
          {
            name: "aws_dynamodb",
            domains: ["dynamodb.us-east-1.amazonaws.com"],
            address: "127.0.0.1",
            port: 8000,
            authzBodyBytes: 1 << 20,
          },
        ],
      }),
  ],
  ["SPIRE mode + ext_proc", () => sidecarOptions(SPIRE_TLS, { upstreams: upstreams(), extProc: EXT_PROC })],
  [
    "SPIRE mode, federated + ext_proc + inbound, authz over TCP, hardening options",
    () =>
      sidecarOptions(
        { ...SPIRE_TLS, federatedTrustDomains: ["partner.test"] },
        {
          upstreams: upstreams(),
          extProc: { tcp: { address: "127.0.0.1", port: 9192 }, messageTimeoutMs: 1000 },
          authz: { tcp: { address: "localhost", port: 9191 }, timeoutMs: 100, statusOnError: 503 },
          inbound: INBOUND,
          http: { escapedSlashes: "UNESCAPE_AND_REDIRECT", maxRequestHeadersKb: 96 },
          accessLog: false,
          maxConnections: 500,
          admin: { address: "127.0.0.1", port: 9901 },
          node: { id: "pod-1", cluster: "on" },
        },
      ),
  ],
  ["CLI defaults (SPIRE, SVID 'default', no upstreams)", () => defaultSidecarOptions()],
];

function filesTls(trustDomain?: string) {
  const tls = { mode: "files" as const, certChain: pki.certFile, privateKey: pki.keyFile, clientCa: pki.caFile };
  return trustDomain === undefined ? tls : { ...tls, trustDomain };
}

describe("envoy --mode validate accepts every sidecar variant", () => {
  it.each(VARIANTS)("%s", async (_name, opts) => {
    const result = await validateWithEnvoy(renderSidecarBootstrap(opts()), { envoyBin });
    expect(result.output).toMatch(/OK$/);
    expect(result.ok).toBe(true);
  });
});

describe("envoy --mode validate accepts every snippet inside a minimal bootstrap", () => {
  it.each(SNIPPET_NAMES)("%s (defaults, as committed)", async (name) => {
    const result = await validateWithEnvoy(embedSnippet(renderSnippet(name)), { envoyBin });
    expect(result.output).toMatch(/OK$/);
    expect(result.ok).toBe(true);
  });

  it.each([
    [
      "ext_authz over TCP",
      () =>
        renderExtAuthzFilterSnippet({
          tcp: { address: "127.0.0.1", port: 9191 },
          timeoutMs: 500,
          clusterName: "authz",
        }),
    ],
    ["ext_proc over a socket", () => renderExtProcFilterSnippet({ socket: "/tmp/ep.sock", messageTimeoutMs: 300 })],
    [
      "SPIRE SDS, federated, explicit SPIFFE ID",
      () =>
        renderSpireSdsSnippet({
          sdsSocket: "/tmp/spire.sock",
          spiffeId: `spiffe://${TD}/agent/acme/crew/envoy`,
          trustDomain: TD,
          federatedTrustDomains: ["partner.test"],
        }),
    ],
  ] as const)("%s", async (_name, snippet) => {
    const result = await validateWithEnvoy(embedSnippet(snippet()), { envoyBin });
    expect(result.output).toMatch(/OK$/);
    expect(result.ok).toBe(true);
  });
});

describe("validateWithEnvoy reports what Envoy rejects", () => {
  it("an unknown field", async () => {
    const b = renderSidecarBootstrap(sidecarOptions(SPIRE_TLS));
    const result = await validateWithEnvoy({ ...b, no_such_field: true }, { envoyBin });
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/no_such_field/);
  });

  it("a certificate file that does not exist", async () => {
    const tls = {
      mode: "files" as const,
      certChain: "/nonexistent/cert.pem",
      privateKey: pki.keyFile,
      clientCa: pki.caFile,
    };
    const result = await validateWithEnvoy(renderSidecarBootstrap(sidecarOptions(tls)), { envoyBin });
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/nonexistent/);
  });

  it("YAML text as well as objects", async () => {
    expect((await validateWithEnvoy("static_resources: {}\n", { envoyBin })).ok).toBe(true);
    expect((await validateWithEnvoy("static_resources: [\n", { envoyBin })).ok).toBe(false);
  });
});

describe("findEnvoy / envoyVersion", () => {
  it("prefers $HEXR_ENVOY, then PATH", () => {
    expect(findEnvoy({ HEXR_ENVOY: envoyBin })).toBe(envoyBin);
    if (path.basename(envoyBin) !== "envoy") return; // PATH lookup only finds a binary named envoy
    const dir = path.dirname(envoyBin);
    expect(findEnvoy({ PATH: `/nonexistent:${dir}` })).toBe(path.join(dir, "envoy"));
  });

  it("says what to do when Envoy is missing", () => {
    expect(() => findEnvoy({ PATH: "/nonexistent" })).toThrow(/HEXR_ENVOY/);
    expect(() => findEnvoy({ HEXR_ENVOY: "/nonexistent/envoy" })).toThrow(/not an executable/);
  });

  it("reads the semantic version", async () => {
    expect(await envoyVersion(envoyBin)).toMatch(/^1\.\d+\.\d+$/);
  });
});

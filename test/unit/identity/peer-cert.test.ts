import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { beforeAll, describe, expect, it } from "vitest";
import { isHexrError } from "../../../filters/errors.ts";
import {
  MAX_CERTIFICATE_INPUT_BYTES,
  PeerCertificateReader,
  spiffeIdFromCertificate,
} from "../../../filters/identity/peer-cert.ts";
import { makeCa, makeLeaf, type TestCa } from "../../helpers/certs.ts";

const AGENT_ID = "spiffe://hexr.test/agent/acme/crew/researcher";

/** What Envoy's urlEncodedPemEncodedPeerCertificate() produces. */
function envoyUrlEncode(pem: string): string {
  return pem.replace(/[\n +/=]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isHexrError(e)) return e.code;
    throw e;
  }
  throw new Error("expected a HexrError");
}

let ca: TestCa;
const pems: Record<string, string> = {};

beforeAll(async () => {
  ca = await makeCa("hexr-unit-ca");
  const make = async (name: string, opts: Parameters<typeof makeLeaf>[1]) => {
    pems[name] = (await makeLeaf(ca, opts)).certPem;
  };
  await Promise.all([
    make("spiffe", { uris: [AGENT_ID] }),
    make("spiffeAndDns", { uris: [AGENT_ID], dns: ["researcher.acme.svc"] }),
    make("noSan", {}),
    make("dnsOnly", { dns: ["researcher.acme.svc"] }),
    make("twoUris", { uris: [AGENT_ID, "spiffe://hexr.test/agent/acme/crew/writer"] }),
    make("httpsUri", { uris: ["https://hexr.test/agent/acme/crew/researcher"] }),
    make("badSpiffeUri", { uris: ["spiffe://hexr.test/agent//crew"] }),
    make("caLeaf", { uris: [AGENT_ID], isCa: true }),
  ]);
  // Not a CA by basicConstraints, but may sign certificates: still not a valid leaf SVID.
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const signer = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=signer",
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: AGENT_ID }]),
    ],
  });
  pems.keyCertSignLeaf = signer.toString("pem");
});

/** The same certificate with its DER cut in half, re-encoded as valid PEM base64. */
function truncatedPem(pem: string): string {
  const b64 = pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  const der = Buffer.from(b64, "base64");
  const half = der.subarray(0, Math.floor(der.length / 2)).toString("base64");
  return `-----BEGIN CERTIFICATE-----\n${half.match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE-----\n`;
}

describe("spiffeIdFromCertificate: accepted", () => {
  it.each([
    ["PEM", (p: string) => p],
    ["encodeURIComponent(PEM)", (p: string) => encodeURIComponent(p)],
    ["Envoy URL-encoded PEM", envoyUrlEncode],
    ["PEM with CRLF line endings", (p: string) => p.replace(/\n/g, "\r\n")],
    ["PEM with leading text", (p: string) => `subject=CN=leaf\n${p}`],
  ])("reads the SPIFFE URI SAN from %s", (_label, encode) => {
    expect(spiffeIdFromCertificate(encode(pems.spiffe!)).uri).toBe(AGENT_ID);
  });

  it("ignores DNS SANs next to the single URI SAN", () => {
    expect(spiffeIdFromCertificate(pems.spiffeAndDns!).uri).toBe(AGENT_ID);
  });

  it("takes the first certificate of a chain as the leaf", () => {
    expect(spiffeIdFromCertificate(envoyUrlEncode(pems.spiffe! + ca.certPem)).uri).toBe(AGENT_ID);
  });
});

describe("spiffeIdFromCertificate: rejected", () => {
  it.each([
    ["no SAN", () => pems.noSan!, "identity.no_spiffe_san"],
    ["DNS SAN only", () => pems.dnsOnly!, "identity.no_spiffe_san"],
    ["two URI SANs", () => pems.twoUris!, "identity.multiple_uri_sans"],
    ["https URI SAN", () => pems.httpsUri!, "identity.bad_spiffe_san"],
    ["malformed SPIFFE URI SAN", () => pems.badSpiffeUri!, "identity.bad_spiffe_san"],
    ["leaf with basicConstraints cA=true", () => pems.caLeaf!, "identity.ca_certificate"],
    ["the CA certificate itself", () => ca.certPem, "identity.ca_certificate"],
    ["keyCertSign key usage", () => pems.keyCertSignLeaf!, "identity.ca_certificate"],
    ["garbage", () => "not a certificate", "identity.bad_certificate"],
    ["empty string", () => "", "identity.bad_certificate"],
    [
      "bad base64 body",
      () => "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
      "identity.bad_certificate",
    ],
    ["truncated DER", () => truncatedPem(pems.spiffe!), "identity.bad_certificate"],
    ["missing END line", () => pems.spiffe!.replace("-----END CERTIFICATE-----", ""), "identity.bad_certificate"],
    [
      "private key PEM",
      () => "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
      "identity.bad_certificate",
    ],
    ["broken percent-encoding", () => `${encodeURIComponent(pems.spiffe!)}%E0%A4%A`, "identity.bad_certificate"],
    ["oversized input", () => "A".repeat(MAX_CERTIFICATE_INPUT_BYTES + 1), "identity.certificate_too_large"],
  ])("%s → %s", (_label, input, code) => {
    expect(codeOf(() => spiffeIdFromCertificate(input()))).toBe(code);
  });
});

describe("PeerCertificateReader cache", () => {
  it("parses a certificate once and returns the same frozen SpiffeId", () => {
    const reader = new PeerCertificateReader({ maxEntries: 4 });
    const a = reader.read(pems.spiffe!);
    const b = reader.read(pems.spiffe!);
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(reader.size).toBe(1);
  });

  it("caches failures too, and rethrows the same code", () => {
    const reader = new PeerCertificateReader();
    expect(codeOf(() => reader.read(pems.twoUris!))).toBe("identity.multiple_uri_sans");
    expect(codeOf(() => reader.read(pems.twoUris!))).toBe("identity.multiple_uri_sans");
    expect(reader.size).toBe(1);
  });

  it("is bounded by maxEntries and never stores oversized input", () => {
    const reader = new PeerCertificateReader({ maxEntries: 2 });
    for (const name of ["spiffe", "spiffeAndDns", "noSan", "dnsOnly"]) {
      try {
        reader.read(pems[name]!);
      } catch {
        // failures are cached as well
      }
    }
    expect(reader.size).toBe(2);
    expect(codeOf(() => reader.read("A".repeat(MAX_CERTIFICATE_INPUT_BYTES + 1)))).toBe(
      "identity.certificate_too_large",
    );
    expect(reader.size).toBe(2);
    reader.clear();
    expect(reader.size).toBe(0);
  });

  it("checks validity on every read, cached parse or not: an SVID that lapses on an open connection stops working", async () => {
    const notBefore = new Date(Date.UTC(2026, 0, 15, 10, 0, 0));
    const notAfter = new Date(Date.UTC(2026, 0, 15, 11, 0, 0));
    const pem = (await makeLeaf(ca, { uris: [AGENT_ID], notBefore, notAfter })).certPem;
    const reader = new PeerCertificateReader();
    expect(reader.read(pem, notBefore.getTime()).uri).toBe(AGENT_ID);
    expect(reader.read(pem, notAfter.getTime() - 1).uri).toBe(AGENT_ID);
    expect(reader.size).toBe(1);
    expect(codeOf(() => reader.read(pem, notAfter.getTime()))).toBe("identity.certificate_expired");
    expect(codeOf(() => reader.read(pem, notBefore.getTime() - 1))).toBe("identity.certificate_not_yet_valid");
    // the same cached entry still serves a valid instant: the check is a comparison, not a re-parse
    expect(reader.read(pem, notBefore.getTime() + 1).uri).toBe(AGENT_ID);
    expect(reader.size).toBe(1);
  });

  it.each([[{ maxEntries: 0 }], [{ maxEntries: 1.5 }], [{ maxCacheBytes: 10 }]])("rejects bad options %j", (opts) => {
    expect(() => new PeerCertificateReader(opts)).toThrow(TypeError);
  });
});

/**
 * Test PKI: a CA and leaf X.509-SVIDs made with WebCrypto (ECDSA P-256, SHA-256). Unit tests use them as
 * parser input; integration tests hand them to Envoy for real mTLS, so the profiles follow what TLS stacks
 * and the X.509-SVID spec expect (CA: cA + keyCertSign; leaf: digitalSignature, clientAuth + serverAuth,
 * SKI/AKI, random positive serial).
 */
import "reflect-metadata";
import type { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;

const EC_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;
/** Backdating absorbs clock skew between the test and the process that checks the certificate. */
const BACKDATE_MS = 5 * 60 * 1000;
const DEFAULT_LIFETIME_MS = 24 * 60 * 60 * 1000;

export interface TestCa {
  readonly name: string;
  readonly cert: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface TestLeaf {
  readonly cert: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
  /** The leaf certificate alone. */
  readonly certPem: string;
  /** PKCS#8 `PRIVATE KEY` PEM. */
  readonly keyPem: string;
}

export interface LeafOptions {
  readonly uris?: readonly string[];
  readonly dns?: readonly string[];
  readonly ips?: readonly string[];
  /** Issue a CA certificate instead of an end-entity one (for negative tests). */
  readonly isCa?: boolean;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly commonName?: string;
}

/** 16 random bytes, high bit cleared so the DER INTEGER stays positive, first byte non-zero so it stays 16 bytes. */
function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Buffer.from(bytes).toString("hex");
}

async function newKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"]);
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

/**
 * A self-signed root CA named `CN=<name>`.
 *
 * @example
 *   const ca = await makeCa("hexr-test-ca");
 */
export async function makeCa(name: string): Promise<TestCa> {
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${name}`,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + DEFAULT_LIFETIME_MS),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { name, cert, keys, certPem: cert.toString("pem"), keyPem: await privateKeyPem(keys.privateKey) };
}

/**
 * A certificate issued by `ca` carrying the given URI and DNS SANs.
 *
 * @example
 *   const leaf = await makeLeaf(ca, { uris: ["spiffe://hexr.test/agent/acme/crew/researcher"] });
 *   leaf.certPem; leaf.keyPem;
 */
export async function makeLeaf(ca: TestCa, opts: LeafOptions = {}): Promise<TestLeaf> {
  const keys = await newKeys();
  const now = Date.now();
  const isCa = opts.isCa === true;
  const names: x509.JsonGeneralName[] = [
    ...(opts.uris ?? []).map((value) => ({ type: "url" as const, value })),
    ...(opts.dns ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(opts.ips ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(isCa, undefined, true),
    new x509.KeyUsagesExtension(
      isCa
        ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature
        : x509.KeyUsageFlags.digitalSignature,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
  ];
  if (!isCa) {
    extensions.push(
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    );
  }
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${opts.commonName ?? "hexr-test-leaf"}`,
    issuer: ca.cert.subjectName,
    notBefore: opts.notBefore ?? new Date(now - BACKDATE_MS),
    notAfter: opts.notAfter ?? new Date(now + DEFAULT_LIFETIME_MS),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
  });
  return { cert, keys, certPem: cert.toString("pem"), keyPem: await privateKeyPem(keys.privateKey) };
}

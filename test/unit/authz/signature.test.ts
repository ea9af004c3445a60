import { createHash, generateKeyPairSync } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { CompactSign } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bundleFileDigest,
  canonicalJson,
  readBundle,
  readBundleFiles,
  verifyBundleSignature,
  type VerificationConfig,
} from "../../../filters/authz/index.ts";
import { buildDir, FAKE_WASM, POLICIES, tempDir, tgz } from "./helpers.ts";

let dir: string;
let cleanup: () => Promise<void>;
let publicPem: string;
let otherPublicPem: string;
let privatePath: string;
let ecPublicPem: string;
let ecPrivatePath: string;
let signed: Uint8Array; // RS256, key id "default"
let unsigned: Uint8Array;

const rsa = () => generateKeyPairSync("rsa", { modulusLength: 2048 });

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  const a = rsa();
  publicPem = a.publicKey.export({ type: "spki", format: "pem" }).toString();
  privatePath = path.join(dir, "signing.pem");
  await writeFile(privatePath, a.privateKey.export({ type: "pkcs8", format: "pem" }));
  otherPublicPem = rsa().publicKey.export({ type: "spki", format: "pem" }).toString();
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  ecPublicPem = ec.publicKey.export({ type: "spki", format: "pem" }).toString();
  ecPrivatePath = path.join(dir, "ec.pem");
  await writeFile(ecPrivatePath, ec.privateKey.export({ type: "pkcs8", format: "pem" }));
  signed = await buildDir(POLICIES, { signingKey: privatePath, revision: "signed-1" });
  unsigned = await buildDir(POLICIES, { revision: "unsigned-1" });
});

afterAll(async () => {
  await cleanup();
});

const keys = (key: string, algorithm = "RS256", id = "default"): VerificationConfig => ({
  keys: { [id]: { key, algorithm } },
});

/** Unpacks, edits and repacks a bundle (as an attacker with write access to the file would). */
async function repack(bytes: Uint8Array, edit: (files: Map<string, Uint8Array>) => void): Promise<Uint8Array> {
  const files = await readBundleFiles(bytes);
  edit(files);
  return tgz([...files].map(([name, data]) => ({ name: `/${name}`, data })));
}

describe("signed bundles from opa build --signing-key", () => {
  it("verifies a valid RS256 signature", async () => {
    const b = await readBundle(signed, { verification: keys(publicPem), strict: true });
    expect(b.signed).toBe(true);
    expect(b.revision).toBe("signed-1");
  });

  it("verifies ES256 and a custom key id", async () => {
    const bytes = await buildDir(POLICIES, { signingKey: ecPrivatePath, signingAlg: "ES256", keyId: "ci" });
    const b = await readBundle(bytes, { verification: keys(ecPublicPem, "ES256", "ci"), strict: true });
    expect(b.signed).toBe(true);
  });

  it("verifies HS256 with a shared secret", async () => {
    const secret = "a-long-shared-secret-for-hmac-signing-0123456789";
    const bytes = await buildDir(POLICIES, { signingKey: secret, signingAlg: "HS256" });
    expect((await readBundle(bytes, { verification: keys(secret, "HS256"), strict: true })).signed).toBe(true);
    await expect(
      readBundle(bytes, { verification: keys("another-secret-entirely-0123456789abcdef", "HS256") }),
    ).rejects.toMatchObject({
      code: "bundle.bad_signature",
    });
  });

  it("the wrong key → bundle.bad_signature", async () => {
    await expect(readBundle(signed, { verification: keys(otherPublicPem) })).rejects.toMatchObject({
      code: "bundle.bad_signature",
    });
  });

  it("the right key under the wrong algorithm → bundle.bad_signature", async () => {
    await expect(readBundle(signed, { verification: keys(publicPem, "PS256") })).rejects.toMatchObject({
      code: "bundle.bad_signature",
    });
  });

  it("a key id nobody configured → bundle.unknown_key; keyId overrides the token's kid", async () => {
    await expect(readBundle(signed, { verification: keys(publicPem, "RS256", "ci") })).rejects.toMatchObject({
      code: "bundle.unknown_key",
    });
    const b = await readBundle(signed, { verification: { ...keys(publicPem, "RS256", "ci"), keyId: "ci" } });
    expect(b.signed).toBe(true);
  });

  it("a tampered data file → bundle.bad_signature (digest mismatch)", async () => {
    const tampered = await repack(signed, (f) =>
      f.set("data.json", new TextEncoder().encode('{"hexr":{"limits":{"calls_per_minute":1000000}}}')),
    );
    await expect(readBundle(tampered, { verification: keys(publicPem) })).rejects.toMatchObject({
      code: "bundle.bad_signature",
      message: expect.stringContaining("data.json"),
    });
  });

  it("a swapped policy.wasm → bundle.bad_signature", async () => {
    const allowAll = (await readBundleFiles(await buildDir(path.join(POLICIES, "examples")))).get(
      "policy.wasm",
    ) as Uint8Array;
    const tampered = await repack(signed, (f) => f.set("policy.wasm", allowAll));
    await expect(readBundle(tampered, { verification: keys(publicPem) })).rejects.toMatchObject({
      code: "bundle.bad_signature",
    });
  });

  it("an added file the signature does not cover → bundle.bad_signature", async () => {
    const tampered = await repack(signed, (f) => f.set("extra/data.json", new TextEncoder().encode('{"x":1}')));
    await expect(readBundle(tampered, { verification: keys(publicPem) })).rejects.toMatchObject({
      code: "bundle.bad_signature",
      message: expect.stringContaining("not covered"),
    });
  });

  it("a signed file removed from the bundle → bundle.bad_signature", async () => {
    const tampered = await repack(signed, (f) => f.delete("data.json"));
    await expect(readBundle(tampered, { verification: keys(publicPem) })).rejects.toMatchObject({
      code: "bundle.bad_signature",
    });
  });

  it("re-formatting a JSON file (whitespace, key order) keeps the signature valid, as in OPA", async () => {
    const tampered = await repack(signed, (f) => {
      const manifest = JSON.parse(new TextDecoder().decode(f.get(".manifest")));
      const reordered = Object.fromEntries(Object.entries(manifest).reverse());
      f.set(".manifest", new TextEncoder().encode(JSON.stringify(reordered, null, 2)));
      f.set("data.json", new TextEncoder().encode('{\n  "hexr" : { "limits": { "calls_per_minute": 100 } }\n}\n'));
    });
    expect((await readBundle(tampered, { verification: keys(publicPem) })).signed).toBe(true);
  });

  it("scope: must match the signed claim", async () => {
    // With a claims file opa writes no key id: the single configured key is used.
    const scoped = await buildDir(POLICIES, { signingKey: privatePath, claims: { scope: "write" } });
    expect((await readBundle(scoped, { verification: { ...keys(publicPem), scope: "write" } })).signed).toBe(true);
    await expect(readBundle(scoped, { verification: keys(publicPem) })).rejects.toMatchObject({
      code: "bundle.bad_signature",
    });
    await expect(readBundle(signed, { verification: { ...keys(publicPem), scope: "write" } })).rejects.toMatchObject({
      code: "bundle.bad_signature",
    });
    const twoKeys = {
      keys: { a: { key: publicPem, algorithm: "RS256" }, b: { key: otherPublicPem, algorithm: "RS256" } },
      scope: "write",
    };
    await expect(readBundle(scoped, { verification: twoKeys })).rejects.toMatchObject({ code: "bundle.bad_signature" });
    expect((await readBundle(scoped, { verification: { ...twoKeys, keyId: "a" } })).signed).toBe(true);
  });
});

describe("unsigned bundles", () => {
  it("strict mode refuses them → bundle.unsigned", async () => {
    await expect(readBundle(unsigned, { verification: keys(publicPem), strict: true })).rejects.toMatchObject({
      code: "bundle.unsigned",
    });
  });

  it("non-strict mode accepts them, marked unsigned", async () => {
    const b = await readBundle(unsigned, { verification: keys(publicPem) });
    expect(b.signed).toBe(false);
  });

  it("a signed bundle read without keys is not claimed as verified", async () => {
    expect((await readBundle(signed)).signed).toBe(false);
  });
});

describe("hand-made signatures", () => {
  const { privateKey, publicKey } = rsa();
  const pub = publicKey.export({ type: "spki", format: "pem" }).toString();
  const sha256 = (s: string | Uint8Array) => createHash("sha256").update(s).digest("hex");

  async function signedWith(
    files: Array<{ name: string; hash: string; algorithm: string }>,
    extra: Record<string, Uint8Array> = {},
  ) {
    const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify({ files })))
      .setProtectedHeader({ alg: "RS256", kid: "k" })
      .sign(privateKey);
    const map = new Map<string, Uint8Array>([
      ["policy.wasm", FAKE_WASM],
      [".signatures.json", new TextEncoder().encode(JSON.stringify({ signatures: [jws] }))],
      ...Object.entries(extra),
    ]);
    return map;
  }

  it("accepts a correct one", async () => {
    const files = await signedWith([{ name: "/policy.wasm", hash: sha256(FAKE_WASM), algorithm: "SHA-256" }]);
    await expect(verifyBundleSignature(files, keys(pub, "RS256", "k"))).resolves.toEqual({ keyId: "k", files: 1 });
  });

  it("refuses MD5 / SHA-1 file digests even when they match", async () => {
    const md5 = createHash("md5").update(FAKE_WASM).digest("hex");
    const files = await signedWith([{ name: "policy.wasm", hash: md5, algorithm: "MD5" }]);
    await expect(verifyBundleSignature(files, keys(pub, "RS256", "k"))).rejects.toMatchObject({
      code: "bundle.bad_signature",
    });
  });

  it("refuses a file listed twice", async () => {
    const entry = { name: "policy.wasm", hash: sha256(FAKE_WASM), algorithm: "SHA-256" };
    const files = await signedWith([entry, entry]);
    await expect(verifyBundleSignature(files, keys(pub, "RS256", "k"))).rejects.toMatchObject({
      code: "bundle.bad_signature",
    });
  });

  it.each([
    ["not JSON", "{"],
    ["no signatures", '{"signatures": []}'],
    ["two signatures", '{"signatures": ["a.b.c", "a.b.c"]}'],
    ["garbage token", '{"signatures": ["not-a-jws"]}'],
    ["a plugin", '{"signatures": ["a.b.c"], "plugin": "kms"}'],
  ])(".signatures.json with %s → bundle.bad_signature", async (_n, text) => {
    const files = new Map([
      ["policy.wasm", FAKE_WASM],
      [".signatures.json", new TextEncoder().encode(text)],
    ]);
    await expect(verifyBundleSignature(files, keys(pub, "RS256", "k"))).rejects.toMatchObject({
      code: "bundle.bad_signature",
    });
  });
});

describe("OPA's digests", () => {
  // Vectors from OPA's bundle tests (TestVerifyBundleFileHash): structured files hash their canonical JSON.
  it.each([
    [".manifest", '{"revision": "quickbrownfaux"}', "MD5", "a005c38a509dc2d5a7407b9494efb2ad"],
    ["a/b/d/data.json", "true", "MD5", "b326b5062b2f0e69046810717534cb09"],
    ["data.json", '{"x": {"y": true}, "a": {"b": {"z": true}}}', "MD5", "36669864a622563256817033b1fc53db"],
    ["example/example.rego", "package example", "MD5", "ceecc199d432a4eeae305914ea4816cb"],
    [
      "a/b/c/data.json",
      "[1,2,3]",
      "SHA-512",
      "60f7b5dc86ded48785436192a08dbfd04894d7f1b417c4f8d3714679a7f78cb3c833f16a8559a1cf1f32968747dc1d95ef34826263dacf125ded8f5c374be4c0",
    ],
    [
      "a/b/y/data.yaml",
      "foo: 1",
      "SHA-512",
      "20f27a640a233e6524fe7d138898583cd43475724806feb26be7f214e1d10b29edf6a0d3cb08f82107a45686b61b8fdabab6406cf4e70efe134f42238dbd70ab",
    ],
  ])("%s", (name, text, alg, want) => {
    expect(bundleFileDigest(name, new TextEncoder().encode(text), alg)).toBe(want);
  });

  it.each([
    ['{"b": 1, "a": [1.50, 2e3, -0]}', '{"a":[1.50,2e3,-0],"b":1}'], // numbers exactly as written
    ['{"html": "<a href=\\"x\\">&</a>"}', '{"html":"<a href=\\"x\\">&</a>"}'], // no HTML escaping
    ['{"s": "line\\u2028sep\\u0001"}', '{"s":"line\\u2028sep\\u0001"}'], // Go escapes U+2028 and controls
    ['{"k": 1, "k": 2}', '{"k":2}'], // duplicate keys: last wins
    ['{"\\ud83d\\ude00": 1, "\\uffff": 2}', '{"\\uffff":2,"😀":1}'.replace("\\uffff", "\uffff")], // code point order
    [" [ ] ", "[]"],
  ])("canonicalJson(%s) = %s", (input, want) => {
    expect(canonicalJson(input)).toBe(want);
  });

  it.each(["{", "[1,]", '{"a" 1}', "01", "1 2", "tru", '"\u0001"'])("canonicalJson rejects %j", (input) => {
    expect(() => canonicalJson(input)).toThrow(expect.objectContaining({ code: "bundle.bad_signature" }));
  });
});

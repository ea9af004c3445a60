import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { normalizeEntryPath, readBundle, readBundleFiles } from "../../../filters/authz/index.ts";
import { buildDir, buildSources, FAKE_WASM, OPA, POLICIES, tar, tempDir, tgz } from "./helpers.ts";

const exec = promisify(execFile);

let real: Uint8Array;

beforeAll(async () => {
  real = await buildDir(POLICIES, { revision: "r-42" });
});

describe("readBundle", () => {
  it("reads a real opa build -t wasm bundle", async () => {
    const b = await readBundle(real);
    expect(b.revision).toBe("r-42");
    expect(b.entrypoints).toEqual(["hexr/authz/decision", "hexr/authz/allow"]);
    expect([...b.wasm.subarray(0, 4)]).toEqual([0x00, 0x61, 0x73, 0x6d]);
    expect(b.data).toEqual({ hexr: { limits: { calls_per_minute: 100 } } });
    expect(b.manifest.rego_version).toBe(1);
    expect(b.signed).toBe(false);
    expect(b.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it("has an empty revision and data when the bundle has none", async () => {
    const b = await readBundle(
      await buildSources({ "p.rego": "package hexr.authz\nallow := true\n" }, { entrypoints: ["hexr/authz/allow"] }),
    );
    expect(b.revision).toBe("");
    expect(b.data).toEqual({});
  });

  it("merges nested data files at their paths", async () => {
    const b = await readBundle(
      tgz([
        { name: "/policy.wasm", data: FAKE_WASM },
        { name: "/data.json", data: '{"a":{"x":1}}' },
        { name: "/a/b/data.json", data: '{"y":2}' },
        { name: "/c/data.yaml", data: "z: 3\n" },
      ]),
    );
    expect(b.data).toEqual({ a: { x: 1, b: { y: 2 } }, c: { z: 3 } });
  });

  it("reads long, non-ASCII paths (Go's tar writer emits PAX headers for them)", async () => {
    const deep = `${"é".repeat(60)}/${"long-segment-".repeat(12)}/${"z".repeat(90)}/policy.rego`;
    const bytes = await buildSources(
      { [deep]: "package hexr.authz\nallow := true\n" },
      { entrypoints: ["hexr/authz/allow"] },
    );
    expect([...(await readBundleFiles(bytes)).keys()]).toContain(deep);
    expect((await readBundle(bytes)).entrypoints).toEqual(["hexr/authz/allow"]);
  });

  it("keeps a __proto__ key as data", async () => {
    const b = await readBundle(
      tgz([
        { name: "/policy.wasm", data: FAKE_WASM },
        { name: "/__proto__/data.json", data: '{"polluted":true}' },
      ]),
    );
    expect(Object.hasOwn(b.data as object, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("readBundle refuses bad archives", () => {
  it.each([
    ["truncated gzip", () => real.subarray(0, Math.floor(real.length / 2)), "bundle.corrupt"],
    ["random bytes", () => randomBytes(4096), "bundle.corrupt"],
    ["empty input", () => new Uint8Array(), "bundle.corrupt"],
    ["gzip of random bytes", () => gzipSync(randomBytes(4096)), "bundle.corrupt"],
    [
      "gzip of a truncated tar",
      () => gzipSync(tar([{ name: "/policy.wasm", data: new Uint8Array(2000) }]).subarray(0, 1024)),
      "bundle.corrupt",
    ],
  ])("%s → %s", async (_name, bytes, code) => {
    await expect(readBundle(bytes())).rejects.toMatchObject({ code });
  });

  it.each(["../policy.wasm", "/../../etc/passwd", "a/../../b", "./a/./b", "a\\..\\b"])(
    "rejects the path %j",
    async (name) => {
      const bytes = tgz([
        { name: "/policy.wasm", data: FAKE_WASM },
        { name, data: "x" },
      ]);
      await expect(readBundle(bytes)).rejects.toMatchObject({ code: "bundle.unsafe_path" });
    },
  );

  it.each([
    ["2", "symlink"],
    ["1", "hard link"],
    ["3", "character device"],
  ])("rejects tar entry type %s (%s)", async (type) => {
    const bytes = tgz([
      { name: "/policy.wasm", data: FAKE_WASM },
      { name: "/evil", type },
    ]);
    await expect(readBundle(bytes)).rejects.toMatchObject({ code: "bundle.corrupt" });
  });

  it("rejects a duplicated path (a signature would cover only one copy)", async () => {
    const bytes = tgz([
      { name: "/policy.wasm", data: FAKE_WASM },
      { name: "policy.wasm", data: FAKE_WASM },
    ]);
    await expect(readBundle(bytes)).rejects.toMatchObject({ code: "bundle.corrupt" });
  });

  it("rejects a tar header with a bad checksum", async () => {
    const t = tar([{ name: "/policy.wasm", data: FAKE_WASM }]);
    t[0] = 0x41; // name changed, checksum not
    await expect(readBundle(gzipSync(t))).rejects.toMatchObject({ code: "bundle.corrupt" });
  });

  it("no policy.wasm → bundle.no_wasm", async () => {
    await expect(
      readBundle(
        tgz([
          { name: "/data.json", data: "{}" },
          { name: "/.manifest", data: '{"revision":"x"}' },
        ]),
      ),
    ).rejects.toMatchObject({
      code: "bundle.no_wasm",
    });
  });

  it("a rego-target bundle (no WASM) → bundle.no_wasm", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeFile(path.join(dir, "p.rego"), "package hexr.authz\nallow := true\n");
      await exec(OPA, ["build", "-b", ".", "-o", "out.tar.gz"], { cwd: dir });
      await expect(readBundle(await readFile(path.join(dir, "out.tar.gz")))).rejects.toMatchObject({
        code: "bundle.no_wasm",
      });
    } finally {
      await cleanup();
    }
  });

  it("policy.wasm that is not WebAssembly → bundle.corrupt", async () => {
    await expect(readBundle(tgz([{ name: "/policy.wasm", data: "not wasm" }]))).rejects.toMatchObject({
      code: "bundle.corrupt",
    });
  });

  it.each([
    ["/.manifest", "{not json"],
    ["/.manifest", '{"revision": 7}'],
    ["/.manifest", '{"wasm": [{"entrypoint": 1}]}'],
    ["/data.json", "{broken"],
    ["/data.json", "[1,2,3]"],
  ])("%s %j → bundle.corrupt", async (name, data) => {
    await expect(
      readBundle(
        tgz([
          { name: "/policy.wasm", data: FAKE_WASM },
          { name, data },
        ]),
      ),
    ).rejects.toMatchObject({ code: "bundle.corrupt" });
  });

  it("conflicting data files → bundle.corrupt", async () => {
    const bytes = tgz([
      { name: "/policy.wasm", data: FAKE_WASM },
      { name: "/data.json", data: '{"a":{"b":1}}' },
      { name: "/a/data.json", data: '{"b":2}' },
    ]);
    await expect(readBundle(bytes)).rejects.toMatchObject({ code: "bundle.corrupt" });
  });

  it("oversized compressed input → bundle.too_large", async () => {
    await expect(readBundle(real, { limits: { maxCompressedBytes: 1024 } })).rejects.toMatchObject({
      code: "bundle.too_large",
    });
  });

  it("a gzip bomb stops at the uncompressed cap → bundle.too_large", async () => {
    const bomb = gzipSync(tar([{ name: "/policy.wasm", data: new Uint8Array(8 * 1024 * 1024) }]));
    expect(bomb.length).toBeLessThan(64 * 1024);
    await expect(readBundle(bomb, { limits: { maxUncompressedBytes: 1024 * 1024 } })).rejects.toMatchObject({
      code: "bundle.too_large",
    });
  });

  it("too many entries → bundle.too_large", async () => {
    const entries = Array.from({ length: 20 }, (_, i) => ({ name: `/f${i}.rego`, data: "package x" }));
    await expect(
      readBundle(tgz([{ name: "/policy.wasm", data: FAKE_WASM }, ...entries]), { limits: { maxEntries: 10 } }),
    ).rejects.toMatchObject({
      code: "bundle.too_large",
    });
  });

  it("strict without verification keys is a caller error", async () => {
    await expect(readBundle(real, { strict: true })).rejects.toBeInstanceOf(TypeError);
  });
});

describe("normalizeEntryPath", () => {
  it.each([
    ["/policy.wasm", "policy.wasm"],
    ["./data.json", "data.json"],
    ["a/b/data.json", "a/b/data.json"],
    ["/a/b/", "a/b"],
  ])("%j → %j", (input, expected) => {
    expect(normalizeEntryPath(input)).toBe(expected);
  });
});

import { generateKeyPairSync } from "node:crypto";
import { mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  PolicyStore,
  type Logger,
  type PolicySnapshot,
  type PolicyStoreOptions,
} from "../../../filters/authz/index.ts";
import { buildDir, opaInput, POLICIES, tempDir } from "./helpers.ts";

class ListLogger implements Logger {
  readonly entries: Array<Record<string, unknown> & { level: string }> = [];
  info(f: Record<string, unknown>) {
    this.entries.push({ level: "info", ...f });
  }
  warn(f: Record<string, unknown>) {
    this.entries.push({ level: "warn", ...f });
  }
  error(f: Record<string, unknown>) {
    this.entries.push({ level: "error", ...f });
  }
  events(name: string) {
    return this.entries.filter((e) => e.event === name);
  }
}

/** Resolves on the store's next swap (a readiness signal, not a sleep). */
function nextSwap(store: PolicyStore, timeoutMs = 5_000): Promise<PolicySnapshot> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no swap within ${timeoutMs} ms`)), timeoutMs);
    const off = store.onSwap((s) => {
      clearTimeout(t);
      off();
      resolve(s);
    });
  });
}

function nextReject(store: PolicyStore, timeoutMs = 5_000): Promise<{ code: string }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no rejection within ${timeoutMs} ms`)), timeoutMs);
    const off = store.onReject((e) => {
      clearTimeout(t);
      off();
      resolve(e);
    });
  });
}

async function atomicWrite(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

let bundleA: Uint8Array;
let bundleB: Uint8Array;
let allowAll: Uint8Array;

beforeAll(async () => {
  [bundleA, bundleB, allowAll] = await Promise.all([
    buildDir(POLICIES, { revision: "rev-a" }),
    buildDir(POLICIES, { revision: "rev-b" }),
    buildDir(path.join(POLICIES, "examples"), { revision: "allow-all" }),
  ]);
});

let dir: string;
let cleanup: () => Promise<void>;
let logger: ListLogger;
const stores: PolicyStore[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("hexr-store-"));
  logger = new ListLogger();
});

afterEach(async () => {
  for (const s of stores.splice(0)) s.close();
  await cleanup();
});

async function open(file: string, opts: Partial<PolicyStoreOptions> = {}): Promise<PolicyStore> {
  const s = await PolicyStore.open(file, { logger, pollMs: 100, ...opts });
  stores.push(s);
  return s;
}

describe("PolicyStore", () => {
  it("opens a bundle: generation 1, revision from the manifest, logged", async () => {
    const file = path.join(dir, "bundle.tar.gz");
    await writeFile(file, bundleA);
    const store = await open(file);
    const cur = store.current();
    expect(cur).toMatchObject({ revision: "rev-a", generation: 1, signed: false });
    expect(cur?.engine.evaluate(opaInput())).toEqual({ allow: true, reasons: [] });
    expect(logger.events("bundle_loaded")).toHaveLength(1);
  });

  it("hot-reloads an atomically replaced bundle (fs.watch + poll)", async () => {
    const file = path.join(dir, "bundle.tar.gz");
    await writeFile(file, bundleA);
    const store = await open(file);
    store.watch();
    const swapped = nextSwap(store);
    await atomicWrite(file, allowAll);
    const snap = await swapped;
    expect(snap).toMatchObject({ revision: "allow-all", generation: 2 });
    expect(store.current()).toBe(snap);
    expect(snap.engine.evaluate(opaInput({ role: "editor" }))).toEqual({ allow: true, reasons: [] });
  });

  it("the stat poll alone picks up an in-place rewrite within the poll interval", async () => {
    const file = path.join(dir, "bundle.tar.gz");
    await writeFile(file, bundleA);
    const store = await open(file, { fsWatch: false, pollMs: 200 });
    store.watch();
    const started = performance.now();
    const swapped = nextSwap(store, 3_000);
    await writeFile(file, bundleB);
    const snap = await swapped;
    expect(snap.revision).toBe("rev-b");
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it("refuses a corrupt replacement: keeps the old policy, logs bundle_rejected, counts it, recovers later", async () => {
    const file = path.join(dir, "bundle.tar.gz");
    await writeFile(file, bundleA);
    const store = await open(file);
    store.watch();
    const rejected = nextReject(store);
    await atomicWrite(file, bundleB.subarray(0, 1000)); // truncated gzip
    expect(await rejected).toMatchObject({ code: "bundle.corrupt" });
    expect(store.current()).toMatchObject({ revision: "rev-a", generation: 1 });
    expect(store.stats.rejections).toBe(1);
    expect(logger.events("bundle_rejected")).toEqual([
      expect.objectContaining({ level: "error", code: "bundle.corrupt", path: file, serving_revision: "rev-a" }),
    ]);
    // the last good policy keeps answering
    expect(store.current()?.engine.evaluate(opaInput()).allow).toBe(true);

    const swapped = nextSwap(store);
    await atomicWrite(file, bundleB);
    expect(await swapped).toMatchObject({ revision: "rev-b", generation: 2 });
  });

  it.each([
    ["fs.watch + poll", true],
    ["the poll alone", false],
  ])("follows a Kubernetes ConfigMap update (..data symlink swap) via %s", async (_how, fsWatch) => {
    // <mount>/bundle.tar.gz -> ..data/bundle.tar.gz, ..data -> ..2026_01_15_v1; kubelet swaps ..data atomically.
    const v1 = path.join(dir, "..2026_01_15_v1");
    const v2 = path.join(dir, "..2026_01_15_v2");
    await mkdir(v1);
    await writeFile(path.join(v1, "bundle.tar.gz"), bundleA);
    await symlink("..2026_01_15_v1", path.join(dir, "..data"));
    await symlink("..data/bundle.tar.gz", path.join(dir, "bundle.tar.gz"));

    const store = await open(path.join(dir, "bundle.tar.gz"), { pollMs: 1_000, fsWatch });
    store.watch();
    expect(store.current()?.revision).toBe("rev-a");

    const swapped = nextSwap(store, 5_000);
    await mkdir(v2);
    await writeFile(path.join(v2, "bundle.tar.gz"), bundleB);
    await symlink("..2026_01_15_v2", path.join(dir, "..data_tmp"));
    await rename(path.join(dir, "..data_tmp"), path.join(dir, "..data"));
    await rm(v1, { recursive: true });
    expect(await swapped).toMatchObject({ revision: "rev-b", generation: 2 });
  });

  it("reload() of an unchanged file keeps the generation (no cache flush)", async () => {
    const file = path.join(dir, "bundle.tar.gz");
    await writeFile(file, bundleA);
    const store = await open(file);
    expect(await store.reload()).toBe("unchanged");
    await writeFile(file, bundleA); // new mtime, same bytes
    expect(await store.reload()).toBe("unchanged");
    expect(store.current()?.generation).toBe(1);
    await writeFile(file, bundleB);
    expect(await store.reload()).toBe("swapped");
    expect(store.current()?.generation).toBe(2);
    expect(store.stats).toEqual({ swaps: 2, rejections: 0 });
  });

  it("concurrent reloads are single-flight and end on the latest file", async () => {
    const file = path.join(dir, "bundle.tar.gz");
    await writeFile(file, bundleA);
    const store = await open(file);
    await writeFile(file, bundleB);
    const outcomes = await Promise.all([store.reload(), store.reload(), store.reload()]);
    expect(outcomes).toContain("swapped");
    expect(store.current()).toMatchObject({ revision: "rev-b", generation: 2 });
  });

  it("refuses to open a corrupt or missing bundle (fail fast at start)", async () => {
    const file = path.join(dir, "bundle.tar.gz");
    await writeFile(file, "garbage");
    await expect(PolicyStore.open(file, { logger })).rejects.toMatchObject({ code: "bundle.corrupt" });
    await expect(PolicyStore.open(path.join(dir, "nope.tar.gz"), { logger })).rejects.toMatchObject({
      code: "bundle.not_found",
    });
  });

  it("requireInitial: false starts empty and serves the first good bundle that appears", async () => {
    const file = path.join(dir, "bundle.tar.gz");
    const store = await open(file, { requireInitial: false });
    expect(store.current()).toBeUndefined();
    store.watch();
    const swapped = nextSwap(store);
    await atomicWrite(file, bundleA);
    expect(await swapped).toMatchObject({ revision: "rev-a", generation: 1 });
  });

  it("strict mode refuses an unsigned replacement and keeps the signed policy", async () => {
    const { dir: keyDir, cleanup: rmKeys } = await tempDir();
    try {
      const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const keyFile = path.join(keyDir, "k.pem");
      await writeFile(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }));
      const signedA = await buildDir(POLICIES, { revision: "signed-a", signingKey: keyFile });
      const file = path.join(dir, "bundle.tar.gz");
      await writeFile(file, signedA);
      const verification = {
        keys: { default: { key: publicKey.export({ type: "spki", format: "pem" }).toString(), algorithm: "RS256" } },
      };
      const store = await open(file, { verification, strict: true });
      expect(store.current()).toMatchObject({ revision: "signed-a", signed: true });
      store.watch();
      const rejected = nextReject(store);
      await atomicWrite(file, bundleB);
      expect(await rejected).toMatchObject({ code: "bundle.unsigned" });
      expect(store.current()?.revision).toBe("signed-a");
      expect(logger.events("bundle_rejected")[0]).toMatchObject({ code: "bundle.unsigned" });
    } finally {
      await rmKeys();
    }
  });

  it("validates options", async () => {
    const file = path.join(dir, "bundle.tar.gz");
    await writeFile(file, bundleA);
    await expect(PolicyStore.open(file, { logger, strict: true })).rejects.toBeInstanceOf(TypeError);
    await expect(PolicyStore.open(file, { logger, pollMs: 0 })).rejects.toBeInstanceOf(TypeError);
    await expect(
      PolicyStore.open(file, { logger, verification: { keys: { k: { key: "not a pem", algorithm: "RS256" } } } }),
    ).rejects.toMatchObject({ code: "config.invalid" });
  });

  it("after close() nothing reloads", async () => {
    const file = path.join(dir, "bundle.tar.gz");
    await writeFile(file, bundleA);
    const store = await open(file);
    store.watch();
    store.close();
    await writeFile(file, bundleB);
    expect(await store.reload()).toBe("unchanged");
    expect(store.current()?.revision).toBe("rev-a");
  });
});

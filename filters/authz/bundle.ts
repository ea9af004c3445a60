/**
 * Reads an OPA bundle (`opa build -t wasm` output, a `.tar.gz`) into what the engine needs: the WASM
 * module, the data document, the manifest and its entrypoints. Everything arriving from disk is capped
 * (compressed size, uncompressed size, file count), paths that could escape the bundle are refused,
 * and a signature is verified before anything is parsed when verification is configured.
 *
 * @example
 *   const bundle = await readBundle(await readFile("bundle.tar.gz"), { verification, strict: true });
 *   bundle.revision; bundle.entrypoints; // ["hexr/authz/decision", "hexr/authz/allow"]
 */
import { createHash } from "node:crypto";
import { gunzip } from "node:zlib";
import { promisify } from "node:util";
import { parse as parseYaml } from "yaml";
import { HexrError } from "../errors.ts";
import { SIGNATURES_FILE, verifyBundleSignature, type VerificationConfig } from "./signature.ts";
import { readTar } from "./tar.ts";

const gunzipAsync = promisify(gunzip);

export interface BundleLimits {
  readonly maxCompressedBytes: number;
  readonly maxUncompressedBytes: number;
  readonly maxEntries: number;
}

export const DEFAULT_BUNDLE_LIMITS: BundleLimits = Object.freeze({
  maxCompressedBytes: 16 * 1024 * 1024,
  maxUncompressedBytes: 64 * 1024 * 1024,
  maxEntries: 512,
});

export const WASM_MODULE = "policy.wasm";

export interface WasmResolver {
  readonly entrypoint: string;
  readonly module: string;
}

export interface BundleManifest {
  readonly revision?: string;
  readonly roots?: readonly string[];
  readonly wasm?: readonly WasmResolver[];
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly [field: string]: unknown;
}

export interface PolicyBundle {
  /** The manifest's revision; "" when the bundle has none. */
  readonly revision: string;
  readonly wasm: Uint8Array;
  /** The data document (`data.json` / `data.yaml` files merged at their paths); `{}` when there are none. */
  readonly data: unknown;
  readonly manifest: BundleManifest;
  /** Entrypoints compiled into the WASM module, e.g. `hexr/authz/decision`. */
  readonly entrypoints: readonly string[];
  /** True only when a signature was present and verified against configured keys. */
  readonly signed: boolean;
  /** sha256 (hex) of the archive bytes as read. */
  readonly digest: string;
}

export interface ReadBundleOptions {
  /** Keys to verify `.signatures.json` with. Without them a signature is not checked (`signed: false`). */
  readonly verification?: VerificationConfig;
  /** Refuse bundles without a signature (`bundle.unsigned`). Requires `verification`. */
  readonly strict?: boolean;
  readonly limits?: Partial<BundleLimits>;
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

function corrupt(message: string): HexrError {
  return new HexrError("bundle.corrupt", message);
}

/** Bundle-relative path without the leading `/`; throws `bundle.unsafe_path` for anything that could escape. */
export function normalizeEntryPath(name: string): string {
  const trimmed = name.replace(/^(?:\.?\/)+/, "");
  if (!trimmed || trimmed.includes("\0") || trimmed.includes("\\")) {
    throw new HexrError("bundle.unsafe_path", "bundle entry has an empty or unsafe path");
  }
  for (const seg of trimmed.split("/")) {
    if (seg === ".." || seg === ".") {
      throw new HexrError(
        "bundle.unsafe_path",
        `bundle entry path ${JSON.stringify(trimmed.slice(0, 200))} escapes the bundle`,
      );
    }
  }
  return trimmed.endsWith("/") ? trimmed.slice(0, -1) : trimmed;
}

async function decompress(bytes: Uint8Array, limits: BundleLimits): Promise<Uint8Array> {
  if (bytes.length > limits.maxCompressedBytes) {
    throw new HexrError("bundle.too_large", `bundle is larger than ${limits.maxCompressedBytes} bytes`);
  }
  if (bytes.length < 18 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) throw corrupt("bundle is not gzip data");
  try {
    return await gunzipAsync(bytes, { maxOutputLength: limits.maxUncompressedBytes });
  } catch (e) {
    if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new HexrError("bundle.too_large", `bundle expands to more than ${limits.maxUncompressedBytes} bytes`);
    }
    throw corrupt(`bundle gzip stream is invalid (${(e as { code?: string }).code ?? "zlib error"})`);
  }
}

/** Reads the archive into a path → bytes map; duplicate paths are refused (a signature covers one copy). */
export async function readBundleFiles(
  bytes: Uint8Array,
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): Promise<Map<string, Uint8Array>> {
  const tar = await decompress(bytes, limits);
  const files = new Map<string, Uint8Array>();
  for (const entry of readTar(tar, limits)) {
    const path = normalizeEntryPath(entry.name);
    if (files.has(path)) throw corrupt(`bundle has ${path} twice`);
    files.set(path, entry.data);
  }
  return files;
}

function parseJson(path: string, data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw corrupt(`${path} is not valid JSON`);
  }
}

function parseYamlData(path: string, data: Uint8Array): unknown {
  try {
    return parseYaml(new TextDecoder().decode(data));
  } catch {
    throw corrupt(`${path} is not valid YAML`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  // defineProperty, so a "__proto__" key stays data and never becomes a prototype.
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function merge(target: Record<string, unknown>, src: Record<string, unknown>, at: string): void {
  for (const k of Object.keys(src)) {
    const here = Object.hasOwn(target, k) ? target[k] : undefined;
    const there = src[k];
    if (here === undefined) setOwn(target, k, there);
    else if (isObject(here) && isObject(there)) merge(here, there, `${at}/${k}`);
    else throw corrupt(`bundle data conflicts at ${at}/${k}`);
  }
}

function parseManifest(files: ReadonlyMap<string, Uint8Array>): BundleManifest {
  const raw = files.get(".manifest");
  if (!raw) return {};
  const m = parseJson(".manifest", raw);
  if (!isObject(m)) throw corrupt(".manifest is not a JSON object");
  if (m.revision !== undefined && typeof m.revision !== "string") throw corrupt(".manifest revision is not a string");
  if (m.wasm !== undefined) {
    const ok =
      Array.isArray(m.wasm) &&
      m.wasm.every((w: unknown) => isObject(w) && typeof w.entrypoint === "string" && typeof w.module === "string");
    if (!ok) throw corrupt(".manifest wasm resolvers are malformed");
  }
  return m as BundleManifest;
}

function collectData(files: ReadonlyMap<string, Uint8Array>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [path, bytes] of files) {
    const slash = path.lastIndexOf("/");
    const base = path.slice(slash + 1);
    if (base !== "data.json" && base !== "data.yaml") continue;
    const value = base === "data.json" ? parseJson(path, bytes) : parseYamlData(path, bytes);
    const dirs = slash === -1 ? [] : path.slice(0, slash).split("/");
    let wrapped: unknown = value;
    for (let i = dirs.length - 1; i >= 0; i--) {
      const o: Record<string, unknown> = {};
      setOwn(o, dirs[i] ?? "", wrapped);
      wrapped = o;
    }
    if (!isObject(wrapped)) throw corrupt(`${path}: root data must be a JSON object`);
    merge(root, wrapped, "");
  }
  return root;
}

/**
 * Reads and checks a bundle. Throws `HexrError`: `bundle.too_large`, `bundle.corrupt`,
 * `bundle.unsafe_path`, `bundle.no_wasm`, `bundle.unsigned`, `bundle.unknown_key`, `bundle.bad_signature`.
 */
export async function readBundle(bytes: Uint8Array, opts: ReadBundleOptions = {}): Promise<PolicyBundle> {
  if (opts.strict && !opts.verification) throw new TypeError("readBundle: strict needs verification keys");
  const limits = { ...DEFAULT_BUNDLE_LIMITS, ...opts.limits };
  const files = await readBundleFiles(bytes, limits);

  let signed = false;
  if (opts.verification && (files.has(SIGNATURES_FILE) || opts.strict)) {
    await verifyBundleSignature(files, opts.verification);
    signed = true;
  }

  const manifest = parseManifest(files);
  const modules = [...new Set((manifest.wasm ?? []).map((w) => w.module.replace(/^\/+/, "")))];
  if (modules.length > 1)
    throw new HexrError("bundle.corrupt", "bundles with more than one WASM module are not supported");
  const module = modules[0] ?? WASM_MODULE;
  const wasm = files.get(module);
  if (!wasm) throw new HexrError("bundle.no_wasm", `bundle has no ${module} (build it with opa build -t wasm)`);
  if (!WASM_MAGIC.every((b, i) => wasm[i] === b)) throw corrupt(`${module} is not a WebAssembly module`);

  return Object.freeze({
    revision: manifest.revision ?? "",
    wasm: wasm.slice(), // own copy: do not pin the whole decompressed archive
    data: collectData(files),
    manifest,
    entrypoints: Object.freeze((manifest.wasm ?? []).map((w) => w.entrypoint)),
    signed,
    digest: createHash("sha256").update(bytes).digest("hex"),
  });
}

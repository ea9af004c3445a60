/**
 * Verification of OPA's signed-bundle format: `/.signatures.json` holds `{"signatures": ["<JWS>"]}`;
 * the JWS payload lists `{name, hash, algorithm}` for every other file in the bundle, plus `keyid`
 * and an optional `scope`. Every file must be covered and match; nothing extra may be listed.
 *
 * Digests follow OPA (`bundle/hash.go`, `verify.go`): plain files hash their bytes; structured files
 * (`data.json`, `data.yaml`, `.manifest`) hash a canonical JSON form — object keys sorted, no
 * whitespace, numbers as written, strings encoded as Go's encoder does without HTML escaping.
 *
 * @example
 *   await verifyBundleSignature(files, { keys: { ci: { key: publicPem, algorithm: "RS256" } } });
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { compactVerify, decodeProtectedHeader } from "jose";
import { parse as parseYaml } from "yaml";
import { HexrError } from "../errors.ts";

export const SIGNATURES_FILE = ".signatures.json";

export interface VerificationKey {
  /** PEM public key (or certificate) for RS/PS/ES algorithms; the shared secret for HS algorithms. */
  readonly key: string;
  /** JWS algorithm, e.g. `RS256`, `ES256`, `HS256`. */
  readonly algorithm: string;
  /** Scope the signature must carry when the config sets none. */
  readonly scope?: string;
}

export interface VerificationConfig {
  /**
   * Keys by key id; the token's `kid` header (else the payload's `keyid`) picks one. A token naming
   * no key is checked against the only key, when exactly one is configured.
   */
  readonly keys: Readonly<Record<string, VerificationKey>>;
  /** Always use this key id, whatever the token says (OPA's `--verification-key-id`). */
  readonly keyId?: string;
  /** Required `scope` claim; default: the key's scope, else none. */
  readonly scope?: string;
}

export interface VerifiedSignature {
  readonly keyId: string;
  /** Files checked (every file except `.signatures.json`). */
  readonly files: number;
}

/** JWS algorithms OPA's signed-bundle format allows (its `opa build --signing-alg` list). */
export const BUNDLE_SIGNING_ALGORITHMS: readonly string[] = Object.freeze([
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "HS256",
  "HS384",
  "HS512",
]);
const ALGORITHMS: ReadonlySet<string> = new Set(BUNDLE_SIGNING_ALGORITHMS);

/** OPA hash names → node:crypto names. */
const HASHES: Readonly<Record<string, string>> = {
  MD5: "md5",
  "SHA-1": "sha1",
  "SHA-224": "sha224",
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
  "SHA-512-224": "sha512-224",
  "SHA-512-256": "sha512-256",
};

/** Collision-prone digests OPA accepts but we do not: a signature over MD5 proves little. */
const WEAK_HASHES = new Set(["MD5", "SHA-1"]);

const STRUCTURED = new Set(["data.json", "data.yaml", ".manifest", SIGNATURES_FILE]);

function bad(message: string): HexrError {
  return new HexrError("bundle.bad_signature", message);
}

type PreparedKey = {
  readonly key: KeyObject | Uint8Array;
  readonly algorithm: string;
  readonly scope: string | undefined;
};
const prepared = new WeakMap<VerificationKey, PreparedKey>();

/** Parses a configured key once; throws `config.invalid` naming the key id (never the key). */
export function prepareKey(keyId: string, k: VerificationKey): PreparedKey {
  const cached = prepared.get(k);
  if (cached) return cached;
  if (!ALGORITHMS.has(k.algorithm))
    throw new HexrError("config.invalid", `verification key ${keyId}: unsupported algorithm ${k.algorithm}`);
  let key: KeyObject | Uint8Array;
  if (k.algorithm.startsWith("HS")) {
    if (!k.key) throw new HexrError("config.invalid", `verification key ${keyId}: empty HMAC secret`);
    key = new TextEncoder().encode(k.key);
  } else {
    try {
      key = createPublicKey(k.key);
    } catch {
      throw new HexrError("config.invalid", `verification key ${keyId}: not a PEM public key or certificate`);
    }
  }
  const p = { key, algorithm: k.algorithm, scope: k.scope };
  prepared.set(k, p);
  return p;
}

/** Checks every configured key parses (call at startup so a bad key fails fast). */
export function prepareVerification(config: VerificationConfig): void {
  for (const [id, k] of Object.entries(config.keys)) prepareKey(id, k);
}

/**
 * Verifies `files` (bundle paths without the leading `/`) against their `.signatures.json`.
 * Throws `bundle.unsigned`, `bundle.unknown_key` or `bundle.bad_signature`.
 */
export async function verifyBundleSignature(
  files: ReadonlyMap<string, Uint8Array>,
  config: VerificationConfig,
): Promise<VerifiedSignature> {
  const raw = files.get(SIGNATURES_FILE);
  if (!raw) throw new HexrError("bundle.unsigned", "bundle has no .signatures.json");

  let token: string;
  try {
    const sig = JSON.parse(new TextDecoder().decode(raw)) as { signatures?: unknown; plugin?: unknown };
    // OPA writes "plugin": "_default" for its built-in signer; anything else needs a custom verifier.
    if (sig.plugin !== undefined && sig.plugin !== "" && sig.plugin !== "_default")
      throw bad("signature plugins are not supported");
    if (!Array.isArray(sig.signatures) || sig.signatures.length !== 1 || typeof sig.signatures[0] !== "string") {
      throw bad(".signatures.json must hold exactly one JWS");
    }
    token = sig.signatures[0];
  } catch (e) {
    throw e instanceof HexrError ? e : bad(".signatures.json is not valid JSON");
  }

  // Pick the key from unverified data (as OPA does); the signature check below is what counts.
  let kid: unknown;
  let unverified: { keyid?: unknown };
  try {
    kid = decodeProtectedHeader(token).kid;
    unverified = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as {
      keyid?: unknown;
    };
  } catch {
    throw bad("signature is not a compact JWS");
  }
  const configured = Object.keys(config.keys);
  const named = typeof kid === "string" && kid ? kid : typeof unverified.keyid === "string" ? unverified.keyid : "";
  // No key id anywhere (opa build with a claims file omits it): the one configured key, if only one.
  const keyId = config.keyId ?? (named || (configured.length === 1 ? (configured[0] as string) : ""));
  if (!keyId) throw bad("signature names no key id and several keys are configured (set keyId)");
  const keyConfig = Object.hasOwn(config.keys, keyId) ? config.keys[keyId] : undefined;
  if (!keyConfig)
    throw new HexrError("bundle.unknown_key", `signature key id ${JSON.stringify(keyId)} is not configured`);
  const key = prepareKey(keyId, keyConfig);

  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(token, key.key, { algorithms: [key.algorithm] }));
  } catch {
    throw bad(`signature does not verify with key ${JSON.stringify(keyId)} (${key.algorithm})`);
  }

  let claims: { files?: unknown; scope?: unknown };
  try {
    claims = JSON.parse(new TextDecoder().decode(payload)) as typeof claims;
  } catch {
    throw bad("signature payload is not JSON");
  }
  const wantScope = config.scope ?? key.scope ?? "";
  const gotScope = typeof claims.scope === "string" ? claims.scope : "";
  if (wantScope !== gotScope) throw bad("signature scope mismatch");
  if (!Array.isArray(claims.files)) throw bad("signature payload has no files list");

  const listed = new Map<string, { hash: string; algorithm: string }>();
  for (const f of claims.files as unknown[]) {
    const { name, hash, algorithm } = (f ?? {}) as { name?: unknown; hash?: unknown; algorithm?: unknown };
    if (typeof name !== "string" || typeof hash !== "string" || typeof algorithm !== "string") {
      throw bad("signature payload file entry is malformed");
    }
    const n = name.replace(/^\/+/, "");
    if (listed.has(n)) throw bad(`signature lists ${n} twice`);
    listed.set(n, { hash: hash.toLowerCase(), algorithm });
  }

  let checked = 0;
  for (const [name, data] of files) {
    if (name === SIGNATURES_FILE) continue;
    const want = listed.get(name);
    if (!want) throw bad(`file ${name} is not covered by the signature`);
    if (WEAK_HASHES.has(want.algorithm)) throw bad(`file ${name} is signed with weak hash ${want.algorithm}`);
    if (!Object.hasOwn(HASHES, want.algorithm)) throw bad(`file ${name}: unsupported hash ${want.algorithm}`);
    if (bundleFileDigest(name, data, want.algorithm) !== want.hash) throw bad(`file ${name}: digest mismatch`);
    listed.delete(name);
    checked++;
  }
  if (listed.size > 0) throw bad(`signed file(s) missing from bundle: ${[...listed.keys()].join(", ")}`);
  return { keyId, files: checked };
}

/** Hex digest of one bundle file the way OPA computes it (canonical JSON for structured files). */
export function bundleFileDigest(name: string, data: Uint8Array, algorithm: string): string {
  const nodeAlg = Object.hasOwn(HASHES, algorithm) ? HASHES[algorithm] : undefined;
  if (!nodeAlg) throw bad(`unsupported hash ${algorithm}`);
  const h = createHash(nodeAlg);
  const base = name.slice(name.lastIndexOf("/") + 1);
  if (!STRUCTURED.has(base)) return h.update(data).digest("hex");
  const text = new TextDecoder().decode(data);
  h.update(base === "data.yaml" ? canonicalValue(parseYamlDoc(name, text)) : canonicalJson(text, name), "utf8");
  return h.digest("hex");
}

function parseYamlDoc(name: string, text: string): unknown {
  try {
    return parseYaml(text);
  } catch {
    throw bad(`${name} is not valid YAML`);
  }
}

/** Go's JSON string encoding with HTML escaping off: JSON.stringify plus U+2028/2029 escapes. */
function goString(s: string): string {
  return JSON.stringify(s.toWellFormed()).replace(/[\u2028\u2029]/g, (c) => (c === "\u2028" ? "\\u2028" : "\\u2029"));
}

function byCodePoint(a: string, b: string): number {
  // UTF-8 byte order (Go's sort.Strings) equals code point order, not UTF-16 unit order.
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const d = (x.value.codePointAt(0) ?? 0) - (y.value.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
}

function canonicalValue(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return goString(v);
  if (typeof v === "number" || typeof v === "boolean") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalValue).join(",")}]`;
  if (typeof v === "object") {
    const keys = Object.keys(v).sort(byCodePoint);
    return `{${keys.map((k) => `${goString(k)}:${canonicalValue((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  throw bad("unsupported value in structured file");
}

const MAX_DEPTH = 512;

/** Canonical form of JSON text, keeping number literals exactly as written (Go's json.Number). */
export function canonicalJson(text: string, name = "document"): string {
  let i = 0;
  const fail = (): never => {
    throw bad(`${name} is not valid JSON`);
  };
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const str = (): string => {
    const start = i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      i += c === 0x5c ? 2 : 1;
    }
    if (i >= text.length) fail();
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail();
    }
  };
  const value = (depth: number): string => {
    if (depth > MAX_DEPTH) fail();
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const members = new Map<string, string>();
      ws();
      if (text[i] === "}") {
        i++;
        return "{}";
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        const k = str();
        ws();
        if (text[i++] !== ":") fail();
        members.set(k, value(depth + 1)); // duplicate keys: last wins, as in Go
        ws();
        const d = text[i++];
        if (d === "}") break;
        if (d !== ",") fail();
      }
      const keys = [...members.keys()].sort(byCodePoint);
      return `{${keys.map((k) => `${goString(k)}:${members.get(k)}`).join(",")}}`;
    }
    if (c === "[") {
      i++;
      const items: string[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return "[]";
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        const d = text[i++];
        if (d === "]") break;
        if (d !== ",") fail();
      }
      return `[${items.join(",")}]`;
    }
    if (c === '"') return goString(str());
    for (const lit of ["true", "false", "null"]) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return lit;
      }
    }
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = i;
    const num = m.exec(text);
    if (!num) return fail();
    i += num[0].length;
    return num[0];
  };
  const out = value(0);
  ws();
  if (i !== text.length) fail();
  return out;
}

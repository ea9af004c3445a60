/**
 * SHA-256 and HMAC-SHA256 for @smithy/signature-v4, on node:crypto with the HMAC keys imported once.
 *
 * `createHmac("sha256", buffer)` imports its key on every call (~10 µs on Node 24, most of a SigV4
 * signature); with a KeyObject the same HMAC costs ~1.4 µs. The signer HMACs two keys per signature: the
 * secret access key (a string, to find its cached signing key) and that signing key (the same Uint8Array each
 * time while it is cached). Both are looked up here: strings in a bounded LRU, byte arrays in a WeakMap
 * that lets them go with the signer's cache. The keys are the credentials L1 already holds; nothing else
 * is kept.
 *
 * @example
 *   new SignatureV4({ …, sha256: Sha256 });
 */
import { createHash, createHmac, createSecretKey, type Hash, type Hmac, type KeyObject } from "node:crypto";
import { LRUCache } from "lru-cache";

type SourceData = string | ArrayBuffer | ArrayBufferView;

/** One per live credential is enough; more only means re-importing a key. */
const MAX_STRING_KEYS = 4096;
const stringKeys = new LRUCache<string, KeyObject>({ max: MAX_STRING_KEYS });
const byteKeys = new WeakMap<object, KeyObject>();

function bytes(d: ArrayBuffer | ArrayBufferView): Buffer {
  return ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d);
}

function keyFor(secret: SourceData): KeyObject {
  if (typeof secret === "string") {
    let k = stringKeys.get(secret);
    if (k === undefined) stringKeys.set(secret, (k = createSecretKey(Buffer.from(secret, "utf8"))));
    return k;
  }
  let k = byteKeys.get(secret);
  if (k === undefined) byteKeys.set(secret, (k = createSecretKey(Buffer.from(bytes(secret)))));
  return k;
}

export class Sha256 {
  readonly #key: KeyObject | undefined;
  #h: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.#key = secret === undefined ? undefined : keyFor(secret);
    this.#h = this.#fresh();
  }

  update(data: SourceData, encoding?: "utf8" | "ascii" | "latin1"): void {
    if (typeof data === "string") this.#h.update(data, encoding ?? "utf8");
    else this.#h.update(bytes(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#h.digest()));
  }

  reset(): void {
    this.#h = this.#fresh();
  }

  #fresh(): Hash | Hmac {
    return this.#key === undefined ? createHash("sha256") : createHmac("sha256", this.#key);
  }
}

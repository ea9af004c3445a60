/**
 * Credentials as the shared (L2) cache stores them: AES-256-GCM under a key only the sidecars hold, and the
 * Redis key an HMAC of the cache key under a key derived from the same secret. A Redis reader (or anyone
 * with a backup) learns neither the credentials nor which agents, roles or scopes they belong to; a value
 * moved to another key fails authentication (the key id is the GCM additional data).
 *
 * Layout: `v1` (1 byte) ‖ IV (12) ‖ tag (16) ‖ ciphertext of the credential's JSON.
 *
 * @example
 *   const box = new CredentialSeal(secret32);
 *   const id = box.keyId(cacheKey);
 *   await redis.set(id, box.seal(id, cred), "PX", ttl);
 *   const back = box.open(id, await redis.getBuffer(id)); // undefined when tampered or from another key
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import type { IssuedCredential } from "./types.ts";

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER = 1 + IV_BYTES + TAG_BYTES;
export const SEAL_KEY_BYTES = 32;

export class CredentialSeal {
  // KeyObjects, imported once: a Buffer key is imported again on every cipher or HMAC (~10 µs each)
  readonly #enc: KeyObject;
  readonly #mac: KeyObject;

  constructor(secret: Uint8Array) {
    if (secret.length !== SEAL_KEY_BYTES) throw new TypeError(`the L2 key must be ${SEAL_KEY_BYTES} bytes`);
    // two keys from one secret, so the key ids reveal nothing about the encryption key
    this.#enc = createSecretKey(Buffer.from(hkdfSync("sha256", secret, "", "hexr credentials L2 encryption v1", 32)));
    this.#mac = createSecretKey(Buffer.from(hkdfSync("sha256", secret, "", "hexr credentials L2 key ids v1", 32)));
  }

  /** The opaque Redis key for a cache key. */
  keyId(cacheKey: string): string {
    return createHmac("sha256", this.#mac).update(cacheKey).digest("base64url");
  }

  seal(keyId: string, cred: IssuedCredential): Buffer {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv("aes-256-gcm", this.#enc, iv);
    c.setAAD(Buffer.from(keyId));
    const body = Buffer.concat([c.update(JSON.stringify(cred), "utf8"), c.final()]);
    return Buffer.concat([Buffer.of(VERSION), iv, c.getAuthTag(), body]);
  }

  /** The credential, or undefined for anything that does not authenticate or parse (never throws). */
  open(keyId: string, sealed: Buffer | null | undefined): IssuedCredential | undefined {
    if (!sealed || sealed.length <= HEADER || sealed[0] !== VERSION) return undefined;
    try {
      const d = createDecipheriv("aes-256-gcm", this.#enc, sealed.subarray(1, 1 + IV_BYTES));
      d.setAAD(Buffer.from(keyId));
      d.setAuthTag(sealed.subarray(1 + IV_BYTES, HEADER));
      const json = Buffer.concat([d.update(sealed.subarray(HEADER)), d.final()]).toString("utf8");
      return asCredential(JSON.parse(json));
    } catch {
      return undefined;
    }
  }
}

function asCredential(v: unknown): IssuedCredential | undefined {
  if (v === null || typeof v !== "object") return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.expiresAt !== "number") return undefined;
  if (o.kind === "aws") {
    if (
      typeof o.accessKeyId !== "string" ||
      typeof o.secretAccessKey !== "string" ||
      typeof o.sessionToken !== "string"
    )
      return undefined;
    return {
      kind: "aws",
      accessKeyId: o.accessKeyId,
      secretAccessKey: o.secretAccessKey,
      sessionToken: o.sessionToken,
      expiresAt: o.expiresAt,
    };
  }
  if (o.kind === "bearer" && typeof o.token === "string")
    return { kind: "bearer", token: o.token, expiresAt: o.expiresAt };
  return undefined;
}

/**
 * SPIFFE Workload API client: keeps this process's X.509-SVIDs, X.509 bundles and JWT bundles current by
 * streaming them from the SPIRE agent over its Unix socket, and mints JWT-SVIDs on request.
 *
 * Each stream (`FetchX509SVID`, `FetchX509Bundles`, `FetchJWTBundles`) is watched on its own: when it
 * ends or fails it is reopened with exponential backoff and jitter, while {@link WorkloadApiClient.current}
 * keeps the last good material (fail static: an agent restart does not take identities away; expiry is
 * the consumer's check, see `tls.ts`). Every call carries the `workload.spiffe.io: true` metadata the
 * spec requires.
 *
 * Trust domains in the maps are names (`hexr.cloud`), not IDs (`spiffe://hexr.cloud`), so
 * `jwtBundles` can be handed straight to `JwtSvidVerifier.setBundles`.
 *
 * @example
 *   const wl = new WorkloadApiClient({ socketPath: "/run/spire/agent.sock" });
 *   const { svids } = await wl.ready({ timeoutMs: 10_000 });
 *   wl.onX509Update((s) => log.info({ id: s.svids[0]?.spiffeId }, "svid rotated"));
 *   const jwt = await wl.fetchJwtSvid({ audience: "hexr-authz" });
 *   wl.close();
 */
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import { createPrivateKey } from "node:crypto";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { X509Certificate } from "@peculiar/x509";
import { decodeJwt, type JSONWebKeySet } from "jose";
import { HexrError } from "../../filters/errors.ts";

export const WORKLOAD_API_PROTO = path.join(import.meta.dirname, "..", "..", "proto", "spiffe", "workload.proto");
/** Metadata key every Workload API call must carry (value `true`). */
export const WORKLOAD_API_HEADER = "workload.spiffe.io";
/** Standard environment variable naming the Workload API endpoint (`unix:///path` or a path). */
export const SPIFFE_ENDPOINT_SOCKET_ENV = "SPIFFE_ENDPOINT_SOCKET";
export const DEFAULT_BACKOFF_INITIAL_MS = 100;
export const DEFAULT_BACKOFF_MAX_MS = 5_000;
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;
/** Bundles and SVID chains are small; anything near this is not from a SPIRE agent. */
const MAX_MESSAGE_BYTES = 4 << 20;

export interface X509Svid {
  readonly spiffeId: string;
  readonly hint: string;
  /** Leaf first, then intermediates. */
  readonly certChainPem: string;
  /** PKCS#8 `PRIVATE KEY` PEM. */
  readonly keyPem: string;
  /** CA certificates of the SVID's own trust domain. */
  readonly bundlePem: string;
  readonly expiresAt: Date;
  /** Leaf serial (hex); changes on every rotation, safe to log. */
  readonly serialNumber: string;
}

export interface WorkloadSnapshot {
  /** The first SVID is the default one. Empty until the first `FetchX509SVID` response. */
  readonly svids: readonly X509Svid[];
  /** Trust domain name → CA certificates (one PEM each), from `FetchX509Bundles`. */
  readonly x509Bundles: ReadonlyMap<string, readonly string[]>;
  /** Trust domain name → JWKS, from `FetchJWTBundles`. */
  readonly jwtBundles: ReadonlyMap<string, JSONWebKeySet>;
}

export interface JwtSvid {
  readonly spiffeId: string;
  readonly token: string;
  readonly hint: string;
  readonly expiresAt: Date;
}

export type WorkloadStream = "x509" | "x509Bundles" | "jwtBundles";

export interface StreamStats {
  /** Times the stream was opened (1 = never reconnected). */
  readonly connects: number;
  /** Messages received over the client's lifetime. */
  readonly messages: number;
  /** Why the stream last ended or failed; cleared by the next message received. */
  readonly lastError: string | undefined;
}

export interface WorkloadApiClientOptions {
  /** Agent socket path or `unix:` address (default: `$SPIFFE_ENDPOINT_SOCKET`). */
  readonly socketPath?: string;
  /** First reconnect delay (default {@link DEFAULT_BACKOFF_INITIAL_MS}). */
  readonly backoffInitialMs?: number;
  /** Largest reconnect delay (default {@link DEFAULT_BACKOFF_MAX_MS}). */
  readonly backoffMaxMs?: number;
  /** Deadline for unary calls (default {@link DEFAULT_CALL_TIMEOUT_MS}). */
  readonly callTimeoutMs?: number;
  /** Which streams to run (default all three). */
  readonly streams?: readonly WorkloadStream[];
  /** Jitter source in [0, 1) (default `Math.random`); injected by tests. */
  readonly random?: () => number;
}

interface X509SvidMessage {
  spiffe_id: string;
  x509_svid: Buffer;
  x509_svid_key: Buffer;
  bundle: Buffer;
  hint: string;
}
interface ProtoValue {
  kind?: string;
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: { fields?: Record<string, ProtoValue> };
  listValue?: { values?: ProtoValue[] };
}

const STREAM_METHOD: Readonly<Record<WorkloadStream, string>> = {
  x509: "FetchX509SVID",
  x509Bundles: "FetchX509Bundles",
  jwtBundles: "FetchJWTBundles",
};

let serviceCtor: grpc.ServiceClientConstructor | undefined;

function workloadApiService(): grpc.ServiceClientConstructor {
  if (serviceCtor) return serviceCtor;
  const def = protoLoader.loadSync(WORKLOAD_API_PROTO, { keepCase: true, defaults: true, oneofs: true });
  serviceCtor = grpc.loadPackageDefinition(def).SpiffeWorkloadAPI as grpc.ServiceClientConstructor;
  return serviceCtor;
}

/** `unix:///p`, `unix:/p` or `/p` → the grpc-js target `unix:/p`. */
export function workloadApiTarget(socket: string): string {
  const p = socket.startsWith("unix://") ? socket.slice(7) : socket.startsWith("unix:") ? socket.slice(5) : socket;
  if (!p.startsWith("/")) throw new TypeError("socketPath must be an absolute path or a unix:// address");
  return `unix:${p}`;
}

interface StreamState {
  call: grpc.ClientReadableStream<unknown> | undefined;
  timer: NodeJS.Timeout | undefined;
  attempt: number;
  connects: number;
  messages: number;
  lastError: string | undefined;
}

type Listener<T> = (value: T) => void;
type UnaryMethod = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, res: unknown) => void,
) => grpc.ClientUnaryCall;
type StreamMethod = (request: object, metadata: grpc.Metadata) => grpc.ClientReadableStream<unknown>;

export class WorkloadApiClient {
  readonly target: string;
  readonly #client: grpc.Client;
  readonly #backoffInitialMs: number;
  readonly #backoffMaxMs: number;
  readonly #callTimeoutMs: number;
  readonly #random: () => number;
  readonly #streams = new Map<WorkloadStream, StreamState>();
  readonly #x509Listeners = new Set<Listener<WorkloadSnapshot>>();
  readonly #x509BundleListeners = new Set<Listener<WorkloadSnapshot>>();
  readonly #jwtBundleListeners = new Set<Listener<ReadonlyMap<string, JSONWebKeySet>>>();
  readonly #errorListeners = new Set<Listener<HexrError>>();
  readonly #readyWaiters = new Set<{ resolve: (s: WorkloadSnapshot) => void; reject: (e: Error) => void }>();
  #snapshot: WorkloadSnapshot = Object.freeze({ svids: [], x509Bundles: new Map(), jwtBundles: new Map() });
  /** Whether FetchX509Bundles has delivered; before that, x509Bundles come with the SVIDs. */
  #bundlesStreamed = false;
  #closed = false;
  #fatal: HexrError | undefined;

  constructor(opts: WorkloadApiClientOptions = {}) {
    const socket = opts.socketPath ?? process.env[SPIFFE_ENDPOINT_SOCKET_ENV];
    if (!socket) throw new TypeError(`socketPath is required (or set ${SPIFFE_ENDPOINT_SOCKET_ENV})`);
    this.target = workloadApiTarget(socket);
    this.#backoffInitialMs = positive(opts.backoffInitialMs ?? DEFAULT_BACKOFF_INITIAL_MS, "backoffInitialMs");
    this.#backoffMaxMs = positive(opts.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS, "backoffMaxMs");
    if (this.#backoffMaxMs < this.#backoffInitialMs) throw new TypeError("backoffMaxMs must be >= backoffInitialMs");
    this.#callTimeoutMs = positive(opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, "callTimeoutMs");
    this.#random = opts.random ?? Math.random;
    const Ctor = workloadApiService();
    this.#client = new Ctor(this.target, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      // grpc-js's own subchannel backoff (default up to 120 s) would otherwise outlast ours after an
      // agent restart; keep it within our bound so a returning agent is seen promptly.
      "grpc.initial_reconnect_backoff_ms": this.#backoffInitialMs,
      "grpc.max_reconnect_backoff_ms": this.#backoffMaxMs,
    });
    for (const kind of opts.streams ?? (["x509", "x509Bundles", "jwtBundles"] as const)) {
      this.#streams.set(kind, {
        call: undefined,
        timer: undefined,
        attempt: 0,
        connects: 0,
        messages: 0,
        lastError: undefined,
      });
      this.#open(kind);
    }
  }

  /** The latest SVIDs and bundles; the object is immutable and replaced whole on every update. */
  current(): WorkloadSnapshot {
    return this.#snapshot;
  }

  /**
   * Resolves with the first snapshot that has an X.509-SVID. Rejects when the client is closed, the agent
   * refuses the call for good (InvalidArgument), or `timeoutMs` passes (the error names the last failure,
   * e.g. PermissionDenied "no identity issued" while a registration entry is missing).
   */
  ready(opts: { timeoutMs?: number } = {}): Promise<WorkloadSnapshot> {
    if (this.#snapshot.svids.length > 0) return Promise.resolve(this.#snapshot);
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#closed) return Promise.reject(new HexrError("identity.workload_api.closed", "client closed"));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (s: WorkloadSnapshot) => {
          clearTimeout(timer);
          resolve(s);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer =
        opts.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.#readyWaiters.delete(waiter);
              const last = this.#streams.get("x509")?.lastError;
              reject(
                new HexrError(
                  "identity.workload_api.timeout",
                  `no X.509-SVID from ${this.target} within ${opts.timeoutMs} ms${last ? ` (last error: ${last})` : ""}`,
                ),
              );
            }, opts.timeoutMs);
      this.#readyWaiters.add(waiter);
    });
  }

  /** Called with the new snapshot whenever the X.509-SVIDs change. Returns an unsubscribe function. */
  onX509Update(listener: Listener<WorkloadSnapshot>): () => void {
    return subscribe(this.#x509Listeners, listener);
  }

  /** Called whenever the X.509 bundles change. */
  onX509BundlesUpdate(listener: Listener<WorkloadSnapshot>): () => void {
    return subscribe(this.#x509BundleListeners, listener);
  }

  /** Called with trust domain → JWKS whenever the JWT bundles change. */
  onJwtBundlesUpdate(listener: Listener<ReadonlyMap<string, JSONWebKeySet>>): () => void {
    return subscribe(this.#jwtBundleListeners, listener);
  }

  /** Stream failures and malformed responses (the client keeps retrying; these are for logs/metrics). */
  onError(listener: Listener<HexrError>): () => void {
    return subscribe(this.#errorListeners, listener);
  }

  stats(): Readonly<Record<WorkloadStream, StreamStats | undefined>> {
    const one = (k: WorkloadStream): StreamStats | undefined => {
      const s = this.#streams.get(k);
      return s && { connects: s.connects, messages: s.messages, lastError: s.lastError };
    };
    return { x509: one("x509"), x509Bundles: one("x509Bundles"), jwtBundles: one("jwtBundles") };
  }

  /**
   * Mints a JWT-SVID for `audience`. With `spiffeId`, the SVID for that identity; otherwise the first
   * (default) one.
   */
  fetchJwtSvid(req: { audience: string | readonly string[]; spiffeId?: string }): Promise<JwtSvid> {
    const audience = typeof req.audience === "string" ? [req.audience] : [...req.audience];
    if (audience.length === 0 || audience.some((a) => typeof a !== "string" || a === "")) {
      throw new TypeError("audience must be a non-empty string or array of non-empty strings");
    }
    return this.#unary<{ svids: Array<{ spiffe_id: string; svid: string; hint: string }> }>(
      "FetchJWTSVID",
      { audience, spiffe_id: req.spiffeId ?? "" },
      "jwt_svid_failed",
    ).then((res) => {
      const svid = res.svids.find((s) => req.spiffeId === undefined || s.spiffe_id === req.spiffeId);
      if (!svid) throw new HexrError("identity.workload_api.jwt_svid_failed", "agent returned no JWT-SVID");
      let exp: unknown;
      try {
        exp = decodeJwt(svid.svid).exp;
      } catch (e) {
        throw new HexrError("identity.workload_api.jwt_svid_failed", "agent returned a malformed JWT-SVID", {
          cause: e,
        });
      }
      if (typeof exp !== "number") throw new HexrError("identity.workload_api.jwt_svid_failed", "JWT-SVID has no exp");
      return { spiffeId: svid.spiffe_id, token: svid.svid, hint: svid.hint, expiresAt: new Date(exp * 1000) };
    });
  }

  /** Asks the agent to validate a JWT-SVID for `audience`; resolves with its SPIFFE ID and claims. */
  async validateJwtSvid(req: {
    audience: string;
    token: string;
  }): Promise<{ spiffeId: string; claims: Record<string, unknown> }> {
    const res = await this.#unary<{ spiffe_id: string; claims?: { fields?: Record<string, ProtoValue> } }>(
      "ValidateJWTSVID",
      { audience: req.audience, svid: req.token },
      "jwt_svid_invalid",
    );
    return { spiffeId: res.spiffe_id, claims: structToJson(res.claims?.fields ?? {}) };
  }

  /** Stops every stream and timer and closes the channel. `current()` keeps its last value. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#streams.values()) {
      clearTimeout(s.timer);
      s.call?.cancel();
    }
    for (const w of this.#readyWaiters) w.reject(new HexrError("identity.workload_api.closed", "client closed"));
    this.#readyWaiters.clear();
    this.#client.close();
  }

  #metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set(WORKLOAD_API_HEADER, "true");
    return md;
  }

  #unary<T>(method: string, request: object, code: string): Promise<T> {
    if (this.#closed) return Promise.reject(new HexrError("identity.workload_api.closed", "client closed"));
    const fn = (this.#client as unknown as Record<string, UnaryMethod>)[method]!;
    return new Promise((resolve, reject) => {
      fn.call(this.#client, request, this.#metadata(), { deadline: Date.now() + this.#callTimeoutMs }, (err, res) =>
        err
          ? reject(
              new HexrError(`identity.workload_api.${code}`, `${method}: ${err.details || err.message}`, {
                cause: err,
              }),
            )
          : resolve(res as T),
      );
    });
  }

  #open(kind: WorkloadStream): void {
    const st = this.#streams.get(kind);
    if (!st || this.#closed) return;
    st.timer = undefined;
    st.connects++;
    const fn = (this.#client as unknown as Record<string, StreamMethod>)[STREAM_METHOD[kind]]!;
    const call = fn.call(this.#client, {}, this.#metadata());
    st.call = call;
    call.on("data", (msg: unknown) => {
      st.attempt = 0;
      st.messages++;
      st.lastError = undefined;
      try {
        this.#handle(kind, msg);
      } catch (e) {
        this.#report(
          kind,
          e instanceof HexrError
            ? e
            : new HexrError("identity.workload_api.bad_response", String((e as Error)?.message ?? e), { cause: e }),
        );
      }
    });
    // 'status' always follows the end of a call; 'error' carries the same status and only needs a handler.
    call.on("error", () => {});
    call.on("status", (status: grpc.StatusObject) => {
      if (st.call !== call) return;
      st.call = undefined;
      if (this.#closed) return;
      const err = new HexrError(
        "identity.workload_api.stream_ended",
        `${STREAM_METHOD[kind]} ended: ${grpc.status[status.code] ?? status.code}${status.details ? ` ${status.details}` : ""}`,
      );
      st.lastError = err.message;
      if (status.code === grpc.status.INVALID_ARGUMENT) {
        // The spec reserves InvalidArgument for client bugs (e.g. a missing security header): retrying won't help.
        this.#fail(kind, err);
        return;
      }
      if (status.code !== grpc.status.OK) this.#report(kind, err);
      this.#scheduleReconnect(kind, st);
    });
  }

  #scheduleReconnect(kind: WorkloadStream, st: StreamState): void {
    const ceiling = Math.min(this.#backoffMaxMs, this.#backoffInitialMs * 2 ** Math.min(st.attempt, 30));
    st.attempt++;
    // "Equal jitter": never less than half the step, so a flapping agent is not hammered.
    const delay = ceiling / 2 + this.#random() * (ceiling / 2);
    // Not unref'd: an open client is ongoing work, like its socket; close() clears the timer.
    st.timer = setTimeout(() => this.#open(kind), delay);
  }

  #handle(kind: WorkloadStream, msg: unknown): void {
    if (kind === "x509") {
      const m = msg as { svids: X509SvidMessage[] };
      if (m.svids.length === 0)
        throw new HexrError("identity.workload_api.bad_response", "X509SVIDResponse without SVIDs");
      const svids = Object.freeze(m.svids.map(parseX509Svid));
      // Each SVID arrives with its trust domain's bundle. Until FetchX509Bundles has spoken (the two streams
      // are independent and that one can lag under load), those bundles are the X.509 bundles, so a
      // snapshot with an SVID never has an empty trust store.
      const x509Bundles = this.#bundlesStreamed ? this.#snapshot.x509Bundles : bundlesFromSvids(m.svids);
      this.#snapshot = Object.freeze({ ...this.#snapshot, svids, x509Bundles });
      const snap = this.#snapshot;
      for (const w of this.#readyWaiters) w.resolve(snap);
      this.#readyWaiters.clear();
      this.#emit(this.#x509Listeners, snap);
    } else if (kind === "x509Bundles") {
      const m = msg as { bundles: Record<string, Buffer> };
      const bundles = new Map<string, readonly string[]>();
      for (const [id, der] of Object.entries(m.bundles))
        bundles.set(trustDomainName(id), Object.freeze(splitDer(der).map(certPem)));
      this.#bundlesStreamed = true;
      this.#snapshot = Object.freeze({ ...this.#snapshot, x509Bundles: bundles });
      this.#emit(this.#x509BundleListeners, this.#snapshot);
    } else {
      const m = msg as { bundles: Record<string, Buffer> };
      const bundles = new Map<string, JSONWebKeySet>();
      for (const [id, json] of Object.entries(m.bundles)) {
        const jwks = JSON.parse(json.toString("utf8")) as JSONWebKeySet;
        if (!jwks || !Array.isArray(jwks.keys))
          throw new HexrError("identity.workload_api.bad_response", `JWT bundle for ${id} is not a JWKS`);
        bundles.set(trustDomainName(id), jwks);
      }
      this.#snapshot = Object.freeze({ ...this.#snapshot, jwtBundles: bundles });
      this.#emit(this.#jwtBundleListeners, bundles);
    }
  }

  #emit<T>(listeners: Set<Listener<T>>, value: T): void {
    for (const l of listeners) {
      try {
        l(value);
      } catch (e) {
        this.#report(
          "x509",
          new HexrError("internal.listener_failed", `update listener threw: ${(e as Error)?.message ?? e}`, {
            cause: e,
          }),
        );
      }
    }
  }

  #report(kind: WorkloadStream | undefined, err: HexrError): void {
    const st = kind && this.#streams.get(kind);
    if (st) st.lastError = err.message;
    for (const l of this.#errorListeners) {
      try {
        l(err);
      } catch {
        // an error listener that throws has nowhere left to report to
      }
    }
  }

  #fail(kind: WorkloadStream, err: HexrError): void {
    this.#report(kind, err);
    if (kind !== "x509") return;
    this.#fatal = err;
    for (const w of this.#readyWaiters) w.reject(err);
    this.#readyWaiters.clear();
  }
}

function positive(v: number, name: string): number {
  if (!Number.isFinite(v) || v <= 0) throw new TypeError(`${name} must be a positive number`);
  return v;
}

function subscribe<T>(set: Set<Listener<T>>, l: Listener<T>): () => void {
  set.add(l);
  return () => set.delete(l);
}

function trustDomainName(id: string): string {
  return id.startsWith("spiffe://") ? id.slice("spiffe://".length) : id;
}

/** Splits concatenated DER (the Workload API's chain and bundle encoding) into single objects. */
export function splitDer(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf[off] !== 0x30 || off + 2 > buf.length)
      throw new HexrError("identity.workload_api.bad_der", "expected a DER SEQUENCE");
    const first = buf[off + 1]!;
    let len: number;
    let header: number;
    if (first < 0x80) {
      len = first;
      header = 2;
    } else {
      const n = first & 0x7f;
      if (n === 0 || n > 4 || off + 2 + n > buf.length)
        throw new HexrError("identity.workload_api.bad_der", "bad DER length");
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[off + 2 + i]!;
      header = 2 + n;
    }
    const end = off + header + len;
    if (end > buf.length) throw new HexrError("identity.workload_api.bad_der", "truncated DER");
    out.push(buf.subarray(off, end));
    off = end;
  }
  return out;
}

/** Trust domain → bundle PEMs, from the bundle each X509SVID message carries for its own trust domain. */
function bundlesFromSvids(svids: readonly X509SvidMessage[]): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const m of svids) {
    const td = trustDomainName(m.spiffe_id).split("/", 1)[0]!;
    if (!out.has(td) && m.bundle.length > 0) out.set(td, Object.freeze(splitDer(m.bundle).map(certPem)));
  }
  return out;
}

function certPem(der: Buffer): string {
  return new X509Certificate(der).toString("pem");
}

function parseX509Svid(m: X509SvidMessage): X509Svid {
  const chain = splitDer(m.x509_svid).map((der) => new X509Certificate(der));
  const leaf = chain[0];
  if (!leaf) throw new HexrError("identity.workload_api.bad_response", `SVID for ${m.spiffe_id} has no certificate`);
  const keyPem = createPrivateKey({ key: m.x509_svid_key, format: "der", type: "pkcs8" })
    .export({ format: "pem", type: "pkcs8" })
    .toString();
  return Object.freeze({
    spiffeId: m.spiffe_id,
    hint: m.hint,
    certChainPem: `${chain.map((c) => c.toString("pem")).join("\n")}\n`,
    keyPem,
    bundlePem: `${splitDer(m.bundle).map(certPem).join("\n")}\n`,
    expiresAt: leaf.notAfter,
    serialNumber: leaf.serialNumber,
  });
}

function valueToJson(v: ProtoValue): unknown {
  switch (v.kind) {
    case "numberValue":
      return v.numberValue;
    case "stringValue":
      return v.stringValue;
    case "boolValue":
      return v.boolValue;
    case "structValue":
      return structToJson(v.structValue?.fields ?? {});
    case "listValue":
      return (v.listValue?.values ?? []).map(valueToJson);
    default:
      return null;
  }
}

function structToJson(fields: Record<string, ProtoValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = valueToJson(v);
  return out;
}

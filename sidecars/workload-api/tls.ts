/**
 * mTLS for our gRPC servers (and their test clients) from the Workload API's current X.509-SVID, with
 * rotation in place.
 *
 * grpc-js 1.14 can rotate without a restart: `ServerCredentials` built by
 * `experimental.createCertificateProviderServerCredentials` register a watcher on the provider, and every
 * update is applied with `Http2SecureServer.setSecureContext` — new handshakes get the new certificate and
 * bundle, established connections keep theirs, nothing is rebound. `createSsl` has no such hook (its
 * context is fixed at bind). The channel side (`createCertificateProviderChannelCredentials`) builds a
 * fresh secure context per connection the same way.
 *
 * Fail closed on expiry: if the served SVID expires before a new one arrives (agent gone too long), the
 * provider withdraws the identity; grpc-js then drops new connections until an SVID arrives.
 *
 * @example
 *   const wl = new WorkloadApiClient({ socketPath });
 *   await wl.ready();
 *   server.bindAsync("127.0.0.1:0", createSvidServerCredentials(wl), cb);
 *   // in a handler: peerSpiffeId(call) → "spiffe://hexr.cloud/agent/acme/crew/researcher"
 */
import type { PeerCertificate } from "node:tls";
import { createRequire } from "node:module";
import type * as grpc from "@grpc/grpc-js";
import type { WorkloadSnapshot, X509Svid } from "./client.ts";

// grpc-js only when credentials are made (peerSpiffeId, on every Check over TLS, needs none of it)
const require = createRequire(import.meta.url);
const grpcJs = (): typeof grpc => require("@grpc/grpc-js") as typeof grpc;

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

/** What the provider needs from a Workload API client (WorkloadApiClient satisfies it). */
export interface SvidSource {
  current(): WorkloadSnapshot;
  onX509Update(listener: (s: WorkloadSnapshot) => void): () => void;
  onX509BundlesUpdate?(listener: (s: WorkloadSnapshot) => void): () => void;
}

export interface SvidTlsOptions {
  /** Present the SVID with this SPIFFE ID (default: the first, i.e. default, SVID). */
  readonly spiffeId?: string;
  /** Trust domains whose bundles verify the peer (default: every bundle the agent hands out). */
  readonly trustDomains?: readonly string[];
  /** Epoch milliseconds (default `Date.now`). */
  readonly now?: () => number;
}

/** setTimeout's ceiling; longer expiries are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A grpc-js `CertificateProvider` fed by the Workload API: identity = the chosen SVID (chain + key),
 * CA = the chosen trust bundles. Subscribes to the source while grpc-js has listeners registered.
 */
export class SvidCertificateProvider implements grpc.experimental.CertificateProvider {
  readonly #source: SvidSource;
  readonly #spiffeId: string | undefined;
  readonly #trustDomains: ReadonlySet<string> | undefined;
  readonly #now: () => number;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();
  #unsubscribe: Array<() => void> = [];
  #identity: grpc.experimental.IdentityCertificateUpdate | null = null;
  #identityKey = "";
  #ca: grpc.experimental.CaCertificateUpdate | null = null;
  #caKey = "";
  #expiryTimer: NodeJS.Timeout | undefined;
  #rotations = 0;

  constructor(source: SvidSource, opts: SvidTlsOptions = {}) {
    this.#source = source;
    this.#spiffeId = opts.spiffeId;
    this.#trustDomains = opts.trustDomains && new Set(opts.trustDomains);
    this.#now = opts.now ?? Date.now;
  }

  /** Identity changes pushed so far (the first SVID counts as one). */
  get rotations(): number {
    return this.#rotations;
  }

  /** The SVID currently offered, or undefined (none yet, or expired). */
  get svid(): X509Svid | undefined {
    return this.#identity ? this.#pick(this.#source.current()) : undefined;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#ref();
    this.#caListeners.add(listener);
    this.#pushInitial(this.#caListeners, listener, () => this.#ca);
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
    this.#unref();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#ref();
    this.#identityListeners.add(listener);
    this.#pushInitial(this.#identityListeners, listener, () => this.#identity);
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
    this.#unref();
  }

  /**
   * grpc-js registers its watcher only after adding provider listeners, so the first value must arrive
   * on a later tick (as its own FileWatcherCertificateProvider does). Nothing is pushed while there is
   * no material yet: for channels that means "still loading" (calls wait) rather than "failed".
   */
  #pushInitial<T>(set: Set<(v: T | null) => void>, listener: (v: T | null) => void, value: () => T | null): void {
    process.nextTick(() => {
      const v = value();
      if (v !== null && set.has(listener)) listener(v);
    });
  }

  #ref(): void {
    if (this.#unsubscribe.length > 0) return;
    const update = () => this.#update(this.#source.current());
    this.#unsubscribe.push(this.#source.onX509Update(update));
    if (this.#source.onX509BundlesUpdate) this.#unsubscribe.push(this.#source.onX509BundlesUpdate(update));
    this.#update(this.#source.current());
  }

  #unref(): void {
    if (this.#caListeners.size > 0 || this.#identityListeners.size > 0) return;
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    clearTimeout(this.#expiryTimer);
  }

  #pick(s: WorkloadSnapshot): X509Svid | undefined {
    return this.#spiffeId === undefined ? s.svids[0] : s.svids.find((v) => v.spiffeId === this.#spiffeId);
  }

  #update(s: WorkloadSnapshot): void {
    const svid = this.#pick(s);
    const live = svid !== undefined && svid.expiresAt.getTime() > this.#now();

    const idKey = live ? svid.certChainPem + svid.keyPem : "";
    if (idKey !== this.#identityKey) {
      this.#identityKey = idKey;
      this.#identity = live
        ? { certificate: Buffer.from(svid.certChainPem), privateKey: Buffer.from(svid.keyPem) }
        : null;
      if (live) this.#rotations++;
      for (const l of this.#identityListeners) l(this.#identity);
    }

    const caPem = this.#caPem(s);
    if (caPem !== this.#caKey) {
      this.#caKey = caPem;
      this.#ca = caPem ? { caCertificate: Buffer.from(caPem) } : null;
      for (const l of this.#caListeners) l(this.#ca);
    }

    clearTimeout(this.#expiryTimer);
    if (live) {
      const ms = Math.min(svid.expiresAt.getTime() - this.#now() + 1, MAX_TIMER_MS);
      this.#expiryTimer = setTimeout(() => this.#update(this.#source.current()), ms);
      this.#expiryTimer.unref();
    }
  }

  #caPem(s: WorkloadSnapshot): string {
    const pems: string[] = [];
    for (const [td, certs] of s.x509Bundles) {
      if (!this.#trustDomains || this.#trustDomains.has(td)) pems.push(...certs);
    }
    return pems.join("\n");
  }
}

export interface SvidServerCredentialsOptions extends SvidTlsOptions {
  /** Refuse clients without a certificate from the trust bundle (default true: mTLS). */
  readonly requireClientCertificate?: boolean;
}

/**
 * Server credentials that present the current SVID and verify clients against the trust bundles,
 * following rotations without a restart. Which peer may call what is the caller's check ({@link peerSpiffeId}).
 */
export function createSvidServerCredentials(
  source: SvidSource,
  opts: SvidServerCredentialsOptions = {},
): grpc.ServerCredentials {
  return svidServerCredentials(new SvidCertificateProvider(source, opts), opts.requireClientCertificate ?? true);
}

/**
 * Server credentials from a provider the caller keeps, e.g. to report `provider.svid` / `rotations` in
 * health output or tests.
 *
 * @example
 *   const provider = new SvidCertificateProvider(wl, { spiffeId: "spiffe://hexr.cloud/hexr/authz" });
 *   server.bindAsync("0.0.0.0:9191", svidServerCredentials(provider), cb);
 */
export function svidServerCredentials(
  provider: SvidCertificateProvider,
  requireClientCertificate = true,
): grpc.ServerCredentials {
  // grpc-js 1.14 passes the two provider arguments to its constructor in swapped order; handing the same
  // provider in both places makes that harmless.
  return grpcJs().experimental.createCertificateProviderServerCredentials(provider, provider, requireClientCertificate);
}

export interface SvidChannelCredentialsOptions extends SvidTlsOptions {
  /**
   * Which server SPIFFE IDs are acceptable: an exact ID or a predicate. Default: any SPIFFE ID whose
   * chain verified against the bundles. Hostnames are never checked — SVIDs identify by URI SAN.
   */
  readonly serverId?: string | ((spiffeId: string) => boolean);
}

/** Client credentials presenting the current SVID and authenticating the server by SPIFFE ID. */
export function createSvidChannelCredentials(
  source: SvidSource,
  opts: SvidChannelCredentialsOptions = {},
): grpc.ChannelCredentials {
  const provider = new SvidCertificateProvider(source, opts);
  const accept = opts.serverId;
  return grpcJs().experimental.createCertificateProviderChannelCredentials(provider, provider, {
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      const id = spiffeIdFromPeerCertificate(cert);
      if (id === undefined) return new Error("server certificate has no single SPIFFE ID URI SAN");
      if (accept === undefined) return undefined;
      const ok = typeof accept === "string" ? id === accept : accept(id);
      return ok ? undefined : new Error(`server SPIFFE ID ${id} is not accepted`);
    },
  });
}

/** The SPIFFE ID in a TLS peer certificate: its only URI SAN, when that is a `spiffe://` URI. */
export function spiffeIdFromPeerCertificate(cert: PeerCertificate | undefined): string | undefined {
  const san = cert?.subjectaltname;
  if (!san) return undefined;
  const uris = san.split(", ").filter((e) => e.startsWith("URI:"));
  if (uris.length !== 1) return undefined; // X.509-SVID spec: exactly one URI SAN
  const uri = uris[0]!.slice(4);
  return uri.startsWith("spiffe://") ? uri : undefined;
}

/** The verified client SPIFFE ID of a gRPC call on an mTLS server, or undefined. */
export function peerSpiffeId(call: {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}): string | undefined {
  return spiffeIdFromPeerCertificate(call.getAuthContext()?.sslPeerCertificate);
}

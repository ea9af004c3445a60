/**
 * JWT-SVID verification fed by the Workload API: the JWT bundles streamed by `FetchJWTBundles` are
 * handed to {@link JwtSvidVerifier.setBundles} on every update, so a key the SPIRE server adds or
 * retires takes effect without a restart.
 *
 * Fail closed: until the first non-empty bundle set has arrived, every token is refused with
 * `jwt_svid.no_bundles` (rather than with a misleading "foreign trust domain"). Once bundles have arrived
 * they are kept across agent restarts, like the X.509 material (fail static).
 *
 * @example
 *   const jwt = new WorkloadJwtSvidVerifier(workloadApi, {
 *     audiences: ["hexr-authz"], trustDomains: new Set(["hexr.cloud"]),
 *     onBundles: (r) => log.info({ event: "jwt_bundles_updated", ...r }),
 *   });
 *   const principal = await jwt.verify(token); // throws HexrError jwt_svid.*
 */
import type { JSONWebKeySet } from "jose";
import { HexrError } from "../../filters/errors.ts";
import {
  type BundleLoadReport,
  JwtSvidVerifier,
  type JwtSvidVerifierOptions,
  type Principal,
} from "../../filters/identity/index.ts";

/** What the verifier needs from a Workload API client (WorkloadApiClient satisfies it). */
export interface JwtBundleSource {
  current(): { readonly jwtBundles: ReadonlyMap<string, JSONWebKeySet> };
  onJwtBundlesUpdate(listener: (bundles: ReadonlyMap<string, JSONWebKeySet>) => void): () => void;
}

/** A bundle update as applied: trust domains present, keys imported, keys skipped and why (no key material). */
export interface JwtBundleUpdate extends BundleLoadReport {
  readonly trustDomains: readonly string[];
}

export interface WorkloadJwtSvidVerifierOptions extends JwtSvidVerifierOptions {
  /** Called after each bundle update is applied (for logs and metrics). */
  readonly onBundles?: (update: JwtBundleUpdate) => void;
}

export class WorkloadJwtSvidVerifier {
  readonly #verifier: JwtSvidVerifier;
  readonly #onBundles: ((update: JwtBundleUpdate) => void) | undefined;
  readonly #unsubscribe: () => void;
  #ready = false;

  constructor(source: JwtBundleSource, opts: WorkloadJwtSvidVerifierOptions) {
    const { onBundles, ...verifierOpts } = opts;
    this.#verifier = new JwtSvidVerifier(verifierOpts);
    this.#onBundles = onBundles;
    this.#unsubscribe = source.onJwtBundlesUpdate((b) => this.#apply(b));
    if (source.current().jwtBundles.size > 0) this.#apply(source.current().jwtBundles);
  }

  /** True once a non-empty set of JWT bundles has been received. */
  get ready(): boolean {
    return this.#ready;
  }

  /**
   * The agent principal of a valid JWT-SVID. Rejects with HexrError `jwt_svid.no_bundles` before the
   * first bundles arrived, else with the codes of {@link JwtSvidVerifier.verify}.
   */
  verify(token: string): Promise<Principal> {
    if (!this.#ready) {
      return Promise.reject(
        new HexrError("jwt_svid.no_bundles", "no JWT bundles received from the Workload API yet (failing closed)"),
      );
    }
    return this.#verifier.verify(token);
  }

  /** Stops following bundle updates; the last bundles stay in use. */
  close(): void {
    this.#unsubscribe();
  }

  #apply(bundles: ReadonlyMap<string, JSONWebKeySet>): void {
    // An empty update never replaces good bundles: without keys every token would fail anyway, and the
    // agent never legitimately has no bundle for its own trust domain.
    if (bundles.size === 0) return;
    const report = this.#verifier.setBundles(bundles);
    this.#ready = true;
    this.#onBundles?.({ ...report, trustDomains: [...bundles.keys()] });
  }
}

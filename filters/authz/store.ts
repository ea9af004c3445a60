/**
 * The policy currently in force, hot-reloaded from a bundle file. A replacement is read, verified and
 * compiled off to the side, then swapped in with one assignment; a bundle that fails any step is
 * refused, logged (`bundle_rejected`) and counted, and the last good policy keeps serving.
 *
 * Change detection is belt and braces: `fs.watch` on the parent directory reacts at once, and a stat
 * poll (device, inode, size, mtime; every `pollMs`) catches what watchers miss — notably Kubernetes
 * ConfigMap updates, which swap a `..data` symlink rather than write the file.
 *
 * @example
 *   const store = await PolicyStore.open("/etc/hexr/policy/bundle.tar.gz", { logger });
 *   store.watch();
 *   store.onSwap(() => cache.clear());
 *   store.current()?.engine.evaluate(input);
 */
import { createHash } from "node:crypto";
import { watch as fsWatch, type FSWatcher } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { HexrError, isHexrError } from "../errors.ts";
import { DEFAULT_BUNDLE_LIMITS, readBundle, type BundleLimits } from "./bundle.ts";
import { PolicyEngine } from "./engine.ts";
import type { Logger } from "./logger.ts";
import { prepareVerification, type VerificationConfig } from "./signature.ts";

export const DEFAULT_POLL_MS = 1_000;
export const MIN_POLL_MS = 10;
/** Coalesces the burst of directory events one atomic replace produces. */
const WATCH_DEBOUNCE_MS = 25;

export interface PolicySnapshot {
  readonly engine: PolicyEngine;
  /** Manifest revision, or `sha256:<12 hex>` of the archive when the manifest has none. */
  readonly revision: string;
  /** 1 for the first policy; +1 on every successful swap. */
  readonly generation: number;
  readonly signed: boolean;
  /** sha256 of the bundle archive. */
  readonly digest: string;
}

export interface PolicyStoreOptions {
  readonly logger: Logger;
  readonly verification?: VerificationConfig;
  /** Refuse unsigned bundles. Requires `verification`. */
  readonly strict?: boolean;
  /** Stat poll interval; default 1000 ms. */
  readonly pollMs?: number;
  /** Also react to `fs.watch` events (default true); the poll runs either way. */
  readonly fsWatch?: boolean;
  readonly limits?: Partial<BundleLimits>;
  /** When false, `open` succeeds without a loadable bundle and `current()` is undefined until one arrives. */
  readonly requireInitial?: boolean;
}

export type ReloadOutcome = "swapped" | "unchanged" | "rejected";

type SwapListener = (next: PolicySnapshot, previous: PolicySnapshot | undefined) => void;
type RejectListener = (error: HexrError) => void;

export class PolicyStore {
  readonly path: string;
  readonly #opts: PolicyStoreOptions;
  readonly #log: Logger;
  readonly #limits: BundleLimits;
  #current: PolicySnapshot | undefined;
  #statSig = "";
  #running: Promise<ReloadOutcome> | undefined;
  #queued: Promise<ReloadOutcome> | undefined;
  #queuedForce = false;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #closed = false;
  #missingLogged = false;
  #swaps = 0;
  #rejections = 0;
  readonly #swapListeners = new Set<SwapListener>();
  readonly #rejectListeners = new Set<RejectListener>();

  private constructor(path: string, opts: PolicyStoreOptions) {
    this.path = path;
    this.#opts = opts;
    this.#log = opts.logger;
    this.#limits = { ...DEFAULT_BUNDLE_LIMITS, ...opts.limits };
  }

  /** Loads the bundle at `path`; throws its `HexrError` (e.g. `bundle.corrupt`) unless `requireInitial: false`. */
  static async open(path: string, opts: PolicyStoreOptions): Promise<PolicyStore> {
    const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    if (!Number.isInteger(pollMs) || pollMs < MIN_POLL_MS)
      throw new TypeError(`pollMs must be an integer ≥ ${MIN_POLL_MS}`);
    if (opts.strict && !opts.verification) throw new TypeError("strict needs verification keys");
    if (opts.verification) prepareVerification(opts.verification);
    const store = new PolicyStore(path, opts);
    let firstError: HexrError | undefined;
    const off = store.onReject((e) => {
      firstError ??= e;
    });
    await store.reload();
    off();
    if (!store.#current && opts.requireInitial !== false) {
      throw firstError ?? new HexrError("bundle.not_found", `no policy bundle at ${path}`);
    }
    return store;
  }

  /** The policy in force (undefined only with `requireInitial: false` before the first good bundle). */
  current(): PolicySnapshot | undefined {
    return this.#current;
  }

  get stats(): { readonly swaps: number; readonly rejections: number } {
    return { swaps: this.#swaps, rejections: this.#rejections };
  }

  /** Calls `fn` after every swap; returns an unsubscribe function. */
  onSwap(fn: SwapListener): () => void {
    this.#swapListeners.add(fn);
    return () => this.#swapListeners.delete(fn);
  }

  /** Calls `fn` for every refused bundle; returns an unsubscribe function. */
  onReject(fn: RejectListener): () => void {
    this.#rejectListeners.add(fn);
    return () => this.#rejectListeners.delete(fn);
  }

  /** Starts watching (idempotent). */
  watch(): void {
    if (this.#closed || this.#timer) return;
    this.#timer = setInterval(() => void this.#run(false), this.#opts.pollMs ?? DEFAULT_POLL_MS);
    this.#timer.unref();
    if (this.#opts.fsWatch === false) return;
    try {
      this.#watcher = fsWatch(dirname(this.path), { persistent: false }, () => this.#soon());
      this.#watcher.on("error", (e) => {
        this.#log.warn({ event: "bundle_watch_failed", path: this.path, message: e.message, fallback: "poll" });
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (e) {
      this.#log.warn({
        event: "bundle_watch_failed",
        path: this.path,
        message: (e as Error).message,
        fallback: "poll",
      });
    }
  }

  /** Reads the file now, even if its stat looks unchanged. Resolves once done; never rejects. */
  reload(): Promise<ReloadOutcome> {
    return this.#run(true);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#watcher?.close();
    this.#timer = this.#debounce = this.#watcher = undefined;
    this.#swapListeners.clear();
    this.#rejectListeners.clear();
  }

  #soon(): void {
    if (this.#closed || this.#debounce) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.#run(false);
    }, WATCH_DEBOUNCE_MS);
    this.#debounce.unref();
  }

  /** Single flight: one check at a time; triggers during a check coalesce into one follow-up. */
  #run(force: boolean): Promise<ReloadOutcome> {
    if (this.#running) {
      this.#queuedForce ||= force;
      this.#queued ??= this.#running.then(() => {
        const f = this.#queuedForce;
        this.#queued = undefined;
        this.#queuedForce = false;
        return this.#run(f);
      });
      return this.#queued;
    }
    const p = this.#check(force).finally(() => {
      this.#running = undefined;
    });
    this.#running = p;
    return p;
  }

  async #check(force: boolean): Promise<ReloadOutcome> {
    if (this.#closed) return "unchanged";
    let sig: string;
    let size: number;
    try {
      const st = await stat(this.path); // follows symlinks: a ConfigMap swap changes dev/ino
      sig = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
      size = st.size;
    } catch (e) {
      const code = (e as { code?: string }).code ?? "unknown";
      if (force) {
        this.#reject(new HexrError("bundle.not_found", `cannot stat policy bundle (${code})`));
        return "rejected";
      }
      // Polling: say it once per outage, keep serving the last good policy.
      if (!this.#missingLogged) this.#log.warn({ event: "bundle_unavailable", path: this.path, code });
      this.#missingLogged = true;
      return "unchanged";
    }
    this.#missingLogged = false;
    if (!force && sig === this.#statSig) return "unchanged";
    this.#statSig = sig;

    let digest = "";
    try {
      if (size > this.#limits.maxCompressedBytes) {
        throw new HexrError("bundle.too_large", `bundle is larger than ${this.#limits.maxCompressedBytes} bytes`);
      }
      const bytes = await readFile(this.path);
      digest = createHash("sha256").update(bytes).digest("hex");
      if (digest === this.#current?.digest) return "unchanged";
      const bundle = await readBundle(bytes, {
        limits: this.#limits,
        ...(this.#opts.verification ? { verification: this.#opts.verification } : {}),
        ...(this.#opts.strict ? { strict: true } : {}),
      });
      const revision = bundle.revision || `sha256:${digest.slice(0, 12)}`;
      const engine = await PolicyEngine.load({ wasm: bundle.wasm, data: bundle.data, revision });
      if (this.#closed) return "unchanged";
      if (this.#opts.verification && !bundle.signed)
        this.#log.warn({ event: "bundle_unsigned", path: this.path, revision });
      this.#swap({ engine, revision, generation: (this.#current?.generation ?? 0) + 1, signed: bundle.signed, digest });
      return "swapped";
    } catch (e) {
      if (this.#closed) return "unchanged";
      this.#reject(
        isHexrError(e)
          ? e
          : new HexrError(
              "bundle.unreadable",
              `policy bundle could not be loaded (${(e as { code?: string }).code ?? "error"})`,
            ),
        digest,
      );
      return "rejected";
    }
  }

  #swap(next: PolicySnapshot): void {
    const previous = this.#current;
    this.#current = next; // the swap: readers see the old snapshot or the new one, never a mix
    this.#swaps++;
    this.#log.info({
      event: "bundle_loaded",
      path: this.path,
      revision: next.revision,
      generation: next.generation,
      signed: next.signed,
      previous_revision: previous?.revision ?? null,
    });
    for (const fn of this.#swapListeners) {
      try {
        fn(next, previous);
      } catch (e) {
        this.#log.error({ event: "bundle_swap_listener_failed", message: (e as Error).message });
      }
    }
  }

  #reject(error: HexrError, digest = ""): void {
    this.#rejections++;
    this.#log.error({
      event: "bundle_rejected",
      code: error.code,
      path: this.path,
      message: error.message,
      ...(digest ? { digest: digest.slice(0, 12) } : {}),
      serving_revision: this.#current?.revision ?? null,
    });
    for (const fn of this.#rejectListeners) {
      try {
        fn(error);
      } catch {
        // a listener's failure must not stop the store
      }
    }
  }
}

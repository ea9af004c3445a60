/**
 * Feeds the {@link Registrar} from the API server: informers over namespaces (their `hexr.io/tenant`
 * labels), nodes (their UIDs, only when the parent ID template needs `{nodeUid}`) and pods carrying a
 * `hexr.io/tenant` label. Pods are listed only after namespaces (and nodes) have been: a full pod list is
 * a `resync`, which deletes the entries of pods it cannot place, so it must never run against an empty
 * namespace map. Every relist replaces what the registrar knew; events between relists are passed one by
 * one (the registrar debounces them into one reconcile).
 *
 * @example
 *   const w = new RegistrarWatcher({ kube, registrar, logger });
 *   w.start(); await w.synced; … await w.stop();
 */
import type { Informer as InformerT } from "../kube/client.ts";
import { Informer, type KubeClient } from "../kube/client.ts";
import type { Logger } from "../logger.ts";
import { LABEL_TENANT, type PodJson } from "./desired.ts";
import type { Registrar } from "./reconcile.ts";

interface Meta {
  metadata?: { name?: string; uid?: string; labels?: Record<string, string> };
}

export interface RegistrarWatcherOptions {
  readonly kube: KubeClient;
  readonly registrar: Registrar;
  readonly logger?: Logger;
}

/**
 * An informer over a cluster-scoped collection whose objects the registrar knows by name: `set(name, obj)`
 * for each one listed or changed, `set(name, undefined)` for each one deleted or gone from a relist.
 */
function mirror(
  kube: KubeClient,
  path: string,
  log: { logger?: Logger },
  set: (name: string, obj: Meta | undefined) => void,
): InformerT<Meta> {
  const known = new Set<string>();
  return new Informer<Meta>(kube, path, {
    onSync: (items) => {
      const seen = new Set<string>();
      for (const n of items) {
        const name = n.metadata?.name;
        if (!name) continue;
        seen.add(name);
        set(name, n);
      }
      for (const name of known) if (!seen.has(name)) set(name, undefined);
      known.clear();
      for (const n of seen) known.add(n);
    },
    onEvent: (type, n) => {
      const name = n.metadata?.name;
      if (!name) return;
      if (type === "DELETED") known.delete(name);
      else known.add(name);
      set(name, type === "DELETED" ? undefined : n);
    },
    ...log,
  });
}

export class RegistrarWatcher {
  readonly #registrar: Registrar;
  readonly #logger: Logger | undefined;
  readonly #namespaces: InformerT<Meta>;
  readonly #nodes: InformerT<Meta> | undefined;
  readonly #pods: InformerT<PodJson>;
  /** Resolves once pods have been listed and handed to the registrar (its first reconcile done). */
  readonly synced: Promise<void>;
  #resolveSynced!: () => void;
  #podsSynced = false;

  constructor(o: RegistrarWatcherOptions) {
    this.#registrar = o.registrar;
    this.#logger = o.logger;
    this.synced = new Promise((r) => {
      this.#resolveSynced = r;
    });
    const log = o.logger ? { logger: o.logger } : {};
    const quiet = (p: Promise<unknown> | undefined) => {
      p?.catch(() => {}); // the registrar logs failed reconciles; the periodic one retries
    };
    this.#namespaces = mirror(o.kube, "/api/v1/namespaces", log, (name, n) =>
      quiet(this.#registrar.setNamespace(name, n === undefined ? undefined : (n.metadata?.labels ?? {}))),
    );
    if (this.#registrar.config.parentIdTemplate.includes("{nodeUid}")) {
      this.#nodes = mirror(o.kube, "/api/v1/nodes", log, (name, n) =>
        quiet(this.#registrar.setNode(name, n?.metadata?.uid)),
      );
    }
    this.#pods = new Informer<PodJson>(o.kube, "/api/v1/pods", {
      query: { labelSelector: LABEL_TENANT },
      onSync: (pods) => {
        const first = !this.#podsSynced;
        this.#podsSynced = true;
        const done = this.#registrar.resync(pods);
        done.catch(() => {});
        if (first) done.finally(() => this.#resolveSynced());
      },
      onEvent: (type, pod) => {
        const uid = pod.metadata?.uid;
        if (!uid) return;
        quiet(type === "DELETED" ? this.#registrar.removePod(uid) : this.#registrar.upsertPod(pod));
      },
      ...log,
    });
  }

  get hasSynced(): boolean {
    return this.#podsSynced;
  }

  /** Lists namespaces (and nodes) first, then starts the pod informer. */
  start(): void {
    this.#namespaces.start();
    this.#nodes?.start();
    Promise.all([this.#namespaces.synced, this.#nodes?.synced])
      .then(() => {
        this.#logger?.info({ msg: "registrar: namespaces listed; listing pods" });
        this.#pods.start();
      })
      .catch(() => {});
  }

  async stop(): Promise<void> {
    await Promise.all([this.#pods.stop(), this.#namespaces.stop(), this.#nodes?.stop()]);
  }
}

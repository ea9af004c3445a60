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

export class RegistrarWatcher {
  readonly #registrar: Registrar;
  readonly #logger: Logger | undefined;
  readonly #namespaces: InformerT<Meta>;
  readonly #nodes: InformerT<Meta> | undefined;
  readonly #pods: InformerT<PodJson>;
  readonly #nsKnown = new Set<string>();
  readonly #nodeKnown = new Set<string>();
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
    this.#namespaces = new Informer<Meta>(o.kube, "/api/v1/namespaces", {
      onSync: (items) => {
        const seen = new Set<string>();
        for (const n of items) {
          const name = n.metadata?.name;
          if (!name) continue;
          seen.add(name);
          quiet(this.#registrar.setNamespace(name, n.metadata?.labels ?? {}));
        }
        for (const name of this.#nsKnown) if (!seen.has(name)) quiet(this.#registrar.setNamespace(name, undefined));
        this.#nsKnown.clear();
        for (const n of seen) this.#nsKnown.add(n);
      },
      onEvent: (type, n) => {
        const name = n.metadata?.name;
        if (!name) return;
        if (type === "DELETED") this.#nsKnown.delete(name);
        else this.#nsKnown.add(name);
        quiet(this.#registrar.setNamespace(name, type === "DELETED" ? undefined : (n.metadata?.labels ?? {})));
      },
      ...log,
    });
    if (this.#registrar.config.parentIdTemplate.includes("{nodeUid}")) {
      this.#nodes = new Informer<Meta>(o.kube, "/api/v1/nodes", {
        onSync: (items) => {
          const seen = new Set<string>();
          for (const n of items) {
            const name = n.metadata?.name;
            if (!name) continue;
            seen.add(name);
            quiet(this.#registrar.setNode(name, n.metadata?.uid));
          }
          for (const name of this.#nodeKnown) if (!seen.has(name)) quiet(this.#registrar.setNode(name, undefined));
          this.#nodeKnown.clear();
          for (const n of seen) this.#nodeKnown.add(n);
        },
        onEvent: (type, n) => {
          const name = n.metadata?.name;
          if (!name) return;
          if (type === "DELETED") this.#nodeKnown.delete(name);
          else this.#nodeKnown.add(name);
          quiet(this.#registrar.setNode(name, type === "DELETED" ? undefined : n.metadata?.uid));
        },
        ...log,
      });
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

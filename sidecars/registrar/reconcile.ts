/**
 * The registrar's reconcile loop: desired entries from pods ({@link desiredEntries}), actual entries from
 * SPIRE (the Server API entry service on the server's API socket), the difference applied. Safe to run
 * twice: a converged state plans nothing, and every step is idempotent (a create that finds its entry is
 * success, a delete that finds none is success).
 *
 * **Ownership.** Only entries whose ID starts with `<owner>.` (see `desired.ts`) are ever deleted or
 * replaced; every other entry, hand-made or another tool's, is left alone. When such a foreign entry is
 * *similar* to a desired one (same SPIFFE ID, parent and selectors: SPIRE refuses a second one), ours is
 * not created and the report says which entry covers it; once that entry goes, the next reconcile creates
 * ours.
 *
 * **Drift.** An owned entry that differs from the desired one with its ID (SPIFFE ID, parent, selectors,
 * TTLs, or an admin/downstream flag, DNS name, federation or hint someone added) is deleted and created
 * again (deletes go first: the ID is the same). Relabelling a running pod thus moves it to its new ID.
 *
 * **Feeding it.** The pod watcher (with the API server) calls {@link Registrar.resync} with its full
 * list on start and on every relist, and {@link Registrar.upsertPod} / {@link Registrar.removePod} per
 * event; each call resolves with the report of a reconcile that ran after it (events within
 * `debounceMs` share one). Until the first `resync`, the registrar does not know every pod, so it deletes
 * only entries of pods it was told about: a restart never wipes entries before the watcher has listed.
 * A periodic reconcile (`intervalMs`) repairs what changed in SPIRE behind its back.
 *
 * @example
 *   const r = new Registrar({ socketPath: "/run/spire/server/api.sock",
 *     config: { trustDomain: "hexr.cloud", cluster: "prod" } });
 *   r.start();
 *   await r.resync(await listPods(), { nodes: await nodeUids(), namespaces: await namespaceLabels() });
 *   watch((ev) => ev.type === "DELETED" ? r.removePod(ev.pod.metadata.uid) : r.upsertPod(ev.pod));
 */
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { HexrError } from "../../filters/errors.ts";
import type { Logger } from "../logger.ts";
import { workloadApiTarget } from "../workload-api/client.ts";
import {
  type ClusterView,
  type DesiredEntry,
  desiredEntries,
  isHexrPod,
  isOwnedEntryId,
  type PodJson,
  type PodProblem,
  podUidOfEntryId,
  type RegistrarConfig,
  type ResolvedConfig,
  resolveConfig,
  type Selector,
} from "./desired.ts";

export const ENTRY_PROTO = path.join(import.meta.dirname, "..", "..", "proto", "spire", "entry.proto");
export const DEFAULT_RECONCILE_INTERVAL_MS = 60_000;
export const DEFAULT_DEBOUNCE_MS = 100;
export const DEFAULT_RPC_TIMEOUT_MS = 10_000;
/** Entries per BatchCreateEntry / BatchDeleteEntry call. */
export const DEFAULT_BATCH_SIZE = 50;
/** ListEntries page size (SPIRE's own default is 500 too). */
export const LIST_PAGE_SIZE = 500;
const MAX_MESSAGE_BYTES = 16 << 20;
/** google.rpc.Code values SPIRE puts in per-entry statuses. */
const OK = 0;
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;

/** A registration entry as SPIRE returns it (the fields the registrar compares). */
export interface ActualEntry {
  readonly id: string;
  readonly spiffeId: string;
  readonly parentId: string;
  readonly selectors: readonly Selector[];
  readonly x509SvidTtl: number;
  readonly jwtSvidTtl: number;
  readonly admin: boolean;
  readonly downstream: boolean;
  readonly dnsNames: readonly string[];
  readonly federatesWith: readonly string[];
  readonly hint: string;
}

export interface ReconcilePlan {
  /** Entries to create (after the deletes). */
  readonly create: readonly DesiredEntry[];
  /** IDs of owned entries to delete: gone pods, and drifted entries that are created again. */
  readonly delete: readonly string[];
  /** IDs of owned entries that already match. */
  readonly unchanged: readonly string[];
  /** Desired entries not created because a foreign entry is similar: desired ID → that entry's ID. */
  readonly covered: ReadonlyMap<string, string>;
}

const selectorKey = (s: Selector) => `${s.type}:${s.value}`;

/** SPIRE's notion of "similar" (its create refuses a second one): SPIFFE ID, parent and selector set. */
function similarityKey(e: { spiffeId: string; parentId: string; selectors: readonly Selector[] }): string {
  return JSON.stringify([e.spiffeId, e.parentId, e.selectors.map(selectorKey).sort()]);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

/** Whether an owned entry is exactly what the desired one asks for (nothing added by hand either). */
export function entryMatches(d: DesiredEntry, a: ActualEntry): boolean {
  return (
    a.spiffeId === d.spiffeId &&
    a.parentId === d.parentId &&
    sameSet(a.selectors.map(selectorKey), d.selectors.map(selectorKey)) &&
    a.x509SvidTtl === d.x509SvidTtl &&
    a.jwtSvidTtl === d.jwtSvidTtl &&
    !a.admin &&
    !a.downstream &&
    a.dnsNames.length === 0 &&
    a.federatesWith.length === 0 &&
    a.hint === ""
  );
}

/**
 * The plan that takes `actual` (every entry SPIRE has, or any superset of the owned ones) to `desired`.
 * Pure. Entries not owned by `owner` are never deleted.
 */
export function reconcile(
  desired: readonly DesiredEntry[],
  actual: readonly ActualEntry[],
  opts: { owner: string },
): ReconcilePlan {
  const owned = new Map<string, ActualEntry>();
  const foreignBySimilarity = new Map<string, string>();
  for (const a of actual) {
    if (isOwnedEntryId(opts.owner, a.id)) owned.set(a.id, a);
    else if (!foreignBySimilarity.has(similarityKey(a))) foreignBySimilarity.set(similarityKey(a), a.id);
  }
  const want = new Map(desired.map((d) => [d.id, d]));
  const create: DesiredEntry[] = [];
  const del: string[] = [];
  const unchanged: string[] = [];
  const covered = new Map<string, string>();
  for (const [id, a] of owned) {
    const d = want.get(id);
    if (d === undefined) del.push(id);
    else if (entryMatches(d, a)) unchanged.push(id);
    else del.push(id); // drifted: created again below
  }
  for (const d of desired) {
    const a = owned.get(d.id);
    if (a !== undefined && entryMatches(d, a)) continue;
    const by = foreignBySimilarity.get(similarityKey(d));
    if (by !== undefined) covered.set(d.id, by);
    else create.push(d);
  }
  return { create, delete: del.sort(), unchanged: unchanged.sort(), covered };
}

export interface EntryFailure {
  readonly id: string;
  readonly op: "create" | "delete";
  /** google.rpc.Code name, e.g. `INVALID_ARGUMENT`. */
  readonly code: string;
  readonly message: string;
}

export interface ReconcileReport {
  readonly created: readonly string[];
  readonly deleted: readonly string[];
  readonly unchanged: number;
  /** Desired entry ID → the foreign entry that already gives that identity. */
  readonly covered: Readonly<Record<string, string>>;
  readonly failed: readonly EntryFailure[];
  /** Pods skipped or partly registered, and why. */
  readonly problems: readonly PodProblem[];
  /** Owned entries left in place because the registrar has not had a full pod list yet. */
  readonly deletesHeld: number;
}

export interface RegistrarOptions {
  /** The SPIRE server's API socket (`socket_path`; a local caller is an admin). */
  readonly socketPath: string;
  readonly config: RegistrarConfig;
  /** Periodic reconcile after {@link Registrar.start}; default {@link DEFAULT_RECONCILE_INTERVAL_MS}, 0: none. */
  readonly intervalMs?: number;
  /** How long an upsert/remove waits for more events before reconciling (default {@link DEFAULT_DEBOUNCE_MS}). */
  readonly debounceMs?: number;
  /** Deadline of each RPC (default {@link DEFAULT_RPC_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
  /** Default {@link DEFAULT_BATCH_SIZE}. */
  readonly batchSize?: number;
  readonly logger?: Logger;
}

export interface ListFilter {
  /** Only entries with this SPIFFE ID. */
  readonly spiffeId?: string;
  /** Only entries with this parent ID. */
  readonly parentId?: string;
}

interface WireSpiffeId {
  trust_domain: string;
  path: string;
}
interface WireEntry {
  id: string;
  spiffe_id?: WireSpiffeId | null;
  parent_id?: WireSpiffeId | null;
  selectors: Selector[];
  x509_svid_ttl: number;
  federates_with: string[];
  admin: boolean;
  downstream: boolean;
  dns_names: string[];
  jwt_svid_ttl: number;
  hint: string;
}
interface WireStatus {
  code: number;
  message: string;
}
type Unary<Req, Res> = (
  req: Req,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: Res) => void,
) => void;
interface EntryClient {
  ListEntries: Unary<
    { filter?: { by_spiffe_id?: WireSpiffeId; by_parent_id?: WireSpiffeId }; page_size: number; page_token: string },
    { entries: WireEntry[]; next_page_token: string }
  >;
  BatchCreateEntry: Unary<
    { entries: Partial<WireEntry>[] },
    { results: Array<{ status?: WireStatus | null; entry?: WireEntry | null }> }
  >;
  BatchDeleteEntry: Unary<{ ids: string[] }, { results: Array<{ status?: WireStatus | null; id: string }> }>;
}

let serviceCtor: grpc.ServiceClientConstructor | undefined;
function service(): grpc.ServiceClientConstructor {
  if (!serviceCtor) {
    const def = protoLoader.loadSync(ENTRY_PROTO, { keepCase: true, longs: Number, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      spire: { api: { server: { entry: { v1: { Entry: grpc.ServiceClientConstructor } } } } };
    };
    serviceCtor = pkg.spire.api.server.entry.v1.Entry;
  }
  return serviceCtor;
}

/** `spiffe://td/a/b` → `{ trust_domain: "td", path: "/a/b" }`. */
export function toWireId(id: string): WireSpiffeId {
  const m = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(id);
  if (!m) throw new TypeError(`not a SPIFFE ID: ${id}`);
  return { trust_domain: m[1] as string, path: m[2] ?? "" };
}

function fromWireId(w: WireSpiffeId | null | undefined): string {
  return w ? `spiffe://${w.trust_domain}${w.path}` : "";
}

function fromWireEntry(w: WireEntry): ActualEntry {
  return {
    id: w.id,
    spiffeId: fromWireId(w.spiffe_id),
    parentId: fromWireId(w.parent_id),
    selectors: w.selectors.map((s) => ({ type: s.type, value: s.value })),
    x509SvidTtl: w.x509_svid_ttl,
    jwtSvidTtl: w.jwt_svid_ttl,
    admin: w.admin,
    downstream: w.downstream,
    dnsNames: w.dns_names,
    federatesWith: w.federates_with,
    hint: w.hint,
  };
}

function toWireEntry(d: DesiredEntry): Partial<WireEntry> {
  return {
    id: d.id,
    spiffe_id: toWireId(d.spiffeId),
    parent_id: toWireId(d.parentId),
    selectors: d.selectors.map((s) => ({ type: s.type, value: s.value })),
    x509_svid_ttl: d.x509SvidTtl,
    jwt_svid_ttl: d.jwtSvidTtl,
  };
}

/** The report of a call that needed no reconcile. */
const NOTHING: ReconcileReport = Object.freeze({
  created: [],
  deleted: [],
  unchanged: 0,
  covered: {},
  failed: [],
  problems: [],
  deletesHeld: 0,
});

function codeName(code: number): string {
  return grpc.status[code] ?? String(code);
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** Drives the entry service: see the module comment. */
export class Registrar {
  readonly config: ResolvedConfig;
  readonly #client: grpc.Client;
  readonly #intervalMs: number;
  readonly #debounceMs: number;
  readonly #timeoutMs: number;
  readonly #batchSize: number;
  readonly #logger: Logger | undefined;
  readonly #pods = new Map<string, PodJson>();
  #nodes = new Map<string, string>();
  #namespaces = new Map<string, Readonly<Record<string, string>>>();
  /** Pods removed before the first resync: their entries may go even then. */
  readonly #removed = new Set<string>();
  #synced = false;
  #running: Promise<ReconcileReport> | undefined;
  #next: Promise<ReconcileReport> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: RegistrarOptions) {
    this.config = resolveConfig(o.config);
    this.#intervalMs = o.intervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS;
    this.#debounceMs = o.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.#timeoutMs = o.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    this.#batchSize = o.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1) throw new TypeError("batchSize must be ≥ 1");
    this.#logger = o.logger;
    const Ctor = service();
    this.#client = new Ctor(workloadApiTarget(o.socketPath), grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    });
  }

  /** Whether a full pod list ({@link resync}) has been given, so entries of unknown pods may be deleted. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Starts the periodic reconcile (errors go to the logger; the next tick tries again). */
  start(): void {
    if (this.#timer || this.#intervalMs <= 0 || this.#closed) return;
    this.#timer = setInterval(() => {
      this.#schedule(0).catch(() => {}); // logged in #run
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /**
   * A pod was added or changed (or is being deleted: its deletionTimestamp removes its entries). A pod
   * without `hexr.io/*` identity labels that the registrar did not know either is a no-op (no reconcile), so
   * a watcher may feed it every pod.
   */
  upsertPod(pod: PodJson): Promise<ReconcileReport> {
    const uid = pod.metadata?.uid;
    if (!uid) return Promise.reject(new TypeError("pod has no metadata.uid"));
    if (!isHexrPod(pod)) {
      if (!this.#pods.delete(uid) && this.#synced) return Promise.resolve(NOTHING);
    } else this.#pods.set(uid, pod);
    this.#removed.delete(uid);
    return this.#schedule(this.#debounceMs);
  }

  /** A pod is gone (a no-op, after the first resync, for a pod the registrar does not know). */
  removePod(uid: string): Promise<ReconcileReport> {
    if (!this.#pods.delete(uid) && this.#synced) return Promise.resolve(NOTHING);
    if (!this.#synced) this.#removed.add(uid);
    return this.#schedule(this.#debounceMs);
  }

  /**
   * A node's UID (`undefined`: the node is gone), for a parent ID template with `{nodeUid}`. Reconciles
   * (debounced) only when it changed: pods deferred as `node_unknown` get their entries then.
   */
  setNode(name: string, uid: string | undefined): Promise<ReconcileReport> | undefined {
    if (this.#nodes.get(name) === uid) return undefined;
    if (uid === undefined) this.#nodes.delete(name);
    else this.#nodes.set(name, uid);
    return this.#schedule(this.#debounceMs);
  }

  /**
   * A namespace's labels (`undefined`: the namespace is gone). Its `hexr.io/tenant` label decides which
   * tenant's pods may have identities in it; reconciles (debounced) only when the labels changed.
   */
  setNamespace(
    name: string,
    labels: Readonly<Record<string, string>> | undefined,
  ): Promise<ReconcileReport> | undefined {
    const had = this.#namespaces.get(name);
    if (labels === undefined ? had === undefined : had !== undefined && sameLabels(had, labels)) return undefined;
    if (labels === undefined) this.#namespaces.delete(name);
    else this.#namespaces.set(name, { ...labels });
    return this.#schedule(this.#debounceMs);
  }

  /**
   * Every pod there is (and optionally every node's UID and every namespace's labels): replaces what the
   * registrar knew and reconciles now. After the first call, entries of pods not in the list are deleted.
   */
  resync(pods: Iterable<PodJson>, view: Partial<ClusterView> = {}): Promise<ReconcileReport> {
    this.#pods.clear();
    for (const p of pods) {
      const uid = p.metadata?.uid;
      if (uid && isHexrPod(p)) this.#pods.set(uid, p);
    }
    if (view.nodes) this.#nodes = new Map(view.nodes);
    if (view.namespaces) this.#namespaces = new Map(view.namespaces);
    this.#synced = true;
    this.#removed.clear();
    return this.#schedule(0);
  }

  /** Reconciles with what the registrar knows now (after any reconcile already running). */
  reconcileNow(): Promise<ReconcileReport> {
    return this.#schedule(0);
  }

  /** Entries in SPIRE (all of them, not just ours), optionally filtered by SPIFFE ID or parent ID. */
  async listEntries(filter: ListFilter = {}): Promise<ActualEntry[]> {
    const f: { by_spiffe_id?: WireSpiffeId; by_parent_id?: WireSpiffeId } = {};
    if (filter.spiffeId !== undefined) f.by_spiffe_id = toWireId(filter.spiffeId);
    if (filter.parentId !== undefined) f.by_parent_id = toWireId(filter.parentId);
    const out: ActualEntry[] = [];
    let token = "";
    do {
      const res = await this.#call("ListEntries", { filter: f, page_size: LIST_PAGE_SIZE, page_token: token });
      for (const e of res.entries) out.push(fromWireEntry(e));
      token = res.next_page_token;
    } while (token !== "");
    return out;
  }

  /** Stops the timer, waits for a running reconcile, closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled([this.#running, this.#next]);
    this.#client.close();
  }

  /** One reconcile after `delayMs`, after the running one; callers within the delay share it. */
  #schedule(delayMs: number): Promise<ReconcileReport> {
    if (this.#closed) return Promise.reject(new HexrError("internal.registrar", "registrar is closed"));
    if (this.#next) return this.#next;
    const prev = this.#running;
    const next = (async () => {
      await prev?.catch(() => {}); // always yields: `this.#next = next` below runs first
      if (delayMs > 0) await delay(delayMs);
      this.#next = undefined; // requests from here on get a run of their own
      const run = this.#run();
      this.#running = run;
      try {
        return await run;
      } finally {
        if (this.#running === run) this.#running = undefined;
      }
    })();
    this.#next = next;
    return next;
  }

  async #run(): Promise<ReconcileReport> {
    const started = Date.now();
    try {
      const report = await this.#reconcileOnce();
      const changed = report.created.length + report.deleted.length + report.failed.length > 0;
      this.#logger?.[report.failed.length > 0 ? "warn" : changed ? "info" : "debug"]({
        msg: "registrar reconcile",
        created: report.created.length,
        deleted: report.deleted.length,
        unchanged: report.unchanged,
        covered: Object.keys(report.covered).length,
        failed: report.failed.map((f) => `${f.op} ${f.id}: ${f.code}`),
        problems: report.problems.length,
        deletes_held: report.deletesHeld,
        ms: Date.now() - started,
      });
      for (const p of report.problems) {
        this.#logger?.warn({ msg: "registrar skipped pod", code: p.code, reason: p.message, pod: p.pod });
      }
      return report;
    } catch (e) {
      this.#logger?.error({ msg: "registrar reconcile failed", error: (e as Error).message });
      throw e;
    }
  }

  async #reconcileOnce(): Promise<ReconcileReport> {
    const { entries: desired, problems } = desiredEntries(this.#pods.values(), this.config, {
      nodes: this.#nodes,
      namespaces: this.#namespaces,
    });
    const actual = await this.listEntries();
    const plan = reconcile(desired, actual, { owner: this.config.owner });
    let deletes = plan.delete;
    let held = 0;
    if (!this.#synced) {
      // without a full list, only pods we were told about may lose entries
      deletes = plan.delete.filter((id) => {
        const uid = podUidOfEntryId(this.config.owner, id) as string;
        return this.#pods.has(uid) || this.#removed.has(uid);
      });
      held = plan.delete.length - deletes.length;
    }
    const failed: EntryFailure[] = [];
    const deleted: string[] = [];
    for (const batch of chunks(deletes, this.#batchSize)) {
      const res = await this.#call("BatchDeleteEntry", { ids: batch });
      batch.forEach((id, i) => {
        const st = res.results[i]?.status;
        const code = st?.code ?? OK;
        if (code === OK || code === NOT_FOUND) deleted.push(id);
        else failed.push({ id, op: "delete", code: codeName(code), message: st?.message ?? "" });
      });
    }
    const failedDeletes = new Set(failed.map((f) => f.id));
    const created: string[] = [];
    const covered: Record<string, string> = Object.fromEntries(plan.covered);
    // a drifted entry whose delete failed still holds its ID: creating it again would fail too
    const toCreate = plan.create.filter((d) => !failedDeletes.has(d.id));
    for (const batch of chunks(toCreate, this.#batchSize)) {
      const res = await this.#call("BatchCreateEntry", { entries: batch.map(toWireEntry) });
      batch.forEach((d, i) => {
        const r = res.results[i];
        const code = r?.status?.code ?? OK;
        if (code === OK) created.push(d.id);
        else if (code === ALREADY_EXISTS) {
          // a similar entry exists: ours (made concurrently) or one we do not own
          const id = r?.entry?.id ?? "";
          if (id === d.id) created.push(d.id);
          else covered[d.id] = id;
        } else failed.push({ id: d.id, op: "create", code: codeName(code), message: r?.status?.message ?? "" });
      });
    }
    return {
      created,
      deleted,
      unchanged: plan.unchanged.length,
      covered,
      failed,
      problems,
      deletesHeld: held,
    };
  }

  #call<K extends keyof EntryClient>(
    method: K,
    req: Parameters<EntryClient[K]>[0],
  ): Promise<NonNullable<Parameters<Parameters<EntryClient[K]>[3]>[1]>> {
    type Res = NonNullable<Parameters<Parameters<EntryClient[K]>[3]>[1]>;
    const fn = (this.#client as unknown as EntryClient)[method] as unknown as Unary<typeof req, Res>;
    return new Promise((resolve, reject) => {
      fn.call(
        this.#client,
        req,
        new grpc.Metadata(),
        { deadline: new Date(Date.now() + this.#timeoutMs) },
        (err, res) => {
          if (err) {
            reject(
              new HexrError("internal.registrar", `SPIRE ${method} failed: ${codeName(err.code)} ${err.details}`, {
                cause: err,
              }),
            );
          } else if (!res) reject(new HexrError("internal.registrar", `SPIRE ${method} returned nothing`));
          else resolve(res);
        },
      );
    });
  }
}

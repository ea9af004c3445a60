/**
 * A small Kubernetes API client for what the injector and the registrar need: JSON requests, and
 * list-then-watch informers for namespaces, nodes and pods. Written on undici rather than taking
 * `@kubernetes/client-node`: the two processes use four verbs on three resources, and undici (already a
 * dependency) gives a pooled HTTP/1.1 client with the cluster CA pinned and streaming bodies, which is all a
 * watch is (one JSON event per line).
 *
 * **Auth.** In a cluster: the service account's projected token and CA
 * (`/var/run/secrets/kubernetes.io/serviceaccount`), the API server from `KUBERNETES_SERVICE_HOST/PORT`.
 * The token file is re-read every minute: kubelet rotates projected tokens (default lifetime one hour).
 * Outside one (tests, development): `api_server`, `token_file` and `ca_file` in the config. Tokens never
 * appear in errors or logs.
 *
 * **Watch semantics.** An {@link Informer} lists (`resourceVersion` from the list), then watches from that
 * version with bookmarks; a watch that ends is resumed from the last version seen; `410 Gone` (the version
 * is too old) or any error means a fresh list after a bounded backoff, and the list replaces the whole
 * store (`onSync`), so deletions missed while disconnected are not lost.
 *
 * @example
 *   const kube = new KubeClient(connectionFromConfig({}));   // in-cluster
 *   const ns = new Informer(kube, "/api/v1/namespaces", { onSync: (all) => …, onEvent: (type, obj) => … });
 *   ns.start(); await ns.synced;
 */
import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { Agent, request } from "undici";
import { HexrError } from "../../filters/errors.ts";
import type { Logger } from "../logger.ts";

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const TOKEN_REFRESH_MS = 60_000;
/** Bigger list pages mean fewer round trips; 500 is what kubectl uses. */
const LIST_LIMIT = 500;
/** The API server ends a watch after at most this; the informer then resumes from the last version. */
const WATCH_TIMEOUT_S = 300;
/** A JSON body larger than this (one object, or one list page) is refused: nothing we read is that big. */
const MAX_BODY_BYTES = 64 << 20;
/** One watch event line: a pod with a very large spec still fits. */
const MAX_EVENT_BYTES = 8 << 20;
const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = 30_000;

export interface KubeConnection {
  /** `https://host:port` */
  readonly server: string;
  /** The bearer token (read again on every call of the function). */
  readonly token: () => string | undefined;
  /** The cluster CA, PEM. */
  readonly ca: string | undefined;
}

/** The `kube:` section of the injector's and the registrar's config. */
export interface KubeSettings {
  readonly api_server?: string;
  readonly token_file?: string;
  readonly ca_file?: string;
}

/** A token read from a file, cached for a minute (kubelet rotates projected service account tokens). */
function fileToken(file: string): () => string {
  let cached = "";
  let readAt = 0;
  return () => {
    if (Date.now() - readAt > TOKEN_REFRESH_MS || cached === "") {
      try {
        cached = readFileSync(file, "utf8").trim();
        readAt = Date.now();
      } catch (e) {
        if (cached === "")
          throw new HexrError("config.invalid", `kube.token_file: cannot read ${file}: ${(e as Error).message}`);
      }
    }
    return cached;
  };
}

/** The connection from the config's `kube:` section, the service account's files filling what is unset. */
export function connectionFromConfig(k: KubeSettings, env: NodeJS.ProcessEnv = process.env): KubeConnection {
  let server = k.api_server;
  if (server === undefined) {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT ?? "443";
    if (!host) {
      throw new HexrError(
        "config.invalid",
        "kube.api_server: not set, and not in a cluster (no KUBERNETES_SERVICE_HOST)",
      );
    }
    server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new HexrError("config.invalid", "kube.api_server: not a URL");
  }
  if (url.protocol !== "https:") throw new HexrError("config.invalid", "kube.api_server: must be https://");
  const caFile = k.ca_file ?? `${SERVICE_ACCOUNT_DIR}/ca.crt`;
  let ca: string;
  try {
    ca = readFileSync(caFile, "utf8");
  } catch (e) {
    throw new HexrError("config.invalid", `kube.ca_file: cannot read ${caFile}: ${(e as Error).message}`);
  }
  const token = fileToken(k.token_file ?? `${SERVICE_ACCOUNT_DIR}/token`);
  token(); // a missing token file is a start-up error, not the first request's
  return { server: url.origin, token, ca };
}

export interface KubeResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
}

export class KubeError extends HexrError {
  readonly status: number;
  /** The API's `reason` (`AlreadyExists`, `NotFound`, `Expired`, …). */
  readonly apiReason: string;
  constructor(status: number, apiReason: string, message: string) {
    super("internal.kube", message);
    this.status = status;
    this.apiReason = apiReason;
  }
}

type Obj = Record<string, unknown>;

function statusMessage(method: string, path: string, status: number, body: unknown): KubeError {
  const b = (body ?? {}) as Obj;
  const reason = typeof b.reason === "string" ? b.reason : "";
  const msg = typeof b.message === "string" ? b.message.slice(0, 500) : "";
  return new KubeError(
    status,
    reason,
    `kube ${method} ${path.split("?")[0]}: ${status} ${reason}${msg ? `: ${msg}` : ""}`,
  );
}

/** JSON over HTTPS to one API server. */
export class KubeClient {
  readonly server: string;
  readonly #conn: KubeConnection;
  readonly #agent: Agent;

  constructor(conn: KubeConnection) {
    this.server = conn.server;
    this.#conn = conn;
    this.#agent = new Agent({
      connect: { ...(conn.ca ? { ca: conn.ca } : {}), rejectUnauthorized: true },
      keepAliveTimeout: 30_000,
      connections: 8,
    });
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    const token = this.#conn.token();
    return { accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
  }

  /** One request; a non-2xx answer is a {@link KubeError} with the API's `reason`. */
  async json<T = unknown>(
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<T> {
    const res = await request(`${this.server}${path}`, {
      method,
      dispatcher: this.#agent,
      headers: this.#headers(body === undefined ? {} : { "content-type": contentType }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await readCapped(res.body, MAX_BODY_BYTES, `kube ${method} ${path.split("?")[0]}`);
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      throw new KubeError(res.statusCode, "", `kube ${method} ${path.split("?")[0]}: ${res.statusCode}, not JSON`);
    }
    if (res.statusCode < 200 || res.statusCode >= 300) throw statusMessage(method, path, res.statusCode, parsed);
    return parsed as T;
  }

  /** Every item of a collection (pages followed), and the list's resourceVersion. */
  async list(path: string, query: Record<string, string> = {}): Promise<{ items: Obj[]; resourceVersion: string }> {
    const items: Obj[] = [];
    let cont = "";
    let rv = "";
    do {
      const q = new URLSearchParams({ ...query, limit: String(LIST_LIMIT), ...(cont ? { continue: cont } : {}) });
      const page = await this.json<{ items?: Obj[]; metadata?: { resourceVersion?: string; continue?: string } }>(
        "GET",
        `${path}?${q}`,
      );
      items.push(...(page.items ?? []));
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue ?? "";
    } while (cont !== "");
    return { items, resourceVersion: rv };
  }

  /**
   * One watch from `resourceVersion`: calls `onEvent` per line until the server ends it (resolves) or it
   * fails (rejects; a `410 Gone` as an ERROR event rejects with status 410).
   */
  async watch(
    path: string,
    query: Record<string, string>,
    onEvent: (type: string, object: Obj) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const q = new URLSearchParams({
      ...query,
      watch: "1",
      allowWatchBookmarks: "true",
      timeoutSeconds: String(WATCH_TIMEOUT_S),
    });
    const res = await request(`${this.server}${path}?${q}`, {
      method: "GET",
      dispatcher: this.#agent,
      headers: this.#headers(),
      signal,
      headersTimeout: 30_000,
      bodyTimeout: (WATCH_TIMEOUT_S + 60) * 1000,
    });
    if (res.statusCode !== 200) {
      const text = await readCapped(res.body, MAX_BODY_BYTES, `kube watch ${path}`).catch(() => "");
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {}
      throw statusMessage("WATCH", path, res.statusCode, parsed);
    }
    let buf = "";
    res.body.setEncoding("utf8");
    for await (const chunk of res.body as AsyncIterable<string>) {
      buf += chunk;
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() !== "") handleLine(line, path, onEvent);
        nl = buf.indexOf("\n");
      }
      if (buf.length > MAX_EVENT_BYTES) {
        res.body.destroy();
        throw new KubeError(0, "", `kube watch ${path}: an event is larger than ${MAX_EVENT_BYTES} bytes`);
      }
    }
    if (buf.trim() !== "") handleLine(buf, path, onEvent);
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

function handleLine(line: string, path: string, onEvent: (type: string, object: Obj) => void): void {
  let ev: { type?: unknown; object?: unknown };
  try {
    ev = JSON.parse(line);
  } catch {
    throw new KubeError(0, "", `kube watch ${path}: an event is not JSON`);
  }
  const type = typeof ev.type === "string" ? ev.type : "";
  const obj = (ev.object ?? {}) as Obj;
  if (type === "ERROR") {
    const code = typeof obj.code === "number" ? obj.code : 0;
    throw statusMessage("WATCH", path, code, obj);
  }
  onEvent(type, obj);
}

async function readCapped(body: AsyncIterable<Buffer | string> & { destroy(): void }, max: number, what: string) {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    const b = typeof c === "string" ? Buffer.from(c) : c;
    n += b.length;
    if (n > max) {
      body.destroy();
      throw new KubeError(0, "", `${what}: answer larger than ${max} bytes`);
    }
    parts.push(b);
  }
  return Buffer.concat(parts).toString("utf8");
}

export interface InformerOptions<T> {
  /** `labelSelector` / `fieldSelector` of the list and the watch. */
  readonly query?: Record<string, string>;
  /** The whole collection, after every (re)list: replaces what the caller knew. */
  readonly onSync: (items: T[]) => void;
  /** One change after the last list (`ADDED`, `MODIFIED`, `DELETED`). */
  readonly onEvent: (type: "ADDED" | "MODIFIED" | "DELETED", item: T) => void;
  readonly logger?: Logger;
}

/** List-then-watch over one collection; see the module comment. */
export class Informer<T = Obj> {
  readonly #kube: KubeClient;
  readonly #path: string;
  readonly #o: InformerOptions<T>;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #resolveSynced!: () => void;
  /** Resolves after the first list was handed to `onSync`. */
  readonly synced: Promise<void>;
  #hasSynced = false;

  constructor(kube: KubeClient, path: string, o: InformerOptions<T>) {
    this.#kube = kube;
    this.#path = path;
    this.#o = o;
    this.synced = new Promise((r) => {
      this.#resolveSynced = r;
    });
  }

  get hasSynced(): boolean {
    return this.#hasSynced;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const query = this.#o.query ?? {};
    let backoff = BACKOFF_MIN_MS;
    while (!signal.aborted) {
      try {
        const { items, resourceVersion } = await this.#kube.list(this.#path, query);
        if (signal.aborted) return;
        this.#o.onSync(items as T[]);
        if (!this.#hasSynced) {
          this.#hasSynced = true;
          this.#resolveSynced();
        }
        backoff = BACKOFF_MIN_MS;
        let rv = resourceVersion;
        // resume the watch from the last version seen until it fails; then list again
        for (;;) {
          await this.#kube.watch(
            this.#path,
            { ...query, resourceVersion: rv },
            (type, obj) => {
              const v = (obj.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
              if (v) rv = v;
              if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") this.#o.onEvent(type, obj as T);
            },
            signal,
          );
          if (signal.aborted) return;
        }
      } catch (e) {
        if (signal.aborted) return;
        const gone = e instanceof KubeError && e.status === 410;
        this.#o.logger?.[gone ? "info" : "warn"]({
          msg: gone ? "kube watch expired; listing again" : "kube list/watch failed; retrying",
          path: this.#path,
          error: (e as Error).message,
          retry_ms: gone ? 0 : backoff,
        });
        if (!gone) {
          await delay(backoff, undefined, { signal }).catch(() => {});
          backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        }
      }
    }
  }
}

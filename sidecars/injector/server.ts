/**
 * The mutating admission webhook's HTTPS server: `POST /mutate/namespace` (the webhook entry whose
 * `namespaceSelector` picks opted-in namespaces) and `POST /mutate/pod` (the entry whose `objectSelector`
 * picks opted-in pods elsewhere) answer AdmissionReview v1 with {@link reviewAdmission}. Namespace labels
 * (the tenant a namespace holds) come from an informer over the API server, never from the request; until
 * it has listed once the server is not ready, and a review that needs labels it has not seen is refused.
 *
 * The serving certificate is read again when its files change (a Secret update swaps them in place), so
 * rotation needs no restart. Bodies are capped (the API server sends at most ~3 MiB objects); anything
 * that is not a well-formed review gets a 400 with a reason, and a review always gets an answer (the
 * webhook runs with `failurePolicy: Fail`: a pod never starts without its data plane).
 *
 * Logs one line per decision with the namespace, the pod's name (or generateName), the decision and its
 * reason: never the pod spec (its env may hold secrets) nor the patch.
 *
 * @example
 *   const s = new InjectorServer(parseInjectorServerConfig(text, file), { logger });
 *   await s.start(); … await s.close();
 */
import { readFileSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { fail, type Obj, obj, onlyKeys, str } from "../config-fields.ts";
import { connectionFromConfig, Informer, KubeClient, type KubeSettings } from "../kube/client.ts";
import { type Address, address, kubeSettings, logLevel, readConfigRoot, serveHealth } from "../kube/process-config.ts";
import type { Level, Logger } from "../logger.ts";
import { checkInjectorConfig, type InjectorConfig } from "./config.ts";
import { reviewAdmission } from "./review.ts";

/** The API server caps request bodies at 3 MiB; an AdmissionReview wraps one object (twice for updates). */
export const MAX_REVIEW_BYTES = 8 << 20;
const CERT_CHECK_MS = 10_000;
const MAX_CONNECTIONS = 256;
const REQUEST_TIMEOUT_MS = 15_000;

export interface InjectorServerConfig {
  readonly listen: Address;
  readonly tls: { readonly certFile: string; readonly keyFile: string };
  readonly health: Address;
  readonly kube: KubeSettings;
  readonly logLevel: Level;
  readonly injector: InjectorConfig;
}

export function checkInjectorServerConfig(root: Obj): InjectorServerConfig {
  onlyKeys(root, "", ["listen", "tls", "health", "kube", "log", "injector"]);
  const tls = obj(root.tls, "tls");
  onlyKeys(tls, "tls", ["cert_file", "key_file"]);
  if (root.injector === undefined) fail("injector", "is required (the injector's own settings)");
  return {
    listen: address(root.listen, "listen", { address: "0.0.0.0", port: 9443 }),
    tls: { certFile: str(tls.cert_file, "tls.cert_file"), keyFile: str(tls.key_file, "tls.key_file") },
    health: address(root.health, "health", { address: "0.0.0.0", port: 8080 }),
    kube: kubeSettings(root.kube),
    logLevel: logLevel(root.log),
    injector: checkInjectorConfig(root.injector),
  };
}

export function parseInjectorServerConfig(file: string, text?: string): InjectorServerConfig {
  return checkInjectorServerConfig(readConfigRoot(file, text));
}

type Labels = Readonly<Record<string, string>>;
interface NamespaceJson {
  metadata?: { name?: string; labels?: Record<string, string> };
}

export class InjectorServer {
  readonly #cfg: InjectorServerConfig;
  readonly #logger: Logger | undefined;
  readonly #kube: KubeClient;
  readonly #namespaces = new Map<string, Labels>();
  readonly #informer: Informer<NamespaceJson>;
  #https: HttpsServer | undefined;
  #health: { port: number; close(): Promise<void> } | undefined;
  #certTimer: NodeJS.Timeout | undefined;
  #certStamp = "";

  constructor(cfg: InjectorServerConfig, o: { logger?: Logger; kube?: KubeClient } = {}) {
    this.#cfg = cfg;
    this.#logger = o.logger;
    this.#kube = o.kube ?? new KubeClient(connectionFromConfig(cfg.kube));
    this.#informer = new Informer<NamespaceJson>(this.#kube, "/api/v1/namespaces", {
      onSync: (items) => {
        this.#namespaces.clear();
        for (const n of items) this.#setNamespace(n);
      },
      onEvent: (type, n) => {
        const name = n.metadata?.name;
        if (!name) return;
        if (type === "DELETED") this.#namespaces.delete(name);
        else this.#setNamespace(n);
      },
      ...(o.logger ? { logger: o.logger } : {}),
    });
  }

  #setNamespace(n: NamespaceJson): void {
    const name = n.metadata?.name;
    if (name) this.#namespaces.set(name, { ...(n.metadata?.labels ?? {}) });
  }

  get ready(): boolean {
    return this.#informer.hasSynced;
  }

  /** Starts both listeners and the namespace informer; resolves with the bound ports. */
  async start(): Promise<{ port: number; healthPort: number }> {
    this.#informer.start();
    const { key, cert, stamp } = this.#readCert();
    this.#certStamp = stamp;
    this.#https = createHttpsServer({ key, cert, minVersion: "TLSv1.2" }, (req, res) => this.#handle(req, res));
    this.#https.requestTimeout = REQUEST_TIMEOUT_MS;
    // a bound on what a flood of slow or large reviews can hold (each body is capped too)
    this.#https.maxConnections = MAX_CONNECTIONS;
    this.#https.headersTimeout = REQUEST_TIMEOUT_MS;
    const listen = (srv: HttpsServer, a: Address) =>
      new Promise<number>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(a.port, a.address, () => resolve((srv.address() as AddressInfo).port));
      });
    const port = await listen(this.#https, this.#cfg.listen);
    this.#health = await serveHealth(this.#cfg.health, () => this.ready, "namespaces not listed yet");
    const healthPort = this.#health.port;
    this.#certTimer = setInterval(() => this.#maybeReloadCert(), CERT_CHECK_MS);
    this.#certTimer.unref();
    this.#logger?.info({ msg: "injector listening", port, health_port: healthPort });
    return { port, healthPort };
  }

  #readCert(): { key: Buffer; cert: Buffer; stamp: string } {
    const { certFile, keyFile } = this.#cfg.tls;
    const stamp = [certFile, keyFile].map((f) => `${statSync(f).mtimeMs}:${statSync(f).size}`).join("|");
    return { key: readFileSync(keyFile), cert: readFileSync(certFile), stamp };
  }

  #maybeReloadCert(): void {
    try {
      const { certFile, keyFile } = this.#cfg.tls;
      const stamp = [certFile, keyFile].map((f) => `${statSync(f).mtimeMs}:${statSync(f).size}`).join("|");
      if (stamp === this.#certStamp) return;
      const c = this.#readCert();
      this.#https?.setSecureContext({ key: c.key, cert: c.cert });
      this.#certStamp = c.stamp;
      this.#logger?.info({ msg: "injector serving certificate reloaded" });
    } catch (e) {
      // keep serving with the old certificate; a half-written pair is read again on the next tick
      this.#logger?.warn({ msg: "injector serving certificate not reloaded", error: (e as Error).message });
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    };
    const url = (req.url ?? "").split("?")[0];
    const scope = url === "/mutate/namespace" ? "namespace" : url === "/mutate/pod" ? "pod" : undefined;
    if (scope === undefined) {
      reply(404, { error: "not found: POST /mutate/namespace or /mutate/pod" });
      return;
    }
    if (req.method !== "POST") {
      reply(405, { error: "method not allowed: POST an AdmissionReview" });
      return;
    }
    const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim();
    if (type !== "application/json") {
      reply(415, { error: "content-type must be application/json" });
      return;
    }
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > MAX_REVIEW_BYTES) {
      req.resume();
      reply(413, { error: `AdmissionReview larger than ${MAX_REVIEW_BYTES} bytes` });
      return;
    }
    const parts: Buffer[] = [];
    let n = 0;
    let tooBig = false;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > MAX_REVIEW_BYTES) tooBig = true;
      else parts.push(c);
    });
    req.on("error", () => res.destroy());
    req.on("end", () => {
      if (tooBig) return reply(413, { error: `AdmissionReview larger than ${MAX_REVIEW_BYTES} bytes` });
      let review: unknown;
      try {
        review = JSON.parse(Buffer.concat(parts).toString("utf8"));
      } catch {
        return reply(400, { error: "the body is not JSON" });
      }
      const out = reviewAdmission(review, this.#cfg.injector, {
        namespaceLabels: (name) => this.#namespaces.get(name),
        namespaceOptedIn: scope === "namespace",
      });
      this.#logDecision(review, scope, out.response);
      reply(200, out);
    });
  }

  #logDecision(
    review: unknown,
    scope: string,
    r: { uid: string; allowed: boolean; patch?: string; status?: { message: string }; warnings?: string[] },
  ): void {
    if (!this.#logger) return;
    const req = (review as { request?: { namespace?: unknown; object?: { metadata?: Obj } } })?.request;
    const md = req?.object?.metadata ?? {};
    const name =
      typeof md.name === "string" ? md.name : typeof md.generateName === "string" ? `${md.generateName}*` : "";
    const decision = !r.allowed ? "refused" : r.patch ? "injected" : "unchanged";
    this.#logger[r.allowed ? "info" : "warn"]({
      msg: "admission",
      scope,
      uid: r.uid,
      namespace: typeof req?.namespace === "string" ? req.namespace : "",
      pod: name.slice(0, 253),
      decision,
      ...(r.status ? { reason: r.status.message } : {}),
      ...(r.warnings?.length ? { warnings: r.warnings } : {}),
    });
  }

  #closed: Promise<void> | undefined;

  /** Stops listening (in-flight reviews finish), stops the informer; idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    if (this.#certTimer) clearInterval(this.#certTimer);
    await this.#informer.stop();
    const https = this.#https;
    await Promise.all([
      new Promise<void>((resolve) => {
        if (!https) return resolve();
        https.close(() => resolve());
        https.closeAllConnections();
      }),
      this.#health?.close(),
    ]);
    await this.#kube.close();
  }
}

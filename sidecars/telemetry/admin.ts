/**
 * The sidecar's admin HTTP listener: `GET /metrics` (Prometheus text format: this thread's registry plus
 * every extra source, e.g. the guard thread's) and `GET /ready` (200 once the sidecar serves, 503 while
 * starting or draining). Nothing else; no request body is read. Bind it to loopback or a pod-local
 * address: metrics name routes, services and SVIDs.
 */
import { createServer, type Server } from "node:http";
import { EXPOSITION_CONTENT_TYPE, mergeExpositions, type Registry } from "../../filters/telemetry/metrics.ts";

export interface AdminSources {
  readonly registry: Registry;
  /** More exposition text (another thread's registry); a source that fails or is slow is left out. */
  readonly extra?: readonly (() => Promise<string>)[];
  readonly ready: () => boolean;
}

const EXTRA_TIMEOUT_MS = 2000;
/**
 * How long one exposition is served again. The listener shares the event loop with ext_authz: a client
 * polling /metrics in a loop must not make Checks wait on exposition building, so it is built at most
 * once per interval (scrapers ask every 15–60 s), and one build is in flight at a time.
 */
export const EXPOSITION_CACHE_MS = 1000;

function withTimeout(p: Promise<string>): Promise<string> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(""), EXTRA_TIMEOUT_MS);
    t.unref();
    p.then(
      (s) => {
        clearTimeout(t);
        resolve(s);
      },
      () => {
        clearTimeout(t);
        resolve("");
      },
    );
  });
}

export class AdminServer {
  readonly #server: Server;
  address = "";

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(listen: string, sources: AdminSources): Promise<AdminServer> {
    let cached: { at: number; body: Promise<string> } | undefined;
    const build = async (): Promise<string> => {
      const parts = [sources.registry.exposition()];
      for (const s of sources.extra ?? []) parts.push(await withTimeout(s()));
      return mergeExpositions(parts);
    };
    const exposition = (): Promise<string> => {
      const now = performance.now();
      if (cached === undefined || now - cached.at >= EXPOSITION_CACHE_MS) cached = { at: now, body: build() };
      return cached.body;
    };
    const server = createServer(async (req, res) => {
      const url = req.url ?? "/";
      const path = url.split("?", 1)[0];
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD" }).end();
        return;
      }
      if (path === "/metrics") {
        const body = await exposition();
        res.writeHead(200, { "content-type": EXPOSITION_CONTENT_TYPE, "content-length": Buffer.byteLength(body) });
        res.end(req.method === "HEAD" ? undefined : body);
        return;
      }
      if (path === "/ready") {
        const ok = sources.ready();
        res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? "ready\n" : "not ready\n");
        return;
      }
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    });
    server.headersTimeout = 5000;
    server.requestTimeout = 10000;
    server.keepAliveTimeout = 5000;
    const i = listen.lastIndexOf(":");
    const host = listen.slice(0, i).replace(/^\[|\]$/g, "");
    const port = Number(listen.slice(i + 1));
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e) => reject(new Error(`telemetry.admin.listen ${listen}: ${e.message}`)));
      server.listen(port, host, () => resolve());
    });
    const admin = new AdminServer(server);
    const a = server.address();
    admin.address =
      a && typeof a === "object" ? `${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}` : listen;
    return admin;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

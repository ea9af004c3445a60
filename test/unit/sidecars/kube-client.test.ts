/**
 * The informer's watch semantics against a scripted HTTPS server speaking the API server's list and watch
 * wire format (the real API server's happy path is covered by the kube-* integration tests; expiring a
 * resourceVersion on demand is not something it can be made to do): list → watch from the list's version →
 * resume from the last event's version when a watch ends → relist on `410 Gone` (an ERROR event), with the
 * relist replacing the store. Also: the token rides as a bearer header, an oversized event line is refused.
 */
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { makeCa, makeLeaf } from "../../../sidecars/devtools/dev-ca.ts";
import { Informer, KubeClient } from "../../../sidecars/kube/client.ts";

type Handler = (url: URL, res: import("node:http").ServerResponse, auth: string | undefined) => void;

let server: Server | undefined;
let client: KubeClient | undefined;

async function serve(handler: Handler): Promise<KubeClient> {
  const ca = await makeCa("kube-client-test");
  const leaf = await makeLeaf(ca, { ips: ["127.0.0.1"] });
  server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) =>
    handler(new URL(req.url ?? "/", "https://x"), res, req.headers.authorization),
  );
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  client = new KubeClient({ server: `https://127.0.0.1:${port}`, token: () => "t0ken", ca: ca.certPem });
  return client;
}

afterEach(async () => {
  await client?.close();
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  client = undefined;
});

const ns = (name: string, rv: string) => ({ metadata: { name, resourceVersion: rv } });
const line = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`;

describe("Informer", () => {
  it("lists, watches from the list's version, resumes after a watch ends, relists on 410 Gone", async () => {
    const seen: string[] = [];
    let lists = 0;
    let watches = 0;
    const kube = await serve((url, res, auth) => {
      expect(auth).toBe("Bearer t0ken");
      if (url.searchParams.get("watch") !== "1") {
        lists++;
        res.setHeader("content-type", "application/json");
        const items = lists === 1 ? [ns("a", "10")] : [ns("a", "30"), ns("c", "31")];
        res.end(JSON.stringify({ items, metadata: { resourceVersion: lists === 1 ? "10" : "31" } }));
        return;
      }
      watches++;
      seen.push(`watch from ${url.searchParams.get("resourceVersion")}`);
      res.writeHead(200, { "content-type": "application/json" });
      if (watches === 1) {
        res.end(line("ADDED", ns("b", "11")) + line("BOOKMARK", ns("", "12"))); // the server ends this watch
      } else if (watches === 2) {
        res.end(line("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" }));
      } else {
        res.write(line("DELETED", ns("a", "32"))); // then stays open
      }
    });
    const store = new Map<string, string>();
    const events: string[] = [];
    let syncs = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => {
      done = r;
    });
    const inf = new Informer<{ metadata: { name: string; resourceVersion: string } }>(kube, "/api/v1/namespaces", {
      onSync: (items) => {
        syncs++;
        store.clear();
        for (const i of items) store.set(i.metadata.name, i.metadata.resourceVersion);
      },
      onEvent: (type, o) => {
        events.push(`${type} ${o.metadata.name}`);
        if (type === "DELETED") store.delete(o.metadata.name);
        else store.set(o.metadata.name, o.metadata.resourceVersion);
        if (type === "DELETED") done();
      },
    });
    inf.start();
    await inf.synced;
    await finished;
    await inf.stop();
    expect(seen).toEqual(["watch from 10", "watch from 12", "watch from 31"]); // resumed at the bookmark
    expect(events).toEqual(["ADDED b", "DELETED a"]); // BOOKMARK and ERROR are not events
    expect(syncs).toBe(2);
    expect([...store.entries()]).toEqual([["c", "31"]]); // the relist replaced b, which was gone
  });

  it("refuses a watch event line larger than the cap instead of buffering it", async () => {
    const kube = await serve((url, res) => {
      if (url.searchParams.get("watch") !== "1") {
        res.end(JSON.stringify({ items: [], metadata: { resourceVersion: "1" } }));
        return;
      }
      res.writeHead(200);
      const chunk = "x".repeat(1 << 20);
      const write = () => {
        while (res.write(chunk)) {}
        res.once("drain", write);
      };
      write();
    });
    await expect(
      kube.watch("/api/v1/pods", { resourceVersion: "1" }, () => {}, new AbortController().signal),
    ).rejects.toThrow(/an event is larger than/);
  });

  it("names the API's reason on an error, never the token", async () => {
    const kube = await serve((_url, res) => {
      res.writeHead(403, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ kind: "Status", reason: "Forbidden", message: 'pods is forbidden: User "x" cannot list' }),
      );
    });
    const err = await kube.json("GET", "/api/v1/pods").catch((e: Error) => e);
    expect(String(err)).toContain("403 Forbidden: pods is forbidden");
    expect(String(err)).not.toContain("t0ken");
  });
});

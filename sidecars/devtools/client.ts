/** HTTPS client for tests: presents a client certificate (or none) to Envoy's outbound listener. */
import https from "node:https";

export interface ClientIdentity {
  cert?: string;
  key?: string;
  ca: string;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function request(
  port: number,
  id: ClientIdentity,
  opts: {
    method?: string;
    host: string;
    path: string;
    headers?: Record<string, string>;
    body?: string;
    agent?: https.Agent;
  },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port,
        method: opts.method ?? "GET",
        path: opts.path,
        servername: "envoy.hexr.test",
        headers: { host: opts.host, ...opts.headers },
        ca: id.ca,
        ...(id.cert ? { cert: id.cert, key: id.key } : {}),
        checkServerIdentity: () => undefined, // the test CA is pinned via `ca`; the server name is not what we test
        ...(opts.agent ? { agent: opts.agent } : { agent: false }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

/**
 * An agent workload for local tests and `hexr demo`: it takes its identity from the SPIFFE Workload API and
 * calls the local Envoy with it — mTLS with its current X.509-SVID, and/or a JWT-SVID header — while
 * checking that the server it reached is Envoy by SPIFFE ID (the SVID's URI SAN, not a host name).
 *
 * Run as a script it is a separate workload process (its uid and executable decide which registration
 * entries the agent matches): it fetches its SVID, sends one request and prints the outcome as JSON.
 * `SpireHarness.runAs` starts it under another uid or executable.
 *
 * @example
 *   // in-process: one call per SVID the agent gave this process
 *   const r = await svidRequest({ port, serverId, cert: svid.certChainPem, key: svid.keyPem, ca, host, path });
 *   // as its own process: node sidecars/devtools/workload.ts '{"socket":…,"port":…,"serverId":…,"request":{…}}'
 */
import https from "node:https";
import type { PeerCertificate } from "node:tls";
import { WorkloadApiClient } from "../workload-api/client.ts";
import { spiffeIdFromPeerCertificate } from "../workload-api/tls.ts";
import type { Reply } from "./client.ts";

/** The TLS server name clients send; Envoy has one filter chain, so it only has to be a valid DNS name. */
export const LOCAL_SNI = "envoy.hexr.test";
export const WORKLOAD_SCRIPT = import.meta.filename;

export interface SvidRequestOptions {
  port: number;
  /** The SPIFFE ID the server must present. */
  serverId: string;
  /** Trust bundle (PEM CA certificates) the server's chain must verify against. */
  ca: string;
  /** Client X.509-SVID chain and key; omit for a JWT-SVID-only (or anonymous) client. */
  cert?: string;
  key?: string;
  method?: string;
  host: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  agent?: https.Agent;
  /** Skip verifying the server (only to show how the server treats a client; never for real calls). */
  insecureSkipServerCheck?: boolean;
}

export interface SvidReply extends Reply {
  /** Serial (lowercase hex) of the certificate the server presented on this connection. */
  serverSerial: string | undefined;
}

export function checkServerId(serverId: string) {
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    const id = spiffeIdFromPeerCertificate(cert);
    return id === serverId ? undefined : new Error(`server SPIFFE ID ${id ?? "(none)"} is not ${serverId}`);
  };
}

/** One HTTPS request to the local Envoy as an SVID-holding workload. Rejects on TLS failures. */
export function svidRequest(o: SvidRequestOptions): Promise<SvidReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port: o.port,
        method: o.method ?? "GET",
        path: o.path,
        servername: LOCAL_SNI,
        headers: { host: o.host, ...o.headers },
        ca: o.ca,
        ...(o.cert ? { cert: o.cert, key: o.key } : {}),
        ...(o.insecureSkipServerCheck
          ? { rejectUnauthorized: false }
          : { checkServerIdentity: checkServerId(o.serverId) }),
        agent: o.agent ?? false,
      },
      (res) => {
        const serial = (res.socket as import("node:tls").TLSSocket).getPeerCertificate?.()?.serialNumber;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
            serverSerial: serial?.toLowerCase(),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

/** What the script reads from argv[2] (JSON). */
export interface WorkloadScriptInput {
  socket: string;
  port: number;
  serverId: string;
  trustDomain: string;
  request: { method?: string; host: string; path: string; headers?: Record<string, string>; body?: string };
  /** Wait for this SPIFFE ID (default: use the first SVID the agent returns). */
  want?: string;
  timeoutMs: number;
}

/** What the script prints (JSON). */
export interface WorkloadScriptOutput {
  spiffeId: string;
  svidSerial: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function main(input: WorkloadScriptInput): Promise<WorkloadScriptOutput> {
  const client = new WorkloadApiClient({ socketPath: input.socket, streams: ["x509"], backoffMaxMs: 500 });
  try {
    const deadline = Date.now() + input.timeoutMs;
    let snap = await client.ready({ timeoutMs: input.timeoutMs });
    const pick = () => snap.svids.find((s) => input.want === undefined || s.spiffeId === input.want);
    while (!pick()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SVID ${input.want} within ${input.timeoutMs} ms`);
      snap = await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no SVID ${input.want} within ${input.timeoutMs} ms`)), left);
        const off = client.onX509Update((s) => {
          clearTimeout(t);
          off();
          resolve(s);
        });
      });
    }
    const svid = pick()!;
    const ca = snap.x509Bundles.get(input.trustDomain)?.join("\n") ?? svid.bundlePem;
    const r = await svidRequest({
      port: input.port,
      serverId: input.serverId,
      ca,
      cert: svid.certChainPem,
      key: svid.keyPem,
      ...input.request,
    });
    return {
      spiffeId: svid.spiffeId,
      svidSerial: svid.serialNumber.toLowerCase(),
      status: r.status,
      headers: r.headers,
      body: r.body,
    };
  } finally {
    client.close();
  }
}

if (import.meta.main) {
  main(JSON.parse(process.argv[2] ?? "{}") as WorkloadScriptInput).then(
    (out) => process.stdout.write(JSON.stringify(out)),
    (e: Error) => {
      process.stderr.write(`workload: ${e.message}\n`);
      process.exitCode = 2;
    },
  );
}

/**
 * `hexr demo`: a local data plane (real Envoy, the authz sidecar, a sample upstream) and a scripted set
 * of requests as several SPIFFE identities, printed as a table.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { MemoryAudit } from "../authz/audit.ts";
import type { ClientIdentity } from "../devtools/client.ts";
import { LOCAL_TRUST_DOMAIN, startLocalDataPlane } from "../devtools/local-dataplane.ts";
import { MemoryLogger } from "../logger.ts";
import { type Command, parseFlags } from "./command.ts";

const USAGE = `Usage: hexr demo [--once] [--bundle FILE] [--real-clock]

Starts a local data plane on loopback — real Envoy (mTLS outbound listener, ext_authz), the Hexr
authz sidecar with the OPA-WASM policy bundle, and a sample upstream — then sends a scripted set of
requests as several SPIFFE identities and prints identity, service, action, decision, reason, latency.
Keeps running until Ctrl-C so you can send your own requests (the printed curl line shows how).

Options:
      --once        exit after the table
      --bundle FILE policy bundle (default .hexr/build/bundle.tar.gz, built by 'hexr policy build')
      --real-clock  use the wall clock; by default the sidecar's clock starts at 10:30 UTC today so the
                    policy's business-hours rule allows researchers whenever you run the demo
  -h, --help        this help
`;

const TD = LOCAL_TRUST_DOMAIN;
const agent = (role: string, crew = "content-crew", tenant = "acme-corp") =>
  `spiffe://${TD}/agent/${tenant}/${crew}/${role}`;

interface Step {
  who: string;
  uris: string[];
  dns?: string[];
  method: string;
  host: string;
  path: string;
  headers?: Record<string, string>;
  repeat?: number;
}

const STEPS: Step[] = [
  {
    who: "researcher",
    uris: [agent("researcher")],
    method: "POST",
    host: "bigquery.googleapis.com",
    path: "/bigquery/v2/projects/acme/queries",
  },
  {
    who: "researcher",
    uris: [agent("researcher")],
    method: "GET",
    host: "reports.s3.amazonaws.com",
    path: "/2026/q1.csv",
  },
  {
    who: "researcher",
    uris: [agent("researcher")],
    method: "PUT",
    host: "reports.s3.amazonaws.com",
    path: "/2026/q1.csv",
  },
  { who: "writer", uris: [agent("writer")], method: "PUT", host: "drafts.s3.amazonaws.com", path: "/post-42.md" },
  {
    who: "writer",
    uris: [agent("writer")],
    method: "POST",
    host: "bigquery.googleapis.com",
    path: "/bigquery/v2/projects/acme/queries",
  },
  { who: "editor", uris: [agent("editor")], method: "GET", host: "drafts.s3.amazonaws.com", path: "/post-42.md" },
  {
    who: "writer (spoofs x-hexr-role: researcher)",
    uris: [agent("writer")],
    method: "POST",
    host: "bigquery.googleapis.com",
    path: "/bigquery/v2/projects/acme/queries",
    headers: { "x-hexr-role": "researcher", "x-hexr-spiffe-id": agent("researcher") },
  },
  {
    who: "foreign trust domain",
    uris: ["spiffe://evil.example/agent/acme-corp/content-crew/researcher"],
    method: "POST",
    host: "bigquery.googleapis.com",
    path: "/bigquery/v2/projects/acme/queries",
  },
  {
    who: "cert without SPIFFE ID",
    uris: [],
    dns: ["laptop.example.com"],
    method: "GET",
    host: "reports.s3.amazonaws.com",
    path: "/2026/q1.csv",
  },
  {
    who: "analyst (sub-agent), 101 calls/min",
    uris: [agent("researcher/worker-7", "analyst-crew")],
    method: "GET",
    host: "reports.s3.amazonaws.com",
    path: "/2026/q2.csv",
    repeat: 101,
  },
];

function pad(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n);
}

const command: Command = {
  name: "demo",
  summary: "run a local data plane and a scripted set of requests",
  usage: USAGE,
  async run(args) {
    const { values } = parseFlags(args, {
      once: { type: "boolean" },
      bundle: { type: "string" },
      "real-clock": { type: "boolean" },
    });
    const bundle = path.resolve(values.bundle ?? ".hexr/build/bundle.tar.gz");
    if (!existsSync(bundle)) {
      process.stderr.write(`hexr demo: no policy bundle at ${bundle}; run 'bin/hexr policy build' (make demo does)\n`);
      return 1;
    }
    const start = new Date();
    start.setUTCHours(10, 30, 0, 0);
    const offset = start.getTime() - Date.now();
    const now = values["real-clock"] ? Date.now : () => Date.now() + offset;
    const audit = new MemoryAudit();
    const logger = new MemoryLogger();
    process.stdout.write("Starting Envoy, the Hexr authz sidecar and a sample upstream on loopback…\n");
    const dp = await startLocalDataPlane({ bundlePath: bundle, logger, audit, now });
    try {
      process.stdout.write(
        `Envoy outbound listener https://127.0.0.1:${dp.outboundPort} (mTLS), authz sidecar ${dp.authzSocket}, policy ${dp.sidecar.store?.current()?.revision}\n` +
          `Clock: ${values["real-clock"] ? "wall clock" : "starts at 10:30 UTC (business hours)"}\n\n`,
      );
      const header = `${pad("identity", 40)} ${pad("service", 13)} ${pad("action", 14)} ${pad("decision", 8)} ${pad("reason", 62)} latency`;
      process.stdout.write(`${header}\n${"-".repeat(header.length + 4)}\n`);
      const ids = new Map<string, ClientIdentity>();
      for (const step of STEPS) {
        const key = [...step.uris, ...(step.dns ?? [])].join(",");
        let id = ids.get(key);
        if (!id) {
          id = await dp.identity(step.uris, step.dns);
          ids.set(key, id);
        }
        let status = 0;
        let decisionId: string | undefined;
        let ms = 0;
        for (let i = 0; i < (step.repeat ?? 1); i++) {
          const t0 = performance.now();
          const r = await dp.send(id, {
            method: step.method,
            host: step.host,
            path: step.path,
            ...(step.headers ? { headers: step.headers } : {}),
          });
          ms = performance.now() - t0;
          status = r.status;
          decisionId =
            (r.headers["x-hexr-decision-id"] as string | undefined) ??
            (dp.upstream.seen.at(-1)?.headers["x-hexr-decision-id"] as string | undefined);
        }
        const rec = audit.records.find((a) => a.decision_id === decisionId);
        const decision = status === 200 ? "allow" : status === 403 ? "deny" : String(status);
        process.stdout.write(
          `${pad(step.who, 40)} ${pad(rec?.service ?? "-", 13)} ${pad(rec?.action ?? step.method, 14)} ${pad(decision, 8)} ${pad(rec?.reasons.join("; ") || (status === 200 ? "policy allowed" : ""), 62)} ${ms.toFixed(2)} ms\n`,
        );
      }
      process.stdout.write(
        `\n${audit.records.length} decisions audited; the upstream received ${dp.upstream.seen.length} requests (only allowed ones).\n`,
      );
      if (values.once) return 0;
      process.stdout.write("\nThe data plane keeps running; Ctrl-C to stop.\n");
      await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      return 0;
    } finally {
      await dp.stop();
    }
  },
};
export default command;

/**
 * How many ext_proc messages Envoy sends the guard for one streamed answer, per body mode: the question
 * behind FULL_DUPLEX_STREAMED (does STREAMED cost a round trip per SSE event?). Real Envoy, the guard in
 * process (`isolation: inline`, so its processors can be counted), the benchmark's upstream shape (one
 * write per SSE event, 64 events), a no-op ext_authz, and the same requests through two Envoys: one whose
 * LLM route leaves body modes to the guard's `mode_override` (STREAMED), one with
 * `FULL_DUPLEX_EXT_PROC`. Prints body messages and answers per streamed answer for each.
 *
 * Usage: node bench/micro/extproc-chunks.ts [--requests N] [--events N]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Agent, fetch } from "undici";
import { FULL_DUPLEX_EXT_PROC, renderSidecarBootstrap } from "../../envoy-config/index.ts";
import { startEnvoy } from "../../envoy-config/runner.ts";
import { startSidecar } from "../../sidecars/authz-sidecar.ts";
import { parseConfig } from "../../sidecars/config.ts";
import { makeCa, makeLeaf } from "../../sidecars/devtools/dev-ca.ts";
import { startLlmUpstream } from "../../sidecars/devtools/llm-upstream.ts";
import { GuardProcessor } from "../../sidecars/extproc/guard-processor.ts";
import { MemoryLogger } from "../../sidecars/logger.ts";

const { values } = parseArgs({ options: { requests: { type: "string" }, events: { type: "string" } } });
const requests = Number(values.requests ?? 50);
const events = Number(values.events ?? 64);

const dir = mkdtempSync(path.join(tmpdir(), "hexr-chunks-"));
const ca = await makeCa("chunks-ca");
const envoyLeaf = await makeLeaf(ca, { uris: ["spiffe://bench.test/sidecar/envoy"], dns: ["envoy.bench.test"] });
const client = await makeLeaf(ca, { uris: ["spiffe://bench.test/agent/acme/crew/researcher"] });
for (const [f, t] of [
  ["ca.pem", ca.certPem],
  ["envoy.pem", envoyLeaf.certPem],
  ["envoy-key.pem", envoyLeaf.keyPem],
] as const)
  writeFileSync(path.join(dir, f), t);
const dispatcher = new Agent({
  connect: {
    ca: ca.certPem,
    cert: client.certPem,
    key: client.keyPem,
    servername: "envoy.bench.test",
    lookup: (_h: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) =>
      o?.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4),
  } as never,
});

// a no-op ext_authz (the benchmark's floor server): only ext_proc is counted here
const authzSocket = path.join(dir, "authz.sock");
const noop = spawn(
  process.execPath,
  [path.join(import.meta.dirname, "../servers/noop-authz-http2.ts"), "--socket", authzSocket],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
await new Promise<void>((resolve) => noop.stdout!.on("data", (d) => String(d).includes("ready") && resolve()));

const llm = await startLlmUpstream({ record: false, reply: "word ".repeat(events * 2).trim(), deltaSize: 10 });
const procSocket = path.join(dir, "ext-proc.sock");
const sidecar = await startSidecar(
  parseConfig(
    JSON.stringify({
      trust_domains: ["bench.test"],
      ext_proc: { listen: { socket: procSocket }, isolation: "inline" },
    }),
    path.join(dir, "hexr.yaml"),
  ),
  { logger: new MemoryLogger() },
);

let bodies = 0;
let answers = 0;
const responseBody = GuardProcessor.prototype.responseBody;
GuardProcessor.prototype.responseBody = function (this: GuardProcessor, b) {
  bodies++;
  const a = responseBody.call(this, b);
  answers += Array.isArray(a) ? a.length : 1;
  return a;
};

try {
  for (const [mode, extProc] of [
    ["mode_override (STREAMED)", undefined],
    ["FULL_DUPLEX_EXT_PROC", FULL_DUPLEX_EXT_PROC],
  ] as const) {
    const envoy = await startEnvoy(
      renderSidecarBootstrap({
        tls: {
          mode: "files",
          certChain: path.join(dir, "envoy.pem"),
          privateKey: path.join(dir, "envoy-key.pem"),
          clientCa: path.join(dir, "ca.pem"),
        },
        outbound: { address: "127.0.0.1", port: 0 },
        authz: { socket: authzSocket },
        extProc: { socket: procSocket },
        upstreams: [
          {
            name: "llm",
            domains: ["api.openai.com"],
            address: "127.0.0.1",
            port: llm.port,
            ...(extProc ? { extProc } : {}),
          },
        ],
        accessLog: false,
      }),
    );
    bodies = 0;
    answers = 0;
    let bytes = 0;
    for (let i = 0; i < requests; i++) {
      const r = await fetch(`https://api.openai.com:${envoy.ports.outbound}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "report" }] }),
        dispatcher,
      });
      bytes += (await r.arrayBuffer()).byteLength;
    }
    await envoy.stop();
    console.log(
      `${mode}: ${(bodies / requests).toFixed(2)} body messages and ${(answers / requests).toFixed(2)} answers per streamed answer (${events} events, ${Math.round(bytes / requests)} bytes)`,
    );
  }
} finally {
  await sidecar.stop(0);
  await llm.close();
  await dispatcher.close();
  noop.kill();
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The processes behind Envoy, each started on its own so its CPU and memory can be read from /proc:
 * the upstreams (fortio's echo server; an OpenAI-compatible server for the guard scenarios), our sidecar
 * (`bin/hexr sidecar --config`, exactly as deployed), our ext_proc server, and the reference
 * (`opa-envoy-plugin run --server` with its `envoy_ext_authz_grpc` plugin).
 */
import { writeFileSync } from "node:fs";
import { freePort } from "../../sidecars/devtools/child-process.ts";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Child, GiveUp, poll, startChild } from "./process.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const HEXR_BIN = path.join(REPO_ROOT, "bin", "hexr");
const NODE_FLAGS = ["--disable-warning=ExperimentalWarning"];

export interface Server {
  name: string;
  child: Child;
  pid: number;
  stop(): Promise<void>;
}

export interface UpstreamServer extends Server {
  port: number;
}

export interface GrpcServer extends Server {
  socket: string;
}

function server<T extends object>(child: Child, extra: T): Server & T {
  return { name: child.name, child, pid: child.pid, stop: () => child.stop(), ...extra };
}

/** fortio's HTTP echo server: answers any method and path with 200 and an empty body. */
export async function startFortioUpstream(fortio: string): Promise<UpstreamServer> {
  const child = startChild("fortio-upstream", fortio, [
    "server",
    "-http-port",
    "127.0.0.1:0",
    "-grpc-port",
    "disabled",
    "-redirect-port",
    "disabled",
    "-tcp-port",
    "disabled",
    "-udp-port",
    "disabled",
    "-ui-path",
    "",
    "-loglevel",
    "Info",
    "-logger-json=true",
  ]);
  const m = await child.waitForOutput(/http-echo server listening on tcp 127\.0\.0\.1:(\d+)/);
  return server(child, { port: Number(m[1]) });
}

/** OpenAI-compatible upstream for the guard scenarios (bench/servers/llm-upstream.ts). */
export async function startLlmUpstream(): Promise<UpstreamServer> {
  const script = path.join(REPO_ROOT, "bench", "servers", "llm-upstream.ts");
  const child = startChild("llm-upstream", process.execPath, [...NODE_FLAGS, script]);
  const m = await child.waitForOutput(/listening (\d+)/);
  return server(child, { port: Number(m[1]) });
}

export interface SidecarOptions {
  dir: string;
  name: string;
  trustDomain: string;
  /** Serve ext_authz with this policy bundle. */
  bundle?: string;
  /**
   * Serve ext_proc: `headers` with no guarded routes (every request takes the pass-through processor,
   * header-only), `guard` with the default guard routes (OpenAI chat/responses, Anthropic messages).
   */
  extProc?: "headers" | "guard";
  /** Extra NODE_OPTIONS (e.g. `--cpu-prof --cpu-prof-dir=…`). */
  nodeOptions?: string;
  /** Export spans to this OTLP gRPC endpoint (`telemetry.tracing`). */
  tracing?: { endpoint: string; ratio: number };
  /** Serve `/metrics` on a loopback port (`telemetry.admin.listen`); its address comes back as `admin`. */
  admin?: boolean;
  /** More top-level config sections (`redis`, `credentials`). */
  sections?: Readonly<Record<string, unknown>>;
  /** Run from this compiled build (`HEXR_DIST`, scripts/build-dist.sh) instead of the TypeScript sources. */
  dist?: string;
  /** `authz.listen.server`: what serves Check (default the sidecar's: http2 on this socket). */
  authzServer?: "grpc-js" | "http2";
  /** `ext_proc.listen.server`: what serves Process (default the sidecar's: http2 on its own socket). */
  extProcServer?: "grpc-js" | "http2";
}

/**
 * Our sidecar as deployed: `bin/hexr sidecar --config`, listening on a Unix socket, ext_authz and/or
 * ext_proc by config, audit lines written (to /dev/null: the cost of building and serializing them stays
 * in the measurement).
 */
export async function startHexrSidecar(
  o: SidecarOptions,
): Promise<GrpcServer & { procSocket: string; admin?: string }> {
  const socket = path.join(o.dir, `${o.name}.sock`);
  // with both, ext_proc gets a socket of its own (and so its own thread); alone, it takes the one socket
  const procSocket = o.bundle && o.extProc ? path.join(o.dir, `${o.name}-proc.sock`) : socket;
  const config = path.join(o.dir, `${o.name}.yaml`);
  writeFileSync(
    config,
    JSON.stringify({
      trust_domains: [o.trustDomain],
      ...(o.bundle
        ? { authz: { listen: { socket, ...(o.authzServer ? { server: o.authzServer } : {}) }, bundle: o.bundle } }
        : {}),
      ...(o.extProc
        ? {
            ext_proc: {
              listen: { socket: procSocket, ...(o.extProcServer ? { server: o.extProcServer } : {}) },
              ...(o.extProc === "headers" ? { routes: [] } : {}),
            },
          }
        : {}),
      audit: { path: "/dev/null" },
      log: { level: "info" },
      drain_timeout_ms: 1000,
      ...(o.tracing || o.admin
        ? {
            telemetry: {
              ...(o.tracing ? { tracing: { endpoint: o.tracing.endpoint, sampling_ratio: o.tracing.ratio } } : {}),
              ...(o.admin ? { admin: { listen: "127.0.0.1:0" } } : {}),
            },
          }
        : {}),
      ...o.sections,
    }),
  );
  const env = {
    ...process.env,
    ...(o.nodeOptions ? { NODE_OPTIONS: o.nodeOptions } : {}),
    ...(o.dist ? { HEXR_DIST: o.dist } : {}),
  };
  const child = startChild(o.name, HEXR_BIN, ["sidecar", "--config", config], { env });
  const started = await child.waitForOutput(/"event":"sidecar_started"[^\n]*\n/);
  const admin = /"admin":"([^"]+)"/.exec(started[0])?.[1];
  return server(child, { socket, procSocket, ...(admin ? { admin } : {}) });
}

/** The floor: a Node gRPC ext_authz server that allows at once (bench/servers/noop-authz.ts). */
export async function startNoopAuthz(
  dir: string,
  name: string,
  nodeOptions?: string,
  flavour: "grpc-js" | "http2" = "grpc-js",
): Promise<GrpcServer> {
  const socket = path.join(dir, `${name}.sock`);
  const script = path.join(
    REPO_ROOT,
    "bench",
    "servers",
    flavour === "http2" ? "noop-authz-http2.ts" : "noop-authz.ts",
  );
  const env = { ...process.env, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) };
  const child = startChild(name, process.execPath, [...NODE_FLAGS, script, "--socket", socket], { env });
  await child.waitForOutput(/^ready$/m);
  return server(child, { socket });
}

/**
 * opa-envoy-plugin as the ext_authz gRPC server on a Unix socket, with the policy and data in
 * `policyFiles` evaluated at `decisionPath`. Decision logs are off (the default without a `decision_logs` service), as is
 * telemetry. Ready when OPA's `/health?plugins` says every plugin is up.
 */
export async function startOpaEnvoy(
  bin: string,
  dir: string,
  name: string,
  policyFiles: readonly string[],
  decisionPath: string,
): Promise<GrpcServer> {
  const socket = path.join(dir, `${name}.sock`);
  const config = path.join(dir, `${name}.yaml`);
  writeFileSync(
    config,
    JSON.stringify({
      plugins: {
        envoy_ext_authz_grpc: {
          addr: `unix://${socket}`,
          path: decisionPath,
          "dry-run": false,
          "enable-reflection": false,
        },
      },
    }),
  );
  // OPA's own HTTP API is needed only for the health check; the port race with freePort is harmless here.
  const httpAddr = `127.0.0.1:${await freePort()}`;
  const child = startChild(name, bin, [
    "run",
    "--server",
    "--addr",
    httpAddr,
    "--config-file",
    config,
    "--disable-telemetry",
    "--log-level",
    "error",
    ...policyFiles,
  ]);
  await poll(`${name} health`, async () => {
    if (child.exited()) throw new GiveUp(`${name} exited:\n${child.output()}`);
    const r = await fetch(`http://${httpAddr}/health?plugins`);
    return r.status === 200 ? true : undefined;
  });
  return server(child, { socket });
}

/**
 * Starts every process the selected scenarios need, once, so the measurement loop can interleave
 * scenarios without restarts: upstreams, the gRPC servers (ours and the reference), and one Envoy per
 * stack. Idle stacks cost memory, not CPU, and they are the same for every scenario.
 */
import { FULL_DUPLEX_EXT_PROC, type RouteExtProc, type UpstreamOptions } from "../../envoy-config/index.ts";
import type { LoadTarget } from "../load.ts";
import {
  CHAT_PATH,
  ECHO_HOSTS,
  LLM_HOST,
  type RequestFiles,
  type RequestKind,
  S3_PATH,
  type StackId,
  TRACE_SAMPLING,
} from "../scenarios.ts";
import { type BenchEnvoy, startBenchEnvoy } from "./envoy.ts";
import type { BenchPki } from "./pki.ts";
import type { TracingOptions } from "../../envoy-config/types.ts";
import { startCollector } from "../../sidecars/devtools/otel-collector.ts";
import {
  type GrpcServer,
  type Server,
  startFortioUpstream,
  startHexrSidecar,
  startLlmUpstream,
  startNoopAuthz,
  startOpaEnvoy,
  type UpstreamServer,
} from "./servers.ts";
import { TRUST_DOMAIN } from "./pki.ts";
import { type CredentialBackends, credentialCounters, startCredentialBackends } from "./credentials.ts";
import { A2A_STACKS, a2aSidecarSections, a2aTarget, checkA2aAnswers, startA2aEnvoy, startA2aUpstream } from "./a2a.ts";

export interface StackContext {
  dir: string;
  pki: BenchPki;
  fortio: string;
  opaEnvoy: string;
  bundles: { allowAll: string; rbac: string };
  referencePolicy: readonly string[];
  referencePath: string;
  bodies: RequestFiles;
  envoyConcurrency: number;
  /** NODE_OPTIONS for our Node servers (profiling). */
  nodeOptions?: string;
  /** Run our sidecars from this compiled build (scripts/build-dist.sh), as a container image does. */
  dist?: string;
  /** Called as each process comes up (progress display). */
  onStart?: (what: string) => void;
}

export interface Stack {
  id: StackId;
  envoy?: BenchEnvoy;
  /** The ext_authz / ext_proc process whose CPU and memory are reported. */
  server?: Server;
  target(kind: RequestKind): LoadTarget;
  /** What the suite should log after the load (e.g. which credential tier served the Checks). */
  notes?(): Promise<string[]>;
}

export interface RunningStacks {
  stacks: Map<StackId, Stack>;
  stop(): Promise<void>;
}

function envoyTarget(pki: BenchPki, port: number, bodies: RequestFiles, kind: RequestKind): LoadTarget {
  const tls = { cert: pki.clients.writer.cert, key: pki.clients.writer.key, ca: pki.caFile };
  if (kind === "s3-put") {
    return { url: `https://s3.amazonaws.com:${port}${S3_PATH}`, method: "PUT", resolve: "127.0.0.1", tls };
  }
  const file =
    kind === "chat-1k"
      ? bodies.chat1k
      : kind === "chat-16k"
        ? bodies.chat16k
        : kind === "chat-flood"
          ? bodies.chatFlood
          : bodies.chatStream;
  return {
    url: `https://${LLM_HOST}:${port}${CHAT_PATH}`,
    method: "POST",
    resolve: "127.0.0.1",
    tls,
    body: { file, contentType: "application/json" },
  };
}

export async function startStacks(needed: ReadonlySet<StackId>, ctx: StackContext): Promise<RunningStacks> {
  const processes: Array<{ stop(): Promise<void> }> = [];
  const stacks = new Map<StackId, Stack>();
  const note = (what: string) => ctx.onStart?.(what);
  // how every hexr sidecar runs: profiling flags, and the compiled build when the suite made one
  const sidecarRuntime = {
    ...(ctx.nodeOptions ? { nodeOptions: ctx.nodeOptions } : {}),
    ...(ctx.dist ? { dist: ctx.dist } : {}),
  };
  const stop = async () => {
    // Envoys first (they hold connections to the servers), then servers and upstreams
    for (const p of processes.reverse()) await p.stop().catch(() => undefined);
  };
  try {
    note("fortio echo upstream");
    const echo: UpstreamServer = await startFortioUpstream(ctx.fortio);
    processes.push(echo);
    let llm: UpstreamServer | undefined;
    if (
      needed.has("hexr-guard") ||
      needed.has("hexr-guard-grpcjs") ||
      needed.has("hexr-guard-duplex") ||
      needed.has("hexr-authz-guard") ||
      needed.has("hexr-full")
    ) {
      note("OpenAI-compatible upstream");
      llm = await startLlmUpstream();
      processes.push(llm);
    }
    // The same upstreams for every Envoy. The guard asks for request/response bodies per request (mode
    // override from its processor), so no route sets body modes up front — except the helper stack
    // `hexr-guard-duplex`, whose LLM route is FULL_DUPLEX_STREAMED (FULL_DUPLEX_EXT_PROC), and
    // `hexr-authz-guard`, whose cloud route skips ext_proc as the local data plane's do (`extProc: off`):
    // its scenario measures authorization beside a guard flood, not headers-only ext_proc queued behind it
    const upstreams = (llmExtProc?: RouteExtProc, cloudExtProc?: "off"): UpstreamOptions[] => [
      {
        name: "echo",
        domains: ECHO_HOSTS,
        address: "127.0.0.1",
        port: echo.port,
        ...(cloudExtProc ? { extProc: cloudExtProc } : {}),
      },
      // without the guard scenarios, OpenAI requests (parity checks only) go to the echo server
      {
        name: "llm",
        domains: [LLM_HOST],
        address: "127.0.0.1",
        port: llm?.port ?? echo.port,
        ...(llmExtProc ? { extProc: llmExtProc } : {}),
      },
    ];
    const envoyFor = async (id: StackId, authz?: GrpcServer, extProc?: GrpcServer, tracing?: TracingOptions) => {
      note(`envoy for ${id}`);
      const e = await startBenchEnvoy({
        pki: ctx.pki,
        upstreams: upstreams(
          id === "hexr-guard-duplex" ? FULL_DUPLEX_EXT_PROC : undefined,
          id === "hexr-authz-guard" ? "off" : undefined,
        ),
        ...(authz ? { authz: { socket: authz.socket } } : {}),
        ...(extProc ? { extProc: { socket: extProc.socket } } : {}),
        concurrency: ctx.envoyConcurrency,
        ...(tracing ? { tracing } : {}),
      });
      processes.push(e);
      return e;
    };
    const add = (id: StackId, envoy?: BenchEnvoy, server?: Server, notes?: () => Promise<string[]>) => {
      stacks.set(id, {
        id,
        ...(envoy ? { envoy } : {}),
        ...(server ? { server } : {}),
        ...(notes ? { notes } : {}),
        target: (kind) =>
          envoy
            ? envoyTarget(ctx.pki, envoy.port, ctx.bodies, kind)
            : { url: `http://127.0.0.1:${echo.port}${S3_PATH}`, method: "PUT" },
      });
    };

    if (needed.has("direct")) add("direct");
    if (needed.has("envoy")) add("envoy", await envoyFor("envoy"));
    const sidecar = async (
      id: StackId,
      section:
        | { bundle: string; authzServer?: "grpc-js" }
        | { extProc: "headers" | "guard"; extProcServer?: "grpc-js" },
    ) => {
      note(`hexr sidecar (${id})`);
      const s = await startHexrSidecar({
        dir: ctx.dir,
        name: id,
        trustDomain: TRUST_DOMAIN,
        ...section,
        ...sidecarRuntime,
      });
      processes.push(s);
      add(id, "bundle" in section ? await envoyFor(id, s) : await envoyFor(id, undefined, s), s);
    };
    if (needed.has("hexr-authz-allow")) await sidecar("hexr-authz-allow", { bundle: ctx.bundles.allowAll });
    if (needed.has("hexr-authz-rbac")) await sidecar("hexr-authz-rbac", { bundle: ctx.bundles.rbac });
    if (needed.has("hexr-authz-rbac-grpcjs"))
      await sidecar("hexr-authz-rbac-grpcjs", { bundle: ctx.bundles.rbac, authzServer: "grpc-js" });
    if (needed.has("opa-envoy-rbac")) {
      note("opa-envoy-plugin");
      const s = await startOpaEnvoy(ctx.opaEnvoy, ctx.dir, "opa-envoy-rbac", ctx.referencePolicy, ctx.referencePath);
      processes.push(s);
      add("opa-envoy-rbac", await envoyFor("opa-envoy-rbac", s), s);
    }
    if (needed.has("http2-noop")) {
      note("raw node:http2 no-op ext_authz server");
      const s = await startNoopAuthz(ctx.dir, "http2-noop", ctx.nodeOptions, "http2");
      processes.push(s);
      add("http2-noop", await envoyFor("http2-noop", s), s);
    }
    if (needed.has("grpc-noop")) {
      note("node gRPC no-op ext_authz (floor)");
      const s = await startNoopAuthz(ctx.dir, "grpc-noop", ctx.nodeOptions);
      processes.push(s);
      add("grpc-noop", await envoyFor("grpc-noop", s), s);
    }
    const traced = (["hexr-authz-trace-0", "hexr-authz-trace-10", "hexr-authz-trace-100"] as const).filter((id) =>
      needed.has(id),
    );
    if (traced.length > 0) {
      // one real collector for all tracing stacks (the file exporter: every span is received and written)
      note("OpenTelemetry Collector");
      const collector = await startCollector();
      processes.push(collector);
      for (const id of traced) {
        const pct = TRACE_SAMPLING[id] ?? 0;
        note(`hexr sidecar (${id})`);
        const s = await startHexrSidecar({
          dir: ctx.dir,
          name: id,
          trustDomain: TRUST_DOMAIN,
          bundle: ctx.bundles.rbac,
          tracing: { endpoint: collector.endpoint, ratio: pct / 100 },
          ...sidecarRuntime,
        });
        processes.push(s);
        const tracing = { collector: { address: "127.0.0.1", port: collector.port }, samplingPercent: pct };
        add(id, await envoyFor(id, s, undefined, tracing), s);
      }
    }
    // one Redis and one pair of stand-ins for every credential stack (stacks/credentials.ts: how each reaches its tier)
    let backendsP: Promise<CredentialBackends> | undefined;
    const credentialBackends = () => {
      backendsP ??= (async () => {
        note("redis-server, STS and Delegated Identity stand-ins");
        const b = await startCredentialBackends(ctx.dir);
        processes.push(b);
        return b;
      })();
      return backendsP;
    };
    const creds = (["hexr-authz-creds-l1", "hexr-authz-creds-l2"] as const).filter((id) => needed.has(id));
    if (creds.length > 0) {
      const backends = await credentialBackends();
      for (const id of creds) {
        note(`hexr sidecar (${id})`);
        const s = await startHexrSidecar({
          dir: ctx.dir,
          name: id,
          trustDomain: TRUST_DOMAIN,
          bundle: ctx.bundles.rbac,
          admin: true,
          sections: backends.sidecarConfig(id === "hexr-authz-creds-l1" ? "l1" : "l2"),
          ...sidecarRuntime,
        });
        processes.push(s);
        const admin = s.admin;
        const notes = async () => {
          const c = backends.calls();
          return [
            ...(admin ? await credentialCounters(admin) : []),
            `stand-ins (both scenarios): ${c.sts} STS exchanges, ${c.delegated} delegated JWT-SVIDs`,
          ];
        };
        add(id, await envoyFor(id, s), s, notes);
      }
    }
    if (needed.has("hexr-proc")) await sidecar("hexr-proc", { extProc: "headers" });
    if (needed.has("hexr-guard")) await sidecar("hexr-guard", { extProc: "guard" });
    if (needed.has("hexr-guard-grpcjs"))
      await sidecar("hexr-guard-grpcjs", { extProc: "guard", extProcServer: "grpc-js" });
    if (needed.has("hexr-guard-duplex")) await sidecar("hexr-guard-duplex", { extProc: "guard" });
    if (needed.has("hexr-authz-guard")) {
      // one sidecar as deployed beside an agent: ext_authz and the guard, each on its own socket
      note("hexr sidecar (hexr-authz-guard)");
      const s = await startHexrSidecar({
        dir: ctx.dir,
        name: "hexr-authz-guard",
        trustDomain: TRUST_DOMAIN,
        bundle: ctx.bundles.rbac,
        extProc: "guard",
        ...sidecarRuntime,
      });
      processes.push(s);
      add("hexr-authz-guard", await envoyFor("hexr-authz-guard", s, { ...s, socket: s.procSocket }), s);
    }
    if (needed.has("hexr-full")) {
      // everything on in one sidecar: ext_authz with credentials (the L1 tier's config) and the guard on its thread
      const backends = await credentialBackends();
      note("hexr sidecar (hexr-full)");
      const s = await startHexrSidecar({
        dir: ctx.dir,
        name: "hexr-full",
        trustDomain: TRUST_DOMAIN,
        bundle: ctx.bundles.rbac,
        extProc: "guard",
        admin: true,
        sections: backends.sidecarConfig("l1", "hexr-full"),
        ...sidecarRuntime,
      });
      processes.push(s);
      const admin = s.admin;
      add("hexr-full", await envoyFor("hexr-full", s, { ...s, socket: s.procSocket }), s, async () =>
        admin ? await credentialCounters(admin) : [],
      );
    }
    const a2a = A2A_STACKS.filter((id) => needed.has(id));
    if (a2a.length > 0) {
      // one agent stand-in and one sidecar beside it (as deployed with that agent) for every A2A stack;
      // the Envoys differ only in what their inbound route runs (see stacks/a2a.ts)
      note("A2A agent stand-in");
      const agent = await startA2aUpstream();
      processes.push(agent);
      const hexr = a2a.some((id) => id !== "envoy-a2a");
      let s: Awaited<ReturnType<typeof startHexrSidecar>> | undefined;
      if (hexr) {
        note("hexr sidecar (A2A: ext_authz with the a2a section, ext_proc)");
        s = await startHexrSidecar({
          dir: ctx.dir,
          name: "hexr-a2a",
          trustDomain: TRUST_DOMAIN,
          bundle: ctx.bundles.rbac,
          extProc: "headers",
          sections: a2aSidecarSections(),
          ...sidecarRuntime,
        });
        processes.push(s);
      }
      for (const id of a2a) {
        note(`envoy for ${id}`);
        const envoy = await startA2aEnvoy({
          pki: ctx.pki,
          appPort: agent.port,
          stack: id,
          ...(id !== "envoy-a2a" && s ? { sidecar: s } : {}),
          concurrency: ctx.envoyConcurrency,
        });
        processes.push(envoy);
        await checkA2aAnswers(id, ctx.pki, envoy.port, ctx.bodies);
        const server = id === "envoy-a2a" ? undefined : s;
        stacks.set(id, {
          id,
          envoy,
          ...(server ? { server } : {}),
          target: (kind) => a2aTarget(ctx.pki, envoy.port, ctx.bodies, kind),
          notes: async () => {
            const c = await envoy.counters("http.inbound.");
            const rq = c["http.inbound.downstream_rq_2xx"] ?? 0;
            const authzOk = c["http.inbound.ext_authz.ok"];
            return [
              `agent stand-in answered (all A2A stacks, warm-up included) ${await agent.counts()}; ` +
                `${id}'s Envoy: ${rq} 2xx` +
                (authzOk !== undefined ? `, ext_authz ok ${authzOk}` : ""),
            ];
          },
        });
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { stacks, stop };
}

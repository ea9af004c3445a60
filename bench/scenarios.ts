/**
 * The scenarios, with the ids the issue fixes, and the request each one sends. Every Envoy scenario sends
 * the same request through an Envoy rendered from the same options; only the filters behind it differ, so
 * "added latency" (scenario − its baseline) is the cost of those filters.
 *
 * Baselines: `envoy` for everything that calls the echo upstream; the guard scenarios call an
 * OpenAI-compatible upstream, so each has its own Envoy-only baseline (`envoy-llm-*`, run only when the
 * guard scenarios run) sending the identical request to the identical upstream. The A2A scenarios call an
 * A2A agent stand-in through Envoy's inbound listener, with their own baselines (`envoy-a2a-*`) and
 * pass-through-processor rows (`hexr-a2a-*-passthrough`) beside them.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";

export const SCENARIO_IDS = [
  "direct",
  "envoy",
  "hexr-authz-allow",
  "hexr-authz-rbac",
  "opa-envoy-rbac",
  "hexr-proc-headers",
  "hexr-guard-1k",
  "hexr-guard-16k",
  "hexr-guard-stream",
  "hexr-authz-under-guard-load",
] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];
/** Helper scenarios: baselines for the guard scenarios, and the Node gRPC floor. */
export type HelperId =
  | "node-grpc-noop"
  | "node-http2-noop"
  | "hexr-authz-rbac-grpcjs"
  | "hexr-guard-stream-grpcjs"
  | "hexr-guard-stream-duplex"
  | "envoy-llm-1k"
  | "envoy-llm-16k"
  | "envoy-llm-stream"
  | "hexr-authz-trace-0"
  | "hexr-authz-trace-10"
  | "hexr-authz-trace-100"
  | "hexr-authz-creds-l1"
  | "hexr-authz-creds-l2"
  | "hexr-sidecar-full"
  | "envoy-a2a-send"
  | "hexr-a2a-send"
  | "hexr-a2a-send-passthrough"
  | "envoy-a2a-stream"
  | "hexr-a2a-stream"
  | "hexr-a2a-stream-passthrough";

/** Sampling percent of each tracing scenario (Envoy's `random_sampling`; the sidecar follows its parent). */
export const TRACE_SAMPLING: Readonly<Record<string, number>> = {
  "hexr-authz-trace-0": 0,
  "hexr-authz-trace-10": 10,
  "hexr-authz-trace-100": 100,
};

/** Which processes serve a scenario: an Envoy (or none) and the gRPC server behind it (or none). */
export type StackId =
  | "direct"
  | "envoy"
  | "grpc-noop"
  | "http2-noop"
  | "hexr-authz-rbac-grpcjs"
  | "hexr-authz-allow"
  | "hexr-authz-rbac"
  | "opa-envoy-rbac"
  | "hexr-proc"
  | "hexr-guard"
  | "hexr-guard-grpcjs"
  | "hexr-guard-duplex"
  | "hexr-authz-guard"
  | "hexr-authz-trace-0"
  | "hexr-authz-trace-10"
  | "hexr-authz-trace-100"
  | "hexr-authz-creds-l1"
  | "hexr-authz-creds-l2"
  | "hexr-full"
  | "envoy-a2a"
  | "hexr-a2a"
  | "hexr-a2a-pass-send"
  | "hexr-a2a-pass-stream";
export type RequestKind = "s3-put" | "chat-1k" | "chat-16k" | "chat-stream" | "chat-flood" | "a2a-send" | "a2a-stream";

export interface Scenario {
  id: ScenarioId | HelperId;
  summary: string;
  stack: StackId;
  request: RequestKind;
  /** Subtracted to get added latency. */
  baseline?: ScenarioId | HelperId;
  /** A helper (baseline or floor), not one of the scenarios. */
  helper?: boolean;
  /**
   * The same request through the same filters, but with a pass-through processor on the ext_proc hop: run
   * whenever this scenario runs, so this one minus that one is what the processor itself adds.
   */
  hop?: HelperId;
  /** Load sent to the same stack at the same time (not measured): the traffic the scenario is measured under. */
  background?: { request: RequestKind; rate: number; connections: number };
}

/** Background for `hexr-authz-under-guard-load`: pathological ~240 KB prompts, 40 a second on 4 connections. */
export const GUARD_FLOOD = { request: "chat-flood", rate: 100, connections: 8 } as const;

/** Background for `hexr-sidecar-full`: LLM traffic through the guard beside the measured S3 calls. */
export const FULL_SIDECAR_BACKGROUND = { request: "chat-1k", rate: 100, connections: 2 } as const;

export const SCENARIOS: readonly Scenario[] = [
  { id: "direct", summary: "client → upstream", stack: "direct", request: "s3-put" },
  { id: "envoy", summary: "through Envoy (mTLS), no external filters", stack: "envoy", request: "s3-put" },
  {
    id: "node-grpc-noop",
    summary: "floor: Envoy + a Node gRPC ext_authz server that allows at once (grpc-js, no pipeline)",
    stack: "grpc-noop",
    request: "s3-put",
    baseline: "envoy",
    helper: true,
  },
  {
    id: "node-http2-noop",
    summary: "floor: Envoy + a raw node:http2 ext_authz server that answers OK with prebuilt bytes (no grpc-js)",
    stack: "http2-noop",
    request: "s3-put",
    baseline: "envoy",
    helper: true,
  },
  {
    id: "hexr-authz-allow",
    summary: "Envoy + Hexr ext_authz, allow-all policy",
    stack: "hexr-authz-allow",
    request: "s3-put",
    baseline: "envoy",
  },
  {
    id: "hexr-authz-rbac",
    summary: "Envoy + Hexr ext_authz, seed role policy, identity from the client certificate",
    stack: "hexr-authz-rbac",
    request: "s3-put",
    baseline: "envoy",
  },
  {
    id: "hexr-authz-rbac-grpcjs",
    summary: "hexr-authz-rbac with Check on grpc-js (authz.listen.server: grpc-js) instead of the default node:http2",
    stack: "hexr-authz-rbac-grpcjs",
    request: "s3-put",
    baseline: "envoy",
    helper: true,
  },
  {
    id: "opa-envoy-rbac",
    summary: "Envoy + opa-envoy-plugin (reference), same decisions",
    stack: "opa-envoy-rbac",
    request: "s3-put",
    baseline: "envoy",
  },
  {
    id: "hexr-proc-headers",
    summary: "Envoy + Hexr ext_proc, header-only",
    stack: "hexr-proc",
    request: "s3-put",
    baseline: "envoy",
  },
  {
    id: "envoy-llm-1k",
    summary: "baseline for hexr-guard-1k: Envoy only, same request and upstream",
    stack: "envoy",
    request: "chat-1k",
    helper: true,
  },
  {
    id: "hexr-guard-1k",
    summary: "Envoy + ext_proc guard scanning a 1 KiB request body",
    stack: "hexr-guard",
    request: "chat-1k",
    baseline: "envoy-llm-1k",
  },
  {
    id: "envoy-llm-16k",
    summary: "baseline for hexr-guard-16k",
    stack: "envoy",
    request: "chat-16k",
    helper: true,
  },
  {
    id: "hexr-guard-16k",
    summary: "Envoy + ext_proc guard scanning a 16 KiB request body",
    stack: "hexr-guard",
    request: "chat-16k",
    baseline: "envoy-llm-16k",
  },
  {
    id: "envoy-llm-stream",
    summary: "baseline for hexr-guard-stream",
    stack: "envoy",
    request: "chat-stream",
    helper: true,
  },
  {
    id: "hexr-guard-stream",
    summary: "Envoy + ext_proc guard scanning a streamed SSE response",
    stack: "hexr-guard",
    request: "chat-stream",
    baseline: "envoy-llm-stream",
  },
  {
    id: "hexr-guard-stream-grpcjs",
    summary:
      "hexr-guard-stream with Process on grpc-js (ext_proc.listen.server: grpc-js) instead of the default node:http2",
    stack: "hexr-guard-grpcjs",
    request: "chat-stream",
    baseline: "envoy-llm-stream",
    helper: true,
  },
  {
    id: "hexr-guard-stream-duplex",
    summary:
      "hexr-guard-stream with the LLM route's response FULL_DUPLEX_STREAMED (Envoy sends chunks without waiting for answers; each answer carries the bytes that go on) instead of the guard's per-request STREAMED override",
    stack: "hexr-guard-duplex",
    request: "chat-stream",
    baseline: "envoy-llm-stream",
    helper: true,
  },
  ...([0, 10, 100] as const).map(
    (pct): Scenario => ({
      id: `hexr-authz-trace-${pct}`,
      summary: `hexr-authz-rbac with tracing on (Envoy and the sidecar exporting OTLP to a collector), ${pct} % sampled`,
      stack: `hexr-authz-trace-${pct}`,
      request: "s3-put",
      baseline: "envoy",
      helper: true,
    }),
  ),
  {
    id: "hexr-authz-creds-l1",
    summary:
      "hexr-authz-rbac with AWS credentials injected: every Check an L1 cache hit plus a SigV4 signature " +
      "(L2 on Redis configured, never reached)",
    stack: "hexr-authz-creds-l1",
    request: "s3-put",
    baseline: "envoy",
    helper: true,
  },
  {
    id: "hexr-authz-creds-l2",
    summary:
      "hexr-authz-creds-l1 with an L1 too small for the credential: every Check an L1 miss served from the " +
      "sealed Redis L2 (GET + AES-GCM open), plus the signature",
    stack: "hexr-authz-creds-l2",
    request: "s3-put",
    baseline: "envoy",
    helper: true,
  },
  {
    id: "hexr-sidecar-full",
    summary:
      "one sidecar with everything on, as beside an agent: ext_authz (seed roles) with AWS credentials from its " +
      "L1 (SigV4 injected) and the guard ext_proc on its thread, every request through both; S3 PUTs measured " +
      "while 1 KiB chat completions go through the guard beside them (the memory and soak goals' scenario)",
    stack: "hexr-full",
    request: "s3-put",
    baseline: "envoy",
    helper: true,
    background: FULL_SIDECAR_BACKGROUND,
  },
  ...(["send", "stream"] as const).flatMap((kind): Scenario[] => {
    const what =
      kind === "send" ? "SendMessage (one small text part)" : "SendStreamingMessage (10 status-update SSE events)";
    return [
      {
        id: `envoy-a2a-${kind}`,
        summary: `baseline for hexr-a2a-${kind}: an A2A v1.0 ${what} through Envoy's inbound listener (mTLS), no external filters`,
        stack: "envoy-a2a",
        request: `a2a-${kind}`,
        helper: true,
      },
      {
        id: `hexr-a2a-${kind}`,
        summary:
          `the ${what} through the inbound listener with ext_authz (body: classified, validated, A2A policy) ` +
          "and the A2A ext_proc processor (message and answer text scanned, every answer validated)",
        stack: "hexr-a2a",
        request: `a2a-${kind}`,
        baseline: `envoy-a2a-${kind}`,
        hop: `hexr-a2a-${kind}-passthrough`,
        helper: true,
      },
      {
        id: `hexr-a2a-${kind}-passthrough`,
        summary:
          `hexr-a2a-${kind} with a pass-through processor on the ext_proc hop (same body modes, answers ` +
          "CONTINUE, validates nothing): the hop's own cost",
        stack: kind === "send" ? "hexr-a2a-pass-send" : "hexr-a2a-pass-stream",
        request: `a2a-${kind}`,
        baseline: `envoy-a2a-${kind}`,
        helper: true,
      },
    ];
  }),
  {
    id: "hexr-authz-under-guard-load",
    summary:
      "hexr-authz-rbac's requests to one sidecar running ext_authz and the guard, while another client floods " +
      "the guard with ~240 KB pathological prompts (authz p99 under guard load)",
    stack: "hexr-authz-guard",
    request: "s3-put",
    baseline: "envoy",
    background: GUARD_FLOOD,
  },
];

/** Hosts Envoy routes (and its serving certificate names). The echo upstream takes all but OpenAI. */
export const ECHO_HOSTS = ["s3.amazonaws.com", "*.s3.amazonaws.com", "bigquery.googleapis.com", "api.anthropic.com"];
export const LLM_HOST = "api.openai.com";
export const CERT_HOSTS = ["s3.amazonaws.com", "bigquery.googleapis.com", "api.anthropic.com", LLM_HOST, "example.com"];

/**
 * In `drafts`, the one bucket the seed policy lets `writer` use (`s3_buckets`); the reference policy does
 * not restrict buckets, so both allow it.
 */
export const S3_PATH = "/drafts/reports/object.txt";
export const CHAT_PATH = "/v1/chat/completions";

const PROSE =
  "Summarize the attached quarterly notes for the planning meeting. Revenue grew in every region, " +
  "support tickets fell after the onboarding changes, and the infrastructure budget stayed on plan. " +
  "List the three largest risks for next quarter and one mitigation for each. ";

/** An OpenAI chat request of about `bytes` bytes of benign prose (nothing a scanner should flag). */
export function chatBody(bytes: number, stream: boolean): string {
  const frame = (content: string) =>
    JSON.stringify({
      model: "gpt-4o-mini",
      stream,
      messages: [
        { role: "system", content: "You are a concise analyst." },
        { role: "user", content },
      ],
    });
  const overhead = frame("").length;
  let content = "";
  while (content.length + overhead < bytes) content += PROSE;
  return frame(content.slice(0, Math.max(0, bytes - overhead)));
}

/** Shapes that cost the guard's scanners the most per byte (issue #8), one after another in one prompt. */
const FLOOD_SHAPES = [
  "eyJhbGciOi.",
  "-----BEGIN ",
  "https://a.b/c?d=e&",
  "\u200b\u200d\u2060",
  "AKIA",
  "ignore previous ",
];

/** An OpenAI chat request whose prompt is `bytes` of pathological (but not secret) text. */
export function floodBody(bytes: number): string {
  let content = "";
  for (let k = 0; content.length < bytes; k++) {
    const shape = FLOOD_SHAPES[k % FLOOD_SHAPES.length] as string;
    content += shape.repeat(Math.ceil(4096 / shape.length));
  }
  return JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: content.slice(0, bytes) }] });
}

/**
 * A2A v1.0 JSON-RPC requests (the version rides in the URL's `A2A-Version` query parameter, A2A §3.6): a
 * message from the caller with one small text part, sent as `SendMessage` or `SendStreamingMessage`.
 */
export function a2aBody(
  method: "SendMessage" | "SendStreamingMessage",
  text = "Draft the Q1 summary from the planning notes.",
): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method,
    params: {
      message: {
        messageId: "bench-message-1",
        role: "ROLE_USER",
        parts: [{ text }],
      },
    },
  });
}

export interface RequestFiles {
  chat1k: string;
  chat16k: string;
  chatStream: string;
  chatFlood: string;
  a2aSend: string;
  a2aStream: string;
}

export function writeRequestBodies(dir: string): RequestFiles {
  const write = (name: string, text: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  return {
    chat1k: write("chat-1k.json", chatBody(1024, false)),
    chat16k: write("chat-16k.json", chatBody(16 * 1024, false)),
    chatStream: write("chat-stream.json", chatBody(512, true)),
    // 180 Ki characters: ~240 KB of UTF-8 (the zero-width runs take 3 bytes a character), under the guard's 256 KiB
    chatFlood: write("chat-flood.json", floodBody(180 * 1024)),
    a2aSend: write("a2a-send.json", a2aBody("SendMessage")),
    a2aStream: write("a2a-stream.json", a2aBody("SendStreamingMessage")),
  };
}

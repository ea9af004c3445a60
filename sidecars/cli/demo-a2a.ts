/**
 * The demo's agent-to-agent part: a real A2A agent (the writer, @a2a-js/sdk's own server) behind Envoy's
 * inbound listener, which presents the writer's SVID and asks ext_authz with the body (classification,
 * validation against the protocol's definitions, the agent-to-agent policy). Callers present their own
 * X.509-SVIDs. The script: an allowed task through the SDK's client, a method the caller's role may not
 * use, a caller with no grant, a malformed message, and a v0.3 call — then what reached the writer.
 *
 * @example
 *   const a2a = await startDemoA2a(WRITER);
 *   const dp = await startLocalDataPlane({ …, envoyId: WRITER, inbound: a2a.inbound, sidecarConfig: { …, ...a2a.sidecarConfig } });
 *   a2a.attach(dp);
 *   await a2a.run(dp, { researcher: RESEARCHER, editor: EDITOR }, (s) => process.stdout.write(s));
 *   await a2a.stop();
 */
import {
  type A2aAgent,
  A2A_JSONRPC_PATH,
  A2A_REST_PATH,
  sdkClient,
  sdkMessage,
  spiffeFetch,
  startA2aAgent,
} from "../devtools/a2a-agent.ts";
import type { SpireDataPlane } from "../devtools/local-dataplane.ts";

export interface DemoA2a {
  readonly agent: A2aAgent;
  /** startLocalDataPlane's `inbound`. */
  readonly inbound: { appPort: number; authzBodyBytes: number };
  /** The sidecar's `a2a` section, to merge into `sidecarConfig`. */
  readonly sidecarConfig: Record<string, unknown>;
  /** Points the agent's card at the inbound listener. */
  attach(dp: SpireDataPlane): void;
  /** Sends the script and prints its table and what reached the writer. */
  run(dp: SpireDataPlane, callers: { researcher: string; editor: string }, write: (s: string) => void): Promise<void>;
  stop(): Promise<void>;
}

/** TaskState names (the SDK's enum numbers). */
const TASK_STATES = ["unspecified", "submitted", "working", "completed", "failed", "canceled", "input-required"];

interface RpcError {
  code: number;
  message: string;
  /** v1.0: a list of google.rpc.ErrorInfo (`metadata.path`); v0.3: `{reason, path}`. */
  data?: unknown;
}
interface Row {
  who: string;
  call: string;
  decision: string;
  code: string;
  detail: string;
  ms: number;
}

function pad(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n);
}

/** The refusal's message with the JSON path it names first (so a narrow column still shows it). */
function describe(e: RpcError): string {
  const d = e.data as { path?: string } | Array<{ metadata?: { path?: string } }> | undefined;
  const p = Array.isArray(d) ? d.find((x) => x.metadata?.path)?.metadata?.path : d?.path;
  return p ? `${p}: ${e.message.replace(`: ${p}`, "")}` : e.message;
}

function decisionOf(e: RpcError | undefined): string {
  if (!e) return "allow";
  if (e.code === -32000) return "deny";
  if (e.code === -32602 || e.code === -32600 || e.code === -32700) return "invalid";
  return "error";
}

export async function startDemoA2a(target: string): Promise<DemoA2a> {
  const agent = await startA2aAgent({ name: "writer" });
  const closers: Array<() => Promise<void>> = [];
  let sent = 0;
  /** The last JSON-RPC error a caller's fetch saw on the wire (the SDK's client turns it into an exception). */
  let lastError: RpcError | undefined;

  /** A fetch presenting `id`'s SVID to Envoy (which must present the writer's), counting what it sends. */
  async function fetchAs(dp: SpireDataPlane, id: string): Promise<typeof fetch> {
    const f = spiffeFetch(await dp.identity([id]), target);
    closers.push(f.close);
    return (async (input: string | URL | Request, init?: RequestInit) => {
      sent++;
      const res = await f.fetch(input, init);
      lastError = undefined;
      if ((res.headers.get("content-type") ?? "").includes("json")) {
        try {
          lastError = ((await res.clone().json()) as { error?: RpcError }).error;
        } catch {
          lastError = undefined;
        }
      }
      return res;
    }) as typeof fetch;
  }

  async function clientAs(dp: SpireDataPlane, id: string) {
    return sdkClient(agent.publicUrl, await fetchAs(dp, id));
  }

  /** A raw JSON-RPC call (what a client library would never send, or an older one would). */
  async function rawRpc(f: typeof fetch, method: string, params: unknown, version?: string) {
    const r = await f(`${agent.publicUrl}${A2A_JSONRPC_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(version ? { "a2a-version": version } : {}) },
      body: JSON.stringify({ jsonrpc: "2.0", id: crypto.randomUUID(), method, params }),
    });
    return (await r.json()) as { result?: Record<string, unknown>; error?: RpcError };
  }

  /** A refused SDK call: the code and message from the wire, or the exception's message. */
  const refused = (e: unknown): Pick<Row, "decision" | "code" | "detail"> => ({
    decision: decisionOf(lastError ?? { code: 0, message: "" }),
    code: lastError ? String(lastError.code) : "-",
    detail: lastError?.message ?? (e as Error).message,
  });

  return {
    agent,
    inbound: { appPort: agent.port, authzBodyBytes: 1 << 20 },
    sidecarConfig: { a2a: { target, rest_base: A2A_REST_PATH, jsonrpc_path: A2A_JSONRPC_PATH } },
    attach(dp) {
      if (!dp.inboundPort) throw new Error("the data plane has no inbound listener");
      agent.publicUrl = `https://127.0.0.1:${dp.inboundPort}`;
    },
    async run(dp, callers, write) {
      const rows: Row[] = [];
      const timed = async (who: string, call: string, f: () => Promise<Pick<Row, "decision" | "code" | "detail">>) => {
        const t = performance.now();
        const r = await f();
        rows.push({ who, call, ...r, ms: performance.now() - t });
      };
      const researcher = await clientAs(dp, callers.researcher);
      let taskId = "";
      await timed("researcher → writer", "SendMessage (SDK client, JSON-RPC)", async () => {
        try {
          const task = (await researcher.sendMessage(sdkMessage("draft the Q1 summary"))) as {
            id: string;
            status: { state: number };
            artifacts: Array<{ parts: Array<{ content: { value: string } }> }>;
          };
          taskId = task.id;
          const echo = task.artifacts[0]?.parts[0]?.content.value ?? "";
          return {
            decision: "allow",
            code: "-",
            detail: `task ${TASK_STATES[task.status.state] ?? task.status.state}, artifact "${echo}"`,
          };
        } catch (e) {
          return refused(e);
        }
      });
      await timed("researcher → writer", "CancelTask (SDK client, JSON-RPC)", async () => {
        try {
          await researcher.cancelTask({ id: taskId || "t-1", metadata: undefined, tenant: "" } as never);
          return { decision: "allow", code: "-", detail: "canceled (the policy should have refused it)" };
        } catch (e) {
          return refused(e);
        }
      });
      await timed("editor → writer", "SendMessage (SDK client, JSON-RPC)", async () => {
        try {
          const editor = await clientAs(dp, callers.editor);
          await editor.sendMessage(sdkMessage("hi from the editor"));
          return { decision: "allow", code: "-", detail: "reached the writer (the policy should have refused it)" };
        } catch (e) {
          return refused(e);
        }
      });
      const raw = await fetchAs(dp, callers.researcher);
      await timed("researcher, malformed", "SendMessage, part with text + url", async () => {
        const r = await rawRpc(
          raw,
          "SendMessage",
          {
            message: {
              messageId: "m-bad",
              role: "ROLE_USER",
              parts: [{ text: "two payloads in one part", url: "https://files.example/a.txt" }],
            },
          },
          "1.0",
        );
        return {
          decision: decisionOf(r.error),
          code: r.error ? String(r.error.code) : "-",
          detail: r.error ? describe(r.error) : "reached the writer (the validator should have refused it)",
        };
      });
      await timed("researcher, v0.3 client", "message/send (no A2A-Version)", async () => {
        const r = await rawRpc(raw, "message/send", {
          message: {
            kind: "message",
            messageId: "m-03",
            role: "user",
            parts: [{ kind: "text", text: "hello in 0.3" }],
          },
        });
        if (r.error) return { decision: decisionOf(r.error), code: String(r.error.code), detail: describe(r.error) };
        const task = r.result as {
          kind?: string;
          status?: { state?: string };
          artifacts?: Array<{ parts?: Array<{ text?: string }> }>;
        };
        const echo = task.artifacts?.[0]?.parts?.[0]?.text ?? "";
        return {
          decision: "allow",
          code: "-",
          detail: `v0.3 ${task.kind ?? "result"} ${task.status?.state ?? ""}, artifact "${echo}"`,
        };
      });

      const header = `${pad("caller", 24)} ${pad("A2A call", 36)} ${pad("decision", 8)} ${pad("code", 7)} ${pad("result / reason", 72)} latency`;
      write(`\nAgent-to-agent calls to the writer (Envoy's inbound listener, presenting ${target}):\n`);
      write(`${header}\n${"-".repeat(header.length + 4)}\n`);
      for (const r of rows) {
        write(
          `${pad(r.who, 24)} ${pad(r.call, 36)} ${pad(r.decision, 8)} ${pad(r.code, 7)} ${pad(r.detail, 72)} ${r.ms.toFixed(2)} ms\n`,
        );
      }
      const reached = agent.received;
      const posts = reached.filter((r) => r.method === "POST").length;
      write(
        `\n${sent} A2A requests sent, ${reached.length} reached the writer agent (${posts} messages/calls, ` +
          `${reached.length - posts} agent-card fetches): the denied and malformed calls never did.\n`,
      );
    },
    async stop() {
      for (const c of closers.splice(0)) await c().catch(() => undefined);
      await agent.stop();
    },
  };
}

/**
 * A real A2A agent for tests and the demo: `@a2a-js/sdk`'s own server (v1.0, with its v0.3 compatibility
 * layer on) over JSON-RPC (`/a2a/jsonrpc`) and HTTP+JSON/REST (`/a2a/rest`), plus the agent card at
 * `/.well-known/agent-card.json`, on 127.0.0.1. Every request body that reaches it is recorded raw, so a
 * test can assert what the target agent saw — and what it never saw.
 *
 * The agent answers a message with a task: `working`, then an artifact echoing the text it received
 * (`echo: <text>`), then `completed`; streamed, that is one task event and three updates.
 *
 * @example
 *   const agent = await startA2aAgent({ name: "writer" });
 *   // point an A2A client (or Envoy's inbound listener) at agent.url
 *   agent.received.length; // bodies the agent saw
 *   await agent.stop();
 */
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { AGENT_CARD_PATH, type AgentCard } from "@a2a-js/sdk";
import {
  AgentEvent,
  type AgentExecutor,
  DefaultRequestHandler,
  type ExecutionEventBus,
  InMemoryTaskStore,
  type RequestContext,
} from "@a2a-js/sdk/server";
import { agentCardHandler, jsonRpcHandler, restHandler, UserBuilder } from "@a2a-js/sdk/server/express";
import {
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
  RestTransportFactory,
} from "@a2a-js/sdk/client";
import { connect as tlsConnect } from "node:tls";
import { Agent as UndiciAgent, fetch as undiciFetch } from "undici";
import type { ClientIdentity } from "./client.ts";
import { checkServerId } from "./workload.ts";

export const A2A_JSONRPC_PATH = "/a2a/jsonrpc";
export const A2A_REST_PATH = "/a2a/rest";
/** A message with exactly this text makes the agent stream an invalid status (task state 999). */
export const BROKEN_AGENT_TEXT = "__emit_an_invalid_event__";
const MAX_BODY = "4mb";

export interface ReceivedA2a {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

export interface A2aAgent {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  readonly received: ReceivedA2a[];
  /** Overrides what the card advertises as its interface URLs (a card seen through a proxy says the proxy's). */
  publicUrl: string;
  stop(): Promise<void>;
}

type TextPart = { content: { $case: "text"; value: string } };

/** The first text part of a message (the SDK's internal shape: `content.$case`). */
function textOf(ctx: RequestContext): string {
  for (const p of ctx.userMessage.parts) {
    const c = (p as Partial<TextPart>).content;
    if (c?.$case === "text") return c.value;
  }
  return "";
}

class EchoExecutor implements AgentExecutor {
  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const { taskId, contextId } = ctx;
    // a test hook: an agent gone wrong, whose stream carries an event no A2A version allows
    const broken = textOf(ctx) === BROKEN_AGENT_TEXT;
    const status = (state: number, final = false) =>
      AgentEvent.statusUpdate({
        taskId,
        contextId,
        status: { state, message: undefined, timestamp: new Date().toISOString() },
        metadata: undefined,
        ...(final ? {} : {}),
      } as never);
    bus.publish(
      AgentEvent.task({
        id: taskId,
        contextId,
        status: { state: 1, message: undefined, timestamp: new Date().toISOString() },
        artifacts: [],
        history: [ctx.userMessage],
        metadata: undefined,
      } as never),
    );
    bus.publish(status(2));
    if (broken) {
      bus.publish(status(999));
      bus.finished();
      return;
    }
    bus.publish(
      AgentEvent.artifactUpdate({
        taskId,
        contextId,
        artifact: {
          artifactId: randomUUID(),
          name: "echo",
          description: "",
          parts: [
            {
              content: { $case: "text", value: `echo: ${textOf(ctx)}` },
              metadata: undefined,
              filename: "",
              mediaType: "text/plain",
            },
          ],
          metadata: undefined,
          extensions: [],
        },
        append: false,
        lastChunk: true,
        metadata: undefined,
      } as never),
    );
    bus.publish(status(3, true));
    bus.finished();
  }

  async cancelTask(taskId: string, bus: ExecutionEventBus): Promise<void> {
    bus.publish(
      AgentEvent.statusUpdate({
        taskId,
        contextId: "",
        status: { state: 4, message: undefined, timestamp: new Date().toISOString() },
        metadata: undefined,
      } as never),
    );
    bus.finished();
  }
}

function agentCard(name: string, base: string): AgentCard {
  const iface = (path: string, binding: string, version: string) => ({
    url: `${base}${path}`,
    protocolBinding: binding,
    tenant: "",
    protocolVersion: version,
  });
  return {
    name,
    description: `Hexr test agent ${name}: echoes the text it is sent`,
    supportedInterfaces: [
      iface(A2A_JSONRPC_PATH, "JSONRPC", "1.0"),
      iface(A2A_REST_PATH, "HTTP+JSON", "1.0"),
      iface(A2A_JSONRPC_PATH, "JSONRPC", "0.3"),
      iface(A2A_REST_PATH, "HTTP+JSON", "0.3"),
    ],
    provider: { url: "https://hexr.example", organization: "Hexr tests" },
    version: "1.0.0",
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [
      {
        id: "echo",
        name: "Echo",
        description: "Repeats the message text",
        tags: ["test"],
        examples: [],
        inputModes: [],
        outputModes: [],
        securityRequirements: [],
      },
    ],
    signatures: [],
  } as unknown as AgentCard;
}

export async function startA2aAgent(opts: { name: string }): Promise<A2aAgent> {
  const received: ReceivedA2a[] = [];
  const app = express();
  // record the raw body first, then let the SDK's handlers parse it themselves
  app.use(express.raw({ type: () => true, limit: MAX_BODY }), (req, _res, next) => {
    const body = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
    received.push({ method: req.method, path: req.originalUrl, headers: req.headers, body });
    if (Buffer.isBuffer(req.body)) {
      try {
        req.body = body.length > 0 ? JSON.parse(body) : {};
      } catch {
        req.body = body;
      }
    }
    next();
  });
  const state = { publicUrl: "" };
  const handler = new DefaultRequestHandler(
    agentCard(opts.name, "http://127.0.0.1"),
    new InMemoryTaskStore(),
    new EchoExecutor(),
  );
  const userBuilder = UserBuilder.noAuthentication;
  app.use(
    `/${AGENT_CARD_PATH}`,
    agentCardHandler({
      agentCardProvider: async () => agentCard(opts.name, state.publicUrl),
      legacyCompat: { enabled: true },
    }),
  );
  app.use(A2A_JSONRPC_PATH, jsonRpcHandler({ requestHandler: handler, userBuilder, legacyCompat: { enabled: true } }));
  app.use(A2A_REST_PATH, restHandler({ requestHandler: handler, userBuilder, legacyCompat: { enabled: true } }));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  state.publicUrl = `http://127.0.0.1:${port}`;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    get publicUrl() {
      return state.publicUrl;
    },
    set publicUrl(u: string) {
      state.publicUrl = u;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A `fetch` for A2A SDK clients that talks mTLS to an Envoy: presents `id`'s X.509-SVID (read at connect
 * time, so rotations apply) and accepts only a server whose SPIFFE ID is `serverId`.
 */
export function spiffeFetch(id: ClientIdentity, serverId: string): { fetch: typeof fetch; close(): Promise<void> } {
  const dispatcher = new UndiciAgent({
    connect: (opts, cb) => {
      const socket = tlsConnect({
        host: opts.hostname,
        port: Number(opts.port),
        ca: id.ca,
        ...(id.cert ? { cert: id.cert, key: id.key } : {}),
        checkServerIdentity: checkServerId(serverId),
        ALPNProtocols: ["http/1.1"],
      });
      socket.once("secureConnect", () => cb(null, socket));
      socket.once("error", (e) => cb(e, null));
    },
  });
  return {
    fetch: ((input: string | URL | Request, init?: RequestInit) =>
      undiciFetch(
        input as never,
        { ...(init as object), dispatcher } as never,
      ) as unknown as Promise<Response>) as typeof fetch,
    close: () => dispatcher.close(),
  };
}

/** An @a2a-js/sdk client for the agent at `url`, every request through `fetchImpl` (e.g. {@link spiffeFetch}). */
export function sdkClient(url: string, fetchImpl: typeof fetch, transport: "JSONRPC" | "HTTP+JSON" = "JSONRPC") {
  const factory = new ClientFactory({
    ...ClientFactoryOptions.default,
    transports: [new JsonRpcTransportFactory({ fetchImpl }), new RestTransportFactory({ fetchImpl })],
    preferredTransports: [transport as never],
    cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
  });
  return factory.createFromUrl(url);
}

/** A v1.0 `SendMessage` request with one text part, in the SDK client's own shape (`content.$case`). */
export function sdkMessage(text: string, messageId: string = randomUUID()): never {
  return {
    message: {
      messageId,
      role: 1,
      parts: [{ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "" }],
      contextId: "",
      taskId: "",
      metadata: undefined,
      extensions: [],
      referenceTaskIds: [],
    },
  } as never;
}

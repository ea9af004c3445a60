/**
 * Which requests the guard scans, and how: routes compiled once from config into a matcher on
 * `:authority` + `:path`. Everything else gets the pass-through processor.
 */
import { anthropicMessages } from "../../filters/guard/adapters/anthropic-messages.ts";
import { createGenericAdapter, type GenericAdapterConfig } from "../../filters/guard/adapters/generic-json.ts";
import { openaiChat } from "../../filters/guard/adapters/openai-chat.ts";
import { openaiResponses } from "../../filters/guard/adapters/openai-responses.ts";
import type { GuardAdapter } from "../../filters/guard/adapters/types.ts";
import { DEFAULT_GUARD_POLICY, type GuardPolicy, parseGuardPolicy } from "../../filters/guard/policy.ts";
import { HexrError } from "../../filters/errors.ts";

export type AdapterName = "openai-chat" | "openai-responses" | "anthropic-messages" | "generic";
export type FailMode = "closed" | "open";
export type StreamProvider = "openai" | "anthropic";

/** Below Envoy's default 1 MiB buffer limit, so an over-cap body reaches our fail mode, not Envoy's 413. */
export const DEFAULT_MAX_BODY_BYTES = 512 * 1024;

export interface GuardRoute {
  readonly name: string;
  readonly hosts: ReadonlySet<string>;
  readonly pathPrefix: string;
  readonly adapter: GuardAdapter;
  /** SSE format of streamed responses on this route. */
  readonly stream: StreamProvider | undefined;
  readonly requestPolicy: GuardPolicy;
  readonly responsePolicy: GuardPolicy;
  /** What happens to a body that cannot be scanned (too large, bad encoding, bad JSON, invalid UTF-8). */
  readonly failMode: FailMode;
  /** Largest body buffered for scanning (request, or non-streamed response). */
  readonly maxBodyBytes: number;
}

export interface GuardRouteConfig {
  name: string;
  hosts: string[];
  path_prefix?: string;
  adapter: AdapterName;
  generic?: GenericAdapterConfig;
  stream?: StreamProvider;
  policy?: unknown;
  response_policy?: unknown;
  fail_mode?: FailMode;
  max_body_bytes?: number;
}

/** The routes most deployments want: OpenAI chat/responses and Anthropic messages, fail closed. */
export const DEFAULT_GUARD_ROUTES: GuardRouteConfig[] = [
  {
    name: "openai-chat",
    hosts: ["api.openai.com"],
    path_prefix: "/v1/chat/completions",
    adapter: "openai-chat",
    stream: "openai",
  },
  {
    name: "openai-responses",
    hosts: ["api.openai.com"],
    path_prefix: "/v1/responses",
    adapter: "openai-responses",
    stream: "openai",
  },
  {
    name: "anthropic-messages",
    hosts: ["api.anthropic.com"],
    path_prefix: "/v1/messages",
    adapter: "anthropic-messages",
    stream: "anthropic",
  },
];

function adapterFor(c: GuardRouteConfig, field: string): GuardAdapter {
  switch (c.adapter) {
    case "openai-chat":
      return openaiChat;
    case "openai-responses":
      return openaiResponses;
    case "anthropic-messages":
      return anthropicMessages;
    case "generic":
      if (!c.generic) throw new HexrError("config.invalid", `${field}.generic: required for the generic adapter`);
      return createGenericAdapter(c.generic);
    default:
      throw new HexrError(
        "config.invalid",
        `${field}.adapter: must be openai-chat, openai-responses, anthropic-messages or generic`,
      );
  }
}

export function compileGuardRoutes(configs: readonly GuardRouteConfig[]): GuardRoute[] {
  return configs.map((c, i) => {
    const field = `ext_proc.routes[${i}]`;
    if (!c.name) throw new HexrError("config.invalid", `${field}.name: required`);
    if (!Array.isArray(c.hosts) || c.hosts.length === 0)
      throw new HexrError("config.invalid", `${field}.hosts: non-empty list required`);
    if (c.fail_mode !== undefined && c.fail_mode !== "closed" && c.fail_mode !== "open") {
      throw new HexrError("config.invalid", `${field}.fail_mode: must be closed or open`);
    }
    const requestPolicy = parseGuardPolicy(c.policy, DEFAULT_GUARD_POLICY);
    return {
      name: c.name,
      hosts: new Set(c.hosts.map((h) => h.toLowerCase())),
      pathPrefix: c.path_prefix ?? "/",
      adapter: adapterFor(c, field),
      stream: c.stream,
      requestPolicy,
      responsePolicy: parseGuardPolicy(c.response_policy, requestPolicy),
      failMode: c.fail_mode ?? "closed",
      maxBodyBytes: c.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES,
    };
  });
}

/** `host[:port]` → lowercase host without the port. */
export function bareHost(authority: string): string {
  let h = authority;
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return (end === -1 ? h : h.slice(0, end + 1)).toLowerCase();
  }
  const colon = h.lastIndexOf(":");
  if (colon !== -1) h = h.slice(0, colon);
  return h.toLowerCase();
}

export function matchGuardRoute(
  routes: readonly GuardRoute[],
  authority: string,
  path: string,
): GuardRoute | undefined {
  const host = bareHost(authority);
  for (const r of routes) {
    if (r.hosts.has(host) && path.startsWith(r.pathPrefix)) return r;
  }
  return undefined;
}

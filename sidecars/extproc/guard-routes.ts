/**
 * Which requests the guard scans, and how: routes compiled once from config into a matcher on
 * `:authority` + `:path` (first match wins). Everything else gets the pass-through processor.
 *
 * Rule for LLM providers: every host the service catalog maps to an LLM provider has, after its
 * specific routes, a catch-all route (`path_prefix: "/"`, the `json-text` adapter: every string scanned)
 * with the same fail mode — so no path on an LLM host (embeddings, moderations, batches, files, a path
 * added next year) reaches the provider or the client unscanned. test/unit/sidecars/guard-routes.test.ts
 * checks every LLM entry of the default catalog against {@link DEFAULT_GUARD_ROUTES}.
 */
import { anthropicMessages } from "../../filters/guard/adapters/anthropic-messages.ts";
import { jsonText } from "../../filters/guard/adapters/json-text.ts";
import { createGenericAdapter, type GenericAdapterConfig } from "../../filters/guard/adapters/generic-json.ts";
import { openaiChat } from "../../filters/guard/adapters/openai-chat.ts";
import { openaiResponses } from "../../filters/guard/adapters/openai-responses.ts";
import type { GuardAdapter } from "../../filters/guard/adapters/types.ts";
import { DEFAULT_GUARD_POLICY, type GuardPolicy, parseGuardPolicy } from "../../filters/guard/policy.ts";
import { HexrError } from "../../filters/errors.ts";

export type AdapterName = "openai-chat" | "openai-responses" | "anthropic-messages" | "json-text" | "generic";
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
  /** Wall-time budget for scanning one body, or one stream event; over it, the route's fail mode. */
  readonly scanBudgetMs: number;
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
  scan_budget_ms?: number;
}

export const OPENAI_HOSTS = ["api.openai.com"];
export const ANTHROPIC_HOSTS = ["api.anthropic.com"];

/**
 * The routes most deployments want, fail closed: OpenAI chat, legacy completions, responses,
 * embeddings and moderations, Anthropic messages (with count_tokens and batches) and legacy complete,
 * and a catch-all per provider host (see the module comment).
 */
export const DEFAULT_GUARD_ROUTES: GuardRouteConfig[] = [
  {
    name: "openai-chat",
    hosts: OPENAI_HOSTS,
    path_prefix: "/v1/chat/completions",
    adapter: "openai-chat",
    stream: "openai",
  },
  {
    name: "openai-completions",
    hosts: OPENAI_HOSTS,
    path_prefix: "/v1/completions",
    adapter: "openai-chat",
    stream: "openai",
  },
  {
    name: "openai-responses",
    hosts: OPENAI_HOSTS,
    path_prefix: "/v1/responses",
    adapter: "openai-responses",
    stream: "openai",
  },
  { name: "openai-embeddings", hosts: OPENAI_HOSTS, path_prefix: "/v1/embeddings", adapter: "json-text" },
  { name: "openai-moderations", hosts: OPENAI_HOSTS, path_prefix: "/v1/moderations", adapter: "json-text" },
  { name: "openai-any", hosts: OPENAI_HOSTS, path_prefix: "/", adapter: "json-text", stream: "openai" },
  {
    name: "anthropic-messages",
    hosts: ANTHROPIC_HOSTS,
    path_prefix: "/v1/messages",
    adapter: "anthropic-messages",
    stream: "anthropic",
  },
  {
    name: "anthropic-complete",
    hosts: ANTHROPIC_HOSTS,
    path_prefix: "/v1/complete",
    adapter: "anthropic-messages",
    stream: "anthropic",
  },
  { name: "anthropic-any", hosts: ANTHROPIC_HOSTS, path_prefix: "/", adapter: "json-text", stream: "anthropic" },
];

function adapterFor(c: GuardRouteConfig, field: string): GuardAdapter {
  switch (c.adapter) {
    case "openai-chat":
      return openaiChat;
    case "openai-responses":
      return openaiResponses;
    case "anthropic-messages":
      return anthropicMessages;
    case "json-text":
      return jsonText;
    case "generic":
      if (!c.generic) throw new HexrError("config.invalid", `${field}.generic: required for the generic adapter`);
      return createGenericAdapter(c.generic);
    default:
      throw new HexrError(
        "config.invalid",
        `${field}.adapter: must be openai-chat, openai-responses, anthropic-messages, json-text or generic`,
      );
  }
}

/**
 * Default scan budget per body. The scanners are linear in input with a small constant for every input
 * shape (bench/micro/guard-shapes.ts); a full 256 KiB text of the costliest shape scans in tens of ms,
 * so this is slack for a loaded machine, and a bound on what one request can cost the guard thread.
 */
export const DEFAULT_SCAN_BUDGET_MS = 250;
const MAX_SCAN_BUDGET_MS = 10_000;

function budget(v: unknown, field: string): number {
  if (v === undefined) return DEFAULT_SCAN_BUDGET_MS;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_SCAN_BUDGET_MS)
    throw new HexrError("config.invalid", `${field}: must be an integer in [1, ${MAX_SCAN_BUDGET_MS}]`);
  return v;
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
      scanBudgetMs: budget(c.scan_budget_ms, `${field}.scan_budget_ms`),
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

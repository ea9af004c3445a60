/**
 * The policy input (`input` in `data.hexr.authz`), exactly the DESIGN.md shape. Time and rate are
 * facts supplied here rather than computed in Rego, so decisions are deterministic and testable.
 * Only allow-listed headers reach the policy: never credentials, cookies or API keys.
 *
 * `action` is the primary permission (on `resource`); `actions` lists every permission the request needs,
 * each with the resource it is needed on (a copy needs `s3:GetObject` on `resource.copy_source` besides
 * `s3:PutObject` on the target). A policy that checks only `action` under-authorizes copies and
 * ACL-setting writes: check every entry of `actions`.
 *
 * @example
 *   const op = catalog.classify("GET", "s3.amazonaws.com", "/b/k?acl", headers);
 *   const input = buildInput({ principal, service: op.service, action: op.action, actions: op.actions,
 *     resource: op.resource, method: "GET", host: "s3.amazonaws.com", path: "/b/k",
 *     headers: allowListHeaders(raw), now: Date.now(), callsLastMinute: rate.hit(agentKey, now) });
 */
import type { A2aPolicyInput } from "../a2a/types.ts";
import { normalizeHost } from "./catalog.ts";
import type { RequiredAction, Resource } from "./operations/types.ts";
import { EMPTY_RESOURCE } from "./operations/types.ts";

export interface OpaInput {
  readonly spiffe_id: string;
  readonly tenant: string;
  readonly agent: string;
  readonly role: string;
  readonly service: string;
  readonly action: string;
  readonly actions: readonly RequiredAction[];
  /** What the request touches (bucket, key, copy source, project, container, …); `{}` when unknown. */
  readonly resource: Resource;
  /** RFC 3339, UTC, whole seconds: `2026-01-15T10:30:00Z`. */
  readonly timestamp: string;
  readonly request: {
    readonly method: string;
    /** Lowercase, without port. */
    readonly host: string;
    readonly path: string;
    readonly headers: Readonly<Record<string, string>>;
  };
  readonly rate: { readonly agent_calls_last_minute: number };
  readonly a2a?: A2aPolicyInput;
}

export interface InputFacts {
  readonly principal: {
    readonly spiffeId: string;
    readonly tenant: string;
    readonly agent: string;
    readonly role: string;
  };
  readonly service: string;
  readonly action: string;
  /** Every permission the request needs; default `[{ action, resource }]`. */
  readonly actions?: readonly RequiredAction[];
  readonly resource?: Resource;
  readonly method: string;
  readonly host: string;
  readonly path: string;
  /** Already passed through `allowListHeaders`. */
  readonly headers: Readonly<Record<string, string>>;
  /** Epoch milliseconds. */
  readonly now: number;
  readonly callsLastMinute: number;
  readonly a2a?: A2aPolicyInput;
}

/** Headers a policy may see. Identity comes from the peer certificate, never from headers. */
export const HEADER_ALLOW_LIST: readonly string[] = Object.freeze([
  "accept",
  "content-length",
  "content-type",
  "traceparent",
  "user-agent",
  "x-request-id",
]);

/** Never forwarded to a policy, even if a caller's custom allow-list names them. */
export const FORBIDDEN_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  "api-key",
  "x-goog-api-key",
  "x-amz-security-token",
  "x-forwarded-client-cert",
]);

/** Values are truncated: the input is JSON-encoded into WASM memory on every evaluation. */
export const MAX_HEADER_VALUE_LENGTH = 512;

const DEFAULT_ALLOW: ReadonlySet<string> = new Set(HEADER_ALLOW_LIST);

/**
 * Picks allow-listed headers (names lowercased; repeated values joined with `, `).
 * `x-hexr-*` and credential headers never pass, whatever `allow` says.
 */
export function allowListHeaders(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  allow: ReadonlySet<string> = DEFAULT_ALLOW,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const lower = name.toLowerCase();
    if (!allow.has(lower) || FORBIDDEN_HEADERS.has(lower) || lower.startsWith("x-hexr-")) continue;
    const v = headers[name];
    if (v === undefined) continue;
    const value = typeof v === "string" ? v : v.join(", ");
    out[lower] = value.length > MAX_HEADER_VALUE_LENGTH ? value.slice(0, MAX_HEADER_VALUE_LENGTH) : value;
  }
  return out;
}

// One timestamp string per second, not one Date per request.
let lastSecond = Number.NaN;
let lastStamp = "";

/** `2026-01-15T10:30:00Z` for epoch milliseconds (floored to the second). */
export function rfc3339Seconds(nowMs: number): string {
  const sec = Math.floor(nowMs / 1000);
  if (sec !== lastSecond) {
    lastStamp = `${new Date(sec * 1000).toISOString().slice(0, 19)}Z`;
    lastSecond = sec;
  }
  return lastStamp;
}

export function buildInput(p: InputFacts): OpaInput {
  const resource = p.resource ?? EMPTY_RESOURCE;
  const input: OpaInput = {
    spiffe_id: p.principal.spiffeId,
    tenant: p.principal.tenant,
    agent: p.principal.agent,
    role: p.principal.role,
    service: p.service,
    action: p.action,
    actions: p.actions ?? [{ action: p.action, resource }],
    resource,
    timestamp: rfc3339Seconds(p.now),
    request: { method: p.method, host: normalizeHost(p.host), path: p.path, headers: p.headers },
    rate: { agent_calls_last_minute: p.callsLastMinute },
  };
  return p.a2a ? { ...input, a2a: p.a2a } : input;
}

/**
 * The ext_authz pipeline, read top to bottom:
 *   identity → service resolution → rate → policy → (credentials) → response
 * Each stage either produces its fact or ends the request with a deny reason. Nothing throws at
 * Envoy: unexpected errors become a 403 with `internal.error` (fail closed).
 *
 * Identity has two carriers (see {@link jwtSvidCarrier} and `#jwtIdentity` for the rules):
 *  - the mTLS peer: the X.509-SVID Envoy verified in the handshake (synchronous, the hot path);
 *  - a JWT-SVID in `x-hexr-svid` or `Authorization: Bearer`, verified against the Workload API's JWT
 *    bundles (asynchronous; only requests that carry one pay for it).
 * When both are present the JWT-SVID can only confirm the peer, never replace it: a bearer token can be
 * replayed, a TLS handshake cannot, so a token must never lift a connection to another identity.
 */
import { randomUUID } from "node:crypto";
import type { CredentialKind, Decision, OpaInput, RequiredAction, Resource } from "../../filters/authz/index.ts";
import type { VerifiedChain } from "../../filters/a2a/chain.ts";
import { type A2aCall, A2aError, type A2aPolicyInput } from "../../filters/a2a/types.ts";
import { allowListHeaders, buildInput, decisionCacheKey, METHOD_OVERRIDE_HEADERS } from "../../filters/authz/index.ts";
import { HexrError, isHexrError } from "../../filters/errors.ts";
import type { CheckAttributes, CheckPeer, Principal } from "../../filters/identity/index.ts";
import { bearerTokenFrom, identityFromCheckAttributes } from "../../filters/identity/index.ts";
import type { AuthzTelemetry, CredentialTiming, TraceHeaders } from "../telemetry/authz.ts";
import { traceIdOf } from "../../filters/telemetry/traceparent.ts";
import type { AuditRecord, AuditSink } from "./audit.ts";
import type { CredentialResult, CredentialStage } from "./credentials.ts";
import type { CheckResponse, HeaderValueOption } from "./response.ts";
import { deniedResponse, headerOption, okResponse } from "./response.ts";

/** Headers a client may never set: ours, and a forwarded client certificate. */
const CLIENT_FORBIDDEN_PREFIX = "x-hexr-";
const XFCC = "x-forwarded-client-cert";
const UNKNOWN_SERVICE = "unknown";
export const JWT_SVID_HEADER = "x-hexr-svid";
const AUTHORIZATION = "authorization";
const SPIFFE_PREFIX = "spiffe://";
/** Largest JWT payload segment we decode just to classify an Authorization token (verification caps size too). */
const MAX_CLASSIFY_PAYLOAD_CHARS = 8192;

export interface PolicySource {
  current(): { engine: { evaluate(input: OpaInput): Decision }; revision: string; generation: number } | undefined;
}

/** The service catalog as the pipeline uses it (`ServiceCatalog.classify`). */
export interface ServiceResolver {
  /** `path` with its query; lowercase header names. Undefined when no entry claims the host. */
  classify(
    method: string,
    host: string,
    path: string,
    headers: Readonly<Record<string, string>>,
  ):
    | {
        service: string;
        action: string;
        actions: readonly RequiredAction[];
        resource: Resource;
        credentials?: CredentialKind | undefined;
      }
    | undefined;
}

/**
 * Calls per agent in the last minute, this one included. In-process counters answer at once; shared ones
 * (Redis) answer with a promise that never rejects and says whether the count is shared.
 */
export interface RateSource {
  hit(key: string, nowMs: number): number | Promise<{ count: number; shared: boolean }>;
}

export interface DecisionCacheLike {
  get(key: string): Decision | undefined;
  set(key: string, d: Decision): void;
}

/** Verifies a JWT-SVID to the principal it names; rejects with HexrError `jwt_svid.*` / `identity.*`. */
export interface JwtSvidAuthenticator {
  verify(token: string): Promise<Principal>;
}

export interface AuthzPipelineDeps {
  trustDomains: ReadonlySet<string>;
  policy: PolicySource;
  catalog: ServiceResolver;
  rate: RateSource;
  cache?: DecisionCacheLike;
  audit: AuditSink;
  /** Enables JWT-SVIDs as an identity carrier. Without it, tokens are ignored (and `x-hexr-svid` stripped). */
  jwtSvid?: JwtSvidAuthenticator;
  /** Policy clock (time facts, rate windows). JWT expiry is checked by the authenticator's own clock. */
  now?: () => number;
  /** Decision metrics and spans (sidecars/telemetry). */
  telemetry?: AuthzTelemetry;
  /** Short-lived cloud credentials for allowed requests to services the catalog marks `credentials:`. */
  credentials?: CredentialStage;
  /** Inbound agent-to-agent calls (Checks from the inbound listener): classification, validation, chains. */
  a2a?: A2aInbound;
}

/** A protocol-format answer (JSON-RPC error, REST error, gRPC status) for a refused A2A call. */
export interface ProtocolAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The chain an agent forwarded with an outbound call, verified: what the caller acts for, and the chain to extend. */
export interface ForwardedChain {
  readonly previous: VerifiedChain | undefined;
  readonly actsFor: readonly string[];
}

/**
 * What the pipeline needs for an inbound A2A Check (see sidecars/a2a/inbound.ts): the call classified and
 * its body validated from the request Envoy sent with its body, the delegation chain verified, and refusals
 * in the protocol's own error format.
 */
export interface A2aInbound {
  /** This pod's agent: `input.a2a.target`. */
  readonly target: string;
  /**
   * The classified, validated call; an A2aError for a malformed one; undefined when it is not A2A at all.
   * `outbound`: a call this pod's agent makes to another (whose paths this sidecar does not know).
   */
  inspect(
    req: {
      readonly method: string;
      readonly path: string;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: Uint8Array | undefined;
    },
    outbound?: boolean,
  ): A2aCall | A2aError | undefined;
  /**
   * The verified delegation chain the request carries — the agents the caller acts for, oldest first, the
   * caller itself not included — or [] for a direct call. A promise when there is a chain to verify.
   */
  chain(
    headers: Readonly<Record<string, string>>,
    caller: string,
  ): readonly string[] | A2aError | Promise<readonly string[] | A2aError>;
  /**
   * An outbound A2A call from `caller`: the chain the agent forwarded, verified (the agents the caller acts
   * for), before the policy sees the call. A promise when there is a chain to verify.
   */
  forwarded(
    headers: Readonly<Record<string, string>>,
    caller: string,
  ): ForwardedChain | A2aError | Promise<ForwardedChain | A2aError>;
  /**
   * After an allow only: the chain header to send from `caller` to `target`, the forwarded chain extended
   * with this hop. Undefined when this sidecar signs no chains.
   */
  link(caller: string, target: string, forwarded: ForwardedChain): Promise<string | undefined | A2aError>;
  /** The protocol's error answer for a malformed call or a denial. */
  refusal(
    call: A2aCall | undefined,
    headers: Readonly<Record<string, string>>,
    reasons: readonly string[],
    err?: A2aError,
  ): ProtocolAnswer;
}

export interface CheckRequestLike {
  attributes?: CheckAttributes;
}

/** Where a JWT-SVID was found; `authorization` is only removed upstream when it carried the SVID. */
export interface JwtSvidCarrier {
  readonly header: typeof JWT_SVID_HEADER | typeof AUTHORIZATION;
  readonly token: string;
}

type Identity = Principal | HexrError;

/** With JWT-SVIDs enabled, a request with neither carrier (e.g. on a JWT-only listener) gets this reason. */
const NO_IDENTITY = new HexrError(
  "identity.no_identity",
  "request has neither a client certificate nor a JWT-SVID (x-hexr-svid or Authorization: Bearer)",
);

function stripPath(p: string): string {
  const q = p.indexOf("?");
  return q === -1 ? p : p.slice(0, q);
}

function hasPeer(source: CheckPeer | undefined): boolean {
  return !!(source?.certificate || source?.principal);
}

function asHexrError(e: unknown): HexrError {
  return isHexrError(e) ? e : new HexrError("internal.error", "authorization failed");
}

/**
 * Whether a compact JWS's payload names a SPIFFE ID as `sub` (a cheap shape test, not verification). A JWS
 * whose payload is too large to classify counts as one: it is then verified (and refused by the verifier's
 * size cap) rather than forwarded, so a big payload cannot carry a JWT-SVID past the sidecar.
 */
function hasSpiffeSubject(token: string): boolean {
  const a = token.indexOf(".");
  const b = a === -1 ? -1 : token.indexOf(".", a + 1);
  if (b === -1) return false;
  if (b - a - 1 > MAX_CLASSIFY_PAYLOAD_CHARS) return true;
  try {
    const claims = JSON.parse(Buffer.from(token.slice(a + 1, b), "base64url").toString("utf8")) as { sub?: unknown };
    return typeof claims?.sub === "string" && claims.sub.startsWith(SPIFFE_PREFIX);
  } catch {
    return false;
  }
}

/**
 * The JWT-SVID a request carries, if any:
 *  - `x-hexr-svid` always carries one (it exists for nothing else);
 *  - otherwise `Authorization: Bearer <t>` does when the connection has no peer identity (a JWT-only agent:
 *    nothing else could identify it), or when `<t>` is a JWT whose `sub` is a SPIFFE ID. Any other bearer
 *    token next to a client certificate is the upstream's credential (an LLM API key, say): not ours to
 *    inspect, and forwarded untouched.
 *
 * @example
 *   jwtSvidCarrier({ "x-hexr-svid": "eyJ…" }, undefined); // { header: "x-hexr-svid", token: "eyJ…" }
 *   jwtSvidCarrier({ authorization: "Bearer sk-…" }, { certificate: "…" }); // undefined
 */
export function jwtSvidCarrier(
  headers: Readonly<Record<string, string>>,
  source: CheckPeer | undefined,
): JwtSvidCarrier | undefined {
  const token = bearerTokenFrom(headers);
  if (token === undefined) return undefined;
  const fromSvidHeader = headers[JWT_SVID_HEADER]?.trim();
  if (fromSvidHeader) return { header: JWT_SVID_HEADER, token };
  if (!hasPeer(source) || hasSpiffeSubject(token)) return { header: AUTHORIZATION, token };
  return undefined;
}

/**
 * Whether an `Authorization` value holds a JWT-SVID anywhere: any scheme, any of several comma-joined values
 * (Envoy joins repeated headers). Such a header is removed before the upstream whatever else it carries:
 * a JWT-SVID never leaves the sidecar.
 */
export function authorizationHoldsJwtSvid(value: string | undefined): boolean {
  if (value === undefined || value.indexOf(".") === -1) return false;
  for (const part of value.split(TOKEN_SEPARATORS)) {
    if (part.length > 0 && part.indexOf(".") !== -1 && hasSpiffeSubject(part)) return true;
  }
  return false;
}

const TOKEN_SEPARATORS = /[\s,]+/;

export class AuthzPipeline {
  readonly #d: AuthzPipelineDeps;
  readonly #now: () => number;

  constructor(deps: AuthzPipelineDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /**
   * One Check. Synchronous unless the request carries a JWT-SVID (and JWT-SVIDs are enabled): then the
   * result is a promise. Never throws and never rejects.
   */
  check(req: CheckRequestLike, trace?: TraceHeaders): CheckResponse | Promise<CheckResponse> {
    const started = performance.now();
    const attrs = req.attributes ?? {};
    // the inbound (agent-to-agent) listener demands a client certificate: its caller is the mTLS peer only
    if (this.#d.a2a && attrs.context_extensions?.[DIRECTION] === INBOUND) {
      return this.#decideA2a(attrs, started, this.#peerIdentity(attrs), trace, this.#d.a2a, undefined);
    }
    // an outbound call to another agent (the route names it): the same A2A policy, then a chain link
    const a2aTarget = attrs.context_extensions?.[A2A_TARGET];
    if (this.#d.a2a && a2aTarget !== undefined) {
      return this.#decideA2a(attrs, started, this.#peerIdentity(attrs), trace, this.#d.a2a, a2aTarget);
    }
    const carrier = this.#d.jwtSvid ? jwtSvidCarrier(attrs.request?.http?.headers ?? {}, attrs.source) : undefined;
    if (carrier === undefined) {
      const identity = this.#d.jwtSvid && !hasPeer(attrs.source) ? NO_IDENTITY : this.#peerIdentity(attrs);
      return this.#decide(attrs, started, identity, undefined, trace);
    }
    return this.#jwtIdentity(attrs, carrier).then((identity) => this.#decide(attrs, started, identity, carrier, trace));
  }

  /** 1a. identity from the peer certificate / Envoy's principal only, never from headers. */
  #peerIdentity(attrs: CheckAttributes): Identity {
    try {
      return identityFromCheckAttributes(attrs, { trustDomains: this.#d.trustDomains });
    } catch (e) {
      return asHexrError(e);
    }
  }

  /**
   * 1b. identity from a JWT-SVID. Without a peer identity the verified token is the identity. With one, the
   * peer must be a valid agent on its own and the token must name exactly that SPIFFE ID
   * (`identity.jwt_peer_mismatch` otherwise). Resolves, never rejects.
   */
  async #jwtIdentity(attrs: CheckAttributes, carrier: JwtSvidCarrier): Promise<Identity> {
    let fromToken: Principal;
    try {
      fromToken = await (this.#d.jwtSvid as JwtSvidAuthenticator).verify(carrier.token);
    } catch (e) {
      return asHexrError(e);
    }
    if (!this.#d.trustDomains.has(fromToken.trustDomain)) {
      return new HexrError("jwt_svid.foreign_trust_domain", "sub trust domain is not in trustDomains");
    }
    if (!hasPeer(attrs.source)) return fromToken;
    const peer = this.#peerIdentity(attrs);
    if (isHexrError(peer)) return peer; // a token never rescues a connection whose own identity is bad
    if (peer.spiffeId !== fromToken.spiffeId) {
      return new HexrError(
        "identity.jwt_peer_mismatch",
        "JWT-SVID sub differs from the mTLS peer's SPIFFE ID (a token may confirm the peer, never replace it)",
      );
    }
    return peer;
  }

  /**
   * An inbound A2A call: the call from the body (classified and validated before anything else), the
   * caller's verified chain, rate, then the agent-to-agent policy with `input.a2a`. Every refusal is in
   * the protocol's own error format, so the calling agent's SDK reads it like the target's own errors.
   */
  #decideA2a(
    attrs: CheckAttributes,
    started: number,
    identity: Identity,
    trace: TraceHeaders | undefined,
    a2a: A2aInbound,
    outboundTarget: string | undefined,
  ): CheckResponse | Promise<CheckResponse> {
    const http = attrs.request?.http;
    const headers = http?.headers ?? {};
    const method = http?.method ?? "";
    const rawPath = http?.path ?? "";
    const principal = isHexrError(identity) ? undefined : identity;
    const st: Outcome = {
      decisionId: randomUUID(),
      started,
      headers,
      principal,
      service: A2A_SERVICE,
      action: UNKNOWN_A2A_ACTION,
      actions: undefined,
      decision: DENIED_INTERNAL,
      revision: null,
      cached: false,
      degraded: [],
      carrier: undefined,
      trace,
    };
    let call: A2aCall | undefined;
    const refuse = (reasons: readonly string[], err?: A2aError): CheckResponse => {
      st.decision = { allow: false, reasons };
      st.answer = a2a.refusal(call, headers, reasons, err);
      return this.#finish(st, undefined);
    };
    try {
      const body = requestBody(http, headers);
      const inspected = a2a.inspect({ method, path: rawPath, headers, body }, outboundTarget !== undefined);
      if (inspected === undefined) {
        return refuse(["a2a.not_a2a: the inbound listener takes A2A requests only"]);
      }
      if (inspected instanceof A2aError) return refuse([inspected.reason], inspected);
      call = inspected;
      st.action = call.method;
      if (principal === undefined) return refuse([(identity as HexrError).reason]);
      if (outboundTarget !== undefined) {
        const go = (x: ForwardedChain | A2aError) => {
          if (x instanceof A2aError) return refuse([x.reason], x);
          const out = { target: outboundTarget, forwarded: x };
          return this.#a2aWithChain(st, call as A2aCall, attrs, principal, x.actsFor, a2a, refuse, out);
        };
        const fw = a2a.forwarded(headers, principal.spiffeId);
        if (!(fw instanceof Promise)) return go(fw);
        return fw.then(go, () => refuse(["a2a.chain_check_failed: the delegation chain could not be checked"]));
      }
      // the agent keeps the verified chain, to forward when it calls further agents for this request
      st.keepHeaders = KEEP_CHAIN;
      // ext_proc (the A2A processor) reads the call as classified here, never re-derives it from the path
      st.setHeaders = [[A2A_CALL_HEADER, `${call.binding};${call.version}`]];
      const chain = a2a.chain(headers, principal.spiffeId);
      if (chain instanceof Promise) {
        return chain.then(
          (c) => this.#a2aWithChain(st, call as A2aCall, attrs, principal, c, a2a, refuse),
          () => refuse(["a2a.chain_check_failed: the delegation chain could not be checked"]),
        );
      }
      return this.#a2aWithChain(st, call, attrs, principal, chain, a2a, refuse);
    } catch (e) {
      return refuse([denial(e).reasons[0] as string]);
    }
  }

  /** The rest of an inbound A2A Check once its chain is known: rate, policy, answer. */
  #a2aWithChain(
    st: Outcome,
    call: A2aCall,
    attrs: CheckAttributes,
    principal: Principal,
    chain: readonly string[] | A2aError,
    a2a: A2aInbound,
    refuse: (reasons: readonly string[], err?: A2aError) => CheckResponse,
    outbound?: { readonly target: string; readonly forwarded: ForwardedChain },
  ): CheckResponse | Promise<CheckResponse> {
    if (chain instanceof A2aError) return refuse([chain.reason], chain);
    const http = attrs.request?.http;
    const headers = http?.headers ?? {};
    const method = http?.method ?? "";
    const rawPath = http?.path ?? "";
    try {
      const facts: A2aPolicyInput = {
        caller: principal.spiffeId,
        target: outbound?.target ?? a2a.target,
        method: call.method,
        version: call.version,
        binding: call.binding,
        chain,
        ...(call.taskId !== undefined ? { task_id: call.taskId } : {}),
        ...(call.contextId !== undefined ? { context_id: call.contextId } : {}),
      };
      const now = this.#now();
      const calls = this.#d.rate.hit(`${principal.tenant}/${principal.agent}`, now);
      const f: Facts = {
        principal,
        method,
        host: http?.host ?? "",
        path: stripPath(rawPath),
        rawPath,
        headers,
        resource: undefined,
        kind: undefined,
        now,
        a2a: facts,
      };
      const decided = (count: number): CheckResponse | Promise<CheckResponse> => {
        this.#policyDecision(st, f, count);
        // an outbound allow gets its chain link; nothing is signed for a call the policy refuses
        if (!st.decision.allow || outbound === undefined) return this.#a2aAnswer(st, call, headers, a2a);
        const caller = principal.spiffeId;
        return a2a.link(caller, outbound.target, outbound.forwarded).then(
          (link) => {
            if (link instanceof A2aError) return refuse([link.reason], link);
            if (link !== undefined) st.setHeaders = [[CHAIN_HEADER, link]];
            return this.#a2aAnswer(st, call, headers, a2a);
          },
          () => refuse(["a2a.chain_check_failed: the delegation chain could not be extended"]),
        );
      };
      if (!(calls instanceof Promise)) return decided(calls);
      return calls.then((r) => {
        if (!r.shared) st.degraded.push("rate_local");
        return decided(r.count);
      });
    } catch (e) {
      return refuse([denial(e).reasons[0] as string]);
    }
  }

  /** An A2A Check's answer and audit line; a policy denial is re-answered in the protocol's format. */
  #a2aAnswer(st: Outcome, call: A2aCall, headers: Readonly<Record<string, string>>, a2a: A2aInbound): CheckResponse {
    const r = this.#finish(st, undefined);
    if (st.decision.allow || !r.denied_response) return r;
    const answer = a2a.refusal(call, headers, st.decision.reasons);
    return deniedResponse(st.decisionId, st.decision.reasons, answer);
  }

  /** 2–5: service, rate, policy, credentials, then response and audit, for an identity (or why there is none). */
  #decide(
    attrs: CheckAttributes,
    started: number,
    identity: Identity,
    carrier: JwtSvidCarrier | undefined,
    trace: TraceHeaders | undefined,
  ): CheckResponse | Promise<CheckResponse> {
    const http = attrs.request?.http;
    const headers = http?.headers ?? {};
    const method = http?.method ?? "";
    const host = http?.host ?? "";
    const rawPath = http?.path ?? "";
    const path = stripPath(rawPath);

    const principal = isHexrError(identity) ? undefined : identity;
    const st: Outcome = {
      decisionId: randomUUID(),
      started,
      headers,
      principal,
      service: UNKNOWN_SERVICE,
      action: method.toLowerCase(),
      actions: undefined,
      decision: DENIED_INTERNAL,
      revision: null,
      cached: false,
      degraded: [],
      carrier,
      trace,
    };
    let kind: CredentialKind | undefined;
    try {
      // 2. service, actions and resource from the catalog (also for denied identities: the audit says what was tried)
      const resolved = this.#d.catalog.classify(method, host, rawPath, headers);
      let resource: Resource | undefined;
      if (resolved) {
        st.service = resolved.service;
        st.action = resolved.action;
        st.actions = resolved.actions;
        resource = resolved.resource;
        kind = resolved.credentials;
      }
      if (principal === undefined) throw identity as HexrError; // 1. no identity: denied with its reason
      // 3. rate facts for the policy
      const now = this.#now();
      const calls = this.#d.rate.hit(`${principal.tenant}/${principal.agent}`, now);
      const facts: Facts = { principal, method, host, path, rawPath, headers, resource, kind, now };
      if (!(calls instanceof Promise)) return this.#evaluate(st, facts, calls, attrs);
      return calls.then((r) => {
        if (!r.shared) st.degraded.push("rate_local");
        return this.#evaluate(st, facts, r.count, attrs);
      });
    } catch (e) {
      st.decision = denial(e);
      return this.#finish(st, undefined);
    }
  }

  /** 4. policy (fail closed when no policy has loaded): sets `st.decision`, from the decision cache when it can. */
  #policyDecision(st: Outcome, f: Facts, calls: number): void {
    const { principal, headers } = f;
    try {
      const policy = this.#d.policy.current();
      if (!policy) {
        st.decision = NO_POLICY;
      } else {
        st.revision = policy.revision;
        const input = buildInput({
          principal,
          service: st.service,
          action: st.action,
          ...(st.actions ? { actions: st.actions, resource: f.resource } : {}),
          method: f.method,
          host: f.host,
          path: f.path,
          headers: allowListHeaders(headers),
          now: f.now,
          callsLastMinute: calls,
          ...(f.a2a ? { a2a: f.a2a } : {}),
        });
        const key = this.#d.cache ? decisionCacheKey(policy.generation, input) : "";
        const hit = this.#d.cache?.get(key);
        if (hit) {
          st.decision = hit;
          st.cached = true;
        } else {
          st.decision = policy.engine.evaluate(input);
          this.#d.cache?.set(key, st.decision);
        }
      }
    } catch (e) {
      st.decision = denial(e);
    }
  }

  /** 4–5: policy, then credentials for an allow. */
  #evaluate(st: Outcome, f: Facts, calls: number, attrs: CheckAttributes): CheckResponse | Promise<CheckResponse> {
    const { principal, headers } = f;
    this.#policyDecision(st, f, calls);

    // 5. credentials: only after an allow, so a denied request never reaches an exchange
    const stage = this.#d.credentials;
    const kind = f.kind;
    if (!st.decision.allow || kind === undefined || stage === undefined) return this.#finish(st, undefined);
    const http = attrs.request?.http;
    const carrier = st.carrier;
    let cred: CredentialResult | Promise<CredentialResult> | undefined;
    const reqBody = requestBody(http, headers);
    const credStarted = performance.now();
    st.credential = { started: credStarted, ended: credStarted, provider: kind };
    try {
      cred = stage.inject({
        kind,
        caller: principal,
        service: st.service,
        actions: st.actions ? actionNames(st.actions) : [st.action],
        ...(st.decision.resources ? { resources: st.decision.resources } : {}),
        ...(st.decision.credentialSeconds !== undefined ? { credentialSeconds: st.decision.credentialSeconds } : {}),
        method: f.method,
        authority: f.host,
        path: f.rawPath,
        headers,
        ...(reqBody ? { body: reqBody } : {}),
        ...(carrier ? { presentedToken: carrier.token } : {}),
      });
    } catch (e) {
      st.decision = denial(e);
      return this.#finish(st, undefined);
    }
    if (cred === undefined) st.credential = undefined; // nothing configured for this kind: nothing injected
    if (!(cred instanceof Promise)) return this.#finish(st, cred);
    // fail closed: a credential that cannot be had (issuer down, refused token) denies with its reason
    return cred.then(
      (r) => this.#finish(st, r),
      (e: unknown) => {
        st.decision = denial(e);
        return this.#finish(st, undefined);
      },
    );
  }

  /** 6. response and audit. A verified JWT-SVID never travels further than this sidecar. */
  #finish(st: Outcome, cred: CredentialResult | undefined): CheckResponse {
    const { decision, headers } = st;
    if (st.credential) {
      st.credential = {
        started: st.credential.started,
        ended: performance.now(),
        provider: cred?.provider ?? st.credential.provider,
      };
    }
    let response: CheckResponse;
    if (decision.allow) {
      const remove = headersToRemove(headers);
      if (st.carrier?.header === AUTHORIZATION || authorizationHoldsJwtSvid(headers[AUTHORIZATION])) {
        remove.push(AUTHORIZATION);
      }
      let set: HeaderValueOption[] | undefined;
      if (st.keepHeaders) {
        for (const name of st.keepHeaders) {
          const i = remove.indexOf(name);
          if (i !== -1) remove.splice(i, 1);
        }
      }
      if (st.setHeaders) {
        set = [];
        for (const [name, value] of st.setHeaders) {
          set.push(headerOption(name, value));
          const i = remove.indexOf(name);
          if (i !== -1) remove.splice(i, 1);
        }
      }
      if (cred) {
        set ??= [];
        for (const [name, value] of cred.injection.set) {
          set.push(headerOption(name, value));
          // an injected Authorization replaces the client's; never remove what we set
          const i = remove.indexOf(name);
          if (i !== -1) remove.splice(i, 1);
        }
        for (const name of cred.injection.remove) if (headers[name] !== undefined) remove.push(name);
      }
      response = okResponse(st.decisionId, remove, set);
    } else {
      response = deniedResponse(st.decisionId, decision.reasons, st.answer);
    }
    const p = st.principal;
    const record: AuditRecord = {
      time: new Date().toISOString(),
      decision_id: st.decisionId,
      spiffe_id: p?.spiffeId ?? null,
      tenant: p?.tenant ?? null,
      agent: p?.agent ?? null,
      role: p?.role ?? null,
      service: st.service,
      action: st.action,
      actions: st.actions ? actionNames(st.actions) : [st.action],
      allow: decision.allow,
      reasons: decision.reasons,
      policy_revision: st.revision,
      credential_tier: cred?.tier ?? null,
      ...(cred ? { credential_provider: cred.provider } : {}),
      ...(st.degraded.length > 0 || (cred && cred.degraded.length > 0)
        ? { degraded: cred ? [...st.degraded, ...cred.degraded] : st.degraded }
        : {}),
      cached: st.cached,
      latency_ms: Math.round((performance.now() - st.started) * 1000) / 1000,
      trace_id: null,
    };
    // the parent span: Envoy's ext_authz span (gRPC metadata) when Envoy traces, else the agent's own
    const trace = st.trace;
    const traceHeaders = trace?.traceparent !== undefined ? trace : { traceparent: headers.traceparent };
    const tel = this.#d.telemetry;
    record.trace_id = tel
      ? tel.decided(record, traceHeaders, st.started, st.carrier ? "jwt_svid" : "mtls", st.credential)
      : traceIdOf(traceHeaders.traceparent);
    this.#d.audit.write(record);
    return response;
  }
}

/** The request facts the later stages read. */
interface Facts {
  readonly principal: Principal;
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly rawPath: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly resource: Resource | undefined;
  readonly kind: CredentialKind | undefined;
  readonly now: number;
  /** Inbound A2A calls: `input.a2a`. */
  readonly a2a?: A2aPolicyInput;
}

/** What one Check has established so far; filled stage by stage, then answered and audited once. */
interface Outcome {
  readonly decisionId: string;
  readonly started: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly principal: Principal | undefined;
  service: string;
  action: string;
  actions: readonly RequiredAction[] | undefined;
  decision: Decision;
  revision: string | null;
  cached: boolean;
  /** What was down and worked around (`rate_local`, then the credential stage's). */
  readonly degraded: string[];
  /** Set when the credential stage ran (for its span). */
  credential?: CredentialTiming | undefined;
  /** A refusal in a protocol's own format (A2A) instead of the JSON deny body. */
  answer?: ProtocolAnswer | undefined;
  /** Headers an allow sets upstream (an A2A chain link). */
  setHeaders?: ReadonlyArray<readonly [string, string]> | undefined;
  /** Client headers an allow leaves in place although they are ours (a verified A2A chain, for the agent). */
  keepHeaders?: readonly string[] | undefined;
  readonly carrier: JwtSvidCarrier | undefined;
  readonly trace: TraceHeaders | undefined;
}

/** Context extensions the rendered Envoy config sets per route (envoy-config `CTX_DIRECTION`). */
const DIRECTION = "hexr.direction";
const INBOUND = "inbound";
const A2A_SERVICE = "a2a";
/** Context extension on outbound routes to another agent: that agent's SPIFFE ID. */
const A2A_TARGET = "hexr.a2a.target";
const CHAIN_HEADER = "x-hexr-a2a-chain";
/** Set on allowed inbound A2A calls for the ext_proc processor (which removes it): `<binding>;<version>`. */
export const A2A_CALL_HEADER = "x-hexr-a2a-call";
const KEEP_CHAIN: readonly string[] = Object.freeze([CHAIN_HEADER]);
const UNKNOWN_A2A_ACTION = "unknown";
/** Envoy sets this when `with_request_body` sent only the first bytes of a larger body. */
const PARTIAL_BODY = "x-envoy-auth-partial-body";
const DENIED_INTERNAL: Decision = Object.freeze({
  allow: false,
  reasons: Object.freeze(["internal.error: authorization failed"]),
});
const NO_POLICY: Decision = Object.freeze({
  allow: false,
  reasons: Object.freeze(["policy.unavailable: no policy bundle loaded"]),
});

/**
 * The request body Envoy sent whole (`with_request_body`), as bytes: `raw_body` when Envoy packs it as bytes,
 * else `body` (Envoy 1.40 sends per-route bodies as the UTF-8 `body` string even with `pack_as_bytes`).
 * Undefined when there is none or Envoy sent only its first bytes.
 */
function requestBody(
  http: { readonly raw_body?: Uint8Array; readonly body?: string } | undefined,
  headers: Readonly<Record<string, string>>,
): Uint8Array | undefined {
  if (http === undefined || headers[PARTIAL_BODY] === "true") return undefined;
  if (http.raw_body !== undefined && http.raw_body.length > 0) return http.raw_body;
  if (http.body !== undefined && http.body.length > 0) return Buffer.from(http.body, "utf8");
  return undefined;
}

function denial(e: unknown): Decision {
  return { allow: false, reasons: [isHexrError(e) ? e.reason : "internal.error: authorization failed"] };
}

/** The audit names every permission a request needed, not only the primary one. */
function actionNames(actions: readonly RequiredAction[]): string[] {
  const out: string[] = [];
  for (const a of actions) if (!out.includes(a.action)) out.push(a.action);
  return out;
}

/**
 * Client-supplied `x-hexr-*` (including a JWT-SVID in `x-hexr-svid`) and XFCC headers, removed before the
 * request goes upstream, and method-override headers (`X-HTTP-Method-Override` and kin): the policy judged
 * the request line's method, so the upstream must run that one. Returns a fresh array the caller may extend.
 */
export function headersToRemove(headers: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const name of METHOD_OVERRIDE_HEADERS) if (headers[name] !== undefined) out.push(name);
  for (const name in headers) {
    if (name.length > 7 && name.startsWith(CLIENT_FORBIDDEN_PREFIX) && name !== "x-hexr-decision-id") {
      out.push(name);
    } else if (name === XFCC) {
      out.push(name);
    }
  }
  return out;
}

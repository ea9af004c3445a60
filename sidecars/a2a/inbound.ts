/**
 * The inbound A2A stage the authz pipeline runs for Checks from Envoy's inbound listener (which sends the
 * request body, bounded): classify the call (filters/a2a/classify.ts), validate its params against the
 * protocol's own definitions (filters/a2a/validate.ts), verify the delegation chain it carries
 * (sidecars/a2a/chain-signer.ts), and answer refusals in the protocol's format (filters/a2a/errors.ts).
 *
 * Configured by the sidecar's `a2a` section:
 *
 *   a2a:
 *     target: spiffe://hexr.cloud/agent/acme-corp/content-crew/writer   # this pod's agent
 *     rest_base: /a2a/rest               # path prefix of the agent's HTTP+JSON interface (its card says it)
 *     chain: { signers: [spiffe://hexr.cloud/hexr/authz], max_depth: 8 }   # with workload_api
 *
 * Validation needs the schema artifacts setup builds (`HEXR_A2A_SCHEMAS`): without them the sidecar does not
 * start (a validator that silently passes everything is worse than none).
 *
 * @example
 *   const stage = new A2aInboundStage({ target, schemas: loadA2aSchemas(), chains });
 */
import { A2aRequestError, classifyA2a, parsedBody } from "../../filters/a2a/classify.ts";
import { type A2aErrorTarget, a2aErrorResponse } from "../../filters/a2a/errors.ts";
import { type A2aCall, A2aError } from "../../filters/a2a/types.ts";
import { urlRefusal } from "../../filters/a2a/urls.ts";
import type { A2aSchemas } from "../../filters/a2a/validate.ts";
import { isHexrError } from "../../filters/errors.ts";
import type { A2aInbound, ForwardedChain, ProtocolAnswer } from "../authz/pipeline.ts";
import type { ChainSigner } from "./chain-signer.ts";

export const CHAIN_HEADER = "x-hexr-a2a-chain";
const VERSION_HEADER = "a2a-version";

/** Per-message limits (the body as a whole is capped by Envoy: `inbound.authzBodyBytes`). */
export interface A2aLimits {
  readonly maxParts: number;
  /** Characters of one text part, or of one data part's JSON. */
  readonly maxPartChars: number;
  /** Nesting of a data part's JSON value. */
  readonly maxDataDepth: number;
}

export const DEFAULT_A2A_LIMITS: A2aLimits = Object.freeze({
  maxParts: 64,
  maxPartChars: 256 * 1024,
  maxDataDepth: 32,
});

/** Where the agent serves JSON-RPC when its config does not say (the agent card's JSONRPC interface path). */
export const DEFAULT_JSONRPC_PATH = "/";

export interface A2aInboundOptions {
  readonly target: string;
  /** The exact path of the agent's JSON-RPC interface. */
  readonly jsonrpcPath?: string;
  /** Accept the gRPC binding, whose bodies are not inspected (off: refused). */
  readonly allowGrpc?: boolean;
  readonly limits?: A2aLimits;
  readonly restBase?: string;
  readonly schemas?: A2aSchemas;
  /** Verifies delegation chains; without it a request carrying one is refused (never trusted unverified). */
  readonly chains?: ChainSigner;
}

/** The body as JSON, for validation (classification has already refused what does not parse). */
function json(body: Uint8Array | undefined): unknown {
  if (body === undefined || body.length === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    return undefined;
  }
}

export class A2aInboundStage implements A2aInbound {
  readonly target: string;
  readonly #restBase: string | undefined;
  readonly #schemas: A2aSchemas | undefined;
  readonly #chains: ChainSigner | undefined;
  readonly #limits: A2aLimits;
  readonly #jsonrpcPath: string;
  readonly #allowGrpc: boolean;

  constructor(o: A2aInboundOptions) {
    this.#limits = o.limits ?? DEFAULT_A2A_LIMITS;
    this.#jsonrpcPath = o.jsonrpcPath ?? DEFAULT_JSONRPC_PATH;
    this.#allowGrpc = o.allowGrpc === true;
    this.target = o.target;
    this.#restBase = o.restBase;
    this.#schemas = o.schemas;
    this.#chains = o.chains;
  }

  inspect(
    req: {
      readonly method: string;
      readonly path: string;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: Uint8Array | undefined;
    },
    outbound = false,
  ): A2aCall | A2aError | undefined {
    const early = this.#shapeRefusal(req, outbound);
    if (early) return early;
    const call = classifyA2a(
      { method: req.method, path: req.path, headers: req.headers, ...(req.body ? { body: req.body } : {}) },
      this.#restBase !== undefined ? { restBase: this.#restBase } : {},
    );
    if (call === undefined || call instanceof A2aError) return call;
    if (call.binding === "grpc" && !this.#allowGrpc) {
      return new A2aRequestError(
        { binding: "grpc", version: call.version },
        "a2a.grpc_not_inspected",
        "the gRPC binding is not accepted here: its bodies are not inspected (a2a.allow_grpc)",
        -32601,
        415,
      );
    }
    // JSON-RPC only at the agent's JSON-RPC path: a POST anywhere else may be a REST route to the agent's
    // router (which matches paths case-insensitively) while we would read the body's method
    if (!outbound && call.binding === "jsonrpc" && req.path.split("?")[0] !== this.#jsonrpcPath) {
      return new A2aRequestError(
        {
          binding: "jsonrpc",
          version: call.version,
          ...(call.jsonrpcId !== undefined ? { jsonrpcId: call.jsonrpcId } : {}),
        },
        "a2a.not_the_jsonrpc_path",
        "JSON-RPC is served at the agent's JSON-RPC path only (a2a.jsonrpc_path)",
        -32600,
        404,
      );
    }
    if (this.#schemas === undefined) return call;
    if (call.binding !== "jsonrpc" && call.binding !== "rest") return call;
    // the document classification already parsed (one parse per body on the authz loop)
    const doc = req.body === undefined ? undefined : (parsedBody(req.body) ?? json(req.body));
    const params = call.binding === "jsonrpc" ? (doc as { params?: unknown } | undefined)?.params : doc;
    // REST reads (GET /tasks/{id}) carry no body: nothing to validate beyond the path
    if (params === undefined) return call;
    const root = call.binding === "jsonrpc" ? "params" : "body";
    const bad = this.#schemas.validateParams(call.version, call.method, params, { binding: call.binding, root });
    const where = {
      binding: call.binding,
      version: call.version,
      ...(call.jsonrpcId !== undefined ? { jsonrpcId: call.jsonrpcId } : {}),
    };
    if (bad === undefined) {
      // the proto name of v0.3 REST's `message` field: the reference servers read it, our scanners would not
      if (call.binding === "rest" && (params as Record<string, unknown>).request !== undefined) {
        return new A2aRequestError(
          where,
          "a2a.alternate_spelling",
          `${root}: send the message as "message"`,
          -32602,
          400,
          `${root}.request`,
        );
      }
      const message = (params as { message?: { parts?: unknown; content?: unknown } }).message;
      const over = overLimit(message?.parts ?? message?.content, `${root}.message.parts`, this.#limits);
      if (over)
        return new A2aRequestError(where, "a2a.over_limit", `${over.path}: ${over.why}`, -32602, 400, over.path);
      // file parts by URL and push-notification webhooks: the target agent would fetch or post there
      const url = refusedUrl(params, root);
      if (url === undefined) return call;
      return new A2aRequestError(where, "a2a.url_refused", `${url.path}: ${url.why}`, -32602, 400, url.path);
    }
    return new A2aRequestError(where, bad.code as `a2a.${string}`, bad.message, bad.rpcCode, bad.httpStatus, bad.path);
  }

  /**
   * What no A2A server may read differently from us: a body in a charset other than UTF-8 (the reference
   * servers decode any declared charset, UTF-7 included), and a path that differs from the REST base or the
   * JSON-RPC path only in letter case (their routers match case-insensitively).
   */
  #shapeRefusal(
    req: { readonly path: string; readonly headers: Readonly<Record<string, string>> },
    outbound: boolean,
  ): A2aError | undefined {
    const where = { binding: "jsonrpc" as const, version: "1.0" as const };
    const ct = req.headers["content-type"];
    const charset = ct === undefined ? undefined : /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(ct)?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
      return new A2aRequestError(where, "a2a.charset_refused", "A2A bodies are UTF-8 (charset refused)", -32700, 415);
    }
    if (outbound) return undefined; // the target's sidecar knows its paths
    const bare = (req.path.split("?")[0] as string).toLowerCase();
    for (const known of [this.#restBase, this.#jsonrpcPath]) {
      if (known === undefined || known === "/") continue;
      const k = known.toLowerCase();
      if ((bare === k || bare.startsWith(`${k}/`)) && !req.path.startsWith(known)) {
        return new A2aRequestError(
          where,
          "a2a.path_case",
          "the path differs from the agent's in letter case",
          -32600,
          404,
        );
      }
    }
    return undefined;
  }

  chain(
    headers: Readonly<Record<string, string>>,
    caller: string,
  ): readonly string[] | A2aError | Promise<readonly string[] | A2aError> {
    const token = headers[CHAIN_HEADER];
    if (token === undefined || token === "") return [];
    if (this.#chains === undefined) {
      return new A2aError(
        "a2a.chain_unverifiable",
        "this sidecar verifies no delegation chains (a2a.chain)",
        -32000,
        403,
      );
    }
    return this.#chains.verify(token, { self: this.target, peer: caller }).then(
      // the verified chain ends with the caller, which the policy has as input.a2a.caller
      (v) => v.chain.slice(0, -1),
      (e: unknown) => chainError(e, "the delegation chain does not verify"),
    );
  }

  forwarded(
    headers: Readonly<Record<string, string>>,
    caller: string,
  ): ForwardedChain | A2aError | Promise<ForwardedChain | A2aError> {
    const token = headers[CHAIN_HEADER];
    // no signer: no chain travels on (a forwarded one is removed with the other x-hexr-* headers)
    if (this.#chains === undefined || token === undefined || token === "") return NO_FORWARDED_CHAIN;
    return this.#chains.forwarded(token, caller).then(
      (previous) => ({ previous, actsFor: previous.chain }),
      (e: unknown) => chainError(e, "the forwarded delegation chain does not verify"),
    );
  }

  async link(caller: string, target: string, forwarded: ForwardedChain): Promise<string | undefined | A2aError> {
    if (this.#chains === undefined) return undefined;
    try {
      return await this.#chains.sign({ caller, target, forwarded: forwarded.previous });
    } catch (e) {
      return chainError(e, "the delegation chain could not be extended");
    }
  }

  refusal(
    call: A2aCall | undefined,
    headers: Readonly<Record<string, string>>,
    reasons: readonly string[],
    err?: A2aError,
  ): ProtocolAnswer {
    const target: A2aErrorTarget =
      call ??
      (err instanceof A2aRequestError ? err : { binding: guessBinding(headers), version: guessVersion(headers) });
    return a2aErrorResponse(target, err ?? { reasons });
  }
}

/** The first way a message's parts pass the limits: how many, how large, how deep a data part nests. */
function overLimit(parts: unknown, path: string, l: A2aLimits): { path: string; why: string } | undefined {
  if (!Array.isArray(parts)) return undefined;
  if (parts.length > l.maxParts) return { path, why: `more than ${l.maxParts} parts` };
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as Record<string, unknown> | null;
    if (p === null || typeof p !== "object") continue;
    const text = typeof p.text === "string" ? p.text : undefined;
    if (text !== undefined && text.length > l.maxPartChars) {
      return { path: `${path}[${i}].text`, why: `longer than ${l.maxPartChars} characters` };
    }
    // v1.0 `data` holds the value; v0.3 `{ kind: "data", data }` too
    if (p.data !== undefined) {
      if (depthOf(p.data, l.maxDataDepth + 1) > l.maxDataDepth) {
        return { path: `${path}[${i}].data`, why: `nested deeper than ${l.maxDataDepth}` };
      }
      if (JSON.stringify(p.data).length > l.maxPartChars) {
        return { path: `${path}[${i}].data`, why: `larger than ${l.maxPartChars} characters of JSON` };
      }
    }
  }
  return undefined;
}

/** Nesting depth of a JSON value, counted up to `cap`. */
function depthOf(v: unknown, cap: number, d = 0): number {
  if (d >= cap || v === null || typeof v !== "object") return d;
  let max = d + 1;
  for (const x of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) {
    max = Math.max(max, depthOf(x, cap, d + 1));
    if (max >= cap) return max;
  }
  return max;
}

/** Fields that hand the agent a URL (v1.0 `url`, v0.3 JSON-RPC `uri`, v0.3 REST `fileWithUri`), both spellings. */
const URL_KEYS = new Set(["url", "uri", "fileWithUri", "file_with_uri"]);
const MAX_URL_WALK_DEPTH = 64;

/** The first `url` / `uri` string in the params that may not be handed to the agent, with its path. */
function refusedUrl(v: unknown, path: string, depth = 0): { path: string; why: string } | undefined {
  if (depth > MAX_URL_WALK_DEPTH || v === null || typeof v !== "object") return undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = refusedUrl(v[i], `${path}[${i}]`, depth + 1);
      if (r) return r;
    }
    return undefined;
  }
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const p = `${path}.${k}`;
    if (URL_KEYS.has(k) && typeof x === "string") {
      const why = urlRefusal(x);
      if (why !== undefined) return { path: p, why: `a URL the agent would use may not be ${why}` };
    } else {
      const r = refusedUrl(x, p, depth + 1);
      if (r) return r;
    }
  }
  return undefined;
}

/** For refusals before classification (not A2A, no identity): JSON-RPC unless the caller speaks gRPC. */
function guessBinding(headers: Readonly<Record<string, string>>): "jsonrpc" | "grpc" {
  return headers["content-type"]?.startsWith("application/grpc") ? "grpc" : "jsonrpc";
}

function guessVersion(headers: Readonly<Record<string, string>>): "1.0" | "0.3" {
  return headers[VERSION_HEADER]?.trim().startsWith("1.") ? "1.0" : "0.3";
}

const NO_FORWARDED_CHAIN: ForwardedChain = { previous: undefined, actsFor: [] };

/** A chain check's failure as the A2A refusal the calling agent reads: the `a2a.*` code, or chain_invalid. */
function chainError(e: unknown, fallback: string): A2aError {
  return new A2aError(
    isHexrError(e) && e.code.startsWith("a2a.") ? (e.code as `a2a.${string}`) : "a2a.chain_invalid",
    isHexrError(e) ? e.message : fallback,
    -32000,
    403,
  );
}

/**
 * A refused A2A request answered in the protocol's own error format, so an A2A client library reads it
 * as an A2A error rather than a transport failure:
 *
 * - JSON-RPC (A2A §9, JSON-RPC 2.0 §5.1): `{"jsonrpc":"2.0","id":<id or null>,"error":{code,message,data}}`,
 *   HTTP 200 for protocol errors (as the official @a2a-js/sdk server answers them). v1.0 `data` is a list
 *   of typed details (a `google.rpc.ErrorInfo`), v0.3 `data` an object `{reason, path}`.
 * - HTTP+JSON v1.0 (A2A §11, AIP-193): `{"error":{code:<http status>,status:<google.rpc.Code name>,message,
 *   details:[ErrorInfo]}}`, `application/a2a+json`; v0.3: the legacy `{code,message,data}` body of the SDK's
 *   v0.3 REST server, with the HTTP status.
 * - gRPC (A2A §10): a trailers-only answer, HTTP 200, `content-type: application/grpc`, `grpc-status`,
 *   `grpc-message` (percent-encoded as the gRPC HTTP/2 protocol requires).
 *
 * A policy denial: HTTP 403 (gRPC PERMISSION_DENIED = 7). A2A defines no permission error code (its
 * -32001…-32009 mean task-not-found and the like), so JSON-RPC uses -32000 from the range JSON-RPC 2.0
 * leaves to implementations, carried with HTTP 403 (the SDK's JSON-RPC client parses error bodies of any
 * status). Only our own codes, messages, JSON paths, policy reasons and the request's JSON-RPC id are
 * written: never request content.
 *
 * @example
 *   a2aErrorResponse({ binding: "grpc", version: "1.0" }, { reasons: ["agent researcher may not CancelTask on writer"] });
 *   // → { status: 200, headers: { "content-type": "application/grpc", "grpc-status": "7",
 *   //     "grpc-message": "denied by policy: agent researcher may not CancelTask on writer" }, body: "" }
 */
import type { A2aBinding, A2aError, A2aVersion } from "./types.ts";

/** What the answer's format depends on; an A2aCall, or the A2aRequestError classify returned. */
export interface A2aErrorTarget {
  readonly binding: A2aBinding;
  readonly version: A2aVersion;
  readonly jsonrpcId?: string | number | null;
}

/** A policy decision that refused the call. */
export interface A2aDenial {
  readonly reasons: readonly string[];
  /** Sent back as `x-hexr-decision-id`. */
  readonly decisionId?: string;
}

export interface A2aErrorResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** JSON-RPC code of a policy denial (implementation-defined server error range). */
export const RPC_PERMISSION_DENIED = -32000;
/** `google.rpc.ErrorInfo.domain` of the details we write. */
export const ERROR_DOMAIN = "hexr.cloud";
export const DENIED_REASON = "HEXR_POLICY_DENIED";
const ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo";

const GRPC_INVALID_ARGUMENT = 3;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_FAILED_PRECONDITION = 9;
const GRPC_UNIMPLEMENTED = 12;
const GRPC_INTERNAL = 13;
const GRPC_UNKNOWN = 2;

const STATUS_NAMES: Readonly<Record<number, string>> = {
  400: "INVALID_ARGUMENT",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  405: "UNIMPLEMENTED",
  409: "FAILED_PRECONDITION",
  413: "RESOURCE_EXHAUSTED",
  415: "INVALID_ARGUMENT",
  500: "INTERNAL",
};

interface Failure {
  readonly rpcCode: number;
  readonly httpStatus: number;
  readonly message: string;
  /** UPPER_SNAKE `ErrorInfo.reason`. */
  readonly reason: string;
  /** ErrorInfo metadata (string values only). */
  readonly metadata: Record<string, string>;
  /** v0.3 `error.data`. */
  readonly data: Record<string, unknown>;
  readonly grpcStatus: number;
  readonly decisionId: string | undefined;
}

function isDenial(e: A2aError | A2aDenial): e is A2aDenial {
  return Array.isArray((e as A2aDenial).reasons);
}

/** `a2a.method_not_found` → `A2A_METHOD_NOT_FOUND` (ErrorInfo reasons are UPPER_SNAKE_CASE). */
function reasonOf(code: string): string {
  return code
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, "_")
    .slice(0, 63);
}

function grpcStatusOf(rpcCode: number): number {
  switch (rpcCode) {
    case -32700:
    case -32600:
    case -32602:
      return GRPC_INVALID_ARGUMENT;
    case -32601:
      return GRPC_UNIMPLEMENTED;
    case -32009:
      return GRPC_FAILED_PRECONDITION;
    case -32603:
      return GRPC_INTERNAL;
    default:
      return GRPC_UNKNOWN;
  }
}

function failure(err: A2aError | A2aDenial): Failure {
  if (isDenial(err)) {
    const reasons = err.reasons.length > 0 ? [...err.reasons] : ["denied by policy"];
    const metadata: Record<string, string> = { reasons: JSON.stringify(reasons) };
    if (err.decisionId !== undefined) metadata.decision_id = err.decisionId;
    return {
      rpcCode: RPC_PERMISSION_DENIED,
      httpStatus: 403,
      message: `denied by policy: ${reasons.join("; ")}`,
      reason: DENIED_REASON,
      metadata,
      data: { reasons, ...(err.decisionId !== undefined ? { decision_id: err.decisionId } : {}) },
      grpcStatus: GRPC_PERMISSION_DENIED,
      decisionId: err.decisionId,
    };
  }
  const metadata: Record<string, string> = { code: err.code };
  if (err.path !== undefined) metadata.path = err.path;
  return {
    rpcCode: err.rpcCode,
    httpStatus: err.httpStatus,
    message: err.message,
    reason: reasonOf(err.code),
    metadata,
    data: { reason: err.code, ...(err.path !== undefined ? { path: err.path } : {}) },
    grpcStatus: grpcStatusOf(err.rpcCode),
    decisionId: undefined,
  };
}

function errorInfo(f: Failure): Record<string, unknown> {
  return { "@type": ERROR_INFO_TYPE, reason: f.reason, domain: ERROR_DOMAIN, metadata: f.metadata };
}

/** gRPC `grpc-message`: percent-encode `%` and bytes outside printable ASCII (gRPC over HTTP/2). */
export function encodeGrpcMessage(s: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(s)) {
    out +=
      b >= 0x20 && b <= 0x7e && b !== 0x25
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * The answer to send instead of forwarding the call. `call` gives the binding, version and JSON-RPC id
 * (an A2aCall, or the A2aRequestError itself); `err` is a protocol error or a policy denial.
 */
export function a2aErrorResponse(call: A2aErrorTarget, err: A2aError | A2aDenial): A2aErrorResponse {
  const f = failure(err);
  const headers: Record<string, string> = {};
  if (f.decisionId !== undefined) headers["x-hexr-decision-id"] = f.decisionId;
  const denied = f.rpcCode === RPC_PERMISSION_DENIED && f.reason === DENIED_REASON;

  if (call.binding === "grpc") {
    headers["content-type"] = "application/grpc";
    headers["grpc-status"] = String(f.grpcStatus);
    headers["grpc-message"] = encodeGrpcMessage(f.message);
    return { status: 200, headers, body: "" };
  }
  if (call.binding === "jsonrpc") {
    headers["content-type"] = "application/json";
    const data = call.version === "1.0" ? [errorInfo(f)] : f.data;
    const body = { jsonrpc: "2.0", id: call.jsonrpcId ?? null, error: { code: f.rpcCode, message: f.message, data } };
    return { status: denied ? 403 : 200, headers, body: JSON.stringify(body) };
  }
  // HTTP+JSON and the agent card fetch
  if (call.version === "1.0") {
    headers["content-type"] = "application/a2a+json";
    const status = STATUS_NAMES[f.httpStatus] ?? (f.httpStatus >= 500 ? "INTERNAL" : "UNKNOWN");
    const name = f.rpcCode === -32009 ? "FAILED_PRECONDITION" : status;
    const body = { error: { code: f.httpStatus, status: name, message: f.message, details: [errorInfo(f)] } };
    return { status: f.httpStatus, headers, body: JSON.stringify(body) };
  }
  headers["content-type"] = "application/json";
  return { status: f.httpStatus, headers, body: JSON.stringify({ code: f.rpcCode, message: f.message, data: f.data }) };
}

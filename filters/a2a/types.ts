/**
 * The A2A vocabulary shared by classification (ext_authz), validation (ext_proc), the policy input and
 * delegation chains. Method names are canonical v1.0 names whatever version or binding carried them, so
 * policies and metrics see one name per operation.
 */
import { HexrError } from "../errors.ts";

export type A2aVersion = "1.0" | "0.3";
export type A2aBinding = "jsonrpc" | "rest" | "grpc" | "agent_card";

/** v1.0 operation names (specification/a2a.proto, service A2AService), plus the public agent card fetch. */
export type A2aMethod =
  | "SendMessage"
  | "SendStreamingMessage"
  | "GetTask"
  | "ListTasks"
  | "CancelTask"
  | "SubscribeToTask"
  | "CreateTaskPushNotificationConfig"
  | "GetTaskPushNotificationConfig"
  | "ListTaskPushNotificationConfigs"
  | "DeleteTaskPushNotificationConfig"
  | "GetExtendedAgentCard"
  | "GetAgentCard";

/** One classified A2A request. */
export interface A2aCall {
  readonly version: A2aVersion;
  readonly binding: A2aBinding;
  readonly method: A2aMethod;
  /** As sent: `message/send`, `SendMessage`, `POST /message:send`, `/lf.a2a.v1.A2AService/SendMessage`. */
  readonly wireMethod: string;
  readonly taskId?: string;
  readonly contextId?: string;
  /** JSON-RPC request id (echoed in a JSON-RPC error answer); undefined for other bindings. */
  readonly jsonrpcId?: string | number | null;
  /** The answer is an SSE stream (SendStreamingMessage, SubscribeToTask). */
  readonly streaming: boolean;
}

/**
 * A request refused for protocol reasons, answered in the protocol's own error format (see errors.ts).
 * `code` is a JSON-RPC error code (-32700 parse error, -32600 invalid request, -32601 method not found,
 * -32602 invalid params, or an A2A-specific code); `httpStatus` is what the REST binding answers.
 * `path` is the JSON path of the offending field, when there is one.
 */
export class A2aError extends HexrError {
  readonly rpcCode: number;
  readonly httpStatus: number;
  readonly path: string | undefined;

  constructor(code: `a2a.${string}`, message: string, rpcCode: number, httpStatus: number, path?: string) {
    super(code, message);
    this.name = "A2aError";
    this.rpcCode = rpcCode;
    this.httpStatus = httpStatus;
    this.path = path;
  }
}

/** The policy's view of an inbound A2A call (`input.a2a`). */
export interface A2aPolicyInput {
  /** The verified mTLS peer (the calling agent). */
  readonly caller: string;
  /** This pod's agent. */
  readonly target: string;
  readonly method: A2aMethod;
  readonly task_id?: string;
  readonly context_id?: string;
  readonly version: A2aVersion;
  readonly binding: A2aBinding;
  /** Verified delegation chain, oldest first (SPIFFE IDs); empty for a direct call. */
  readonly chain: readonly string[];
}

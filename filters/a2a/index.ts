export * from "./types.ts";
export {
  A2aRequestError,
  AGENT_CARD_PATH,
  type A2aClassifyOptions,
  type A2aRequest,
  classifyA2a,
  GRPC_SERVICE_V03,
  GRPC_SERVICE_V1,
  RPC_INVALID_PARAMS,
  RPC_INVALID_REQUEST,
  RPC_METHOD_NOT_FOUND,
  RPC_PARSE_ERROR,
  RPC_VERSION_NOT_SUPPORTED,
} from "./classify.ts";
export {
  type A2aDenial,
  type A2aErrorResponse,
  type A2aErrorTarget,
  a2aErrorResponse,
  DENIED_REASON,
  ERROR_DOMAIN,
  encodeGrpcMessage,
  RPC_PERMISSION_DENIED,
} from "./errors.ts";

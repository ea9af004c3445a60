/**
 * ext_authz `Check` on the plain `node:http2` gRPC server (`../h2-grpc.ts`, with `grpc.health.v1`): the
 * `authz.listen.server: http2` option, the default for a Unix-socket listener. A CheckRequest the codec
 * refuses → INTERNAL; a response it cannot encode → INTERNAL. Envoy fails closed on every non-OK status.
 */
import type http2 from "node:http2";
import type { HealthService } from "../health.ts";
import { decoded, GRPC, GrpcFailure, H2GrpcServer, type H2GrpcServerOptions } from "../h2-grpc.ts";
import { decodeCheckRequest, encodeCheckResponse } from "./codec.ts";
import type { AuthzPipeline } from "./pipeline.ts";

export const CHECK_PATH = "/envoy.service.auth.v3.Authorization/Check";

const FAILED = new GrpcFailure(GRPC.INTERNAL, "authorization failed");

/** The response's bytes, or INTERNAL if it cannot be encoded (Envoy then fails closed); never a throw. */
function answer(response: Parameters<typeof encodeCheckResponse>[0]): Uint8Array | GrpcFailure {
  try {
    return encodeCheckResponse(response);
  } catch {
    return FAILED;
  }
}

export class H2CheckServer extends H2GrpcServer {
  constructor(pipeline: Pick<AuthzPipeline, "check">, health: HealthService, o: H2GrpcServerOptions = {}) {
    super(health, o);
    this.unary(CHECK_PATH, (message, headers) => check(pipeline, message, headers));
  }
}

function check(
  pipeline: Pick<AuthzPipeline, "check">,
  message: Buffer,
  headers: http2.IncomingHttpHeaders,
): Uint8Array | GrpcFailure | Promise<Uint8Array | GrpcFailure> {
  const request = decoded(decodeCheckRequest, message, "CheckRequest");
  if (request instanceof GrpcFailure) return request;
  const tp = headers.traceparent;
  const ts = headers.tracestate;
  const trace =
    typeof tp === "string" ? { traceparent: tp, ...(typeof ts === "string" ? { tracestate: ts } : {}) } : undefined;
  // pipeline.check never throws and its promise never rejects: every outcome is a CheckResponse
  const result = pipeline.check(request as never, trace);
  if (!(result instanceof Promise)) return answer(result);
  return result.then(answer, () => FAILED);
}

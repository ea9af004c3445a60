/**
 * Registers envoy.service.auth.v3.Authorization/Check on a gRPC server.
 *
 * The handler stays synchronous for Checks the pipeline answers synchronously (the mTLS-only hot path);
 * only Checks that carry a JWT-SVID wait for a promise.
 */
import type * as grpc from "@grpc/grpc-js";
import { GRPC } from "../h2-grpc.ts";
import { CodecError, decodeCheckRequest, encodeCheckResponse } from "./codec.ts";
import { peerSpiffeId } from "../workload-api/tls.ts";
import type { AuthzPipeline, CheckRequestLike } from "./pipeline.ts";
import type { CheckResponse } from "./response.ts";

export interface AuthzServiceOptions {
  /**
   * Callers allowed on TLS connections (exact SPIFFE IDs of the Envoys that may ask for decisions). Calls
   * over a Unix socket are not affected: there the socket's file permissions decide who may connect.
   */
  readonly allowedClients?: ReadonlySet<string>;
}

type CheckCall = grpc.ServerUnaryCall<CheckRequestLike, CheckResponse>;

function callerRefusal(call: CheckCall, allowed: ReadonlySet<string> | undefined): grpc.ServerErrorResponse | null {
  if (allowed === undefined) return null;
  // TLS listeners are bound with client certificates required (rejectUnauthorized), so every TLS call has
  // a verified peer certificate; calls without TLS came in over the Unix socket.
  const auth = call.getAuthContext();
  if (auth?.transportSecurityType !== "ssl") return null;
  const id = peerSpiffeId(call);
  if (id !== undefined && allowed.has(id)) return null;
  // Not a policy outcome but a caller that may not ask at all; Envoy fails closed on the error.
  return Object.assign(new Error("caller is not an allowed ext_authz client"), {
    code: GRPC.PERMISSION_DENIED,
  });
}

const notAClient = (): never => {
  throw new CodecError("this definition serves Check; clients use envoy-protos.ts authorizationService()");
};

/**
 * `envoy.service.auth.v3.Authorization` with the hand-written codec (`codec.ts`) instead of proto-loader's:
 * the Envoy proto closure is not loaded for it, and a Check is decoded in one pass into the plain object
 * the pipeline reads.
 */
export const AUTHZ_SERVICE: grpc.ServiceDefinition = {
  Check: {
    path: "/envoy.service.auth.v3.Authorization/Check",
    requestStream: false,
    responseStream: false,
    requestSerialize: notAClient,
    requestDeserialize: (b: Buffer) => decodeCheckRequest(b),
    responseSerialize: (r: CheckResponse) => encodeCheckResponse(r),
    responseDeserialize: notAClient,
    originalName: "check",
  },
};

export function addAuthzService(server: grpc.Server, pipeline: AuthzPipeline, opts: AuthzServiceOptions = {}): void {
  server.addService(AUTHZ_SERVICE, {
    Check(call: CheckCall, callback: grpc.sendUnaryData<CheckResponse>) {
      const refused = callerRefusal(call, opts.allowedClients);
      if (refused) return callback(refused);
      // Envoy's ext_authz span (when Envoy traces) comes as gRPC metadata: our decision span is its child
      const tp = call.metadata.get("traceparent")[0];
      const ts = call.metadata.get("tracestate")[0];
      const trace =
        typeof tp === "string" ? { traceparent: tp, ...(typeof ts === "string" ? { tracestate: ts } : {}) } : undefined;
      // pipeline.check never throws and its promise never rejects: every outcome is a CheckResponse
      const result = pipeline.check(call.request, trace);
      if (!(result instanceof Promise)) return callback(null, result);
      // Belt and braces: should the promise ever reject, answer with an error; Envoy then fails closed.
      result.then(
        (r) => callback(null, r),
        () => callback({ code: GRPC.INTERNAL, details: "authorization failed" }),
      );
    },
  });
}

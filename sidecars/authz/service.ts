/** Registers envoy.service.auth.v3.Authorization/Check on a gRPC server. */
import type * as grpc from "@grpc/grpc-js";
import { authorizationService } from "../envoy-protos.ts";
import type { AuthzPipeline, CheckRequestLike } from "./pipeline.ts";
import type { CheckResponse } from "./response.ts";

export function addAuthzService(server: grpc.Server, pipeline: AuthzPipeline): void {
  server.addService(authorizationService().service, {
    Check(call: grpc.ServerUnaryCall<CheckRequestLike, CheckResponse>, callback: grpc.sendUnaryData<CheckResponse>) {
      // pipeline.check never throws: every outcome, including internal errors, is a CheckResponse
      callback(null, pipeline.check(call.request));
    },
  });
}

/**
 * Envoy's API protos, loaded from the npm package that ships the whole envoy-api tree
 * (`@grpc/grpc-js-xds` deps/). Never vendored into this repository.
 */
import { createRequire } from "node:module";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const require = createRequire(import.meta.url);
const XDS_ROOT = path.dirname(require.resolve("@grpc/grpc-js-xds/package.json"));

/** Include dirs for proto-loader: envoy-api, xds (udpa/xds), googleapis, protoc-gen-validate. */
export const ENVOY_PROTO_INCLUDE_DIRS: readonly string[] = [
  "deps/envoy-api",
  "deps/xds",
  "deps/googleapis",
  "deps/protoc-gen-validate",
].map((d) => path.join(XDS_ROOT, d));

export const AUTH_PROTO = "envoy/service/auth/v3/external_auth.proto";
export const EXT_PROC_PROTO = "envoy/service/ext_proc/v3/external_processor.proto";
export const HEALTH_PROTO = path.join(
  path.dirname(new URL(import.meta.url).pathname),
  "..",
  "proto",
  "grpc",
  "health",
  "v1",
  "health.proto",
);

/** Options chosen so decoded messages are plain objects with stable field names and no Long objects. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [...ENVOY_PROTO_INCLUDE_DIRS],
};

let cached: grpc.GrpcObject | undefined;

/** Loads (once per process) the Envoy services this data plane serves. */
export function loadEnvoyServices(): grpc.GrpcObject {
  if (cached) return cached;
  const def = protoLoader.loadSync([AUTH_PROTO, EXT_PROC_PROTO], LOADER_OPTIONS);
  cached = grpc.loadPackageDefinition(def);
  return cached;
}

type Ctor = grpc.ServiceClientConstructor;

function lookup(root: grpc.GrpcObject, dotted: string): Ctor {
  let node: unknown = root;
  for (const part of dotted.split(".")) node = (node as Record<string, unknown>)[part];
  if (typeof node !== "function") throw new Error(`proto service ${dotted} not found`);
  return node as Ctor;
}

export function authorizationService(): Ctor {
  return lookup(loadEnvoyServices(), "envoy.service.auth.v3.Authorization");
}

export function externalProcessorService(): Ctor {
  return lookup(loadEnvoyServices(), "envoy.service.ext_proc.v3.ExternalProcessor");
}

/** Small builders shared by the templates: durations, addresses, typed configs, clusters. */
import { isIP } from "node:net";
import { CIRCUIT_BREAKER_LIMIT, LOCAL_CONNECT_TIMEOUT_MS, SPIRE_AGENT_CLUSTER } from "./defaults.ts";
import type { EnvoyCluster, GrpcTarget, Json, JsonObject, SocketAddress } from "./types.ts";

const TYPE_PREFIX = "type.googleapis.com/";

/** `{ "@type": ..., ...fields }` — Envoy's Any in JSON/YAML form. */
export function typed(typeName: string, fields: JsonObject = {}): JsonObject {
  return { "@type": TYPE_PREFIX + typeName, ...fields };
}

/** Milliseconds → protobuf Duration JSON (`250` → `"0.25s"`). */
export function duration(ms: number): string {
  return `${ms / 1000}s`;
}

export function socketAddress(a: SocketAddress): JsonObject {
  return { socket_address: { address: a.address, port_value: a.port } };
}

export function grpcTargetAddress(t: GrpcTarget): JsonObject {
  return t.socket !== undefined ? { pipe: { path: t.socket } } : socketAddress(t.tcp as SocketAddress);
}

function loadAssignment(clusterName: string, address: JsonObject): JsonObject {
  return { cluster_name: clusterName, endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }] };
}

/** Thresholds set high on purpose: the overload manager caps load, circuit breakers must not refuse first. */
export function openCircuitBreakers(): JsonObject {
  const t = {
    max_connections: CIRCUIT_BREAKER_LIMIT,
    max_pending_requests: CIRCUIT_BREAKER_LIMIT,
    max_requests: CIRCUIT_BREAKER_LIMIT,
    max_retries: 3,
  };
  return {
    thresholds: [
      { priority: "DEFAULT", ...t },
      { priority: "HIGH", ...t },
    ],
  };
}

/** Upstream protocol options that force HTTP/2 (gRPC services, SDS). */
export function http2Only(): JsonObject {
  return {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": typed(
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
      { explicit_http_config: { http2_protocol_options: {} } },
    ),
  };
}

/** A local gRPC service (authz, ext_proc) over a Unix socket or TCP, HTTP/2 only. */
export function grpcCluster(name: string, target: GrpcTarget): EnvoyCluster {
  return {
    name,
    type: target.socket !== undefined || isIP(target.tcp?.address ?? "") ? "STATIC" : "STRICT_DNS",
    connect_timeout: duration(LOCAL_CONNECT_TIMEOUT_MS),
    typed_extension_protocol_options: http2Only(),
    circuit_breakers: openCircuitBreakers(),
    load_assignment: loadAssignment(name, grpcTargetAddress(target)),
  };
}

/** The SPIRE agent's SDS endpoint (gRPC over its Unix socket). */
export function spireAgentCluster(sdsSocket: string): EnvoyCluster {
  return grpcCluster(SPIRE_AGENT_CLUSTER, { socket: sdsSocket });
}

/**
 * A plain upstream cluster. IP addresses are STATIC; host names LOGICAL_DNS (Envoy's recommendation for
 * large web services behind DNS, e.g. cloud and LLM APIs: one connection pool, follows DNS changes).
 */
export function upstreamCluster(
  name: string,
  a: SocketAddress,
  connectTimeoutMs: number,
  transportSocket?: JsonObject,
): EnvoyCluster {
  const ip = isIP(a.address) !== 0;
  const cluster: EnvoyCluster = {
    name,
    type: ip ? "STATIC" : "LOGICAL_DNS",
    connect_timeout: duration(connectTimeoutMs),
    circuit_breakers: openCircuitBreakers(),
    load_assignment: loadAssignment(name, socketAddress(a)),
  };
  if (!ip) cluster.dns_lookup_family = "V4_PREFERRED";
  if (transportSocket) cluster.transport_socket = transportSocket;
  return cluster;
}

/** Drops `undefined` members so rendered objects serialize cleanly (YAML and JSON alike). */
export function compact<T extends Record<string, Json | undefined>>(o: T): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

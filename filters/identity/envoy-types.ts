/**
 * Minimal shapes of `envoy.service.auth.v3.AttributeContext` (envoy/service/auth/v3/attribute_context.proto)
 * as decoded by @grpc/proto-loader with `keepCase: true`: plain objects, snake_case field names, maps as
 * records. Only the fields the data plane reads are listed; everything is optional because proto3 decoding
 * without `defaults: true` leaves unset fields out. 64-bit integers arrive as strings or numbers depending on
 * the loader's `longs` option.
 */

/** `envoy.config.core.v3.SocketAddress` (subset). */
export interface EnvoySocketAddress {
  readonly address?: string;
  readonly port_value?: number;
}

/** `envoy.config.core.v3.Address` (subset). */
export interface EnvoyAddress {
  readonly socket_address?: EnvoySocketAddress;
}

/** `AttributeContext.Peer`: the source or destination of the connection. */
export interface CheckPeer {
  readonly address?: EnvoyAddress;
  readonly service?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Identity Envoy authenticated for the peer: for mTLS the first URI SAN of the peer certificate (else a
   * DNS SAN or the subject). Empty when the connection is not mTLS.
   */
  readonly principal?: string;
  /** Peer certificate, URL-encoded PEM; set only with `include_peer_certificate: true`. */
  readonly certificate?: string;
}

/** `envoy.config.core.v3.HeaderValue`, used by `header_map` when Envoy's `encode_raw_headers` is on. */
export interface EnvoyHeaderValue {
  readonly key: string;
  readonly value?: string;
  readonly raw_value?: Uint8Array;
}

/** `AttributeContext.HttpRequest` (subset). Header names are lowercase. */
export interface CheckHttpRequest {
  readonly id?: string;
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly header_map?: { readonly headers?: readonly EnvoyHeaderValue[] };
  readonly path?: string;
  readonly host?: string;
  readonly scheme?: string;
  readonly query?: string;
  readonly fragment?: string;
  readonly size?: string | number;
  readonly protocol?: string;
  readonly body?: string;
  readonly raw_body?: Uint8Array;
}

/** `google.protobuf.Timestamp`. */
export interface ProtoTimestamp {
  readonly seconds?: string | number;
  readonly nanos?: number;
}

/** `AttributeContext.Request`. */
export interface CheckRequestInfo {
  readonly time?: ProtoTimestamp;
  readonly http?: CheckHttpRequest;
}

/** `AttributeContext.TLSSession`. */
export interface CheckTlsSession {
  readonly sni?: string;
}

/** `envoy.service.auth.v3.AttributeContext` (subset). */
export interface CheckAttributes {
  readonly source?: CheckPeer;
  readonly destination?: CheckPeer;
  readonly request?: CheckRequestInfo;
  readonly context_extensions?: Readonly<Record<string, string>>;
  readonly tls_session?: CheckTlsSession;
}

/** `envoy.service.auth.v3.CheckRequest`. */
export interface CheckRequest {
  readonly attributes?: CheckAttributes;
}

/**
 * Checks template options once, before rendering: the renderers call it on typed input, and
 * `hexr envoy render --options` on parsed YAML/JSON. Every error names the option
 * (`upstreams[1].port: must be an integer in 0..65535`) and unknown keys are rejected, so a typo
 * fails here instead of silently rendering a default.
 *
 * @example
 *   const opts = checkSidecarOptions(parseYaml(text), "envoy.yaml");
 */
import { HexrError } from "../filters/errors.ts";
import {
  DEFAULT_AUTHZ_CLUSTER,
  DEFAULT_EXT_PROC_CLUSTER,
  LOCAL_AGENT_CLUSTER,
  SPIRE_AGENT_CLUSTER,
  MAX_CONNECTION_DURATION_RANGE_MS,
} from "./defaults.ts";
import type {
  AuthzOptions,
  BodyMode,
  ExtProcOptions,
  IstioSnippetOptions,
  SidecarEnvoyOptions,
  SidecarTls,
} from "./types.ts";

type Obj = Record<string, unknown>;

const NAME_RE = /^[A-Za-z0-9_.-]{1,100}$/;
const TRUST_DOMAIN_RE = /^[a-z0-9._-]{1,255}$/;
const BODY_MODES: readonly BodyMode[] = ["NONE", "STREAMED", "BUFFERED", "BUFFERED_PARTIAL", "FULL_DUPLEX_STREAMED"];
const MAX_TIMEOUT_MS = 3_600_000;
/** Bodies ext_authz may buffer for a signature; Envoy holds them in memory per request. */
const MAX_AUTHZ_BODY_BYTES = 8 * 1024 * 1024;
const RESERVED_NAMES = [
  DEFAULT_AUTHZ_CLUSTER,
  DEFAULT_EXT_PROC_CLUSTER,
  SPIRE_AGENT_CLUSTER,
  LOCAL_AGENT_CLUSTER,
  "hexr_otlp",
  "deny_unknown_hosts",
];

function fail(field: string, msg: string): never {
  throw new HexrError("config.invalid", `${field}: ${msg}`);
}

function obj(v: unknown, field: string, allowed: readonly string[]): Obj {
  if (v === null || typeof v !== "object" || Array.isArray(v)) fail(field, "must be a mapping");
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) fail(`${field}.${k}`, `unknown option (allowed: ${allowed.join(", ")})`);
  }
  return v as Obj;
}

function str(v: unknown, field: string, re?: RegExp): string {
  if (typeof v !== "string" || v.length === 0) fail(field, "must be a non-empty string");
  if (re && !re.test(v)) fail(field, `must match ${re.source}`);
  return v;
}

function optStr(v: unknown, field: string, re?: RegExp): void {
  if (v !== undefined) str(v, field, re);
}

function int(v: unknown, field: string, min: number, max: number): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    fail(field, `must be an integer in ${min}..${max}`);
}

function optInt(v: unknown, field: string, min: number, max: number): void {
  if (v !== undefined) int(v, field, min, max);
}

function list(v: unknown, field: string, minItems: number): unknown[] {
  if (!Array.isArray(v) || v.length < minItems)
    fail(field, minItems > 0 ? "must be a non-empty list" : "must be a list");
  return v;
}

function strList(v: unknown, field: string, minItems: number, re?: RegExp): string[] {
  return list(v, field, minItems).map((s, i) => str(s, `${field}[${i}]`, re));
}

function oneOf<T extends string | number>(v: unknown, field: string, allowed: readonly T[]): void {
  if (v !== undefined && !allowed.includes(v as T)) fail(field, `must be one of ${allowed.join(", ")}`);
}

function neverAllow(v: unknown, field: string): void {
  if (v !== undefined && v !== false) fail(field, "only false is supported: the data plane fails closed");
}

function address(v: unknown, field: string, extra: readonly string[] = []): Obj {
  const o = obj(v, field, ["address", "port", ...extra]);
  str(o.address, `${field}.address`);
  int(o.port, `${field}.port`, 0, 65535);
  return o;
}

function grpcTarget(o: Obj, field: string): void {
  optStr(o.socket, `${field}.socket`);
  if (o.tcp !== undefined) address(o.tcp, `${field}.tcp`);
  if ((o.socket === undefined) === (o.tcp === undefined)) fail(field, "needs exactly one of socket, tcp");
  optStr(o.clusterName, `${field}.clusterName`, NAME_RE);
}

function peerPrefixes(v: unknown, field: string): void {
  if (v === undefined) return;
  strList(v, field, 1).forEach((p, i) => {
    if (!p.startsWith("spiffe://")) fail(`${field}[${i}]`, "must start with spiffe://");
  });
}

function routeExtProc(v: unknown, field: string): void {
  if (v === undefined || v === "off") return;
  const o = obj(v, field, ["requestBody", "responseBody", "metadata"]);
  oneOf(o.requestBody, `${field}.requestBody`, BODY_MODES);
  oneOf(o.responseBody, `${field}.responseBody`, BODY_MODES);
  // the Hexr processors read a request body whole; a duplex response needs it buffered statically (no
  // mode_override may be sent there: it would replace the response's mode)
  if (o.requestBody === "FULL_DUPLEX_STREAMED")
    fail(`${field}.requestBody`, "FULL_DUPLEX_STREAMED is not served: request bodies are read whole (BUFFERED)");
  if (o.responseBody === "FULL_DUPLEX_STREAMED" && o.requestBody !== "BUFFERED")
    fail(`${field}.requestBody`, "must be BUFFERED with responseBody FULL_DUPLEX_STREAMED");
  if (o.metadata !== undefined) {
    for (const [k, val] of Object.entries(obj(o.metadata, `${field}.metadata`, Object.keys(o.metadata as object)))) {
      if (!/^[a-z0-9-]+$/.test(k)) fail(`${field}.metadata.${k}`, "gRPC metadata keys are lowercase a-z, 0-9 and -");
      str(val, `${field}.metadata.${k}`);
    }
  }
}

function tls(v: unknown, field: string): SidecarTls {
  const mode = (v as Obj | null)?.mode;
  if (mode === "files") {
    const o = obj(v, field, ["mode", "certChain", "privateKey", "clientCa", "trustDomain"]);
    for (const k of ["certChain", "privateKey", "clientCa"]) str(o[k], `${field}.${k}`);
    optStr(o.trustDomain, `${field}.trustDomain`, TRUST_DOMAIN_RE);
  } else if (mode === "spire") {
    const o = obj(v, field, [
      "mode",
      "sdsSocket",
      "spiffeId",
      "trustDomain",
      "federatedTrustDomains",
      "sdsRetryBackoff",
    ]);
    str(o.sdsSocket, `${field}.sdsSocket`);
    const id = str(o.spiffeId, `${field}.spiffeId`);
    if (id !== "default" && !id.startsWith("spiffe://"))
      fail(`${field}.spiffeId`, 'must be a spiffe:// ID or "default"');
    str(o.trustDomain, `${field}.trustDomain`, TRUST_DOMAIN_RE);
    if (o.federatedTrustDomains !== undefined)
      strList(o.federatedTrustDomains, `${field}.federatedTrustDomains`, 0, TRUST_DOMAIN_RE);
    if (o.sdsRetryBackoff !== undefined) {
      const f = `${field}.sdsRetryBackoff`;
      const b = obj(o.sdsRetryBackoff, f, ["baseMs", "maxMs"]);
      int(b.baseMs, `${f}.baseMs`, 1, MAX_TIMEOUT_MS);
      int(b.maxMs, `${f}.maxMs`, 1, MAX_TIMEOUT_MS);
      if ((b.maxMs as number) < (b.baseMs as number)) fail(`${f}.maxMs`, "must be >= baseMs");
    }
  } else {
    fail(`${field}.mode`, "must be files or spire");
  }
  return v as SidecarTls;
}

/** Validates options (typed or parsed from a file) and returns them typed. Throws HexrError `config.invalid`. */
export function checkSidecarOptions(raw: unknown, source = "options"): SidecarEnvoyOptions {
  const root = obj(raw, source, [
    "node",
    "admin",
    "tls",
    "outbound",
    "outboundJwt",
    "inbound",
    "authz",
    "extProc",
    "upstreams",
    "http",
    "maxConnections",
    "concurrency",
    "accessLog",
    "tracing",
    "istio",
  ]);
  if (root.node !== undefined) {
    const n = obj(root.node, "node", ["id", "cluster"]);
    str(n.id, "node.id");
    str(n.cluster, "node.cluster");
  }
  if (root.admin !== undefined) address(root.admin, "admin");
  const t = tls(root.tls, "tls");
  const outbound = address(root.outbound, "outbound", ["allowedPeerPrefixes"]);
  peerPrefixes(outbound.allowedPeerPrefixes, "outbound.allowedPeerPrefixes");
  if (root.outboundJwt !== undefined) address(root.outboundJwt, "outboundJwt");

  if (root.inbound !== undefined) {
    const i = address(root.inbound, "inbound", [
      "app",
      "allowedPeerPrefixes",
      "timeoutMs",
      "extProc",
      "authzBodyBytes",
    ]);
    address(i.app, "inbound.app");
    peerPrefixes(i.allowedPeerPrefixes, "inbound.allowedPeerPrefixes");
    if (i.allowedPeerPrefixes === undefined && t.mode === "files" && t.trustDomain === undefined) {
      fail(
        "inbound.allowedPeerPrefixes",
        "required when tls.mode is files without tls.trustDomain (peer IDs must be checked)",
      );
    }
    optInt(i.authzBodyBytes, "inbound.authzBodyBytes", 1, MAX_AUTHZ_BODY_BYTES);
    optInt(i.timeoutMs, "inbound.timeoutMs", 0, MAX_TIMEOUT_MS);
    routeExtProc(i.extProc, "inbound.extProc");
  }

  const authz = checkAuthzOptions(root.authz, "authz");
  if (authz.tls !== undefined && t.mode === "files" && t.trustDomain === undefined) {
    fail("authz.tls", "needs tls.mode spire, or files with tls.trustDomain (the server's SPIFFE ID is checked)");
  }
  const reserved = [...RESERVED_NAMES, authz.clusterName ?? DEFAULT_AUTHZ_CLUSTER];
  if (root.extProc !== undefined) {
    const e = checkExtProcOptions(root.extProc, "extProc");
    const name = e.clusterName ?? DEFAULT_EXT_PROC_CLUSTER;
    if (name === (authz.clusterName ?? DEFAULT_AUTHZ_CLUSTER))
      fail("extProc.clusterName", "must differ from authz.clusterName");
    reserved.push(name);
  }

  const names = new Set<string>();
  list(root.upstreams, "upstreams", 0).forEach((u, i) => {
    const f = `upstreams[${i}]`;
    const o = address(u, f, ["name", "domains", "tls", "timeoutMs", "extProc", "authzBodyBytes", "a2aTarget"]);
    const name = str(o.name, `${f}.name`, NAME_RE);
    if (names.has(name)) fail(`${f}.name`, `duplicate upstream name ${name}`);
    if (reserved.includes(name)) fail(`${f}.name`, `${name} is reserved for an internal cluster`);
    names.add(name);
    strList(o.domains, `${f}.domains`, 1).forEach((d, j) => {
      if (d === "*") fail(`${f}.domains[${j}]`, '"*" would make an open proxy; unknown hosts always get 404');
    });
    if (o.tls !== undefined) {
      const mode = (o.tls as Obj | null)?.mode;
      if (mode === "spiffe") {
        const ut = obj(o.tls, `${f}.tls`, ["mode", "sni", "peerIdPrefixes"]);
        optStr(ut.sni, `${f}.tls.sni`);
        peerPrefixes(ut.peerIdPrefixes, `${f}.tls.peerIdPrefixes`);
        if (ut.peerIdPrefixes === undefined) fail(`${f}.tls.peerIdPrefixes`, "required for spiffe upstreams");
      } else {
        const ut = obj(o.tls, `${f}.tls`, ["mode", "sni", "caFile"]);
        oneOf(ut.mode, `${f}.tls.mode`, ["public", "spiffe"]);
        str(ut.sni, `${f}.tls.sni`);
        optStr(ut.caFile, `${f}.tls.caFile`);
      }
    }
    optInt(o.timeoutMs, `${f}.timeoutMs`, 0, MAX_TIMEOUT_MS);
    routeExtProc(o.extProc, `${f}.extProc`);
    optInt(o.authzBodyBytes, `${f}.authzBodyBytes`, 1, MAX_AUTHZ_BODY_BYTES);
    if (o.a2aTarget !== undefined) {
      const t = str(o.a2aTarget, `${f}.a2aTarget`);
      if (!t.startsWith("spiffe://")) fail(`${f}.a2aTarget`, "must be the target agent's SPIFFE ID");
    }
  });

  if (root.tracing !== undefined) {
    const tr = obj(root.tracing, "tracing", ["collector", "serviceName", "samplingPercent", "flushIntervalMs"]);
    address(tr.collector, "tracing.collector");
    optInt(tr.flushIntervalMs, "tracing.flushIntervalMs", 100, 60_000);
    optStr(tr.serviceName, "tracing.serviceName");
    if (tr.samplingPercent !== undefined) {
      const p = tr.samplingPercent;
      if (typeof p !== "number" || !(p >= 0 && p <= 100)) fail("tracing.samplingPercent", "must be a number in 0..100");
    }
  }

  if (root.http !== undefined) {
    const h = obj(root.http, "http", ["maxRequestHeadersKb", "escapedSlashes", "maxConnectionDurationMs"]);
    optInt(h.maxRequestHeadersKb, "http.maxRequestHeadersKb", 1, 8192);
    optInt(
      h.maxConnectionDurationMs,
      "http.maxConnectionDurationMs",
      MAX_CONNECTION_DURATION_RANGE_MS.min,
      MAX_CONNECTION_DURATION_RANGE_MS.max,
    );
    oneOf(h.escapedSlashes, "http.escapedSlashes", ["REJECT_REQUEST", "UNESCAPE_AND_REDIRECT"]);
  }
  optInt(root.maxConnections, "maxConnections", 1, 10_000_000);
  optInt(root.concurrency, "concurrency", 1, 1024);
  if (root.accessLog !== undefined && typeof root.accessLog !== "boolean") fail("accessLog", "must be true or false");
  if (root.istio !== undefined) checkIstioOptions(root.istio, "istio");
  return raw as SidecarEnvoyOptions;
}

/** Checks ext_authz options on their own (also used by the snippets). */
export function checkAuthzOptions(raw: unknown, field = "authz"): AuthzOptions {
  const o = obj(raw, field, ["socket", "tcp", "timeoutMs", "failureModeAllow", "statusOnError", "clusterName", "tls"]);
  grpcTarget(o, field);
  if (o.tls !== undefined) {
    const t = obj(o.tls, `${field}.tls`, ["serverIds"]);
    strList(t.serverIds, `${field}.tls.serverIds`, 1).forEach((id, i) => {
      if (!id.startsWith("spiffe://")) fail(`${field}.tls.serverIds[${i}]`, "must start with spiffe://");
    });
    if (o.tcp === undefined) fail(`${field}.tls`, "only applies to a tcp target (a Unix socket needs no TLS)");
  }
  optInt(o.timeoutMs, `${field}.timeoutMs`, 1, 60_000);
  neverAllow(o.failureModeAllow, `${field}.failureModeAllow`);
  oneOf(o.statusOnError, `${field}.statusOnError`, [403, 503]);
  return raw as AuthzOptions;
}

/** Checks ext_proc options on their own (also used by the snippets). */
export function checkExtProcOptions(raw: unknown, field = "extProc"): ExtProcOptions {
  const o = obj(raw, field, [
    "socket",
    "tcp",
    "messageTimeoutMs",
    "maxMessageTimeoutMs",
    "failureModeAllow",
    "clusterName",
  ]);
  grpcTarget(o, field);
  optInt(o.messageTimeoutMs, `${field}.messageTimeoutMs`, 1, MAX_TIMEOUT_MS);
  optInt(o.maxMessageTimeoutMs, `${field}.maxMessageTimeoutMs`, 1, MAX_TIMEOUT_MS);
  neverAllow(o.failureModeAllow, `${field}.failureModeAllow`);
  return raw as ExtProcOptions;
}

/** Checks the sidecar identity options on their own (also used by the snippets). */
export function checkTlsOptions(raw: unknown, field = "tls"): SidecarTls {
  return tls(raw, field);
}

/** DNS-1123 label: Kubernetes namespace and volume names. */
const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A DNS host name (the ServiceEntry host): labels of letters, digits and `-`, dot-separated, no wildcard. */
const HOST_RE = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$/;
/** Kubernetes label keys (optional DNS prefix + name) and values. */
const LABEL_KEY_RE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Checks the `istio` snippet's options on their own. */
export function checkIstioOptions(raw: unknown, field = "istio"): IstioSnippetOptions {
  const o = obj(raw, field, [
    "namespace",
    "providerName",
    "authzHost",
    "authzPort",
    "selector",
    "socketVolume",
    "inboundAuthzBodyBytes",
  ]);
  optStr(o.namespace, `${field}.namespace`, DNS_LABEL_RE);
  optStr(o.providerName, `${field}.providerName`, DNS_LABEL_RE);
  optStr(o.authzHost, `${field}.authzHost`, HOST_RE);
  optInt(o.authzPort, `${field}.authzPort`, 1, 65535);
  optStr(o.socketVolume, `${field}.socketVolume`, DNS_LABEL_RE);
  optInt(o.inboundAuthzBodyBytes, `${field}.inboundAuthzBodyBytes`, 1, MAX_AUTHZ_BODY_BYTES);
  if (o.selector !== undefined) {
    const sel = obj(o.selector, `${field}.selector`, Object.keys(o.selector ?? {}));
    for (const [k, v] of Object.entries(sel)) {
      if (k.length > 253 + 63 || !LABEL_KEY_RE.test(k)) fail(`${field}.selector.${k}`, "is not a Kubernetes label key");
      if (typeof v !== "string" || !LABEL_VALUE_RE.test(v))
        fail(`${field}.selector.${k}`, "must be a Kubernetes label value (a string, no wildcard)");
    }
  }
  return raw as IstioSnippetOptions;
}

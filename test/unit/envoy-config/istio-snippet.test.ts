/**
 * The `istio` snippet against Istio's own definitions, as setup.sh copies them from the Go module
 * istio.io/api (`$HEXR_ISTIO_CRDS`, and the protos next to it):
 *
 * - each Kubernetes document against the `openAPIV3Schema` of its CRD version, with ajv. Structural schemas
 *   say nothing about unknown fields, the API server prunes or (kubectl's default, strict field validation)
 *   rejects them: so every object schema gets `additionalProperties: false` unless it keeps unknown fields
 *   (`x-kubernetes-preserve-unknown-fields`, as EnvoyFilter's patch `value` does). `x-kubernetes-int-or-string`
 *   and `x-kubernetes-list-type` are enforced; the CEL rules (`x-kubernetes-validations`) are not, a real
 *   API server (`kubectl apply --dry-run=server`) evaluates them. apiVersion/kind/metadata are Kubernetes'
 *   own (a subset of ObjectMeta here), not in the CRD schema;
 * - the MeshConfig fragment and the `proxy.istio.io/config` annotation against `mesh/v1alpha1/*.proto`
 *   (istio.mesh.v1alpha1.MeshConfig / ProxyConfig), by the proto3 JSON mapping, unknown fields rejected;
 * - the Envoy config inside the EnvoyFilters with the real Envoy (the CRD keeps patch values as-is).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  defaultSidecarOptions,
  embedSnippet,
  findEnvoy,
  type HttpFilterSnippet,
  ISTIO_API_VERSION,
  type IstioSnippet,
  type JsonObject,
  renderIstioSnippet,
  renderSnippet,
  renderSnippetYaml,
  validateWithEnvoy,
} from "../../../envoy-config/index.ts";
import envoy from "../../../sidecars/cli/envoy.ts";
import { dig } from "./dig.ts";

type Schema = Record<string, unknown>;

const SNIPPET_FILE = path.resolve(import.meta.dirname, "../../../envoy-config/snippets/istio.yaml");

function crdFile(): string {
  const f = process.env.HEXR_ISTIO_CRDS;
  if (!f || !existsSync(f)) {
    throw new Error(
      "HEXR_ISTIO_CRDS is not set or missing: run scripts/setup.sh and `source ~/.cache/hexr/tools/env.sh`",
    );
  }
  return f;
}

// --- Kubernetes structural schema → JSON Schema ----------------------------------------------------------

const K8S_ANNOTATIONS = ["x-kubernetes-validations", "x-kubernetes-list-map-keys", "x-kubernetes-map-type"];
let celRules = 0;

/** A Kubernetes structural schema as the API server applies it (see the file comment). */
function strictSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strictSchema);
  if (node === null || typeof node !== "object") return node;
  const out: Schema = {};
  for (const [k, v] of Object.entries(node as Schema)) {
    if (k === "properties") {
      out[k] = Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, strictSchema(s)]));
    } else if (k === "x-kubernetes-embedded-resource") {
      throw new Error("x-kubernetes-embedded-resource is not handled by this test");
    } else {
      out[k] = strictSchema(v);
    }
  }
  if (Array.isArray(out["x-kubernetes-validations"])) celRules += out["x-kubernetes-validations"].length;
  if (out["x-kubernetes-int-or-string"] === true && out.type === undefined && out.anyOf === undefined) {
    out.anyOf = [{ type: "integer" }, { type: "string" }];
  }
  if (out.nullable === true) {
    out.type = [out.type, "null"];
    delete out.nullable;
  }
  if (out.type === "object" && out["x-kubernetes-preserve-unknown-fields"] !== true) {
    out.additionalProperties ??= false;
  }
  return out;
}

/** The part of ObjectMeta these documents use: name and namespace as the API server checks them. */
const OBJECT_META: Schema = {
  type: "object",
  required: ["name"],
  additionalProperties: false,
  properties: {
    name: {
      type: "string",
      maxLength: 253,
      pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    },
    namespace: { type: "string", maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" },
    labels: { type: "object", additionalProperties: { type: "string" } },
    annotations: { type: "object", additionalProperties: { type: "string" } },
  },
};

function newAjv(): Ajv {
  const ajv = new Ajv({ strict: true, strictTypes: false, strictRequired: false, allErrors: true });
  for (const keyword of K8S_ANNOTATIONS) ajv.addKeyword({ keyword });
  ajv.addKeyword({ keyword: "x-kubernetes-preserve-unknown-fields", schemaType: "boolean" });
  ajv.addKeyword({ keyword: "x-kubernetes-int-or-string", schemaType: "boolean" });
  ajv.addKeyword({
    keyword: "x-kubernetes-list-type",
    schemaType: "string",
    type: "array",
    validate: function listType(kind: string, data: unknown[], parent?: Schema): boolean {
      if (kind === "atomic") return true;
      const keys = (parent?.["x-kubernetes-list-map-keys"] as string[] | undefined) ?? [];
      const id = (x: unknown) =>
        JSON.stringify(kind === "map" ? keys.map((k) => (x as Record<string, unknown>)[k]) : x);
      return new Set(data.map(id)).size === data.length;
    },
  });
  ajv.addFormat("int32", { type: "number", validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat("int64", { type: "number", validate: (n) => Number.isInteger(n) });
  ajv.addFormat("double", { type: "number", validate: () => true });
  ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);
  return ajv;
}

interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string };
    versions: { name: string; served: boolean; schema: { openAPIV3Schema: Schema } }[];
  };
}

/** One schema per `group/version` + kind, from the CRD file (compiled when first used). */
function loadSchemas(): Map<string, Schema> {
  const out = new Map<string, Schema>();
  const crds = parseAllDocuments(readFileSync(crdFile(), "utf8"))
    .map((d) => d.toJS() as Crd | null)
    .filter((d): d is Crd => d !== null);
  for (const crd of crds) {
    for (const v of crd.spec.versions) {
      if (!v.served) continue;
      const apiVersion = `${crd.spec.group}/${v.name}`;
      const kind = crd.spec.names.kind;
      const schema = strictSchema(v.schema.openAPIV3Schema) as Schema;
      schema.properties = {
        apiVersion: { const: apiVersion },
        kind: { const: kind },
        metadata: OBJECT_META,
        ...(schema.properties as Schema),
      };
      schema.required = ["apiVersion", "kind", "metadata", "spec"];
      out.set(`${apiVersion}/${kind}`, schema);
    }
  }
  return out;
}

let schemas: Map<string, Schema>;
const ajv = newAjv();
const compiled = new Map<string, ValidateFunction>();

/** Errors of one Kubernetes document against its CRD (none: valid); throws for a kind with no CRD. */
function crdErrors(doc: JsonObject): ErrorObject[] {
  const key = `${doc.apiVersion}/${doc.kind}`;
  const schema = schemas.get(key);
  if (!schema) throw new Error(`no served CRD version for ${doc.apiVersion} ${doc.kind}`);
  const v = compiled.get(key) ?? ajv.compile(schema);
  compiled.set(key, v);
  return v(doc) ? [] : (v.errors ?? []);
}

const summary = (errors: ErrorObject[]) => errors.map((e) => `${e.instancePath} ${e.message}`).join("; ");

// --- proto3 JSON mapping against Istio's MeshConfig protos -------------------------------------------------

/** The parts of protobufjs reflection used here (proto-loader's own copy, loaded through it). */
interface PbField {
  name: string;
  type: string;
  repeated: boolean;
  map: boolean;
  resolvedType: PbType | PbEnum | null;
  partOf: { name: string } | null;
}
interface PbType {
  fullName: string;
  fieldsArray: PbField[];
  resolveAll(): PbType;
}
interface PbEnum {
  values: Record<string, number>;
}
interface PbRoot {
  resolvePath: (origin: string, target: string) => string;
  loadSync(file: string, opts: { keepCase: boolean }): PbRoot;
  resolveAll(): PbRoot;
  lookupType(name: string): PbType;
}

function loadMeshProtos(): PbRoot {
  const require = createRequire(import.meta.url);
  const pb = createRequire(require.resolve("@grpc/proto-loader"))("protobufjs") as { Root: new () => PbRoot };
  const dir = path.join(path.dirname(crdFile()), "protos");
  const root = new pb.Root();
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(dir, target));
  return root.loadSync("mesh/v1alpha1/config.proto", { keepCase: true }).resolveAll();
}

const INTEGER = new Set(["int32", "uint32", "sint32", "fixed32", "sfixed32"]);
const INT64 = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);
const WRAPPERS: Record<string, string> = {
  "google.protobuf.BoolValue": "bool",
  "google.protobuf.StringValue": "string",
  "google.protobuf.UInt32Value": "uint32",
  "google.protobuf.Int32Value": "int32",
  "google.protobuf.DoubleValue": "double",
};
const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Problems of `value` as the proto3 JSON of `type` (none: valid). Unknown fields are problems. */
function protoJsonErrors(type: PbType, value: unknown, at: string): string[] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [`${at}: must be an object`];
  const errs: string[] = [];
  const oneofs = new Map<string, string>();
  for (const [key, v] of Object.entries(value)) {
    const f = type.fieldsArray.find((x) => camel(x.name) === key || x.name === key);
    if (!f) {
      errs.push(`${at}.${key}: unknown field of ${type.fullName}`);
      continue;
    }
    if (f.partOf) {
      const other = oneofs.get(f.partOf.name);
      if (other) errs.push(`${at}.${key}: oneof ${f.partOf.name} already set by ${other}`);
      oneofs.set(f.partOf.name, key);
    }
    if (f.map) {
      if (v === null || typeof v !== "object" || Array.isArray(v)) errs.push(`${at}.${key}: must be a map`);
      else for (const [mk, mv] of Object.entries(v)) errs.push(...fieldErrors(f, mv, `${at}.${key}.${mk}`));
    } else if (f.repeated) {
      if (!Array.isArray(v)) errs.push(`${at}.${key}: must be a list`);
      else for (const [i, item] of v.entries()) errs.push(...fieldErrors(f, item, `${at}.${key}[${i}]`));
    } else {
      errs.push(...fieldErrors(f, v, `${at}.${key}`));
    }
  }
  return errs;
}

function scalarErrors(kind: string, v: unknown, at: string): string[] {
  const ok =
    kind === "string"
      ? typeof v === "string"
      : kind === "bool"
        ? typeof v === "boolean"
        : INTEGER.has(kind)
          ? Number.isInteger(typeof v === "string" ? Number(v) : v) && !(kind.startsWith("u") && Number(v) < 0)
          : INT64.has(kind)
            ? /^-?\d+$/.test(String(v))
            : kind === "double" || kind === "float"
              ? typeof v === "number"
              : kind === "bytes"
                ? typeof v === "string"
                : false;
  return ok ? [] : [`${at}: not a proto3 JSON ${kind}: ${JSON.stringify(v)}`];
}

function fieldErrors(f: PbField, v: unknown, at: string): string[] {
  const t = f.resolvedType;
  if (t === null) return scalarErrors(f.type, v, at);
  if ("values" in t) {
    return typeof v === "string" && v in t.values ? [] : [`${at}: not a value of enum ${f.type}: ${JSON.stringify(v)}`];
  }
  const wrapped = WRAPPERS[t.fullName.slice(1)];
  if (wrapped) return scalarErrors(wrapped, v, at);
  switch (t.fullName.slice(1)) {
    case "google.protobuf.Duration":
      return typeof v === "string" && /^-?\d+(\.\d{1,9})?s$/.test(v) ? [] : [`${at}: not a Duration: ${v}`];
    case "google.protobuf.Struct":
      return v !== null && typeof v === "object" && !Array.isArray(v) ? [] : [`${at}: not a Struct`];
    case "google.protobuf.Value":
      return [];
    default:
      return protoJsonErrors(t, v, at);
  }
}

// --- the tests -------------------------------------------------------------------------------------------

let snippet: IstioSnippet;
let root: PbRoot;

beforeAll(() => {
  schemas = loadSchemas();
  root = loadMeshProtos();
  snippet = renderIstioSnippet();
});

const byKind = (s: IstioSnippet, kind: string, name?: string): JsonObject => {
  const r = s.resources.find((x) => x.kind === kind && (name === undefined || dig(x, "metadata", "name") === name));
  if (!r) throw new Error(`no ${kind} ${name ?? ""}`);
  return structuredClone(r);
};

describe("the Istio definitions setup.sh copied", () => {
  it(`come from istio.io/api ${ISTIO_API_VERSION}, the version the snippet names`, () => {
    const recipe = readFileSync(path.join(path.dirname(crdFile()), ".recipe"), "utf8");
    expect(recipe).toContain(`istio.io/api@${ISTIO_API_VERSION} `);
  });

  it("hold a schema for each kind the snippet renders, and CEL rules this test leaves to the API server", () => {
    for (const r of snippet.resources) expect(schemas.has(`${r.apiVersion}/${r.kind}`)).toBe(true);
    expect(celRules).toBeGreaterThan(0);
  });
});

describe("istio snippet: Kubernetes documents against Istio's CRD schemas", () => {
  it.each([
    ["defaults", () => renderIstioSnippet()],
    [
      "options from a file: namespace-wide, other names and ports",
      () =>
        renderSnippet("istio", {
          ...defaultSidecarOptions(),
          authz: { socket: "/var/run/hexr/a.sock", timeoutMs: 400, statusOnError: 503 },
          extProc: { socket: "/var/run/hexr/p.sock", messageTimeoutMs: 800, clusterName: "guard" },
          istio: {
            namespace: "agents",
            providerName: "hexr",
            authzHost: "authz.hexr.internal",
            authzPort: 19191,
            selector: {},
            socketVolume: "sockets",
            inboundAuthzBodyBytes: 65536,
          },
        }),
    ],
  ] as const)("%s: every document validates and is a complete object", (_name, render) => {
    const s = render();
    expect(s.resources.map((r) => r.kind)).toEqual([
      "ServiceEntry",
      "AuthorizationPolicy",
      "EnvoyFilter",
      "EnvoyFilter",
    ]);
    for (const r of s.resources) {
      expect(summary(crdErrors(r))).toBe("");
      expect(dig(r, "metadata", "name")).toMatch(/^[a-z0-9-]+$/);
      expect(dig(r, "metadata", "namespace")).toMatch(/^[a-z0-9-]+$/);
    }
  });

  it.each<[string, string, (d: JsonObject) => unknown, string]>([
    [
      "an action Istio does not have",
      "AuthorizationPolicy",
      (d: JsonObject) => ((d.spec as JsonObject).action = "CUSTOMX"),
      "/spec/action must be equal to one of the allowed values",
    ],
    [
      "a misspelled field",
      "AuthorizationPolicy",
      (d: JsonObject) => ((d.spec as JsonObject).providr = { name: "x" }),
      "/spec must NOT have additional properties",
    ],
    [
      "a misspelled nested field",
      "ServiceEntry",
      (d: JsonObject) => (((d.spec as JsonObject).endpoints as JsonObject[])[0] = { adress: "unix:///x" }),
      "/spec/endpoints/0 must NOT have additional properties",
    ],
    [
      "a port out of range",
      "ServiceEntry",
      (d: JsonObject) => (((d.spec as JsonObject).ports as JsonObject[])[0] = { name: "grpc", number: -1 }),
      "/spec/ports/0/number must be >= 0",
    ],
    [
      "two ports with one name (list-type map)",
      "ServiceEntry",
      (d: JsonObject) =>
        ((d.spec as JsonObject).ports = [
          { name: "g", number: 1 },
          { name: "g", number: 2 },
        ]),
      '/spec/ports must pass "x-kubernetes-list-type" keyword validation',
    ],
    [
      "a patch operation Istio does not have",
      "EnvoyFilter",
      (d: JsonObject) => ((dig(d, "spec", "configPatches", 0, "patch") as JsonObject).operation = "PREPEND"),
      "/spec/configPatches/0/patch/operation must be equal to one of the allowed values",
    ],
    [
      "a match on two object types at once (oneOf)",
      "EnvoyFilter",
      (d: JsonObject) => ((dig(d, "spec", "configPatches", 1, "match") as JsonObject).cluster = { name: "x" }),
      "/spec/configPatches/1/match must match exactly one schema in oneOf",
    ],
    [
      "no metadata.name",
      "EnvoyFilter",
      (d: JsonObject) => delete (d.metadata as JsonObject).name,
      "/metadata must have required property 'name'",
    ],
    [
      "the wrong apiVersion for the kind",
      "AuthorizationPolicy",
      (d: JsonObject) => (d.apiVersion = "security.istio.io/v1alpha3"),
      "no served CRD version",
    ],
  ])("rejects %s", (_what, kind, breakIt, message) => {
    const doc = byKind(snippet, kind);
    breakIt(doc);
    if (message === "no served CRD version") {
      expect(() => crdErrors(doc)).toThrow(message);
    } else {
      expect(summary(crdErrors(doc))).toContain(message);
    }
  });

  it("keeps unknown fields inside an EnvoyFilter patch value (the CRD preserves them; Envoy checks them below)", () => {
    const doc = byKind(snippet, "EnvoyFilter", "hexr-ext-proc");
    (dig(doc, "spec", "configPatches", 0, "patch", "value") as JsonObject).not_an_envoy_field = true;
    expect(crdErrors(doc)).toEqual([]);
  });
});

describe("istio snippet: the MeshConfig fragment against istio.mesh.v1alpha1 protos", () => {
  const mesh = () => root.lookupType("istio.mesh.v1alpha1.MeshConfig");
  const provider = (m: JsonObject): JsonObject => dig(m, "extensionProviders", 0, "envoyExtAuthzGrpc") as JsonObject;

  it("is a valid MeshConfig: a fail-closed envoyExtAuthzGrpc provider naming the ServiceEntry", () => {
    expect(protoJsonErrors(mesh(), snippet.meshConfig, "mesh")).toEqual([]);
    expect(provider(snippet.meshConfig)).toEqual({
      service: "istio-system/hexr-ext-authz.local",
      port: 9191,
      timeout: "0.25s",
      failOpen: false,
      statusOnError: "403",
    });
    const se = byKind(snippet, "ServiceEntry");
    expect(`${dig(se, "metadata", "namespace")}/${dig(se, "spec", "hosts", 0)}`).toBe(
      provider(snippet.meshConfig).service,
    );
    expect(dig(se, "spec", "ports", 0, "number")).toBe(provider(snippet.meshConfig).port);
  });

  it.each<[string, (m: JsonObject) => unknown, string]>([
    [
      "a misspelled field",
      (m: JsonObject) => (provider(m).failopen = false),
      "mesh.extensionProviders[0].envoyExtAuthzGrpc.failopen: unknown field",
    ],
    ["a port that is not a number", (m: JsonObject) => (provider(m).port = "grpc"), "not a proto3 JSON uint32"],
    ["a timeout that is not a Duration", (m: JsonObject) => (provider(m).timeout = "250ms"), "not a Duration"],
    [
      "two providers in one oneof",
      (m: JsonObject) => ((dig(m, "extensionProviders", 0) as JsonObject).envoyExtAuthzHttp = {}),
      "oneof provider already set",
    ],
  ])("rejects %s", (_what, breakIt, message) => {
    const m = structuredClone(snippet.meshConfig);
    breakIt(m);
    expect(protoJsonErrors(mesh(), m, "mesh").join("; ")).toContain(message);
  });

  it("the proxy.istio.io/config annotation is a valid ProxyConfig with the ext_proc runtime flag", () => {
    const proxy = JSON.parse(snippet.podAnnotations["proxy.istio.io/config"] ?? "");
    expect(protoJsonErrors(root.lookupType("istio.mesh.v1alpha1.ProxyConfig"), proxy, "proxy")).toEqual([]);
    expect(proxy).toEqual({ runtimeValues: { "envoy.reloadable_features.ext_proc_graceful_grpc_close": "true" } });
    expect(protoJsonErrors(root.lookupType("istio.mesh.v1alpha1.ProxyConfig"), { runtimeValue: {} }, "proxy")).toEqual([
      "proxy.runtimeValue: unknown field of .istio.mesh.v1alpha1.ProxyConfig",
    ]);
  });

  it("mounts the socket directory into istio-proxy, read-only (connecting to a socket needs no write access)", () => {
    expect(JSON.parse(snippet.podAnnotations["sidecar.istio.io/userVolumeMount"] ?? "")).toEqual({
      "hexr-run": { mountPath: "/run/hexr", readOnly: true },
    });
  });
});

describe("istio snippet: what the documents do", () => {
  it("reaches the authz service on its Unix socket, never on TCP", () => {
    const se = byKind(snippet, "ServiceEntry");
    expect(dig(se, "spec", "endpoints")).toEqual([{ address: "unix:///run/hexr/authz.sock" }]);
    expect(dig(se, "spec", "resolution")).toBe("STATIC");
    expect(() => renderIstioSnippet({ authz: { tcp: { address: "127.0.0.1", port: 9191 } } })).toThrow(
      /authz.socket: on loopback TCP the agent could call the service itself/,
    );
    expect(() => renderIstioSnippet({ extProc: { socket: "/elsewhere/p.sock" } })).toThrow(
      /extProc.socket: must be in/,
    );
  });

  it("is one CUSTOM policy with the mesh's provider, matching every request of hexr pods", () => {
    const ap = byKind(snippet, "AuthorizationPolicy");
    expect(ap.spec).toEqual({
      selector: { matchLabels: { "hexr.io/inject": "true" } },
      action: "CUSTOM",
      provider: { name: dig(snippet.meshConfig, "extensionProviders", 0, "name") },
      rules: [{}],
    });
  });

  it("inserts the ext-proc snippet's filter before the router on outbound, and adds its cluster", () => {
    const ef = byKind(snippet, "EnvoyFilter", "hexr-ext-proc");
    const guard = renderSnippet("ext-proc") as HttpFilterSnippet;
    expect(dig(ef, "spec", "configPatches", 0)).toEqual({
      applyTo: "CLUSTER",
      match: { context: "SIDECAR_OUTBOUND" },
      patch: { operation: "ADD", value: guard.clusters[0] },
    });
    expect(dig(ef, "spec", "configPatches", 1, "patch")).toEqual({
      operation: "INSERT_BEFORE",
      value: guard.http_filters[0],
    });
    expect(dig(ef, "spec", "configPatches", 1, "match", "listener", "filterChain", "filter", "subFilter", "name")).toBe(
      "envoy.filters.http.router",
    );
    expect(dig(ef, "spec", "configPatches", 1, "patch", "value", "typed_config", "failure_mode_allow")).toBe(false);
  });

  it("marks inbound Checks as inbound, and removes the outbound route to the authz socket", () => {
    const ef = byKind(snippet, "EnvoyFilter", "hexr-ext-authz");
    const settings = dig(ef, "spec", "configPatches", 0, "patch", "value", "typed_per_filter_config");
    expect(dig(settings, "envoy.filters.http.ext_authz", "check_settings", "context_extensions")).toEqual({
      "hexr.direction": "inbound",
    });
    expect(dig(ef, "spec", "configPatches", 1)).toEqual({
      applyTo: "VIRTUAL_HOST",
      match: {
        context: "SIDECAR_OUTBOUND",
        routeConfiguration: { portNumber: 9191, vhost: { name: "hexr-ext-authz.local:9191" } },
      },
      patch: { operation: "REMOVE" },
    });
  });

  it("refuses a namespace-wide selector in Istio's root namespace (that would be the whole mesh)", () => {
    expect(() => renderIstioSnippet({ istio: { selector: {} } })).toThrow(/root namespace istio-system/);
    const wide = renderIstioSnippet({ istio: { namespace: "agents", selector: {} } });
    expect(byKind(wide, "AuthorizationPolicy").spec).not.toHaveProperty("selector");
    expect(byKind(wide, "EnvoyFilter", "hexr-ext-proc").spec).not.toHaveProperty("workloadSelector");
    expect(byKind(wide, "EnvoyFilter", "hexr-ext-authz").spec).not.toHaveProperty("workloadSelector");
  });

  it("checks the istio options of an options file like the others", () => {
    const bad = (istio: unknown) => () =>
      renderSnippet("istio", { ...defaultSidecarOptions(), istio } as Parameters<typeof renderSnippet>[1]);
    expect(bad({ namespce: "x" })).toThrow(/istio.namespce: unknown option/);
    expect(bad({ authzHost: "*" })).toThrow(/istio.authzHost: must match/);
    expect(bad({ authzPort: 0 })).toThrow(/istio.authzPort: must be an integer in 1..65535/);
    expect(bad({ selector: { "hexr.io/inject": "*" } })).toThrow(/istio.selector.hexr.io\/inject/);
  });
});

describe("istio snippet: the Envoy config inside its EnvoyFilters", () => {
  it("envoy --mode validate accepts the ext_proc filter, its cluster and the inbound route settings", async () => {
    const result = await validateWithEnvoy(embedSnippet(renderSnippet("istio")), { envoyBin: findEnvoy(process.env) });
    expect(result.output).toMatch(/OK$/);
    expect(result.ok).toBe(true);
  });

  it("and rejects a misspelled field there, which the CRD schema lets through", async () => {
    const s = renderSnippet("istio");
    const ef = s.resources.find((r) => dig(r, "metadata", "name") === "hexr-ext-proc") as JsonObject;
    (dig(ef, "spec", "configPatches", 1, "patch", "value", "typed_config") as JsonObject).message_timout = "1s";
    expect(crdErrors(ef)).toEqual([]);
    const result = await validateWithEnvoy(embedSnippet(s), { envoyBin: findEnvoy(process.env) });
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/no\s+such\s+field:\s*'message_timout'/);
  });
});

describe("istio snippet: YAML", () => {
  it("envoy-config/snippets/istio.yaml equals the rendered output", () => {
    // On failure, regenerate: bin/hexr envoy render --snippet istio -o envoy-config/snippets/istio.yaml
    expect(readFileSync(SNIPPET_FILE, "utf8")).toBe(renderSnippetYaml("istio"));
  });

  it("is the mesh fragment then the resources, and the sed line in its header leaves only the resources", () => {
    const text = renderSnippetYaml("istio");
    const docs = parseAllDocuments(text).map((d) => d.toJS());
    expect(docs).toEqual(JSON.parse(JSON.stringify([snippet.meshConfig, ...snippet.resources])));
    // sed '1,/^---$/d': drop everything up to and including the first document separator
    const lines = text.split("\n");
    const applied = lines.slice(lines.indexOf("---") + 1).join("\n");
    expect(parseAllDocuments(applied).map((d) => d.toJS())).toEqual(JSON.parse(JSON.stringify(snippet.resources)));
    for (const [k, v] of Object.entries(snippet.podAnnotations)) expect(text).toContain(`#   ${k}: '${v}'`);
    expect(text).toContain("at most one CUSTOM provider per workload");
  });

  it("hexr envoy render --snippet istio prints it; --format json prints the object", async () => {
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => out.push(chunk) > 0) as typeof process.stdout.write;
    try {
      expect(await envoy.run(["render", "--snippet", "istio"], process.env)).toBe(0);
      expect(await envoy.run(["render", "--snippet", "istio", "--format", "json"], process.env)).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(out[0]).toBe(renderSnippetYaml("istio"));
    expect(JSON.parse(out[1] ?? "")).toEqual(JSON.parse(JSON.stringify(snippet)));
  });
});

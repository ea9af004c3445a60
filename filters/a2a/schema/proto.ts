/**
 * ProtoJSON validation against the A2A descriptors (lf.a2a.v1 for v1.0; a2a.v1, the v0.3 proto, for the
 * v0.3 REST/gRPC shapes). Two passes, both planned once from the descriptors at load:
 *
 *  1. a walk over the JSON that knows each message's fields (both spellings), kinds, enums and oneofs
 *     and the `(google.api.field_behavior) = REQUIRED` annotations, which ProtoJSON parsing ignores:
 *     it names the JSON path and the rule of the first fault;
 *  2. @bufbuild/protobuf `fromJson` on the same object, the conformance-tested ProtoJSON parser, for
 *     what the walk leaves to it (well-known types: Timestamp syntax, Struct/Value; integer ranges;
 *     base64 details).
 *
 * REQUIRED follows the reference SDK's rule for requests (a2a-sdk `validate_proto_required_fields`):
 * a repeated or map field needs at least one element, a message field must be set, a scalar or enum
 * must not be its default. Responses (results, stream events, agent cards) are checked only for
 * required message fields: ProtoJSON writers omit default-valued scalars and empty lists (an empty
 * ListTasks page has no `tasks`), so their absence there is not a fault.
 * Every oneof in the A2A packages is a choice that must be made (Part content, StreamResponse payload,
 * SecurityScheme, OAuthFlows): none set is refused, as is more than one.
 */
import {
  type DescEnum,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromJson,
  getExtension,
  type Registry,
  ScalarType,
} from "@bufbuild/protobuf";

/** google.api.HttpRule, as decoded from the method option (only what is read here). */
interface HttpRule {
  readonly body: string;
  readonly pattern: { readonly case: string | undefined; readonly value?: unknown };
}

/** A fault found: JSON path and the rule it breaks (never the value). */
export interface Fault {
  readonly path: string;
  readonly rule: string;
}

export type Strictness = "request" | "response" | "card";

interface FieldPlan {
  readonly field: DescField;
  readonly required: boolean;
}

interface MessagePlan {
  readonly desc: DescMessage;
  /** JSON name and proto name both map to the field. */
  readonly byKey: Map<string, FieldPlan>;
  readonly required: readonly FieldPlan[];
  readonly oneofs: readonly (readonly FieldPlan[])[];
}

/** Schema field names are short identifiers; a key that is not one is the caller's data, never echoed. */
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]{0,39}$/;
/** How a key the schema does not name is shown in a path: the caller chose it (it may be a secret). */
export const UNKNOWN_KEY = "<unknown>";
export function childPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  const shown = IDENT.test(key) ? key : UNKNOWN_KEY;
  return path === "" ? shown : `${path}.${shown}`;
}

const INT = /^-?(0|[1-9][0-9]*)$/;
const UINT = /^(0|[1-9][0-9]*)$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;
const FLOAT_WORDS = new Set(["NaN", "Infinity", "-Infinity"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Whether a JSON value has the ProtoJSON form of a scalar type (ranges and details: fromJson). */
function scalarOk(type: ScalarType, v: unknown): boolean {
  switch (type) {
    case ScalarType.STRING:
      return typeof v === "string";
    case ScalarType.BOOL:
      return typeof v === "boolean";
    case ScalarType.BYTES:
      return typeof v === "string" && BASE64.test(v);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return (
        typeof v === "number" ||
        (typeof v === "string" && (FLOAT_WORDS.has(v) || (v.trim() !== "" && !Number.isNaN(Number(v)))))
      );
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return (typeof v === "number" && Number.isInteger(v) && v >= 0) || (typeof v === "string" && UINT.test(v));
    default:
      return (typeof v === "number" && Number.isInteger(v)) || (typeof v === "string" && INT.test(v));
  }
}

function scalarName(type: ScalarType): string {
  return ScalarType[type].toLowerCase();
}

function isDefaultScalar(type: ScalarType, v: unknown): boolean {
  if (type === ScalarType.BOOL) return v === false;
  if (type === ScalarType.STRING || type === ScalarType.BYTES) return v === "";
  return v === 0 || v === "0";
}

/** Validator for one proto package's messages. */
export class ProtoSchema {
  readonly registry: Registry;
  readonly service: DescService;
  private readonly plans = new Map<string, MessagePlan>();
  private readonly requiredNumber: number;
  private readonly fieldBehavior;
  private readonly httpExt;

  constructor(registry: Registry, serviceName: string) {
    this.registry = registry;
    const service = registry.getService(serviceName);
    const fieldBehavior = registry.getExtension("google.api.field_behavior");
    const behaviours = registry.getEnum("google.api.FieldBehavior");
    const required = behaviours?.values.find((v) => v.name === "REQUIRED");
    const httpExt = registry.getExtension("google.api.http");
    if (!service || !fieldBehavior || !required || !httpExt) {
      throw new Error(`descriptor set lacks ${serviceName}, google.api.field_behavior or google.api.http`);
    }
    this.service = service;
    this.fieldBehavior = fieldBehavior;
    this.requiredNumber = required.number;
    this.httpExt = httpExt;
    // plan every message reachable from the service (and the agent card) now: no work per request
    for (const m of service.methods) {
      this.plan(m.input);
      this.plan(m.output);
    }
  }

  method(name: string): DescMethod | undefined {
    return this.service.methods.find((m) => m.name === name);
  }

  message(typeName: string): DescMessage {
    const desc = this.registry.getMessage(typeName);
    if (!desc) throw new Error(`descriptor set lacks message ${typeName}`);
    this.plan(desc);
    return desc;
  }

  /** The REST body of a method (HttpRule `body`: "*" is the request, else one field's message) and the
   * request fields bound from the URL path (exempt from REQUIRED in the body). */
  restBody(method: DescMethod): { desc: DescMessage; pathFields: ReadonlySet<string> } | undefined {
    const rule = method.proto.options
      ? (getExtension(method.proto.options, this.httpExt) as unknown as HttpRule)
      : undefined;
    if (!rule || rule.body === "") return undefined;
    const pattern = typeof rule.pattern.value === "string" ? rule.pattern.value : "";
    const pathFields = new Set<string>();
    for (const m of pattern.matchAll(/\{([A-Za-z0-9_.]+)/g)) pathFields.add(m[1] as string);
    if (rule.body === "*") return { desc: method.input, pathFields };
    const field = method.input.fields.find((f) => f.name === rule.body);
    if (field?.fieldKind !== "message") return undefined;
    this.plan(field.message);
    return { desc: field.message, pathFields: new Set() };
  }

  private plan(desc: DescMessage): MessagePlan {
    const done = this.plans.get(desc.typeName);
    if (done) return done;
    const byKey = new Map<string, FieldPlan>();
    const required: FieldPlan[] = [];
    const oneofs = new Map<string, FieldPlan[]>();
    const oneofList: FieldPlan[][] = [];
    const plan: MessagePlan = { desc, byKey, required, oneofs: oneofList };
    this.plans.set(desc.typeName, plan);
    for (const field of desc.fields) {
      const opts = field.proto.options;
      const behaviours = opts ? (getExtension(opts, this.fieldBehavior) as number[]) : [];
      const fp: FieldPlan = { field, required: behaviours.includes(this.requiredNumber) };
      byKey.set(field.jsonName, fp);
      byKey.set(field.name, fp);
      if (fp.required) required.push(fp);
      if (field.oneof) {
        const list = oneofs.get(field.oneof.name) ?? [];
        list.push(fp);
        oneofs.set(field.oneof.name, list);
      }
      if (field.message) this.plan(field.message);
    }
    oneofList.push(...oneofs.values());
    return plan;
  }

  /** Validate `json` as ProtoJSON of `desc`; the first fault, or undefined. */
  validate(
    desc: DescMessage,
    json: unknown,
    root: string,
    strictness: Strictness,
    pathFields?: ReadonlySet<string>,
  ): Fault | undefined {
    const fault = this.walkMessage(desc, json, root, strictness, pathFields);
    if (fault) return fault;
    try {
      fromJson(desc, json as never, { registry: this.registry, ignoreUnknownFields: strictness === "card" });
    } catch (e) {
      // protobuf-es names the field (`cannot decode field lf.a2a.v1.TaskStatus.timestamp from JSON: …`)
      // and then the value: keep only the field's name
      const m = /field ([A-Za-z0-9_.]+)/.exec(e instanceof Error ? e.message : "");
      return { path: root, rule: m ? `invalid value for ${m[1]}` : `not valid ProtoJSON for ${desc.typeName}` };
    }
    return undefined;
  }

  private walkMessage(
    desc: DescMessage,
    json: unknown,
    path: string,
    strictness: Strictness,
    pathFields?: ReadonlySet<string>,
  ): Fault | undefined {
    const wkt = wellKnown(desc.typeName, json);
    if (wkt !== undefined) return wkt ? undefined : { path, rule: `wrong type (expected ${desc.typeName} JSON)` };
    if (!isObject(json)) return { path, rule: "wrong type (expected object)" };
    const plan = this.plan(desc);
    let seen: Set<DescField> | undefined;
    for (const key in json) {
      const fp = plan.byKey.get(key);
      const kpath = childPath(path, key);
      if (!fp) {
        if (strictness === "card") continue;
        return { path: kpath, rule: "unknown field" };
      }
      seen ??= new Set();
      if (seen.has(fp.field)) return { path: kpath, rule: "field set twice (JSON and proto name)" };
      seen.add(fp.field);
      const value = json[key];
      if (value === null && !acceptsNull(fp.field)) continue; // ProtoJSON: null is the default
      const fault = this.walkField(fp.field, value, kpath, strictness);
      if (fault) return fault;
    }
    for (const members of plan.oneofs) {
      let set: string | undefined;
      for (const fp of members) {
        const key = presentKey(json, fp.field);
        if (key === undefined) continue;
        if (set !== undefined) {
          return {
            path: childPath(path, key),
            rule: `more than one of oneof ${fp.field.oneof?.name} (${names(members)})`,
          };
        }
        set = key;
      }
      if (set === undefined) return { path, rule: `exactly one of ${names(members)} required` };
    }
    for (const fp of plan.required) {
      const f = fp.field;
      if (pathFields?.has(f.name)) continue;
      if (strictness !== "request" && f.fieldKind !== "message") continue;
      const key = presentKey(json, f);
      const value = key === undefined ? undefined : json[key];
      if (key === undefined || isEmpty(f, value)) {
        return { path: childPath(path, key ?? f.jsonName), rule: "required field missing" };
      }
    }
    return undefined;
  }

  private walkField(field: DescField, value: unknown, path: string, strictness: Strictness): Fault | undefined {
    switch (field.fieldKind) {
      case "scalar":
        return scalarOk(field.scalar, value)
          ? undefined
          : { path, rule: `wrong type (expected ${scalarName(field.scalar)})` };
      case "enum":
        return enumFault(field.enum, value, path);
      case "message":
        return this.walkMessage(field.message, value, path, strictness);
      case "list": {
        if (!Array.isArray(value)) return { path, rule: "wrong type (expected array)" };
        for (let i = 0; i < value.length; i++) {
          const item = value[i];
          const ipath = `${path}[${i}]`;
          let fault: Fault | undefined;
          if (field.listKind === "scalar") {
            fault = scalarOk(field.scalar, item)
              ? undefined
              : { path: ipath, rule: `wrong type (expected ${scalarName(field.scalar)})` };
          } else if (field.listKind === "enum") {
            fault = enumFault(field.enum, item, ipath);
          } else {
            fault =
              item === null && field.message.typeName !== "google.protobuf.Value"
                ? { path: ipath, rule: "wrong type (expected object)" }
                : this.walkMessage(field.message, item, ipath, strictness);
          }
          if (fault) return fault;
        }
        return undefined;
      }
      case "map": {
        if (!isObject(value)) return { path, rule: "wrong type (expected object)" };
        for (const k in value) {
          const kpath = childPath(path, k);
          const item = value[k];
          let fault: Fault | undefined;
          if (field.mapKind === "scalar") {
            fault = scalarOk(field.scalar, item)
              ? undefined
              : { path: kpath, rule: `wrong type (expected ${scalarName(field.scalar)})` };
          } else if (field.mapKind === "enum") {
            fault = enumFault(field.enum, item, kpath);
          } else {
            fault = this.walkMessage(field.message, item, kpath, strictness);
          }
          if (fault) return fault;
        }
        return undefined;
      }
    }
  }
}

function names(members: readonly FieldPlan[]): string {
  return members.map((m) => m.field.jsonName).join(", ");
}

function presentKey(json: Record<string, unknown>, f: DescField): string | undefined {
  if (json[f.jsonName] !== undefined && json[f.jsonName] !== null) return f.jsonName;
  if (json[f.name] !== undefined && json[f.name] !== null) return f.name;
  return undefined;
}

function acceptsNull(f: DescField): boolean {
  return (
    (f.fieldKind === "message" && f.message.typeName === "google.protobuf.Value") ||
    (f.fieldKind === "enum" && f.enum.typeName === "google.protobuf.NullValue")
  );
}

/** The reference SDK's "missing or empty" for a REQUIRED field. */
function isEmpty(f: DescField, v: unknown): boolean {
  switch (f.fieldKind) {
    case "list":
      return Array.isArray(v) && v.length === 0;
    case "map":
      return isObject(v) && Object.keys(v).length === 0;
    case "scalar":
      return isDefaultScalar(f.scalar, v);
    case "enum":
      return v === 0 || v === f.enum.values.find((e) => e.number === 0)?.name;
    default:
      return false;
  }
}

function enumFault(e: DescEnum, v: unknown, path: string): Fault | undefined {
  if (typeof v === "string" && e.values.some((x) => x.name === v)) return undefined;
  if (typeof v === "number" && e.value[v] !== undefined) return undefined;
  if (v === null && e.typeName === "google.protobuf.NullValue") return undefined;
  return { path, rule: `invalid enum value (${e.typeName})` };
}

/** Shape check of a well-known type's JSON (true/false), or undefined for other messages. */
function wellKnown(typeName: string, v: unknown): boolean | undefined {
  switch (typeName) {
    case "google.protobuf.Struct":
    case "google.protobuf.Empty":
      return isObject(v);
    case "google.protobuf.Value":
      return true;
    case "google.protobuf.ListValue":
      return Array.isArray(v);
    case "google.protobuf.Timestamp":
      return typeof v === "string" && RFC3339.test(v);
    case "google.protobuf.Duration":
    case "google.protobuf.FieldMask":
      return typeof v === "string";
    default:
      return typeName.startsWith("google.protobuf.") ? true : undefined;
  }
}

/**
 * v0.3 JSON-RPC validation: the v0.3 JSON Schema (emitted at build time from a2a-sdk's v0.3 models, see
 * scripts/a2a-schemas/build.py) compiled by ajv once at load into one function per definition used.
 * The method ↔ params / result pairing is read from the schema's own request and response models
 * (`SendMessageRequest { method: const "message/send", params: $ref MessageSendParams }` and
 * `SendMessageSuccessResponse { result }`), not listed here.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { childPath, type Fault } from "./proto.ts";

type Schema = Record<string, unknown>;
interface Defs {
  readonly [name: string]: Schema;
}

export interface V03Method {
  /** `message/send` */
  readonly wire: string;
  /** Absent where the method takes no params. */
  readonly params: ValidateFunction | undefined;
  /** Absent where the schema has no success response for the method. */
  readonly result: ValidateFunction | undefined;
  /** The params are optional (agent/getAuthenticatedExtendedCard). */
  readonly paramsOptional: boolean;
}

export class JsonSchemaV03 {
  readonly methods: ReadonlyMap<string, V03Method>;
  readonly agentCard: ValidateFunction;
  readonly streamEvent: ValidateFunction;
  readonly message: ValidateFunction;
  readonly errorCodes: {
    readonly invalidParams: number;
    readonly invalidAgentResponse: number;
    readonly methodNotFound: number;
  };

  constructor(doc: Schema) {
    const id = doc.$id;
    const defs = doc.$defs as Defs | undefined;
    if (typeof id !== "string" || !defs) throw new Error("v0.3 schema has no $id or $defs");
    const extraKeywords = Object.keys(doc).filter((k) => k.startsWith("x-"));
    const ajv = new Ajv2020({ discriminator: true, strict: true, allErrors: false, keywords: extraKeywords });
    ajv.addSchema(doc);
    const compile = (ref: string): ValidateFunction => {
      const fn = ajv.getSchema(`${id}${ref}`);
      if (!fn) throw new Error(`v0.3 schema lacks ${ref}`);
      return fn;
    };
    const methods = new Map<string, V03Method>();
    for (const [name, def] of Object.entries(defs)) {
      const props = def.properties as Defs | undefined;
      const wire = props?.method?.const;
      if (typeof wire !== "string" || !props || !name.endsWith("Request")) continue;
      const required = (def.required as string[] | undefined) ?? [];
      const response = defs[`${name.slice(0, -"Request".length)}SuccessResponse`];
      methods.set(wire, {
        wire,
        params: props.params ? compile(`#/$defs/${name}/properties/params`) : undefined,
        result: response
          ? compile(`#/$defs/${name.slice(0, -"Request".length)}SuccessResponse/properties/result`)
          : undefined,
        paramsOptional: !required.includes("params"),
      });
    }
    this.methods = methods;
    // cards tolerate unknown members (the reference SDK serves v1.0 and v0.3 fields in one card): the
    // card validator is compiled from a copy without `additionalProperties: false`
    const lenient = withoutClosedObjects(doc) as Schema;
    lenient.$id = `${id}:lenient`;
    ajv.addSchema(lenient);
    const card = ajv.getSchema(`${id}:lenient#/$defs/AgentCard`);
    if (!card) throw new Error("v0.3 schema lacks #/$defs/AgentCard");
    this.agentCard = card;
    this.message = compile("#/$defs/Message");
    this.streamEvent = compile("#/$defs/SendStreamingMessageSuccessResponse/properties/result");
    const code = (def: string): number => {
      const c = (defs[def]?.properties as Defs | undefined)?.code?.const;
      if (typeof c !== "number") throw new Error(`v0.3 schema: ${def}.code has no const`);
      return c;
    };
    this.errorCodes = {
      invalidParams: code("InvalidParamsError"),
      invalidAgentResponse: code("InvalidAgentResponseError"),
      methodNotFound: code("MethodNotFoundError"),
    };
  }
}

function withoutClosedObjects(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutClosedObjects);
  if (typeof node !== "object" || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "additionalProperties" && v === false) continue;
    out[k] = withoutClosedObjects(v);
  }
  return out;
}

/** The first fault ajv found, as a JSON path and a rule; the value is never quoted. */
export function faultOf(fn: ValidateFunction, value: unknown, root: string): Fault | undefined {
  if (fn(value)) return undefined;
  const errors = fn.errors ?? [];
  // anyOf/oneOf umbrellas and the `null` alternative of an optional field say nothing useful: take the
  // deepest remaining error, the one inside the alternative that came closest
  let best: ErrorObject | undefined;
  for (const e of errors) {
    if (e.keyword === "anyOf" || e.keyword === "oneOf") continue;
    if (e.keyword === "type" && e.params.type === "null") continue;
    if (!best || e.instancePath.length > best.instancePath.length) best = e;
  }
  best ??= errors[0];
  if (!best) return { path: root, rule: "invalid" };
  let path = root;
  for (const seg of best.instancePath.split("/").slice(1)) {
    const key = seg.replace(/~1/g, "/").replace(/~0/g, "~");
    path = childPath(path, /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : key);
  }
  switch (best.keyword) {
    case "required":
      return { path: childPath(path, String(best.params.missingProperty)), rule: "required field missing" };
    case "additionalProperties":
      return { path: childPath(path, String(best.params.additionalProperty)), rule: "unknown field" };
    case "enum":
      return { path, rule: "invalid enum value" };
    case "const":
      return { path, rule: "invalid constant value" };
    case "type":
      return { path, rule: `wrong type (expected ${String(best.params.type)})` };
    case "discriminator": {
      const tag = String(best.params.tag);
      return best.params.error === "tag"
        ? { path: childPath(path, tag), rule: "required discriminator missing or not a string" }
        : { path: childPath(path, tag), rule: "invalid enum value" };
    }
    default:
      return { path, rule: `invalid value (${best.keyword})` };
  }
}

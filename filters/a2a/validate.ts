/**
 * A2A schema validation for ext_proc: request params, results, stream events and agent cards of both
 * protocol versions, checked against the protocol's own definitions (built by setup.sh's `a2a-schemas`
 * step from the a2a-sdk wheel into $HEXR_A2A_SCHEMAS; see scripts/a2a-schemas/build.py):
 *
 *  - v1.0, every binding: ProtoJSON of `lf.a2a.v1` (specification/a2a.proto), REQUIRED annotations
 *    enforced (filters/a2a/schema/proto.ts);
 *  - v0.3 JSON-RPC: the v0.3 JSON Schema (filters/a2a/schema/jsonschema.ts);
 *  - v0.3 REST / gRPC: ProtoJSON of the v0.3 proto (`a2a.v1`), whose shapes differ from its JSON-RPC.
 *
 * Everything is compiled in `loadA2aSchemas`; a call does no compilation. Faults come back as A2aError
 * with the JSON path of the bad field and the rule it breaks, never the field's value.
 *
 * @example
 *   const schemas = loadA2aSchemas();            // once, at start-up
 *   const err = schemas.validateParams("1.0", "SendMessage", body.params);
 *   if (err) return jsonRpcError(id, err);       // -32602, path "params.message.parts[0].text"
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createFileRegistry, type DescMessage, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { HexrError } from "../errors.ts";
import { faultOf, JsonSchemaV03 } from "./schema/jsonschema.ts";
import { collectText, type PartsKind, type TextSpan } from "./schema/parts.ts";
import { type Fault, ProtoSchema } from "./schema/proto.ts";
import { A2aError, type A2aBinding, type A2aMethod, type A2aVersion } from "./types.ts";

export type { PartsKind, TextSpan } from "./schema/parts.ts";

export const A2A_SCHEMAS_ENV = "HEXR_A2A_SCHEMAS";
export const A2A_V1_DESCRIPTORS = "a2a-v1.binpb";
export const A2A_V03_JSON_SCHEMA = "a2a-v0_3.schema.json";

export interface ValidateOptions {
  /** Default "jsonrpc". Only v0.3 tells bindings apart (REST/gRPC use its proto's JSON). */
  readonly binding?: A2aBinding;
  /** Prefix of reported paths: "params" / "result" / "card" by default. */
  readonly root?: string;
}

export interface A2aSchemas {
  /** The directory the artifacts were loaded from. */
  readonly dir: string;
  /** JSON-RPC `params` (or the REST body) of a request for `method`. */
  validateParams(version: A2aVersion, method: A2aMethod, params: unknown, opts?: ValidateOptions): A2aError | undefined;
  /** A non-streaming JSON-RPC `result` (or REST response body) of `method`. */
  validateResult(version: A2aVersion, method: A2aMethod, result: unknown, opts?: ValidateOptions): A2aError | undefined;
  /** One event of a SendStreamingMessage / SubscribeToTask stream (JSON-RPC `result` or SSE data). */
  validateStreamEvent(version: A2aVersion, event: unknown, opts?: ValidateOptions): A2aError | undefined;
  /** An agent card (public or extended). Unknown members are allowed: cards served by the reference SDK
   * carry both versions' fields. */
  validateAgentCard(version: A2aVersion, card: unknown, opts?: ValidateOptions): A2aError | undefined;
}

/** The strings of a message / artifact / task / stream event's parts, with their JSON paths. */
export function textParts(_version: A2aVersion, kind: PartsKind, value: unknown, root = ""): TextSpan[] {
  return collectText(kind, value, root);
}

/** v0.3 JSON-RPC method of each v1.0 operation (v0.3 has no ListTasks). */
const V03_JSONRPC: Partial<Record<A2aMethod, string>> = {
  SendMessage: "message/send",
  SendStreamingMessage: "message/stream",
  GetTask: "tasks/get",
  CancelTask: "tasks/cancel",
  SubscribeToTask: "tasks/resubscribe",
  CreateTaskPushNotificationConfig: "tasks/pushNotificationConfig/set",
  GetTaskPushNotificationConfig: "tasks/pushNotificationConfig/get",
  ListTaskPushNotificationConfigs: "tasks/pushNotificationConfig/list",
  DeleteTaskPushNotificationConfig: "tasks/pushNotificationConfig/delete",
  GetExtendedAgentCard: "agent/getAuthenticatedExtendedCard",
};

/** v0.3 proto rpc of each v1.0 operation where the name changed. */
const V03_RPC: Partial<Record<A2aMethod, string>> = {
  SubscribeToTask: "TaskSubscription",
  ListTaskPushNotificationConfigs: "ListTaskPushNotificationConfig",
  GetExtendedAgentCard: "GetAgentCard",
};

class Schemas implements A2aSchemas {
  readonly dir: string;
  private readonly v1: ProtoSchema;
  private readonly v03proto: ProtoSchema;
  private readonly v03: JsonSchemaV03;
  private readonly v1Card: DescMessage;
  private readonly v1Stream: DescMessage;
  private readonly v03Card: DescMessage;
  private readonly v03Stream: DescMessage;

  constructor(dir: string, descriptors: Uint8Array, v03doc: Record<string, unknown>) {
    this.dir = dir;
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptors));
    this.v1 = new ProtoSchema(registry, "lf.a2a.v1.A2AService");
    this.v03proto = new ProtoSchema(registry, "a2a.v1.A2AService");
    this.v03 = new JsonSchemaV03(v03doc);
    this.v1Card = this.v1.message("lf.a2a.v1.AgentCard");
    this.v1Stream = this.v1.message("lf.a2a.v1.StreamResponse");
    this.v03Card = this.v03proto.message("a2a.v1.AgentCard");
    this.v03Stream = this.v03proto.message("a2a.v1.StreamResponse");
  }

  private paramsError(f: Fault | undefined): A2aError | undefined {
    return (
      f && new A2aError("a2a.invalid_params", `${f.rule}: ${f.path}`, this.v03.errorCodes.invalidParams, 400, f.path)
    );
  }

  /** An upstream agent's answer that breaks the schema: InvalidAgentResponseError, 502 on REST. */
  private responseError(f: Fault | undefined, what: string): A2aError | undefined {
    return (
      f &&
      new A2aError(`a2a.invalid_${what}`, `${f.rule}: ${f.path}`, this.v03.errorCodes.invalidAgentResponse, 502, f.path)
    );
  }

  private unknownMethod(version: A2aVersion, method: string, root: string): A2aError {
    return new A2aError(
      "a2a.method_not_found",
      `${method} has no A2A ${version} definition`,
      this.v03.errorCodes.methodNotFound,
      404,
      root,
    );
  }

  private proto(version: A2aVersion, binding: A2aBinding): ProtoSchema | undefined {
    if (version === "1.0") return this.v1;
    return binding === "rest" || binding === "grpc" ? this.v03proto : undefined;
  }

  validateParams(
    version: A2aVersion,
    method: A2aMethod,
    params: unknown,
    opts?: ValidateOptions,
  ): A2aError | undefined {
    const root = opts?.root ?? "params";
    const binding = opts?.binding ?? "jsonrpc";
    if (method === "GetAgentCard") {
      // a plain GET: nothing to carry
      const empty =
        params === undefined || params === null || (typeof params === "object" && Object.keys(params).length === 0);
      return empty ? undefined : this.paramsError({ path: root, rule: "GetAgentCard takes no parameters" });
    }
    const proto = this.proto(version, binding);
    if (proto) {
      const desc = proto.method(version === "1.0" ? method : (V03_RPC[method] ?? method));
      if (!desc) return this.unknownMethod(version, method, root);
      if (binding === "rest") {
        const body = proto.restBody(desc);
        if (!body)
          return params === undefined
            ? undefined
            : this.paramsError({ path: root, rule: `${method} has no REST body` });
        return this.paramsError(proto.validate(body.desc, params ?? {}, root, "request", body.pathFields));
      }
      return this.paramsError(proto.validate(desc.input, params, root, "request"));
    }
    const wire = V03_JSONRPC[method];
    const m = wire ? this.v03.methods.get(wire) : undefined;
    if (!m) return this.unknownMethod(version, method, root);
    if ((params === undefined || params === null) && (m.paramsOptional || !m.params)) return undefined;
    if (!m.params) return this.paramsError({ path: root, rule: `${method} takes no parameters` });
    return this.paramsError(faultOf(m.params, params, root));
  }

  validateResult(
    version: A2aVersion,
    method: A2aMethod,
    result: unknown,
    opts?: ValidateOptions,
  ): A2aError | undefined {
    const root = opts?.root ?? "result";
    if (method === "GetAgentCard") return this.validateAgentCard(version, result, opts);
    const binding = opts?.binding ?? "jsonrpc";
    const proto = this.proto(version, binding);
    if (proto) {
      const desc = proto.method(version === "1.0" ? method : (V03_RPC[method] ?? method));
      if (!desc) return this.unknownMethod(version, method, root);
      if (desc.methodKind === "server_streaming") return this.validateStreamEvent(version, result, opts);
      return this.responseError(proto.validate(desc.output, result, root, "response"), "result");
    }
    const wire = V03_JSONRPC[method];
    const m = wire ? this.v03.methods.get(wire) : undefined;
    if (!m) return this.unknownMethod(version, method, root);
    if (!m.result) return this.validateStreamEvent(version, result, opts);
    return this.responseError(faultOf(m.result, result, root), "result");
  }

  validateStreamEvent(version: A2aVersion, event: unknown, opts?: ValidateOptions): A2aError | undefined {
    const root = opts?.root ?? "result";
    const proto = this.proto(version, opts?.binding ?? "jsonrpc");
    if (proto) {
      const desc = proto === this.v1 ? this.v1Stream : this.v03Stream;
      return this.responseError(proto.validate(desc, event, root, "response"), "event");
    }
    return this.responseError(faultOf(this.v03.streamEvent, event, root), "event");
  }

  validateAgentCard(version: A2aVersion, card: unknown, opts?: ValidateOptions): A2aError | undefined {
    const root = opts?.root ?? "card";
    if (version === "1.0") return this.responseError(this.v1.validate(this.v1Card, card, root, "card"), "agent_card");
    if (opts?.binding === "grpc")
      return this.responseError(this.v03proto.validate(this.v03Card, card, root, "card"), "agent_card");
    // v0.3 cards are the JSON-Schema AgentCard whatever the binding
    return this.responseError(faultOf(this.v03.agentCard, card, root), "agent_card");
  }
}

/**
 * Load and compile both versions' schemas from `dir` (default: $HEXR_A2A_SCHEMAS, written by
 * scripts/setup.sh). Throws HexrError `config.a2a_schemas_missing` when they are not there.
 */
export function loadA2aSchemas(dir: string | undefined = process.env[A2A_SCHEMAS_ENV]): A2aSchemas {
  if (!dir) {
    throw new HexrError(
      "config.a2a_schemas_missing",
      `${A2A_SCHEMAS_ENV} is not set: run scripts/setup.sh (its a2a-schemas step builds the A2A schemas) and source its env.sh`,
    );
  }
  let descriptors: Uint8Array;
  let v03: Record<string, unknown>;
  try {
    descriptors = readFileSync(join(dir, A2A_V1_DESCRIPTORS));
    v03 = JSON.parse(readFileSync(join(dir, A2A_V03_JSON_SCHEMA), "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new HexrError(
      "config.a2a_schemas_missing",
      `A2A schemas not readable in ${dir} (${A2A_V1_DESCRIPTORS}, ${A2A_V03_JSON_SCHEMA}): run scripts/setup.sh to build them`,
      { cause: e },
    );
  }
  try {
    return new Schemas(dir, descriptors, v03);
  } catch (e) {
    throw new HexrError(
      "config.a2a_schemas_invalid",
      `A2A schemas in ${dir} do not load (${e instanceof Error ? e.message : String(e)}): rebuild them with scripts/setup.sh`,
      { cause: e },
    );
  }
}

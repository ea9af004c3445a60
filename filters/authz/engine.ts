/**
 * One compiled policy: an OPA WASM module instantiated once per bundle with its data loaded, then
 * evaluated synchronously per request. `evaluate` never throws: a policy that errors or returns the
 * wrong shape denies with a stable reason code (fail closed).
 *
 * @example
 *   const engine = await PolicyEngine.load(bundle);
 *   const { allow, reasons } = engine.evaluate(input);
 */
import { loadPolicy, type LoadedPolicy } from "@open-policy-agent/opa-wasm";
import { HexrError } from "../errors.ts";
import { HOST_BUILTINS, SDK_BUILTINS } from "./builtins.ts";

export const DECISION_ENTRYPOINT = "hexr/authz/decision";
export const ALLOW_ENTRYPOINT = "hexr/authz/allow";

/** 64 KiB pages; 2048 = 128 MiB ceiling for one policy instance's heap. */
export const MAX_MEMORY_PAGES = 2048;
export const INITIAL_MEMORY_PAGES = 5;
/** Reasons are echoed to clients and audit lines: bounded in number and length. */
export const MAX_REASONS = 16;
export const MAX_REASON_LENGTH = 256;

export interface Decision {
  readonly allow: boolean;
  readonly reasons: readonly string[];
  /**
   * With an allow: what a credential issued for this call may touch (provider-specific names, ARNs for
   * AWS). The credential stage narrows the credential to them; absent means the role's own permissions.
   */
  readonly resources?: readonly string[];
  /** With an allow: the credential lifetime this call asks for (seconds, within the provider's bounds). */
  readonly credentialSeconds?: number;
}

/** Scopes are echoed into session policies: bounded like reasons, and a malformed one is an error, not "none". */
export const MAX_DECISION_RESOURCES = 32;
export const MAX_DECISION_RESOURCE_LENGTH = 1024;
const MAX_CREDENTIAL_SECONDS = 43_200;

function frozen(allow: boolean, reasons: string[]): Decision {
  return Object.freeze({ allow, reasons: Object.freeze(reasons) });
}

const ALLOWED = frozen(true, []);
const DENIED_BY_POLICY = frozen(false, ["denied by policy"]);
const BAD_RESULT = frozen(false, ["policy.bad_result"]);
const EVAL_ERROR = frozen(false, ["policy.eval_error"]);

export interface PolicyEngineSource {
  readonly wasm: Uint8Array;
  readonly data: unknown;
  readonly revision?: string;
}

/** Names of builtins the module imports from the host (ABI: `builtins()` → JSON object name → id). */
function importedBuiltins(policy: LoadedPolicy): string[] {
  type Instance = { exports: { builtins: () => number; opa_json_dump: (addr: number) => number } };
  const wrapped = policy.wasmInstance as unknown as { instance?: Instance };
  const ex = (wrapped.instance ?? (wrapped as unknown as Instance)).exports;
  const addr = ex.opa_json_dump(ex.builtins());
  const mem = new Uint8Array((policy.mem as unknown as { buffer: ArrayBuffer }).buffer);
  let end = addr;
  while (mem[end] !== 0) end++;
  return Object.keys(JSON.parse(new TextDecoder().decode(mem.subarray(addr, end))) as object);
}

function toReasons(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: string[] = [];
  for (const r of v) {
    if (typeof r !== "string") return undefined;
    if (out.length < MAX_REASONS) out.push(r.length > MAX_REASON_LENGTH ? `${r.slice(0, MAX_REASON_LENGTH - 1)}…` : r);
  }
  return out;
}

/** `resources` as returned by a policy: undefined when absent, null when malformed. */
function toResources(v: unknown): readonly string[] | undefined | null {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > MAX_DECISION_RESOURCES) return null;
  for (const r of v)
    if (typeof r !== "string" || r.length === 0 || r.length > MAX_DECISION_RESOURCE_LENGTH) return null;
  return Object.freeze([...(v as string[])]);
}

export class PolicyEngine {
  readonly revision: string;
  /** The entrypoint evaluated: `hexr/authz/decision`, or `hexr/authz/allow` for allow-only policies. */
  readonly entrypoint: string;
  readonly #policy: LoadedPolicy;
  readonly #entrypointId: number;
  readonly #structured: boolean;

  private constructor(policy: LoadedPolicy, entrypoint: string, id: number, revision: string) {
    this.#policy = policy;
    this.entrypoint = entrypoint;
    this.#entrypointId = id;
    this.#structured = entrypoint === DECISION_ENTRYPOINT;
    this.revision = revision;
  }

  /**
   * Instantiates the module and loads data. Throws `bundle.no_entrypoint` when the module has neither
   * entrypoint, `bundle.unsupported_builtin` when it needs a builtin this engine cannot provide, and
   * `bundle.bad_wasm` when instantiation fails.
   */
  static async load(src: PolicyEngineSource): Promise<PolicyEngine> {
    let policy: LoadedPolicy;
    try {
      policy = await loadPolicy(src.wasm, { initial: INITIAL_MEMORY_PAGES, maximum: MAX_MEMORY_PAGES }, HOST_BUILTINS);
    } catch (e) {
      throw new HexrError("bundle.bad_wasm", "policy.wasm failed to instantiate", { cause: e });
    }
    const missing = importedBuiltins(policy).filter((b) => !SDK_BUILTINS.has(b) && !Object.hasOwn(HOST_BUILTINS, b));
    if (missing.length > 0) {
      throw new HexrError(
        "bundle.unsupported_builtin",
        `policy needs builtins the WASM engine lacks: ${missing.join(", ")}`,
      );
    }
    const entrypoints = policy.entrypoints as Record<string, number>;
    const entrypoint = Object.hasOwn(entrypoints, DECISION_ENTRYPOINT)
      ? DECISION_ENTRYPOINT
      : Object.hasOwn(entrypoints, ALLOW_ENTRYPOINT)
        ? ALLOW_ENTRYPOINT
        : undefined;
    if (entrypoint === undefined) {
      throw new HexrError(
        "bundle.no_entrypoint",
        `policy.wasm has neither ${DECISION_ENTRYPOINT} nor ${ALLOW_ENTRYPOINT}`,
      );
    }
    try {
      policy.setData((src.data ?? {}) as object);
    } catch (e) {
      throw new HexrError("bundle.bad_data", "bundle data could not be loaded into the policy", { cause: e });
    }
    return new PolicyEngine(policy, entrypoint, entrypoints[entrypoint] as number, src.revision ?? "");
  }

  /** Evaluates one input. Never throws; results are frozen and safe to cache and share. */
  evaluate(input: object): Decision {
    let rs: unknown;
    try {
      rs = this.#policy.evaluate(input, this.#entrypointId);
    } catch {
      // opa_abort, a host builtin throwing, or memory exhaustion: deny, never allow by accident.
      return EVAL_ERROR;
    }
    if (!Array.isArray(rs)) return BAD_RESULT;
    if (rs.length === 0) return this.#structured ? BAD_RESULT : DENIED_BY_POLICY; // undefined document
    if (rs.length !== 1) return BAD_RESULT;
    const result = (rs[0] as { result?: unknown } | null)?.result;
    if (!this.#structured) {
      if (result === true) return ALLOWED;
      return result === false ? DENIED_BY_POLICY : BAD_RESULT;
    }
    if (result === null || typeof result !== "object") return BAD_RESULT;
    const { allow, reasons, resources, credential_seconds } = result as {
      allow?: unknown;
      reasons?: unknown;
      resources?: unknown;
      credential_seconds?: unknown;
    };
    const list = toReasons(reasons);
    if (typeof allow !== "boolean" || list === undefined) return BAD_RESULT;
    if (allow) {
      if (resources === undefined && credential_seconds === undefined) {
        return list.length === 0 ? ALLOWED : frozen(true, list);
      }
      // a scope the policy got wrong must never turn into an unscoped credential: the decision is an error
      const scope = toResources(resources);
      const seconds = credential_seconds;
      if (scope === null) return BAD_RESULT;
      if (
        seconds !== undefined &&
        (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_CREDENTIAL_SECONDS)
      ) {
        return BAD_RESULT;
      }
      return Object.freeze({
        allow: true,
        reasons: Object.freeze(list),
        ...(scope ? { resources: scope } : {}),
        ...(seconds !== undefined ? { credentialSeconds: seconds } : {}),
      });
    }
    return list.length === 0 ? DENIED_BY_POLICY : frozen(false, list);
  }
}

/**
 * Names derived from the verified caller: role (or service account) templates and AWS session names and
 * policies. Everything here is deterministic, so the same caller always maps to the same cloud identity and
 * cache key, and nothing a request carries can change it.
 *
 * @example
 *   fillTemplate("arn:aws:iam::123456789012:role/hexr-{tenant}-{role}", caller, "aws.role_arn");
 *   roleSessionName("spiffe://hexr.cloud/agent/acme/crew/researcher"); // "acme.crew.researcher-3f9c0b1e2a"
 */
import { createHash } from "node:crypto";
import { HexrError } from "../errors.ts";
import type { Caller } from "./types.ts";

/** AWS `RoleSessionName`: 2–64 characters of `[\w+=,.@-]`. */
export const MAX_SESSION_NAME = 64;
const SESSION_HASH_CHARS = 10;
const SESSION_NAME_CHARS = /[^\w+=,.@-]/g;
/** AWS limit on an inline session policy (plain text, before AWS packs it). */
export const MAX_SESSION_POLICY_CHARS = 2048;
export const MAX_RESOURCES = 32;
export const MAX_RESOURCE_CHARS = 1024;

const PLACEHOLDERS: Record<string, (c: Caller) => string> = {
  tenant: (c) => c.tenant,
  agent: (c) => c.agent,
  role: (c) => c.role,
  trust_domain: (c) => c.trustDomain,
};
const PLACEHOLDER = /\{([a-z_]+)\}/g;

/** Checks a template's placeholders once, at config load (`field` names it in the error). */
export function checkTemplate(template: string, field: string): void {
  const rest = template.replace(PLACEHOLDER, "");
  if (rest.includes("{") || rest.includes("}")) {
    throw new HexrError("config.invalid", `${field}: a brace that is not a {placeholder} (lowercase names only)`);
  }
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (!Object.hasOwn(PLACEHOLDERS, m[1] as string)) {
      throw new HexrError(
        "config.invalid",
        `${field}: unknown placeholder {${m[1]}} (allowed: ${Object.keys(PLACEHOLDERS).join(", ")})`,
      );
    }
  }
}

/**
 * Fills `{tenant}`, `{agent}`, `{role}`, `{trust_domain}` from the caller. SPIFFE ID segments are
 * `[A-Za-z0-9._-]`, so a caller cannot inject template syntax or ARN separators; `valid` still checks the
 * result (a name too long for the cloud fails closed with `credentials.bad_template`).
 */
export function fillTemplate(template: string, caller: Caller, what: string, valid: RegExp): string {
  const out = template.replace(PLACEHOLDER, (_, name: string) => (PLACEHOLDERS[name] as (c: Caller) => string)(caller));
  if (!valid.test(out)) {
    throw new HexrError("credentials.bad_template", `${what}: the caller's names do not make a valid value`);
  }
  return out;
}

/**
 * AWS `RoleSessionName` for a SPIFFE ID: the path after `/agent/` with `/` as `.`, then `-` and 10 hex
 * characters of the SPIFFE ID's SHA-256. The readable part shows up in CloudTrail as is; the hash keeps two
 * IDs apart that would otherwise read the same (another trust domain, a `.` inside a segment, truncation).
 */
export function roleSessionName(spiffeId: string): string {
  const hash = createHash("sha256").update(spiffeId).digest("hex").slice(0, SESSION_HASH_CHARS);
  const pathStart = spiffeId.indexOf("/", "spiffe://".length);
  let path = pathStart === -1 ? "" : spiffeId.slice(pathStart + 1);
  if (path.startsWith("agent/")) path = path.slice("agent/".length);
  const readable = path.replaceAll("/", ".").replace(SESSION_NAME_CHARS, "_");
  const room = MAX_SESSION_NAME - SESSION_HASH_CHARS - 1;
  return readable.length === 0 ? `hexr-${hash}` : `${readable.slice(0, room)}-${hash}`;
}

/**
 * The inline session policy that narrows a role to what the policy decision named: the request's actions
 * on those resources only. Undefined when the decision named no resources (the role's own permissions
 * apply). Throws `credentials.scope_too_large` past AWS's size limit and `credentials.empty_scope` for an
 * empty list: never a broader credential instead.
 */
export function awsSessionPolicy(
  actions: readonly string[],
  resources: readonly string[] | undefined,
): string | undefined {
  if (resources === undefined) return undefined;
  // a policy that scoped the call to nothing allowed nothing: never read [] as "unscoped"
  if (resources.length === 0) {
    throw new HexrError("credentials.empty_scope", "the policy scoped this call to no resources");
  }
  const doc = JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: [...actions], Resource: [...resources] }],
  });
  if (doc.length > MAX_SESSION_POLICY_CHARS) {
    throw new HexrError(
      "credentials.scope_too_large",
      `session policy over ${MAX_SESSION_POLICY_CHARS} characters (name fewer resources, or wildcards)`,
    );
  }
  return doc;
}

/**
 * Maps a SPIFFE ID to the agent principal the rest of the data plane reasons about (the OPA input's
 * `spiffe_id`, `tenant`, `agent`, `role`). Hexr agent IDs have the shape
 * `spiffe://<trust-domain>/agent/<tenant>/<agent>/<role>[/<sub-agent>…]`.
 */
import { HexrError } from "../errors.ts";
import type { SpiffeId } from "./spiffe-id.ts";

/** First path segment of every agent SPIFFE ID. */
export const AGENT_PATH_PREFIX = "agent";

/** Who is calling, as policy sees it. */
export interface Principal {
  /** The full SPIFFE ID, e.g. `spiffe://hexr.cloud/agent/acme-corp/content-crew/researcher`. */
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly tenant: string;
  readonly agent: string;
  readonly role: string;
  /** Segments after the role: per-process sub-agents. Empty for the agent itself. */
  readonly subPath: readonly string[];
}

const NO_SUB_PATH: readonly string[] = Object.freeze([]);

/**
 * Reads tenant, agent and role out of an agent SPIFFE ID; extra trailing segments go to `subPath`.
 *
 * @throws HexrError `identity.not_agent_id` when the path is not `/agent/<tenant>/<agent>/<role>[/…]`.
 * @example
 *   const p = principalFromSpiffeId(parseSpiffeId("spiffe://hexr.cloud/agent/acme/crew/researcher/w1"));
 *   // { tenant: "acme", agent: "crew", role: "researcher", subPath: ["w1"], … }
 */
export function principalFromSpiffeId(id: SpiffeId): Principal {
  const seg = id.segments;
  const [prefix, tenant, agent, role] = seg;
  if (prefix !== AGENT_PATH_PREFIX || tenant === undefined || agent === undefined || role === undefined) {
    throw new HexrError(
      "identity.not_agent_id",
      "SPIFFE ID path must be /agent/<tenant>/<agent>/<role>[/<sub-agent>...]",
    );
  }
  return Object.freeze({
    spiffeId: id.uri,
    trustDomain: id.trustDomain,
    tenant,
    agent,
    role,
    subPath: seg.length === 4 ? NO_SUB_PATH : Object.freeze(seg.slice(4)),
  });
}

/**
 * Guard policy: per scanner an action and a threshold, plus the input size cap. Parsed once from
 * YAML/JSON (or a route's config block) into a frozen, fully-defaulted value; scanning never re-validates.
 *
 * @example
 *   const p = parseGuardPolicy({ scanners: { pii: { action: "redact", threshold: 0.6 } } });
 *   p.scanners.secret.action; // "block" (default)
 */
import type { CountryCode } from "libphonenumber-js/max";
import { HexrError } from "../errors.ts";
import { FINDING_TYPES, type FindingType } from "./types.ts";

export type GuardAction = "block" | "redact" | "annotate" | "off";

export interface ScannerPolicy {
  readonly action: GuardAction;
  /** Findings scoring at or above this trigger the action. In [0, 1]. */
  readonly threshold: number;
}

export interface GuardPolicy {
  /** Largest input scanned, in UTF-8 bytes; larger inputs throw `guard.too_large` (the caller's fail mode). */
  readonly maxBytes: number;
  readonly scanners: Readonly<Record<FindingType, ScannerPolicy>>;
  /** Region for phone numbers written without `+country`. */
  readonly phoneRegion: CountryCode;
}

export const DEFAULT_MAX_BYTES = 256 * 1024;
export const DEFAULT_THRESHOLD = 0.5;
export const DEFAULT_PHONE_REGION: CountryCode = "US";

export const DEFAULT_GUARD_POLICY: GuardPolicy = Object.freeze({
  maxBytes: DEFAULT_MAX_BYTES,
  phoneRegion: DEFAULT_PHONE_REGION,
  scanners: Object.freeze({
    prompt_injection: Object.freeze({ action: "block", threshold: DEFAULT_THRESHOLD }),
    secret: Object.freeze({ action: "block", threshold: DEFAULT_THRESHOLD }),
    pii: Object.freeze({ action: "redact", threshold: DEFAULT_THRESHOLD }),
    invisible_text: Object.freeze({ action: "redact", threshold: DEFAULT_THRESHOLD }),
  }),
} satisfies GuardPolicy);

const ACTIONS: readonly GuardAction[] = ["block", "redact", "annotate", "off"];

function bad(message: string): HexrError {
  return new HexrError("guard.bad_policy", message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function scannerPolicy(name: string, raw: unknown, base: ScannerPolicy): ScannerPolicy {
  if (typeof raw === "string") raw = { action: raw };
  if (!isObject(raw)) throw bad(`scanners.${name} must be an object with action and threshold`);
  for (const k of Object.keys(raw))
    if (k !== "action" && k !== "threshold") throw bad(`scanners.${name}.${k} is not a known option`);
  const action = raw.action ?? base.action;
  if (typeof action !== "string" || !ACTIONS.includes(action as GuardAction))
    throw bad(`scanners.${name}.action must be one of ${ACTIONS.join(", ")}`);
  const threshold = raw.threshold ?? base.threshold;
  if (typeof threshold !== "number" || !(threshold >= 0 && threshold <= 1))
    throw bad(`scanners.${name}.threshold must be a number in [0, 1]`);
  return Object.freeze({ action: action as GuardAction, threshold });
}

/**
 * Validate a policy object (from YAML/JSON) and fill defaults from `base`. Unknown keys are errors, so
 * a typo never silently disables a scanner. Throws `HexrError` `guard.bad_policy` naming the option.
 */
export function parseGuardPolicy(raw: unknown, base: GuardPolicy = DEFAULT_GUARD_POLICY): GuardPolicy {
  if (raw === undefined || raw === null) return base;
  if (!isObject(raw)) throw bad("policy must be an object");
  for (const k of Object.keys(raw))
    if (k !== "maxBytes" && k !== "scanners" && k !== "phoneRegion")
      throw bad(`${k} is not a known option (maxBytes, scanners, phoneRegion)`);
  const maxBytes = raw.maxBytes ?? base.maxBytes;
  if (typeof maxBytes !== "number" || !Number.isInteger(maxBytes) || maxBytes <= 0)
    throw bad("maxBytes must be a positive integer");
  const phoneRegion = raw.phoneRegion ?? base.phoneRegion;
  if (typeof phoneRegion !== "string" || !/^[A-Z]{2}$/.test(phoneRegion))
    throw bad("phoneRegion must be an ISO 3166 alpha-2 code such as US");
  const scannersRaw = raw.scanners ?? {};
  if (!isObject(scannersRaw)) throw bad("scanners must be an object");
  for (const k of Object.keys(scannersRaw))
    if (!FINDING_TYPES.includes(k as FindingType))
      throw bad(`scanners.${k} is not a scanner (${FINDING_TYPES.join(", ")})`);
  const scanners = {} as Record<FindingType, ScannerPolicy>;
  for (const t of FINDING_TYPES)
    scanners[t] = scannersRaw[t] === undefined ? base.scanners[t] : scannerPolicy(t, scannersRaw[t], base.scanners[t]);
  return Object.freeze({ maxBytes, phoneRegion: phoneRegion as CountryCode, scanners: Object.freeze(scanners) });
}

/**
 * Guard policy: per scanner an action, a threshold and which subtypes count, plus the input size cap and
 * the phone regions. Parsed once from YAML/JSON (or a route's config block) into a frozen,
 * fully-defaulted value with subtype lists resolved to Sets; scanning never re-validates.
 *
 * @example
 *   const p = parseGuardPolicy({
 *     scanners: { pii: { action: "redact", threshold: 0.6, disable: ["ipv4", "ipv6"] } },
 *     phoneRegions: ["GB", "IE"],
 *   });
 *   p.scanners.secret.action; // "block" (default)
 *   subtypeEnabled(p.scanners.pii, "ipv4"); // false
 */
import type { CountryCode } from "libphonenumber-js/max";
import { HexrError } from "../errors.ts";
import { PII_SUBTYPE_GROUPS, PII_SUBTYPES } from "./pii-subtypes.ts";
import { FINDING_TYPES, type FindingType } from "./types.ts";

export type GuardAction = "block" | "redact" | "annotate" | "off";

export interface ScannerPolicy {
  readonly action: GuardAction;
  /** Findings scoring at or above this trigger the action. In [0, 1]. */
  readonly threshold: number;
  /** Only these subtypes are reported (`subtypes:`, groups expanded); null = all. */
  readonly subtypes: ReadonlySet<string> | null;
  /** These subtypes are never reported (`disable:`); null = none. */
  readonly disabled: ReadonlySet<string> | null;
}

export interface GuardPolicy {
  /** Largest input scanned, in UTF-8 bytes; larger inputs throw `guard.too_large` (the caller's fail mode). */
  readonly maxBytes: number;
  readonly scanners: Readonly<Record<FindingType, ScannerPolicy>>;
  /** Regions tried, in order, for phone numbers written without `+country`. */
  readonly phoneRegions: readonly CountryCode[];
}

export const DEFAULT_MAX_BYTES = 256 * 1024;
export const DEFAULT_THRESHOLD = 0.5;
/**
 * National phone formats tried by default: the countries of the languages the guard's lexicons cover
 * (English, German, French, Spanish, Italian, Dutch, Portuguese, Hindi/English) and the largest
 * English-speaking ones. Order is only speed: the first region that validates a number wins.
 */
export const DEFAULT_PHONE_REGIONS: readonly CountryCode[] = Object.freeze([
  "US",
  "GB",
  "DE",
  "FR",
  "IN",
  "BR",
  "ES",
  "IT",
  "NL",
  "CA",
  "AU",
] satisfies CountryCode[]);
/** At most this many phone regions per policy (each costs a metadata parse per national number). */
export const MAX_PHONE_REGIONS = 16;

/**
 * The regions libphonenumber has metadata for (libphonenumber-js `getCountries()`, checked by a unit
 * test), kept here so parsing a policy does not load the phone metadata.
 */
const PHONE_REGION_CODES: ReadonlySet<string> = new Set(
  (
    "AC AD AE AF AG AI AL AM AO AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BW BY BZ " +
    "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM " +
    "FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GT GU GW GY HK HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE " +
    "JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN " +
    "MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PR PS PT " +
    "PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TA TC TD TG TH TJ TK " +
    "TL TM TN TO TR TT TV TW TZ UA UG US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW"
  ).split(" "),
);

/** Every phone region the policy accepts (for the test that pins it to libphonenumber's list). */
export function phoneRegionCodes(): readonly string[] {
  return [...PHONE_REGION_CODES];
}

function scanner(action: GuardAction): ScannerPolicy {
  return Object.freeze({ action, threshold: DEFAULT_THRESHOLD, subtypes: null, disabled: null });
}

export const DEFAULT_GUARD_POLICY: GuardPolicy = Object.freeze({
  maxBytes: DEFAULT_MAX_BYTES,
  phoneRegions: DEFAULT_PHONE_REGIONS,
  scanners: Object.freeze({
    prompt_injection: scanner("block"),
    secret: scanner("block"),
    pii: scanner("redact"),
    invisible_text: scanner("redact"),
  }),
} satisfies GuardPolicy);

/** Whether findings of `subtype` count under `p` (its `subtypes` allow-list and `disable` list). */
export function subtypeEnabled(p: ScannerPolicy, subtype: string): boolean {
  return (p.subtypes === null || p.subtypes.has(subtype)) && (p.disabled === null || !p.disabled.has(subtype));
}

const ACTIONS: readonly GuardAction[] = ["block", "redact", "annotate", "off"];

function bad(message: string): HexrError {
  return new HexrError("guard.bad_policy", message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const SCANNER_KEYS = ["action", "threshold", "subtypes", "disable"];
const PII_NAMES: ReadonlySet<string> = new Set(PII_SUBTYPES);
/** Subtype names of the other scanners are their rule names; their vocabularies live with the rules. */
const SUBTYPE_NAME = /^[a-z0-9_]{1,64}$/;

/** A `subtypes` / `disable` list as a Set, groups expanded; PII names checked against the scanner's own. */
function subtypeSet(type: FindingType, key: string, raw: unknown): ReadonlySet<string> {
  const where = `scanners.${type}.${key}`;
  if (!Array.isArray(raw) || raw.length === 0) throw bad(`${where} must be a non-empty list of subtypes`);
  const out = new Set<string>();
  for (const v of raw) {
    if (typeof v !== "string" || !SUBTYPE_NAME.test(v)) throw bad(`${where} entries must be subtype names`);
    if (type !== "pii") out.add(v);
    else if (PII_SUBTYPE_GROUPS[v] !== undefined) for (const g of PII_SUBTYPE_GROUPS[v]) out.add(g);
    else if (PII_NAMES.has(v)) out.add(v);
    else
      throw bad(
        `${where}: ${v} is not a PII subtype (${[...PII_NAMES, ...Object.keys(PII_SUBTYPE_GROUPS)].join(", ")})`,
      );
  }
  return out;
}

function scannerPolicy(name: FindingType, raw: unknown, base: ScannerPolicy): ScannerPolicy {
  if (typeof raw === "string") raw = { action: raw };
  if (!isObject(raw)) throw bad(`scanners.${name} must be an object with action and threshold`);
  for (const k of Object.keys(raw))
    if (!SCANNER_KEYS.includes(k))
      throw bad(`scanners.${name}.${k} is not a known option (${SCANNER_KEYS.join(", ")})`);
  const action = raw.action ?? base.action;
  if (typeof action !== "string" || !ACTIONS.includes(action as GuardAction))
    throw bad(`scanners.${name}.action must be one of ${ACTIONS.join(", ")}`);
  const threshold = raw.threshold ?? base.threshold;
  if (typeof threshold !== "number" || !(threshold >= 0 && threshold <= 1))
    throw bad(`scanners.${name}.threshold must be a number in [0, 1]`);
  const subtypes = raw.subtypes === undefined ? base.subtypes : subtypeSet(name, "subtypes", raw.subtypes);
  const disabled = raw.disable === undefined ? base.disabled : subtypeSet(name, "disable", raw.disable);
  return Object.freeze({ action: action as GuardAction, threshold, subtypes, disabled });
}

/** `phoneRegions: [..]`, or the older `phoneRegion: XX`; each a region libphonenumber knows. */
function phoneRegions(raw: Record<string, unknown>, base: readonly CountryCode[]): readonly CountryCode[] {
  if (raw.phoneRegion !== undefined && raw.phoneRegions !== undefined)
    throw bad("phoneRegion and phoneRegions are one option: use phoneRegions");
  const list = raw.phoneRegions ?? (raw.phoneRegion === undefined ? undefined : [raw.phoneRegion]);
  if (list === undefined) return base;
  const name = raw.phoneRegions === undefined ? "phoneRegion" : "phoneRegions";
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_PHONE_REGIONS)
    throw bad(`phoneRegions must be a list of 1 to ${MAX_PHONE_REGIONS} regions such as [US, GB]`);
  const out: CountryCode[] = [];
  for (const r of list) {
    if (typeof r !== "string" || !PHONE_REGION_CODES.has(r))
      throw bad(`${name} entries must be ISO 3166 alpha-2 codes with phone metadata, such as US or GB (not UK)`);
    if (!out.includes(r as CountryCode)) out.push(r as CountryCode);
  }
  return Object.freeze(out);
}

/**
 * Validate a policy object (from YAML/JSON) and fill defaults from `base`. Unknown keys are errors, so
 * a typo never silently disables a scanner. Throws `HexrError` `guard.bad_policy` naming the option.
 */
export function parseGuardPolicy(raw: unknown, base: GuardPolicy = DEFAULT_GUARD_POLICY): GuardPolicy {
  if (raw === undefined || raw === null) return base;
  if (!isObject(raw)) throw bad("policy must be an object");
  for (const k of Object.keys(raw))
    if (k !== "maxBytes" && k !== "scanners" && k !== "phoneRegions" && k !== "phoneRegion")
      throw bad(`${k} is not a known option (maxBytes, scanners, phoneRegions)`);
  const maxBytes = raw.maxBytes ?? base.maxBytes;
  if (typeof maxBytes !== "number" || !Number.isInteger(maxBytes) || maxBytes <= 0)
    throw bad("maxBytes must be a positive integer");
  const regions = phoneRegions(raw, base.phoneRegions);
  const scannersRaw = raw.scanners ?? {};
  if (!isObject(scannersRaw)) throw bad("scanners must be an object");
  for (const k of Object.keys(scannersRaw))
    if (!FINDING_TYPES.includes(k as FindingType))
      throw bad(`scanners.${k} is not a scanner (${FINDING_TYPES.join(", ")})`);
  const scanners = {} as Record<FindingType, ScannerPolicy>;
  for (const t of FINDING_TYPES)
    scanners[t] = scannersRaw[t] === undefined ? base.scanners[t] : scannerPolicy(t, scannersRaw[t], base.scanners[t]);
  return Object.freeze({ maxBytes, phoneRegions: regions, scanners: Object.freeze(scanners) });
}

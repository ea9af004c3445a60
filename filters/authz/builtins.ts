/**
 * Rego builtins the OPA WASM target does not compile natively and the opa-wasm SDK does not ship
 * (checked against OPA 1.22: `time.parse_rfc3339_ns` and `time.clock` are imported by the module
 * from the host). Semantics follow OPA's Go implementation; an argument Go would reject returns
 * `undefined`, which the module treats as an undefined expression (as `opa eval` does for a builtin
 * error in non-strict mode), so the policy's own "invalid timestamp" rule fires.
 *
 * Numbers cross the WASM boundary as JSON doubles: nanosecond timestamps are exact for whole seconds
 * (what the sidecar sends) and within a few hundred nanoseconds otherwise.
 */

/** Builtins the installed opa-wasm SDK implements itself (`src/builtins/*.js`). */
export const SDK_BUILTINS: ReadonlySet<string> = new Set([
  "sprintf",
  "json.is_valid",
  "regex.split",
  "yaml.is_valid",
  "yaml.marshal",
  "yaml.unmarshal",
]);

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;
const NS_PER_MS = 1_000_000;
// int64 nanoseconds span 1677-09-21 .. 2262-04-11; Go's UnixNano is undefined outside it.
const MIN_MS = -9_223_372_036_854;
const MAX_MS = 9_223_372_036_854;
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"] as const;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** RFC 3339 → nanoseconds since the epoch, or undefined where Go's time.Parse(time.RFC3339) fails. */
export function parseRfc3339Ns(s: unknown): number | undefined {
  if (typeof s !== "string") return undefined;
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMin = 0;
  if (m[8]) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (m[8] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day); // setUTCFullYear keeps years 0000-0099 literal
  d.setUTCHours(hour, minute, second, 0);
  const ms = d.getTime() - offsetMin * 60_000;
  if (ms < MIN_MS || ms > MAX_MS) return undefined;
  const frac = m[7] ? Number(m[7].padEnd(9, "0")) : 0;
  return ms * NS_PER_MS + frac;
}

interface Civil {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();
const MAX_ZONES = 64;

function zoneFormat(tz: string): Intl.DateTimeFormat | undefined {
  let f = zoneFormats.get(tz);
  if (f) return f;
  try {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      weekday: "long",
    });
  } catch {
    return undefined;
  }
  if (zoneFormats.size >= MAX_ZONES) zoneFormats.clear();
  zoneFormats.set(tz, f);
  return f;
}

/** `x` is ns or `[ns, tz]` (tz: "" / "UTC" / "Local" / IANA name), as in OPA's time.* builtins. */
function civil(x: unknown): Civil | undefined {
  let ns: unknown = x;
  let tz = "UTC";
  if (Array.isArray(x)) {
    if (x.length !== 2 || typeof x[1] !== "string") return undefined;
    ns = x[0];
    tz = x[1] === "" ? "UTC" : x[1];
  }
  if (typeof ns !== "number" || !Number.isFinite(ns)) return undefined;
  const d = new Date(Math.floor(ns / NS_PER_MS));
  if (Number.isNaN(d.getTime())) return undefined;
  if (tz === "UTC") {
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      weekday: d.getUTCDay(),
    };
  }
  if (tz === "Local") {
    return {
      year: d.getFullYear(),
      month: d.getMonth() + 1,
      day: d.getDate(),
      hour: d.getHours(),
      minute: d.getMinutes(),
      second: d.getSeconds(),
      weekday: d.getDay(),
    };
  }
  const f = zoneFormat(tz);
  if (!f) return undefined;
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(d)) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS.indexOf(parts.weekday as (typeof WEEKDAYS)[number]),
  };
}

/** Host implementations handed to `loadPolicy` as custom builtins. */
export const HOST_BUILTINS: Readonly<Record<string, (...args: unknown[]) => unknown>> = Object.freeze({
  "time.parse_rfc3339_ns": (s: unknown) => parseRfc3339Ns(s),
  "time.clock": (x: unknown) => {
    const c = civil(x);
    return c && [c.hour, c.minute, c.second];
  },
  "time.date": (x: unknown) => {
    const c = civil(x);
    return c && [c.year, c.month, c.day];
  },
  "time.weekday": (x: unknown) => {
    const c = civil(x);
    return c && WEEKDAYS[c.weekday];
  },
  // Policies should take time from input.timestamp; this exists so seed-style policies still load.
  "time.now_ns": () => Date.now() * NS_PER_MS,
});

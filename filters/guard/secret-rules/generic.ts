/**
 * Generic assignments: `password = …`, `DB_PASSWORD: …`, `"client_secret": "…"`, `api_key=…`,
 * `<password>…</password>`, `--password …`, "the password is …". A context word inside an identifier,
 * an assignment operator, then a value that looks like a secret: not a placeholder, template, env or
 * code reference, function call, boolean, number, keyword or sequence, with enough character classes
 * and entropy. Scores stay low (0.35–0.65): a route that blocks only provider formats sets a secret
 * threshold above them.
 *
 * Cost: the identifier is read at most IDENT_MAX either side of the word and the value at most
 * VALUE_MAX: a constant per trigger.
 */
import type { Finding } from "../types.ts";
import { entropy, isAsciiAlnum, isDigit, looksPlaceholder } from "../text-util.ts";
import { type DetectorRule, TEMPLATE_ALPHABETS } from "./rule.ts";

/**
 * Context words, matched case-insensitively at a word start (`DB_PASSWORD`), and in camelCase by their
 * capitalized spelling (`dbPassword`, `clientSecret`; see secrets.ts).
 */
export const PASSWORD_WORDS = ["password", "passwd", "passphrase", "pwd", "pass"] as const;
export const SECRET_WORDS = [
  "secret",
  "token",
  "api_key",
  "apikey",
  "api-key",
  "access_key",
  "private_key",
  "credential",
] as const;
/** `Authorization: Bearer …` / `Basic …`, a bare `Bearer …`, and `auth = …` (read as a generic secret). */
export const HEADER_WORDS = ["authorization", "bearer", "auth"] as const;
/** `*_KEY=…` is read more strictly: `key` names many things that are not secrets. */
export const GENERIC_WORDS: readonly string[] = [...PASSWORD_WORDS, ...SECRET_WORDS, ...HEADER_WORDS, "key"];

/** More names that `key` is part of without being a secret. */
const NOT_A_SECRET_KEY = [
  "public",
  "publish",
  "primary",
  "foreign",
  "sort",
  "partition",
  "cache",
  "idempot",
  "board",
  "keyword",
  "monkey",
  "turkey",
  "hotkey",
  "shortcut",
  "region",
  "lookup",
  "unique",
  "dedup",
  "map_key",
  "keys",
];

/** Authorization schemes that precede the credential. */
const SCHEMES = ["bearer", "token", "basic", "ssws", "apikey", "api-key", "key"];

const IDENT_MAX = 40;
const VALUE_MAX = 200;

/** Identifier parts that name something about a secret rather than the secret. */
const NOT_A_SECRET_NAME = [
  "hash",
  "length",
  "_len",
  "min",
  "max",
  "policy",
  "field",
  "input",
  "label",
  "prompt",
  "regex",
  "pattern",
  "file",
  "path",
  "name",
  "type",
  "url",
  "uri",
  "endpoint",
  "expir",
  "ttl",
  "count",
  "limit",
  "reset",
  "confirm",
  "forgot",
  "strength",
  "valid",
  "placeholder",
  "mode",
  "format",
  "header",
  "usage",
  "budget",
  "tokens",
  "tokeniz",
  "bypass",
  "compass",
  "passport",
  "passeng",
  "passage",
  "passive",
  "passthrough",
  "hint",
  "secretary",
  "_ref",
  "manager",
  "provider",
  "store",
  "keyring",
  "vault",
  "arn",
  "_id",
  "enabled",
  "required",
  "_key_id",
];

/** Values that are words, not secrets. */
const NOT_A_SECRET_VALUE = new Set([
  "true",
  "false",
  "null",
  "none",
  "nil",
  "undefined",
  "yes",
  "no",
  "on",
  "off",
  "required",
  "optional",
  "string",
  "str",
  "text",
  "int",
  "integer",
  "boolean",
  "bool",
  "secret",
  "password",
  "passwd",
  "changeme",
  "hidden",
  "redacted",
  "empty",
  "default",
  "test",
  "testing",
  "dummy",
  "sample",
  "qwerty",
  "qwertyuiop",
  "asdfgh",
  "letmein",
  "admin",
  "administrator",
  "root",
  "guest",
  "tbd",
  "todo",
  "unknown",
  "notset",
  "not-set",
  "unset",
  "masked",
  "mypassword",
  "yourpassword",
  "p@ssw0rd",
  "password123",
  "secret123",
]);

const isIdent = (u: number): boolean => isAsciiAlnum(u) || u === 0x5f || u === 0x2e || u === 0x2d;
const isBlank = (u: number): boolean => u === 0x20 || u === 0x09;
const isQuote = (u: number): boolean => u === 0x22 || u === 0x27 || u === 0x60;
/** Where an unquoted value ends. */
const endsValue = (u: number): boolean =>
  u <= 0x20 ||
  u === 0x2c ||
  u === 0x3b ||
  u === 0x26 ||
  u === 0x29 ||
  u === 0x7d ||
  u === 0x5d ||
  u === 0x22 ||
  u === 0x27 ||
  u === 0x3c ||
  u === 0x3e ||
  u === 0x60;

/** Whether `t[s - 2, s)` is a `\\n`, `\\r` or `\\t` escape (text inside a JSON or shell string): the name starts after it. */
function escapeBefore(t: string, s: number): boolean {
  const u = t.charCodeAt(s - 1);
  return t.charCodeAt(s - 2) === 0x5c && (u === 0x6e || u === 0x72 || u === 0x74);
}

/** Whether most neighbours differ by one (`abcdef123456`, `987654`). */
function sequential(t: string, s: number, e: number): boolean {
  let steps = 0;
  for (let i = s + 1; i < e; i++) {
    const d = t.charCodeAt(i) - t.charCodeAt(i - 1);
    if (d === 1 || d === -1) steps++;
  }
  return steps >= (e - s - 1) * 0.6;
}

/** `a.b.c` / `process.env.X` / `settings.DB_PASSWORD`: a code reference, not a value. */
function codeReference(t: string, s: number, e: number): boolean {
  let dots = 0;
  let segStart = true;
  for (let i = s; i < e; i++) {
    const u = t.charCodeAt(i);
    if (u === 0x2e) {
      if (segStart) return false;
      dots++;
      segStart = true;
    } else if (segStart) {
      if (!(isAsciiAlnum(u) || u === 0x5f || u === 0x24) || isDigit(u)) return false;
      segStart = false;
    } else if (!(isAsciiAlnum(u) || u === 0x5f || u === 0x24)) return false;
  }
  return dots > 0 && !segStart;
}

/** `SECRET_KEY`, `db_password`, `api-key`, `MYSECRET`: an identifier (env var, enum, variable), not a value. */
function identifierLike(t: string, s: number, e: number): boolean {
  let upper = 0;
  let lower = 0;
  let sep = 0;
  let digit = 0;
  for (let i = s; i < e; i++) {
    const u = t.charCodeAt(i);
    if (u >= 0x41 && u <= 0x5a) upper++;
    else if (u >= 0x61 && u <= 0x7a) lower++;
    else if (u === 0x5f || u === 0x2d) sep++;
    else if (isDigit(u)) digit++;
    else return false;
  }
  if (sep > 0 && (upper === 0 || lower === 0) && digit <= 2) return true;
  return lower === 0 && digit === 0;
}

/** Character classes present: lower, upper, digit, other. */
function classes(t: string, s: number, e: number): number {
  let m = 0;
  for (let i = s; i < e; i++) {
    const u = t.charCodeAt(i);
    if (u >= 0x61 && u <= 0x7a) m |= 1;
    else if (u >= 0x41 && u <= 0x5a) m |= 2;
    else if (isDigit(u)) m |= 4;
    else m |= 8;
  }
  return (m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1) + ((m >> 3) & 1);
}

function push(out: Finding[], subtype: string, start: number, end: number, score: number): void {
  out.push({ type: "secret", subtype, start, end, score });
}

/**
 * A generic assignment around the context word `text[at, end)` (one of {@link GENERIC_WORDS}).
 * @example genericAssignmentAt('DB_PASSWORD="h7Gq2!LmZ9"', 3, 11, out) // generic_password over h7Gq2!LmZ9
 */
export function genericAssignmentAt(text: string, at: number, end: number, word: string, out: Finding[]): void {
  const password = (PASSWORD_WORDS as readonly string[]).includes(word);
  // the whole identifier around the word
  let s = at;
  while (s > 0 && at - s < IDENT_MAX && isIdent(text.charCodeAt(s - 1)) && !escapeBefore(text, s)) s--;
  let e = end;
  while (e < text.length && e - end < IDENT_MAX && isIdent(text.charCodeAt(e))) e++;
  if (e < text.length && isIdent(text.charCodeAt(e))) return;
  // the word ends a segment of the name (`db_password`, `apiTokenValue`), not a longer word
  // (`AuthenticatedSafe`, `tokenizer`, `passwords`); `credentials` is the exception
  const after = text.charCodeAt(end);
  if (end < e && after >= 0x61 && after <= 0x7a && !(word === "credential" && after === 0x73)) return;
  // the operator
  let k = e;
  const xml = s > 0 && text.charCodeAt(s - 1) === 0x3c && text.charCodeAt(e) === 0x3e;
  let prose = false;
  if (xml) k++;
  else {
    while (k < text.length && k - e < 3 && (isQuote(text.charCodeAt(k)) || text.charCodeAt(k) === 0x5d)) k++;
    const ws0 = k;
    while (k < text.length && k - ws0 < 4 && isBlank(text.charCodeAt(k))) k++;
    const u = text.charCodeAt(k);
    const next = text.charCodeAt(k + 1);
    if (u === 0x3d) {
      if (next === 0x3d || next === 0x7e) return; // == / =~: a comparison
      k += next === 0x3e ? 2 : 1;
    } else if (u === 0x3a) {
      if (next === 0x3a) return; // a path (`Secret::new`)
      k += next === 0x3d ? 2 : 1;
    } else if (k > ws0 && (word === "bearer" || (text.charCodeAt(s) === 0x2d && text.charCodeAt(s + 1) === 0x2d))) {
      // `Bearer <token>`, `--password value`
    } else if (password && k > ws0 && netrc(text, s)) {
      // `.netrc`: `machine host login user password value`
    } else if (
      password &&
      k > ws0 &&
      (u === 0x69 || u === 0x49) &&
      (next === 0x73 || next === 0x53) &&
      isBlank(text.charCodeAt(k + 2))
    ) {
      k += 2; // "the password is …"
      prose = true;
    } else return;
  }
  // a file path (`"/src/secrets.ts": "<hash>"`, `token.json`), not a name holding a secret
  if (s > 0 && (text.charCodeAt(s - 1) === 0x2f || text.charCodeAt(s - 1) === 0x5c)) return;
  if (hasExtension(text, s, e)) return;
  // README badges (`badge.svg?token=…`) embed a public read token
  if (at > 0 && isBadge(text, at)) return;
  // the name, only once an operator follows it (most mentions of the word have none)
  const ident = text.slice(s, e).toLowerCase();
  if (word === "pass" && !ident.endsWith("pass")) return;
  for (const w of NOT_A_SECRET_NAME) if (ident.includes(w)) return;
  if (word === "key") for (const w of NOT_A_SECRET_KEY) if (ident.includes(w)) return;
  const ws1 = k;
  while (k < text.length && k - ws1 < 4 && isBlank(text.charCodeAt(k))) k++;
  let basic = false;
  if (word === "authorization") {
    // `Authorization: Bearer <credential>`: skip the scheme
    const q0 = isQuote(text.charCodeAt(k)) ? 1 : 0;
    let w = k + q0;
    while (w < text.length && w - k < 8 && isAsciiAlnum(text.charCodeAt(w))) w++;
    const scheme = text.slice(k + q0, w).toLowerCase();
    if (SCHEMES.includes(scheme) && isBlank(text.charCodeAt(w))) {
      basic = scheme === "basic";
      if (q0 === 1) {
        basicOrBearer(text, w + 1, out, basic, text.charCodeAt(k));
        return;
      }
      k = w + 1;
    }
  }

  // the value
  let vs = k;
  let ve: number;
  const q = text.charCodeAt(k);
  if (isQuote(q)) {
    vs = k + 1;
    ve = vs;
    while (ve < text.length && ve - vs <= VALUE_MAX && text.charCodeAt(ve) !== q && text.charCodeAt(ve) !== 0x0a) ve++;
    if (text.charCodeAt(ve) !== q) return;
  } else {
    ve = vs;
    while (ve < text.length && ve - vs <= VALUE_MAX && !endsValue(text.charCodeAt(ve)) && !escapeBefore(text, ve + 2))
      ve++;
    if (ve - vs > VALUE_MAX) return;
    if (prose) while (ve > vs && (text.charCodeAt(ve - 1) === 0x2e || text.charCodeAt(ve - 1) === 0x21)) ve--;
    if (xml && !(text.charCodeAt(ve) === 0x3c && text.charCodeAt(ve + 1) === 0x2f)) return; // <password>…</
  }
  if (word === "authorization" || word === "bearer") {
    credentialAt(text, vs, ve, out, basic);
    return;
  }
  if (word === "key" && !strictKeyValue(text, vs, ve)) return;
  if (isSecretValue(text, vs, ve, password)) {
    const n = ve - vs;
    const h = entropy(text, vs, ve);
    const c = classes(text, vs, ve);
    const strong = (n >= 8 && c >= 3 && h >= 2.8) || (n >= 16 && c >= 2 && h >= 3.5) || (n >= 24 && h >= 4.0);
    let score = password ? (strong ? 0.65 : 0.45) : strong ? 0.6 : 0.35;
    if (prose) score -= 0.1;
    push(out, password ? "generic_password" : "generic_secret", vs, ve, score);
  }
}

/** Whether a `.netrc` line leads up to `s` (`machine …` / `login …` in the 64 characters before). */
function netrc(t: string, s: number): boolean {
  const before = t.slice(Math.max(0, s - 64), s);
  return before.includes("login ") || before.includes("machine ");
}

/** Whether the name `t[s, e)` ends like a file name: `.` and 1–4 lower-case letters (`secrets.ts`, `token.json`). */
function hasExtension(t: string, s: number, e: number): boolean {
  for (let k = 1; k <= 5 && e - k > s; k++) {
    const u = t.charCodeAt(e - k);
    if (u === 0x2e) return k > 1;
    if (!(u >= 0x61 && u <= 0x7a)) return false;
  }
  return false;
}

/** Whether the 24 characters before `at` name a badge image (`…/badge.svg?token=`). */
function isBadge(t: string, at: number): boolean {
  const before = t.slice(Math.max(0, at - 24), at).toLowerCase();
  return before.includes("badge") || before.includes(".svg?");
}

/** `*_KEY` values: random-looking, mixed case, long (hex digests and ids after `key` are not reported). */
function strictKeyValue(t: string, s: number, e: number): boolean {
  let upper = false;
  let lower = false;
  for (let i = s; i < e; i++) {
    const u = t.charCodeAt(i);
    if (u >= 0x41 && u <= 0x5a) upper = true;
    else if (u >= 0x61 && u <= 0x7a) lower = true;
  }
  return upper && lower && e - s >= 16 && entropy(t, s, e) >= 3.8;
}

/** After a quoted `"Bearer …"`: the credential runs to the closing quote `q`. */
function basicOrBearer(t: string, s: number, out: Finding[], basic: boolean, q: number): void {
  let e = s;
  while (e < t.length && e - s <= VALUE_MAX && t.charCodeAt(e) !== q && !endsValue(t.charCodeAt(e))) e++;
  if (t.charCodeAt(e) !== q) return;
  credentialAt(t, s, e, out, basic);
}

/** An HTTP credential: Basic must decode to `user:password`; anything else must look random. */
function credentialAt(t: string, s: number, e: number, out: Finding[], basic: boolean): void {
  if (basic) {
    if (e - s < 8 || e - s > VALUE_MAX) return;
    const plain = Buffer.from(t.slice(s, e), "base64").toString("latin1");
    const colon = plain.indexOf(":");
    if (colon < 1 || colon === plain.length - 1) return;
    for (let c = 0; c < plain.length; c++) if (plain.charCodeAt(c) < 0x20 || plain.charCodeAt(c) > 0x7e) return;
    const pw = plain.slice(colon + 1).toLowerCase();
    // `foo:bar`, `user:password`: documentation
    if (pw.length < 6 || pw.includes("password") || NOT_A_SECRET_VALUE.has(pw)) return;
    if (looksPlaceholder(plain, colon + 1, plain.length)) return;
    push(out, "http_basic_auth", s, e, 0.8);
    return;
  }
  if (e - s < 16 || !isSecretValue(t, s, e, false) || entropy(t, s, e) < 3.5) return;
  push(out, "http_bearer_token", s, e, 0.7);
}

function isSecretValue(t: string, s: number, e: number, password: boolean): boolean {
  const n = e - s;
  if (n < (password ? 6 : 8) || n > VALUE_MAX) return false;
  // prose (`"Enter passphrase for …"`), and words or names (`privateKeyAssociatedWithCert`, `_callApiKey`):
  // random tokens hold a digit or a symbol (32 random base62 characters lack both 0.4 % of the time)
  let letters = 0;
  for (let i = s; i < e; i++) {
    const u = t.charCodeAt(i);
    if (u === 0x20 || u === 0x09) return false;
    if ((u >= 0x41 && u <= 0x5a) || (u >= 0x61 && u <= 0x7a) || u === 0x5f || u === 0x2d || u === 0x2e) letters++;
  }
  if (letters === n && !(password && isQuote(t.charCodeAt(s - 1)))) return false;
  const c0 = t.charCodeAt(s);
  // `$VAR`, `%VAR%`, `{{x}}`, `<password>`, `[…]`, `(…)`, `*****`, `#{x}`, `@var`
  if (c0 === 0x24 || c0 === 0x25 || c0 === 0x7b || c0 === 0x3c || c0 === 0x5b || c0 === 0x28 || c0 === 0x2a)
    return false;
  if (c0 === 0x23 && t.charCodeAt(s + 1) === 0x7b) return false;
  if (c0 === 0x2f || (c0 === 0x2e && t.charCodeAt(s + 1) === 0x2f) || (c0 === 0x7e && t.charCodeAt(s + 1) === 0x2f))
    return false;
  const v = t.slice(s, e);
  const low = v.toLowerCase();
  if (NOT_A_SECRET_VALUE.has(low)) return false;
  if (v.includes("(") || v.includes("[") || v.includes("://") || v.includes("${") || v.includes("{{")) return false;
  let digits = 0;
  for (let i = s; i < e; i++) if (isDigit(t.charCodeAt(i))) digits++;
  if (digits === n) return false;
  if (codeReference(t, s, e) || identifierLike(t, s, e)) return false;
  if (looksPlaceholder(t, s, e) || sequential(t, s, e)) return false;
  if (low.includes("password") || low.includes("secret") || low.includes("token") || low.includes("here")) return false;
  return classes(t, s, e) >= 2 && entropy(t, s, e) >= 2.5;
}

export const GENERIC_RULES: readonly DetectorRule[] = [
  {
    provider: "HTTP",
    subtype: "http_bearer_token",
    detector: "genericAssignmentAt",
    score: 0.7,
    examples: {
      match: [
        "Authorization: Bearer «[[w:40]]»",
        'curl -H "Authorization: token «[[a:36]]»" https://api.example.com',
        "-H 'Bearer «[[a:32]]»'",
      ],
      nomatch: [
        "Authorization: Bearer <token>",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a template reference is the point
        "Authorization: Bearer ${TOKEN}",
        "Authorization: Bearer $ACCESS_TOKEN",
        "the bearer of bad news",
        "authorization: required",
      ],
    },
  },
  {
    provider: "HTTP",
    subtype: "http_basic_auth",
    detector: "genericAssignmentAt",
    score: 0.8,
    examples: {
      match: [(r) => `Authorization: Basic «${Buffer.from(`svc:${r(TEMPLATE_ALPHABETS.a!, 16)}`).toString("base64")}»`],
      nomatch: [
        "Authorization: Basic <credentials>",
        `Authorization: Basic ${Buffer.from("username:password").toString("base64")}`,
        `Authorization: Basic ${Buffer.from("nocolon").toString("base64")}`,
      ],
    },
  },
  {
    provider: "generic",
    subtype: "generic_password",
    detector: "genericAssignmentAt",
    score: 0.65,
    examples: {
      match: [
        'password = "«[[a:12]]!»"',
        "DB_PASSWORD=«[[a:14]]#»",
        "spring.datasource.password: «[[a:10]]9»",
        "<password>«[[a:12]]$»</password>",
        '"dbPassword": "«[[a:16]]»"',
        "mysql --user=app --password «[[a:12]]%»",
        "jdbc:postgresql://db:5432/x?user=u&password=«[[a:12]]7%»",
        "Server=db;Database=app;User Id=sa;Password=«[[a:12]]4#»;",
        "machine api.example.com login deploy password «[[a:14]]7»",
        "PGPASSWORD=«[[a:12]]3!» psql -h db -U app",
        '{"env": "A=1\\nDB_PASSWORD=«[[a:12]]5$»\\nB=2"}',
      ],
      nomatch: [
        "password = get_password()",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: template references are the point
        'password: "${DB_PASSWORD}"',
        "password: {{ .Values.db.password }}",
        'password = os.environ["DB_PASSWORD"]',
        "password: process.env.DB_PASSWORD",
        "password = true",
        "password: null",
        'password: "********"',
        'password = "changeme"',
        "password_length = 12",
        "password: abcdef123456",
        "if password == user_input:",
        "password_hash: [[b:40]]",
        "PASSWORD=your_password_here",
        "password: <your-password>",
        "Please enter your password: ",
        "min_password_length: 8",
        "login with your username and password below",
        "Enter passphrase for key: ",
        'passphrase: "Enter passphrase for the key"',
      ],
    },
  },
  {
    provider: "generic",
    subtype: "generic_secret",
    detector: "genericAssignmentAt",
    score: 0.6,
    examples: {
      match: [
        'client_secret = "«[[a:32]]»"',
        "API_KEY=«[[a:40]]»",
        "MAPS_KEY=«[[a:39]]»",
        "apiKey: '«[[w:32]]»'",
        "x-api-key: «[[h:32]]»",
        "SECRET_KEY = '«[[b:50]]»'",
        "token: «[[w:40]]»",
        "accessToken = «[[a:36]]»",
        'auth = "«[[a:24]]=[[w:8]]»"',
      ],
      nomatch: [
        "max_tokens = 4096",
        "token_type: bearer",
        "secret_name: prod/db",
        'api_key = config.get("api_key")',
        "API_KEY=<your-api-key>",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: GitHub Actions expression is the point
        "token: ${{ secrets.GITHUB_TOKEN }}",
        "SECRET_KEY = env('SECRET_KEY')",
        "tokens: 128",
        "auth: true",
        "AuthenticatedSafe = AuthenticatedSafe_1 = class AuthenticatedSafe",
        "auth_method: oauth2",
        'auth: { user: "admin" }',
        '"/src/guard/secrets.ts": "[[h:40]]",',
        "token.json: [[h:40]]",
        "key: privateKeyAssociatedWithCert,",
        'token: "ContainerScopedFoo";',
        '{key:"_getNationalPrefixFormattingRule",value:function(t){',
        "https://codecov.io/gh/o/r/branch/main/graph/badge.svg?token=[[a:10]]",
        "the secret to good bread is time",
        "secret_key_base: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "api_key: EXAMPLE_API_KEY",
        "cache_key: [[h:40]]",
        "primary_key: id",
        "idempotency_key: [[h:32]]",
        "public_key: [[b:44]]",
        "key: [[h:32]]",
      ],
    },
  },
];

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalize } from "../../../filters/guard/normalize.ts";
import { jwtHeaderHasAlg } from "../../../filters/guard/secrets-formats.ts";
import { scanSecrets } from "../../../filters/guard/secrets.ts";
import { ALNUM, B64, B64URL, fake, LOWER_HEX, spanOf, UPPER_ALNUM } from "./helpers.ts";

const scan = (t: string) => scanSecrets(t, normalize(t));
const b64url = (s: string) => Buffer.from(s).toString("base64url");

// Synthetic values in each provider's documented shape (generated, never real credentials).
const AWS_ID = `AKIA${fake(UPPER_ALNUM, 16, 1)}`;
const AWS_STS_ID = `ASIA${fake(UPPER_ALNUM, 16, 2)}`;
const AWS_SECRET = fake(B64, 40, 3);
const GCP = `AIza${fake(`${ALNUM}-_`, 35, 4)}`;
const AZURE_KEY = `${fake(B64, 86, 5)}==`;
const GH = `ghp_${fake(ALNUM, 36, 6)}`;
const GH_PAT = `github_pat_${fake(ALNUM, 22, 7)}_${fake(ALNUM, 59, 8)}`;
const GITLAB = `glpat-${fake(`${ALNUM}-_`, 20, 9)}`;
const NPM = `npm_${fake(ALNUM, 36, 10)}`;
const SLACK = `xoxb-${fake("0123456789", 12, 11)}-${fake("0123456789", 13, 12)}-${fake(ALNUM, 24, 13)}`;
const SLACK_HOOK = `https://hooks.slack.com/services/T${fake(UPPER_ALNUM, 8, 14)}/B${fake(UPPER_ALNUM, 8, 15)}/${fake(ALNUM, 24, 16)}`;
const STRIPE = `sk_live_${fake(ALNUM, 24, 17)}`;
const STRIPE_RK = `rk_live_${fake(ALNUM, 24, 18)}`;
const TWILIO_SK = `SK${fake(LOWER_HEX, 32, 19)}`;
const TWILIO_AC = `AC${fake(LOWER_HEX, 32, 20)}`;
const TWILIO_TOKEN = fake(LOWER_HEX, 32, 21);
const SENDGRID = `SG.${fake(B64URL, 22, 22)}.${fake(B64URL, 43, 23)}`;
const OPENAI = `sk-proj-${fake(B64URL, 64, 24)}`;
const OPENAI_LEGACY = `sk-${fake(ALNUM, 20, 25)}T3BlbkFJ${fake(ALNUM, 20, 26)}`;
const ANTHROPIC = `sk-ant-api03-${fake(B64URL, 93, 27)}AA`;
const OTHER_LLM = `sk-${fake(ALNUM, 40, 28)}`;
const JWT = `${b64url('{"alg":"RS256","typ":"JWT"}')}.${b64url('{"sub":"agent-7","exp":1900000000}')}.${fake(B64URL, 86, 29)}`;
const PEM = `-----BEGIN RSA PRIVATE KEY-----\n${fake(B64, 64, 30)}\n${fake(B64, 64, 31)}\n${fake(B64, 40, 32)}==\n-----END RSA PRIVATE KEY-----`;
const PEM_ESCAPED = `-----BEGIN PRIVATE KEY-----\\n${fake(B64, 64, 35)}\\n${fake(B64, 64, 36)}\\n-----END PRIVATE KEY-----`;
const PEM_ENCRYPTED = `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,${fake(LOWER_HEX, 32, 37)}\n\n${fake(B64, 64, 38)}\n${fake(B64, 64, 39)}\n-----END RSA PRIVATE KEY-----`;
const PEM_OPENSSH = `-----BEGIN OPENSSH PRIVATE KEY-----\n${fake(B64, 70, 33)}\n${fake(B64, 70, 34)}\n-----END OPENSSH PRIVATE KEY-----`;

describe("scanSecrets", () => {
  it.each([
    ["AWS access key id", `aws key ${AWS_ID} in config`, "aws_access_key_id", AWS_ID],
    ["AWS STS key id", `id=${AWS_STS_ID}`, "aws_access_key_id", AWS_STS_ID],
    ["AWS secret after its keyword", `aws_secret_access_key = ${AWS_SECRET}`, "aws_secret_access_key", AWS_SECRET],
    ["AWS secret in prose", `The AWS secret access key is "${AWS_SECRET}".`, "aws_secret_access_key", AWS_SECRET],
    ["GCP API key", `key=${GCP}&q=1`, "gcp_api_key", GCP],
    [
      "Azure storage key in a connection string",
      `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${AZURE_KEY};EndpointSuffix=core.windows.net`,
      "azure_storage_key",
      AZURE_KEY,
    ],
    ["GitHub token", `git clone https://x:${GH}@github.com/o/r`, "github_token", GH],
    ["GitHub fine-grained PAT", `GITHUB_TOKEN=${GH_PAT}`, "github_token", GH_PAT],
    ["GitLab token", `token: ${GITLAB}`, "gitlab_token", GITLAB],
    ["npm token", `//registry.npmjs.org/:_authToken=${NPM}`, "npm_token", NPM],
    ["Slack bot token", `SLACK_BOT_TOKEN=${SLACK}`, "slack_token", SLACK],
    ["Slack webhook", `post to ${SLACK_HOOK} now`, "slack_webhook", SLACK_HOOK.slice(8)],
    ["Stripe live key", `stripe.api_key = "${STRIPE}"`, "stripe_key", STRIPE],
    ["Stripe restricted key", STRIPE_RK, "stripe_key", STRIPE_RK],
    ["Twilio API key SID", `TWILIO_API_KEY=${TWILIO_SK}`, "twilio_api_key", TWILIO_SK],
    [
      "Twilio auth token with context",
      `twilio account ${TWILIO_AC} auth_token: ${TWILIO_TOKEN}`,
      "twilio_auth_token",
      TWILIO_TOKEN,
    ],
    ["Twilio account SID with context", `twilio account_sid=${TWILIO_AC}`, "twilio_account_sid", TWILIO_AC],
    ["SendGrid key", `SENDGRID_API_KEY=${SENDGRID}`, "sendgrid_key", SENDGRID],
    ["OpenAI project key", `OPENAI_API_KEY=${OPENAI}`, "openai_key", OPENAI],
    ["OpenAI legacy key", `key ${OPENAI_LEGACY}`, "openai_key", OPENAI_LEGACY],
    ["Anthropic key", `x-api-key: ${ANTHROPIC}`, "anthropic_key", ANTHROPIC],
    ["other sk- provider key", `DEEPSEEK_KEY=${OTHER_LLM}`, "llm_api_key", OTHER_LLM],
    ["JWT", `Authorization: Bearer ${JWT}`, "jwt", JWT],
    ["PEM RSA private key", `key:\n${PEM}\n`, "private_key", PEM],
    ["OpenSSH private key", PEM_OPENSSH, "private_key", PEM_OPENSSH],
    ["PEM with \\n escapes inside JSON", `{"private_key": "${PEM_ESCAPED}"}`, "private_key", PEM_ESCAPED],
    ["encrypted PEM with headers", PEM_ENCRYPTED, "private_key", PEM_ENCRYPTED],
    ["password in a URL", "postgres://app:Xk93!vQz7Lp@db.internal:5432/app", "url_credentials", "Xk93!vQz7Lp"],
    ["password in a redis URL without user", "redis://:h7Gq2LmZ9wPx@cache:6379", "url_credentials", "h7Gq2LmZ9wPx"],
  ])("finds %s", (_name, text, subtype, value) => {
    const fs = scan(text);
    const f = fs.find((x) => x.subtype === subtype);
    expect(f, JSON.stringify(fs)).toBeDefined();
    expect(text.slice(f!.start, f!.end)).toBe(value);
    expect(f!.score).toBeGreaterThanOrEqual(0.5);
  });

  it.each([
    ["AWS documentation example key id", "AKIAIOSFODNN7EXAMPLE"],
    ["AWS documentation example secret", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
    ["all-x placeholder", `ghp_${"x".repeat(36)}`],
    ["placeholder words", "OPENAI_API_KEY=sk-your-api-key-here-replace-with-your-own"],
    ["a plain placeholder", "api_key: your-api-key"],
    ["a key id glued inside a longer word", `XAKIA${fake(UPPER_ALNUM, 16, 40)}`],
    ["a key id that runs on too long", `AKIA${fake(UPPER_ALNUM, 20, 41)}`],
    ["a 40-char string with no AWS context", fake(B64, 40, 42)],
    ["a low-entropy secret value", `aws_secret_access_key=${"ab".repeat(20)}`],
    ["PEM header with an elided body", "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----"],
    [
      "a PEM header in code",
      "expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);\nconst key = loadKey(path, { format: 'pem' });",
    ],
    ["public key block", `-----BEGIN PUBLIC KEY-----\n${fake(B64, 120, 43)}\n-----END PUBLIC KEY-----`],
    ["URL with a placeholder password", "postgres://user:password@localhost/db"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal shell-style placeholder is the point
    ["URL with an env var password", "redis://:${REDIS_PASSWORD}@host:6379"],
    ["URL with a templated password", "amqp://guest:<password>@mq:5672"],
    ["URL without credentials", "https://example.com/path?x=1"],
    [
      "jwt.io's documented example token",
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ],
    ["base64 that is not a JWT header", `eyJ${fake(B64URL, 20, 44)}.${fake(B64URL, 20, 45)}.${fake(B64URL, 20, 46)}`],
    ["a hash in prose", `commit ${fake(LOWER_HEX, 40, 47)} fixed it`],
    ["the word SK in caps text", "ASK THE TASK OWNER"],
    ["Twilio-shaped SID without context", `id ${TWILIO_AC}`],
    ["ordinary prose", "Please rotate the secret every 90 days and store it in the vault."],
  ])("ignores %s", (_name, text) => {
    expect(scan(text)).toEqual([]);
  });

  it("never puts the matched value in a finding", () => {
    const text = `token ${GH}`;
    const [f] = scan(text);
    expect(JSON.stringify(f)).not.toContain(GH.slice(4));
    expect(Object.keys(f!).sort()).toEqual(["end", "score", "start", "subtype", "type"]);
  });

  it("finds several secrets in one text, in order", () => {
    const text = `a ${AWS_ID} b ${GH} c ${STRIPE}`;
    expect(scan(text).map((f) => f.subtype)).toEqual(["aws_access_key_id", "github_token", "stripe_key"]);
  });

  it("works without a normalized copy and on non-ASCII text", () => {
    const text = `clé: ${GH} 🎉`;
    expect(scanSecrets(text)[0]?.subtype).toBe("github_token");
  });

  it("folds keyword case as Unicode does, as the RE2 pass it replaced did", () => {
    const text = `DefaultEndpointsProtocol=https;Account\u212Aey=${AZURE_KEY};EndpointSuffix=core.windows.net`; // Kelvin sign
    expect(scan(text).map((f) => f.subtype)).toEqual(["azure_storage_key"]);
    expect(scan(`😀${GH}`).map((f) => f.subtype)).toEqual(["github_token"]); // an astral guard character
  });

  it("respects minScore", () => {
    expect(scanSecrets(`k ${OTHER_LLM}`, undefined, { minScore: 0.8 })).toEqual([]);
  });
});

describe("scanSecrets: PEM blocks after BEGIN lines that a walk already read", () => {
  const body = `${fake(B64, 64, 60)}\n${fake(B64, 64, 61)}\n`;
  const spanOfKey = (text: string) =>
    scan(text)
      .filter((f) => f.subtype === "private_key")
      .map((f) => spanOf(text, f));

  it("finds the key after many header-looking BEGIN lines", () => {
    expect(spanOfKey(`${"-----BEGIN :PRIVATE KEY-----\n".repeat(200)}${PEM}`)).toEqual([PEM]);
  });

  it("finds a BEGIN line whose label wraps past where an earlier walk stopped", () => {
    const key = `-----BEGIN :A\nPRIVATE KEY-----\n${body}-----END PRIVATE KEY-----`;
    expect(spanOfKey(`-----BEGIN PRIVATE KEY-----\n${key}`)).toEqual([key]);
  });

  it("finds two blocks in a row, and one block once", () => {
    expect(spanOfKey(`${PEM}\n${PEM_OPENSSH}`)).toEqual([PEM, PEM_OPENSSH]);
    const enc = `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: -----BEGIN RSA PRIVATE KEY-----\n\n${body}`;
    expect(spanOfKey(enc)).toEqual([enc]); // cut off at the end: spans to the end
  });
});

describe("jwtHeaderHasAlg", () => {
  /** The definition it replaces: JSON.parse of the UTF-8 decoding (which throws on most hostile input). */
  function reference(segment: string): boolean {
    if (segment.length > 2048) return false;
    const json = Buffer.from(segment, "base64url").toString("utf8");
    if (json.charCodeAt(0) !== 0x7b) return false;
    try {
      const h: unknown = JSON.parse(json);
      return typeof h === "object" && h !== null && typeof (h as { alg?: unknown }).alg === "string";
    } catch {
      return false;
    }
  }
  /** Real JSON objects (often with an `alg` key, escaped keys, odd whitespace), then broken at a random point. */
  const MUTATIONS = ['"', "\\", "\\u00", ":", ",", "}", "{", "]", "01", "1.", "nul", "\u0001", "é", " \t\n"];
  const header = fc
    .tuple(
      fc.record(
        {
          typ: fc.constant("JWT"),
          alg: fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 6 }) }, fc.jsonValue({ maxDepth: 1 })),
          kid: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: [] },
      ),
      fc.boolean(),
      fc.constantFrom("", " ", "\n\t "),
      fc.oneof({ weight: 2, arbitrary: fc.constant("") }, fc.constantFrom(...MUTATIONS)),
      fc.nat(),
    )
    .map(([obj, escapeKey, space, mutation, at]) => {
      let s = JSON.stringify(obj).replaceAll(",", `,${space}`).replaceAll(":", `${space}:`);
      if (escapeKey) s = s.replaceAll('"alg"', '"\\u0061l\\u0067"');
      const k = at % (s.length + 1);
      return s.slice(0, k) + mutation + s.slice(k + (mutation === "" ? 0 : 1));
    });
  const asSegment = (s: string, cut: number) => {
    const b = Buffer.from(s).toString("base64url");
    return b.slice(0, Math.max(0, b.length - (cut % 3)));
  };

  it("agrees with JSON.parse on JSON headers, mutated and truncated anywhere", () => {
    let valid = 0;
    fc.assert(
      fc.property(header, fc.nat(), (s, cut) => {
        const seg = asSegment(s, cut % 4 === 0 ? cut : 0); // a quarter of them cut short
        const want = reference(seg);
        if (want) valid++;
        expect(jwtHeaderHasAlg(seg)).toBe(want);
      }),
      { numRuns: 3000 },
    );
    expect(valid).toBeGreaterThan(300); // the generator reaches the accepting paths
  });

  it("agrees with JSON.parse on raw bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 48 }), (b) => {
        const seg = Buffer.from([0x7b, ...b]).toString("base64url");
        expect(jwtHeaderHasAlg(seg)).toBe(reference(seg));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['{"alg":"HS256","typ":"JWT"}', true],
    ['{"alg":"none"}', true],
    ['{"\\u0061lg":"x"}', true],
    ['{"alg":"x","alg":1}', false],
    ['{"alg":1,"alg":"x"}', true],
    ['{"alg"}', false],
    ['{"alg":"x"', false],
    ['{"typ":"JWT","kid":"k"}', false],
    ['{"hdr":{"alg":"x"}}', false],
  ])("reads %s as %s", (header, want) => {
    expect(jwtHeaderHasAlg(Buffer.from(header).toString("base64url"))).toBe(want);
  });
});

describe("scanSecrets: how triggers combine", () => {
  const STRIPE_TEST = `sk_test_${fake(ALNUM, 24, 70)}`;

  it("reports a low-scoring provider format at its own score, not as a generic secret over it", () => {
    const text = `token: ${STRIPE_TEST}`;
    expect(scan(text).map((f) => [f.subtype, f.score])).toEqual([["stripe_test_key", 0.4]]);
    expect(scanSecrets(text, undefined, { minScore: 0.5 })).toEqual([]); // a route can leave test keys alone
  });

  it("runs a context word that sits inside a longer trigger (a prefix, or another word)", () => {
    const value = fake(ALNUM, 32, 71);
    // `SCW` is a Scaleway prefix, `secret_` a Notion prefix: both start these names
    expect(scan(`SCW_SECRET_KEY=${value}`).map((f) => f.subtype)).toEqual(["generic_secret"]);
    expect(scan(`secret_key = "${value}"`).map((f) => f.subtype)).toEqual(["generic_secret"]);
    expect(scan(`X-Postmark-Server-Token: ${fake(ALNUM, 36, 72)}`).map((f) => f.subtype)).toEqual(["generic_secret"]);
  });

  it("finds context words in camelCase and after an underscore", () => {
    const pw = `${fake(ALNUM, 12, 73)}!`;
    for (const text of [`dbPassword: "${pw}"`, `MY_DB_PASSWORD=${pw}`, `<password>${pw}</password>`])
      expect(
        scan(text).map((f) => spanOf(text, f)),
        text,
      ).toEqual([pw]);
  });

  it("starts tokens and names after a \\n escape inside a JSON string", () => {
    const text = JSON.stringify({ env: `A=1\n${GH}\nDB_PASSWORD=Xk93!vQz7Lp\n` });
    expect(scan(text).map((f) => spanOf(text, f))).toEqual([GH, "Xk93!vQz7Lp"]);
  });

  it("starts no token right after _ or -", () => {
    expect(scan(`x_${GH}`)).toEqual([]);
    expect(scan(`x-${GH}`)).toEqual([]);
  });

  it("names the provider when a generic word and a provider format find the same value", () => {
    expect(scan(`API_KEY=${GH}`).map((f) => f.subtype)).toEqual(["github_token"]);
    expect(scan(`password=${STRIPE}`).map((f) => f.subtype)).toEqual(["stripe_key"]);
  });
});

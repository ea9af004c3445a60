/**
 * Private keys, tokens with structure and configuration secrets, read by hand-written detectors
 * (secret-detectors.ts) or by a prefix whose body must decode to the right thing: PEM private keys of
 * every label (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP blocks), PuTTY `.ppk` files, base64 of a
 * PEM key (`LS0tLS1CRUdJTi…`, as in kubeconfig `client-key-data`), Docker `config.json` / Kubernetes
 * `.dockerconfigjson` `auth` entries (base64 `user:password`), JWTs, credentials in URLs and Twilio's
 * context-bound identifiers.
 */
import { B64, type DetectorRule, type SecretRule } from "./rule.ts";

/** Whether base64 `text[start, …)` decodes (first 48 characters) to a PEM BEGIN line of a private key. */
function decodesToPrivatePem(text: string, start: number, end: number): boolean {
  const head = Buffer.from(text.slice(start, Math.min(end, start + 64)), "base64").toString("latin1");
  return head.startsWith("-----BEGIN ") && /^-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----/.test(head);
}

/** Whether base64 `text[start, end)` decodes to JSON with an `"auth":"…"` entry (a Docker config). */
function decodesToDockerAuths(text: string, start: number, end: number): boolean {
  const json = Buffer.from(text.slice(start, end), "base64").toString("latin1");
  return json.includes('"auth":"') || json.includes('"auth": "') || json.includes('"password":');
}

const b64 = (s: string): string => Buffer.from(s).toString("base64");

export const KEY_RULES: readonly SecretRule[] = [
  {
    provider: "PEM",
    subtype: "private_key",
    prefix: "LS0tLS1CRUdJTi",
    body: B64,
    min: 60,
    max: 16384,
    score: 0.9,
    entropy: 4.0,
    shape: decodesToPrivatePem,
    examples: {
      match: [
        (r) =>
          b64(
            `-----BEGIN RSA PRIVATE KEY-----\n${r(B64_ALPHABET, 64)}\n${r(B64_ALPHABET, 64)}\n-----END RSA PRIVATE KEY-----\n`,
          ),
        (r) =>
          `client-key-data: «${b64(`-----BEGIN EC PRIVATE KEY-----\n${r(B64_ALPHABET, 64)}\n-----END EC PRIVATE KEY-----\n`)}»`,
      ],
      nomatch: [b64("-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"), "LS0tLS1CRUdJTi"],
    },
  },
  {
    provider: "Docker",
    subtype: "docker_config_auth",
    prefix: "eyJhdXRocyI6",
    body: B64,
    min: 40,
    max: 16384,
    score: 0.85,
    entropy: 4.0,
    shape: decodesToDockerAuths,
    examples: {
      match: [(r) => b64(`{"auths":{"registry.example.com":{"auth":"${b64(`deploy:${r(ALNUM_ALPHABET, 20)}`)}"}}}`)],
      nomatch: [b64('{"auths":{}}')],
    },
  },
];

const B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ALNUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

const PEM_BODY = "[[b:64]]\n[[b:64]]\n[[b:40]]==";

export const DETECTOR_RULES: readonly DetectorRule[] = [
  {
    provider: "PEM",
    subtype: "private_key",
    detector: "pemAt",
    score: 0.95,
    examples: {
      match: [
        `-----BEGIN RSA PRIVATE KEY-----\n${PEM_BODY}\n-----END RSA PRIVATE KEY-----`,
        `-----BEGIN PRIVATE KEY-----\n${PEM_BODY}\n-----END PRIVATE KEY-----`,
        `-----BEGIN EC PRIVATE KEY-----\n${PEM_BODY}\n-----END EC PRIVATE KEY-----`,
        `-----BEGIN DSA PRIVATE KEY-----\n${PEM_BODY}\n-----END DSA PRIVATE KEY-----`,
        `-----BEGIN OPENSSH PRIVATE KEY-----\n${PEM_BODY}\n-----END OPENSSH PRIVATE KEY-----`,
        `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${PEM_BODY}\n-----END ENCRYPTED PRIVATE KEY-----`,
        `-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n${PEM_BODY}\n=[[b:4]]\n-----END PGP PRIVATE KEY BLOCK-----`,
        `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,[[H:32]]\n\n${PEM_BODY}\n-----END RSA PRIVATE KEY-----`,
        `{"private_key": "«-----BEGIN PRIVATE KEY-----\\n[[b:64]]\\n[[b:64]]\\n-----END PRIVATE KEY-----»"}`,
        "PRIVATE_KEY=«-----BEGIN RSA PRIVATE KEY----- [[b:64]] [[b:64]] [[b:20]]== -----END RSA PRIVATE KEY-----»",
        "«-----BEGIN PRIVATE KEY-----[[b:64]][[b:64]]-----END PRIVATE KEY-----»",
      ],
      nomatch: [
        "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY----- ... -----END PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY----- <paste your key here> -----END RSA PRIVATE KEY-----",
        "-----BEGIN PUBLIC KEY-----\n[[b:64]]\n[[b:64]]\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\n[[b:64]]\n[[b:64]]\n-----END CERTIFICATE-----",
      ],
    },
  },
  {
    provider: "PuTTY",
    subtype: "private_key",
    detector: "puttyAt",
    score: 0.95,
    examples: {
      match: [
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy\nPublic-Lines: 2\n[[b:64]]\n[[b:20]]\nPrivate-Lines: 1\n[[b:44]]\nPrivate-MAC: [[h:64]]",
        "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: aes256-cbc\nComment: k\nPublic-Lines: 1\n[[b:64]]\nPrivate-Lines: 2\n[[b:64]]\n[[b:64]]\nPrivate-MAC: [[h:40]]",
      ],
      nomatch: [
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 2\n[[b:64]]",
        "PuTTY-User-Key-File-2 is the old format",
      ],
    },
  },
  {
    provider: "JWK",
    subtype: "jwk_private_key",
    detector: "jwkPrivateAt",
    score: 0.9,
    examples: {
      match: [
        '{"kty":"RSA","n":"[[w:342]]","e":"AQAB","d":"«[[w:342]]»","p":"[[w:171]]"}',
        '{"kty": "OKP", "crv": "Ed25519", "x": "[[w:43]]", "d": "«[[w:43]]»"}',
      ],
      nomatch: ['{"kty":"RSA","n":"[[w:342]]","e":"AQAB"}', '{"d": "[[w:43]]"}', '{"kty":"EC","d":"<private scalar>"}'],
    },
  },
  {
    provider: "JWT",
    subtype: "jwt",
    detector: "jwtAt",
    score: 0.85,
    examples: {
      match: [`${b64url('{"alg":"RS256","typ":"JWT"}')}.${b64url('{"sub":"agent","exp":1900000000}')}.[[w:86]]`],
      nomatch: [
        "eyJ[[w:20]].[[w:20]].[[w:20]]",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
      ],
    },
  },
  {
    provider: "URL",
    subtype: "url_credentials",
    detector: "urlCredentialsAt",
    score: 0.85,
    examples: {
      match: [
        "postgres://app:«[[a:12]]»@db.internal:5432/app",
        "mysql://root:«[[a:10]]!»@10.0.0.5/shop",
        "mongodb+srv://svc:«[[a:16]]»@cluster0.example.mongodb.net/db",
        "redis://:«[[a:12]]»@cache:6379",
        "amqp://worker:«[[a:14]]»@mq:5672/vhost",
      ],
      nomatch: [
        "postgres://user:password@localhost/db",
        "postgres://postgres:postgres@localhost:5432/test",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell-style reference is the point
        "redis://:${REDIS_PASSWORD}@host:6379",
        "amqp://guest:<password>@mq:5672",
      ],
    },
  },
  {
    provider: "Docker",
    subtype: "docker_config_auth",
    detector: "dockerAuthAt",
    score: 0.85,
    examples: {
      match: [(r) => `{"auths": {"ghcr.io": {"auth": "«${b64(`ci:${r(ALNUM_ALPHABET, 24)}`)}»"}}}`],
      nomatch: [
        `{"auths": {"ghcr.io": {"auth": "${b64("user:")}"}}}`,
        '{"auth": "none"}',
        `"auth": "${b64("no colon here at all")}"`,
      ],
    },
  },
  {
    provider: "Twilio",
    subtype: "twilio_account_sid",
    detector: "twilioAccountSids",
    score: 0.7,
    examples: { match: ["twilio account_sid=«AC[[h:32]]»"], nomatch: ["id AC[[h:32]]"] },
  },
  {
    provider: "Twilio",
    subtype: "twilio_auth_token",
    detector: "twilioTokenAfter",
    score: 0.8,
    examples: { match: ["twilio auth_token: «[[h:32]]»"], nomatch: ["auth_token: [[h:12]]"] },
  },
];

function b64url(s: string): string {
  return Buffer.from(s).toString("base64url");
}

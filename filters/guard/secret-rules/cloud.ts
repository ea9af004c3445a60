/**
 * The three largest clouds: AWS, Google Cloud, Azure (and Azure DevOps); other clouds
 * and hosting platforms are in cloud-platforms.ts.
 * Lengths and prefixes as each provider documents its keys (AWS: 20-character key ids whose first four
 * letters give the kind, 40-character secrets; Azure: 88-character base64 storage keys; …).
 */
import {
  B64,
  B64URL,
  B64URL_DOT,
  isUuid,
  LOWER_ALNUM,
  LOWER_HEX,
  SCORE,
  type SecretRule,
  UPPER_ALNUM,
} from "./rule.ts";
import { classTable, isAsciiAlnum } from "../text-util.ts";

const AWS_SECRET_WORDS = [
  "aws_secret_access_key",
  "secret_access_key",
  "secretaccesskey",
  "aws_secret_key",
  "secret access key",
  "aws secret key",
  "aws_secret",
];

/** `%`-encoded base64 as it appears in a SAS URL's `sig=`. */
const SAS_SIG = classTable((u) => isAsciiAlnum(u) || u === 0x25 || u === 0x2b || u === 0x2f || u === 0x3d);
/** Azure AD client secrets: `[A-Za-z0-9_~.-]`. */
const AZURE_SECRET = classTable((u) => isAsciiAlnum(u) || u === 0x5f || u === 0x7e || u === 0x2e || u === 0x2d);
/** Upper case, lower case and a digit: a random base64 secret, not a hex digest or a word. */
function mixedClasses(t: string, s: number, e: number): boolean {
  let m = 0;
  for (let i = s; i < e; i++) {
    const u = t.charCodeAt(i);
    if (u >= 0x41 && u <= 0x5a) m |= 1;
    else if (u >= 0x61 && u <= 0x7a) m |= 2;
    else if (u >= 0x30 && u <= 0x39) m |= 4;
  }
  return m === 7;
}
const endsWithEq = (t: string, _s: number, e: number): boolean => t.charCodeAt(e - 1) === 0x3d;

function awsKeyId(prefix: string, kind: string): SecretRule {
  return {
    provider: "AWS",
    subtype: "aws_access_key_id",
    prefix,
    body: UPPER_ALNUM,
    min: 16,
    max: 16,
    score: 0.9,
    entropy: 2.5,
    examples: {
      match: [`${prefix}[[Z:16]]`],
      nomatch: [`${prefix}[[Z:12]]`, `X${prefix}[[Z:16]]`, `${prefix}XXXXXXXXXXXXXXXX`, `${kind} ${prefix}EXAMPLE`],
    },
  };
}

export const CLOUD_RULES: readonly SecretRule[] = [
  awsKeyId("AKIA", "long-term"),
  awsKeyId("ASIA", "temporary"),
  awsKeyId("ABIA", "STS bearer"),
  awsKeyId("ACCA", "context-specific"),
  {
    provider: "AWS",
    subtype: "aws_secret_access_key",
    context: AWS_SECRET_WORDS,
    window: 80,
    body: B64,
    min: 40,
    max: 40,
    score: 0.9,
    entropy: 4.0,
    examples: {
      match: ["aws_secret_access_key = «[[b:40]]»", 'awsSecretAccessKey: "«[[b:40]]»"'],
      nomatch: [
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        `aws_secret_access_key=${"ab".repeat(20)}`,
        "[[b:40]]",
      ],
    },
  },
  {
    // the secret next to its key id, as in the console's credentials CSV or `id:secret`
    provider: "AWS",
    subtype: "aws_secret_access_key",
    context: ["akia", "asia"],
    window: 100,
    body: B64,
    min: 40,
    max: 40,
    score: 0.8,
    entropy: 4.5,
    shape: mixedClasses,
    examples: {
      match: ["Access key ID,Secret access key\nAKIA[[Z:16]],«[[b:38]]9a»", "AKIA[[Z:16]]:«[[b:38]]Q1»"],
      nomatch: ["AKIA[[Z:16]] [[h:40]]", "AKIA[[Z:16]] and the commit [[h:40]] fixed it"],
    },
  },
  {
    provider: "AWS",
    subtype: "aws_session_token",
    prefix: "IQoJb3JpZ2luX2Vj",
    body: B64,
    min: 100,
    max: 4096,
    score: SCORE.unique,
    entropy: 4.5,
    examples: {
      match: ["IQoJb3JpZ2luX2Vj[[b:300]]"],
      nomatch: ["IQoJb3JpZ2luX2Vj[[b:40]]", "IQoJb3JpZ2luX2Vj"],
    },
  },
  {
    provider: "AWS",
    subtype: "aws_session_token",
    prefix: "FwoGZXIvYXdzE",
    body: B64,
    min: 100,
    max: 4096,
    score: SCORE.unique,
    entropy: 4.5,
    examples: { match: ["FwoGZXIvYXdzE[[b:250]]"], nomatch: ["FwoGZXIvYXdzE[[b:30]]"] },
  },
  {
    provider: "AWS",
    subtype: "aws_session_token",
    context: ["aws_session_token", "x-amz-security-token", "aws_security_token"],
    body: B64,
    min: 100,
    max: 4096,
    score: SCORE.context,
    entropy: 4.5,
    examples: {
      match: ["AWS_SESSION_TOKEN=«[[b:200]]»"],
      nomatch: ["AWS_SESSION_TOKEN=[[b:40]]", "aws_session_token: <your session token>"],
    },
  },
  {
    provider: "AWS",
    subtype: "aws_mws_key",
    prefix: "amzn.mws.",
    body: classTable((u) => isAsciiAlnum(u) || u === 0x2d),
    min: 36,
    max: 36,
    score: SCORE.unique,
    entropy: 3.0,
    shape: (t, s, e) => isUuid(t, s + 9, e),
    examples: {
      match: ["amzn.mws.[[h:8]]-[[h:4]]-[[h:4]]-[[h:4]]-[[h:12]]"],
      nomatch: ["amzn.mws.[[h:36]]", "amzn.mws.com"],
    },
  },
  {
    provider: "Google Cloud",
    subtype: "gcp_api_key",
    prefix: "AIza",
    body: B64URL,
    min: 35,
    max: 35,
    score: 0.9,
    entropy: 3.2,
    examples: { match: ["AIza[[w:35]]"], nomatch: ["AIza[[w:20]]", "AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"] },
  },
  {
    provider: "Google Cloud",
    subtype: "gcp_oauth_client_secret",
    prefix: "GOCSPX-",
    body: B64URL,
    min: 28,
    max: 28,
    score: SCORE.unique,
    entropy: 3.5,
    examples: { match: ["GOCSPX-[[w:28]]"], nomatch: ["GOCSPX-[[w:10]]", "GOCSPX-your-client-secret-here12"] },
  },
  {
    provider: "Google Cloud",
    subtype: "gcp_oauth_access_token",
    prefix: "ya29.",
    body: B64URL_DOT,
    min: 50,
    max: 2048,
    score: SCORE.prefixed,
    entropy: 4.0,
    examples: { match: ["ya29.[[w:150]]"], nomatch: ["ya29.[[w:20]]", "ya29.example-token"] },
  },
  {
    provider: "Google Cloud",
    subtype: "gcp_refresh_token",
    prefix: "1//0",
    body: B64URL,
    min: 60,
    max: 200,
    score: SCORE.prefixed,
    entropy: 4.0,
    examples: { match: ["1//0[[w:100]]"], nomatch: ["1//0[[w:20]]", "1//0"] },
  },
  {
    provider: "Google Cloud",
    subtype: "gcp_service_account_key_id",
    context: ["private_key_id"],
    body: LOWER_HEX,
    min: 40,
    max: 40,
    score: 0.6,
    entropy: 3.0,
    examples: { match: ['"private_key_id": "«[[h:40]]»"'], nomatch: ['"private_key_id": "[[h:32]]"'] },
  },
  {
    provider: "Azure",
    subtype: "azure_storage_key",
    context: ["accountkey="],
    body: B64,
    min: 80,
    max: 100,
    score: 0.95,
    entropy: 4.0,
    shape: endsWithEq,
    examples: {
      match: [
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=«[[b:86]]==»;EndpointSuffix=core.windows.net",
      ],
      nomatch: [
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        "AccountKey=[[b:86]]",
        "AccountKey=<storage-key>",
      ],
    },
  },
  {
    provider: "Azure",
    subtype: "azure_shared_access_key",
    context: ["sharedaccesskey="],
    body: B64,
    min: 40,
    max: 100,
    score: 0.95,
    entropy: 4.0,
    shape: endsWithEq,
    examples: {
      match: ["Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=«[[b:43]]=»"],
      nomatch: ["SharedAccessKeyName=RootManageSharedAccessKey", "SharedAccessKey=[[b:20]]="],
    },
  },
  {
    provider: "Azure",
    subtype: "azure_sas_token",
    context: ["sig="],
    body: SAS_SIG,
    min: 44,
    max: 70,
    score: 0.85,
    entropy: 4.0,
    shape: (t, _s, e) => t.endsWith("%3D", e) || t.endsWith("%3d", e) || t.charCodeAt(e - 1) === 0x3d,
    examples: {
      match: [
        "https://acct.blob.core.windows.net/c/f?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&sig=«[[a:43]]%3D»",
      ],
      nomatch: ["&sig=<signature>", "the sig= parameter holds a signature"],
    },
  },
  {
    provider: "Azure",
    subtype: "azure_ad_client_secret",
    prefix: "Q~",
    anywhere: true,
    lead: { table: AZURE_SECRET, min: 4, max: 4 },
    body: AZURE_SECRET,
    min: 31,
    max: 34,
    score: 0.85,
    entropy: 3.8,
    shape: (t, s) => t.charCodeAt(s + 3) >= 0x30 && t.charCodeAt(s + 3) <= 0x39,
    examples: { match: ["[[a:3]]8Q~[[w:34]]"], nomatch: ["[[a:3]]8Q~[[w:10]]", "aQ~[[w:34]]"] },
  },
  {
    provider: "Azure",
    subtype: "azure_openai_api_key",
    context: ["azure_openai_api_key", "azure_openai_key", "azure-openai-key", "azure openai"],
    body: LOWER_HEX,
    min: 32,
    max: 32,
    score: SCORE.context,
    entropy: 3.0,
    examples: { match: ["AZURE_OPENAI_API_KEY=«[[h:32]]»"], nomatch: ["AZURE_OPENAI_API_KEY=[[h:16]]"] },
  },
  {
    provider: "Azure DevOps",
    subtype: "azure_devops_pat",
    context: ["azure_devops_pat", "azure_devops_token", "azure devops", "system_accesstoken", "ado_pat"],
    body: LOWER_ALNUM,
    min: 52,
    max: 52,
    score: SCORE.context,
    entropy: 4.0,
    examples: { match: ["AZURE_DEVOPS_PAT=«[[z:52]]»"], nomatch: ["AZURE_DEVOPS_PAT=[[z:20]]"] },
  },
  {
    provider: "Amazon",
    subtype: "amazon_lwa_client_secret",
    prefix: "amzn1.oa2-cs.v1.",
    body: LOWER_HEX,
    min: 64,
    max: 64,
    score: SCORE.unique,
    entropy: 3.0,
    examples: { match: ["amzn1.oa2-cs.v1.[[h:64]]"], nomatch: ["amzn1.oa2-cs.v1.[[h:20]]"] },
  },
];

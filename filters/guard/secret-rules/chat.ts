/**
 * Chat and collaboration: Slack (every `xox?-` kind, app-level `xapp-`, rotating `xoxe.` tokens,
 * webhooks), Discord (bot tokens: base64 of the numeric bot id, a timestamp and an HMAC; webhooks),
 * Microsoft Teams incoming webhooks, Telegram bot tokens (`<bot id>:AA…`), Twitter/X, Facebook,
 * Mattermost, Zoom, LINE.
 */
import {
  ALNUM,
  ALNUM_DASH,
  allIn,
  B64URL,
  B64URL_DOT,
  DIGITS,
  LOWER_ALNUM,
  partLengths,
  SCORE,
  type SecretRule,
  TEMPLATE_ALPHABETS,
} from "./rule.ts";
import { classTable, isAsciiAlnum, isDigit } from "../text-util.ts";

/** Slack tokens: dash-separated groups, the first ones numeric ids (documented: `xoxb-<team>-<bot>-<secret>`). */
const slackShape = (t: string, s: number, e: number): boolean => {
  const parts = partLengths(t, s, e, 0x2d);
  return parts.length >= 3 && parts[parts.length - 1]! >= 8;
};

function slack(prefix: string, template: string): SecretRule {
  return {
    provider: "Slack",
    subtype: "slack_token",
    prefix,
    body: ALNUM_DASH,
    min: 10,
    max: 255,
    score: 0.9,
    entropy: 3.0,
    shape: slackShape,
    examples: {
      match: [`${prefix}${template}`],
      nomatch: [
        `${prefix}[[a:6]]`,
        `${prefix}xxxxxxxxxx-xxxxxxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx`,
        `${prefix}your-token-here`,
      ],
    },
  };
}

const BOT = "[[d:12]]-[[d:13]]-[[a:24]]";
const USER = "[[d:12]]-[[d:12]]-[[d:13]]-[[h:32]]";

/** Base64 of a decimal bot id: its first two characters (`MT` for ids starting 1, `Mj` for 2, …). */
const DISCORD_STARTS = ["MT", "Mj", "Mz", "ND", "NT", "Nj", "Nz", "OD", "OT"];

/** `<id base64>.<6>.<27-38>`, the id part decoding to digits. */
function discordShape(t: string, s: number, e: number): boolean {
  const parts = partLengths(t, s, e, 0x2e);
  if (parts.length !== 3) return false;
  const [a, b, c] = parts as [number, number, number];
  if (a < 23 || a > 28 || b !== 6 || c < 27 || c > 38) return false;
  const id = Buffer.from(t.slice(s, s + a), "base64").toString("latin1");
  for (let k = 0; k < id.length; k++) if (!isDigit(id.charCodeAt(k))) return false;
  return id.length >= 17;
}

const webhookPath = classTable((u) => isAsciiAlnum(u) || u === 0x2f || u === 0x5f || u === 0x2d);
const teamsPath = classTable((u) => isAsciiAlnum(u) || u === 0x2f || u === 0x2d || u === 0x40);

export const CHAT_RULES: readonly SecretRule[] = [
  slack("xoxb-", BOT),
  slack("xoxp-", USER),
  slack("xoxa-", "2-[[d:12]]-[[d:12]]-[[h:32]]"),
  slack("xoxr-", "[[d:12]]-[[d:12]]-[[h:32]]"),
  slack("xoxs-", USER),
  slack("xoxe-", "1-[[a:140]]"),
  slack("xoxe.xoxp-", "1-[[a:140]]"),
  slack("xoxe.xoxb-", "1-[[a:140]]"),
  slack("xoxc-", USER),
  slack("xoxd-", "[[a:20]]-[[a:60]]"),
  slack("xapp-", "1-A[[u:10]]-[[d:13]]-[[h:64]]"),
  ...["hooks.slack.com/services/", "hooks.slack.com/workflows/", "hooks.slack.com/triggers/"].map(
    (prefix): SecretRule => ({
      provider: "Slack",
      subtype: "slack_webhook",
      prefix,
      anywhere: true,
      body: webhookPath,
      min: 20,
      max: 255,
      score: 0.9,
      entropy: 3.0,
      examples: {
        match: [`${prefix}T[[u:8]]/B[[u:8]]/[[a:24]]`],
        nomatch: [`${prefix}T0000/B0000/XXXXXXXX`, `${prefix}`],
      },
    }),
  ),
  ...DISCORD_STARTS.map(
    (prefix, k): SecretRule => ({
      provider: "Discord",
      subtype: "discord_bot_token",
      prefix,
      body: B64URL_DOT,
      min: 55,
      max: 75,
      score: SCORE.unique,
      entropy: 4.0,
      shape: discordShape,
      examples: {
        match: [
          (r) =>
            `${Buffer.from(`${k + 1}${r(TEMPLATE_ALPHABETS.d!, 17)}`).toString("base64")}.${r(TEMPLATE_ALPHABETS.w!, 6)}.${r(TEMPLATE_ALPHABETS.w!, 38)}`,
        ],
        nomatch: [`${prefix}[[a:22]].[[w:6]]`, `${prefix}[[a:24]].[[w:6]].[[w:38]]`],
      },
    }),
  ),
  ...["discord.com/api/webhooks/", "discordapp.com/api/webhooks/"].map(
    (prefix): SecretRule => ({
      provider: "Discord",
      subtype: "discord_webhook",
      prefix,
      anywhere: true,
      body: webhookPath,
      min: 70,
      max: 100,
      score: SCORE.unique,
      entropy: 3.8,
      shape: (t, s, e) => {
        const b = s + prefix.length;
        const slash = t.indexOf("/", b);
        return slash > b && slash < e && allIn(t, b, slash, DIGITS) && e - slash - 1 >= 60;
      },
      examples: { match: [`${prefix}[[d:18]]/[[w:68]]`], nomatch: [`${prefix}[[d:18]]`, `${prefix}123/abc`] },
    }),
  ),
  ...[".webhook.office.com/webhookb2/", "outlook.office.com/webhook/", ".webhook.office365.com/webhookb2/"].map(
    (prefix): SecretRule => ({
      provider: "Microsoft Teams",
      subtype: "teams_webhook",
      prefix,
      anywhere: true,
      body: teamsPath,
      min: 100,
      max: 300,
      score: SCORE.unique,
      entropy: 3.5,
      shape: (t, s, e) => t.slice(s, e).includes("/IncomingWebhook/"),
      examples: {
        match: [
          `${prefix}[[h:8]]-[[h:4]]-[[h:4]]-[[h:4]]-[[h:12]]@[[h:8]]-[[h:4]]-[[h:4]]-[[h:4]]-[[h:12]]/IncomingWebhook/[[h:32]]/[[h:8]]-[[h:4]]-[[h:4]]-[[h:4]]-[[h:12]]`,
        ],
        nomatch: [`${prefix}docs`],
      },
    }),
  ),
  {
    provider: "Telegram",
    subtype: "telegram_bot_token",
    prefix: ":AA",
    anywhere: true,
    lead: { table: DIGITS, min: 8, max: 10 },
    body: B64URL,
    min: 33,
    max: 33,
    score: SCORE.unique,
    entropy: 3.8,
    examples: {
      match: ["[[d:10]]:AA[[w:33]]", "https://api.telegram.org/bot«[[d:9]]:AA[[w:33]]»/getMe"],
      nomatch: ["12:AA[[w:33]]", "[[d:10]]:AA[[w:12]]"],
    },
  },
  {
    provider: "Twitter",
    subtype: "twitter_bearer_token",
    prefix: "AAAAAAAAAAAAAAAAAAAAA",
    body: classTable((u) => isAsciiAlnum(u) || u === 0x25),
    min: 60,
    max: 120,
    score: SCORE.unique,
    entropy: 4.0,
    examples: { match: ["AAAAAAAAAAAAAAAAAAAAA[[a:20]]%3D[[a:50]]"], nomatch: [`${"A".repeat(80)}`] },
  },
  {
    provider: "Twitter",
    subtype: "twitter_api_secret",
    context: ["twitter_api_secret", "twitter_consumer_secret", "twitter_access_token_secret", "consumer_secret"],
    body: ALNUM,
    min: 45,
    max: 50,
    score: SCORE.context,
    entropy: 4.0,
    examples: { match: ["TWITTER_CONSUMER_SECRET=«[[a:50]]»"], nomatch: ["TWITTER_CONSUMER_SECRET=[[a:10]]"] },
  },
  {
    provider: "Facebook",
    subtype: "facebook_access_token",
    prefix: "EAA",
    body: ALNUM,
    min: 90,
    max: 400,
    score: SCORE.prefixed,
    entropy: 4.0,
    examples: { match: ["EAAB[[a:160]]", "EAAG[[a:180]]"], nomatch: ["EAA[[a:20]]"] },
  },
  {
    provider: "Facebook",
    subtype: "facebook_app_secret",
    context: ["facebook_app_secret", "fb_app_secret", "facebook_secret"],
    body: classTable((u) => (u >= 0x30 && u <= 0x39) || (u >= 0x61 && u <= 0x66)),
    min: 32,
    max: 32,
    score: SCORE.context,
    entropy: 3.0,
    examples: { match: ["FACEBOOK_APP_SECRET=«[[h:32]]»"], nomatch: ["FACEBOOK_APP_SECRET=[[h:12]]"] },
  },
  {
    provider: "Mattermost",
    subtype: "mattermost_token",
    context: ["mattermost_token", "mattermost_access_token", "mattermost"],
    body: LOWER_ALNUM,
    min: 26,
    max: 26,
    score: SCORE.context,
    entropy: 3.8,
    examples: { match: ["MATTERMOST_TOKEN=«[[l:26]]»"], nomatch: ["MATTERMOST_TOKEN=[[l:10]]"] },
  },
  {
    provider: "Zoom",
    subtype: "zoom_client_secret",
    context: ["zoom_client_secret", "zoom_api_secret", "zoom_secret"],
    body: ALNUM,
    min: 32,
    max: 32,
    score: SCORE.context,
    entropy: 4.0,
    examples: { match: ["ZOOM_CLIENT_SECRET=«[[a:32]]»"], nomatch: ["ZOOM_CLIENT_SECRET=[[a:12]]"] },
  },
  {
    provider: "LINE",
    subtype: "line_channel_access_token",
    context: ["line_channel_access_token", "channel_access_token"],
    body: classTable((u) => isAsciiAlnum(u) || u === 0x2b || u === 0x2f || u === 0x3d),
    min: 150,
    max: 200,
    score: SCORE.context,
    entropy: 4.5,
    examples: { match: ["LINE_CHANNEL_ACCESS_TOKEN=«[[b:171]]=»"], nomatch: ["LINE_CHANNEL_ACCESS_TOKEN=[[b:30]]"] },
  },
  {
    provider: "Zapier",
    subtype: "zapier_webhook",
    prefix: "hooks.zapier.com/hooks/catch/",
    anywhere: true,
    body: classTable((u) => isAsciiAlnum(u) || u === 0x2f),
    min: 12,
    max: 40,
    score: 0.7,
    entropy: 2.5,
    examples: {
      match: ["https://«hooks.zapier.com/hooks/catch/[[d:7]]/[[l:7]]/»"],
      nomatch: ["https://hooks.zapier.com/hooks/catch/"],
    },
  },
  {
    provider: "IFTTT",
    subtype: "ifttt_webhook_key",
    prefix: "/with/key/",
    anywhere: true,
    body: B64URL,
    min: 20,
    max: 30,
    score: SCORE.unique,
    entropy: 3.8,
    examples: { match: ["https://maker.ifttt.com/trigger/door«/with/key/[[w:22]]»"], nomatch: ["/with/key/[[w:8]]"] },
  },
  {
    provider: "Spotify",
    subtype: "spotify_client_secret",
    context: ["spotify_client_secret", "spotify_secret"],
    body: classTable((u) => (u >= 0x30 && u <= 0x39) || (u >= 0x61 && u <= 0x66)),
    min: 32,
    max: 32,
    score: SCORE.context,
    entropy: 3.0,
    examples: { match: ["SPOTIFY_CLIENT_SECRET=«[[h:32]]»"], nomatch: ["SPOTIFY_CLIENT_SECRET=[[h:10]]"] },
  },
  {
    provider: "Reddit",
    subtype: "reddit_client_secret",
    context: ["reddit_client_secret", "reddit_secret"],
    body: B64URL,
    min: 27,
    max: 30,
    score: SCORE.context,
    entropy: 3.8,
    examples: { match: ["REDDIT_CLIENT_SECRET=«[[w:27]]»"], nomatch: ["REDDIT_CLIENT_SECRET=[[w:8]]"] },
  },
];

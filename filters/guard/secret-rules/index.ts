/** Every secret format, by family (re-exports only; the scanner compiles them in secrets.ts). */
import { AI_RULES } from "./ai.ts";
import { CHAT_RULES } from "./chat.ts";
import { CLOUD_RULES } from "./cloud.ts";
import { CLOUD_PLATFORM_RULES } from "./cloud-platforms.ts";
import { GENERIC_RULES } from "./generic.ts";
import { DETECTOR_RULES, KEY_RULES } from "./keys.ts";
import { MESSAGING_RULES } from "./messaging.ts";
import { OBSERVABILITY_RULES } from "./observability.ts";
import { PAYMENT_RULES } from "./payments.ts";
import { REGISTRY_RULES } from "./registries.ts";
import type { DetectorRule, SecretRule } from "./rule.ts";
import { SAAS_RULES } from "./saas.ts";
import { SOURCE_RULES } from "./source.ts";
import { WEB3_RULES } from "./web3.ts";

export type { Checksum, DetectorRule, ExampleFn, RuleExamples, SecretRule } from "./rule.ts";
export { CONTEXT_WINDOW, TEMPLATE_ALPHABETS } from "./rule.ts";
export { GENERIC_WORDS, genericAssignmentAt } from "./generic.ts";

/** Prefix and context rules, in the order they are tried (for one prefix: longest prefix first, then this order). */
export const SECRET_RULES: readonly SecretRule[] = [
  ...CLOUD_RULES,
  ...CLOUD_PLATFORM_RULES,
  ...SOURCE_RULES,
  ...REGISTRY_RULES,
  ...CHAT_RULES,
  ...PAYMENT_RULES,
  ...MESSAGING_RULES,
  ...AI_RULES,
  ...OBSERVABILITY_RULES,
  ...SAAS_RULES,
  ...WEB3_RULES,
  ...KEY_RULES,
];

/** Formats read by hand-written detectors, listed with their examples. */
export const DETECTOR_FORMATS: readonly DetectorRule[] = [...DETECTOR_RULES, ...GENERIC_RULES];

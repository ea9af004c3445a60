/** LLM guard: scanners, policy, provider adapters and the streaming scanner. Re-exports only. */
export type { Finding, FindingType, ScanOptions, Scanner } from "./types.ts";
export { FINDING_TYPES } from "./types.ts";
export { type NormalizedText, normalize, type OffsetMap, toOriginal } from "./normalize.ts";
export { type InjectionModel, scanInjection, setInjectionModel } from "./prompt-injection.ts";
export { MAX_PHONE_PARSES, type PiiScanOptions, scanPii } from "./pii.ts";
export { scanSecrets } from "./secrets.ts";
export { scanInvisible } from "./invisible.ts";
export {
  DEFAULT_GUARD_POLICY,
  DEFAULT_MAX_BYTES,
  DEFAULT_THRESHOLD,
  type GuardAction,
  type GuardPolicy,
  parseGuardPolicy,
  type ScannerPolicy,
} from "./policy.ts";
export {
  actionFor,
  checkSize,
  type RedactStyle,
  redact,
  type ScanAction,
  type ScanResult,
  type ScanTextOptions,
  scanText,
} from "./scan.ts";
export { checkDeadline } from "./deadline.ts";
export {
  DEFAULT_MAX_HOLD,
  DEFAULT_WINDOW,
  holdFrom,
  type Released,
  StreamScanner,
  type StreamScannerOptions,
  type StreamStep,
} from "./stream-scanner.ts";
export { type SlotFinding, type SlotScan, scanSlots, scanTexts } from "./scan-slots.ts";
export {
  clearLogprobs,
  formatPath,
  type GuardAdapter,
  type JsonPath,
  parseJsonBody,
  setAtPath,
  type TextSlot,
} from "./adapters/types.ts";
export { checkJsonKeys, MAX_JSON_DEPTH, parseStrictJson } from "./adapters/strict-json.ts";
export { type GroupOf, groupByItem, walkStrings } from "./adapters/walk.ts";
export { jsonText } from "./adapters/json-text.ts";
export { openaiChat } from "./adapters/openai-chat.ts";
export { openaiResponses } from "./adapters/openai-responses.ts";
export { anthropicMessages } from "./adapters/anthropic-messages.ts";
export { compileJsonPath, createGenericAdapter, type GenericAdapterConfig } from "./adapters/generic-json.ts";
export {
  DEFAULT_MAX_EVENT_SIZE,
  formatSseEvent,
  replaceEventData,
  type SseEvent,
  SseParser,
  type SseParserOptions,
} from "./adapters/sse.ts";
export {
  type EventView,
  eventSlots,
  NO_TEXT,
  parseEventData,
  rewriteEvent,
  type StreamRef,
  type StreamSlot,
} from "./adapters/stream-event.ts";
export { openAiStreamError, openAiStreamEvent, type StreamErrorInfo } from "./adapters/openai-stream.ts";
export { anthropicStreamError, anthropicStreamEvent } from "./adapters/anthropic-stream.ts";

/**
 * OpenTelemetry GenAI semantic-convention attribute names used by our spans (semantic conventions 1.45,
 * `@opentelemetry/semantic-conventions` 1.45.0). They are still "incubating" there, and the package's own
 * advice for incubating names is to copy the definitions rather than import `/incubating` (which loads
 * every unstable name: ~4.4 MB of heap in the guard thread). test/unit/telemetry/semconv.test.ts checks
 * each value against the package, so an upgrade that renames one fails the test.
 */
export const ATTR_GEN_AI_OPERATION_NAME = "gen_ai.operation.name";
export const ATTR_GEN_AI_PROVIDER_NAME = "gen_ai.provider.name";
export const ATTR_GEN_AI_REQUEST_MODEL = "gen_ai.request.model";
export const ATTR_GEN_AI_REQUEST_STREAM = "gen_ai.request.stream";
export const ATTR_GEN_AI_RESPONSE_MODEL = "gen_ai.response.model";
export const ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk";
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens";
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens";

/**
 * Decision → Envoy CheckResponse, in one place. Nothing here throws: every outcome, including
 * internal failures, becomes an OK or a 403 (fail closed).
 */
export const DECISION_ID_HEADER = "x-hexr-decision-id";

const GRPC_OK = 0;
const GRPC_PERMISSION_DENIED = 7;
const HTTP_FORBIDDEN = 403;
const OVERWRITE_IF_EXISTS_OR_ADD = "OVERWRITE_IF_EXISTS_OR_ADD";

export interface HeaderValueOption {
  header: { key: string; value: string };
  append_action: string;
}

export interface CheckResponse {
  status: { code: number; message?: string };
  ok_response?: { headers: HeaderValueOption[]; headers_to_remove: string[] };
  denied_response?: { status: { code: number }; headers: HeaderValueOption[]; body: string };
}

const JSON_CONTENT_TYPE: HeaderValueOption = {
  header: { key: "content-type", value: "application/json" },
  append_action: OVERWRITE_IF_EXISTS_OR_ADD,
};
const OK_STATUS = { code: GRPC_OK };
const DENIED_STATUS = { code: GRPC_PERMISSION_DENIED };
const FORBIDDEN = { code: HTTP_FORBIDDEN };
const NO_REMOVALS: string[] = [];

function header(key: string, value: string): HeaderValueOption {
  return { header: { key, value }, append_action: OVERWRITE_IF_EXISTS_OR_ADD };
}

/**
 * Allowed: forward upstream with the decision id (and any injected headers), removing headers the
 * client must not be able to set.
 */
export function okResponse(
  decisionId: string,
  headersToRemove: string[] = NO_REMOVALS,
  extraHeaders?: HeaderValueOption[],
): CheckResponse {
  const headers = [header(DECISION_ID_HEADER, decisionId)];
  if (extraHeaders) for (const h of extraHeaders) headers.push(h);
  return { status: OK_STATUS, ok_response: { headers, headers_to_remove: headersToRemove } };
}

/**
 * Denied: 403 to the client with `{"decision":"deny","reasons":[…],"decision_id":…}`, or, for a protocol
 * that has its own error format (A2A's JSON-RPC, REST and gRPC errors), that protocol's answer.
 */
export function deniedResponse(
  decisionId: string,
  reasons: readonly string[],
  answer?: { readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: string },
): CheckResponse {
  if (answer) {
    const headers = [header(DECISION_ID_HEADER, decisionId)];
    for (const name in answer.headers) headers.push(header(name, answer.headers[name] as string));
    return {
      status: DENIED_STATUS,
      denied_response: { status: { code: answer.status }, headers, body: answer.body },
    };
  }
  return {
    status: DENIED_STATUS,
    denied_response: {
      status: FORBIDDEN,
      headers: [JSON_CONTENT_TYPE, header(DECISION_ID_HEADER, decisionId)],
      body: JSON.stringify({ decision: "deny", reasons, decision_id: decisionId }),
    },
  };
}

export { header as headerOption };

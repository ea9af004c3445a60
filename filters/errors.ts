/**
 * One error base with stable codes. Codes double as deny reasons and metric labels, so they never
 * carry request data (tokens, bodies, header values); `message` may name fields and limits, not values.
 *
 * @example
 *   throw new HexrError("spiffe_id.bad_scheme", "SPIFFE ID must start with spiffe://");
 */
export type HexrErrorCode =
  | `spiffe_id.${string}`
  | `identity.${string}`
  | `jwt_svid.${string}`
  | `policy.${string}`
  | `bundle.${string}`
  | `catalog.${string}`
  | `config.${string}`
  | `guard.${string}`
  | `credentials.${string}`
  | `a2a.${string}`
  | `internal.${string}`;

export class HexrError extends Error {
  readonly code: HexrErrorCode;

  constructor(code: HexrErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "HexrError";
    this.code = code;
  }

  /** `code: message`, the form used as a deny reason. */
  get reason(): string {
    return `${this.code}: ${this.message}`;
  }
}

export function isHexrError(e: unknown): e is HexrError {
  return e instanceof HexrError;
}

/**
 * One exchange done the same way for every provider: get the caller's JWT-SVID, call the issuer, and retry
 * only what the issuer said may be retried — a refused token once with a fresh one (never a loop), a
 * transient failure a bounded number of times with jittered backoff — all within one deadline, so a slow
 * issuer ends in a clear reason before Envoy's own ext_authz timeout does.
 *
 * @example
 *   const x = new Exchanger({ deadlineMs: 1500 });
 *   const cred = await x.exchange(provider, { caller, durationSeconds: 900 }, tokens);
 */
import { HexrError, isHexrError } from "../errors.ts";
import type { CredentialProvider, ExchangeRequest, IssuedCredential, TokenSource } from "./types.ts";
import { CredentialError } from "./types.ts";

export const DEFAULT_EXCHANGE_DEADLINE_MS = 1_500;
export const DEFAULT_TRANSIENT_RETRIES = 2;
const BACKOFF_BASE_MS = 50;

export interface ExchangerOptions {
  /** The whole exchange, retries included (keep it under Envoy's ext_authz timeout). */
  readonly deadlineMs?: number;
  readonly transientRetries?: number;
}

export class Exchanger {
  readonly #deadlineMs: number;
  readonly #retries: number;

  constructor(o: ExchangerOptions = {}) {
    this.#deadlineMs = o.deadlineMs ?? DEFAULT_EXCHANGE_DEADLINE_MS;
    this.#retries = o.transientRetries ?? DEFAULT_TRANSIENT_RETRIES;
  }

  async exchange(provider: CredentialProvider, req: ExchangeRequest, tokens: TokenSource): Promise<IssuedCredential> {
    const signal = AbortSignal.timeout(this.#deadlineMs);
    const started = Date.now();
    try {
      let token = await tokens.token(req.caller, provider.audience, { signal });
      let freshToken = false;
      for (let attempt = 0; ; attempt++) {
        try {
          return await provider.exchange(req, token, signal);
        } catch (e) {
          if (!(e instanceof CredentialError)) throw e;
          if (e.retry === "token" && !freshToken) {
            freshToken = true;
            token = await tokens.token(req.caller, provider.audience, { fresh: true, signal });
            continue;
          }
          const pause = BACKOFF_BASE_MS * 2 ** attempt * (0.5 + Math.random());
          if (e.retry !== "transient" || attempt >= this.#retries || Date.now() - started + pause >= this.#deadlineMs) {
            throw e;
          }
          await new Promise((r) => setTimeout(r, pause));
        }
      }
    } catch (e) {
      if (signal.aborted && !(e instanceof CredentialError)) {
        throw new CredentialError(
          "credentials.issuer_unavailable",
          `${provider.name}: no credential within ${this.#deadlineMs} ms`,
          "transient",
          "deadline",
        );
      }
      if (isHexrError(e)) throw e;
      throw new HexrError("credentials.exchange_failed", `${provider.name}: exchange failed`);
    }
  }
}

/**
 * The caller's JWT-SVID without agent code: the sidecar is an *authorized delegate* of the node's SPIRE
 * agent (its own SPIFFE ID is in the agent's `authorized_delegates`) and asks the agent's admin socket
 * (Delegated Identity API, `FetchJWTSVIDs`) for the JWT-SVID of the workload with given selectors.
 *
 * **How the sidecar learns SPIFFE ID → selectors.** From its config, written by whoever places the
 * sidecar beside the agent: `credentials.delegated.agents` maps each SPIFFE ID this sidecar serves to the
 * selectors SPIRE attests that agent's processes with (in Kubernetes the injector writes the pod's
 * `k8s:ns`, `k8s:sa` and `k8s:pod-uid`; on a host, `unix:uid` / `unix:path`). The sidecar never derives
 * selectors from a request. It asks only for the *verified* caller's ID, and it keeps only an SVID whose ID
 * is exactly that caller (selectors can match several entries): anything else is
 * `credentials.no_token_for_caller`, never a token for another identity.
 *
 * @example
 *   const src = new DelegatedTokenSource({ socketPath: "/run/spire/admin.sock",
 *     agents: new Map([["spiffe://hexr.cloud/agent/acme/crew/researcher", [{ type: "unix", value: "uid:1001" }]]]) });
 *   const t = await src.token(caller, "sts.amazonaws.com");
 */
import path from "node:path";
import type { Selector } from "./selector.ts";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Caller, CallerToken, TokenSource } from "../../filters/credentials/types.ts";
import { CredentialError } from "../../filters/credentials/types.ts";
import { workloadApiTarget } from "./client.ts";

export const DELEGATED_IDENTITY_PROTO = path.join(
  import.meta.dirname,
  "..",
  "..",
  "proto",
  "spire",
  "delegatedidentity.proto",
);
export const DEFAULT_DELEGATED_TIMEOUT_MS = 2_000;
const MAX_MESSAGE_BYTES = 1 << 20;

export interface DelegatedTokenSourceOptions {
  /** The SPIRE agent's admin socket (`admin_socket_path`). */
  readonly socketPath: string;
  /** SPIFFE ID → the selectors its processes are attested with. */
  readonly agents: ReadonlyMap<string, readonly Selector[]>;
  readonly timeoutMs?: number;
}

interface JwtSvidMessage {
  token: string;
  id?: { trust_domain: string; path: string };
  expires_at: string | number;
}

type FetchJwtSvids = (
  req: { audience: string[]; selectors: readonly Selector[] },
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: { svids: JwtSvidMessage[] }) => void,
) => void;

let serviceCtor: grpc.ServiceClientConstructor | undefined;
function service(): grpc.ServiceClientConstructor {
  if (!serviceCtor) {
    const def = protoLoader.loadSync(DELEGATED_IDENTITY_PROTO, { keepCase: true, longs: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      spire: { api: { agent: { delegatedidentity: { v1: { DelegatedIdentity: grpc.ServiceClientConstructor } } } } };
    };
    serviceCtor = pkg.spire.api.agent.delegatedidentity.v1.DelegatedIdentity;
  }
  return serviceCtor;
}

export class DelegatedTokenSource implements TokenSource {
  readonly #client: grpc.Client;
  readonly #agents: ReadonlyMap<string, readonly Selector[]>;
  readonly #timeoutMs: number;

  constructor(o: DelegatedTokenSourceOptions) {
    this.#agents = o.agents;
    this.#timeoutMs = o.timeoutMs ?? DEFAULT_DELEGATED_TIMEOUT_MS;
    const Ctor = service();
    this.#client = new Ctor(workloadApiTarget(o.socketPath), grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    });
  }

  token(caller: Caller, audience: string, opts: { signal?: AbortSignal } = {}): Promise<CallerToken> {
    const selectors = this.#agents.get(caller.spiffeId);
    if (selectors === undefined) {
      return Promise.reject(
        new CredentialError(
          "credentials.no_token_for_caller",
          "this sidecar has no selectors for the caller (credentials.delegated.agents)",
          "never",
          "no_selectors",
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const call = (this.#client as unknown as { FetchJWTSVIDs: FetchJwtSvids }).FetchJWTSVIDs.bind(this.#client);
      const deadline = new Date(Date.now() + this.#timeoutMs);
      const onAbort = () => reject(unavailable("cancelled"));
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      call({ audience: [audience], selectors }, new grpc.Metadata(), { deadline }, (err, res) => {
        opts.signal?.removeEventListener("abort", onAbort);
        if (err) {
          // PERMISSION_DENIED: this sidecar is not an authorized delegate; a config error, not transient
          if (err.code === grpc.status.PERMISSION_DENIED) {
            reject(
              new CredentialError(
                "credentials.delegation_refused",
                "the SPIRE agent refused this sidecar as a delegate (authorized_delegates)",
                "never",
                "permission_denied",
              ),
            );
          } else reject(unavailable(grpc.status[err.code] ?? String(err.code)));
          return;
        }
        const svid = res?.svids.find((s) => s.id && `spiffe://${s.id.trust_domain}${s.id.path}` === caller.spiffeId);
        if (!svid?.token) {
          reject(
            new CredentialError(
              "credentials.no_token_for_caller",
              "the SPIRE agent issued no JWT-SVID for the caller's SPIFFE ID under its selectors",
              "never",
              "no_svid",
            ),
          );
          return;
        }
        resolve({ token: svid.token, expiresAt: Number(svid.expires_at) * 1000, source: "delegated" });
      });
    });
  }

  close(): void {
    this.#client.close();
  }
}

function unavailable(code: string): CredentialError {
  return new CredentialError(
    "credentials.token_unavailable",
    `the SPIRE agent's Delegated Identity API did not answer (${code})`,
    "transient",
    code,
  );
}

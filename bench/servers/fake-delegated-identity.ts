/**
 * A bench stand-in for the SPIRE agent's Delegated Identity API (`FetchJWTSVIDs` on a Unix socket), not a
 * SPIRE agent: it hands out a JWT-SVID for the SPIFFE ID whose selectors match the request, signed with a
 * key made at start that nothing verifies (the STS stand-in checks the form, not the token). It lets the
 * sidecar run from its config exactly as deployed (`token_source: delegated`) without SPIRE; the token is
 * fetched only for an exchange, once per cache key, so it is not part of the steady-state numbers.
 *
 * @example
 *   const api = await startFakeDelegatedIdentity(socket, new Map([[writerId, ["unix:uid:1000"]]]));
 *   // credentials.delegated: { socket, agents: { [writerId]: ["unix:uid:1000"] } }
 *   await api.stop();
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { generateKeyPair, SignJWT } from "jose";
import { DELEGATED_IDENTITY_PROTO } from "../../sidecars/workload-api/delegated.ts";

const TOKEN_SECONDS = 300;

interface Selector {
  type: string;
  value: string;
}

export interface FakeDelegatedIdentity {
  readonly socket: string;
  /** FetchJWTSVIDs calls answered so far. */
  calls(): number;
  stop(): Promise<void>;
}

function service(): grpc.ServiceDefinition {
  const def = protoLoader.loadSync(DELEGATED_IDENTITY_PROTO, { keepCase: true, longs: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    spire: { api: { agent: { delegatedidentity: { v1: { DelegatedIdentity: grpc.ServiceClientConstructor } } } } };
  };
  return pkg.spire.api.agent.delegatedidentity.v1.DelegatedIdentity.service;
}

/** `agents`: SPIFFE ID → its selectors (`type:value`), as in `credentials.delegated.agents`. */
export async function startFakeDelegatedIdentity(
  socket: string,
  agents: ReadonlyMap<string, readonly string[]>,
): Promise<FakeDelegatedIdentity> {
  const { privateKey } = await generateKeyPair("ES256");
  let calls = 0;
  const matches = (asked: readonly Selector[], want: readonly string[]) =>
    want.every((w) => asked.some((s) => `${s.type}:${s.value}` === w));
  const server = new grpc.Server();
  server.addService(service(), {
    FetchJWTSVIDs(
      call: grpc.ServerUnaryCall<{ audience: string[]; selectors: Selector[] }, unknown>,
      cb: grpc.sendUnaryData<unknown>,
    ) {
      const { audience, selectors } = call.request;
      const now = Math.floor(Date.now() / 1000);
      const ids = [...agents].filter(([, want]) => matches(selectors, want)).map(([id]) => id);
      Promise.all(
        ids.map(async (id) => {
          const u = new URL(id);
          const token = await new SignJWT({})
            .setProtectedHeader({ alg: "ES256", kid: "bench", typ: "JWT" })
            .setSubject(id)
            .setAudience(audience)
            .setIssuedAt(now)
            .setExpirationTime(now + TOKEN_SECONDS)
            .sign(privateKey);
          return {
            token,
            id: { trust_domain: u.host, path: u.pathname },
            expires_at: now + TOKEN_SECONDS,
            issued_at: now,
          };
        }),
      ).then(
        (svids) => {
          calls++;
          cb(null, { svids });
        },
        (e: Error) => cb({ code: grpc.status.INTERNAL, details: e.message }),
      );
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return {
    socket,
    calls: () => calls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      }),
  };
}

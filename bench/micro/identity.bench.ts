/**
 * Identity extraction: CheckRequest attributes → Principal. Envoy sends the same peer certificate on every
 * request of a connection, so the usual path is a cache hit; a miss is a new connection's first request.
 */
import {
  identityFromCheckAttributes,
  PeerCertificateReader,
  principalFromSpiffeId,
} from "../../filters/identity/index.ts";
import { envoyCertificates, type MicroSuite, TRUST_DOMAIN, WRITER } from "./harness.ts";

const suite: MicroSuite = async (bench) => {
  const [certA, certB] = await envoyCertificates([WRITER, WRITER]);
  const opts = { trustDomains: new Set([TRUST_DOMAIN]) };
  const attrs = { source: { principal: WRITER, certificate: certA! } };
  identityFromCheckAttributes(attrs, opts); // fill the shared certificate cache

  bench.add("identity: CheckRequest → Principal (cert cache hit)", () => {
    identityFromCheckAttributes(attrs, opts);
  });

  // A one-entry cache fed two certificates in turn: every read parses an X.509 certificate.
  const cold = new PeerCertificateReader({ maxEntries: 1 });
  let flip = false;
  bench.add("identity: CheckRequest → Principal (cert cache miss)", () => {
    flip = !flip;
    principalFromSpiffeId(cold.read(flip ? certA! : certB!));
  });
};
export default suite;

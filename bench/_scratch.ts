import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildBenchBundles, REFERENCE_POLICY, REFERENCE_DECISION_PATH, testReferencePolicy } from "./bundles.ts";
import { makeBenchPki } from "./stacks/pki.ts";
import { startStacks } from "./stacks/index.ts";
import { CERT_HOSTS, writeRequestBodies } from "./scenarios.ts";
import { findFortio, findOpaEnvoy } from "./tools.ts";
import { runLoad } from "./load.ts";
import { CpuMeter, rssMb } from "./procstat.ts";

const dir = mkdtempSync(path.join(tmpdir(), "hexr-bench-"));
const t0 = Date.now();
await testReferencePolicy(findOpaEnvoy());
const bundles = await buildBenchBundles(dir);
console.log("bundles", Date.now() - t0);
const pki = await makeBenchPki(dir, CERT_HOSTS);
const fortio = findFortio();
const s = await startStacks(new Set(["direct", "envoy", "hexr-authz-rbac", "opa-envoy-rbac", "hexr-proc", "hexr-authz-allow"]), {
  dir, pki, fortio, opaEnvoy: findOpaEnvoy(), bundles, referencePolicy: REFERENCE_POLICY, referencePath: REFERENCE_DECISION_PATH,
  bodies: writeRequestBodies(dir), envoyConcurrency: 1, onStart: (w) => console.log("start", w, Date.now() - t0),
});
try {
  for (const [id, st] of s.stacks) {
    const pids = [st.server?.pid, st.envoy?.pid].filter((p): p is number => p !== undefined);
    const m = new CpuMeter(pids);
    const r = await runLoad(fortio, { ...st.target("s3-put"), rate: 500, durationS: 3, connections: 4 }, dir, id);
    console.log(id, JSON.stringify(r), st.server ? { cpu: m.used(st.server.pid), rss: rssMb(st.server.pid) } : "", st.envoy ? await st.envoy.counters("http.outbound.ext_") : "");
  }
} finally {
  await s.stop();
}
console.log(dir);

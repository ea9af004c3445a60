import { afterEach, describe, expect, it } from "vitest";
import { Registry } from "../../../filters/telemetry/metrics.ts";
import { AdminServer } from "../../../sidecars/telemetry/admin.ts";

let admin: AdminServer | undefined;
afterEach(async () => {
  await admin?.close();
  admin = undefined;
});

describe("the admin listener", () => {
  it("a client polling /metrics in a loop gets one exposition built per interval (the loop is ext_authz's)", async () => {
    const registry = new Registry();
    registry.counter("x_total", "X.").labels().inc();
    let builds = 0;
    const real = registry.exposition.bind(registry);
    registry.exposition = () => {
      builds++;
      return real();
    };
    let extra = 0;
    admin = await AdminServer.start("127.0.0.1:0", {
      registry,
      extra: [
        async () => {
          extra++;
          return "";
        },
      ],
      ready: () => true,
    });
    const bodies = await Promise.all(
      Array.from({ length: 50 }, async () => (await fetch(`http://${admin!.address}/metrics`)).text()),
    );
    expect(new Set(bodies).size).toBe(1);
    expect(bodies[0]).toContain("x_total 1");
    expect(builds).toBe(1);
    expect(extra).toBe(1);
  });

  it("answers /ready by the sidecar's state and nothing but GET/HEAD on known paths", async () => {
    let ready = false;
    admin = await AdminServer.start("127.0.0.1:0", { registry: new Registry(), ready: () => ready });
    const base = `http://${admin.address}`;
    expect((await fetch(`${base}/ready`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: "POST", body: "x" })).status).toBe(405);
  });
});

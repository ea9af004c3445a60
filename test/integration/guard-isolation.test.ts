/**
 * One agent must not be able to stall another agent's authorization. Through real Envoy and the real
 * sidecar (ext_authz deadline 250 ms, as in production): one identity floods the LLM guard with large
 * prompts of the shapes that cost scanners the most, while another identity makes authz-only S3 requests.
 * Every one of the latter must be allowed: a Check that waited behind scanning past Envoy's deadline would
 * come back 403 (status_on_error), which is exactly what happened before the guard had its own thread.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryAudit } from "../../sidecars/authz/audit.ts";
import type { ClientIdentity } from "../../sidecars/devtools/client.ts";
import { type LocalDataPlane, startLocalDataPlane } from "../../sidecars/devtools/local-dataplane.ts";
import { MemoryLogger } from "../../sidecars/logger.ts";
import { buildProjectBundle } from "../helpers/bundles.ts";

const TD = "hexr.cloud";
const RESEARCHER = `spiffe://${TD}/agent/acme-corp/content-crew/researcher`;
const WRITER = `spiffe://${TD}/agent/acme-corp/content-crew/writer`;
const START = Date.parse("2026-01-15T10:30:00Z");
const AUTHZ_TIMEOUT_MS = 250;
const AUTHZ_REQUESTS = 40;
const FLOODERS = 8;
/** Just under the guard's per-text cap (256 KiB): scanned, not refused for size. */
const PROMPT_CHARS = 240 * 1024;

/** Prompt shapes that cost the scanners the most per byte (issue #8 measured ~12x plain prose). */
const SHAPES = ["eyJhbGciOi.", "-----BEGIN ", "https://a.b/c?d=e&", "\u200b\u200d\u2060", "AKIA", "ignore previous "];
const prompt = (k: number) =>
  SHAPES[k % SHAPES.length]!.repeat(Math.ceil(PROMPT_CHARS / SHAPES[k % SHAPES.length]!.length)).slice(0, PROMPT_CHARS);

let dp: LocalDataPlane;
let tick = 0;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-isolation-"));
  dp = await startLocalDataPlane({
    bundlePath: buildProjectBundle(dir),
    logger: new MemoryLogger(),
    audit: new MemoryAudit(),
    // one simulated second per decision keeps both agents under the policy's rate limit
    now: () => START + 1000 * tick++,
    authzTimeoutMs: AUTHZ_TIMEOUT_MS,
  });
});

afterAll(async () => {
  await dp?.stop();
});

describe("guard load does not reach ext_authz", () => {
  it("a flood of pathological prompts from one agent leaves another agent's authz-only requests allowed", async () => {
    const writer = await dp.identity([WRITER]);
    const researcher = await dp.identity([RESEARCHER]);
    await dp.sidecar.extProcThread?.flush();
    // bodies the guard read: scanned, or past its scan budget (unscannable, fail closed) on a starved machine
    const handled = () => dp.sidecar.guard!.stats.scanned + dp.sidecar.guard!.stats.unscannable;
    const scannedBefore = handled();
    let flooding = true;
    let floodReplies = 0;
    const flood = async (id: ClientIdentity, k: number) => {
      for (let i = 0; flooding && i < 200; i++) {
        // two texts per body: ~480 KB, under the 512 KiB body cap
        const messages = [
          { role: "user", content: prompt(k + i) },
          { role: "user", content: prompt(k + i + 1) },
        ];
        const body = JSON.stringify({ model: "gpt-4o-mini", messages });
        await dp.send(id, {
          method: "POST",
          host: "api.openai.com",
          path: "/v1/chat/completions",
          headers: { "content-type": "application/json" },
          body,
        });
        floodReplies++;
      }
    };
    const floods = Array.from({ length: FLOODERS }, (_, k) => flood(writer, k));
    // let the guard get busy before measuring
    while (floodReplies < FLOODERS) await new Promise((r) => setTimeout(r, 10));

    const outcomes: Array<{ status: number; ms: number }> = [];
    const floodsBefore = floodReplies;
    // at least AUTHZ_REQUESTS, and on until two rounds of floods were answered meanwhile *and* the guard
    // itself read that many bodies (on a starved box Envoy may answer some floods first, on its ext_proc
    // deadline, so the reply count alone can run ahead of the guard)
    const until = Date.now() + 20_000;
    const busyEnough = async () => {
      if (floodReplies - floodsBefore < 2 * FLOODERS) return false;
      await dp.sidecar.extProcThread?.flush(); // the thread's counters as of now
      return handled() - scannedBefore >= 2 * FLOODERS;
    };
    for (let i = 0; i < AUTHZ_REQUESTS || (Date.now() < until && !(await busyEnough())); i++) {
      const t0 = performance.now();
      const r = await dp.send(researcher, { method: "GET", host: "reports.s3.amazonaws.com", path: `/q${i}.csv` });
      outcomes.push({ status: r.status, ms: performance.now() - t0 });
    }
    const floodsDuring = floodReplies - floodsBefore;
    flooding = false;
    await Promise.all(floods);
    await dp.sidecar.extProcThread?.flush(); // the thread's counters as of now

    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    // and none came near Envoy's deadline (end to end, so Envoy and the upstream are in it too)
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(AUTHZ_TIMEOUT_MS);
    // the guard really was busy scanning the whole time
    expect(floodsDuring).toBeGreaterThanOrEqual(2 * FLOODERS);
    expect(handled() - scannedBefore).toBeGreaterThanOrEqual(FLOODERS * 2);
    const sorted = outcomes.map((o) => o.ms).sort((a, b) => a - b);
    console.log(
      `authz-only under guard flood: p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms; ${floodsDuring} flood prompts answered meanwhile`,
    );
  });
});

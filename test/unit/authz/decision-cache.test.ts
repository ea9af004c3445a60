import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  buildInput,
  DecisionCache,
  decisionCacheKey,
  NOOP_LOGGER,
  PolicyStore,
  type Decision,
  type OpaInput,
} from "../../../filters/authz/index.ts";
import { buildDir, POLICIES, tempDir } from "./helpers.ts";

const principal = {
  spiffeId: "spiffe://hexr.cloud/agent/acme/crew/researcher",
  tenant: "acme",
  agent: "crew",
  role: "researcher",
};
const T0 = Date.UTC(2026, 0, 15, 10, 30, 0);

function input(over: Partial<Parameters<typeof buildInput>[0]> = {}): OpaInput {
  return buildInput({
    principal,
    service: "aws_s3",
    action: "s3:GetObject",
    method: "GET",
    host: "s3.amazonaws.com",
    path: "/b/k",
    headers: { "content-type": "text/plain", accept: "*/*" },
    now: T0,
    callsLastMinute: 3,
    ...over,
  });
}

const ALLOW: Decision = { allow: true, reasons: [] };

const A2A = { caller: "x", target: "y", method: "SendMessage", version: "1.0", binding: "jsonrpc", chain: [] } as const;

describe("decisionCacheKey", () => {
  it("is stable for equal inputs, whatever the header order", () => {
    const a = input({ headers: { accept: "*/*", "content-type": "text/plain" } });
    const b = input({ headers: { "content-type": "text/plain", accept: "*/*" } });
    expect(decisionCacheKey(1, a)).toBe(decisionCacheKey(1, b));
  });

  it.each<[string, Partial<Parameters<typeof buildInput>[0]>]>([
    ["role", { principal: { ...principal, role: "writer" } }],
    ["spiffe id", { principal: { ...principal, spiffeId: "spiffe://hexr.cloud/agent/acme/crew/researcher/sub" } }],
    ["tenant", { principal: { ...principal, tenant: "other" } }],
    ["service", { service: "gcp_storage" }],
    ["action", { action: "s3:PutObject" }],
    ["resource", { resource: { bucket: "b", key: "k" } }],
    [
      "actions",
      {
        actions: [
          { action: "s3:GetObject", resource: {} },
          { action: "s3:PutObjectAcl", resource: {} },
        ],
      },
    ],
    ["method", { method: "PUT" }],
    ["host", { host: "reports.s3.amazonaws.com" }],
    ["path", { path: "/b/k2" }],
    ["second", { now: T0 + 1000 }],
    ["rate", { callsLastMinute: 4 }],
    ["header value", { headers: { "content-type": "text/html", accept: "*/*" } }],
    ["header set", { headers: { "content-type": "text/plain" } }],
    ["a2a", { a2a: A2A }],
    ["a2a task", { a2a: { ...A2A, task_id: "t1" } }],
    ["a2a chain", { a2a: { ...A2A, chain: ["spiffe://hexr.cloud/agent/acme-corp/crew/planner"] } }],
    ["a2a version", { a2a: { ...A2A, version: "0.3" } }],
  ])("changes with the %s", (_field, over) => {
    expect(decisionCacheKey(1, input(over))).not.toBe(decisionCacheKey(1, input()));
  });

  it("cannot be forged by shifting bytes between fields", () => {
    const a = input({ path: "/a\u00001:b", principal: { ...principal, role: "r" } });
    const b = input({ path: "/a", principal: { ...principal, role: "r" } });
    expect(decisionCacheKey(1, a)).not.toBe(decisionCacheKey(1, b));
    const c = input({ action: "x\u00002:ab" });
    const d = input({ action: "x", service: "aws_s3" });
    expect(decisionCacheKey(1, c)).not.toBe(decisionCacheKey(1, d));
  });

  it("includes the generation", () => {
    expect(decisionCacheKey(1, input())).not.toBe(decisionCacheKey(2, input()));
  });

  it("ignores sub-second time (the input itself has whole seconds)", () => {
    expect(decisionCacheKey(1, input({ now: T0 + 999 }))).toBe(decisionCacheKey(1, input({ now: T0 })));
  });
});

describe("DecisionCache", () => {
  it("returns what was stored, until the TTL passes", () => {
    let now = 10_000;
    const cache = new DecisionCache({ max: 10, ttlMs: 1000, perf: { now: () => now } });
    const k = decisionCacheKey(1, input());
    cache.set(k, ALLOW);
    expect(cache.get(k)).toBe(ALLOW);
    now += 999;
    expect(cache.get(k)).toBe(ALLOW);
    now += 2;
    expect(cache.get(k)).toBeUndefined();
  });

  it("is bounded", () => {
    const cache = new DecisionCache({ max: 2 });
    for (let i = 0; i < 5; i++) cache.set(decisionCacheKey(1, input({ callsLastMinute: i })), ALLOW);
    expect(cache.size).toBe(2);
  });

  it("does not store oversized keys", () => {
    const cache = new DecisionCache();
    const k = decisionCacheKey(1, input({ path: `/${"x".repeat(10_000)}` }));
    cache.set(k, ALLOW);
    expect(cache.get(k)).toBeUndefined();
  });

  it("never serves a decision across a policy swap", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const file = path.join(dir, "bundle.tar.gz");
      await writeFile(file, await buildDir(POLICIES, { revision: "strict" }));
      const store = await PolicyStore.open(file, { logger: NOOP_LOGGER });
      const cache = new DecisionCache();
      const decide = (i: OpaInput): Decision => {
        const snap = store.current();
        if (!snap) throw new Error("no policy");
        const key = decisionCacheKey(snap.generation, i);
        const hit = cache.get(key);
        if (hit) return hit;
        const d = snap.engine.evaluate(i);
        cache.set(key, d);
        return d;
      };
      const editor = input({ principal: { ...principal, role: "editor" } });
      expect(decide(editor).allow).toBe(false);
      expect(cache.size).toBe(1);

      // Swap to allow-all; deliberately do NOT clear the cache: the generation alone must protect us.
      await writeFile(file, await buildDir(path.join(POLICIES, "examples"), { revision: "open" }));
      expect(await store.reload()).toBe("swapped");
      expect(decide(editor)).toEqual({ allow: true, reasons: [] });

      // And clear() on swap drops the old entries.
      store.onSwap(() => cache.clear());
      await writeFile(file, await buildDir(POLICIES, { revision: "strict-again" }));
      expect(await store.reload()).toBe("swapped");
      expect(cache.size).toBe(0);
      expect(decide(editor).allow).toBe(false);
      store.close();
    } finally {
      await cleanup();
    }
  });

  it("validates options", () => {
    expect(() => new DecisionCache({ max: 0 })).toThrow(TypeError);
    expect(() => new DecisionCache({ ttlMs: 0 })).toThrow(TypeError);
  });
});

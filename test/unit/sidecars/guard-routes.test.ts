/**
 * The rule: every host/path the service catalog maps to an LLM provider has a guard route, and every
 * LLM host ends in a catch-all, so a path nobody listed is scanned as text rather than passed through.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_CATALOG } from "../../../filters/authz/default-catalog.ts";
import { compileGuardRoutes, DEFAULT_GUARD_ROUTES, matchGuardRoute } from "../../../sidecars/extproc/guard-routes.ts";

const routes = compileGuardRoutes(DEFAULT_GUARD_ROUTES);
/** LLM services: the providers we guard, and anything whose actions are LLM SDK calls. */
const LLM_ACTION = /^(chat|completions|responses|embeddings|messages|moderations|complete)\b/;
const llmEntries = DEFAULT_CATALOG.filter(
  (e) =>
    e.service === "openai" || e.service === "anthropic" || (e.actions ?? []).some((a) => LLM_ACTION.test(a.action)),
);
/** A concrete path for a catalog pattern (`*` one segment, `**` any). */
const concrete = (p: string) => p.replace(/\*\*/g, "a/b").replace(/\*/g, "x");

describe("guard routes cover every LLM path of the catalog", () => {
  it("the catalog has LLM entries (the test would be vacuous otherwise)", () => {
    expect(llmEntries.map((e) => e.service).sort()).toEqual(["anthropic", "openai"]);
  });

  const cases = llmEntries.flatMap((e) =>
    e.hosts.flatMap((h) =>
      (e.actions ?? [{ method: "*", path: "/", action: "*" }]).map(
        (a) => [e.service, h, a.method, concrete(a.path)] as const,
      ),
    ),
  );
  it.each(cases)("%s %s %s %s has a guard route", (_s, host, _m, path) => {
    expect(host).not.toContain("*"); // a wildcard host would need a wildcard guard route
    expect(matchGuardRoute(routes, host, path)).toBeDefined();
  });

  it.each(llmEntries.flatMap((e) => e.hosts))("%s ends in a catch-all json-text route", (host) => {
    for (const p of ["/", "/v2/anything/new", "/v1/audio/speech", "/v1/files", "/v1/threads/x/runs"]) {
      const r = matchGuardRoute(routes, host, p);
      expect(r, p).toBeDefined();
    }
    const last = routes.filter((r) => r.hosts.has(host)).at(-1)!;
    expect(last.pathPrefix).toBe("/");
    expect(last.adapter.name).toBe("json-text");
    expect(last.failMode).toBe("closed");
  });

  it.each([
    ["api.openai.com", "/v1/chat/completions", "openai-chat"],
    ["api.openai.com", "/v1/completions", "openai-completions"],
    ["api.openai.com", "/v1/responses/resp_1/input_items", "openai-responses"],
    ["api.openai.com", "/v1/embeddings", "openai-embeddings"],
    ["api.openai.com:443", "/v1/moderations", "openai-moderations"],
    ["API.OPENAI.COM", "/v1/models", "openai-any"],
    ["api.anthropic.com", "/v1/messages/count_tokens", "anthropic-messages"],
    ["api.anthropic.com", "/v1/messages/batches/b1/results", "anthropic-messages"],
    ["api.anthropic.com", "/v1/complete", "anthropic-complete"],
    ["api.anthropic.com", "/v1/models", "anthropic-any"],
  ])("%s%s → %s", (host, path, name) => {
    expect(matchGuardRoute(routes, host, path)?.name).toBe(name);
  });

  it("hard negative: other hosts are not guard routes", () => {
    expect(matchGuardRoute(routes, "storage.googleapis.com", "/v1/chat/completions")).toBeUndefined();
    expect(matchGuardRoute(routes, "api.openai.com.evil.test", "/v1/chat/completions")).toBeUndefined();
  });
});

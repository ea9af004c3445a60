/**
 * The one place where the benchmark meets the guard processor. The guard scenarios need a
 * `ProcessorRouter` that sends LLM routes (api.openai.com /v1/chat/completions) to the guard and everything
 * else to the pass-through processor. Until `sidecars/extproc/router.ts` exposes one, this returns the
 * reason the guard scenarios are skipped — the suite reports it instead of inventing numbers.
 *
 * When the router lands, wire its factory here (and only here).
 */
import { existsSync } from "node:fs";
import type { ProcessorRouter } from "../../sidecars/extproc/processor.ts";

const ROUTER_MODULE = new URL("../../sidecars/extproc/router.ts", import.meta.url);
/** Factory names tried, in order; each is called with no arguments (the router's default guard routes). */
const FACTORY_NAMES = ["createGuardRouter", "createDefaultRouter", "defaultGuardRouter"] as const;

export type GuardRouterResult = { router: ProcessorRouter } | { skipped: string };

function isRouter(v: unknown): v is ProcessorRouter {
  return typeof v === "object" && v !== null && typeof (v as { select?: unknown }).select === "function";
}

export async function loadGuardRouter(): Promise<GuardRouterResult> {
  if (!existsSync(ROUTER_MODULE)) {
    return { skipped: "the guard processor is not wired yet: sidecars/extproc/router.ts does not exist" };
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(ROUTER_MODULE.href)) as Record<string, unknown>;
  } catch (e) {
    return { skipped: `sidecars/extproc/router.ts failed to load: ${(e as Error).message.split("\n")[0]}` };
  }
  for (const name of FACTORY_NAMES) {
    const f = mod[name];
    if (typeof f !== "function") continue;
    const router = await (f as () => unknown)();
    if (isRouter(router)) return { router };
  }
  return {
    skipped: `sidecars/extproc/router.ts exports none of ${FACTORY_NAMES.join(", ")} returning a ProcessorRouter; wire it in bench/servers/guard-router.ts`,
  };
}

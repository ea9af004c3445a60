/**
 * Runs Prometheus's `promtool` (from Debian's `prometheus` package, installed by scripts/setup.sh and
 * exported as `HEXR_PROMTOOL`) on rule files: `check rules` for syntax and `test rules` for behaviour.
 *
 * @example
 *   const r = promtool(["check", "rules", "charts/hexr-system/alerts/hexr-rules.yaml"]);
 *   if (r.status !== 0) throw new Error(r.output);
 */
import { spawnSync } from "node:child_process";

/** The promtool binary, or a TypeError that says how to get one. */
export function promtoolPath(env: NodeJS.ProcessEnv = process.env): string {
  const p = env["HEXR_PROMTOOL"];
  if (!p) {
    throw new TypeError(
      "HEXR_PROMTOOL is not set: run scripts/setup.sh and `source ~/.cache/hexr/tools/env.sh` " +
        "(promtool comes from Debian's prometheus package: apt-get download prometheus && dpkg -x prometheus_*.deb DIR)",
    );
  }
  return p;
}

export function promtool(args: string[], env: NodeJS.ProcessEnv = process.env): { status: number; output: string } {
  const r = spawnSync(promtoolPath(env), args, { encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, output: `${r.stdout}${r.stderr}` };
}

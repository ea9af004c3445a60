/**
 * A real Prometheus on loopback (Debian's package, unpacked by scripts/setup.sh) scraping the given
 * targets every second, with its HTTP query API for tests and the demo.
 *
 * @example
 *   const p = await startPrometheus([{ job: "hexr-sidecar", target: "127.0.0.1:9464" }]);
 *   await p.untilScraped();
 *   const series = await p.query('sum(rate(hexr_authz_decisions_total[1m]))');
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { GiveUp, waitFor } from "../../envoy-config/runner.ts";
import { freePort, runTool } from "./child-process.ts";

export interface ScrapeTarget {
  job: string;
  /** host:port */
  target: string;
  /** Default /metrics. */
  metricsPath?: string;
}

export interface PromSeries {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromRange {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface RunningPrometheus {
  url: string;
  /** An instant query; rejects with Prometheus's error for a bad query. */
  query(expr: string): Promise<PromSeries[]>;
  /** A range query (Unix seconds), `stepS` apart. */
  queryRange(expr: string, startS: number, endS: number, stepS: number): Promise<PromRange[]>;
  /** Resolves once every target has been scraped successfully (`up == 1`). */
  untilScraped(timeoutMs?: number): Promise<void>;
  logs(): string;
  stop(): Promise<void>;
}

export function findPrometheus(env: NodeJS.ProcessEnv = process.env): string {
  const p = env.HEXR_PROMETHEUS;
  if (!p || !existsSync(p)) throw new Error("HEXR_PROMETHEUS is not set or missing: run scripts/setup.sh");
  return p;
}

export async function startPrometheus(targets: readonly ScrapeTarget[]): Promise<RunningPrometheus> {
  const bin = findPrometheus();
  const dir = mkdtempSync(path.join(tmpdir(), "hexr-prom-"));
  const config = path.join(dir, "prometheus.yml");
  const scrape = targets.map((t) => ({
    job_name: t.job,
    scrape_interval: "1s",
    metrics_path: t.metricsPath ?? "/metrics",
    static_configs: [{ targets: [t.target] }],
  }));
  writeFileSync(
    config,
    JSON.stringify({ global: { scrape_interval: "1s", evaluation_interval: "1s" }, scrape_configs: scrape }),
  );
  const port = await freePort();
  const proc = runTool(bin, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${path.join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ]);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor("Prometheus to be ready", async () => {
      if (proc.exited()) throw new GiveUp(`prometheus exited: ${proc.output().slice(-2000)}`);
      const r = await fetch(`${url}/-/ready`);
      return r.ok ? true : undefined;
    });
  } catch (e) {
    await stop();
    throw e;
  }
  const query = async (expr: string): Promise<PromSeries[]> => {
    const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await r.json()) as { status: string; error?: string; data?: { result: PromSeries[] } };
    if (body.status !== "success") throw new Error(`prometheus: ${body.error ?? r.status} for ${expr}`);
    return body.data?.result ?? [];
  };
  const queryRange = async (expr: string, startS: number, endS: number, stepS: number): Promise<PromRange[]> => {
    const q = new URLSearchParams({ query: expr, start: String(startS), end: String(endS), step: String(stepS) });
    const r = await fetch(`${url}/api/v1/query_range?${q}`);
    const body = (await r.json()) as { status: string; error?: string; data?: { result: PromRange[] } };
    if (body.status !== "success") throw new Error(`prometheus: ${body.error ?? r.status} for ${expr}`);
    return body.data?.result ?? [];
  };
  return {
    url,
    query,
    queryRange,
    async untilScraped(timeoutMs = 30_000) {
      await waitFor(
        "every scrape target to be up",
        async () => {
          const up = await query("up");
          return up.length === targets.length && up.every((s) => s.value[1] === "1") ? true : undefined;
        },
        timeoutMs,
      );
    },
    logs: proc.output,
    stop,
  };
}

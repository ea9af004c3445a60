/**
 * Writes charts/hexr-system/dashboards/*.json from the sources in src/. Refuses to write a dashboard whose
 * queries name a metric or label the sidecar and Envoy do not expose.
 *
 *   node charts/hexr-system/dashboards/build.ts          # write
 *   node charts/hexr-system/dashboards/build.ts --check  # exit 1 if a file is out of date
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { allPanels, knownMetrics, lintPromql, renderDashboardFiles } from "./src/index.ts";

const DIR = import.meta.dirname;

function main(args: string[]): number {
  const known = knownMetrics();
  const problems = allPanels().flatMap((p) =>
    lintPromql(p.grafanaExpr, known).map((msg) => `${p.uid} / ${p.title}: ${msg}`),
  );
  if (problems.length) {
    console.error(problems.join("\n"));
    return 1;
  }
  const files = renderDashboardFiles();
  const stale = readdirSync(DIR).filter((f) => f.endsWith(".json") && !files.has(f));
  if (args.includes("--check")) {
    const outOfDate = [...files].filter(([f, text]) => {
      try {
        return readFileSync(path.join(DIR, f), "utf8") !== text;
      } catch {
        return true;
      }
    });
    for (const [f] of outOfDate) console.error(`${f} is out of date: run node charts/hexr-system/dashboards/build.ts`);
    for (const f of stale) console.error(`${f} has no source in src/`);
    return outOfDate.length || stale.length ? 1 : 0;
  }
  for (const f of stale) rmSync(path.join(DIR, f));
  for (const [f, text] of files) writeFileSync(path.join(DIR, f), text);
  console.log(`wrote ${files.size} dashboards, ${allPanels().length} queries`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));

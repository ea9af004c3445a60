/**
 * One SVG per rate, written by hand (no plotting dependency): a row per scenario with bars for p50, p90,
 * p99 and p99.9 on a shared linear millisecond axis, values printed at the bar ends. ⚠ marks a rate the
 * machine did not hold.
 */
import type { ScenarioResult } from "./types.ts";

const PERCENTILES = [
  { key: "p50_ms", label: "p50", color: "#1f77b4" },
  { key: "p90_ms", label: "p90", color: "#2ca02c" },
  { key: "p99_ms", label: "p99", color: "#ff7f0e" },
  { key: "p999_ms", label: "p99.9", color: "#d62728" },
] as const;

const WIDTH = 960;
const LEFT = 190;
const RIGHT = 70;
const TOP = 56;
const BAR = 9;
const GAP = 14;
const BOTTOM = 44;

function esc(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** A "nice" axis maximum and tick step (1, 2 or 5 × 10^k) covering `max`. */
export function niceAxis(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const rough = max / 5;
  const pow = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= rough) ?? 10 * pow;
  return { top: Math.ceil(max / step) * step, step };
}

export function latencySvg(title: string, results: readonly ScenarioResult[]): string {
  const rowH = PERCENTILES.length * BAR + GAP;
  const height = TOP + results.length * rowH + BOTTOM;
  const plotW = WIDTH - LEFT - RIGHT;
  const max = Math.max(0, ...results.map((r) => r.p999_ms).filter(Number.isFinite));
  const { top, step } = niceAxis(max);
  const x = (v: number) => LEFT + (Math.max(0, v) / top) * plotW;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  PERCENTILES.forEach((p, i) => {
    const lx = LEFT + i * 80;
    parts.push(
      `<rect x="${lx}" y="30" width="12" height="12" fill="${p.color}"/>`,
      `<text x="${lx + 16}" y="40">${p.label}</text>`,
    );
  });
  for (let v = 0; v <= top + step / 2; v += step) {
    const gx = x(v).toFixed(1);
    parts.push(
      `<line x1="${gx}" y1="${TOP - 4}" x2="${gx}" y2="${height - BOTTOM + 4}" stroke="#ddd"/>`,
      `<text x="${gx}" y="${height - BOTTOM + 18}" text-anchor="middle">${Number(v.toPrecision(6))}</text>`,
    );
  }
  parts.push(`<text x="${LEFT + plotW / 2}" y="${height - 8}" text-anchor="middle">latency, ms</text>`);
  results.forEach((r, i) => {
    const y0 = TOP + i * rowH;
    const label = `${r.id}${r.helper ? " (helper)" : ""}${r.saturated ? " ⚠" : ""}`;
    parts.push(
      `<text x="${LEFT - 8}" y="${y0 + (PERCENTILES.length * BAR) / 2 + 4}" text-anchor="end">${esc(label)}</text>`,
    );
    PERCENTILES.forEach((p, j) => {
      const v = r[p.key];
      const y = y0 + j * BAR;
      parts.push(
        `<rect x="${LEFT}" y="${y}" width="${(x(v) - LEFT).toFixed(1)}" height="${BAR - 1}" fill="${p.color}"><title>${esc(`${r.id} ${p.label}: ${v} ms`)}</title></rect>`,
        `<text x="${(x(v) + 3).toFixed(1)}" y="${y + BAR - 1}" font-size="9">${Number.isFinite(v) ? v.toFixed(2) : "–"}</text>`,
      );
    });
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

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

export interface LineSeries {
  label: string;
  color: string;
  points: ReadonlyArray<readonly [number, number]>;
}

/** A line chart of one or more series on shared linear axes (the soak's RSS and latency over time). */
export function lineChartSvg(o: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
}): string {
  const W = 960;
  const H = 420;
  const L = 70;
  const R = 30;
  const T = 56;
  const B = 50;
  const all = o.series.flatMap((s) => s.points);
  const xs = all.map(([x]) => x);
  const x0 = Math.min(0, ...xs);
  const xAxis = niceAxis(Math.max(...xs, 0) - x0);
  const yAxis = niceAxis(Math.max(0, ...all.map(([, y]) => y)));
  const px = (x: number) => L + ((x - x0) / xAxis.top) * (W - L - R);
  const py = (y: number) => H - B - (y / yAxis.top) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${L}" y="20" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
  ];
  o.series.forEach((s, i) => {
    const lx = L + i * 140;
    parts.push(
      `<rect x="${lx}" y="30" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${lx + 16}" y="40">${esc(s.label)}</text>`,
    );
  });
  for (let v = 0; v <= yAxis.top + yAxis.step / 2; v += yAxis.step) {
    const y = py(v).toFixed(1);
    parts.push(
      `<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${L - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${Number(v.toPrecision(6))}</text>`,
    );
  }
  for (let v = 0; v <= xAxis.top + xAxis.step / 2; v += xAxis.step) {
    const x = px(x0 + v).toFixed(1);
    parts.push(
      `<line x1="${x}" y1="${T}" x2="${x}" y2="${H - B}" stroke="#eee"/>`,
      `<text x="${x}" y="${H - B + 16}" text-anchor="middle">${Number((x0 + v).toPrecision(6))}</text>`,
    );
  }
  parts.push(
    `<text x="${L + (W - L - R) / 2}" y="${H - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text x="16" y="${T + (H - T - B) / 2}" text-anchor="middle" transform="rotate(-90 16 ${T + (H - T - B) / 2})">${esc(o.yLabel)}</text>`,
  );
  for (const s of o.series) {
    if (s.points.length === 0) continue;
    const d = s.points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
  }
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

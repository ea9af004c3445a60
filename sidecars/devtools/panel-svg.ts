/**
 * A dashboard panel drawn from a real Prometheus range query, as a hand-written SVG line chart (no
 * plotting dependency; Grafana itself is AGPL and not ours to run): one line per series, a legend, a time
 * axis in seconds from the start and a value axis in the panel's unit. Used by `hexr demo --panels DIR`
 * for the pictures in the README.
 */
import { niceAxis } from "../../bench/plot.ts";
import type { PromRange } from "./prometheus.ts";

const W = 720;
const H = 300;
const L = 70;
const R = 20;
const T = 40;
const B = 70;
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

function esc(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

export interface PanelSeries {
  label: string;
  points: readonly (readonly [number, number])[];
}

/** Series of range results, labelled with `legend` (`{{label}}` placeholders) or their label set. */
export function panelSeries(results: readonly PromRange[], legend?: string): PanelSeries[] {
  return results.map((r) => ({
    label: legend
      ? legend.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: string) => r.metric[k] ?? "")
      : Object.entries(r.metric)
          .filter(([k]) => k !== "instance" && k !== "job")
          .map(([k, v]) => `${k}=${v}`)
          .join(", ") || "value",
    points: r.values.map(([t, v]) => [t, Number(v)] as const).filter(([, v]) => Number.isFinite(v)),
  }));
}

function fmt(v: number, unit: string): string {
  if (v === 0) return "0";
  if (unit === "s") return v >= 1 ? `${v.toFixed(v >= 10 ? 0 : 1)} s` : `${(v * 1000).toPrecision(2)} ms`;
  if (unit === "percentunit") return `${(v * 100).toFixed(0)} %`;
  return Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString();
}

export function panelSvg(
  title: string,
  unit: string,
  series: readonly PanelSeries[],
  startS: number,
  endS: number,
): string {
  const plotW = W - L - R;
  const plotH = H - T - B;
  const max = Math.max(0, ...series.flatMap((s) => s.points.map(([, v]) => v)));
  const { top, step } = niceAxis(max);
  const x = (t: number) => L + ((t - startS) / Math.max(1, endS - startS)) * plotW;
  const y = (v: number) => T + plotH - (v / top) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${L}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let v = 0; v <= top + step / 2; v += step) {
    out.push(
      `<line x1="${L}" x2="${W - R}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e0e0e0"/>`,
      `<text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${esc(fmt(v, unit))}</text>`,
    );
  }
  const span = endS - startS;
  const tick = span > 240 ? 60 : span > 90 ? 30 : 10;
  for (let t = 0; t <= span; t += tick) {
    out.push(
      `<text x="${x(startS + t).toFixed(1)}" y="${T + plotH + 16}" text-anchor="middle" fill="#555">${t} s</text>`,
    );
  }
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    if (s.points.length > 0) {
      const d = s.points.map(([t, v], k) => `${k === 0 ? "M" : "L"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join("");
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    const lx = L + (i % 3) * 220;
    const ly = T + plotH + 34 + Math.floor(i / 3) * 15;
    out.push(
      `<rect x="${lx}" y="${ly - 8}" width="10" height="10" fill="${color}"/>`,
      // the end of a label tells series apart (SPIFFE IDs share their start)
      `<text x="${lx + 14}" y="${ly + 1}">${esc(s.label.length > 34 ? `…${s.label.slice(-33)}` : s.label)}</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

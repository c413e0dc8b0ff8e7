// The scaling-curve chart: an SVG drawn here (no chart library), rendered to PNG by headless Chromium.
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import type { CurveDef } from "./suite.js";
import { SERVER_LABELS, type ServerKind } from "./servers.js";

export type CurveData = Record<ServerKind, [number, number][]>;

const COLORS: Record<ServerKind, string> = { pylon: "#d9480f", socketio: "#1c7ed6", ws: "#2f9e44" };
const W = 560;
const H = 380;
const M = { l: 80, r: 20, t: 40, b: 70 };

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(1)}`;
}

function panel(def: CurveDef, data: Partial<CurveData>, ox: number): string {
  const series = Object.entries(data).filter(([, pts]) => pts && pts.length > 0) as [ServerKind, [number, number][]][];
  const xs = series.flatMap(([, p]) => p.map((q) => q[0]));
  const ys = series.flatMap(([, p]) => p.map((q) => q[1]));
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const xMin = def.logX ? Math.max(1, Math.min(...xs)) : 0;
  const xMax = Math.max(...xs, 1);
  const yMax = niceMax(Math.max(...ys, 0) * 1.05);
  const sx = (x: number): number =>
    ox + M.l + (def.logX ? (Math.log10(Math.max(x, xMin)) - Math.log10(xMin)) / Math.max(1e-9, Math.log10(xMax) - Math.log10(xMin)) : x / xMax) * pw;
  const sy = (y: number): number => M.t + ph - (y / yMax) * ph;
  const parts: string[] = [];
  parts.push(`<text x="${ox + W / 2}" y="24" font-size="16" font-weight="bold" text-anchor="middle">${def.title}</text>`);
  for (let i = 0; i <= 5; i++) {
    const y = (yMax * i) / 5;
    parts.push(`<line x1="${ox + M.l}" x2="${ox + M.l + pw}" y1="${sy(y)}" y2="${sy(y)}" stroke="#ddd"/>`);
    parts.push(`<text x="${ox + M.l - 8}" y="${sy(y) + 4}" font-size="12" text-anchor="end">${fmt(y)}</text>`);
  }
  const ticks = [...new Set(xs)].sort((a, b) => a - b);
  for (const x of ticks) {
    parts.push(`<line x1="${sx(x)}" x2="${sx(x)}" y1="${M.t + ph}" y2="${M.t + ph + 5}" stroke="#333"/>`);
    parts.push(`<text x="${sx(x)}" y="${M.t + ph + 20}" font-size="12" text-anchor="middle">${fmt(x)}</text>`);
  }
  parts.push(`<rect x="${ox + M.l}" y="${M.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${ox + M.l + pw / 2}" y="${H - 30}" font-size="13" text-anchor="middle">${def.xLabel}${def.logX ? " (log scale)" : ""}</text>`);
  parts.push(`<text transform="translate(${ox + 18},${M.t + ph / 2}) rotate(-90)" font-size="13" text-anchor="middle">${def.yLabel}</text>`);
  for (const [kind, pts] of series) {
    const sorted = [...pts].sort((a, b) => a[0] - b[0]);
    const d = sorted.map(([x, y], i) => `${i ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
    parts.push(`<path d="${d}" fill="none" stroke="${COLORS[kind]}" stroke-width="2.5"/>`);
    for (const [x, y] of sorted) parts.push(`<circle cx="${sx(x)}" cy="${sy(y)}" r="4" fill="${COLORS[kind]}"/>`);
  }
  series.forEach(([kind], i) => {
    const lx = ox + M.l + 12 + i * 110;
    parts.push(`<rect x="${lx}" y="${H - 18}" width="14" height="14" fill="${COLORS[kind]}"/>`);
    parts.push(`<text x="${lx + 20}" y="${H - 6}" font-size="13">${SERVER_LABELS[kind]}</text>`);
  });
  return parts.join("\n");
}

/** One SVG with a panel per curve, side by side. */
export function chartSvg(curves: { def: CurveDef; data: Partial<CurveData> }[], subtitle: string): string {
  const width = Math.max(1, curves.length) * W;
  const body = curves.map((c, i) => panel(c.def, c.data, i * W)).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 24}" font-family="DejaVu Sans, Arial, sans-serif">
<rect width="100%" height="100%" fill="white"/>
${body}
<text x="${width / 2}" y="${H + 16}" font-size="11" fill="#555" text-anchor="middle">${subtitle}</text>
</svg>`;
}

/** Renders the SVG to a PNG with headless Chromium (Debian's /usr/bin/chromium through playwright-core). */
export async function renderPng(svg: string, file: string): Promise<void> {
  const executablePath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
  if (!executablePath) throw new Error("chromium not found (apt-get install chromium)");
  const browser = await chromium.launch({ executablePath, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
  try {
    const m = /width="(\d+)" height="(\d+)"/.exec(svg);
    const page = await browser.newPage({ viewport: { width: Number(m?.[1] ?? 1120), height: Number(m?.[2] ?? 400) } });
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    await page.screenshot({ path: file, fullPage: true });
  } finally {
    await browser.close();
  }
}

// Medians, ratios and the figure | pylon | socket.io | ws | pylon/socket.io | pylon/ws table.
import type { FigureDef } from "./suite.js";
import { SERVER_KINDS, type ServerKind } from "./servers.js";

export const COLUMNS = ["figure", "pylon", "socket.io", "ws", "pylon/socket.io", "pylon/ws"] as const;

export function median(xs: readonly number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

export interface FigureResult {
  id: string;
  label: string;
  unit: string;
  better: "lower" | "higher";
  /** Median per server (null: not measured / not applicable). */
  values: Record<ServerKind, number | null>;
  runs: Record<ServerKind, number[]>;
  ratios: { pylon_socketio: number | null; pylon_ws: number | null };
  /**
   * The same ratios per repetition (pylon's value over the other server's in the same repetition, measured minutes
   * apart, not tens of minutes): their range shows how much of a ratio is the machine's drift. Null with fewer than 2
   * repetitions with both values.
   */
  ratioRanges: { pylon_socketio: RatioRange | null; pylon_ws: RatioRange | null };
  reference?: { socketio?: number; ws?: number };
}

export interface RatioRange {
  min: number;
  max: number;
  /** Repetitions with both values. */
  n: number;
}

/** Per-repetition ratios a[i] / b[i] (runs are recorded once per repetition, in repetition order). */
export function ratioRange(a: readonly number[], b: readonly number[]): RatioRange | null {
  if (a.length !== b.length) return null; // a repetition failed for one server: the indexes no longer pair up
  const rs: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isFinite(x) && Number.isFinite(y) && y !== 0) rs.push(x / y);
  }
  return rs.length < 2 ? null : { min: Math.min(...rs), max: Math.max(...rs), n: rs.length };
}

export function figureResult(def: FigureDef, runs: Record<ServerKind, number[]>): FigureResult {
  const values = Object.fromEntries(SERVER_KINDS.map((k) => [k, def.notFor?.includes(k) ? null : median(runs[k] ?? [])])) as Record<ServerKind, number | null>;
  const ratio = (a: number | null, b: number | null): number | null => (a !== null && b !== null && b !== 0 ? a / b : null);
  return {
    id: def.id,
    label: def.label,
    unit: def.unit,
    better: def.better,
    values,
    runs,
    ratios: { pylon_socketio: ratio(values.pylon, values.socketio), pylon_ws: ratio(values.pylon, values.ws) },
    ratioRanges: {
      pylon_socketio: values.socketio === null ? null : ratioRange(runs.pylon ?? [], runs.socketio ?? []),
      pylon_ws: values.ws === null ? null : ratioRange(runs.pylon ?? [], runs.ws ?? []),
    },
    ...(def.reference ? { reference: def.reference } : {}),
  };
}

export function fmtNum(v: number | null): string {
  if (v === null) return "n/a";
  const a = Math.abs(v);
  if (a >= 100_000) return Math.round(v).toLocaleString("en-US");
  if (a >= 1000) return Math.round(v).toLocaleString("en-US");
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function fmtRatio(v: number | null, range: RatioRange | null = null, digits = 2): string {
  if (v === null) return "n/a";
  return range === null ? `${v.toFixed(digits)}x` : `${v.toFixed(digits)}x (${range.min.toFixed(digits)}-${range.max.toFixed(digits)})`;
}

export function tableRows(figs: readonly FigureResult[]): string[][] {
  return figs.map((f) => [
    `${f.label} (${f.unit})`,
    fmtNum(f.values.pylon),
    fmtNum(f.values.socketio),
    fmtNum(f.values.ws),
    fmtRatio(f.ratios.pylon_socketio, f.ratioRanges.pylon_socketio),
    fmtRatio(f.ratios.pylon_ws, f.ratioRanges.pylon_ws),
  ]);
}

/** A Markdown table (readable as plain text too): the first column left-aligned, the others right-aligned. */
export function renderTable(rows: readonly string[][], columns: readonly string[] = COLUMNS): string {
  const all = [[...columns], ...rows];
  const widths = columns.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]): string => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(" | ")} |`;
  return [line(columns), `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|")}|`, ...rows.map(line)].join("\n");
}

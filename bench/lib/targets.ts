// The performance targets of the benchmark issue, checked against the figures of one run: every run says which it
// met, by how much, and whether the per-repetition ratios all agree (a median that meets a target while some
// repetitions did not is the machine's noise showing, not a result).
import { fmtRatio, type FigureResult, type RatioRange } from "./report.js";

export type Verdict = "met" | "not met" | "met, not in every repetition" | "not met, met in some repetitions";

export interface TargetCheck {
  target: string;
  figure: string;
  against: "socket.io" | "ws";
  /** The median ratio and its per-repetition range. */
  ratio: number;
  range: RatioRange | null;
  /** The bound on the ratio, and its direction (cost figures: at most; throughput: at least). */
  bound: number;
  atMost: boolean;
  verdict: Verdict;
}

interface RawWsTarget {
  figure: string;
  max: number;
  what: string;
}

/** Targets against the raw ws server (its figures are the practical limit of Node on the machine). */
const AGAINST_WS: readonly RawWsTarget[] = [
  { figure: "fanout.1000.cpu_us_per_delivery", max: 1.1, what: "CPU per delivery, room of 1,000" },
  { figure: "fanout.5000.cpu_us_per_delivery", max: 1.2, what: "CPU per delivery, room of 5,000" },
  { figure: "echo.100.cpu_us_per_op", max: 1.2, what: "CPU per echo op, 100 clients" },
  { figure: "instructions.echo.100.per_op", max: 1.2, what: "instructions per echo op, 100 clients" },
  { figure: "fanout.burst10.1000.cpu_us_per_delivery", max: 0.5, what: "CPU per delivery, 10 broadcasts/tick, room of 1,000 (raw ws does not coalesce)" },
  { figure: "fanout.burst10.5000.cpu_us_per_delivery", max: 0.5, what: "CPU per delivery, 10 broadcasts/tick, room of 5,000 (raw ws does not coalesce)" },
];

/** Targets against bare socket.io beyond "never worse" (a tighter bound). */
const AGAINST_SOCKETIO: Readonly<Record<string, { max: number; what: string }>> = {
  "memory.heap_kb_per_conn": { max: 0.7, what: "heap per idle connection" },
};

/** True for the two verdicts whose median meets the bound. */
export function isMet(v: Verdict): boolean {
  return v === "met" || v === "met, not in every repetition";
}

function verdict(ratio: number, range: RatioRange | null, bound: number, atMost: boolean): Verdict {
  const ok = (r: number): boolean => (atMost ? r <= bound : r >= bound);
  if (range === null) return ok(ratio) ? "met" : "not met";
  const all = ok(range.min) && ok(range.max);
  const none = !ok(range.min) && !ok(range.max);
  if (ok(ratio)) return all ? "met" : "met, not in every repetition";
  return none ? "not met" : "not met, met in some repetitions";
}

/** Every target that the run measured: never worse than socket.io on any figure, the socket.io and ws bounds. */
export function checkTargets(figures: readonly FigureResult[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const f of figures) {
    const sio = f.ratios.pylon_socketio;
    if (sio !== null) {
      const tighter = AGAINST_SOCKETIO[f.id];
      const atMost = f.better === "lower";
      const bound = tighter?.max ?? 1;
      const target = tighter ? `${tighter.what} <= ${bound}x socket.io` : `${f.label}: never worse than socket.io`;
      const range = f.ratioRanges.pylon_socketio;
      out.push({ target, figure: f.id, against: "socket.io", ratio: sio, range, bound, atMost, verdict: verdict(sio, range, bound, atMost) });
    }
  }
  for (const t of AGAINST_WS) {
    const f = figures.find((x) => x.id === t.figure);
    const ratio = f?.ratios.pylon_ws ?? null;
    if (!f || ratio === null) continue;
    const range = f.ratioRanges.pylon_ws;
    out.push({ target: `${t.what} <= ${t.max}x raw ws`, figure: f.id, against: "ws", ratio, range, bound: t.max, atMost: true, verdict: verdict(ratio, range, t.max, true) });
  }
  return out;
}

/** The checks as table rows: target | ratio (range) | verdict; three decimals, so a ratio of 1.004 does not print as
 * a "1.00x" that did not meet "never worse". */
export function targetRows(checks: readonly TargetCheck[]): string[][] {
  return checks.map((c) => [c.target, fmtRatio(c.ratio, c.range, 3), c.verdict]);
}

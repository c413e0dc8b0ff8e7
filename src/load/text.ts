import { performance } from "node:perf_hooks";

/** Epoch milliseconds with sub-millisecond resolution; comparable across worker threads of one process. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The host's monotonic clock in milliseconds (process.hrtime: CLOCK_MONOTONIC), comparable across PROCESSES of one
 * machine. `nowMs()` is not: each process fixes its timeOrigin from the wall clock when it starts, and two processes
 * started minutes apart disagree by milliseconds.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * The text of a measured broadcast: `phase|tick|sentAtMs|padding`. The receiver computes end-to-end latency from
 * sentAtMs, so sender and receivers must share a clock (same host, or a trigger in the load process).
 */
export function broadcastText(phase: string, tick: number, sentAt: number, padding: string): string {
  return `${phase}|${tick}|${sentAt.toFixed(3)}|${padding}`;
}

export function parseBroadcastText(text: string): { phase: string; tick: number; sentAt: number } | undefined {
  const a = text.indexOf("|");
  if (a < 0) return undefined;
  const b = text.indexOf("|", a + 1);
  if (b < 0) return undefined;
  const c = text.indexOf("|", b + 1);
  const tick = Number(text.slice(a + 1, b));
  const sentAt = Number(text.slice(b + 1, c < 0 ? undefined : c));
  if (!Number.isFinite(tick) || !Number.isFinite(sentAt)) return undefined;
  return { phase: text.slice(0, a), tick, sentAt };
}

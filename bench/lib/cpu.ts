// Server CPU time with nanosecond resolution, read from outside the process (nothing runs in the server under test).
// Source: the first field of /proc/<pid>/task/<tid>/schedstat (the scheduler's se.sum_exec_runtime, ns, user+system)
// summed over every thread of the process: main thread, libuv pool, V8 platform workers. /proc/<pid>/stat counts
// the same time but prints it in clock ticks (10 ms), which quantized per-connection figures.
// Two limits, both checked: a thread that exits between two reads loses the time it ran after the earlier read
// (node servers keep their threads for life, so this is counted and logged, not expected), and a thread that is on a
// CPU at the moment of the read is up to one scheduler tick (4 ms at HZ=250) behind. Each sample also reads
// /proc/<pid>/stat, which includes exited threads: `cpuSpent` compares both and says when they disagree by more than
// tick quantization.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
/** One clock tick of /proc/<pid>/stat in microseconds. */
export const TICK_US = 1_000_000 / CLK_TCK;

/** utime + stime (fields 14 and 15 of /proc/<pid>/stat, counted after the ")" closing the command name) in microseconds. */
export function readStatCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime is field 14 -> index 11, stime field 15 -> index 12
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLK_TCK;
}

export interface CpuSample {
  /** Sum of sum_exec_runtime over the threads (us, fractional), plus the last-seen time of threads gone since. */
  us: number;
  /** The same from /proc/<pid>/stat (us, whole ticks; includes exited threads). */
  statUs: number;
  /** Threads that have exited since this meter started (their time after the previous read is lost). */
  exited: number;
  /** "schedstat", or "stat" when schedstat is not readable here (then `us` is tick-quantized). */
  source: "schedstat" | "stat";
}

export interface CpuSpent {
  /** CPU time between two samples in microseconds (schedstat: ns resolution). */
  us: number;
  /** The same from /proc/<pid>/stat (tick-quantized): the cross-check. */
  statUs: number;
  /** Threads that exited between the samples. */
  exitedThreads: number;
  /** Set when the two sources disagree by more than two ticks + 2%: the reason, to be logged. */
  warning?: string;
  source: "schedstat" | "stat";
}

/** CPU of one process, all threads. Keeps the last value of each thread, so exited threads are not subtracted. */
export class CpuMeter {
  readonly #pid: number;
  readonly #threads = new Map<string, number>();
  #goneNs = 0;
  #exited = 0;
  readonly #schedstat: boolean;

  constructor(pid: number) {
    this.#pid = pid;
    // no schedstat files on a kernel without CONFIG_SCHED_INFO: fall back to clock ticks (and say so in the report)
    this.#schedstat = existsSync(`/proc/${pid}/schedstat`);
  }

  sample(): CpuSample {
    const statUs = readStatCpuUs(this.#pid);
    if (!this.#schedstat) return { us: statUs, statUs, exited: 0, source: "stat" };
    return { us: this.#readThreadsNs() / 1000, statUs, exited: this.#exited, source: "schedstat" };
  }

  #readThreadsNs(): number {
    const tids = readdirSync(`/proc/${this.#pid}/task`);
    const seen = new Set<string>();
    let sum = 0;
    for (const tid of tids) {
      let ns: number;
      try {
        ns = Number(readFileSync(`/proc/${this.#pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // exited between the listing and the read
        throw err;
      }
      seen.add(tid);
      this.#threads.set(tid, ns);
      sum += ns;
    }
    for (const [tid, ns] of this.#threads) {
      if (seen.has(tid)) continue;
      this.#threads.delete(tid);
      this.#goneNs += ns;
      this.#exited++;
    }
    return sum + this.#goneNs;
  }
}

/** CPU spent between two samples of one meter, with the /proc/<pid>/stat cross-check. */
export function cpuSpent(before: CpuSample, after: CpuSample): CpuSpent {
  const us = after.us - before.us;
  const statUs = after.statUs - before.statUs;
  const exitedThreads = after.exited - before.exited;
  const out: CpuSpent = { us, statUs, exitedThreads, source: after.source };
  if (after.source === "schedstat" && Math.abs(statUs - us) > 2 * TICK_US + 0.02 * Math.max(us, statUs)) {
    out.warning =
      `schedstat ${(us / 1000).toFixed(1)} ms vs /proc stat ${(statUs / 1000).toFixed(0)} ms` +
      (exitedThreads ? ` (${exitedThreads} thread(s) exited during the window: their last run is lost)` : "");
  }
  return out;
}

/** Sums the CPU of several processes (e.g. two cluster nodes) over one window. */
export function sumSpent(parts: readonly CpuSpent[]): CpuSpent {
  const warnings = parts.map((p) => p.warning).filter(Boolean);
  return {
    us: parts.reduce((s, p) => s + p.us, 0),
    statUs: parts.reduce((s, p) => s + p.statUs, 0),
    exitedThreads: parts.reduce((s, p) => s + p.exitedThreads, 0),
    source: parts.every((p) => p.source === "schedstat") ? "schedstat" : "stat",
    ...(warnings.length ? { warning: warnings.join("; ") } : {}),
  };
}

/** Starts a CPU window over several processes; `stop()` returns what they spent together. */
export function cpuWindow(meters: readonly CpuMeter[]): { stop(): CpuSpent } {
  const before = meters.map((m) => m.sample());
  return { stop: () => sumSpent(meters.map((m, i) => cpuSpent(before[i] as CpuSample, m.sample()))) };
}

/**
 * Waits until the processes are idle: less than `busy` (share of one core, all threads together) over `quietMs`,
 * polled back to back, at most `maxMs`. Used between phases instead of fixed pauses, so that the tail of one phase
 * (closes, write completions, GC) is not counted in the next CPU window and no time is wasted when there is none.
 * Returns the time waited (ms).
 */
export async function settle(meters: readonly CpuMeter[], opts: { quietMs?: number; maxMs?: number; busy?: number } = {}): Promise<number> {
  const quietMs = opts.quietMs ?? 50;
  const maxMs = opts.maxMs ?? 2000;
  const busy = opts.busy ?? 0.05;
  const t0 = performance.now();
  const total = (): number => meters.reduce((s, m) => s + m.sample().us, 0);
  let prev = total();
  for (;;) {
    await new Promise((r) => setTimeout(r, quietMs));
    const now = total();
    const waited = performance.now() - t0;
    if (now - prev < busy * quietMs * 1000 || waited >= maxMs) return waited;
    prev = now;
  }
}

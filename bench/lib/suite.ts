// The contract between the bench runner and its suites. A suite is a module in bench/suites/ registered in
// bench/suites/index.ts; the runner starts a fresh server of each kind for it (interleaved, repeated) and collects the
// figures and curve points it records. New features (cross-node, streams, auth ...) add a suite file and one line in
// the registry; the runner core does not change.
import type { LoadSession, BroadcastTrigger, TransportMix } from "../../src/load/index.js";
import type { ServerHandle, ServerKind } from "./servers.js";
import type { CpuMeter } from "./cpu.js";

export interface FigureDef {
  /** Stable id, dotted: `<suite>.<what>` (the `--only` filter matches prefixes of it). */
  id: string;
  label: string;
  unit: string;
  /** Which direction is good: cost figures are "lower", throughput "higher". */
  better: "lower" | "higher";
  /** Reference figures from the issue (bare socket.io vs raw ws on this kind of machine), if any. */
  reference?: { socketio?: number; ws?: number };
  /** Servers this figure does not apply to (e.g. polling on a raw ws server). */
  notFor?: ServerKind[];
}

export interface CurveDef {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
}

export interface SuiteContext {
  /** The server kind this slot measures. */
  kind: ServerKind;
  /** The server the runner started for this slot (not available to suites with `ownServers`: using it throws). */
  server: ServerHandle;
  quick: boolean;
  /** Most connections one process may hold here (fd limit minus headroom): the load generator holds one fd each. */
  maxConnections: number;
  /** True when the --only filter selects this figure id (or one starting with the prefix). */
  wants(idOrPrefix: string): boolean;
  record(figureId: string, value: number | null): void;
  point(curveId: string, x: number, y: number): void;
  /**
   * A new load session against the server (clients in worker threads of this process). The runner closes it after
   * the suite, once the server is stopped (cheaper than closing thousands of clients against a live server).
   */
  session(): Promise<LoadSession>;
  /** The broadcast trigger for this server (demo `join` + `say` through its protocol). */
  trigger(): BroadcastTrigger;
  /**
   * Server CPU (us, all threads, ns resolution: lib/cpu.ts) spent while `fn` runs. Read from /proc before and after,
   * so nothing runs in the server for it; cross-checked against /proc/<pid>/stat (mismatches are logged and reported).
   */
  cpu<T>(fn: () => Promise<T>): Promise<{ result: T; cpuUs: number }>;
  /** The same for other processes a suite started itself (pids or meters; their CPU is summed), e.g. cluster nodes. */
  cpuOf<T>(processes: readonly (number | CpuMeter)[], fn: () => Promise<T>): Promise<{ result: T; cpuUs: number }>;
  /** With --profile: CPU-profile the server while `fn` runs and save it as <name>.cpuprofile. */
  profiled<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Waits until the server is idle (< 5% of a core over 50 ms, at most 2 s; lib/cpu.ts settle) before the next CPU
   * window: adaptive, instead of a fixed pause. Returns the ms waited.
   */
  settle(): Promise<number>;
  deadlineAt(seconds: number): number;
  log(msg: string): void;
  websocketOnly: TransportMix;
}

export interface Suite {
  name: string;
  figures: FigureDef[];
  curves?: CurveDef[];
  /** The server kinds this suite measures (default: all); the runner starts nothing for the others. */
  servers?: readonly ServerKind[];
  /** The suite starts its own servers (cluster nodes, other configs): the runner starts none for it. */
  ownServers?: boolean;
  /** Runs only when `--only` names it (slow or needs extra tools), never in a plain `npm run bench`. */
  optIn?: boolean;
  run(ctx: SuiteContext): Promise<void>;
}

/**
 * Settles the server after a phase (pending writes, timers, GC) before the next CPU window. 100 ms is plenty for an
 * idle event loop; the closed-loop phases end when every message was received, so little is left to settle.
 */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

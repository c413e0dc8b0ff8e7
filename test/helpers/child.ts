import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { registerChild } from "./cleanup.js";

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A spawned child registered for cleanup, with its output kept and its exit as a promise. */
export interface TrackedChild {
  child: ChildProcess;
  pid: number;
  exited: Promise<ExitInfo>;
  alive(): boolean;
  stdout(): string;
  stderr(): string;
  /** Sends a signal by PID (no-op when already gone). */
  signal(sig: NodeJS.Signals): void;
  /** Sends `sig`, waits for exit; SIGKILL after timeoutMs. */
  stop(sig?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
}

const MAX_KEEP = 4 * 1024 * 1024;

/** Spawns a command, registers it (by PID) with the cleanup registry and collects its output (bounded). */
export function spawnTracked(cmd: string, args: readonly string[], name: string, opts: SpawnOptions = {}): TrackedChild {
  const child = spawn(cmd, [...args], { stdio: ["ignore", "pipe", "pipe"], ...opts });
  if (child.pid === undefined) {
    // spawn failures surface as an 'error' event; make them synchronous for callers
    throw new Error(`cannot spawn ${cmd}`);
  }
  registerChild(child, name);
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stdout?.on("data", (d: string) => {
    out = (out + d).slice(-MAX_KEEP);
  });
  child.stderr?.on("data", (d: string) => {
    err = (err + d).slice(-MAX_KEEP);
  });
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", () => resolve({ code: child.exitCode, signal: child.signalCode }));
  });
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const signal = (sig: NodeJS.Signals): void => {
    if (!alive()) return;
    try {
      process.kill(child.pid!, sig);
    } catch {
      // already gone
    }
  };
  return {
    child,
    pid: child.pid,
    exited,
    alive,
    stdout: () => out,
    stderr: () => err,
    signal,
    async stop(sig: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000) {
      if (!alive()) return exited;
      signal(sig);
      const timer = setTimeout(() => signal("SIGKILL"), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

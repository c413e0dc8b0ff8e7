import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { after } from "node:test";

/**
 * The process-wide registry of children started by the harness (test files run one per process under `node --test`).
 * Every child is killed by PID when the test process exits, is interrupted (SIGINT/SIGTERM) or when a file's
 * `useCleanup()` after-hook runs. In-process resources (clients, browsers) register closers here too.
 */
interface Child {
  pid: number;
  name: string;
  alive: () => boolean;
}

const children = new Map<number, Child>();
const closers = new Set<() => unknown>();
const tempDirs = new Set<string>();
let installed = false;

/** Removes the harness's temporary directories (at process exit, after the children are gone). */
function removeTempDirs(): void {
  for (const d of tempDirs) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  tempDirs.clear();
}

/** Registers a temporary directory to remove when the test process exits. */
export function registerTempDir(path: string): void {
  installProcessHooks();
  tempDirs.add(path);
}

function killAllNow(): void {
  for (const c of children.values()) {
    try {
      process.kill(c.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  children.clear();
}

function installProcessHooks(): void {
  if (installed) return;
  installed = true;
  process.once("exit", () => {
    killAllNow();
    removeTempDirs();
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      killAllNow();
      removeTempDirs();
      process.exit(sig === "SIGINT" ? 130 : 143);
    });
  }
}

/** Registers a spawned child (by PID) so it is killed when the test process ends. Removed when it exits. */
export function registerChild(child: ChildProcess, name: string): void {
  installProcessHooks();
  const pid = child.pid;
  if (pid === undefined) return;
  const entry: Child = { pid, name, alive: () => child.exitCode === null && child.signalCode === null };
  children.set(pid, entry);
  child.once("exit", () => {
    if (children.get(pid) === entry) children.delete(pid);
  });
}

/** PIDs of harness children still alive (for self-tests and debugging). */
export function liveChildren(): { pid: number; name: string }[] {
  return [...children.values()].filter((c) => c.alive()).map(({ pid, name }) => ({ pid, name }));
}

/** Registers an in-process resource closer (socket.io clients, browsers); run by the after-hook of useCleanup(). */
export function registerCloser(fn: () => unknown): () => void {
  closers.add(fn);
  return () => closers.delete(fn);
}

/** Kills every registered child now (SIGKILL by PID) and waits until each is gone (bounded). */
export async function killAllChildren(timeoutMs = 5000): Promise<void> {
  const pending = [...children.values()];
  for (const c of pending) {
    try {
      process.kill(c.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (pending.some((c) => c.alive()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/** Runs every registered in-process closer (errors ignored). */
export async function runClosers(): Promise<void> {
  const fns = [...closers];
  closers.clear();
  for (const fn of fns.reverse()) {
    try {
      await fn();
    } catch {
      // best effort
    }
  }
}

export interface Cleanup {
  /** Adds a cleanup step; steps run in reverse order of addition when the file's tests are done (or on run()). */
  add(fn: () => unknown): void;
  /** Runs the steps added so far now (e.g. at the end of one test); later add()s still run at the end. */
  run(): Promise<void>;
}

/**
 * Call at the top level of a test file. Registers a node:test `after()` that runs the added steps (in reverse order),
 * closes harness clients and browsers, then kills any harness child still alive, by PID.
 * node:test runs file-level after() hooks in registration order, so an after() registered later than useCleanup()
 * runs once the processes are gone: put final checks that need them in a last test(), not in after().
 */
export function useCleanup(): Cleanup {
  installProcessHooks();
  const steps: (() => unknown)[] = [];
  const run = async (): Promise<void> => {
    const fns = steps.splice(0).reverse();
    for (const fn of fns) {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`cleanup step failed: ${(err as Error)?.stack ?? String(err)}\n`);
      }
    }
  };
  after(async () => {
    await run();
    await runClosers();
    await killAllChildren();
  });
  return { add: (fn) => void steps.push(fn), run };
}

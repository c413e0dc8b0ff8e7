// Child processes the bench suites start themselves (Redis, extra server nodes): started until a readiness line, stopped
// with SIGTERM then SIGKILL.
import { spawn, type ChildProcess } from "node:child_process";
import { freePort, REPO_ROOT } from "./servers.js";

export interface Proc {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** Spawns `cmd` and resolves once its stdout matches `ready` (`startTimeoutMs`, default 20 s; the child is killed on timeout). */
export function spawnUntil(cmd: string, args: string[], ready: RegExp, url: string, startTimeoutMs = 20_000): Promise<Proc> {
  const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return new Promise<Proc>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd} did not start:\n${out.slice(-2000)}`));
    }, startTimeoutMs);
    const on = (d: Buffer): void => {
      out += d.toString();
      if (out.length > 100_000) out = out.slice(-50_000);
      if (ready.test(out)) {
        clearTimeout(timer);
        child.stdout?.off("data", on);
        resolve({
          child,
          url,
          stop: async () => {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.kill("SIGTERM");
            const t = setTimeout(() => child.kill("SIGKILL"), 1500);
            await exited;
            clearTimeout(t);
          },
        });
      }
    };
    child.stdout?.on("data", on);
    child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}):\n${out.slice(-2000)}`));
    });
  });
}


/** A throwaway redis-server on a free loopback port, without persistence; `url` is its redis:// URL. */
export async function startRedis(): Promise<Proc> {
  const port = await freePort();
  return spawnUntil("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], /Ready to accept connections/, `redis://127.0.0.1:${port}`);
}

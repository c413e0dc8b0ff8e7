import { connect } from "node:net";
import { requireBinary } from "./binaries.js";
import { spawnTracked, type ExitInfo, type TrackedChild } from "./child.js";
import { freePort } from "./ports.js";
import { tempDir } from "./paths.js";

export interface RedisProcess {
  port: number;
  /** redis://127.0.0.1:PORT */
  url: string;
  /** PID of the current redis-server (changes after restart()). */
  readonly pid: number;
  /** Graceful stop (SIGTERM; SIGKILL after 5 s); resolves when it exited. */
  stop(): Promise<ExitInfo>;
  /** SIGKILL; resolves when it exited. */
  kill(): Promise<ExitInfo>;
  /** Stops (if running) and starts again on the same port; resolves when PING answers. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server stays bound but stops answering (a "hung" backplane). */
  pause(): void;
  resume(): void;
  alive(): boolean;
  /** Output of the current process. */
  logs(): string;
}

/** Sends PING over raw TCP; true when +PONG comes back within timeoutMs. */
export function redisPing(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    let buf = "";
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.setEncoding("utf8");
    s.once("connect", () => s.write("PING\r\n"));
    s.on("data", (d: string) => {
      buf += d;
      if (buf.includes("\r\n")) done(buf.startsWith("+PONG"));
    });
    s.once("error", () => done(false));
  });
}

/** Starts a real redis-server on a free loopback port, without persistence, in its own temp dir. */
export async function startRedis(opts: { port?: number; readyTimeoutMs?: number; args?: string[] } = {}): Promise<RedisProcess> {
  const bin = requireBinary("redis-server", ["redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server"]);
  const port = opts.port ?? (await freePort());
  const dir = tempDir("pylon-redis-");
  let current: TrackedChild;

  const launch = async (): Promise<void> => {
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no", ...(opts.args ?? [])];
    const child = spawnTracked(bin, args, "redis-server", { cwd: dir });
    current = child;
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
    for (;;) {
      if (await redisPing(port, 500)) return;
      if (!child.alive()) throw new Error(`redis-server on port ${port} exited before answering PING:\n${child.stdout()}${child.stderr()}`);
      if (Date.now() > deadline) {
        child.signal("SIGKILL");
        throw new Error(`redis-server on port ${port} did not answer PING within ${opts.readyTimeoutMs ?? 10_000} ms`);
      }
      await new Promise((r) => setTimeout(r, 30));
    }
  };
  await launch();

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return current.pid;
    },
    stop: () => {
      current.signal("SIGCONT");
      return current.stop("SIGTERM", 5000);
    },
    kill: () => current.stop("SIGKILL", 5000),
    async restart() {
      current.signal("SIGCONT");
      await current.stop("SIGTERM", 5000);
      await launch();
    },
    pause: () => current.signal("SIGSTOP"),
    resume: () => current.signal("SIGCONT"),
    alive: () => current.alive(),
    logs: () => current.stdout() + current.stderr(),
  };
}

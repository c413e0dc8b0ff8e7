// The servers under test: each runs as its own child process (optionally pinned to a core with taskset, fd limit raised
// with prlimit), preloaded with the bench probe (bench/servers/probe.ts) for heap-after-GC and CPU profiles over IPC.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, mkdirSync, renameSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { CpuMeter } from "./cpu.js";

export type ServerKind = "pylon" | "socketio" | "ws";
export const SERVER_KINDS: readonly ServerKind[] = ["pylon", "socketio", "ws"];
export const SERVER_LABELS: Record<ServerKind, string> = { pylon: "pylon", socketio: "socket.io", ws: "ws" };

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BUILD_DIR = join(REPO_ROOT, "node_modules/.cache/pylon-bench");

export interface BenchBuild {
  probe: string;
  bareSocketio: string;
  rawWs: string;
  pylonCli: string;
}

/** Builds Pylon (tsc -> dist/) and bundles the bench servers and probe to plain JS, so no server runs under tsx. */
export async function buildBench(log: (s: string) => void, skipPylonBuild = false): Promise<BenchBuild> {
  if (!skipPylonBuild && distIsStale()) {
    log("building pylon (npm run build) ...");
    const r = spawnSync("npm", ["run", "-s", "build"], { cwd: REPO_ROOT, stdio: ["ignore", "inherit", "inherit"] });
    // tsc still emits when some file has a type error (another feature in progress): bench what was built, loudly.
    if (r.status !== 0) {
      if (!existsSync(join(REPO_ROOT, "dist/cli/main.js"))) throw new Error("npm run build failed");
      log("WARNING: npm run build reported errors; benchmarking the dist/ it emitted");
    }
  }
  mkdirSync(BUILD_DIR, { recursive: true });
  const entries = { probe: "probe", bareSocketio: "bare-socketio", rawWs: "raw-ws" } as const;
  const out: Partial<BenchBuild> = { pylonCli: join(REPO_ROOT, "dist/cli/main.js") };
  for (const [key, name] of Object.entries(entries)) {
    const outfile = join(BUILD_DIR, `${name}.mjs`);
    const tmp = join(BUILD_DIR, `${name}.${process.pid}.mjs`);
    await build({
      entryPoints: [join(REPO_ROOT, "bench/servers", `${name}.ts`)],
      outfile: tmp,
      bundle: true,
      packages: "external",
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "warning",
    });
    renameSync(tmp, outfile); // atomic: a concurrent bench never runs a half-written file
    (out as Record<string, string>)[key] = outfile;
  }
  return out as BenchBuild;
}

/** True when some file under src/ (or web/) is newer than the last build (dist/cli/main.js). */
function distIsStale(): boolean {
  const built = join(REPO_ROOT, "dist/cli/main.js");
  if (!existsSync(built)) return true;
  const builtAt = statSync(built).mtimeMs;
  const newer = (dir: string): boolean => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory() ? newer(p) : statSync(p).mtimeMs > builtAt) return true;
    }
    return false;
  };
  return newer(join(REPO_ROOT, "src"));
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

export interface HttpCounts {
  requests: number;
  upgrades: number;
}

export interface MemorySample {
  heapUsed: number;
  heapTotal: number;
  rss: number;
}

export interface ServerHandle {
  kind: ServerKind;
  url: string;
  pid: number;
  protocol: "socketio" | "ws";
  namespace: string;
  path: string;
  /** CPU time of the process, all threads (ns resolution: schedstat of every thread, see lib/cpu.ts). */
  cpu: CpuMeter;
  /** process.cpuUsage() of the server, asked over IPC (bench probe): a cross-check of `cpu`, which is read from /proc. */
  selfCpuUs(): Promise<number>;
  /** Heap and RSS after two forced GCs (bench probe). */
  memory(): Promise<MemorySample>;
  /** HTTP requests and upgrade requests the server's process received so far (bench probe). */
  httpCounts(): Promise<HttpCounts>;
  profileStart(): Promise<void>;
  profileStop(file: string): Promise<string>;
  logs(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  build: BenchBuild;
  /** taskset CPU list for the server, or undefined for no pinning. */
  cpus?: string;
  maxOldSpaceMb: number;
  /** Extra node flags for the pylon child only (e.g. --cpu-prof). */
  pylonNodeFlags?: string[];
}

/** The hard limit on open files (what a process here can raise its soft limit to). */
export function hardFdLimit(): number {
  const r = spawnSync("bash", ["-c", "ulimit -Hn"], { encoding: "utf8" });
  const v = r.stdout.trim();
  return v === "unlimited" ? 1_048_576 : Number(v) || 1024;
}

export async function startServer(kind: ServerKind, opts: StartOptions): Promise<ServerHandle> {
  const port = await freePort();
  const host = "127.0.0.1";
  const nodeFlags = ["--expose-gc", `--max-old-space-size=${opts.maxOldSpaceMb}`, "--import", opts.build.probe];
  let args: string[];
  if (kind === "pylon") args = [...nodeFlags, ...(opts.pylonNodeFlags ?? []), opts.build.pylonCli, "serve", "--port", String(port), "--host", host];
  else args = [...nodeFlags, kind === "socketio" ? opts.build.bareSocketio : opts.build.rawWs, String(port), host];
  // bash raises the soft fd limit to the hard one, then execs (taskset execs too), so the child's pid is node's pid.
  const prefix = ["bash", "-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "bash", ...(opts.cpus ? ["taskset", "-c", opts.cpus] : [])];
  const child = spawn(prefix[0] as string, [...prefix.slice(1), process.execPath, ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let out = "";
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not start in 20s:\n${out.slice(-2000)}`)), 20_000);
    const check = (): void => {
      if (/listening on http:\/\//.test(out)) {
        clearTimeout(timer);
        child.stdout?.off("data", check);
        resolveReady();
      }
    };
    child.stdout?.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} exited (${code}) before listening:\n${out.slice(-2000)}`));
    });
  });
  const pid = child.pid as number;
  const ipc = <T>(msg: Record<string, unknown>, replyType: string, timeoutMs = 30_000): Promise<T> =>
    new Promise<T>((res, rej) => {
      const timer = setTimeout(() => {
        child.off("message", on);
        rej(new Error(`${kind}: no ${replyType} reply`));
      }, timeoutMs);
      const on = (m: { type?: string; error?: string }): void => {
        if (m?.type !== replyType) return;
        clearTimeout(timer);
        child.off("message", on);
        if (m.error) rej(new Error(`${kind}: ${m.error}`));
        else res(m as T);
      };
      child.on("message", on);
      child.send(msg);
    });
  return {
    kind,
    url: `http://${host}:${port}`,
    pid,
    protocol: kind === "ws" ? "ws" : "socketio",
    namespace: "/demo",
    path: kind === "ws" ? "/" : "/socket.io/",
    cpu: new CpuMeter(pid),
    selfCpuUs: async () => (await ipc<{ us: number }>({ type: "bench:cpu" }, "bench:cpu")).us,
    memory: () => ipc<MemorySample>({ type: "bench:mem" }, "bench:mem"),
    httpCounts: () => ipc<HttpCounts>({ type: "bench:http" }, "bench:http"),
    profileStart: async () => {
      await ipc({ type: "bench:profile:start" }, "bench:profile:started");
    },
    profileStop: async (file: string) => {
      mkdirSync(dirname(file), { recursive: true });
      const r = await ipc<{ file: string }>({ type: "bench:profile:stop", file }, "bench:profile", 60_000);
      return r.file;
    },
    logs: () => out,
    stop: () => stopChild(child, exited),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // The servers under test are disposable (profiles are written over IPC, not at exit): SIGKILL, so that a Pylon
  // drain window does not eat the bench's time budget.
  child.kill("SIGKILL");
  await exited;
}

/**
 * The handle a suite that starts its own servers (Suite.ownServers) gets: only `kind`; anything else throws, so a
 * suite that declares its own servers cannot measure the runner's by mistake.
 */
export function noServer(kind: ServerKind): ServerHandle {
  const fail = (what: string): never => {
    throw new Error(`this suite starts its own servers (ownServers): ctx.server.${what} is not available`);
  };
  return {
    kind,
    pid: 0,
    protocol: kind === "ws" ? "ws" : "socketio",
    namespace: "/demo",
    path: kind === "ws" ? "/" : "/socket.io/",
    get url(): string {
      return fail("url");
    },
    get cpu(): CpuMeter {
      return fail("cpu");
    },
    selfCpuUs: () => fail("selfCpuUs()"),
    memory: () => fail("memory()"),
    httpCounts: () => fail("httpCounts()"),
    profileStart: () => fail("profileStart()"),
    profileStop: () => fail("profileStop()"),
    logs: () => "",
    stop: async () => undefined,
  };
}

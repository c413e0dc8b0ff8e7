import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnTracked, type ExitInfo } from "./child.js";
import { freePort } from "./ports.js";
import { CLI_PATH, tempDir } from "./paths.js";

export interface StartPylonOptions {
  /** Extra CLI arguments after `serve --port P --host 127.0.0.1` (later flags win, e.g. a second --port). */
  args?: string[];
  /** Extra environment (PYLON_LOG_LEVEL defaults to "info"; inherited PYLON_* and PORT are dropped). */
  env?: Record<string, string>;
  /** A config object, written to a temp JSON file and passed with --config. */
  config?: Record<string, unknown>;
  /** Port to use (default: a free one). */
  port?: number;
  /** Working directory (default: a fresh temp dir, so no stray pylon.config.json is picked up). */
  cwd?: string;
  /** How long to wait for the `listening on http://` line (default 15 s). */
  readyTimeoutMs?: number;
}

/** One parsed pino line (or `{ msg: raw }` when the line is not JSON). */
export type LogRecord = Record<string, unknown> & { msg?: string; level?: number };

export interface PylonProcess {
  pid: number;
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  /** The config file written for `config` (if any): rewrite it and send SIGHUP to reload. */
  configFile: string | undefined;
  /** All output so far (stdout then stderr). */
  logs(): string;
  stdout(): string;
  stderr(): string;
  /** Parsed pino records so far. */
  records(): LogRecord[];
  /** Resolves with the first log line (raw text) matching `re` (already logged or future); rejects on timeout/exit. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends a signal by PID (default SIGKILL) without waiting. */
  kill(signal?: NodeJS.Signals): void;
  /**
   * SIGTERM (graceful drain) and await exit; SIGKILL after timeoutMs (default 30 s). With clients connected the drain
   * takes drain.windowMs (default 10 s): pass `--drain.windowMs 0` or use kill() in cleanup when that does not matter.
   */
  stop(timeoutMs?: number): Promise<ExitInfo>;
  exited: Promise<ExitInfo>;
  alive(): boolean;
}

function cleanEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === "PORT" || (k.startsWith("PYLON_") && !k.startsWith("PYLON_TEST_")) || k === "NODE_OPTIONS" || k === "NODE_TEST_CONTEXT") continue;
    env[k] = v;
  }
  return { ...env, PYLON_LOG_LEVEL: "info", ...extra };
}

/**
 * Spawns `node dist/cli/main.js serve --port P --host 127.0.0.1 [--config FILE] ...args` and waits for its
 * `listening on http://HOST:PORT` log line. The port is read back from that line.
 */
export async function startPylon(opts: StartPylonOptions = {}): Promise<PylonProcess> {
  if (!existsSync(CLI_PATH)) throw new Error(`startPylon: ${CLI_PATH} is missing; run \`npm run build\` first`);
  const port = opts.port ?? (await freePort());
  const args = ["serve", "--port", String(port), "--host", "127.0.0.1"];
  let configFile: string | undefined;
  if (opts.config) {
    configFile = join(tempDir("pylon-config-"), "pylon.config.json");
    writeFileSync(configFile, JSON.stringify(opts.config, null, 2));
    args.push("--config", configFile);
  }
  args.push(...(opts.args ?? []));
  const cwd = opts.cwd ?? tempDir("pylon-cwd-");
  const tracked = spawnTracked(process.execPath, [CLI_PATH, ...args], "pylon", { cwd, env: cleanEnv(opts.env) });

  const lines: string[] = [];
  const records: LogRecord[] = [];
  const waiters = new Set<{ re: RegExp; resolve: (line: string) => void }>();
  let partial = "";
  tracked.child.stdout?.on("data", (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf("\n")) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line.trim() === "") continue;
      lines.push(line);
      if (lines.length > 50_000) lines.splice(0, 10_000);
      let rec: LogRecord;
      try {
        rec = JSON.parse(line) as LogRecord;
      } catch {
        rec = { msg: line };
      }
      records.push(rec);
      if (records.length > 50_000) records.splice(0, 10_000);
      for (const w of [...waiters]) {
        if (w.re.test(line)) {
          waiters.delete(w);
          w.resolve(line);
        }
      }
    }
  });

  const waitForLog = (re: RegExp, timeoutMs = 10_000): Promise<string> => {
    const existing = lines.find((l) => re.test(l));
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise<string>((resolve, reject) => {
      const entry = {
        re,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(entry);
        reject(new Error(`waitForLog: no line matching ${re} within ${timeoutMs} ms\n--- output ---\n${tail(tracked.stdout() + tracked.stderr())}`));
      }, timeoutMs);
      waiters.add(entry);
      void tracked.exited.then((info) => {
        if (!waiters.has(entry)) return;
        waiters.delete(entry);
        clearTimeout(timer);
        reject(new Error(`waitForLog: pylon exited (${JSON.stringify(info)}) before logging ${re}\n--- output ---\n${tail(tracked.stdout() + tracked.stderr())}`));
      });
    });
  };

  let listening: string;
  try {
    listening = await waitForLog(/listening on http:\/\//, opts.readyTimeoutMs ?? 15_000);
  } catch (err) {
    tracked.signal("SIGKILL");
    throw err;
  }
  const m = /listening on http:\/\/([^"\s]+):(\d+)/.exec(listening);
  const boundPort = m ? Number(m[2]) : port;
  return {
    pid: tracked.pid,
    port: boundPort,
    url: `http://127.0.0.1:${boundPort}`,
    configFile,
    logs: () => tracked.stdout() + tracked.stderr(),
    stdout: () => tracked.stdout(),
    stderr: () => tracked.stderr(),
    records: () => [...records],
    waitForLog,
    kill: (signal: NodeJS.Signals = "SIGKILL") => tracked.signal(signal),
    stop: (timeoutMs = 30_000) => tracked.stop("SIGTERM", timeoutMs),
    exited: tracked.exited,
    alive: tracked.alive,
  };
}

function tail(s: string, n = 4000): string {
  return s.length > n ? "..." + s.slice(-n) : s;
}

import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { DEFAULT_CANARY, renderCanary, runCanary, type CanaryProgress } from "../ops/canary.js";
import { parseDuration } from "../ops/duration.js";
import { DEFAULT_SLO, parseSlo, sloFromObject, SloError, type Slo } from "../ops/slo.js";
import { EXIT, parseUrlCommand, type Io } from "./output.js";

const USAGE = `usage: pylon canary <url> [options]
  Dials a small synthetic population, broadcasts through the demo namespace and gates on SLOs.
  --clients N            clients (default ${DEFAULT_CANARY.clients}, at most 10000)
  --transports MIX       weights, e.g. websocket:1,polling:1,upgrade:1 (default; upgrade = polling that must upgrade)
  --rooms M              rooms (default ${DEFAULT_CANARY.rooms})
  --broadcasts N         broadcasts per room (default ${DEFAULT_CANARY.broadcasts}, at most 100000)
  --rate R               broadcasts per second (default ${DEFAULT_CANARY.rate})
  --slo SPEC|FILE        e.g. p99=250ms,completeness=100%,upgrade=99% or a JSON/YAML file with the same keys
                         (keys: p50 p90 p99 p999 max completeness connect upgrade drops; default ${DEFAULT_SLO})
  --deadline DUR         bound of the whole run (default ${DEFAULT_CANARY.deadlineS}s)
  --timeout DUR          handshake / ack timeout (default 10s)
  --settle DUR           wait for late deliveries after the last broadcast (default 3s)
  --namespace NS         namespace with the demo contract join/say (default /demo)
  --path P               Engine.IO path (default /socket.io/)
  --concurrency N        handshakes in flight (default ${DEFAULT_CANARY.concurrency});  --connect-rate R: connections per second
  --workers N            worker threads holding the clients (default 1)
  --token JWT            handshake token (auth.token) for every client, where namespaces require one
  --json                 JSON report on stdout (a progress line goes to stderr on a TTY otherwise)
exit status: 0 every SLO met, 1 an SLO breached (listed) or the run could not complete, 2 usage error`;

export interface CanaryCliEnv {
  /** Whether stderr is a terminal (progress line). */
  isTTY: boolean;
  /** Raw stderr writer for the progress line (rewritten in place with \r). */
  write: (text: string) => void;
}

const STDERR_ENV: CanaryCliEnv = { isTTY: process.stderr.isTTY === true, write: (t) => void process.stderr.write(t) };

/** `pylon canary <url>`: thin wrapper over runCanary(). */
export async function canaryCommand(argv: readonly string[], io: Io, env: CanaryCliEnv = STDERR_ENV): Promise<number> {
  const cmd = parseUrlCommand("canary", argv, {
    clients: { type: "string" },
    transports: { type: "string" },
    rooms: { type: "string" },
    broadcasts: { type: "string" },
    rate: { type: "string" },
    slo: { type: "string" },
    deadline: { type: "string" },
    timeout: { type: "string" },
    settle: { type: "string" },
    namespace: { type: "string" },
    path: { type: "string" },
    concurrency: { type: "string" },
    "connect-rate": { type: "string" },
    workers: { type: "string" },
    token: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  } as const, USAGE, io);
  if (typeof cmd === "number") return cmd;
  const { url, values: v, bad } = cmd;
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") return bad("the URL must be http:// or https://");
  } catch {
    return bad("invalid URL");
  }
  const int = (text: string | undefined, def: number, min: number, max: number, name: string): number => {
    if (text === undefined) return def;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer ${min}..${max}`);
    return n;
  };
  const dur = (text: string | undefined, defMs: number, name: string, minMs: number, maxMs: number): number => {
    if (text === undefined) return defMs;
    const ms = parseDuration(text, "s");
    if (ms === undefined || ms < minMs || ms > maxMs) throw new UsageError(`--${name} must be a duration between ${minMs / 1000}s and ${maxMs / 1000}s`);
    return ms;
  };
  let opts;
  try {
    const rate = v.rate === undefined ? DEFAULT_CANARY.rate : Number(v.rate);
    if (!(rate > 0 && rate <= 10_000)) throw new UsageError("--rate must be in (0, 10000]");
    const connectRate = v["connect-rate"] === undefined ? 0 : Number(v["connect-rate"]);
    if (!(connectRate >= 0)) throw new UsageError("--connect-rate must be >= 0");
    opts = {
      ...DEFAULT_CANARY,
      url,
      clients: int(v.clients, DEFAULT_CANARY.clients, 1, 10_000, "clients"),
      rooms: int(v.rooms, DEFAULT_CANARY.rooms, 1, 1000, "rooms"),
      broadcasts: int(v.broadcasts, DEFAULT_CANARY.broadcasts, 1, 100_000, "broadcasts"),
      concurrency: int(v.concurrency, DEFAULT_CANARY.concurrency, 1, 10_000, "concurrency"),
      workers: int(v.workers, DEFAULT_CANARY.workers, 1, 16, "workers"),
      rate,
      connectRate,
      mix: v.transports ? parseMix(v.transports) : DEFAULT_CANARY.mix,
      deadlineS: dur(v.deadline, DEFAULT_CANARY.deadlineS * 1000, "deadline", 1000, 3_600_000) / 1000,
      timeoutMs: dur(v.timeout, DEFAULT_CANARY.timeoutMs, "timeout", 100, 600_000),
      settleMs: dur(v.settle, DEFAULT_CANARY.settleMs, "settle", 0, 600_000),
      namespace: v.namespace ?? DEFAULT_CANARY.namespace,
      path: v.path ?? DEFAULT_CANARY.path,
      slo: v.slo ? readSlo(v.slo) : DEFAULT_CANARY.slo,
      ...(v.token ? { token: v.token } : {}),
    };
  } catch (err) {
    if (err instanceof UsageError || err instanceof SloError) return bad(err.message);
    throw err;
  }
  const progress = !v.json && env.isTTY;
  const report = await runCanary({
    ...opts,
    ...(progress
      ? {
          onProgress: (p: CanaryProgress) =>
            env.write(`\r${p.phase.padEnd(18)} ${(p.elapsedMs / 1000).toFixed(1)} s  connected ${p.connected}/${p.target}  received ${p.received}\x1b[K`),
        }
      : {}),
  });
  if (progress) env.write("\r\x1b[K");
  io.out(v.json ? JSON.stringify(report, null, 2) : renderCanary(report));
  return report.ok ? EXIT.ok : EXIT.failed;
}

class UsageError extends Error {}

/** `websocket:1,polling:1,upgrade:1` (ws is an alias of websocket). */
function parseMix(text: string): Record<"websocket" | "polling" | "upgrade", number> {
  const mix = { websocket: 0, polling: 0, upgrade: 0 };
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [rawKey, rawVal = "1"] = part.split(":");
    const key = rawKey === "ws" ? "websocket" : rawKey;
    const val = Number(rawVal);
    if ((key !== "websocket" && key !== "polling" && key !== "upgrade") || !(val >= 0)) throw new UsageError(`--transports: bad part "${part}" (e.g. websocket:1,polling:1,upgrade:1)`);
    mix[key] = val;
  }
  if (mix.websocket + mix.polling + mix.upgrade <= 0) throw new UsageError("--transports: weights must not all be 0");
  return mix;
}

/** `--slo` is a spec (`p99=250ms,...`) or the path of a JSON/YAML file holding the same keys. */
function readSlo(arg: string): Slo {
  if (arg.includes("=")) return parseSlo(arg);
  let text: string;
  try {
    text = readFileSync(arg, "utf8");
  } catch (err) {
    throw new SloError(`--slo: not a spec (k=v,...) and not a readable file: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = arg.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new SloError(`--slo ${arg}: ${(err as Error).message}`);
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) throw new SloError(`--slo ${arg}: expected a mapping like { p99: 250ms, completeness: 100% }`);
  return sloFromObject(data as Record<string, unknown>);
}

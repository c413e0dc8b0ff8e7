import { EXIT, type Io } from "./output.js";
import {
  LoadOptionsError,
  loadScenarioFile,
  mergeOptions,
  parseLoadOptions,
  parseTransportMix,
  runScenario,
  type LatencySummary,
  type LoadProgress,
  type LoadReport,
} from "../load/index.js";

export const LOAD_USAGE = `usage: pylon load <url> [--scenario connect|churn|storm|broadcast|echo] [options]
       pylon load --file scenario.yaml [<url>] [options]   (file keys = option names; flags override)

  --scenario S          connect (default) | churn | storm | broadcast | echo
  --protocol P          socketio (default) | ws (raw ws bench protocol)
  --clients N           connections / echo clients (default 100)
  --rate R              new connections per second (0 = as fast as --concurrency allows)
  --concurrency N       handshakes in flight (default 200)
  --duration S          seconds of the measured phase (default 5)
  --deadline S          hard deadline of the whole run (default 120)
  --transports MIX      e.g. ws:0.5,polling:0.2,upgrade:0.3 (default ws:1)
  --namespace NS        socket.io namespace (default /demo)
  --path P              Engine.IO / WebSocket path
  --workers N           worker threads (0 = one per core)
  --timeout MS          handshake / ack timeout (default 10000)
  --local-address A,B   loopback source addresses to spread connections over
  --auth JSON           socket.io auth payload, e.g. '{"token":"..."}' (visible in the process list: prefer a file)
  --header "K: V"       extra handshake header (repeatable)
  broadcast: --rooms N --broadcast-rate R (ticks/s) --burst N --count N (ticks) --window N --payload BYTES --settle MS
  echo:      --inflight N --payload BYTES --max-ops N
  churn:     --cycles N --hold MS          storm: --rounds N
  --json                print the JSON report on stdout
  exits 1 when any connection, ack or delivery failed or the deadline was hit; 2 on bad usage`;

type Kind = "string" | "number" | "mix" | "list" | "json";

/** Flag -> option path in LoadOptions (a scenario file uses the same paths). */
const FLAGS: Record<string, { path: string[]; kind: Kind }> = {
  "--scenario": { path: ["scenario"], kind: "string" },
  "--protocol": { path: ["protocol"], kind: "string" },
  "--clients": { path: ["clients"], kind: "number" },
  "--rate": { path: ["rate"], kind: "number" },
  "--concurrency": { path: ["concurrency"], kind: "number" },
  "--duration": { path: ["duration"], kind: "number" },
  "--deadline": { path: ["deadline"], kind: "number" },
  "--transports": { path: ["transports"], kind: "mix" },
  "--namespace": { path: ["namespace"], kind: "string" },
  "--path": { path: ["path"], kind: "string" },
  "--workers": { path: ["workers"], kind: "number" },
  "--timeout": { path: ["timeoutMs"], kind: "number" },
  "--auth": { path: ["auth"], kind: "json" },
  "--local-address": { path: ["localAddresses"], kind: "list" },
  "--rooms": { path: ["broadcast", "rooms"], kind: "number" },
  "--broadcast-rate": { path: ["broadcast", "rate"], kind: "number" },
  "--burst": { path: ["broadcast", "burst"], kind: "number" },
  "--count": { path: ["broadcast", "count"], kind: "number" },
  "--window": { path: ["broadcast", "window"], kind: "number" },
  "--settle": { path: ["broadcast", "settleMs"], kind: "number" },
  "--inflight": { path: ["echo", "inflight"], kind: "number" },
  "--max-ops": { path: ["echo", "maxOps"], kind: "number" },
  "--cycles": { path: ["churn", "cycles"], kind: "number" },
  "--hold": { path: ["churn", "holdMs"], kind: "number" },
  "--rounds": { path: ["storm", "rounds"], kind: "number" },
};

export interface LoadArgs {
  /** Options from flags (partial LoadOptions input; merged over the scenario file). */
  options: Record<string, unknown>;
  file?: string;
  json: boolean;
}

export class UsageError extends Error {}

/** Parses `pylon load` arguments; throws UsageError with a message for the user. */
export function parseLoadArgs(argv: readonly string[]): LoadArgs {
  const options: Record<string, unknown> = {};
  let file: string | undefined;
  let json = false;
  const set = (path: string[], value: unknown): void => {
    let obj = options;
    for (const key of path.slice(0, -1)) obj = (obj[key] ??= {}) as Record<string, unknown>;
    obj[path[path.length - 1] as string] = value;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--json") {
      json = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith("--") && eq > 0 ? arg.slice(eq + 1) : undefined;
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      return v;
    };
    if (name === "--file") {
      file = takeValue();
      continue;
    }
    if (name === "--header") {
      const raw = takeValue();
      const colon = raw.indexOf(":");
      if (colon <= 0) throw new UsageError(`--header needs "Name: value", got "${raw}"`);
      const headers = (options.headers ??= {}) as Record<string, string>;
      headers[raw.slice(0, colon).trim()] = raw.slice(colon + 1).trim();
      continue;
    }
    if (name === "--payload") {
      const n = Number(takeValue());
      if (!Number.isFinite(n)) throw new UsageError("--payload needs a number");
      set(["broadcast", "payloadBytes"], n);
      set(["echo", "payloadBytes"], n);
      continue;
    }
    const flag = FLAGS[name];
    if (flag) {
      const raw = takeValue();
      let value: unknown = raw;
      if (flag.kind === "number") {
        value = Number(raw);
        if (raw.trim() === "" || !Number.isFinite(value)) throw new UsageError(`${name} needs a number, got "${raw}"`);
      } else if (flag.kind === "mix") {
        try {
          value = parseTransportMix(raw);
        } catch (err) {
          throw new UsageError(`${name}: ${(err as Error).message}`);
        }
      } else if (flag.kind === "list") value = raw.split(",").map((s) => s.trim()).filter(Boolean);
      else if (flag.kind === "json") {
        try {
          value = JSON.parse(raw);
        } catch {
          throw new UsageError(`${name} needs JSON, e.g. '{"token":"..."}'`);
        }
      }
      set(flag.path, value);
      continue;
    }
    if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}`);
    if (options.url !== undefined) throw new UsageError(`unexpected argument ${arg}`);
    options.url = arg;
  }
  return { options, ...(file ? { file } : {}), json };
}

function fmtLatency(l: LatencySummary): string {
  if (l.count === 0) return "none";
  return `p50 ${l.p50}ms p90 ${l.p90}ms p99 ${l.p99}ms p999 ${l.p999}ms max ${l.max}ms (n=${l.count})`;
}

/** Human-readable report. */
export function renderReport(r: LoadReport): string {
  const lines = [
    `scenario ${r.scenario} (${r.protocol}) against ${r.url}: ${r.ok ? "OK" : "FAILED"} in ${(r.elapsedMs / 1000).toFixed(1)}s, ${r.workers} worker(s)${r.deadlineHit ? ", DEADLINE HIT" : ""}`,
  ];
  if (r.connect) {
    const c = r.connect;
    lines.push(`connect   ${c.connected}/${c.target} connected, ${c.failed} failed, ${c.perSecond.toFixed(0)}/s; latency ${fmtLatency(c.latency)}`);
  }
  if (r.hold) lines.push(`hold      ${(r.hold.durationMs / 1000).toFixed(1)}s: ${r.hold.connectedAtEnd} connected at end, ${r.hold.drops} dropped`);
  if (r.churn) {
    const c = r.churn;
    lines.push(`churn     ${c.cycles} cycles, ${c.connects} connects, ${c.disconnects} disconnects, ${c.failed} failed; connect ${fmtLatency(c.latency)}`);
  }
  for (const [i, s] of (r.storm ?? []).entries()) {
    lines.push(`storm ${i + 1}   ${s.reconnected}/${s.clients} back in ${s.timeToAllMs.toFixed(0)}ms, ${s.failed} failed; reconnect ${fmtLatency(s.latency)}`);
  }
  if (r.broadcast) {
    const b = r.broadcast;
    lines.push(
      `broadcast ${b.sent} broadcasts in ${b.ticks} ticks to ${b.rooms} room(s), ${b.members} members: ${b.received}/${b.expected} received (completeness ${b.completeness.toFixed(4)}), ${b.deliveriesPerSec.toFixed(0)} deliveries/s${b.stalled ? ", STALLED" : ""}`,
      `          latency ${fmtLatency(b.latency)}`,
    );
  }
  if (r.echo) {
    const e = r.echo;
    lines.push(`echo      ${e.clients} clients, ${e.ops} ops, ${e.failed} failed, ${e.opsPerSec.toFixed(0)} ops/s; latency ${fmtLatency(e.latency)}`);
  }
  const errs = Object.entries(r.errors);
  if (errs.length) lines.push(`errors    ${errs.map(([k, v]) => `${k} x${v}`).join(", ")}`);
  return lines.join("\n");
}

function progressLine(p: LoadProgress): string {
  const width = 24;
  const frac = p.target > 0 ? Math.min(1, p.connected / p.target) : 0;
  const bar = "#".repeat(Math.round(frac * width)).padEnd(width, ".");
  return `\r[${bar}] ${p.phase.padEnd(10)} ${p.connected}/${p.target} connected  ${p.received} received  ${p.ops} ops  ${(p.elapsedMs / 1000).toFixed(1)}s `;
}

/** `pylon load`: parse flags -> run the scenario -> print text or JSON. */
export async function loadCommand(argv: readonly string[], io: Io, tty = process.stderr.isTTY === true): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.err(LOAD_USAGE);
    return EXIT.ok;
  }
  let args: LoadArgs;
  try {
    args = parseLoadArgs(argv);
    if (!args.file && args.options.url === undefined) throw new UsageError("missing <url>");
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`pylon load: ${err.message}\n\n${LOAD_USAGE}`);
    return EXIT.usage;
  }
  let options;
  try {
    options = args.file ? await loadScenarioFile(args.file, args.options) : parseLoadOptions(mergeOptions({}, args.options));
  } catch (err) {
    if (err instanceof LoadOptionsError || (err as NodeJS.ErrnoException).code === "ENOENT") {
      io.err(`pylon load: ${(err as Error).message}`);
      return EXIT.usage;
    }
    throw err;
  }
  const report = await runScenario(options, {
    ...(tty ? { onProgress: (p: LoadProgress) => process.stderr.write(progressLine(p)) } : {}),
  });
  if (tty) process.stderr.write("\n");
  if (args.json) io.out(JSON.stringify(report, null, 2));
  else io.out(renderReport(report));
  return report.ok ? EXIT.ok : EXIT.failed;
}

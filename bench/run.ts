// `npm run bench [-- --quick] [--only fanout,echo.100] [--reps N] [--profile] [--no-pin] [--no-chart] [--no-build]`
// Starts Pylon (default config), bare socket.io and a raw ws server itself, runs every registered suite against each
// (fresh server per suite, servers interleaved and rotated per repetition), prints the table, writes
// bench/results/<timestamp>.json and a PNG chart of the scaling curves. See docs/benchmarks.md.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { ClientTrigger, LoadSession, nowMs } from "../src/load/index.js";
import { chartSvg, renderPng, type CurveData } from "./lib/chart.js";
import { CpuMeter, cpuWindow, settle, TICK_US } from "./lib/cpu.js";
import { topFrames, type Frame } from "./lib/profile.js";
import { figureResult, renderTable, tableRows, COLUMNS, median, type FigureResult } from "./lib/report.js";
import { checkTargets, isMet, targetRows } from "./lib/targets.js";
import { buildBench, hardFdLimit, noServer, REPO_ROOT, SERVER_KINDS, startServer, type ServerHandle, type ServerKind } from "./lib/servers.js";
import type { Suite, SuiteContext } from "./lib/suite.js";
import { SUITES } from "./suites/index.js";

interface Args {
  quick: boolean;
  only: string[];
  reps: number;
  profile: boolean;
  pin: boolean;
  chart: boolean;
  build: boolean;
  servers: ServerKind[];
  outDir: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, only: [], reps: 0, profile: false, pin: true, chart: true, build: true, servers: [...SERVER_KINDS], outDir: join(REPO_ROOT, "bench/results") };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${x} needs a value`);
      return v;
    };
    if (x === "--quick") a.quick = true;
    else if (x === "--only") a.only.push(...val().split(",").map((s) => s.trim()).filter(Boolean));
    else if (x === "--reps") a.reps = Number(val());
    else if (x === "--profile") a.profile = true;
    else if (x === "--no-pin") a.pin = false;
    else if (x === "--no-chart") a.chart = false;
    else if (x === "--no-build") a.build = false;
    else if (x === "--servers") a.servers = val().split(",").map((s) => s.trim()) as ServerKind[];
    else if (x === "--out") a.outDir = val();
    else if (x === "--help" || x === "-h") {
      process.stdout.write(
        "npm run bench -- [--quick] [--only PREFIX,...] [--reps N] [--profile] [--no-pin] [--no-chart] [--no-build] [--servers pylon,socketio,ws] [--out DIR]\n",
      );
      process.exit(0);
    } else throw new Error(`unknown option ${x}`);
  }
  if (!a.reps) a.reps = a.quick ? 1 : 3;
  for (const s of a.servers) if (!SERVER_KINDS.includes(s)) throw new Error(`unknown server ${s}`);
  return a;
}

const log = (s: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${s}\n`);
};

function wantsFn(only: readonly string[]): (id: string) => boolean {
  return (id) => only.length === 0 || only.some((f) => id.startsWith(f) || f.startsWith(id));
}

/** Pins this process (all threads, so the load workers too) to the cores the servers do not use. */
function pinSelf(pin: boolean): { server?: string; load?: string; note: string } {
  const n = availableParallelism();
  if (!pin) return { note: "not pinned (--no-pin)" };
  if (n < 2) return { note: `not pinned (${n} core available)` };
  const load = n === 2 ? "1" : `1-${n - 1}`;
  const r = spawnSync("taskset", ["-a", "-cp", load, String(process.pid)], { encoding: "utf8" });
  if (r.status !== 0) return { note: `not pinned (taskset failed: ${r.stderr.trim()})` };
  return { server: "0", load, note: `server pinned to core 0, load generator to core(s) ${load} (taskset)` };
}

/** Raises this process's soft fd limit to the hard limit (the load generator holds one fd per client). */
function raiseFdLimit(): number {
  const hard = hardFdLimit();
  const r = spawnSync("prlimit", ["--pid", String(process.pid), `--nofile=${hard}:${hard}`], { encoding: "utf8" });
  if (r.status !== 0) log(`could not raise the fd limit to ${hard} (${r.stderr.trim()}); large connection counts may fail`);
  return hard;
}

/** How server CPU was measured in this run (lib/cpu.ts): written to the JSON. */
interface CpuStats {
  sources: Set<"schedstat" | "stat">;
  windows: number;
  /** Windows where schedstat and /proc/<pid>/stat disagreed beyond tick quantization. */
  warnings: string[];
}

/** Pids of the servers this run started: killed (by pid) if the run is interrupted. */
const live = new Set<number>();

function onSignal(sig: NodeJS.Signals): void {
  for (const pid of live) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  process.stderr.write(`bench: interrupted by ${sig}\n`);
  process.exit(130);
}

async function main(): Promise<void> {
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, "-");
  const loadAtStart = loadavg()[0] ?? 0;
  const wants = wantsFn(args.only);
  const suites = SUITES.filter((s) => wants(s.name) && (!s.optIn || args.only.some((f) => f.startsWith(s.name) || s.name.startsWith(f))));
  if (suites.length === 0) throw new Error(`--only ${args.only.join(",")} selects no suite (suites: ${SUITES.map((s) => s.name).join(", ")})`);
  const fdLimit = raiseFdLimit();
  const pinning = pinSelf(args.pin);
  log(`${args.quick ? "quick" : "full"} mode, ${args.reps} repetition(s), suites: ${suites.map((s) => s.name).join(", ")}; ${pinning.note}`);
  const build = await buildBench(log, !args.build);
  mkdirSync(args.outDir, { recursive: true });
  const runs = new Map<string, Record<ServerKind, number[]>>();
  const curves = new Map<string, Record<ServerKind, Map<number, number[]>>>();
  const profiles: Record<string, Frame[]> = {};
  const profileFiles: string[] = [];
  const suiteErrors: string[] = [];
  const cpuStats: CpuStats = { sources: new Set(), windows: 0, warnings: [] };

  for (let rep = 0; rep < args.reps; rep++) {
    for (const suite of suites) {
      // rotate the server order each repetition (and suite) so that no server always runs first: with 3 servers and
      // 3 repetitions each server takes each position once, so slow drift of the machine does not favour one
      const kinds = args.servers.filter((k) => !suite.servers || suite.servers.includes(k));
      const order = kinds.map((_, i) => kinds[(i + rep + SUITES.indexOf(suite)) % kinds.length] as ServerKind);
      for (const kind of order) {
        const t0 = nowMs();
        log(`rep ${rep + 1}/${args.reps} suite ${suite.name} on ${kind} ...`);
        // suites with their own servers (cluster nodes, other configs) get no runner server: nothing to start
        const server = suite.ownServers ? noServer(kind) : await startServer(kind, { build, maxOldSpaceMb: 8192, ...(pinning.server ? { cpus: pinning.server } : {}) });
        if (!suite.ownServers) {
          live.add(server.pid);
          log(`  ${kind} started in ${((nowMs() - t0) / 1000).toFixed(2)}s`);
        }
        try {
          await runSuite(suite, server, args, fdLimit, wants, runs, curves, profiles, profileFiles, stamp, cpuStats);
        } catch (err) {
          const msg = `suite ${suite.name} on ${kind} failed: ${(err as Error).stack ?? err}`;
          suiteErrors.push(msg);
          log(msg);
          log(`server output tail:\n${server.logs().slice(-1500)}`);
        } finally {
          await server.stop();
          live.delete(server.pid);
        }
        log(`  ${suite.name} on ${kind} done in ${((nowMs() - t0) / 1000).toFixed(1)}s`);
      }
    }
  }

  const figures: FigureResult[] = [];
  for (const suite of suites) {
    for (const def of suite.figures) {
      if (!wants(def.id)) continue;
      const r = runs.get(def.id) ?? ({ pylon: [], socketio: [], ws: [] } as Record<ServerKind, number[]>);
      figures.push(figureResult(def, r));
    }
  }
  const rows = tableRows(figures);
  const table = renderTable(rows);
  const targets = checkTargets(figures);
  const curveOut: Record<string, { title: string; xLabel: string; yLabel: string; data: Partial<CurveData> }> = {};
  for (const suite of suites) {
    for (const def of suite.curves ?? []) {
      const c = curves.get(def.id);
      if (!c) continue;
      const data: Partial<CurveData> = {};
      for (const k of SERVER_KINDS) {
        const pts = [...(c[k]?.entries() ?? [])].map(([x, ys]) => [x, median(ys) ?? 0] as [number, number]).sort((a, b) => a[0] - b[0]);
        if (pts.length) data[k] = pts;
      }
      curveOut[def.id] = { title: def.title, xLabel: def.xLabel, yLabel: def.yLabel, data };
    }
  }
  const jsonFile = join(args.outDir, `${stamp}.json`);
  const pngFile = join(args.outDir, `${stamp}.png`);
  const machine = {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? "",
    node: process.version,
    platform: process.platform,
    // 1-minute load average at start and end: other work on the machine inflates CPU-per-op figures
    loadavg: [Math.round(loadAtStart * 100) / 100, Math.round((loadavg()[0] ?? 0) * 100) / 100],
  };
  let chart: string | null = null;
  const curveDefs = suites.flatMap((s) => s.curves ?? []).filter((d) => curveOut[d.id] && Object.keys(curveOut[d.id]?.data ?? {}).length);
  if (args.chart && curveDefs.length) {
    try {
      const svg = chartSvg(
        curveDefs.map((def) => ({ def, data: curveOut[def.id]?.data ?? {} })),
        `${args.quick ? "quick mode, " : ""}${args.reps > 1 ? `medians of ${args.reps}` : "1 repetition"}, ${started.toISOString().slice(0, 16)}Z, ${machine.cpus} cores (load avg ${machine.loadavg.join("->")}), node ${machine.node}; ${pinning.note}`,
      );
      await renderPng(svg, pngFile);
      chart = pngFile;
    } catch (err) {
      log(`chart failed: ${(err as Error).message}`);
    }
  }
  const result = {
    startedAt: started.toISOString(),
    mode: args.quick ? "quick" : "full",
    reps: args.reps,
    only: args.only,
    pinning,
    machine,
    servers: args.servers,
    columns: [...COLUMNS],
    table: rows,
    figures,
    targets,
    curves: curveOut,
    profiles,
    profileFiles,
    cpu: {
      source: [...cpuStats.sources].join("+") || "none",
      how:
        "sum of se.sum_exec_runtime (/proc/<pid>/task/*/schedstat, ns) over all threads of the server process(es), read before and after each measured window; cross-checked against /proc/<pid>/stat (clock ticks)",
      tickUs: TICK_US,
      windows: cpuStats.windows,
      warnings: cpuStats.warnings,
    },
    chart,
    errors: suiteErrors,
    elapsedMs: Date.now() - started.getTime(),
  };
  writeFileSync(jsonFile, JSON.stringify(result, null, 2));
  process.stdout.write(`\n${table}\n\n`);
  if (targets.length) {
    const met = targets.filter((t) => isMet(t.verdict)).length;
    process.stdout.write(`targets (ratio of medians, per-repetition range): ${met} of ${targets.length} met\n${renderTable(targetRows(targets), ["target", "ratio", "verdict"])}\n\n`);
  }
  if (Object.keys(profiles).length) {
    for (const [name, frames] of Object.entries(profiles)) {
      process.stdout.write(`top self-time frames, ${name}:\n${frames.map((f) => `  ${f.self.toFixed(1).padStart(5)}%  ${f.fn}  ${f.where}`).join("\n")}\n\n`);
    }
  }
  const repsNote = args.reps > 1 ? `every figure is the median of ${args.reps} interleaved repetitions (server order rotated each repetition)` : "1 repetition (no median)";
  const cpuNote = `server CPU from ${result.cpu.source === "schedstat" ? "schedstat (ns, all threads)" : `${result.cpu.source} (clock ticks of ${TICK_US / 1000} ms)`}, ${cpuStats.windows} window(s), ${cpuStats.warnings.length} cross-check warning(s)`;
  process.stdout.write(`${args.quick ? "quick mode" : "full mode"}: ${repsNote}; ${cpuNote}\n`);
  process.stdout.write(`${pinning.note}; machine load average ${machine.loadavg.join(" -> ")} (${machine.cpus} cores)\nresults: ${jsonFile}${chart ? `\nchart:   ${chart}` : ""}\nelapsed: ${(result.elapsedMs / 1000).toFixed(1)}s\n`);
  if (suiteErrors.length) {
    process.stderr.write(`${suiteErrors.length} suite run(s) failed\n`);
    process.exitCode = 1;
  }
}

async function runSuite(
  suite: Suite,
  server: ServerHandle,
  args: Args,
  fdLimit: number,
  wants: (id: string) => boolean,
  runs: Map<string, Record<ServerKind, number[]>>,
  curves: Map<string, Record<ServerKind, Map<number, number[]>>>,
  profiles: Record<string, Frame[]>,
  profileFiles: string[],
  stamp: string,
  cpu: CpuStats,
): Promise<void> {
  const sessions: LoadSession[] = [];
  // lazy: a suite with its own servers has no runner server (its url throws)
  const spec = (): { url: string; protocol: "socketio" | "ws"; namespace: string; path: string; timeoutMs: number } => ({
    url: server.url,
    protocol: server.protocol,
    namespace: server.namespace,
    path: server.path,
    timeoutMs: 20_000,
  });
  const cpuOf: SuiteContext["cpuOf"] = async (of, fn) => {
    const w = cpuWindow(of.map((m) => (typeof m === "number" ? new CpuMeter(m) : m)));
    const result = await fn();
    const spent = w.stop();
    cpu.sources.add(spent.source);
    cpu.windows++;
    if (spent.warning) {
      cpu.warnings.push(`${suite.name} on ${server.kind}: ${spent.warning}`);
      log(`  [${server.kind}] CPU cross-check: ${spent.warning}`);
    }
    return { result, cpuUs: spent.us };
  };
  const ctx: SuiteContext = {
    kind: server.kind,
    server,
    quick: args.quick,
    maxConnections: fdLimit - 200,
    wants,
    websocketOnly: { websocket: 1, polling: 0, upgrade: 0 },
    record(id, value) {
      if (value === null || !Number.isFinite(value)) return;
      const r = runs.get(id) ?? ({ pylon: [], socketio: [], ws: [] } as Record<ServerKind, number[]>);
      r[server.kind].push(value);
      runs.set(id, r);
    },
    point(id, x, y) {
      const c = curves.get(id) ?? ({ pylon: new Map(), socketio: new Map(), ws: new Map() } as Record<ServerKind, Map<number, number[]>>);
      const ys = c[server.kind].get(x) ?? [];
      ys.push(y);
      c[server.kind].set(x, ys);
      curves.set(id, c);
    },
    async session() {
      const s = new LoadSession({ ...spec(), workers: 0, localAddresses: [] });
      sessions.push(s);
      await s.ready();
      return s;
    },
    trigger: () => new ClientTrigger(spec()),
    cpu: (fn) => cpuOf([server.cpu], fn),
    cpuOf,
    async profiled(name, fn) {
      if (!args.profile) return fn();
      await server.profileStart();
      const result = await fn();
      const file = join(args.outDir, "prof", `${stamp}-${server.kind}-${name}.cpuprofile`);
      await server.profileStop(file);
      profileFiles.push(file);
      profiles[`${server.kind} ${name}`] = topFrames(file, 20);
      return result;
    },
    async settle() {
      const ms = await settle([server.cpu]);
      if (ms >= 2000) log(`  [${server.kind}] server still busy after 2 s of settling; measuring anyway`);
      return ms;
    },
    deadlineAt: (s) => nowMs() + s * 1000,
    log: (m) => log(`  [${server.kind}] ${m}`),
  };
  try {
    await suite.run(ctx);
  } finally {
    // The server goes first: thousands of clients closing one by one against a live server cost it a second or more
    // of wall time per suite (each close is a round of server work); against a killed server each close is a reset.
    await server.stop();
    for (const s of sessions) await s.close().catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

// Instructions per operation under valgrind's callgrind: user-space instructions the server executes per echo op
// (100 clients, emit with ack) and per broadcast delivery (room of 1,000). Counts, not seconds: the same for the same
// code whatever else the machine does, so a 5% change shows, where CPU time on a shared 2-core machine drifts by 20%.
// What they leave out: kernel time (the read/write syscalls, the same for all three servers) and cache effects. What
// they put in: everything the process runs in the window, GC included, and timers (so echo runs with its 100 clients
// only; a major GC in a window shows as an outlier, hence the median of 3 windows).
// Opt-in (`--only instructions`): each server runs ~50x slower under valgrind; ~3 minutes per repetition.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { ClientTrigger, LoadSession } from "../../src/load/index.js";
import { freePort, REPO_ROOT, type ServerKind } from "../lib/servers.js";
import { spawnUntil, type Proc } from "../lib/child-proc.js";
import type { Suite, SuiteContext } from "../lib/suite.js";
import { median } from "../lib/report.js";

const ECHO_CLIENTS = 100;
const ROOM = 1000;

function serverArgs(kind: ServerKind, port: number): string[] {
  const cache = join(REPO_ROOT, "node_modules/.cache/pylon-bench");
  if (kind === "pylon") return [join(REPO_ROOT, "dist/cli/main.js"), "serve", "--port", String(port), "--host", "127.0.0.1"];
  return [join(cache, kind === "socketio" ? "bare-socketio.mjs" : "raw-ws.mjs"), String(port), "127.0.0.1"];
}

/** `callgrind_control` on the server: zero the counters, or dump them (the dump file's `summary:` is the count). */
function control(pid: number, what: "zero" | "dump"): void {
  const r = spawnSync("callgrind_control", [what === "zero" ? "--zero" : "--dump", String(pid)], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`callgrind_control ${what} failed: ${r.stderr || r.stdout}`);
}

/** Instructions counted between the last zero and the dump that produced the newest dump file of `pid`. */
function lastDump(dir: string, pid: number, seen: Set<string>): number {
  for (let i = 0; i < 100; i++) {
    const files = readdirSync(dir).filter((f) => f.startsWith(`cg.${pid}.`) && !seen.has(f));
    if (files.length > 0) {
      const f = files.sort((a, b) => Number(a.split(".").pop()) - Number(b.split(".").pop())).pop()!;
      seen.add(f);
      const m = /^summary:\s+(\d+)/m.exec(readFileSync(join(dir, f), "utf8"));
      if (m) return Number(m[1]);
    }
    spawnSync("sleep", ["0.1"]);
  }
  throw new Error(`no callgrind dump for pid ${pid} in ${dir}`);
}

async function measure(ctx: SuiteContext, server: Proc, pid: number, dir: string): Promise<void> {
  const kind = ctx.kind;
  const spec = kind === "ws" ? { protocol: "ws" as const, namespace: "/", path: "/" } : { protocol: "socketio" as const, namespace: "/demo", path: "/socket.io/" };
  const target = { ...spec, url: server.url, timeoutMs: 120_000, localAddresses: [] as string[] };
  const session = new LoadSession({ ...target, workers: 1 });
  const trigger = new ClientTrigger(target);
  const seen = new Set<string>();
  const windows = ctx.quick ? 1 : 5;
  try {
    await session.ready();
    // only the echo clients while echo is counted: under valgrind time runs ~50x slower, so work that is due per
    // second and per connection (heartbeats, samplers) would weigh ~50x more per operation than it does natively
    const c = await session.connect({ to: ECHO_CLIENTS, rate: 0, concurrency: 50, transports: ctx.websocketOnly, deadlineAt: ctx.deadlineAt(600) });
    if (c.failed) throw new Error(`${c.failed} of ${ECHO_CLIENTS} connections failed under valgrind`);
    const echo = (maxOps: number) => session.echo({ clients: ECHO_CLIENTS, durationMs: 600_000, inflight: 1, payloadBytes: 16, maxOps, deadlineAt: ctx.deadlineAt(600) });
    // warm-up: the JIT has compiled the hot path before the first window (4,000 ops left Pylon's first window 30% high)
    await echo(ctx.quick ? 4000 : 20_000);
    const perOp: number[] = [];
    for (let w = 0; w < windows; w++) {
      const ops = ctx.quick ? 3000 : 10_000;
      control(pid, "zero");
      const r = await echo(ops);
      control(pid, "dump");
      perOp.push(lastDump(dir, pid, seen) / Math.max(1, r.ops));
    }
    // broadcasts: one `say` to the room of 1,000 per tick, the same trigger as the fan-out suite
    const more = await session.connect({ to: ROOM, rate: 0, concurrency: 50, transports: ctx.websocketOnly, deadlineAt: ctx.deadlineAt(600) });
    if (more.failed) throw new Error(`${more.failed} of ${ROOM} connections failed under valgrind`);
    await session.join("ix", 0, ROOM, ctx.deadlineAt(600));
    await trigger.prepare(["ix"]);
    const plan = { trigger, rooms: ["ix"], burst: 1, payloadBytes: 0, settleMs: 60_000, rate: 5, window: 1, durationMs: 600_000, deadlineAt: ctx.deadlineAt(600) };
    await session.broadcast({ ...plan, count: 5 }); // warm-up
    const perDelivery: number[] = [];
    for (let w = 0; w < windows; w++) {
      control(pid, "zero");
      const r = await session.broadcast({ ...plan, count: ctx.quick ? 10 : 30 });
      control(pid, "dump");
      perDelivery.push(lastDump(dir, pid, seen) / Math.max(1, r.received));
    }
    ctx.log(`instructions: echo ${perOp.map((x) => x.toFixed(0)).join(", ")} per op; fan-out ${perDelivery.map((x) => x.toFixed(0)).join(", ")} per delivery`);
    ctx.record("instructions.echo.100.per_op", median(perOp));
    ctx.record("instructions.fanout.1000.per_delivery", median(perDelivery));
  } finally {
    await trigger.close().catch(() => undefined);
    await session.close().catch(() => undefined);
  }
}

export const instructionsSuite: Suite = {
  name: "instructions",
  ownServers: true,
  optIn: true,
  figures: [
    { id: "instructions.echo.100.per_op", label: "server instructions per echo op, 100 clients (callgrind)", unit: "instr", better: "lower" },
    { id: "instructions.fanout.1000.per_delivery", label: "server instructions per delivery, room of 1,000 (callgrind)", unit: "instr", better: "lower" },
  ],
  async run(ctx) {
    if (spawnSync("valgrind", ["--version"]).status !== 0) throw new Error("the instructions suite needs valgrind (apt-get install valgrind)");
    const dir = mkdtempSync(join(tmpdir(), "pylon-callgrind-"));
    const port = await freePort();
    const valgrind = ["valgrind", "--tool=callgrind", "--smc-check=all-non-file", `--callgrind-out-file=${join(dir, "cg.%p")}`, process.execPath, ...serverArgs(ctx.kind, port)];
    // on the server's core, like the other suites' servers (the runner pins itself and the load to the others): how
    // many messages one read or one epoll wake-up carries depends on it, and so does the count per operation
    const cmd = availableParallelism() >= 2 ? ["taskset", "-c", "0", ...valgrind] : valgrind;
    const server = await spawnUntil(cmd[0]!, cmd.slice(1), /listening on http:\/\//, `http://127.0.0.1:${port}`, 180_000);
    try {
      await measure(ctx, server, server.child.pid!, dir);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

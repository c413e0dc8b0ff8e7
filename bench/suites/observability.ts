// Observability cost: fan-out throughput, server CPU per delivery and heap per connection with metrics and flow
// accounting ON (the defaults: metrics.enabled, flow.enabled) against OFF (metrics.enabled=false, flow.enabled=false),
// in the same run, on the same machine state: the two Pylon variants run alternately (on, off, on, off ...), each with
// the same clients, room and broadcast schedule (ABBA order); the figures are medians. Target: <= 5% cost.
// Runs once per repetition of the runner (in its "pylon" slot; skipped for socket.io and ws). Both variants keep the
// broadcast fast path (flow.fastPath) on, so the difference is the instruments and the accounting only.
import { availableParallelism } from "node:os";
import { ClientTrigger, LoadSession } from "../../src/load/index.js";
import { buildBench, startServer, type ServerHandle } from "../lib/servers.js";
import { median } from "../lib/report.js";
import type { Suite, SuiteContext } from "../lib/suite.js";
import { settle } from "../lib/cpu.js";

type Variant = "on" | "off";
const KB = 1024;
const OFF_ENV = { PYLON_METRICS_ENABLED: "false", PYLON_FLOW_ENABLED: "false" } as const;

/** Starts a bench Pylon (probe preloaded, pinned like the runner's servers) with the variant's config from env. */
async function startVariant(variant: Variant, ctx: SuiteContext): Promise<ServerHandle> {
  const build = await buildBench((s) => ctx.log(s), true);
  const saved: Record<string, string | undefined> = {};
  for (const k of Object.keys(OFF_ENV)) saved[k] = process.env[k];
  try {
    // the runner's startServer passes this process's environment to the child: set the variant's switches around it
    for (const [k, v] of Object.entries(OFF_ENV)) {
      if (variant === "off") process.env[k] = v;
      else delete process.env[k];
    }
    return await startServer("pylon", { build, maxOldSpaceMb: 8192, ...(availableParallelism() >= 2 ? { cpus: "0" } : {}) });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

interface Round {
  perSec: number;
  cpuUsPerDelivery: number;
  heapKbPerConn: number;
}

async function round(variant: Variant, ctx: SuiteContext, size: number, deliveries: number): Promise<Round> {
  const server = await startVariant(variant, ctx);
  const spec = { protocol: "socketio" as const, namespace: "/demo", path: "/socket.io/", timeoutMs: 20_000 };
  const session = new LoadSession({ ...spec, url: server.url, workers: 0, localAddresses: [] });
  const trigger = new ClientTrigger({ ...spec, url: server.url });
  try {
    await session.ready();
    await settle([server.cpu]);
    const base = await server.memory();
    const c = await session.connect({ to: size, rate: 0, concurrency: 200, transports: ctx.websocketOnly, deadlineAt: ctx.deadlineAt(120) });
    if (c.failed) ctx.log(`observability ${variant}: ${c.failed} of ${size} connections failed`);
    await session.join("obs", 0, size, ctx.deadlineAt(60));
    await settle([server.cpu]);
    const idle = await server.memory();
    const conns = (await session.status()).connected || size;
    await trigger.prepare(["obs"]);
    const opts = { trigger, rooms: ["obs"], rate: 1, window: Math.max(2, Math.ceil(5000 / size)), burst: 1, payloadBytes: 0, settleMs: 5000 };
    await session.broadcast({ ...opts, count: 20, durationMs: 5000, deadlineAt: ctx.deadlineAt(30) }); // warm-up
    await settle([server.cpu]);
    const { result: r, cpuUs } = await ctx.cpuOf([server.cpu], () =>
      session.broadcast({ ...opts, count: Math.ceil(deliveries / size), durationMs: ctx.quick ? 8000 : 30_000, deadlineAt: ctx.deadlineAt(60) }),
    );
    if (r.completeness < 1) ctx.log(`observability ${variant}: completeness ${r.completeness.toFixed(4)}`);
    const out = { perSec: r.deliveriesPerSec, cpuUsPerDelivery: cpuUs / Math.max(1, r.serverDeliveries), heapKbPerConn: (idle.heapUsed - base.heapUsed) / KB / conns };
    ctx.log(`observability ${variant}: ${out.perSec.toFixed(0)} deliveries/s, ${out.cpuUsPerDelivery.toFixed(2)} us CPU/delivery, ${out.heapKbPerConn.toFixed(2)} KB heap/conn`);
    return out;
  } finally {
    await server.stop(); // first: closing the clients against a killed server is a reset each, not a round of work
    await trigger.close();
    await session.close();
  }
}

const pct = (on: number | null, off: number | null, higherIsBetter: boolean): number | null =>
  on === null || off === null || off === 0 ? null : ((higherIsBetter ? off - on : on - off) / off) * 100;

export const observabilitySuite: Suite = {
  name: "observability",
  servers: ["pylon"],
  ownServers: true,
  figures: [
    { id: "observability.on.deliveries_per_s", label: "fan-out deliveries/s, room of 1,000, metrics+accounting ON", unit: "/s", better: "higher", notFor: ["socketio", "ws"] },
    { id: "observability.off.deliveries_per_s", label: "fan-out deliveries/s, room of 1,000, metrics+accounting OFF", unit: "/s", better: "higher", notFor: ["socketio", "ws"] },
    { id: "observability.throughput_cost_pct", label: "throughput cost of metrics+accounting (target <= 5)", unit: "%", better: "lower", notFor: ["socketio", "ws"] },
    { id: "observability.on.cpu_us_per_delivery", label: "server CPU us per delivery, metrics+accounting ON", unit: "us", better: "lower", notFor: ["socketio", "ws"] },
    { id: "observability.off.cpu_us_per_delivery", label: "server CPU us per delivery, metrics+accounting OFF", unit: "us", better: "lower", notFor: ["socketio", "ws"] },
    { id: "observability.cpu_cost_pct", label: "CPU per delivery cost of metrics+accounting", unit: "%", better: "lower", notFor: ["socketio", "ws"] },
    { id: "observability.on.heap_kb_per_conn", label: "heap KB per connection, metrics+accounting ON", unit: "KB", better: "lower", notFor: ["socketio", "ws"] },
    { id: "observability.off.heap_kb_per_conn", label: "heap KB per connection, metrics+accounting OFF", unit: "KB", better: "lower", notFor: ["socketio", "ws"] },
    { id: "observability.memory_cost_pct", label: "memory per connection cost of metrics+accounting (target <= 5)", unit: "%", better: "lower", notFor: ["socketio", "ws"] },
  ],
  async run(ctx) {
    if (ctx.kind !== "pylon" || !ctx.wants("observability")) return;
    const size = Math.min(1000, ctx.maxConnections);
    const deliveries = ctx.quick ? 50_000 : 300_000;
    // quick: on, off; full: on, off, off, on (ABBA, so neither variant always runs first); the runner's repetitions
    // repeat this and report medians
    const order: Variant[] = ctx.quick ? ["on", "off"] : ["on", "off", "off", "on"];
    const results: Record<Variant, Round[]> = { on: [], off: [] };
    for (const v of order) {
      results[v].push(await round(v, ctx, size, deliveries)); // each round on a fresh server
    }
    const med = (v: Variant, k: keyof Round): number | null => median(results[v].map((r) => r[k]));
    for (const v of ["on", "off"] as const) {
      ctx.record(`observability.${v}.deliveries_per_s`, med(v, "perSec"));
      ctx.record(`observability.${v}.cpu_us_per_delivery`, med(v, "cpuUsPerDelivery"));
      ctx.record(`observability.${v}.heap_kb_per_conn`, med(v, "heapKbPerConn"));
    }
    ctx.record("observability.throughput_cost_pct", pct(med("on", "perSec"), med("off", "perSec"), true));
    ctx.record("observability.cpu_cost_pct", pct(med("on", "cpuUsPerDelivery"), med("off", "cpuUsPerDelivery"), false));
    ctx.record("observability.memory_cost_pct", pct(med("on", "heapKbPerConn"), med("off", "heapKbPerConn"), false));
  },
};

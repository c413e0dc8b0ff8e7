// Fan-out: one trigger broadcasts to a room of N sockets. Closed loop (the next broadcast goes once fewer than
// `window` are still being received) for throughput and server CPU per delivery; bursts of 10 broadcasts per tick;
// and the end-to-end latency at a steady 20 broadcasts/s to 1,000 sockets.
import type { LoadSession, BroadcastTrigger } from "../../src/load/index.js";
import type { Suite, SuiteContext } from "../lib/suite.js";

const ref = {
  1000: { ws: 3.0, socketio: 3.9 },
  5000: { ws: 4.4, socketio: 9.8 },
} as const;

async function fanout(
  ctx: SuiteContext,
  session: LoadSession,
  trigger: BroadcastTrigger,
  size: number,
  burst: number,
  deliveries: number,
  profile = true,
): Promise<{ perSec: number; cpuPerDelivery: number; completeness: number }> {
  // bursts: at least 2 ticks (quick: 1 tick of 10 broadcasts, already 50,000 deliveries at 5,000 sockets)
  const ticks = Math.max(burst > 1 ? (ctx.quick ? 1 : 2) : 5, Math.ceil(deliveries / (size * burst)));
  const run = (): ReturnType<LoadSession["broadcast"]> =>
    session.broadcast({
      trigger,
      rooms: [`r${size}`],
      rate: 1,
      // enough broadcasts in flight that small rooms are not bound by the trigger's round trip; bursts: one tick at a time
      window: burst > 1 ? 1 : Math.max(2, Math.ceil(5000 / size)),
      burst,
      count: ticks,
      durationMs: ctx.quick ? 8000 : 30_000,
      payloadBytes: 0,
      settleMs: 5000,
      deadlineAt: ctx.deadlineAt(60),
    });
  const name = `fanout-${size}${burst > 1 ? `-burst${burst}` : ""}`;
  const { result, cpuUs } = await ctx.cpu(() => (profile ? ctx.profiled(name, run) : run()));
  if (result.completeness < 1) ctx.log(`${name}: completeness ${result.completeness.toFixed(4)} (${result.received}/${result.expected})`);
  await ctx.settle();
  return { perSec: result.deliveriesPerSec, cpuPerDelivery: cpuUs / result.serverDeliveries, completeness: result.completeness };
}

export const fanoutSuite: Suite = {
  name: "fanout",
  figures: [
    { id: "fanout.1000.deliveries_per_s", label: "fan-out deliveries/s, room of 1,000", unit: "/s", better: "higher" },
    { id: "fanout.1000.cpu_us_per_delivery", label: "server CPU us per delivery, room of 1,000", unit: "us", better: "lower", reference: ref[1000] },
    { id: "fanout.5000.deliveries_per_s", label: "fan-out deliveries/s, room of 5,000", unit: "/s", better: "higher" },
    { id: "fanout.5000.cpu_us_per_delivery", label: "server CPU us per delivery, room of 5,000", unit: "us", better: "lower", reference: ref[5000] },
    { id: "fanout.burst10.1000.cpu_us_per_delivery", label: "server CPU us per delivery, 10 broadcasts/tick, room of 1,000", unit: "us", better: "lower" },
    { id: "fanout.burst10.5000.cpu_us_per_delivery", label: "server CPU us per delivery, 10 broadcasts/tick, room of 5,000", unit: "us", better: "lower" },
    { id: "fanout.latency.p50_ms", label: "broadcast latency p50, 20/s to 1,000", unit: "ms", better: "lower" },
    { id: "fanout.latency.p99_ms", label: "broadcast latency p99, 20/s to 1,000", unit: "ms", better: "lower" },
  ],
  curves: [{ id: "fanout", title: "Fan-out deliveries/s vs room size", xLabel: "room size", yLabel: "deliveries/s", logX: true }],
  async run(ctx) {
    const curveSizes = (ctx.quick ? [100, 1000, 5000] : [100, 500, 1000, 2000, 5000, 10_000]).filter((n) => n < ctx.maxConnections);
    const wantCurve = ctx.wants("fanout.curve");
    const measure = new Set<number>(wantCurve ? curveSizes : []);
    for (const s of [1000, 5000]) if (ctx.wants(`fanout.${s}`)) measure.add(s);
    const sizes = new Set<number>(measure);
    if (ctx.wants("fanout.burst10.1000") || ctx.wants("fanout.latency")) sizes.add(1000);
    if (ctx.wants("fanout.burst10.5000")) sizes.add(5000);
    if (sizes.size === 0) return;
    const max = Math.max(...sizes);
    const deliveries = ctx.quick ? 25_000 : 300_000;
    const session = await ctx.session();
    const trigger = ctx.trigger();
    try {
      const c = await session.connect({ to: max, rate: 0, concurrency: 200, transports: ctx.websocketOnly, deadlineAt: ctx.deadlineAt(120) });
      if (c.failed) ctx.log(`fanout: ${c.failed} of ${max} connections failed: ${JSON.stringify(c.errors)}`);
      ctx.log(`fanout: ${c.connected} connected in ${(c.elapsedMs / 1000).toFixed(2)}s`);
      for (const s of [...sizes].sort((a, b) => a - b)) await session.join(`r${s}`, 0, s, ctx.deadlineAt(60));
      await trigger.prepare([...sizes].map((s) => `r${s}`));
      ctx.log(`fanout: rooms joined`);
      // warm-up: a few broadcasts so JIT and buffers are settled before measuring
      await fanout(ctx, session, trigger, Math.min(...sizes), 1, ctx.quick ? 1000 : 5000, false);
      for (const s of [...measure].sort((a, b) => a - b)) {
        const r = await fanout(ctx, session, trigger, s, 1, deliveries);
        if (wantCurve) ctx.point("fanout", s, r.perSec);
        ctx.log(`fanout ${s}: ${r.perSec.toFixed(0)} deliveries/s, ${r.cpuPerDelivery.toFixed(2)} us CPU/delivery`);
        if (s === 1000 || s === 5000) {
          ctx.record(`fanout.${s}.deliveries_per_s`, r.perSec);
          ctx.record(`fanout.${s}.cpu_us_per_delivery`, r.cpuPerDelivery);
        }
      }
      for (const s of [1000, 5000]) {
        if (!sizes.has(s) || !ctx.wants(`fanout.burst10.${s}`)) continue;
        const r = await fanout(ctx, session, trigger, s, 10, deliveries);
        ctx.log(`fanout burst10 ${s}: ${r.perSec.toFixed(0)} deliveries/s, ${r.cpuPerDelivery.toFixed(2)} us CPU/delivery`);
        ctx.record(`fanout.burst10.${s}.cpu_us_per_delivery`, r.cpuPerDelivery);
      }
      if (ctx.wants("fanout.latency")) {
        const r = await session.broadcast({
          trigger,
          rooms: ["r1000"],
          rate: 20,
          window: 0,
          burst: 1,
          count: 0,
          durationMs: ctx.quick ? 2000 : 10_000,
          payloadBytes: 0,
          settleMs: 5000,
          deadlineAt: ctx.deadlineAt(60),
        });
        ctx.log(`latency 20/s to 1000: p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms (completeness ${r.completeness.toFixed(4)})`);
        ctx.record("fanout.latency.p50_ms", r.latency.p50);
        ctx.record("fanout.latency.p99_ms", r.latency.p99);
      }
    } finally {
      await trigger.close(); // the session is closed by the runner, after the server is stopped
    }
  },
};

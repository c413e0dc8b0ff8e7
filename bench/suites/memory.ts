// Memory per idle connection: heap after GC and RSS, websocket-only clients, measured at steps of a ramp.
import type { Suite } from "../lib/suite.js";

const KB = 1024;

export const memorySuite: Suite = {
  name: "memory",
  figures: [
    { id: "memory.heap_kb_per_conn", label: "heap KB per idle connection", unit: "KB", better: "lower", reference: { ws: 2.5, socketio: 10.3 } },
    { id: "memory.rss_kb_per_conn", label: "RSS KB per idle connection", unit: "KB", better: "lower" },
  ],
  curves: [{ id: "memory", title: "Heap after GC vs idle connections", xLabel: "connections", yLabel: "heap MB" }],
  async run(ctx) {
    const steps = [...new Set((ctx.quick ? [1000, 2000] : [1000, 5000, 10_000, 20_000]).map((n) => Math.min(n, ctx.maxConnections)))];
    // the per-connection figure is taken at 10,000 (quick: 2,000), or the largest step this machine's fd limit allows
    const figureAt = Math.max(...steps.filter((n) => n <= (ctx.quick ? 2000 : 10_000)));
    const session = await ctx.session(); // closed by the runner
    const base = await ctx.server.memory();
    ctx.point("memory", 0, base.heapUsed / (KB * KB));
    for (const n of steps) {
      const r = await session.connect({ to: n, rate: 0, concurrency: 200, transports: ctx.websocketOnly, deadlineAt: ctx.deadlineAt(120) });
      if (r.failed > 0) ctx.log(`memory: ${r.failed} connections failed at ${n}: ${JSON.stringify(r.errors)}`);
      await ctx.settle(); // the tail of the handshakes
      const m = await ctx.server.memory();
      const st = await session.status();
      const conns = st.connected || n;
      ctx.point("memory", conns, m.heapUsed / (KB * KB));
      ctx.log(`memory: ${conns} conns heap ${(m.heapUsed / KB / KB).toFixed(1)} MB rss ${(m.rss / KB / KB).toFixed(1)} MB`);
      if (n === figureAt) {
        ctx.record("memory.heap_kb_per_conn", (m.heapUsed - base.heapUsed) / KB / conns);
        ctx.record("memory.rss_kb_per_conn", (m.rss - base.rss) / KB / conns);
      }
    }
  },
};

// Emit-with-ack round trips (closed loop, one outstanding per client) with 1 and 100 clients.
import type { Suite } from "../lib/suite.js";

export const echoSuite: Suite = {
  name: "echo",
  figures: [
    { id: "echo.1.ops_per_s", label: "echo with ack ops/s, 1 client", unit: "/s", better: "higher" },
    { id: "echo.1.p99_ms", label: "echo with ack p99, 1 client", unit: "ms", better: "lower" },
    { id: "echo.1.cpu_us_per_op", label: "server CPU us per op, echo, 1 client", unit: "us", better: "lower" },
    { id: "echo.100.ops_per_s", label: "echo with ack ops/s, 100 clients", unit: "/s", better: "higher" },
    { id: "echo.100.p99_ms", label: "echo with ack p99, 100 clients", unit: "ms", better: "lower" },
    { id: "echo.100.cpu_us_per_op", label: "server CPU us per op, echo, 100 clients", unit: "us", better: "lower", reference: { ws: 8.4, socketio: 14.8 } },
  ],
  async run(ctx) {
    const counts = [1, 100].filter((n) => ctx.wants(`echo.${n}`));
    if (counts.length === 0) return;
    const session = await ctx.session(); // closed by the runner
    await session.connect({ to: Math.max(...counts), rate: 0, concurrency: 100, transports: ctx.websocketOnly, deadlineAt: ctx.deadlineAt(60) });
    // warm-up
    await session.echo({ clients: Math.max(...counts), durationMs: 300, inflight: 1, payloadBytes: 16, maxOps: 0, deadlineAt: ctx.deadlineAt(10) });
    for (const n of counts) {
      await ctx.settle();
      const { result: r, cpuUs } = await ctx.cpu(() =>
        ctx.profiled(`echo-${n}`, () =>
          session.echo({ clients: n, durationMs: ctx.quick ? 1500 : 5000, inflight: 1, payloadBytes: 16, maxOps: 0, deadlineAt: ctx.deadlineAt(30) }),
        ),
      );
      ctx.log(`echo ${n}: ${r.opsPerSec.toFixed(0)} ops/s p99 ${r.latency.p99} ms ${(cpuUs / Math.max(1, r.ops)).toFixed(2)} us CPU/op`);
      ctx.record(`echo.${n}.ops_per_s`, r.opsPerSec);
      ctx.record(`echo.${n}.p99_ms`, r.latency.p99);
      ctx.record(`echo.${n}.cpu_us_per_op`, cpuUs / Math.max(1, r.ops));
    }
  },
};

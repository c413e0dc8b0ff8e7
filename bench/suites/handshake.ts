// Handshakes: new connections as fast as 100 in flight allow; websocket-only and polling-then-upgrade (socket.io only).
// Quick mode still opens 1,000 connections per measurement, so CPU per connection is a few hundred ms of server CPU.
import type { Suite } from "../lib/suite.js";

export const handshakeSuite: Suite = {
  name: "handshake",
  figures: [
    { id: "handshake.ws.per_s", label: "handshakes/s, websocket-only", unit: "/s", better: "higher" },
    { id: "handshake.ws.cpu_us_per_conn", label: "server CPU us per connection, websocket-only", unit: "us", better: "lower", reference: { ws: 83, socketio: 172 } },
    { id: "handshake.upgrade.per_s", label: "handshakes/s, polling then upgrade", unit: "/s", better: "higher", notFor: ["ws"] },
    { id: "handshake.upgrade.cpu_us_per_conn", label: "server CPU us per connection, polling then upgrade", unit: "us", better: "lower", notFor: ["ws"] },
  ],
  async run(ctx) {
    const modes = [
      { key: "ws", transports: ctx.websocketOnly, n: ctx.quick ? 1000 : 4000 },
      { key: "upgrade", transports: { websocket: 0, polling: 0, upgrade: 1 }, n: ctx.quick ? 1000 : 2000 },
    ].filter((m) => ctx.wants(`handshake.${m.key}`) && !(m.key === "upgrade" && ctx.kind === "ws"));
    if (modes.length === 0) return;
    const session = await ctx.session(); // one session (worker threads) for both modes; closed by the runner
    for (const m of modes) {
      // warm-up
      await session.connect({ to: 50, rate: 0, concurrency: 50, transports: m.transports, deadlineAt: ctx.deadlineAt(30) });
      await session.disconnect();
      await ctx.settle(); // the server has processed the closes before the CPU window opens
      const http0 = await ctx.server.httpCounts();
      const { result: r, cpuUs } = await ctx.cpu(() =>
        ctx.profiled(`handshake-${m.key}`, () => session.connect({ to: m.n, rate: 0, concurrency: 100, transports: m.transports, deadlineAt: ctx.deadlineAt(60) })),
      );
      const http1 = await ctx.server.httpCounts();
      const perConn = (n: number): string => (n / Math.max(1, r.connected)).toFixed(2);
      ctx.log(`handshake ${m.key}: ${perConn(http1.requests - http0.requests)} HTTP requests + ${perConn(http1.upgrades - http0.upgrades)} upgrades per connection`);
      if (r.failed) ctx.log(`handshake ${m.key}: ${r.failed} failed ${JSON.stringify(r.errors)}`);
      ctx.log(`handshake ${m.key}: ${r.connected} in ${(r.elapsedMs / 1000).toFixed(2)}s, ${r.perSecond.toFixed(0)}/s ${(cpuUs / Math.max(1, r.connected)).toFixed(1)} us CPU/conn`);
      ctx.record(`handshake.${m.key}.per_s`, r.perSecond);
      ctx.record(`handshake.${m.key}.cpu_us_per_conn`, cpuUs / Math.max(1, r.connected));
      await session.disconnect();
      await ctx.settle();
    }
  },
};

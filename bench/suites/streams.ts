// Streams (issue 5): publish -> every subscriber, with the memory log (one node) and the Redis log (publisher on node A,
// subscribers on node B, so every message crosses Redis), against a plain io.to(room).emit on the same servers in the
// same run (memory adapter / official Redis adapter). Plus replay speed: one SDK client resuming 10,000 behind.
import { join } from "node:path";
import { build } from "esbuild";
import { io, type Socket } from "socket.io-client";
import { PylonClient } from "../../src/client/index.js";
import { monotonicMs as nowMs, newHistogram, recordMs, summarize } from "../../src/load/index.js";
import { freePort, REPO_ROOT } from "../lib/servers.js";
import { pause, type Suite, type SuiteContext } from "../lib/suite.js";
import { spawnUntil, startRedis, type Proc } from "../lib/child-proc.js";


async function serverScript(): Promise<string> {
  const outfile = join(REPO_ROOT, "node_modules/.cache/pylon-bench/streams-node.mjs");
  await build({ entryPoints: [join(REPO_ROOT, "bench/servers/streams-node.ts")], outfile, bundle: true, packages: "external", platform: "node", format: "esm", target: "node20", logLevel: "warning" });
  return outfile;
}

async function startNode(script: string, redisUrl: string, nodeId: string): Promise<Proc> {
  const port = await freePort();
  return spawnUntil(process.execPath, [script, String(port), "127.0.0.1", redisUrl, nodeId], /listening on http:\/\//, `http://127.0.0.1:${port}`);
}

function ackCall<T>(s: Socket, event: string, arg: unknown, timeoutMs = 120_000): Promise<T> {
  return s.timeout(timeoutMs).emitWithAck(event, arg) as Promise<T>;
}

interface Receivers {
  got(): number;
  lat: ReturnType<typeof newHistogram>;
  close(): void;
}

async function emitReceivers(url: string, n: number, room: string): Promise<Receivers> {
  let got = 0;
  const lat = newHistogram();
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = io(url, { transports: ["websocket"], forceNew: true });
    s.on("bench:m", (m: { ts: number }) => {
      got++;
      recordMs(lat, nowMs() - m.ts);
    });
    await ackCall(s, "bench:join", room);
    sockets.push(s);
  }
  return { got: () => got, lat, close: () => sockets.forEach((s) => s.disconnect()) };
}

async function streamReceivers(url: string, n: number, stream: string): Promise<Receivers> {
  let got = 0;
  let ready = 0;
  const lat = newHistogram();
  const clients: PylonClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = new PylonClient(url, { socket: { transports: ["websocket"] } });
    c.on("replayed", () => ready++);
    c.subscribe(stream, (d) => {
      got++;
      // the publisher's sub-ms timestamp in the payload (meta.ts is the server's whole-millisecond Date.now())
      recordMs(lat, nowMs() - (d as { ts: number }).ts);
    });
    clients.push(c);
  }
  for (let i = 0; i < 400 && ready < n; i++) await pause(25);
  return { got: () => got, lat, close: () => clients.forEach((c) => c.close()) };
}

async function waitCount(r: Receivers, target: number, timeoutMs: number): Promise<boolean> {
  const deadline = nowMs() + timeoutMs;
  while (r.got() < target && nowMs() < deadline) await pause(5);
  return r.got() >= target;
}

/** Throughput (deliveries/s until every receiver has every message) and latency at a fixed rate. */
async function measure(
  ctx: SuiteContext,
  driver: Socket,
  recvUrl: string,
  mode: "emit" | "stream",
  name: string,
  receivers: number,
  count: number,
  serverPids: number[],
): Promise<{ perSec: number; p50: number; p99: number; cpuUsPerDelivery: number }> {
  const r = mode === "emit" ? await emitReceivers(recvUrl, receivers, name) : await streamReceivers(recvUrl, receivers, name);
  try {
    await ackCall(driver, "bench:run", { mode, name, count: 200, rate: 0 }); // warm-up
    await waitCount(r, receivers * 200, 30_000);
    const base = r.got();
    const t0 = performance.now();
    const { result: complete, cpuUs } = await ctx.cpuOf(serverPids, async () => {
      await ackCall(driver, "bench:run", { mode, name, count, rate: 0 });
      return waitCount(r, base + receivers * count, 120_000);
    });
    const ms = performance.now() - t0;
    const perSec = ((r.got() - base) / ms) * 1000;
    if (!complete) ctx.log(`streams: ${mode} ${name}: only ${r.got() - base} of ${receivers * count} deliveries arrived`);
    r.lat.reset();
    const latCount = ctx.quick ? 200 : 1000;
    const before = r.got();
    await ackCall(driver, "bench:run", { mode, name, count: latCount, rate: 200 });
    await waitCount(r, before + receivers * latCount, 30_000);
    const s = summarize(r.lat);
    return { perSec, p50: s.p50, p99: s.p99, cpuUsPerDelivery: cpuUs / Math.max(1, r.got() - base) };
  } finally {
    r.close();
  }
}

async function replaySpeed(driver: Socket, url: string, name: string, behind: number): Promise<number> {
  await ackCall(driver, "bench:run", { mode: "stream", name, count: behind, rate: 0 });
  let got = 0;
  const c = new PylonClient(url, { socket: { transports: ["websocket"] } });
  await new Promise<void>((resolve) => c.socket.once("connect", () => resolve()));
  const t0 = performance.now();
  c.subscribe(name, () => got++, { after: 0 });
  const deadline = nowMs() + 60_000;
  while (got < behind && nowMs() < deadline) await pause(2);
  const ms = performance.now() - t0;
  c.close();
  return (got / ms) * 1000;
}

const F = (id: string, label: string, unit: string, better: "lower" | "higher") => ({ id: `streams.${id}`, label, unit, better, notFor: ["socketio", "ws"] as ("socketio" | "ws")[] });

export const streamsSuite: Suite = {
  name: "streams",
  servers: ["pylon"],
  ownServers: true,
  figures: [
    F("memory.emit.deliveries_per_s", "io.to(room).emit deliveries/s (memory adapter, 1 node)", "/s", "higher"),
    F("memory.stream.deliveries_per_s", "stream publish deliveries/s (memory log, 1 node)", "/s", "higher"),
    F("memory.emit.p50_ms", "io.to(room).emit latency p50 (200/s, memory)", "ms", "lower"),
    F("memory.emit.p99_ms", "io.to(room).emit latency p99 (200/s, memory)", "ms", "lower"),
    F("memory.stream.p50_ms", "stream latency p50 (200/s, memory log)", "ms", "lower"),
    F("memory.stream.p99_ms", "stream latency p99 (200/s, memory log)", "ms", "lower"),
    F("redis.emit.deliveries_per_s", "io.to(room).emit deliveries/s (Redis adapter, cross-node)", "/s", "higher"),
    F("redis.stream.deliveries_per_s", "stream publish deliveries/s (Redis log, cross-node)", "/s", "higher"),
    F("redis.stream_vs_emit", "Redis stream / Redis-adapter emit throughput (target >= 0.7)", "x", "higher"),
    F("memory.emit.cpu_us_per_delivery", "io.to(room).emit server CPU us per delivery (memory adapter)", "us", "lower"),
    F("memory.stream.cpu_us_per_delivery", "stream server CPU us per delivery (memory log)", "us", "lower"),
    F("redis.emit.cpu_us_per_delivery", "io.to(room).emit server CPU us per delivery (Redis adapter, both nodes)", "us", "lower"),
    F("redis.stream.cpu_us_per_delivery", "stream server CPU us per delivery (Redis log, both nodes)", "us", "lower"),
    F("redis.emit.p50_ms", "io.to(room).emit latency p50 (200/s, Redis adapter, cross-node)", "ms", "lower"),
    F("redis.emit.p99_ms", "io.to(room).emit latency p99 (200/s, Redis adapter, cross-node)", "ms", "lower"),
    F("redis.stream.p50_ms", "stream latency p50 (200/s, Redis log, cross-node)", "ms", "lower"),
    F("redis.stream.p99_ms", "stream latency p99 (200/s, Redis log, cross-node)", "ms", "lower"),
    F("memory.replay_per_s", "replay: one client resuming 10,000 behind, messages/s (memory log)", "/s", "higher"),
    F("redis.replay_per_s", "replay: one client resuming 10,000 behind, messages/s (Redis log)", "/s", "higher"),
  ],
  async run(ctx: SuiteContext) {
    if (ctx.kind !== "pylon" || !ctx.wants("streams")) return;
    const script = await serverScript();
    const receivers = ctx.quick ? 20 : 50;
    const count = ctx.quick ? 1000 : 5000;
    const procs: Proc[] = [];
    const drivers: Socket[] = [];
    try {
      // memory: one node
      const m = await startNode(script, "", "m1");
      procs.push(m);
      const dm = io(m.url, { transports: ["websocket"], forceNew: true });
      drivers.push(dm);
      for (const mode of ["emit", "stream"] as const) {
        if (!ctx.wants(`streams.memory.${mode}`)) continue;
        const r = await measure(ctx, dm, m.url, mode, `bm.${mode}`, receivers, count, [m.child.pid!]);
        ctx.log(`streams memory ${mode}: ${r.perSec.toFixed(0)} deliveries/s, ${r.cpuUsPerDelivery.toFixed(2)} us server CPU/delivery, p50 ${r.p50} ms p99 ${r.p99} ms (${receivers} receivers)`);
        ctx.record(`streams.memory.${mode}.cpu_us_per_delivery`, r.cpuUsPerDelivery);
        ctx.record(`streams.memory.${mode}.deliveries_per_s`, r.perSec);
        ctx.record(`streams.memory.${mode}.p50_ms`, r.p50);
        ctx.record(`streams.memory.${mode}.p99_ms`, r.p99);
      }
      if (ctx.wants("streams.memory.replay")) {
        const rate = await replaySpeed(dm, m.url, "bm.replay", 10_000);
        ctx.log(`streams memory replay: ${rate.toFixed(0)} messages/s`);
        ctx.record("streams.memory.replay_per_s", rate);
      }
      // redis: publisher node A, receivers on node B
      const redis = await startRedis();
      procs.push(redis);
      const a = await startNode(script, redis.url, "ra");
      const b = await startNode(script, redis.url, "rb");
      procs.push(a, b);
      const da = io(a.url, { transports: ["websocket"], forceNew: true });
      drivers.push(da);
      const thr: Record<string, number> = {};
      for (const mode of ["emit", "stream"] as const) {
        if (!ctx.wants(`streams.redis.${mode}`) && !ctx.wants("streams.redis.stream_vs_emit")) continue;
        const r = await measure(ctx, da, b.url, mode, `br.${mode}`, receivers, count, [a.child.pid!, b.child.pid!]);
        thr[mode] = r.perSec;
        ctx.log(`streams redis ${mode}: ${r.perSec.toFixed(0)} deliveries/s, ${r.cpuUsPerDelivery.toFixed(2)} us server CPU/delivery (both nodes), p50 ${r.p50} ms p99 ${r.p99} ms (${receivers} receivers on the other node)`);
        ctx.record(`streams.redis.${mode}.cpu_us_per_delivery`, r.cpuUsPerDelivery);
        ctx.record(`streams.redis.${mode}.deliveries_per_s`, r.perSec);
        ctx.record(`streams.redis.${mode}.p50_ms`, r.p50);
        ctx.record(`streams.redis.${mode}.p99_ms`, r.p99);
      }
      if (thr.emit && thr.stream) ctx.record("streams.redis.stream_vs_emit", thr.stream / thr.emit);
      if (ctx.wants("streams.redis.replay")) {
        const rate = await replaySpeed(da, b.url, "br.replay", 10_000);
        ctx.log(`streams redis replay: ${rate.toFixed(0)} messages/s`);
        ctx.record("streams.redis.replay_per_s", rate);
      }
    } finally {
      for (const d of drivers) d.disconnect();
      for (const p of procs.reverse()) await p.stop();
    }
  },
};

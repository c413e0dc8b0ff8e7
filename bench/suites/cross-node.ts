// Cross-node: two nodes on one real redis-server. Receivers sit on node B, the trigger says into the room on node A,
// so every broadcast crosses Redis. Pylon (--redis-url) vs bare socket.io with the same official Redis adapter, same
// run. Plus, for Pylon, what sticky-free forwarding costs per polling request: a POST to the session's owner vs the
// same POST through another node, which forwards it.
import { join } from "node:path";
import { Agent, request } from "node:http";
import { build } from "esbuild";
import { ClientTrigger, LoadSession, newHistogram, recordMs, summarize } from "../../src/load/index.js";
import { freePort, REPO_ROOT } from "../lib/servers.js";
import { pause, type Suite, type SuiteContext } from "../lib/suite.js";
import { spawnUntil, startRedis, type Proc } from "../lib/child-proc.js";
import { CpuMeter, settle } from "../lib/cpu.js";

async function bareRedisServer(): Promise<string> {
  const outfile = join(REPO_ROOT, "node_modules/.cache/pylon-bench/bare-socketio-redis.mjs");
  await build({
    entryPoints: [join(REPO_ROOT, "bench/servers/bare-socketio-redis.ts")],
    outfile,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
  });
  return outfile;
}

async function startNode(kind: "pylon" | "socketio", redisUrl: string, nodeId: string): Promise<Proc> {
  const port = await freePort();
  if (kind === "pylon") {
    const cli = join(REPO_ROOT, "dist/cli/main.js");
    return spawnUntil(process.execPath, [cli, "serve", "--port", String(port), "--host", "127.0.0.1", "--redis-url", redisUrl, "--node-id", nodeId], /listening on http:\/\//, `http://127.0.0.1:${port}`);
  }
  return spawnUntil(process.execPath, [await bareRedisServer(), String(port), "127.0.0.1", redisUrl], /listening on http:\/\//, `http://127.0.0.1:${port}`);
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // not yet
    }
    await pause(50);
  }
  throw new Error(`${url}/readyz never 200`);
}

function httpCall(agent: Agent, url: string, method: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: body ? { "content-type": "text/plain;charset=UTF-8" } : {} }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** p50/p99 of polling POST round trips to the session's owner (direct) and through another node (forwarded). */
async function forwardingOverhead(a: string, b: string, n: number): Promise<{ direct: { p50: number; p99: number }; forwarded: { p50: number; p99: number } }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  try {
    const hs = await httpCall(agent, `${a}/socket.io/?EIO=4&transport=polling`, "GET");
    const sid = (JSON.parse(hs.text.slice(1)) as { sid: string }).sid;
    const path = `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
    const direct = newHistogram();
    const forwarded = newHistogram();
    // interleaved, so both see the same machine state; the engine "noop" packet (6) is accepted and answered "ok"
    for (let i = 0; i < n; i++) {
      for (const [base, h] of [[a, direct], [b, forwarded]] as const) {
        const t0 = performance.now();
        const r = await httpCall(agent, `${base}${path}`, "POST", "6");
        if (r.status !== 200) throw new Error(`POST via ${base} -> ${r.status} ${r.text}`);
        recordMs(h, performance.now() - t0);
      }
      // answer the server's pings so the session stays open during long runs
      if (i % 200 === 199) await httpCall(agent, `${a}${path}`, "POST", "3");
    }
    const d = summarize(direct);
    const f = summarize(forwarded);
    return { direct: { p50: d.p50, p99: d.p99 }, forwarded: { p50: f.p50, p99: f.p99 } };
  } finally {
    agent.destroy();
  }
}

/** Receivers of the latency phase (a room of the first 500 clients, in quick and full mode). */
const LATENCY_ROOM = 500;

export const crossNodeSuite: Suite = {
  name: "cross-node",
  servers: ["pylon", "socketio"],
  ownServers: true,
  figures: [
    { id: "cross-node.deliveries_per_s", label: "cross-node broadcast deliveries/s (2 nodes on Redis, room on the other node)", unit: "/s", better: "higher", notFor: ["ws"] },
    { id: "cross-node.cpu_us_per_delivery", label: "cross-node CPU us per delivery (both nodes)", unit: "us", better: "lower", notFor: ["ws"] },
    { id: "cross-node.latency.p50_ms", label: "cross-node broadcast latency p50 (20/s to 500)", unit: "ms", better: "lower", notFor: ["ws"] },
    { id: "cross-node.latency.p99_ms", label: "cross-node broadcast latency p99 (20/s to 500)", unit: "ms", better: "lower", notFor: ["ws"] },
    { id: "cross-node.forward.direct.p50_ms", label: "polling POST to the owner node p50", unit: "ms", better: "lower", notFor: ["ws", "socketio"] },
    { id: "cross-node.forward.direct.p99_ms", label: "polling POST to the owner node p99", unit: "ms", better: "lower", notFor: ["ws", "socketio"] },
    { id: "cross-node.forward.forwarded.p50_ms", label: "polling POST via another node (forwarded) p50", unit: "ms", better: "lower", notFor: ["ws", "socketio"] },
    { id: "cross-node.forward.forwarded.p99_ms", label: "polling POST via another node (forwarded) p99", unit: "ms", better: "lower", notFor: ["ws", "socketio"] },
  ],
  async run(ctx: SuiteContext) {
    const kind = ctx.kind;
    if (kind === "ws" || !ctx.wants("cross-node")) return;
    const redis = await startRedis();
    const redisUrl = redis.url;
    const nodes: Proc[] = [];
    const spec = { protocol: "socketio" as const, namespace: "/demo", path: "/socket.io/", timeoutMs: 20_000 };
    let session: LoadSession | undefined;
    let trigger: ClientTrigger | undefined;
    try {
      nodes.push(await startNode(kind, redisUrl, "a"), await startNode(kind, redisUrl, "b"));
      if (kind === "pylon") for (const n of nodes) await waitReady(n.url);
      const [a, b] = nodes as [Proc, Proc];
      const size = ctx.quick ? 500 : 2000;
      session = new LoadSession({ ...spec, url: b.url, workers: 0, localAddresses: [] });
      await session.ready();
      const c = await session.connect({ to: size, rate: 0, concurrency: 200, transports: ctx.websocketOnly, deadlineAt: ctx.deadlineAt(120) });
      if (c.failed) ctx.log(`cross-node: ${c.failed} of ${size} connections failed`);
      await session.join("x", 0, size, ctx.deadlineAt(60));
      // latency is measured on a room of 500 in both modes: 20/s to all 2,000 (40,000 deliveries/s) is more than the
      // one load core receives, and the figure then measured the load generator's queue (p50 250-340 ms)
      await session.join("lat", 0, LATENCY_ROOM, ctx.deadlineAt(60));
      trigger = new ClientTrigger({ ...spec, url: a.url });
      await trigger.prepare(["x", "lat"]);
      const base = { trigger, rooms: ["x"], burst: 1, payloadBytes: 0, settleMs: 5000 };
      await session.broadcast({ ...base, rate: 1, window: 2, count: 20, durationMs: 5000, deadlineAt: ctx.deadlineAt(30) }); // warm-up
      const { result: thr, cpuUs } = await ctx.cpuOf(
        nodes.map((n) => n.child.pid!),
        () => session!.broadcast({ ...base, rate: 1, window: 2, count: 0, durationMs: ctx.quick ? 2000 : 20_000, deadlineAt: ctx.deadlineAt(60) }),
      );
      ctx.log(`cross-node ${kind}: ${thr.deliveriesPerSec.toFixed(0)} deliveries/s, completeness ${thr.completeness.toFixed(4)}, ${(cpuUs / thr.serverDeliveries).toFixed(2)} us CPU/delivery`);
      ctx.record("cross-node.deliveries_per_s", thr.deliveriesPerSec);
      ctx.record("cross-node.cpu_us_per_delivery", cpuUs / Math.max(1, thr.serverDeliveries));
      await settle(nodes.map((n) => new CpuMeter(n.child.pid!)));
      const lat = await session.broadcast({ ...base, rooms: ["lat"], rate: 20, window: 0, count: 0, durationMs: ctx.quick ? 2000 : 10_000, deadlineAt: ctx.deadlineAt(60) });
      ctx.log(`cross-node ${kind} latency 20/s to ${LATENCY_ROOM}: p50 ${lat.latency.p50} ms p99 ${lat.latency.p99} ms (completeness ${lat.completeness.toFixed(4)})`);
      ctx.record("cross-node.latency.p50_ms", lat.latency.p50);
      ctx.record("cross-node.latency.p99_ms", lat.latency.p99);
      if (kind === "pylon" && ctx.wants("cross-node.forward")) {
        const f = await forwardingOverhead(a.url, b.url, ctx.quick ? 500 : 3000);
        ctx.log(`forwarding: direct p50 ${f.direct.p50} p99 ${f.direct.p99} ms; forwarded p50 ${f.forwarded.p50} p99 ${f.forwarded.p99} ms`);
        ctx.record("cross-node.forward.direct.p50_ms", f.direct.p50);
        ctx.record("cross-node.forward.direct.p99_ms", f.direct.p99);
        ctx.record("cross-node.forward.forwarded.p50_ms", f.forwarded.p50);
        ctx.record("cross-node.forward.forwarded.p99_ms", f.forwarded.p99);
      }
    } finally {
      await trigger?.close();
      if (session) {
        await session.disconnect();
        await session.close();
      }
      for (const n of nodes) await n.stop();
      await redis.stop();
    }
  },
};

/**
 * Flow control with real socket.io-client connections congested by pausing their TCP socket: volatile events dropped
 * and counted while reliable ones are all delivered in order, telemetry drop-oldest, and inbound handler limits.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Socket } from "socket.io";
import { connectClient, connectMany, metricSum, onceEvent, scrapeMetrics, useCleanup, waitFor } from "../helpers/index.js";
import { fillUntil, pauseClient, resumeClient, startInProcessPylon } from "../helpers/write-path.js";

useCleanup();

const SOFT = 128 * 1024;

test("congested socket: volatile broadcasts and emits are dropped and counted, reliable ones all arrive in order", async () => {
  const { pylon, url, flow } = await startInProcessPylon({ flow: { softLimitBytes: SOFT, hardLimitBytes: 256 * 1024 * 1024, hardLimitPackets: 1_000_000 } });
  const sockets: Socket[] = [];
  pylon.io.of("/").on("connection", (s) => {
    void s.join("r");
    sockets.push(s);
  });
  const slow = await connectClient(url, { transports: ["websocket"] });
  const healthy = await connectClient(url, { transports: ["websocket"] });
  await waitFor(() => sockets.length === 2);
  const slowServer = sockets.find((s) => s.id === slow.id)!;

  const got = { slow: [] as string[], healthy: [] as string[] };
  slow.on("v", (n: number) => got.slow.push(`v${n}`));
  slow.on("r", (n: number) => got.slow.push(`r${n}`));
  healthy.on("v", (n: number) => got.healthy.push(`v${n}`));
  healthy.on("r", (n: number) => got.healthy.push(`r${n}`));
  let fills = 0;
  slow.on("fill", () => fills++);

  pauseClient(slow);
  const filled = await fillUntil((p) => slowServer.emit("fill", p), () => flow.pendingOf(slowServer).bytes, SOFT * 2);

  const before = metricSum(await scrapeMetrics(url), "pylon_drops_total", { reason: "volatile_congested" });
  for (let i = 1; i <= 20; i++) {
    pylon.io.to("r").volatile.emit("v", i); // broadcast: dropped for the slow socket only
    slowServer.volatile.emit("v", 100 + i); // per-socket volatile: dropped
    pylon.io.to("r").emit("r", i); // reliable: queued
  }
  const after = metricSum(await scrapeMetrics(url), "pylon_drops_total", { reason: "volatile_congested" });
  assert.equal(after - before, 40, "every volatile message to the congested socket is counted as dropped");

  resumeClient(slow);
  const reliable = (list: string[]): string[] => list.filter((e) => e.startsWith("r"));
  await waitFor(() => fills === filled && got.slow.length >= 20 && reliable(got.healthy).length >= 20, {
    timeoutMs: 30_000,
    message: "reliable messages delivered to both clients",
  });
  assert.deepEqual(got.slow, Array.from({ length: 20 }, (_, i) => `r${i + 1}`), "slow client: all reliable, in order, no volatile");
  assert.deepEqual(reliable(got.healthy), Array.from({ length: 20 }, (_, i) => `r${i + 1}`), "healthy client: all reliable, in order");
  // the healthy client gets volatile messages unless socket.io's own rule discarded them (transport busy): counted too
  const busy = metricSum(await scrapeMetrics(url), "pylon_drops_total", { reason: "volatile_busy" });
  const healthyVolatile = got.healthy.filter((e) => e.startsWith("v")).length;
  assert.ok(healthyVolatile > 0, "the healthy client received volatile messages");
  assert.equal(healthyVolatile + busy, 20, `healthy volatile received ${healthyVolatile} + counted busy drops ${busy}`);
});

test("telemetry class: a congested socket keeps only the newest queued packet of each telemetry event", async () => {
  const { pylon, url, flow } = await startInProcessPylon({
    flow: { softLimitBytes: SOFT, hardLimitBytes: 256 * 1024 * 1024, hardLimitPackets: 1_000_000, eventClasses: { cursor: "telemetry" } },
  });
  const connected = onceEvent<[Socket]>(pylon.io.of("/"), "connection");
  const client = await connectClient(url, { transports: ["websocket"] });
  const [server] = await connected;
  const cursors: number[] = [];
  const reliable: number[] = [];
  client.on("cursor", (n: number) => cursors.push(n));
  client.on("r", (n: number) => reliable.push(n));
  pauseClient(client);
  await fillUntil((p) => server.emit("fill", p), () => flow.pendingOf(server).bytes, SOFT * 2);
  const before = metricSum(await scrapeMetrics(url), "pylon_drops_total", { reason: "telemetry_oldest" });
  for (let i = 1; i <= 50; i++) {
    server.emit("cursor", i);
    if (i % 10 === 0) server.emit("r", i);
  }
  const dropped = metricSum(await scrapeMetrics(url), "pylon_drops_total", { reason: "telemetry_oldest" }) - before;
  resumeClient(client);
  await waitFor(() => cursors.includes(50) && reliable.length === 5, { timeoutMs: 30_000, message: `cursors ${cursors.join(",")}` });
  assert.deepEqual(reliable, [10, 20, 30, 40, 50], "reliable events are never replaced");
  assert.ok(dropped > 0, "older cursors were replaced");
  assert.equal(cursors.length + dropped, 50, `received ${cursors.length} + dropped ${dropped} = sent`);
  assert.deepEqual([...cursors].sort((a, b) => a - b), cursors, "cursors still in order");
});

test("inbound: ack-waiting handlers are capped per socket, overflow gets error ack overloaded, other sockets unaffected", async () => {
  const { pylon, url } = await startInProcessPylon({ flow: { inboundMaxConcurrent: 2, inboundMaxQueued: 3 } });
  const release: (() => void)[] = [];
  let started = 0;
  pylon.io.of("/").on("connection", (s) => {
    s.on("slow", (n: number, ack: (r: unknown) => void) => {
      started++;
      release.push(() => ack({ n }));
    });
    s.on("echo", (v: unknown, ack: (r: unknown) => void) => ack(v));
  });
  const a = await connectClient(url, { transports: ["websocket"] });
  const b = await connectClient(url, { transports: ["websocket"] });
  const results = Array.from({ length: 10 }, (_, i) => a.timeout(20_000).emitWithAck("slow", i) as Promise<{ n?: number; error?: { code: string } }>);
  await waitFor(() => started === 2, { message: "two handlers in flight" });
  // the 5 beyond 2 in flight + 3 queued are refused at once
  const refused = await Promise.all(results.slice(5));
  for (const r of refused) assert.equal(r.error?.code, "overloaded");
  // another socket is not blocked
  assert.deepEqual(await b.timeout(5000).emitWithAck("echo", { ok: 1 }), { ok: 1 });
  assert.equal(started, 2, "queued events wait for a slot");
  // free slots one by one: queued events run in order
  while (started < 5 || release.length > 0) {
    release.shift()?.();
    await new Promise((r) => setImmediate(r));
    if (release.length === 0 && started < 5) await waitFor(() => release.length > 0, { message: "next queued handler started" });
  }
  const done = await Promise.all(results.slice(0, 5));
  assert.deepEqual(done.map((r) => r.n), [0, 1, 2, 3, 4]);
  const m = await scrapeMetrics(url);
  assert.equal(metricSum(m, "pylon_drops_total", { reason: "inbound_overloaded" }), 5);
  assert.equal(metricSum(m, "pylon_inbound_queued_total"), 3);
});

test("the pending-bytes sampler walks every connection in slices (other work runs between them), once per pass", async () => {
  const { url, flow } = await startInProcessPylon({ flow: { sampleIntervalMs: 600_000 } });
  const clients = await connectMany(1100, url, { transports: ["websocket"] }, { concurrency: 100 });
  const count = async (): Promise<number> => metricSum(await scrapeMetrics(url), "pylon_pending_outbound_bytes_count");
  const before = await count();
  let turns = 0;
  let done = false;
  const tick = (): void => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const pass = flow.sample();
  assert.equal(flow.sample(), pass, "a pass in progress is not started twice");
  await pass;
  done = true;
  assert.equal((await count()) - before, 1100, "one observation per connection");
  assert.ok(turns >= 2, `other macrotasks ran during the pass (${turns}): 1,100 connections are 3 slices of 512`);
  await flow.sample(); // the next pass samples again (a pass that ended must not stay marked as running)
  assert.equal((await count()) - before, 2200, "a second pass observes every connection again");
  for (let i = 0; i < 1000; i++) clients[i]!.disconnect();
  await waitFor(async () => {
    const n = await count();
    await flow.sample(); // 100 connections: one synchronous slice
    return (await count()) === n + 100;
  }, { message: "passes of a single slice keep sampling" });
  for (const c of clients) c.disconnect();
});

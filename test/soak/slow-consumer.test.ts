/**
 * Slow consumer (issue 7): a client that stops reading (its TCP socket paused) while the server publishes to it.
 * The real `pylon serve` (default flow limits) must keep its RSS within a stated bound, close the slow client with
 * reason slow_consumer, and keep delivering everything, in order, to the normal clients.
 * Modest size in `npm test`; PYLON_TEST_SIZE=full (`npm run test:soak`): 100 MB published, 50 normal clients.
 * Prints one line `soak-slow-consumer: rssDeltaMB=Y` (read by scripts/soak-summary.mjs).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  connectClient,
  connectMany,
  emitWithAck,
  metricSum,
  scrapeMetrics,
  startPylon,
  useCleanup,
  waitFor,
  type ClientSocket,
} from "../helpers/index.js";
import { pauseClient } from "../helpers/write-path.js";

useCleanup();

const FULL = process.env.PYLON_TEST_SIZE === "full";
const PUBLISH_MB = FULL ? 100 : 12;
const NORMAL_CLIENTS = FULL ? 50 : 20;
/** The bound stated in docs/flow-control.md: server RSS grows by less than this while a slow client is fed. */
const RSS_BOUND_MB = 64;
const TEXT = "s".repeat(4000); // the demo say schema allows up to 4096 characters

function rssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

test(`slow consumer: ${PUBLISH_MB} MB published to a paused client; RSS bounded, slow_consumer disconnect, ${NORMAL_CLIENTS} normal clients get everything`, async () => {
  const pylon = await startPylon({ config: { log: { level: "warn" } } });
  const demo = `${pylon.url}/demo`;
  const normal = await connectMany(NORMAL_CLIENTS, demo, { transports: ["websocket"] });
  const received = normal.map(() => [] as number[]);
  normal.forEach((c, i) => c.on("message", (m: { room: string; text: string }) => m.room === "normal" && received[i]!.push(Number(m.text))));
  for (const c of normal) assert.deepEqual(await emitWithAck(c, "join", "normal"), { ok: true });

  const slow = await connectClient(demo, { transports: ["websocket"] });
  assert.deepEqual(await emitWithAck(slow, "join", "firehose"), { ok: true });
  let slowClosed = false;
  slow.on("disconnect", () => (slowClosed = true));
  // the demo's say() only publishes to rooms the sender is in: the publisher reads the firehose too
  const publisher: ClientSocket = await connectClient(demo, { transports: ["websocket"] });
  for (const room of ["normal", "firehose"]) assert.deepEqual(await emitWithAck(publisher, "join", room), { ok: true });

  // warm up once (JIT, buffers), then take the baseline
  for (let i = 0; i < 50; i++) publisher.emit("say", { room: "normal", text: "-1" });
  await waitFor(() => received.every((r) => r.length === 50), { message: "warm-up delivered" });
  for (const r of received) r.length = 0;
  const baseline = rssMB(pylon.pid);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMB(pylon.pid))), 50);

  pauseClient(slow);
  const total = Math.ceil((PUBLISH_MB * 1024 * 1024) / TEXT.length);
  let normalSeq = 0;
  try {
    for (let sent = 0; sent < total; ) {
      for (let k = 0; k < 200 && sent < total; k++, sent++) publisher.emit("say", { room: "firehose", text: TEXT });
      publisher.emit("say", { room: "normal", text: String(++normalSeq) });
      // pace the publisher on the server: the echo ack returns once everything before it was handled
      await emitWithAck(publisher, "echo", sent);
    }
    await waitFor(() => received.every((r) => r.length === normalSeq), { timeoutMs: 60_000, message: "normal clients received everything" });
  } finally {
    clearInterval(sampler);
  }
  const rssDeltaMB = Math.max(0, peak - baseline);
  console.log(`soak-slow-consumer: rssDeltaMB=${rssDeltaMB.toFixed(1)}`);

  const expected = Array.from({ length: normalSeq }, (_, i) => i + 1);
  for (const r of received) assert.deepEqual(r, expected, "a normal client missed or reordered a message");
  const m = await scrapeMetrics(pylon.url);
  assert.ok(metricSum(m, "pylon_slow_consumer_disconnects_total") >= 1, "slow consumer disconnect counted");
  assert.ok(metricSum(m, "pylon_disconnects_total", { reason: "slow_consumer" }) >= 1, "socket disconnect reason slow_consumer");
  assert.ok(metricSum(m, "pylon_drops_total", { reason: "slow_consumer" }) >= 1);
  assert.equal(metricSum(m, "pylon_disconnects_total", { namespace: "/demo", reason: "slow_consumer" }), 1, "only the slow client was closed");
  assert.ok(rssDeltaMB < RSS_BOUND_MB, `server RSS grew ${rssDeltaMB.toFixed(1)} MB (bound ${RSS_BOUND_MB} MB) while ${PUBLISH_MB} MB were published`);
  void slowClosed; // the paused client may only notice the close once it reads again
  await pylon.stop();
});

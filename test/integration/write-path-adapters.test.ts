/**
 * The fast path wraps whichever adapter is configured (PERF-NOTES §4): socket.io semantics kept on the in-memory
 * adapter (onAnyOutgoing, except, broadcast with ack, volatile, binary), socket.io's session-aware adapter (connection
 * state recovery keeps recording and recovering), and the Redis adapter across two real `pylon serve` nodes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type Socket } from "socket.io";
import {
  connectClient,
  emitWithAck,
  metricSum,
  onceEvent,
  scrapeMetrics,
  startPylon,
  startRedis,
  useCleanup,
  waitFor,
} from "../helpers/index.js";
import { registerCloser } from "../helpers/cleanup.js";
import { startInProcessPylon } from "../helpers/write-path.js";
import { WriteCoalescer } from "../../src/transport/coalescer.js";
import { attachFastPathRuntime, ensureFastPath, type FastPathRuntime } from "../../src/transport/fast-path.js";

useCleanup();

test("memory adapter: onAnyOutgoing notified, except honoured, broadcast with ack and binary keep working", async () => {
  const { pylon, url, writePath } = await startInProcessPylon();
  const sockets = new Map<string, Socket>();
  const outgoing: string[] = [];
  pylon.io.of("/").on("connection", (s) => {
    void s.join("r");
    sockets.set(s.id, s);
    s.onAnyOutgoing((event: string) => outgoing.push(`${s.id}:${event}`));
  });
  const a = await connectClient(url, { transports: ["websocket"] });
  const b = await connectClient(url, { transports: ["websocket"] });
  await waitFor(() => sockets.size === 2);
  const got = { a: [] as unknown[], b: [] as unknown[] };
  a.on("e", (v: unknown) => got.a.push(v));
  b.on("e", (v: unknown) => got.b.push(v));
  b.on("ask", (v: number, ack: (r: number) => void) => ack(v * 2));
  a.on("ask", (v: number, ack: (r: number) => void) => ack(v * 3));

  const fastBefore = writePath.stats.fastWrites;
  pylon.io.to("r").emit("e", 1);
  pylon.io.to("r").except(a.id!).emit("e", 2); // except a room (a socket's own room)
  sockets.get(a.id!)!.broadcast.emit("e", 3); // socket.broadcast = except itself
  pylon.io.emit("e", 4); // whole namespace
  pylon.io.to("r").emit("e", Buffer.from([5])); // binary: no pre-built frame, engine path
  const acks = await pylon.io.to("r").timeout(5000).emitWithAck("ask", 10);
  await waitFor(() => got.a.length === 3 && got.b.length === 5, { message: `a ${got.a.length} b ${got.b.length}` });
  assert.deepEqual(got.a.slice(0, 2), [1, 4]);
  assert.deepEqual(got.b.slice(0, 4), [1, 2, 3, 4]);
  assert.deepEqual([...(acks as number[])].sort(), [20, 30]);
  assert.ok(writePath.stats.fastWrites > fastBefore, "fast path used");
  for (const id of [a.id!, b.id!]) assert.ok(outgoing.includes(`${id}:e`) && outgoing.includes(`${id}:ask`), `onAnyOutgoing for ${id}`);
  assert.equal(outgoing.filter((o) => o === `${a.id}:e`).length, 3, "a notified once per delivery to it");
});

test("session-aware adapter (connection state recovery): packets recorded and recovered through the fast path", async () => {
  const httpServer = createServer();
  const io = new Server(httpServer, { connectionStateRecovery: { maxDisconnectionDuration: 60_000 }, perMessageDeflate: false });
  await new Promise<void>((r) => httpServer.listen(0, "127.0.0.1", r));
  registerCloser(() => new Promise<void>((r) => io.close(() => r())));
  const coalescer = new WriteCoalescer();
  let fast = 0;
  const runtime: FastPathRuntime = { directWrites: true, coalescer, softLimitBytes: 1 << 20, onBroadcast: (_t, f) => (fast += f) };
  attachFastPathRuntime(io, runtime);
  ensureFastPath(io);
  io.on("connection", (s) => void s.join("r"));
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  const client = await connectClient(url, { transports: ["websocket"], reconnection: true, reconnectionDelay: 50 });
  const got: number[] = [];
  client.on("e", (n: number) => got.push(n));
  for (let i = 1; i <= 3; i++) io.to("r").emit("e", i);
  await waitFor(() => got.length === 3);
  assert.ok(fast >= 3, "fast path used with the session-aware adapter");
  // drop the connection; messages emitted meanwhile are recovered on reconnect
  const down = onceEvent(client, "disconnect");
  client.io.engine.close();
  await down;
  for (let i = 4; i <= 6; i++) io.to("r").emit("e", i);
  await onceEvent(client, "connect");
  await waitFor(() => got.length === 6, { message: `recovered ${got.join(",")}` });
  assert.equal(client.recovered, true);
  assert.deepEqual(got, [1, 2, 3, 4, 5, 6]);
  coalescer.close();
});

test("redis adapter: broadcasts from another node are delivered in order through the fast path", async () => {
  const redis = await startRedis();
  const config = { cluster: { redisUrl: redis.url }, log: { level: "warn" } };
  const nodeA = await startPylon({ config });
  const nodeB = await startPylon({ config });
  const receiver = await connectClient(`${nodeA.url}/demo`, { transports: ["websocket"] });
  assert.deepEqual(await emitWithAck(receiver, "join", "r"), { ok: true });
  const publisher = await connectClient(`${nodeB.url}/demo`, { transports: ["websocket"] });
  assert.deepEqual(await emitWithAck(publisher, "join", "r"), { ok: true });
  const got: number[] = [];
  receiver.on("message", (m: { text: string }) => got.push(Number(m.text)));
  const before = metricSum(await scrapeMetrics(nodeA.url), "pylon_outbound_packets_total", { path: "fast" });
  for (let i = 1; i <= 200; i++) publisher.emit("say", { room: "r", text: String(i) });
  await waitFor(() => got.length === 200, { timeoutMs: 20_000, message: `got ${got.length}` });
  assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i + 1));
  const after = metricSum(await scrapeMetrics(nodeA.url), "pylon_outbound_packets_total", { path: "fast" });
  assert.ok(after - before > 0, `remote broadcasts took the fast path on node A (${after - before})`);
  await Promise.all([nodeA.stop(), nodeB.stop()]);
  await redis.stop();
});

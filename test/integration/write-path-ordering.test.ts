/**
 * PERF-NOTES §4: the fast path's ordering guarantee rests on engine.io's "transport writable implies nothing queued".
 * Per-socket emits are mixed into broadcasts (fast path and engine path both in use, bursts coalesced, large
 * messages forcing the engine path) and every client checks a strict per-socket sequence and completeness, over
 * websocket, polling and polling-then-upgrade with the real socket.io-client.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Socket } from "socket.io";
import { connectClient, useCleanup, waitFor, type ClientSocket } from "../helpers/index.js";
import { startInProcessPylon } from "../helpers/write-path.js";

useCleanup();

const SIZE = process.env.PYLON_TEST_SIZE === "full" ? 10 : 1;
const BINARY = Buffer.from([1, 2, 3]);

interface Receiver {
  client: ClientSocket;
  id: string;
  got: number[];
  kind: string;
}

function track(client: ClientSocket, kind: string): Receiver {
  const r: Receiver = { client, id: client.id!, got: [], kind };
  client.on("m", (seq: number) => r.got.push(seq));
  return r;
}

test("strict per-socket order and completeness with emits mixed into broadcasts (websocket, polling, upgrade)", async () => {
  const { pylon, url, writePath } = await startInProcessPylon();
  const serverSockets: Socket[] = [];
  pylon.io.of("/").on("connection", (s) => {
    void s.join("r");
    serverSockets.push(s);
    s.on("disconnect", () => serverSockets.splice(serverSockets.indexOf(s), 1));
  });

  const receivers: Receiver[] = [];
  const perKind = 4;
  for (let i = 0; i < perKind; i++) {
    receivers.push(track(await connectClient(url, { transports: ["websocket"] }), "websocket"));
    receivers.push(track(await connectClient(url, { transports: ["polling"] }), "polling"));
  }
  // upgrade clients: traffic starts while they are still upgrading
  const upgrading = await Promise.all(Array.from({ length: perKind }, () => connectClient(url, { transports: ["polling", "websocket"] })));
  for (const c of upgrading) receivers.push(track(c, "upgrade"));
  await waitFor(() => serverSockets.length === receivers.length, { message: "all sockets joined" });

  const everyone = [...serverSockets]; // checked at the end even if one disconnects (a misordered binary packet does)
  const expected = new Map<string, number[]>(); // server socket id -> seqs sent to it
  for (const s of serverSockets) expected.set(s.id, []);
  const big = "x".repeat(100_000); // large messages keep ws busy so later writes take the engine path
  let seq = 0;
  const rounds = 60 * SIZE;
  for (let round = 0; round < rounds; round++) {
    // a burst within one tick: broadcasts (coalesced), per-socket emits, and the odd large message
    for (let k = 0; k < 12; k++) {
      const n = ++seq;
      if (k % 4 === 2 || k % 4 === 3) {
        // two per-socket binary emits in a row (binary always takes engine.io's path): the second one queues in
        // engine.io's write buffer, and the broadcast after it must not overtake it
        const target = serverSockets[(round + (k >> 2)) % serverSockets.length]!;
        if (k % 4 === 2 || round % 3 === 0) target.emit("m", n, BINARY);
        else target.emit("m", n);
        expected.get(target.id)!.push(n);
      } else if (k === 5 && round % 5 === 0) {
        pylon.io.to("r").emit("m", n, big);
        for (const s of serverSockets) expected.get(s.id)!.push(n);
      } else {
        pylon.io.to("r").emit("m", n);
        for (const s of serverSockets) expected.get(s.id)!.push(n);
      }
    }
    await new Promise((r) => setImmediate(r));
  }

  const byClientId = new Map<string, Receiver>(receivers.map((r) => [r.id, r]));
  for (const s of everyone) {
    const r = byClientId.get(s.id);
    assert.ok(r, `client for ${s.id}`);
    const want = expected.get(s.id)!;
    await waitFor(() => r.got.length >= want.length, { timeoutMs: 30_000, message: `${r.kind} client ${s.id} got ${r.got.length}/${want.length}` });
    assert.deepEqual(r.got, want, `${r.kind} client ${s.id}: strict order and completeness`);
  }
  for (const r of receivers) assert.ok(r.client.connected, `${r.kind} client ${r.id} still connected (a misordered packet closes it)`);
  assert.ok(receivers.filter((r) => r.kind === "upgrade").every((r) => r.client.io.engine.transport.name === "websocket"), "upgrade clients upgraded");
  const stats = writePath.stats;
  assert.ok(stats.fastWrites > 0, `fast path used (${JSON.stringify(stats)})`);
  assert.ok(stats.engineWrites > 0, `engine path used for polling / busy sockets (${JSON.stringify(stats)})`);
});

test("fast path off: same guarantees through socket.io's own loop", async () => {
  const { pylon, url, writePath } = await startInProcessPylon({ flow: { fastPath: false } });
  pylon.io.of("/").on("connection", (s) => void s.join("r"));
  const a = track(await connectClient(url, { transports: ["websocket"] }), "websocket");
  const b = track(await connectClient(url, { transports: ["polling"] }), "polling");
  await waitFor(() => pylon.io.of("/").adapter.rooms.get("r")?.size === 2);
  for (let i = 1; i <= 50; i++) pylon.io.to("r").emit("m", i);
  const want = Array.from({ length: 50 }, (_, i) => i + 1);
  await waitFor(() => a.got.length === 50 && b.got.length === 50, { message: "all received" });
  assert.deepEqual(a.got, want);
  assert.deepEqual(b.got, want);
  assert.equal(writePath.stats.fastWrites, 0);
});

test("polling clients always take the engine path (fast path counter unchanged), websocket clients the fast path", async () => {
  const { pylon, url, writePath } = await startInProcessPylon();
  pylon.io.of("/").on("connection", (s) => void s.join("r"));
  const polling = track(await connectClient(url, { transports: ["polling"] }), "polling");
  await waitFor(() => pylon.io.of("/").adapter.rooms.get("r")?.size === 1);
  const before = writePath.stats;
  for (let i = 1; i <= 20; i++) pylon.io.to("r").emit("m", i);
  await waitFor(() => polling.got.length === 20);
  const mid = writePath.stats;
  assert.equal(mid.fastWrites, before.fastWrites, "no fast write to a polling client");
  assert.equal(mid.engineWrites - before.engineWrites, 20);
  const ws = track(await connectClient(url, { transports: ["websocket"] }), "websocket");
  await waitFor(() => pylon.io.of("/").adapter.rooms.get("r")?.size === 2);
  pylon.io.to("r").emit("m", 21);
  await waitFor(() => ws.got.length === 1 && polling.got.length === 21);
  const after = writePath.stats;
  assert.equal(after.fastWrites - mid.fastWrites, 1, "the idle websocket client got the frame directly");
  assert.equal(after.engineWrites - mid.engineWrites, 1, "the polling client through engine.io");
});

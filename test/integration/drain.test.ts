import { test } from "node:test";
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { createPylon } from "../../src/index.js";
import { connectMany, startPylon, useCleanup, waitFor, withTimeout, type ClientSocket } from "../helpers/index.js";

const cleanup = useCleanup();

const WINDOW_MS = 3000;
const BATCHES = 10;
const GRACE_MS = 300;
const CLIENTS = 200;

interface Record_ {
  socket: ClientSocket;
  at?: number;
  reason?: string;
}

function track(sockets: ClientSocket[]): Record_[] {
  return sockets.map((socket) => {
    const r: Record_ = { socket };
    socket.once("disconnect", (reason) => {
      r.at = performance.now();
      r.reason = reason;
    });
    return r;
  });
}

/** Polls /readyz until it answers 503; resolves with the time the 503 arrived (bounded). */
async function first503(url: string, timeoutMs = 5000): Promise<{ at: number; body: { status: string; checks: Record<string, { ok: boolean }> } }> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const res = await fetch(`${url}/readyz`);
    if (res.status === 503) return { at: performance.now(), body: (await res.json()) as { status: string; checks: Record<string, { ok: boolean }> } };
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("/readyz never turned 503");
}

test(`SIGTERM drains ${CLIENTS} clients: /readyz 503 first, new handshakes refused, disconnects spread over the window, exit 0`, async () => {
  const pylon = await startPylon({
    args: ["--drain.windowMs", String(WINDOW_MS), "--drain.batches", String(BATCHES), "--drain.readyzGraceMs", String(GRACE_MS)],
  });
  cleanup.add(() => pylon.kill());
  assert.equal((await fetch(`${pylon.url}/readyz`)).status, 200);

  const third = Math.floor(CLIENTS / 3);
  const sockets = [
    ...(await connectMany(third, `${pylon.url}/demo`, { transports: ["websocket"] })),
    ...(await connectMany(third, `${pylon.url}/demo`, { transports: ["polling"], upgrade: false })),
    ...(await connectMany(CLIENTS - 2 * third, `${pylon.url}/demo`)),
  ];
  assert.equal(sockets.length, CLIENTS);
  assert.ok(sockets.every((s) => s.connected && s.io.opts.reconnection === false));
  const records = track(sockets);

  const sigtermAt = performance.now();
  pylon.kill("SIGTERM");
  const ready = await first503(pylon.url);
  assert.equal(ready.body.status, "not_ready");
  assert.equal(ready.body.checks.draining?.ok, false);

  // new handshakes are refused while draining (Engine.IO 403 with the documented code)
  const refused = await fetch(`${pylon.url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(refused.status, 403);
  assert.deepEqual(await refused.json(), { code: 4, message: "draining" });

  await waitFor(() => records.every((r) => r.at !== undefined), {
    timeoutMs: GRACE_MS + WINDOW_MS + 10_000,
    intervalMs: 20,
    message: `all ${CLIENTS} clients disconnected (${records.filter((r) => r.at !== undefined).length} so far)`,
  });
  const exit = await withTimeout(pylon.exited, 15_000, "pylon exit after drain");
  assert.deepEqual(exit, { code: 0, signal: null });

  const times = records.map((r) => r.at!).sort((a, b) => a - b);
  const firstDisconnect = times[0]!;
  const lastDisconnect = times.at(-1)!;
  // readiness turned 503 before anyone was disconnected
  assert.ok(ready.at < firstDisconnect, `/readyz 503 at +${(ready.at - sigtermAt).toFixed(0)} ms, first disconnect at +${(firstDisconnect - sigtermAt).toFixed(0)} ms`);
  // everyone was disconnected by the server (engine close), none of them by itself
  const reasons = new Set(records.map((r) => r.reason));
  assert.ok([...reasons].every((r) => r === "transport close"), `disconnect reasons: ${[...reasons].join(", ")}`);
  // all within the window (+ generous slack for a loaded machine)
  assert.ok(lastDisconnect - sigtermAt <= GRACE_MS + WINDOW_MS + 5000, `last disconnect at +${(lastDisconnect - sigtermAt).toFixed(0)} ms`);
  // spread: not all in the first 10% of the window, and in at least 5 distinct batches (batch period = window/batches)
  const spread = lastDisconnect - firstDisconnect;
  assert.ok(spread > WINDOW_MS * 0.1, `disconnects spread over ${spread.toFixed(0)} ms only`);
  const period = WINDOW_MS / BATCHES;
  const slots = new Set(times.map((t) => Math.round((t - firstDisconnect) / period)));
  assert.ok(slots.size >= 5, `disconnects fell in ${slots.size} distinct batch slots`);
  // no single slot took half of the clients
  const perSlot = new Map<number, number>();
  for (const t of times) {
    const k = Math.round((t - firstDisconnect) / period);
    perSlot.set(k, (perSlot.get(k) ?? 0) + 1);
  }
  assert.ok(Math.max(...perSlot.values()) < CLIENTS / 2, `batch sizes ${JSON.stringify([...perSlot])}`);
});

test("pylon.drain() through the library API: readyz 503, clients disconnected in batches, closed; close() idempotent", async () => {
  const pylon = createPylon({
    server: { port: 0, host: "127.0.0.1", demo: false },
    drain: { windowMs: 1000, batches: 5, readyzGraceMs: 500 },
    log: { level: "silent" },
  });
  cleanup.add(() => pylon.close());
  const { url } = await pylon.start();
  assert.equal(pylon.state, "running");
  const sockets = await connectMany(20, url, { transports: ["websocket"] });
  const records = track(sockets);

  const draining = pylon.drain();
  assert.equal(pylon.state, "draining");
  assert.equal(pylon.drain(), draining, "drain() is idempotent (same promise)");
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 503);
  const readyAt = performance.now();
  await withTimeout(draining, 10_000, "pylon.drain()");
  assert.equal(pylon.state, "closed");
  await waitFor(() => records.every((r) => r.at !== undefined), { message: "all library clients disconnected" });
  const times = records.map((r) => r.at!).sort((a, b) => a - b);
  assert.ok(readyAt < times[0]!, "503 before the first disconnect");
  assert.ok(new Set(times.map((t) => Math.round((t - times[0]!) / 200))).size >= 3, "spread over batches");
  await pylon.close();
  await pylon.close();
  await assert.rejects(fetch(`${url}/healthz`));
});

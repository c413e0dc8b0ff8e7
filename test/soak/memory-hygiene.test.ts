/**
 * Memory hygiene (issue 7): connect / join 3 rooms / emit / disconnect, many times, over websocket then polling.
 * Afterwards the server's heap (after forced GC) is within +10 MB of its baseline and every internal map is empty:
 * engine.io clients, namespace sockets, adapter rooms and sids, and every module's internalSizes().
 * The server is a child process with --expose-gc (test/soak/fixtures/hygiene-server.ts: the `pylon serve` modules
 * plus a test-only /__hygiene route). Modest size in `npm test`; PYLON_TEST_SIZE=full (`npm run test:soak`):
 * 100,000 websocket cycles and a polling repeat. Prints `soak-memory-hygiene: cycles=N heapDeltaMB=X`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { io, type Socket } from "socket.io-client";
import { REPO_ROOT, spawnTracked, useCleanup, waitFor } from "../helpers/index.js";

const cleanup = useCleanup();

const FULL = process.env.PYLON_TEST_SIZE === "full";
const WS_CYCLES = Number(process.env.PYLON_SOAK_WS_CYCLES ?? (FULL ? 100_000 : 2_000));
const POLLING_CYCLES = Number(process.env.PYLON_SOAK_POLLING_CYCLES ?? (FULL ? 100_000 : 600));
const WARMUP_CYCLES = 200;
const HEAP_BOUND_MB = 10;
const MAX_RUN_MS = FULL ? 7_200_000 : 240_000;

interface Hygiene {
  heapUsed: number;
  rss: number;
  maps: Record<string, number>;
  withoutSizes: string[];
}

async function hygiene(url: string, gc = true): Promise<Hygiene> {
  const res = await fetch(`${url}/__hygiene${gc ? "" : "?gc=0"}`);
  assert.equal(res.status, 200);
  return (await res.json()) as Hygiene;
}

function once(socket: Socket, event: string, timeoutMs = 10_000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, on);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (...args: unknown[]): void => {
      clearTimeout(timer);
      resolve(args);
    };
    socket.once(event, on);
  });
}

/** One cycle: connect, join 3 rooms, say to one (and receive it), echo with ack, disconnect. */
async function cycle(url: string, transport: "websocket" | "polling", i: number): Promise<void> {
  const socket = io(`${url}/demo`, { forceNew: true, reconnection: false, transports: [transport], timeout: 10_000 });
  try {
    const connected = once(socket, "connect");
    const failed = once(socket, "connect_error").then(([err]) => Promise.reject(err as Error));
    failed.catch(() => undefined);
    await Promise.race([connected, failed]);
    const rooms = [`r${i % 7}`, `s${i % 11}`, `t-${i}`];
    for (const room of rooms) {
      const res = await socket.timeout(10_000).emitWithAck("join", room);
      assert.deepEqual(res, { ok: true });
    }
    const got = once(socket, "message");
    socket.emit("say", { room: rooms[2], text: `hello ${i}` });
    await got;
    const echoed = await socket.timeout(10_000).emitWithAck("echo", { i });
    assert.deepEqual(echoed, { i });
  } finally {
    socket.disconnect();
  }
}

async function runCycles(url: string, transport: "websocket" | "polling", n: number, concurrency: number, deadline: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      if (Date.now() > deadline) throw new Error(`memory hygiene: ${transport} cycles did not finish in time (${next}/${n})`);
      await cycle(url, transport, next++);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

function nonEmpty(maps: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(maps).filter(([, v]) => v !== 0));
}

test(`memory hygiene: ${WS_CYCLES} websocket + ${POLLING_CYCLES} polling connect/join(3)/emit/disconnect cycles; heap within +${HEAP_BOUND_MB} MB, maps empty`, async () => {
  const deadline = Date.now() + MAX_RUN_MS;
  const config = { log: { level: "warn" }, server: { port: 0, host: "127.0.0.1" } };
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_TEST_CONTEXT" && k !== "NODE_OPTIONS" && !(k.startsWith("PYLON_") && !k.startsWith("PYLON_TEST_"))));
  const child = spawnTracked(
    process.execPath,
    ["--expose-gc", "--import", "tsx", join(REPO_ROOT, "test/soak/fixtures/hygiene-server.ts"), JSON.stringify(config)],
    "hygiene-server",
    { cwd: REPO_ROOT, env },
  );
  cleanup.add(() => child.stop("SIGKILL"));
  const port = await waitFor(() => /hygiene-server ready (\d+)/.exec(child.stdout())?.[1], {
    timeoutMs: 30_000,
    message: `hygiene server ready (stderr: ${child.stderr().slice(-500)})`,
  });
  const url = `http://127.0.0.1:${port}`;

  // warm up (JIT, pools, lazily created module state), then the baseline
  await runCycles(url, "websocket", WARMUP_CYCLES, 20, deadline);
  await runCycles(url, "polling", 50, 10, deadline);
  await waitFor(async () => (await hygiene(url, false)).maps["engine.clients"] === 0, { timeoutMs: 30_000, message: "warm-up clients gone" });
  const baseline = await hygiene(url);
  assert.deepEqual(nonEmpty(baseline.maps), {}, "maps empty after warm-up");

  const phases: { transport: "websocket" | "polling"; cycles: number; concurrency: number }[] = [
    { transport: "websocket", cycles: WS_CYCLES, concurrency: 50 },
    { transport: "polling", cycles: POLLING_CYCLES, concurrency: 20 },
  ];
  let total = 0;
  let after = baseline;
  for (const phase of phases) {
    const started = Date.now();
    await runCycles(url, phase.transport, phase.cycles, phase.concurrency, deadline);
    total += phase.cycles;
    // every disconnect reaches the server (polling clients: their close request, or the ping timeout at worst)
    await waitFor(async () => Object.keys(nonEmpty((await hygiene(url, false)).maps)).length === 0, {
      timeoutMs: 60_000,
      intervalMs: 250,
      message: `maps empty after ${phase.transport} cycles`,
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(nonEmpty((await hygiene(url, false)).maps))}`);
    });
    after = await hygiene(url);
    const deltaMB = (after.heapUsed - baseline.heapUsed) / 1024 / 1024;
    console.log(
      `soak-memory-hygiene-phase: transport=${phase.transport} cycles=${phase.cycles} seconds=${((Date.now() - started) / 1000).toFixed(1)} heapDeltaMB=${deltaMB.toFixed(2)}`,
    );
    assert.deepEqual(nonEmpty(after.maps), {}, `every internal map empty after ${phase.transport} cycles`);
    assert.ok(deltaMB <= HEAP_BOUND_MB, `heap after ${phase.transport} cycles within +${HEAP_BOUND_MB} MB of baseline: +${deltaMB.toFixed(2)} MB`);
  }
  const heapDeltaMB = (after.heapUsed - baseline.heapUsed) / 1024 / 1024;
  console.log(`soak-memory-hygiene: cycles=${total} heapDeltaMB=${heapDeltaMB.toFixed(2)}`);
  if (after.withoutSizes.length > 0) console.log(`memory hygiene: modules without internalSizes(): ${after.withoutSizes.join(", ")}`);
  // the map keys the test saw, so a reader knows what "every map" covered
  assert.ok(Object.keys(after.maps).includes("nsp(/demo).adapter.rooms"), `adapter rooms checked: ${Object.keys(after.maps).join(", ")}`);
});

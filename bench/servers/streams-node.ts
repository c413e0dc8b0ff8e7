// A Pylon node for the streams bench: the delivery module plus two bench-only events on "/":
//   bench:join(room, ack)                      joins a plain Socket.IO room (the io.to(room).emit baseline)
//   bench:run({ mode, name, count, rate }, ack) publishes `count` messages: mode "emit" = io.to(name).emit("bench:m",
//     {i, ts}); mode "stream" = pylon.stream(name).publish("m", {i, ts}) (64 in flight). rate 0 = as fast as possible.
//     ts = the machine's monotonic clock in ms with sub-ms resolution (process.hrtime: CLOCK_MONOTONIC, one clock for
//     every process of the host): the bench receivers run on the same machine and subtract it from the same clock.
//     Not performance.timeOrigin + now(): each process fixes its timeOrigin from the wall clock at start, and the bench
//     process, started 25 minutes earlier in a full run, drifted a few ms from a fresh server (latencies came out
//     negative and were clamped to 1 us). (The stream message's own meta.ts is the server's Date.now(), whole ms.)
// Usage: node streams-node.js <port> <host> [redisUrl] [nodeId]
import { createPylon } from "../../src/server/pylon.js";
import { StreamsModule } from "../../src/delivery/streams-module.js";
import { ClusterModule } from "../../src/cluster/cluster-module.js";
import { monotonicMs } from "../../src/load/text.js";

const port = Number(process.argv[2] ?? 3000);
const host = process.argv[3] ?? "127.0.0.1";
const redisUrl = process.argv[4] ?? "";
const nodeId = process.argv[5] ?? "";
const streams = new StreamsModule();
const pylon = createPylon(
  {
    server: { port, host, demo: false },
    log: { level: "info" },
    cluster: redisUrl ? { redisUrl, nodeId } : { nodeId },
    delivery: { maxCount: 100_000 },
  },
  { modules: [new ClusterModule(), streams] },
);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

pylon.io.of("/").on("connection", (socket) => {
  socket.on("bench:join", (room: string, ack: () => void) => {
    void socket.join(room);
    ack();
  });
  socket.on("bench:run", async (o: { mode: "emit" | "stream"; name: string; count: number; rate: number }, ack: (r: unknown) => void) => {
    const t0 = performance.now();
    const gap = o.rate > 0 ? 1000 / o.rate : 0;
    if (o.mode === "emit") {
      for (let i = 0; i < o.count; i++) {
        pylon.io.to(o.name).emit("bench:m", { i, ts: monotonicMs() });
        if (gap) await sleep(gap);
        else if (i % 64 === 63) await new Promise((r) => setImmediate(r));
      }
    } else {
      const handle = pylon.stream(o.name);
      let next = 0;
      const worker = async (): Promise<void> => {
        for (;;) {
          const i = next++;
          if (i >= o.count) return;
          await handle.publish("m", { i, ts: monotonicMs() });
          if (gap) await sleep(gap);
        }
      };
      await Promise.all(Array.from({ length: gap ? 1 : 64 }, worker));
    }
    ack({ ms: performance.now() - t0 });
  });
});

await pylon.start();
process.once("SIGTERM", () => void pylon.close().then(() => process.exit(0)));

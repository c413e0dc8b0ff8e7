// SDK reconnection when a connect attempt is never answered (regression: in the Redis fault suite a polling client sat
// with an open transport and a namespace CONNECT that got no answer; socket.io-client waits for that answer forever, so
// the client never reconnected, lost every later message and its commands hit their deadlines).
// A real Pylon server whose "/" namespace leaves the first CONNECTs unanswered stands in for the lost answer.
// Also covered (these paths already worked): refused handshakes (connect_error) and `io server disconnect`, on which
// socket.io-client itself never reconnects.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Socket } from "socket.io";
import { createPylon } from "../../src/server/pylon.js";
import type { PylonContext, PylonModule } from "../../src/server/module.js";
import { StreamsModule } from "../../src/delivery/streams-module.js";
import { PylonClient } from "../../src/client/index.js";
import { useCleanup, waitFor } from "../helpers/index.js";

const cleanup = useCleanup();

/** Leaves the first `count` namespace handshakes unanswered (their transport stays open and answers pings). */
function swallowHandshakes(count: number): PylonModule & { swallowed: () => number } {
  let swallowed = 0;
  return {
    name: "swallow-handshakes",
    swallowed: () => swallowed,
    setup(ctx: PylonContext): void {
      ctx.io.of("/").use((_socket: Socket, next: (err?: Error) => void) => {
        if (swallowed < count) {
          swallowed++;
          return; // next() is never called: socket.io sends no CONNECT answer
        }
        next();
      });
    },
  };
}

async function startServer(swallow: number): Promise<{ streams: StreamsModule; url: string; swallowed: () => number }> {
  const streams = new StreamsModule();
  const hole = swallowHandshakes(swallow);
  const pylon = createPylon({ server: { port: 0, host: "127.0.0.1", demo: false }, log: { level: "warn" }, delivery: {} }, { modules: [hole, streams] });
  const { url } = await pylon.start();
  cleanup.add(() => pylon.close());
  return { streams, url, swallowed: hole.swallowed };
}

/** Refuses the first `count` namespace handshakes (CONNECT_ERROR) and disconnects every socket `kickAfterMs` after its connect, once. */
function refuseAndKick(count: number): PylonModule & { refused: () => number; kicked: () => number } {
  let refused = 0;
  let kicked = 0;
  return {
    name: "refuse-and-kick",
    refused: () => refused,
    kicked: () => kicked,
    setup(ctx: PylonContext): void {
      ctx.io.of("/").use((_socket: Socket, next: (err?: Error) => void) => {
        if (refused < count) {
          refused++;
          return next(new Error("not now"));
        }
        next();
      });
      ctx.io.of("/").on("connection", (socket: Socket) => {
        if (kicked > 0) return;
        kicked++;
        setTimeout(() => socket.disconnect(true), 50);
      });
    },
  };
}

describe("SDK reconnection", () => {
  it("reconnects after refused handshakes (connect_error) and after a server-side disconnect (io server disconnect)", async () => {
    const streams = new StreamsModule();
    const mod = refuseAndKick(2);
    const pylon = createPylon({ server: { port: 0, host: "127.0.0.1", demo: false }, log: { level: "warn" }, delivery: {} }, { modules: [mod, streams] });
    const { url } = await pylon.start();
    cleanup.add(() => pylon.close());
    const c = new PylonClient(url, { socket: { transports: ["websocket"] }, backoff: { baseMs: 50, maxMs: 200 } });
    cleanup.add(() => c.close());
    const reasons: string[] = [];
    c.on("disconnect", (r) => reasons.push(r));
    await waitFor(() => c.stats.reconnects >= 1 && c.connected, { timeoutMs: 10_000, message: "the client is connected again after the server disconnected it" });
    assert.equal(mod.refused(), 2, "two handshakes were refused");
    assert.deepEqual(reasons, ["io server disconnect"]);
  });


  for (const transport of ["polling", "websocket"] as const) {
    it(`an unanswered namespace handshake is dropped and retried (${transport})`, async () => {
      const { streams, url, swallowed } = await startServer(2);
      const c = new PylonClient(url, { socket: { transports: [transport] }, backoff: { baseMs: 50, maxMs: 200 }, handshakeTimeoutMs: 400 });
      cleanup.add(() => c.close());
      const errors: string[] = [];
      c.on("connect_error", (err) => errors.push(err.message));
      const got: number[] = [];
      c.subscribe("sdk.rc", (_data, meta) => got.push(meta.seq), { after: 0 });
      await waitFor(() => c.connected, { timeoutMs: 10_000, message: "the client connects after two unanswered handshakes" });
      assert.equal(swallowed(), 2, "two handshakes went unanswered");
      assert.equal(errors.filter((m) => /handshake timeout/.test(m)).length, 2, `one connect_error per unanswered handshake: ${errors.join("; ")}`);
      await streams.stream("sdk.rc").publish("m", { n: 1 });
      await waitFor(() => got.length === 1, { timeoutMs: 5000, message: "the message published after the connect arrives" });
      assert.deepEqual(got, [1]);
    });
  }
});

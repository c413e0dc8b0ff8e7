// Commands across a lost transport (regression: the memory fault suite hung in its command phase).
// - a retry of a command still running on the node gets the first outcome when it completes (not `accepted`);
// - a command waiting out its backoff when the client is closed and reconnected settles after the reconnect
//   (close() used to drop the backoff timer, so command() never settled, not even at its deadline).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPylon } from "../../src/server/pylon.js";
import { StreamsModule } from "../../src/delivery/streams-module.js";
import { PylonClient } from "../../src/client/index.js";
import { onceEvent, scrapeMetrics, useCleanup, waitFor } from "../helpers/index.js";

const cleanup = useCleanup();

async function startServer(): Promise<{ streams: StreamsModule; url: string }> {
  const streams = new StreamsModule();
  const pylon = createPylon({ server: { port: 0, host: "127.0.0.1", demo: false }, log: { level: "warn" }, delivery: {} }, { modules: [streams] });
  const { url } = await pylon.start();
  cleanup.add(() => pylon.close());
  return { streams, url };
}

/** A command handler that blocks until open() is called; counts its effects. */
function gatedEffect(streams: StreamsModule): { effects: () => number; started: () => boolean; open: () => void } {
  let effects = 0;
  let started = false;
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  streams.command("gated.effect", async (payload) => {
    started = true;
    await gate;
    effects++;
    return { effects, payload };
  });
  return { effects: () => effects, started: () => started, open };
}

/** Settles a promise into a value readable by waitFor. */
function track<T>(p: Promise<T>): { done: () => boolean; value: () => T; error: () => unknown } {
  let state: { v: T } | { e: unknown } | undefined;
  p.then(
    (v) => (state = { v }),
    (e: unknown) => (state = { e }),
  );
  return {
    done: () => state !== undefined,
    value: () => {
      if (!state || !("v" in state)) throw new Error(`command did not succeed: ${state && "e" in state ? String((state.e as Error)?.message ?? state.e) : "pending"}`);
      return state.v;
    },
    error: () => (state && "e" in state ? state.e : undefined),
  };
}

describe("commands across a lost transport", () => {
  it("a retry of a command still running gets the first outcome when it completes (transport closed before the ack)", async () => {
    const { streams, url } = await startServer();
    const g = gatedEffect(streams);
    // the ack wait (20 s) is far beyond the deadline (10 s): the command settles within its deadline only if the retry
    // after the reconnect is answered with the first outcome, not with `accepted` followed by a wait and a later retry
    const c = new PylonClient(url, { socket: { transports: ["websocket"] }, backoff: { baseMs: 50, maxMs: 200 }, ackTimeoutMs: 20_000 });
    cleanup.add(() => c.close());
    await onceEvent(c, "connect");
    const cmd = track(c.command("gated.effect", { n: 1 }, { key: "gated-key-0001", deadlineMs: 10_000 }));
    await waitFor(g.started, { message: "the handler runs" });
    // the transport goes away before the ack: the ack of the first attempt is lost
    const reconnected = onceEvent(c, "connect", 10_000);
    (c.socket.io.engine as unknown as { close(): void }).close();
    await reconnected;
    // the retry reached the node while the first attempt still runs
    await waitFor(async () => ((await scrapeMetrics(`${url}/metrics`)).get('pylon_commands_total{outcome="running"}') ?? 0) >= 1, {
      timeoutMs: 10_000,
      message: "the retry arrived while the command runs",
    });
    g.open();
    await waitFor(cmd.done, { timeoutMs: 15_000, message: "the command settles" });
    assert.deepEqual(cmd.value(), { effects: 1, payload: { n: 1 } });
    assert.equal(g.effects(), 1, "exactly one effect");
    assert.equal(c.stats.commandRetries, 1, "one retry, answered with the first outcome");
  });

  it("a command in its backoff when the client is closed and reconnected settles after the reconnect", async () => {
    const { streams, url } = await startServer();
    const g = gatedEffect(streams);
    // short ack timeout, very long backoff: after the first ack timeout the command is in a long backoff pause
    const c = new PylonClient(url, { socket: { transports: ["websocket"] }, backoff: { baseMs: 60_000, maxMs: 60_000 }, ackTimeoutMs: 300 });
    cleanup.add(() => c.close());
    await onceEvent(c, "connect");
    const cmd = track(c.command("gated.effect", { n: 2 }, { key: "gated-key-0002", deadlineMs: 120_000 }));
    await waitFor(g.started, { message: "the handler runs" });
    // the first ack timed out (socket.io-client drops the pending ack then): the command now backs off
    const acks = (c.socket as unknown as { acks: Record<string, unknown> }).acks;
    await waitFor(() => Object.keys(acks).length === 0, { timeoutMs: 10_000, message: "the first ack timed out" });
    g.open();
    // page-navigation-like disruption: close, then connect again
    c.close();
    const reconnected = onceEvent(c, "connect", 10_000);
    c.connect();
    await reconnected;
    await waitFor(cmd.done, { timeoutMs: 15_000, message: "the command settles after the reconnect (not after its backoff)" });
    assert.deepEqual(cmd.value(), { effects: 1, payload: { n: 2 } });
    assert.equal(g.effects(), 1, "exactly one effect");
  });
});

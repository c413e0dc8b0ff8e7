// The inbound event pipeline (src/server/event-pipeline.ts) on a real socket.io server with the official client:
// stage order, one middleware per socket, refusal, hold/resume in order, one ack wrap with hooks called once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type Socket } from "socket.io";
import { EventPipeline, type InboundEvent } from "../../src/server/event-pipeline.js";
import { connectClient, useCleanup, waitFor } from "../helpers/index.js";

const cleanup = useCleanup();

async function serve(pipeline: EventPipeline): Promise<{ io: Server; url: string }> {
  const http = createServer();
  const io = new Server(http);
  pipeline.install(io, [io.of("/")]);
  cleanup.add(() => new Promise<void>((r) => io.close(() => r())));
  cleanup.add(() => pipeline.close());
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  return { io, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

test("stages run in order in ONE socket middleware; a refusal stops the event; acks are wrapped once", async () => {
  const pipeline = new EventPipeline();
  const seen: string[] = [];
  const acked: string[] = [];
  pipeline.add({
    name: "second",
    order: 100,
    forNamespace: () => ({
      onEvent(_s, ev) {
        seen.push(`second:${String(ev.name)}`);
        if (ev.name === "forbidden") {
          ev.ack?.({ error: { code: "forbidden" } });
          return false;
        }
        return true;
      },
      onAck(_s, ev) {
        acked.push(`second:${String(ev.name)}`);
      },
    }),
  });
  pipeline.add({
    name: "first",
    order: 0,
    forNamespace: () => ({
      attach: () => ({ count: 0 }),
      onEvent(_s, ev) {
        (ev.state as { count: number }).count++;
        seen.push(`first:${String(ev.name)}:${(ev.state as { count: number }).count}`);
        return true;
      },
      onAck(_s, ev) {
        assert.ok(ev.ackedAt >= ev.receivedAt);
        acked.push(`first:${String(ev.name)}`);
      },
    }),
  });
  assert.deepEqual(pipeline.stageNames, ["first", "second"]);
  const { io, url } = await serve(pipeline);
  let middlewares = -1;
  io.on("connection", (socket: Socket) => {
    middlewares = (socket as unknown as { fns: unknown[] }).fns.length;
    socket.on("echo", (x: unknown, ack: (r: unknown) => void) => {
      ack(x);
      ack("again"); // socket.io sends one ack; the hooks run once too
    });
  });
  const client = await connectClient(url, { transports: ["websocket"] });
  assert.equal(await client.emitWithAck("echo", 1), 1);
  assert.deepEqual(await client.emitWithAck("forbidden", 2), { error: { code: "forbidden" } });
  client.emit("echo-no-ack", 3);
  await waitFor(() => seen.length === 6, { message: "6 stage calls" });
  assert.equal(middlewares, 1, "one socket.use entry for all stages");
  assert.deepEqual(seen, ["first:echo:1", "second:echo", "first:forbidden:2", "second:forbidden", "first:echo-no-ack:3", "second:echo-no-ack"]);
  assert.deepEqual(acked, ["first:echo", "second:echo", "first:forbidden", "second:forbidden"], "each ack hook once per acked event");
  client.disconnect();
});

test("a held event waits, later events of the socket queue behind it, and resume() keeps their order", async () => {
  const pipeline = new EventPipeline();
  const held: InboundEvent[] = [];
  let holding = true;
  pipeline.add({
    name: "gate",
    order: 0,
    forNamespace: () => ({
      onEvent(_s, ev) {
        if (!holding && held.length === 0) return true;
        held.push(ev);
        ev.hold();
        return false;
      },
    }),
  });
  const after: string[] = [];
  pipeline.add({ name: "after", order: 1, forNamespace: () => ({ onEvent: (_s, ev) => (after.push(String(ev.name)), true) }) });
  const { io, url } = await serve(pipeline);
  const handled: string[] = [];
  // (not onAny: socket.io calls onAny listeners before any middleware)
  io.on("connection", (socket: Socket) => {
    for (const name of ["a", "b", "c", "d"]) socket.on(name, () => handled.push(name));
  });
  const client = await connectClient(url, { transports: ["websocket"] });
  for (const name of ["a", "b", "c"]) client.emit(name);
  await waitFor(() => held.length === 3, { message: "3 held" });
  assert.deepEqual(handled, [], "nothing reaches a handler while held");
  holding = false;
  for (const ev of held.splice(0)) ev.resume();
  client.emit("d");
  await waitFor(() => handled.length === 4, { message: "4 handled" });
  assert.deepEqual(handled, ["a", "b", "c", "d"]);
  assert.deepEqual(after, ["a", "b", "c", "d"], "a resumed event continues with the next stage");
  client.disconnect();
});

test("a namespace where no stage applies gets no middleware at all", async () => {
  const pipeline = new EventPipeline();
  pipeline.add({ name: "only-chat", order: 0, forNamespace: (nsp) => (nsp.name === "/chat" ? { onEvent: () => true } : undefined) });
  const { io, url } = await serve(pipeline);
  const counts: Record<string, number> = {};
  for (const name of ["/", "/chat"]) io.of(name).on("connection", (s: Socket) => (counts[name] = (s as unknown as { fns: unknown[] }).fns.length));
  const a = await connectClient(url, { transports: ["websocket"] });
  const b = await connectClient(`${url}/chat`, { transports: ["websocket"] });
  await waitFor(() => Object.keys(counts).length === 2, { message: "both connected" });
  assert.deepEqual(counts, { "/": 0, "/chat": 1 });
  a.disconnect();
  b.disconnect();
});

test("direct path: handlers run in the stages' tick while the pipeline is the only middleware; an onAny listener or an application socket.use brings socket.io's onevent and dispatch back", async () => {
  const pipeline = new EventPipeline();
  const order: string[] = [];
  pipeline.add({
    name: "tick-probe",
    order: 0,
    forNamespace: () => ({
      onEvent(_s, ev) {
        order.push(`stage:${String(ev.name)}`);
        process.nextTick(() => order.push(`tick:${String(ev.name)}`));
        return true;
      },
    }),
  });
  const { io, url } = await serve(pipeline);
  io.on("connection", (socket: Socket) => {
    socket.on("plain", (ack: (v: string) => void) => {
      order.push("handler:plain");
      ack("ok");
    });
    socket.on("later", (ack: (v: string) => void) => {
      order.push("handler:later");
      ack("ok");
    });
    socket.on("add-mw", (ack: (v: string) => void) => {
      socket.use((packet, next) => {
        order.push(`app:${String(packet[0])}`);
        next();
      });
      ack("ok");
    });
  });
  const client = await connectClient(url, { transports: ["websocket"] });
  assert.equal(await client.emitWithAck("plain"), "ok");
  assert.deepEqual(order.splice(0), ["stage:plain", "handler:plain", "tick:plain"], "direct: no extra tick before the handler");
  // an onAny listener: socket.io's onevent calls it first (with socket.io's ack function), then its dispatch
  const [server] = io.of("/").sockets.values();
  const any = (name: string): void => void order.push(`any:${name}`);
  server!.onAny(any);
  assert.equal(await client.emitWithAck("plain"), "ok");
  assert.deepEqual(order.splice(0), ["any:plain", "stage:plain", "tick:plain", "handler:plain"], "onAny: socket.io's onevent and dispatch");
  server!.offAny(any);
  assert.equal(await client.emitWithAck("plain"), "ok");
  assert.deepEqual(order.splice(0), ["stage:plain", "handler:plain", "tick:plain"], "direct again once the onAny listener is gone");
  assert.equal(await client.emitWithAck("add-mw"), "ok");
  order.length = 0;
  assert.equal(await client.emitWithAck("later"), "ok");
  assert.deepEqual(order.splice(0), ["stage:later", "app:later", "tick:later", "handler:later"], "socket.io's dispatch: pipeline, then the app's middleware, then the handler on a later tick");
  client.disconnect();
});

test("direct path acks: plain JSON built by Pylon, binary and non-plain values through socket.io's encoder; once only", async () => {
  const pipeline = new EventPipeline();
  const hooks: string[] = [];
  pipeline.add({ name: "acks", order: 0, forNamespace: () => ({ onEvent: () => true, onAck: (_s, ev) => void hooks.push(String(ev.name)) }) });
  const { io, url } = await serve(pipeline);
  const nsp = io.of("/acks"); // the pipeline watches new namespaces
  nsp.on("connection", (socket: Socket) => {
    socket.on("plain", (ack: (...a: unknown[]) => void) => {
      ack({ a: [1, "é", null] }, 2);
      ack("twice"); // ignored, like socket.io's
    });
    socket.on("none", (ack: () => void) => ack());
    socket.on("binary", (ack: (b: Buffer) => void) => ack(Buffer.from([1, 2, 3])));
    socket.on("date", (ack: (d: Date) => void) => ack(new Date(0)));
  });
  const client = await connectClient(`${url}/acks`, { transports: ["websocket"] });
  const call = (event: string): Promise<unknown[]> => new Promise((resolve) => client.emit(event, (...res: unknown[]) => resolve(res)));
  assert.deepEqual(await call("plain"), [{ a: [1, "é", null] }, 2]);
  assert.deepEqual(await call("none"), []);
  const [bin] = await call("binary");
  assert.deepEqual([...new Uint8Array(bin as ArrayBuffer)], [1, 2, 3], "a binary ack arrives as binary");
  assert.deepEqual(await call("date"), ["1970-01-01T00:00:00.000Z"]);
  assert.deepEqual(hooks, ["plain", "none", "binary", "date"], "ack hooks once per event");
  client.disconnect();
});

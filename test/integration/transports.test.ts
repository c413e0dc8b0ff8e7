import { test, before } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import WebSocket from "ws";
import {
  connectClient,
  emitWithAck,
  metricSum,
  onceEvent,
  scrapeMetrics,
  startPylon,
  transportName,
  useCleanup,
  waitFor,
  withTimeout,
  type ClientSocket,
  type ClientOptions,
  type PylonProcess,
} from "../helpers/index.js";

const cleanup = useCleanup();

let pylon: PylonProcess;

before(async () => {
  pylon = await startPylon({ args: ["--engine.allowEIO3", "true"] });
  cleanup.add(() => pylon.kill());
});

const PAYLOAD = {
  text: "héllo ✓",
  n: 42.5,
  flags: [true, false, null],
  nested: { deep: { list: [1, "two", { three: 3 }] }, empty: {}, emptyList: [] },
};

function toBytes(v: unknown): number[] {
  if (Buffer.isBuffer(v)) return [...v];
  if (v instanceof ArrayBuffer) return [...new Uint8Array(v)];
  if (ArrayBuffer.isView(v)) return [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)];
  throw new Error(`not binary: ${typeof v}`);
}

async function exerciseDemo(
  url: string,
  opts: ClientOptions,
  expectTransport: string,
  settle: (s: ClientSocket) => Promise<void> = async () => undefined,
): Promise<{ a: ClientSocket; b: ClientSocket }> {
  const a = await connectClient(`${url}/demo`, opts);
  const b = await connectClient(`${url}/demo`, opts);
  await Promise.all([settle(a), settle(b)]);

  // echo with ack: a nested JSON payload and a binary one come back unchanged
  assert.deepEqual(await emitWithAck(a, "echo", PAYLOAD), PAYLOAD);
  const bin = Buffer.from([0, 1, 2, 253, 254, 255]);
  const echoed = (await emitWithAck(a, "echo", { label: "bin", data: bin, list: [bin] })) as { label: string; data: unknown; list: unknown[] };
  assert.equal(echoed.label, "bin");
  assert.deepEqual(toBytes(echoed.data), [...bin]);
  assert.deepEqual(toBytes(echoed.list[0]), [...bin]);

  // rooms: both join, a says, b (and a) receive; a client outside the room does not
  const room = `room-${expectTransport}-${Math.random().toString(36).slice(2, 8)}`;
  assert.deepEqual(await emitWithAck(a, "join", room), { ok: true });
  assert.deepEqual(await emitWithAck(b, "join", room), { ok: true });
  const outsider = await connectClient(`${url}/demo`, opts);
  await settle(outsider);
  let outsiderGot = 0;
  outsider.on("message", () => outsiderGot++);
  const arrived = onceEvent<[{ room: string; text: string; from: string }]>(b, "message");
  a.emit("say", { room, text: "hello room" });
  const [msg] = await arrived;
  assert.deepEqual(msg, { room, text: "hello room", from: a.id });
  // the outsider is checked after a round trip on its own connection, which is ordered after the broadcast
  await emitWithAck(outsider, "echo", 1);
  assert.equal(outsiderGot, 0);
  outsider.disconnect();

  assert.equal(transportName(a), expectTransport);
  assert.equal(transportName(b), expectTransport);
  return { a, b };
}

async function disconnectAndCheck(a: ClientSocket, b: ClientSocket): Promise<void> {
  const reason = onceEvent<[string]>(a, "disconnect");
  a.disconnect();
  assert.equal((await reason)[0], "io client disconnect");
  assert.equal(a.connected, false);
  // the other client is unaffected
  assert.equal(await emitWithAck(b, "echo", "still here"), "still here");
  b.disconnect();
}

test("websocket only: echo (JSON + binary), rooms, disconnect; ends on websocket", async () => {
  const { a, b } = await exerciseDemo(pylon.url, { transports: ["websocket"] }, "websocket");
  await disconnectAndCheck(a, b);
});

test("polling only: echo (JSON + binary), rooms, disconnect; ends on polling", async () => {
  const { a, b } = await exerciseDemo(pylon.url, { transports: ["polling"], upgrade: false }, "polling");
  await disconnectAndCheck(a, b);
});

test("polling then upgrade (default): starts on polling, the upgrade event fires, ends on websocket", async () => {
  const before = await scrapeMetrics(pylon.url);
  const upgrades = new Map<ClientSocket, Promise<unknown>>();
  const firstTransport = new Map<ClientSocket, string>();
  const opts: ClientOptions = {
    onCreate: (s) => {
      // the engine exists as soon as the socket is created; listen before anything can upgrade
      firstTransport.set(s, s.io.engine.transport.name);
      upgrades.set(s, onceEvent(s.io.engine, "upgrade"));
    },
  };
  const a = await connectClient(`${pylon.url}/demo`, opts);
  const b = await connectClient(`${pylon.url}/demo`, opts);
  assert.equal(firstTransport.get(a), "polling");
  assert.equal(firstTransport.get(b), "polling");
  await Promise.all([upgrades.get(a), upgrades.get(b)]);
  assert.equal(transportName(a), "websocket");
  assert.equal(transportName(b), "websocket");

  const { a: c, b: d } = await exerciseDemo(pylon.url, opts, "websocket", async (s) => {
    await upgrades.get(s);
  });
  const after = await scrapeMetrics(pylon.url);
  const succeeded = (m: Map<string, number>): number => metricSum(m, "pylon_transport_upgrades_total", { outcome: "succeeded" });
  assert.ok(succeeded(after) >= succeeded(before) + 4, `upgrades counted: ${succeeded(before)} -> ${succeeded(after)}`);
  a.disconnect();
  b.disconnect();
  await disconnectAndCheck(c, d);
});

// ---- socket.io-client v2 (Engine.IO protocol 3) ----

interface V2Socket {
  connected: boolean;
  id: string;
  on(event: string, fn: (...args: any[]) => void): V2Socket;
  emit(event: string, ...args: any[]): V2Socket;
  close(): V2Socket;
  io: { engine: { transport: { name: string } } };
}
const ioV2 = createRequire(import.meta.url)("socket.io-client-v2") as (url: string, opts: Record<string, unknown>) => V2Socket;

function connectV2(url: string, opts: Record<string, unknown> = {}): Promise<V2Socket> {
  const s = ioV2(url, { forceNew: true, reconnection: false, timeout: 5000, ...opts });
  cleanup.add(() => s.close());
  return new Promise((resolve, reject) => {
    s.on("connect", () => resolve(s));
    s.on("connect_error", (err: unknown) => {
      s.close();
      reject(err);
    });
  });
}

function v2Ack(s: V2Socket, event: string, payload: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event}`)), 5000);
    s.emit(event, payload, (res: unknown) => {
      clearTimeout(timer);
      resolve(res);
    });
  });
}

test("socket.io-client v2 (EIO3) connects and echoes when engine.allowEIO3 is on; engine_connections{protocol=3} counts it", async () => {
  for (const transports of [["polling"], ["websocket"], ["polling", "websocket"]]) {
    const s = await connectV2(`${pylon.url}/demo`, { transports });
    assert.deepEqual(await v2Ack(s, "echo", PAYLOAD), PAYLOAD);
    const bin = (await v2Ack(s, "echo", { data: Buffer.from([7, 8, 9]) })) as { data: unknown };
    assert.deepEqual(toBytes(bin.data), [7, 8, 9]);
    const m = await scrapeMetrics(pylon.url);
    assert.ok(metricSum(m, "pylon_engine_connections", { protocol: "3" }) >= 1, "an EIO3 connection is counted");
    // single transport: stays on it; polling+websocket: upgrades
    const expected = transports.length === 1 ? transports[0] : "websocket";
    await waitFor(() => s.io.engine.transport.name === expected, { message: `v2 client on ${expected}` });
    s.close();
  }
});

test("socket.io-client v2 is refused when engine.allowEIO3 is off (Unsupported protocol version)", async () => {
  const strict = await startPylon();
  cleanup.add(() => strict.kill());
  const before = await scrapeMetrics(strict.url);
  // polling: the handshake gets HTTP 400 {"code":5,"message":"Unsupported protocol version"}; v2 reports an xhr poll error
  const err = (await connectV2(`${strict.url}/demo`, { transports: ["polling"] }).then(
    () => assert.fail("v2 client must be refused"),
    (e: unknown) => e,
  )) as { message: string; description: unknown; type: string };
  assert.equal(err.message, "xhr poll error");
  assert.equal(err.type, "TransportError");
  assert.equal(err.description, 400);
  const raw = await fetch(`${strict.url}/socket.io/?EIO=3&transport=polling`);
  assert.equal(raw.status, 400);
  assert.deepEqual(await raw.json(), { code: 5, message: "Unsupported protocol version" });
  // websocket: refused too
  await assert.rejects(connectV2(`${strict.url}/demo`, { transports: ["websocket"] }));
  const after = await scrapeMetrics(strict.url);
  const refused = (m: Map<string, number>): number => metricSum(m, "pylon_engine_connection_errors_total", { code: "unsupported_protocol_version" });
  assert.ok(refused(after) >= refused(before) + 3, `refusals counted: ${refused(before)} -> ${refused(after)}`);
  assert.equal(metricSum(after, "pylon_engine_connections", { protocol: "3" }), 0);
});

// ---- namespaces ----

test("an undeclared namespace gets socket.io's 'Invalid namespace' and is counted", async () => {
  const before = await scrapeMetrics(pylon.url);
  for (const transports of [["websocket"], ["polling"]]) {
    await assert.rejects(connectClient(`${pylon.url}/not-declared`, { transports }), (err: Error) => {
      assert.equal(err.message, "Invalid namespace");
      return true;
    });
  }
  const after = await scrapeMetrics(pylon.url);
  const invalid = (m: Map<string, number>): number => metricSum(m, "pylon_namespace_connects_total", { outcome: "invalid_namespace" });
  assert.equal(invalid(after), invalid(before) + 2);
});

// ---- runtime transport policy (SIGHUP) ----

test("SIGHUP applies a new transport policy to new handshakes; existing connections keep working", async () => {
  const node = await startPylon({ config: { engine: { transports: "websocket+polling" } } });
  cleanup.add(() => node.kill());
  const oldPolling = await connectClient(`${node.url}/demo`, { transports: ["polling"], upgrade: false });
  const oldWs = await connectClient(`${node.url}/demo`, { transports: ["websocket"] });

  writeFileSync(node.configFile!, JSON.stringify({ engine: { transports: "websocket" } }));
  const reloadsBefore = node.records().filter((r) => r.msg === "configuration reloaded").length;
  node.kill("SIGHUP");
  await waitFor(() => node.records().filter((r) => r.msg === "configuration reloaded").length > reloadsBefore, { message: "reload logged" });

  // a new polling-only client is refused
  const before = await scrapeMetrics(node.url);
  await assert.rejects(connectClient(`${node.url}/demo`, { transports: ["polling"] }), (err: Error & { description?: unknown }) => {
    assert.equal(err.message, "xhr poll error");
    assert.equal(err.description, 403);
    return true;
  });
  // what the refused handshake gets on the wire: Engine.IO's Forbidden with the documented code
  const raw = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(raw.status, 403);
  assert.deepEqual(await raw.json(), { code: 4, message: "transport_not_allowed" });
  const after = await scrapeMetrics(node.url);
  const refusals = (m: Map<string, number>): number => metricSum(m, "pylon_handshakes_total", { outcome: "forbidden" });
  assert.equal(refusals(after), refusals(before) + 2);

  // a new websocket client works
  const fresh = await connectClient(`${node.url}/demo`, { transports: ["websocket"] });
  assert.equal(await emitWithAck(fresh, "echo", "new"), "new");

  // connections made before the reload are unaffected, including the polling one
  assert.equal(await emitWithAck(oldWs, "echo", "old ws"), "old ws");
  assert.equal(await emitWithAck(oldPolling, "echo", "old polling"), "old polling");
  assert.equal(transportName(oldPolling), "polling");
  assert.equal(oldPolling.connected, true);

  // and back: polling handshakes are accepted again
  writeFileSync(node.configFile!, JSON.stringify({ engine: { transports: "websocket+polling" } }));
  node.kill("SIGHUP");
  await waitFor(() => node.records().filter((r) => r.msg === "configuration reloaded").length > reloadsBefore + 1, { message: "second reload logged" });
  const again = await connectClient(`${node.url}/demo`, { transports: ["polling"], upgrade: false });
  assert.equal(await emitWithAck(again, "echo", 3), 3);

  // an invalid file on SIGHUP is refused with the reason logged; the running configuration stays
  writeFileSync(node.configFile!, JSON.stringify({ engine: { transports: "telegraph" } }));
  node.kill("SIGHUP");
  const refusedLine = await node.waitForLog(/reload refused/);
  assert.match(refusedLine, /engine\.transports/);
  const still = await connectClient(`${node.url}/demo`, { transports: ["polling"], upgrade: false });
  assert.equal(await emitWithAck(still, "echo", 4), 4);
  assert.equal(node.alive(), true);
});

// ---- engine options from the playbook ----

test("transport policy polling + custom path + CORS allowlist: no upgrade offered, websocket refused, origins checked", async () => {
  const node = await startPylon({
    config: { engine: { transports: "polling", path: "/rt/", corsOrigins: ["https://app.example.com"] } },
  });
  cleanup.add(() => node.kill());
  const hs = await fetch(`${node.url}/rt/?EIO=4&transport=polling`);
  assert.equal(hs.status, 200);
  assert.deepEqual((JSON.parse((await hs.text()).slice(1)) as { upgrades: string[] }).upgrades, []);
  assert.equal((await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`)).status, 404);

  const c = await connectClient(`${node.url}/demo`, { path: "/rt/" });
  assert.equal(await emitWithAck(c, "echo", "p"), "p");
  assert.equal(transportName(c), "polling");
  await assert.rejects(connectClient(`${node.url}/demo`, { path: "/rt/", transports: ["websocket"] }));

  const allowed = await fetch(`${node.url}/rt/?EIO=4&transport=polling`, { headers: { origin: "https://app.example.com" } });
  assert.equal(allowed.status, 200);
  assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example.com");
  await allowed.arrayBuffer();
  const denied = await fetch(`${node.url}/rt/?EIO=4&transport=polling`, { headers: { origin: "https://evil.example.net" } });
  assert.equal(denied.status, 403);
  assert.deepEqual(await denied.json(), { code: 4, message: "origin_not_allowed" });
  c.disconnect();
});

test("transport policy websocket + perMessageDeflate: polling refused with Transport unknown, deflate negotiated", async () => {
  const node = await startPylon({ args: ["--engine.transports", "websocket", "--engine.perMessageDeflate", "true", "--engine.perMessageDeflateThreshold", "0"] });
  cleanup.add(() => node.kill());
  const polling = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(polling.status, 400);
  assert.deepEqual(await polling.json(), { code: 0, message: "Transport unknown" });
  await assert.rejects(connectClient(`${node.url}/demo`), (err: Error) => err.message === "xhr poll error");

  const c = await connectClient(`${node.url}/demo`, { transports: ["websocket"] });
  assert.deepEqual(await emitWithAck(c, "echo", PAYLOAD), PAYLOAD);
  const ws = (c.io.engine.transport as unknown as { ws: { extensions: string } }).ws;
  assert.match(ws.extensions, /permessage-deflate/);
  c.disconnect();
});

test("heartbeat and connect timeout: a silent raw client is closed (ping timeout), one that never joins a namespace too; a real client stays", async () => {
  const node = await startPylon({ args: ["--engine.pingInterval", "1000", "--engine.pingTimeout", "1000", "--engine.connectTimeout", "1000"] });
  cleanup.add(() => node.kill());
  const good = await connectClient(`${node.url}/demo`, { transports: ["websocket"] });
  const before = await scrapeMetrics(node.url);

  const open = (): Promise<{ ws: WebSocket; closed: Promise<number> }> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${node.port}/socket.io/?EIO=4&transport=websocket`);
      cleanup.add(() => ws.terminate());
      const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
      ws.once("message", () => resolve({ ws, closed }));
      ws.once("error", reject);
    });
  // joins /demo but never answers a ping
  const silent = await open();
  silent.ws.send("40/demo,");
  // answers pings but never joins a namespace
  const lurker = await open();
  lurker.ws.on("message", (d) => {
    if (d.toString() === "2") lurker.ws.send("3");
  });
  await withTimeout(Promise.all([silent.closed, lurker.closed]), 8000, "server closing both raw clients");

  const after = await scrapeMetrics(node.url);
  const closes = (m: Map<string, number>, reason: string): number => metricSum(m, "pylon_engine_closes_total", { reason });
  assert.equal(closes(after, "ping timeout") - closes(before, "ping timeout"), 1);
  assert.equal(closes(after, "forced close") - closes(before, "forced close"), 1);
  assert.equal(metricSum(after, "pylon_disconnects_total", { namespace: "/demo", reason: "ping timeout" }), 1);
  // the official client answered every ping meanwhile
  assert.equal(good.connected, true);
  assert.equal(await emitWithAck(good, "echo", "alive"), "alive");
  good.disconnect();
});

/**
 * Pins the engine.io / socket.io / ws / node:events internals that compactConnection() (src/transport/engine-internals.ts)
 * relies on to keep less heap per connection, and checks that a compacted connection behaves exactly like a plain one:
 * events both ways, acks, upgrade from polling, client and server disconnects, engine.clients bookkeeping, heartbeats.
 * If an upgrade changes an assumption, a test here fails with its name instead of a listener silently going missing.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, Socket as SocketClass, type Socket } from "socket.io";
import { compactConnection, compactEmitter, connOf, sendHeartbeatPing } from "../../src/transport/engine-internals.js";
import { LazyMap, SmallMap } from "../../src/transport/small-maps.js";
import { HeartbeatWheel } from "../../src/transport/heartbeat-wheel.js";
import { StringInterner } from "../../src/transport/string-interner.js";
import { connectClient, onceEvent, useCleanup, waitFor } from "../helpers/index.js";

useCleanup();

const httpServer = createServer();
const io = new Server(httpServer, { transports: ["polling", "websocket"], perMessageDeflate: false, pingInterval: 300, pingTimeout: 400 });
await new Promise<void>((r) => httpServer.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
after(() => new Promise<void>((r) => io.close(() => r())));

type Listener = ((...a: unknown[]) => unknown) & { listener?: Listener };
type Events = Record<string, Listener | Listener[] | undefined>;
interface Emitterish {
  _events: Events;
  listeners(e: string): Listener[];
  rawListeners(e: string): Listener[];
  listenerCount(e: string): number;
  on(e: string, fn: (...a: unknown[]) => void): unknown;
}
interface EngineConn extends Emitterish {
  id: string;
  server: { clients: Record<string, unknown>; clientsCount: number };
  transport: Emitterish & { name: string; socket: Emitterish & { _receiver: Emitterish; _socket: Emitterish } };
  cleanupFn: unknown[];
  writeBuffer: unknown[];
}

const engine = (s: Socket): EngineConn => connOf(s) as unknown as EngineConn;
const raw = (e: Emitterish, type: string): Listener[] => e.rawListeners(type);
const isOnceOf = (l: Listener, name: string): boolean => l.name === "bound onceWrapper" && l.listener?.name === name;

async function serverSocketFor(transports: string[], nsp = "/"): Promise<{ server: Socket; client: Awaited<ReturnType<typeof connectClient>> }> {
  const next = onceEvent<[Socket]>(io.of(nsp), "connection");
  const client = await connectClient(base + (nsp === "/" ? "" : nsp), { transports });
  const [server] = await next;
  return { server, client };
}

test("node:events: _events is a null-prototype table read by own keys; once() stores a bound onceWrapper with .listener", () => {
  const e = new EventEmitter() as unknown as Emitterish & EventEmitter;
  const f = (): void => {};
  e.once("x", f);
  assert.equal(Object.getPrototypeOf(e._events), null, "_events has no prototype");
  const w = e._events.x as Listener;
  assert.equal(w.name, "bound onceWrapper");
  assert.equal(w.listener, f);
  // removeListener matches a once wrapper by .listener and a plain listener by identity
  e.removeListener("x", f);
  assert.equal(e.listenerCount("x"), 0);
  // a compacted table: fast object whose prototype has no keys, arrays at exact length, everything keeps working
  const calls: string[] = [];
  for (let i = 0; i < 3; i++) e.on("y", () => calls.push(`y${i}`));
  e.on("z", () => calls.push("z"));
  compactEmitter(e);
  assert.notEqual(Object.getPrototypeOf(e._events), null);
  assert.equal(Object.getPrototypeOf(Object.getPrototypeOf(e._events)), null, "the shared prototype has no prototype");
  assert.equal(Object.keys(Object.getPrototypeOf(e._events) as object).length, 0);
  assert.equal("toString" in e._events, false, "no inherited keys");
  e.emit("y");
  e.emit("z");
  e.emit("toString"); // not a listener
  assert.deepEqual(calls, ["y0", "y1", "y2", "z"]);
  assert.deepEqual(e.eventNames(), ["y", "z"]);
  e.once("w", () => calls.push("w"));
  e.emit("w");
  e.emit("w");
  assert.equal(calls.at(-1), "w");
  assert.equal(calls.filter((c) => c === "w").length, 1);
  e.removeAllListeners("y");
  assert.equal(e.listenerCount("y"), 0);
  assert.throws(() => e.emit("error", new Error("boom")), /boom/, "an unhandled 'error' still throws");
});

test("engine.io: per-connection listeners compactConnection() relies on (websocket handshake)", async () => {
  // a namespace whose connections the test inspects before any compaction (Pylon's write path is not loaded here)
  const { server, client } = await serverSocketFor(["websocket"], "/pin");
  const conn = engine(server);
  const t = conn.transport;
  assert.equal(t.name, "websocket");
  // Socket#setTransport
  assert.ok(raw(t, "error").some((l) => isOnceOf(l, "bound onError")), "transport.once('error', onError.bind(socket))");
  assert.ok(raw(t, "close").some((l) => isOnceOf(l, "bound onClose")), "transport.once('close', onClose.bind(socket, 'transport close'))");
  assert.deepEqual(raw(t, "packet").map((l) => l.name), ["bound onPacket"]);
  assert.deepEqual(raw(t, "drain").map((l) => l.name), ["bound onDrain"]);
  assert.deepEqual(raw(t, "ready").map((l) => l.name), ["onReady"]);
  assert.equal(conn.cleanupFn.length, 1, "one cleanup closure per transport");
  const socketClassSrc = String((conn as unknown as { constructor: unknown }).constructor);
  assert.equal(socketClassSrc.match(/cleanupFn\.push\(/g)?.length, 1, "setTransport is the only place adding a cleanup function");
  assert.match(socketClassSrc, /const onClose = this\.onClose\.bind\(this, "transport close"\);/);
  assert.match(socketClassSrc, /const onReady = \(\) => this\.flush\(\);/);
  assert.match(socketClassSrc, /cleanup = this\.cleanupFn\.shift\(\);\s*cleanup\(\);/, "clearTransport calls each cleanup function");
  assert.match(String(conn.cleanupFn[0]), /removeListener\("close", onClose\)/, "cleanup removes the close listener by reference");
  assert.match(String(conn.cleanupFn[0]), /removeListener\("error", onError\)/, "cleanup removes the error listener by reference");
  // WebSocket transport constructor
  assert.ok(raw(t.socket, "close").some((l) => isOnceOf(l, "bound onClose")), "ws.once('close', transport.onClose.bind(transport))");
  // Server#handshake
  const first = raw(conn, "close")[0]!;
  assert.equal(first.name, "bound onceWrapper", "the handshake's close listener is the socket's first, registered with once()");
  assert.match(String(first.listener), /delete this\.clients\[id\]/);
  assert.match(String(first.listener), /this\.clientsCount--/);
  const headers = raw(t, "headers");
  assert.equal(headers.length, 1, "one headers listener (Server#handshake)");
  assert.match(String(headers[0]), /isInitialRequest/);
  // the WebSocket transport never emits "headers" (only polling does, per request)
  const wsTransport = String((t as unknown as { constructor: unknown }).constructor);
  assert.doesNotMatch(wsTransport, /emit\("headers"/);
  // Transport#onClose only marks closed and emits close; Socket#onClose is guarded by readyState (idempotent)
  assert.match(String((t as unknown as { onClose: unknown }).onClose), /this\.readyState = "closed";\s*this\.emit\("close"\)/);
  assert.match(String((conn as unknown as { onClose: unknown }).onClose), /if \("closed" !== this\.readyState\)/);
  // socket.io-parser Decoder: listeners in _callbacks["$decoded"]
  const decoder = (server.client as unknown as { decoder: { _callbacks: Record<string, unknown> } }).decoder;
  assert.ok(Array.isArray(decoder._callbacks.$decoded));
  client.disconnect();
});

test("compactConnection on a websocket connection: same behaviour, no once wrappers, fast tables, clients bookkeeping", async () => {
  const nsp = io.of("/ws");
  nsp.on("connection", (s) => {
    s.on("echo", (v: unknown, ack: (v: unknown) => void) => ack(v));
  });
  const { server, client } = await serverSocketFor(["websocket"], "/ws");
  const conn = engine(server);
  const t = conn.transport;
  const countBefore = conn.server.clientsCount;
  const report = compactConnection(server);
  assert.deepEqual(report, { unwrapped: 4, headersListenerDropped: true, heartbeatOnWheel: false, transportListenersShared: true, directInbound: false });
  assert.deepEqual(
    compactConnection(server),
    { unwrapped: 0, headersListenerDropped: false, heartbeatOnWheel: false, transportListenersShared: false, directInbound: false },
    "idempotent",
  );
  assert.equal(conn.cleanupFn.length, 1);
  assert.equal((conn.cleanupFn[0] as { name: string }).name, "bound detachSharedListeners");
  for (const [name, e] of [["transport", t], ["engine socket", conn], ["ws", t.socket]] as const) {
    for (const type of Object.keys(e._events)) {
      for (const l of raw(e, type)) assert.notEqual(l.name, "bound onceWrapper", `${name} '${type}' has no once wrapper left`);
    }
    assert.equal("hasOwnProperty" in e._events, false, `${name}: no inherited keys in _events`);
  }
  assert.equal(raw(t, "headers").length, 0);
  // both ways, with acks
  assert.deepEqual(await client.timeout(5000).emitWithAck("echo", { a: 1 }), { a: 1 });
  const got = onceEvent<[string]>(client, "hi");
  server.emit("hi", "there");
  assert.equal((await got)[0], "there");
  // server -> client acks go through socket.acks (a LazyMap now), with and without a timeout
  assert.ok((server as unknown as { acks: unknown }).acks instanceof LazyMap);
  client.on("ask", (v: number, ack: (r: number) => void) => ack(v + 1));
  assert.equal(await server.timeout(5000).emitWithAck("ask", 1), 2);
  assert.equal(await new Promise((r) => server.emit("ask", 41, r)), 42);
  assert.equal((server as unknown as { acks: Map<number, unknown> }).acks.size, 0, "answered acks are gone");
  // the client goes away: socket.io sees it, engine.clients forgets it, listeners are removed by reference
  const reason = onceEvent<[string]>(server, "disconnect");
  client.io.engine.close();
  assert.equal((await reason)[0], "transport close");
  await waitFor(() => conn.server.clients[conn.id] === undefined, { message: "engine.clients entry removed" });
  assert.equal(conn.server.clientsCount, countBefore - 1);
  assert.equal(t.listenerCount("close"), 0, "engine socket's close listener removed from the transport");
  assert.equal(t.listenerCount("packet"), 0);
  assert.equal((t as unknown as { readyState: string }).readyState, "closed", "the transport saw the ws close");
});

test("compactConnection: server-side disconnect and a dead peer (heartbeat) still close the connection once", async () => {
  const { server, client } = await serverSocketFor(["websocket"]);
  compactConnection(server);
  const conn = engine(server);
  const reasons: string[] = [];
  conn.on("close", (r: unknown) => reasons.push(String(r)));
  const clientGone = onceEvent<[string]>(client, "disconnect");
  server.disconnect(true);
  assert.equal((await clientGone)[0], "io server disconnect");
  await waitFor(() => conn.server.clients[conn.id] === undefined, { message: "engine.clients entry removed" });
  assert.equal(reasons.length, 1, "engine socket closed once");

  // heartbeats on a shared wheel: a live client stays across several ping cycles (its pongs refresh the handle)
  const wheel = new HeartbeatWheel<object>(300, sendHeartbeatPing);
  const live = await serverSocketFor(["websocket"]);
  assert.equal(compactConnection(live.server, { heartbeats: wheel }).heartbeatOnWheel, true);
  const liveConn = engine(live.server) as unknown as { pingIntervalTimer: unknown };
  let pings = 0;
  live.client.io.engine.on("ping", () => pings++);
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(live.server.connected && live.client.connected, "a client answering pings stays connected");
  assert.ok(pings >= 4, `pinged every ~300 ms by the wheel (${pings} pings in 1.5 s)`);
  assert.equal(wheel.size, 1);
  const liveGone = onceEvent<[string]>(live.server, "disconnect");
  live.client.disconnect();
  await liveGone;
  await waitFor(() => wheel.size === 0, { message: "the handle is released when the engine connection closes" });
  assert.ok(liveConn.pingIntervalTimer !== null);

  // a client that stops answering pings is closed by the heartbeat within pingInterval + pingTimeout (300 + 400 ms)
  const dead = await serverSocketFor(["websocket"]);
  assert.equal(compactConnection(dead.server, { heartbeats: wheel }).heartbeatOnWheel, true);
  const deadConn = engine(dead.server);
  const gone = onceEvent<[string]>(dead.server, "disconnect");
  const clientWs = (dead.client.io.engine as unknown as { transport: { ws?: { _socket?: { pause(): void } } } }).transport.ws;
  assert.ok(clientWs?._socket, "the client runs on a node ws WebSocket");
  const started = Date.now();
  clientWs._socket.pause(); // reads nothing from now on, so it never answers a ping
  assert.equal((await gone)[0], "ping timeout");
  assert.ok(Date.now() - started <= 300 + 400 + 250, `closed ${Date.now() - started} ms after the client went silent`);
  await waitFor(() => deadConn.server.clients[deadConn.id] === undefined, { message: "dead peer removed from engine.clients" });
  assert.equal(wheel.size, 0);
  dead.client.disconnect();
  wheel.close();
});

test("engine.io heartbeat: pingIntervalTimer set once at open, refreshed on pong, cleared on close; ping callback", async () => {
  const { server, client } = await serverSocketFor(["websocket"]);
  const conn = engine(server) as unknown as Record<string, unknown> & { constructor: { prototype: Record<string, unknown> } };
  const proto = Object.getPrototypeOf(conn) as Record<string, (...a: unknown[]) => unknown>;
  const t = conn.pingIntervalTimer as { refresh?: unknown; _onTimeout?: unknown };
  assert.equal(conn.protocol, 4);
  assert.equal(typeof t.refresh, "function", "pingIntervalTimer is a Node Timeout");
  assert.equal(typeof t._onTimeout, "function");
  assert.equal(conn.pingTimeoutTimer, null, "no pong awaited on an idle connection");
  const src = (f: string): string => String(proto[f]);
  assert.match(src("schedulePing"), /this\.pingIntervalTimer = \(0, timers_1\.setTimeout\)\(\(\) => \{[^}]*this\.hasRefreshedPingTimeout = false;\s*this\.sendPacket\("ping"\);\s*this\.resetPingTimeout\(\);\s*\}, this\.server\.opts\.pingInterval\)/);
  assert.match(src("onPacket"), /case "pong":[\s\S]*?this\.pingIntervalTimer\) === null \|\| _b === void 0 \? void 0 : _b\.refresh\(\)/);
  assert.match(src("onClose"), /\(0, timers_1\.clearTimeout\)\(this\.pingIntervalTimer\)/);
  assert.match(src("onOpen"), /this\.schedulePing\(\)/);
  const classSrc = String(proto.constructor);
  assert.equal(
    classSrc.match(/this\.pingIntervalTimer\b/g)?.length,
    4,
    "pingIntervalTimer: null in the constructor, set in schedulePing, refreshed on pong, cleared on close, nothing else",
  );
  client.disconnect();
});

test("HeartbeatWheel: due after the interval (never late, at most two buckets early), refresh postpones, cancel releases", async () => {
  const due: string[] = [];
  const wheel = new HeartbeatWheel<{ name: string }>(200, (t) => due.push(t.name));
  assert.equal(wheel.granularityMs, 5);
  const t0 = performance.now();
  const a = wheel.add({ name: "a" });
  const b = wheel.add({ name: "b" });
  wheel.add({ name: "c" }).cancel();
  assert.equal(wheel.size, 2);
  await new Promise((r) => setTimeout(r, 100));
  b.refresh(); // b is due 200 ms from now
  await waitFor(() => due.includes("a"), { timeoutMs: 2000, message: "a due" });
  const aAt = performance.now() - t0;
  assert.ok(aAt >= 200 - 2 * wheel.granularityMs && aAt < 200 + 100, `a due at ${aAt.toFixed(0)} ms`);
  assert.ok(!due.includes("b"), "b was refreshed");
  await waitFor(() => due.includes("b"), { timeoutMs: 2000, message: "b due" });
  const bAt = performance.now() - t0;
  assert.ok(bAt >= 300 - 2 * wheel.granularityMs, `b due at ${bAt.toFixed(0)} ms`);
  assert.ok(!due.includes("c"), "cancelled handles never fire");
  a.refresh(); // fires again an interval later
  await waitFor(() => due.filter((n) => n === "a").length === 2, { timeoutMs: 2000, message: "a due again" });
  a.cancel();
  b.cancel();
  assert.equal(wheel.size, 0);
  wheel.close();
});

test("HeartbeatWheel: many handles due together fire in slices (other I/O runs between them), each exactly once", async () => {
  let fired = 0;
  let inSlice = 0;
  let slices = 0;
  let largestSlice = 0;
  const seen = new Set<number>();
  const wheel = new HeartbeatWheel<{ i: number }>(50, (t) => {
    fired++;
    if (inSlice++ === 0) {
      slices++;
      // runs when the synchronous slice is over
      queueMicrotask(() => {
        largestSlice = Math.max(largestSlice, inSlice);
        inSlice = 0;
      });
    }
    seen.add(t.i);
  });
  // (on a loaded machine the adds may straddle a bucket boundary: slices are then smaller, never larger)
  for (let i = 0; i < 1000; i++) wheel.add({ i });
  await waitFor(() => seen.size === 1000, { timeoutMs: 5000, message: "every handle fired" });
  assert.ok(largestSlice > 0 && largestSlice <= 128, `a macrotask fires at most one slice of 128, not all 1,000 (largest ${largestSlice})`);
  assert.ok(slices >= 8, `1,000 handles took ${slices} slices`);
  assert.equal(fired, 1000, "each handle once");
  wheel.close();
});

test("socket.io Socket#acks: only set/get/delete on it (LazyMap), and the Map interface of LazyMap", () => {
  const uses = [...String(SocketClass).matchAll(/\.acks\.(\w+)/g)].map((m) => m[1]);
  assert.ok(uses.length > 0, "socket.io's Socket uses this.acks");
  assert.deepEqual([...new Set(uses)].sort(), ["delete", "get", "set"], "socket.io's Socket only calls set/get/delete on acks");
  assert.match(String(SocketClass), /this\.acks = new Map\(\)/);
  const m = new LazyMap<number, string>();
  assert.equal(m.size, 0);
  assert.equal(m.get(1), undefined);
  assert.equal(m.delete(1), false);
  assert.equal(Object.prototype.toString.call(m), "[object Map]");
  m.set(1, "a").set(2, "b");
  assert.equal(m.size, 2);
  assert.equal(m.has(2), true);
  assert.deepEqual([...m], [[1, "a"], [2, "b"]]);
  assert.deepEqual([...m.keys()], [1, 2]);
  assert.deepEqual([...m.values()], ["a", "b"]);
  const seen: string[] = [];
  m.forEach((v, k, map) => {
    seen.push(`${k}=${v}`);
    assert.equal(map, m);
    map.delete(k); // deleting while iterating, as socket.io-adapter's timeout path does
  });
  assert.deepEqual(seen, ["1=a", "2=b"]);
  assert.equal(m.size, 0);
  m.set(3, "c");
  m.clear();
  assert.deepEqual([...m.entries()], []);
});

test("socket.io Client#sockets / #nsps: Maps used only with set/get/has/delete/clear/size/values; SmallMap's Map interface", async () => {
  const pinned = await serverSocketFor(["websocket"], "/pin");
  const clientSrc = String(pinned.server.client.constructor);
  pinned.client.disconnect();
  const uses = [...clientSrc.matchAll(/this\.(sockets|nsps)\.(\w+)/g)].map((m) => m[2]);
  assert.deepEqual([...new Set(uses)].sort(), ["clear", "delete", "get", "has", "set", "size", "values"]);
  assert.match(clientSrc, /this\.sockets = new Map\(\);\s*this\.nsps = new Map\(\);/);
  const m = new SmallMap<string, number>();
  assert.equal(m.size, 0);
  assert.equal(Object.prototype.toString.call(m), "[object Map]");
  m.set("a", 1);
  assert.equal(m.get("a"), 1);
  assert.equal(m.has("b"), false);
  m.set("a", 2);
  assert.equal(m.size, 1);
  assert.deepEqual([...m], [["a", 2]]);
  // deleting the current entry while iterating values(), as Client#onclose does through Socket#_onclose
  for (const v of m.values()) {
    assert.equal(v, 2);
    m.delete("a");
  }
  assert.equal(m.size, 0);
  m.set("x", 1).set("y", 2).set("z", 3); // becomes a real Map at the second key
  assert.deepEqual([...m.keys()], ["x", "y", "z"]);
  assert.equal(m.delete("y"), true);
  const seen: string[] = [];
  m.forEach((v, k, map) => {
    seen.push(`${k}=${v}`);
    assert.equal(map, m);
  });
  assert.deepEqual(seen, ["x=1", "z=3"]);
  m.clear();
  assert.equal(m.size, 0);
  const nan = new SmallMap<number, string>([[NaN, "n"]]);
  assert.equal(nan.get(NaN), "n", "SameValueZero keys, like Map");
});

test("a client on two namespaces over one connection (multiplexed): SmallMap becomes a Map, both work, disconnects clean", async () => {
  const a = io.of("/mx-a");
  const b = io.of("/mx-b");
  for (const nsp of [a, b]) {
    nsp.on("connection", (s) => {
      compactConnection(s);
      s.on("echo", (v: unknown, ack: (v: unknown) => void) => ack(`${nsp.name}:${String(v)}`));
    });
  }
  const { io: clientIo } = await import("socket.io-client");
  const manager = new (clientIo as unknown as { Manager: new (u: string, o: object) => { socket(n: string): import("socket.io-client").Socket; _close?: () => void } }).Manager(base, { transports: ["websocket"], reconnection: false });
  const ca = manager.socket("/mx-a");
  const cb = manager.socket("/mx-b");
  await Promise.all([onceEvent(ca, "connect"), onceEvent(cb, "connect")]);
  assert.equal(await ca.timeout(5000).emitWithAck("echo", 1), "/mx-a:1");
  assert.equal(await cb.timeout(5000).emitWithAck("echo", 2), "/mx-b:2");
  const serverA = [...a.sockets.values()][0]!;
  assert.equal((serverA.client as unknown as { sockets: { size: number } }).sockets.size, 2);
  const goneB = onceEvent<[string]>([...b.sockets.values()][0]!, "disconnect");
  cb.disconnect();
  assert.equal((await goneB)[0], "client namespace disconnect");
  assert.equal(await ca.timeout(5000).emitWithAck("echo", 3), "/mx-a:3", "the other namespace keeps working");
  const goneA = onceEvent<[string]>(serverA, "disconnect");
  ca.disconnect();
  await goneA;
  await waitFor(() => a.sockets.size === 0 && b.sockets.size === 0, { message: "namespaces empty" });
});

test("StringInterner: one copy of equal strings, long values untouched, bounded table", () => {
  const i = new StringInterner(3, 10);
  const a = ["web", "socket"].join("");
  const b = ["websock", "et"].join("");
  assert.equal(i.intern(a), a);
  assert.equal(i.intern(b), a, "equal content returns the first copy");
  const long = "x".repeat(11);
  assert.equal(i.intern(long), long);
  assert.equal(i.size, 1, "long values are not kept");
  assert.equal(i.intern(42), 42, "non-strings pass through");
  i.intern("p");
  i.intern("q");
  i.intern("r"); // full: starts over
  assert.ok(i.size <= 3);
});

test("compactConnection with an interner keeps handshake values equal", async () => {
  const { server, client } = await serverSocketFor(["websocket"]);
  const before = JSON.stringify(server.handshake);
  const interner = new StringInterner();
  compactConnection(server, { intern: (v) => interner.intern(v) });
  assert.equal(JSON.stringify(server.handshake), before);
  assert.ok(interner.size > 3, "handshake strings went through the interner");
  const other = await serverSocketFor(["websocket"]);
  compactConnection(other.server, { intern: (v) => interner.intern(v) });
  assert.equal(other.server.handshake.headers.upgrade, server.handshake.headers.upgrade);
  client.disconnect();
  other.client.disconnect();
});

test("compactConnection leaves per-connection values out of the interner (polling cache-buster, its URL)", async () => {
  const { server, client } = await serverSocketFor(["polling"]);
  const before = JSON.stringify(server.handshake);
  const offered: unknown[] = [];
  const interner = new StringInterner();
  compactConnection(server, { intern: (v) => (offered.push(v), interner.intern(v)) });
  assert.equal(JSON.stringify(server.handshake), before);
  const t = server.handshake.query.t;
  assert.equal(typeof t, "string", "the polling client sent its cache-buster");
  assert.ok(!offered.includes(t), "the cache-buster is not interned");
  assert.ok(!offered.includes(server.handshake.url), "a URL with the cache-buster is not interned");
  assert.ok(offered.includes(server.handshake.query.EIO), "the other query values are");
  assert.ok(offered.includes(server.handshake.headers.host), "and the headers");
  client.disconnect();
});

test("compactConnection on a polling connection that then upgrades keeps working", async () => {
  const nsp = io.of("/up");
  nsp.on("connection", (s) => {
    compactConnection(s);
    s.on("echo", (v: unknown, ack: (v: unknown) => void) => ack(v));
  });
  const next = onceEvent<[Socket]>(nsp, "connection");
  const client = await connectClient(`${base}/up`, { transports: ["polling", "websocket"] });
  const [server] = await next;
  const conn = engine(server);
  const polling = conn.transport;
  assert.equal(polling.name, "polling");
  await waitFor(() => conn.transport.name === "websocket", { message: "upgraded to websocket" });
  assert.equal(polling.listenerCount("packet"), 0, "the shared listeners were removed from the polling transport on upgrade");
  assert.equal(polling.listenerCount("close"), 0);
  assert.deepEqual(await client.timeout(5000).emitWithAck("echo", "x"), "x");
  assert.equal(raw(conn.transport, "packet")[0]!.name, "transportPacket", "the upgrade shared the new transport's listeners");
  assert.equal(conn.cleanupFn.length, 1);
  assert.equal((conn.cleanupFn[0] as { name: string }).name, "bound detachSharedListeners");
  const report = compactConnection(server); // the rest of the new transport (ws close)
  assert.equal(report.unwrapped, 1, "ws close (transport error/close were unwrapped at the upgrade, the handshake listener the first time)");
  assert.equal(report.headersListenerDropped, false, "an upgraded websocket transport has no headers listener");
  assert.equal(report.transportListenersShared, false, "already shared");
  assert.deepEqual(await client.timeout(5000).emitWithAck("echo", "y"), "y");
  const reason = onceEvent<[string]>(server, "disconnect");
  client.disconnect();
  assert.equal((await reason)[0], "client namespace disconnect");
  client.io.engine.close();
  await waitFor(() => conn.server.clients[conn.id] === undefined, { message: "engine.clients entry removed" });
});

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Server } from "socket.io";
import { compactSocketArrays, engineConnections, engineOptionsObject } from "../../src/transport/engine-internals.js";
import { applyRuntimeEngineOptions } from "../../src/transport/engine-options.js";
import { parseConfig } from "../../src/config/index.js";
import { REPO_ROOT, connectClient, onceEvent, useCleanup, waitFor } from "../helpers/index.js";

useCleanup();

const httpServer = createServer();
const io = new Server(httpServer, { transports: ["polling", "websocket"] });
await new Promise<void>((r) => httpServer.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
after(() => new Promise<void>((r) => io.close(() => r())));

async function handshake(transport = "polling"): Promise<{ status: number; body: string }> {
  const res = await fetch(`${base}/socket.io/?EIO=4&transport=${transport}`);
  return { status: res.status, body: await res.text() };
}

test("installed versions equal the exact pins in package.json", () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  for (const name of ["socket.io", "engine.io", "socket.io-parser", "socket.io-adapter", "ws", "socket.io-client"]) {
    const pinned = pkg.dependencies[name];
    assert.ok(pinned, `${name} is a direct dependency`);
    assert.match(pinned, /^\d+\.\d+\.\d+$/, `${name} is pinned exactly`);
    const installed = (JSON.parse(readFileSync(join(REPO_ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
    assert.equal(installed, pinned, `${name} installed ${installed}, pinned ${pinned}`);
  }
  // socket.io must be using the engine.io we pin (no nested copy)
  const nested = join(REPO_ROOT, "node_modules", "socket.io", "node_modules", "engine.io", "package.json");
  assert.throws(() => readFileSync(nested), "socket.io has no nested engine.io");
});

test("engine.clients is a plain object keyed by sid; engineConnections() lists them with id/protocol/transport/close", async () => {
  const clients = (io.engine as unknown as { clients: unknown }).clients;
  assert.equal(typeof clients, "object");
  assert.ok(!(clients instanceof Map));
  const a = await connectClient(base, { transports: ["websocket"] });
  const b = await connectClient(base, { transports: ["polling"] });
  const conns = engineConnections(io);
  assert.equal(conns.length, 2);
  assert.deepEqual(Object.keys(clients as object).sort(), [a.io.engine.id, b.io.engine.id].sort());
  for (const c of conns) {
    assert.equal(typeof c.id, "string");
    assert.equal(c.protocol, 4);
    assert.equal(c.readyState, "open");
    assert.ok(["websocket", "polling"].includes(c.transport.name));
  }
  // close() at the engine level ends the session; the client sees a transport close
  const gone = onceEvent<[string]>(a, "disconnect");
  conns.find((c) => c.id === a.io.engine.id)!.close();
  assert.equal((await gone)[0], "transport close");
  await waitFor(() => engineConnections(io).length === 1, { message: "closed connection removed from engine.clients" });
  b.disconnect();
  await waitFor(() => engineConnections(io).length === 0, { message: "engine.clients empty" });
});

test("engine.opts.transports and allowUpgrades are read on every handshake (runtime transport policy)", async () => {
  const opts = engineOptionsObject(io);
  assert.deepEqual(opts.transports, ["polling", "websocket"]);
  let hs = await handshake();
  assert.equal(hs.status, 200);
  assert.deepEqual(JSON.parse(hs.body.slice(1)).upgrades, ["websocket"]);

  opts.transports = ["websocket"];
  hs = await handshake();
  assert.equal(hs.status, 400);
  assert.deepEqual(JSON.parse(hs.body), { code: 0, message: "Transport unknown" });

  opts.transports = ["polling", "websocket"];
  opts.allowUpgrades = false;
  hs = await handshake();
  assert.equal(hs.status, 200);
  assert.deepEqual(JSON.parse(hs.body.slice(1)).upgrades, []);
  opts.allowUpgrades = true;
});

test("engine.opts.transports is checked on every request, even an established session's (why reload only widens it)", async () => {
  const opts = engineOptionsObject(io);
  const s = await connectClient(base, { transports: ["polling"], upgrade: false });
  opts.transports = ["websocket"];
  try {
    const res = await fetch(`${base}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(s.io.engine.id)}`);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { code: 0, message: "Transport unknown" });
  } finally {
    opts.transports = ["polling", "websocket"];
    s.disconnect();
  }
  // applyRuntimeEngineOptions never removes a transport, only sets allowUpgrades per policy
  const target = { transports: ["polling", "websocket"] as unknown, allowUpgrades: true as unknown };
  applyRuntimeEngineOptions(target, parseConfig({ engine: { transports: "websocket" } }).engine);
  assert.deepEqual(target, { transports: ["polling", "websocket"], allowUpgrades: false });
  const narrow = { transports: ["websocket"] as unknown, allowUpgrades: false as unknown };
  applyRuntimeEngineOptions(narrow, parseConfig({ engine: { transports: "websocket+polling" } }).engine);
  assert.deepEqual(narrow, { transports: ["websocket", "polling"], allowUpgrades: true });
});

test("socket.fns / _anyOutgoingListeners are plain arrays read through the property: compactSocketArrays() keeps middlewares and listeners working", async () => {
  const nsp = io.of("/compact");
  const seen: string[] = [];
  nsp.on("connection", (socket) => {
    socket.use((packet, next) => {
      seen.push(`mw1:${String(packet[0])}`);
      next();
    });
    socket.onAnyOutgoing((event: string) => seen.push(`out:${event}`));
    const s = socket as unknown as { fns: unknown[]; _anyOutgoingListeners: unknown[] };
    assert.ok(Array.isArray(s.fns) && s.fns.length === 1, "socket.fns holds the socket.use middleware");
    assert.ok(Array.isArray(s._anyOutgoingListeners) && s._anyOutgoingListeners.length === 1, "_anyOutgoingListeners holds the listener");
    compactSocketArrays(socket);
    assert.equal(s.fns.length, 1);
    socket.use((packet, next) => {
      seen.push(`mw2:${String(packet[0])}`);
      next();
    }); // a push after compaction still runs
    socket.on("ping2", (ack: (v: string) => void) => ack("pong"));
  });
  const c = await connectClient(`${base}/compact`, { transports: ["websocket"] });
  assert.equal(await c.timeout(5000).emitWithAck("ping2"), "pong");
  assert.deepEqual(seen, ["mw1:ping2", "mw2:ping2"]);
  const got = onceEvent<[string]>(c, "hello");
  for (const s of nsp.sockets.values()) s.emit("hello", "x");
  await got;
  assert.ok(seen.includes("out:hello"), "outgoing listener still called");
  c.disconnect();
});

test("socket.io's onevent: `packet.data || []`, its ack pushed last, any-listeners, `this.dispatch(args)`; the ack sends `this.packet({ id, type: ACK, data })` once (the pipeline's direct path replaces onevent per socket)", async () => {
  const proto = (await import("socket.io")).Socket.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const onevent = Function.prototype.toString.call(proto.onevent);
  assert.match(onevent, /const args = packet\.data \|\| \[\]/);
  assert.match(onevent, /if \(null != packet\.id\) \{[^}]*args\.push\(this\.ack\(packet\.id\)\)/, "the ack function is pushed last");
  assert.match(onevent, /this\._anyListeners && this\._anyListeners\.length/);
  assert.match(onevent, /this\.dispatch\(args\)/, "dispatch is called through the property");
  assert.doesNotMatch(onevent.replace(/debug\([^)]*\);/g, ""), /this\.(?!ack|dispatch|_anyListeners)\w+/, "onevent reads nothing else of the socket");
  const ack = Function.prototype.toString.call(proto.ack);
  assert.match(ack, /if \(sent\)\s*return;/);
  assert.match(ack, /self\.packet\(\{\s*id: id,\s*type: socket_io_parser_1\.PacketType\.ACK,\s*data: args,?\s*\}\)/);
  const { PacketType } = await import("socket.io-parser");
  assert.equal(PacketType.ACK, 3);
  // what Pylon's sendAck does in their place: socket.packet sets nsp and compress; Client#_packet drops the packet
  // unless the connection is open, then hands the encoder's output to writeToEngine
  const flat = (fn: unknown): string => Function.prototype.toString.call(fn).replace(/\s+/g, " ");
  assert.match(flat(proto.packet), /packet\(packet, opts = \{\}\) \{ packet\.nsp = this\.nsp\.name; opts\.compress = false !== opts\.compress; this\.client\._packet\(packet, opts\); \}/);
  const { createRequire } = await import("node:module");
  const { dirname, join } = await import("node:path");
  const req = createRequire(import.meta.url);
  const Client = (req(join(dirname(req.resolve("socket.io")), "client.js")) as { Client: { prototype: Record<string, unknown> } }).Client;
  assert.match(
    flat(Client.prototype._packet),
    /_packet\(packet, opts = \{\}\) \{ if \(this\.conn\.readyState !== "open"\) \{ debug\([^)]*\); return; \} const encodedPackets = opts\.preEncoded \? packet[^:]*: this\.encoder\.encode\(packet\); this\.writeToEngine\(encodedPackets, opts\); \}/,
  );
  const dispatch = Function.prototype.toString.call(proto.dispatch);
  assert.match(dispatch, /this\.run\(event/);
  assert.match(dispatch, /process\.nextTick/);
  assert.match(dispatch, /this\.connected/);
  assert.match(dispatch, /super\.emitUntyped\.apply\(this, event\)/);
  const onpacket = Function.prototype.toString.call(proto._onpacket);
  assert.match(onpacket, /this\.onevent\(packet\)/, "_onpacket calls onevent through the property");
  // an own `onevent` on one socket is what socket.io calls for that socket's events
  const nsp = io.of("/own-onevent");
  const got: unknown[] = [];
  nsp.on("connection", (socket) => {
    (socket as unknown as { onevent: (packet: { id?: number; data?: unknown[] }) => void }).onevent = (packet) => {
      got.push(packet);
      (socket as unknown as { packet(p: unknown): void }).packet({ id: packet.id, type: 3, data: ["direct"] });
    };
  });
  const c = await connectClient(`${base}/own-onevent`, { transports: ["websocket"] });
  assert.equal(await c.timeout(5000).emitWithAck("e", 1, { a: 2 }), "direct");
  assert.equal(got.length, 1);
  assert.deepEqual([...(got[0] as { data: unknown[] }).data], ["e", 1, { a: 2 }]);
  assert.equal(typeof (got[0] as { id: unknown }).id, "number");
  c.disconnect();
});

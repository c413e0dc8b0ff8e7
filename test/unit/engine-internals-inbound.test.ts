/**
 * Pins what the direct inbound path (src/transport/engine-internals.ts: engine.io's shared "packet" listener hands text
 * messages to the socket.io Client) relies on, and checks that a connection on it behaves like a plain one: listeners
 * on the engine connection in order, acks, several namespaces over one connection, binary events, a packet for a
 * namespace the client did not join, bad packets, polling then upgrade, a "packet" listener (engine.io's own path).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Server, type Socket } from "socket.io";
import { compactConnection, connOf } from "../../src/transport/engine-internals.js";
import { PylonDecoder, PylonEncoder } from "../../src/protocol/parser.js";
import { connectClient, onceEvent, useCleanup, waitFor } from "../helpers/index.js";

useCleanup();

const httpServer = createServer();
const io = new Server(httpServer, { transports: ["polling", "websocket"], parser: { Encoder: PylonEncoder, Decoder: PylonDecoder } });
await new Promise<void>((r) => httpServer.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
after(() => new Promise<void>((r) => io.close(() => r())));

const require = createRequire(import.meta.url);
const source = (fn: unknown): string => Function.prototype.toString.call(fn);

interface Conn {
  on(e: string, fn: (...a: unknown[]) => void): unknown;
  off(e: string, fn: (...a: unknown[]) => void): unknown;
  transport: { name: string; listeners(e: string): { name: string }[] };
}
const conn = (s: Socket): Conn => connOf(s) as unknown as Conn;
const wsMessageListeners = (s: Socket): string[] =>
  (conn(s).transport as unknown as { socket: { listeners(e: string): { name: string }[] } }).socket.listeners("message").map((l) => l.name);

function echoing(name: string): ReturnType<Server["of"]> {
  const nsp = io.of(name);
  nsp.on("connection", (s) => {
    compactConnection(s);
    s.on("echo", (v: unknown, ack: (v: unknown) => void) => ack(v));
    s.on("bin", (b: Buffer, ack: (n: number) => void) => ack(b.length));
  });
  return nsp;
}

test("engine.io Socket#onPacket and socket.io Client#ondata/ondecoded do what the direct path replaces", () => {
  const engineSocket = require(join(dirname(require.resolve("engine.io")), "socket.js")) as { Socket: { prototype: Record<string, unknown> } };
  const onPacket = source(engineSocket.Socket.prototype.onPacket).replace(/\s+/g, " ");
  assert.match(onPacket, /if \("open" !== this\.readyState\) \{ return debug\(/, "a packet of a socket that is not open is dropped");
  assert.match(onPacket, /this\.emit\("packet", packet\);/);
  assert.match(onPacket, /this\.protocol !== 3 && this\.pingTimeoutTimer !== null && !this\.hasRefreshedPingTimeout && packet\.type !== "pong"\) \{ debug\([^)]*\); this\.pingTimeoutTimer\.refresh\(\); this\.hasRefreshedPingTimeout = true; \}/);
  assert.match(onPacket, /case "message": this\.emit\("data", packet\.data\); this\.emit\("message", packet\.data\); break;/);
  const client = (require(join(dirname(require.resolve("socket.io")), "client.js")) as { Client: { prototype: Record<string, unknown> } }).Client.prototype;
  const setup = source(client.setup).replace(/\s+/g, " ");
  assert.match(setup, /this\.ondata = this\.ondata\.bind\(this\);/);
  assert.match(setup, /this\.ondecoded = this\.ondecoded\.bind\(this\);/);
  assert.match(setup, /this\.conn\.on\("data", this\.ondata\);/);
  assert.match(source(client.ondata).replace(/\s+/g, " "), /try \{ this\.decoder\.add\(data\); \} catch \(e\) \{ debug\([^)]*\); this\.onerror\(e\); \}/);
  const ondecoded = source(client.ondecoded).replace(/\s+/g, " ");
  assert.match(ondecoded, /const socket = this\.nsps\.get\(namespace\);/);
  assert.match(ondecoded, /packet\.type !== socket_io_parser_1\.PacketType\.CONNECT && packet\.type !== socket_io_parser_1\.PacketType\.CONNECT_ERROR\) \{ process\.nextTick\(function \(\) \{ socket\._onpacket\(packet\); \}\);/);
  // engine.io's WebSocket transport: one ws "message" listener that stringifies text and calls onData (replaced by
  // Pylon's directWsMessages), onData -> decodePacket -> onPacket -> "packet"; a text "4" + data is a message packet
  const transportDir = join(dirname(require.resolve("engine.io")), "transports");
  const wsTransport = require(join(transportDir, "websocket.js")) as { WebSocket: new (...a: unknown[]) => unknown };
  const ctor = source(wsTransport.WebSocket).replace(/\s+/g, " ");
  assert.equal(ctor.match(/this\.socket\.on\("message"/g)?.length, 1);
  assert.match(ctor, /this\.socket\.on\("message", \(data, isBinary\) => \{ const message = isBinary \? data : data\.toString\(\); debug\([^)]*\); super\.onData\(message\); \}\);/);
  const transportProto = (require(join(dirname(require.resolve("engine.io")), "transport.js")) as { Transport: { prototype: Record<string, unknown> } }).Transport.prototype;
  assert.match(source(transportProto.onData).replace(/\s+/g, " "), /^onData\(data\) \{ this\.onPacket\(this\.parser\.decodePacket\(data\)\); \}$/);
  assert.match(source(transportProto.onPacket).replace(/\s+/g, " "), /^onPacket\(packet\) \{ this\.emit\("packet", packet\); \}$/);
  const { decodePacket } = require("engine.io-parser") as { decodePacket(s: string): unknown };
  assert.deepEqual(decodePacket('42["x"]'), { type: "message", data: '2["x"]' });
  assert.deepEqual(decodePacket("4"), { type: "message" });
  const socketProto = (require("socket.io") as { Socket: { prototype: Record<string, unknown> } }).Socket.prototype;
  const onpacket = source(socketProto._onpacket).replace(/\s+/g, " ");
  assert.match(onpacket, /^_onpacket\(packet\) \{ debug\([^)]*\); switch \(packet\.type\) \{ case socket_io_parser_1\.PacketType\.EVENT: case socket_io_parser_1\.PacketType\.BINARY_EVENT: this\.onevent\(packet\); break;/, "an EVENT goes to onevent, nothing else");
  assert.match(source(client._parseNamespace).replace(/\s+/g, " "), /if \(this\.conn\.protocol !== 3\) \{ return \{ namespace: packet\.nsp, authPayload: packet\.data, \};/);
});

test("websocket: on the direct path; engine listeners see every message in order; acks, binary, bad packets as before", async () => {
  const nsp = echoing("/direct");
  const next = onceEvent<[Socket]>(nsp, "connection");
  const client = await connectClient(`${base}/direct`, { transports: ["websocket"] });
  const [server] = await next;
  const report = compactConnection(server);
  assert.equal(report.directInbound, false, "already on (compacted by the connection listener)");
  assert.deepEqual(wsMessageListeners(server), ["pylonWsMessage"], "engine.io's ws message closure replaced");
  // a listener the application adds on the engine connection, before and after socket.io's own
  const seen: string[] = [];
  const onData = (d: unknown): void => void seen.push(`data:${typeof d === "string" ? d : "binary"}`);
  const onMessage = (d: unknown): void => void seen.push(`message:${typeof d === "string" ? d : "binary"}`);
  conn(server).on("data", onData);
  conn(server).on("message", onMessage);
  assert.equal(await client.timeout(5000).emitWithAck("echo", { a: [1, "é"] }).then((v) => JSON.stringify(v)), '{"a":[1,"é"]}');
  assert.equal(await client.timeout(5000).emitWithAck("bin", Buffer.from([1, 2, 3])), 3, "binary events take socket.io's path");
  assert.equal(await client.timeout(5000).emitWithAck("echo", 7), 7, "text after binary");
  assert.deepEqual(seen.slice(0, 2), ['data:2/direct,0["echo",{"a":[1,"é"]}]', 'message:2/direct,0["echo",{"a":[1,"é"]}]']);
  assert.deepEqual(seen.slice(2), [
    'data:51-/direct,1["bin",{"_placeholder":true,"num":0}]',
    'message:51-/direct,1["bin",{"_placeholder":true,"num":0}]',
    "data:binary",
    "message:binary",
    'data:2/direct,2["echo",7]',
    'message:2/direct,2["echo",7]',
  ]);
  conn(server).off("data", onData);
  conn(server).off("message", onMessage);
  // a malformed packet: socket.io's decoder throws and the client is closed ("forced close"), as without the direct path
  const reason = onceEvent<[string]>(server, "disconnect");
  (client.io.engine as unknown as { write(d: string): void }).write('2["echo",');
  assert.equal((await reason)[0], "forced close");
  client.disconnect();
});

test("one connection, two namespaces: each event reaches its namespace's socket; a namespace not joined closes like socket.io", async () => {
  const a = echoing("/na");
  const b = echoing("/nb");
  b.on("connection", (s) => s.on("who", (ack: (v: string) => void) => ack("nb")));
  a.on("connection", (s) => s.on("who", (ack: (v: string) => void) => ack("na")));
  const ca = await connectClient(`${base}/na`, { transports: ["websocket"] });
  const cb = ca.io.socket("/nb");
  cb.connect();
  await onceEvent(cb, "connect");
  assert.equal(await ca.timeout(5000).emitWithAck("who"), "na");
  assert.equal(await cb.timeout(5000).emitWithAck("who"), "nb");
  const [server] = [...a.sockets.values()];
  assert.ok(server);
  const reason = onceEvent<[string]>(server, "disconnect");
  (ca.io.engine as unknown as { write(d: string): void }).write('2/never-joined,["x"]');
  assert.equal((await reason)[0], "forced close", "socket.io closes a client that sends to a namespace it did not join");
  ca.disconnect();
});

test("a 'packet' listener on the engine connection: engine.io's own path, same results", async () => {
  const nsp = echoing("/packet-listener");
  const next = onceEvent<[Socket]>(nsp, "connection");
  const client = await connectClient(`${base}/packet-listener`, { transports: ["websocket"] });
  const [server] = await next;
  const packets: string[] = [];
  conn(server).on("packet", (p: unknown) => void packets.push((p as { type: string }).type));
  assert.equal(await client.timeout(5000).emitWithAck("echo", "x"), "x");
  assert.deepEqual(packets, ["message"]);
  client.disconnect();
});

test("polling, then upgrade: the direct path follows the connection to the new transport", async () => {
  const nsp = echoing("/upgrade");
  const next = onceEvent<[Socket]>(nsp, "connection");
  const client = await connectClient(`${base}/upgrade`, { transports: ["polling", "websocket"] });
  const [server] = await next;
  assert.equal(await client.timeout(5000).emitWithAck("echo", "on polling"), "on polling");
  await waitFor(() => conn(server).transport.name === "websocket", { message: "upgraded" });
  assert.deepEqual(conn(server).transport.listeners("packet").map((l) => l.name), ["transportPacket"], "the new transport's listeners are shared");
  assert.deepEqual(wsMessageListeners(server), ["pylonWsMessage"], "and its ws message listener is Pylon's");
  for (let i = 0; i < 20; i++) assert.equal(await client.timeout(5000).emitWithAck("echo", i), i);
  client.disconnect();
});

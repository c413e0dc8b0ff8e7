/**
 * Pins every engine.io / socket.io / socket.io-adapter / ws internal the write path and flow control rely on
 * (src/transport/engine-internals.ts). If an upgrade changes one, a test here fails with the assumption's name
 * instead of the fast path silently misordering, leaking or dropping.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Server, type Socket } from "socket.io";
import { Adapter, SessionAwareAdapter } from "socket.io-adapter";
import { RedisAdapter } from "@socket.io/redis-adapter";
import { NodeClusterAdapter } from "@socket.io/cluster-adapter";
import WebSocket from "ws";
import {
  closeConnectionNow,
  connOf,
  eventNameOfEncoded,
  namespacesOf,
  releaseHandshakeRequest,
  safeWebSocket,
  wsBufferedBytes,
  wsOf,
} from "../../src/transport/engine-internals.js";
import { ensureFastPath, hasFastPath, isFastPathWrapped, withFastPath } from "../../src/transport/fast-path.js";
import { REPO_ROOT, connectClient, onceEvent, useCleanup, waitFor } from "../helpers/index.js";

useCleanup();
const requireFrom = createRequire(import.meta.url);
/** Loads a file inside node_modules by path (packages' "exports" hide their build files). */
function require(path: string): Record<string, unknown> {
  return requireFrom(join(REPO_ROOT, "node_modules", path)) as Record<string, unknown>;
}

const httpServer = createServer();
const io = new Server(httpServer, { transports: ["polling", "websocket"], perMessageDeflate: false });
await new Promise<void>((r) => httpServer.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
after(() => new Promise<void>((r) => io.close(() => r())));

function src(fn: unknown): string {
  return String(fn);
}

async function serverSocketFor(transports: string[]): Promise<{ server: Socket; close(): void }> {
  const next = onceEvent<[Socket]>(io, "connection");
  const client = await connectClient(base, { transports });
  const [server] = await next;
  return { server, close: () => client.disconnect() };
}

test("versions the write path was written against (bump only with this file)", () => {
  const versions = Object.fromEntries(
    ["socket.io", "engine.io", "socket.io-adapter", "ws", "@socket.io/redis-adapter", "@socket.io/cluster-adapter"].map((n) => [
      n,
      (JSON.parse(readFileSync(join(REPO_ROOT, "node_modules", n, "package.json"), "utf8")) as { version: string }).version,
    ]),
  );
  assert.deepEqual(versions, {
    "socket.io": "4.8.4",
    "engine.io": "6.6.11",
    "socket.io-adapter": "2.5.8",
    ws: "8.21.3",
    "@socket.io/redis-adapter": "8.3.0",
    "@socket.io/cluster-adapter": "0.3.0",
  });
});

test("Adapter.prototype.broadcast: _encode then apply, synchronously; broadcastWithAck sets packet.id before _encode", () => {
  const b = src(Adapter.prototype.broadcast);
  const encodeAt = b.indexOf("this._encode(");
  const applyAt = b.indexOf("this.apply(");
  assert.ok(encodeAt > 0 && applyAt > encodeAt, "broadcast calls this._encode(...) then this.apply(...)");
  assert.ok(!/await|then\(|setTimeout|nextTick/.test(b.slice(encodeAt, applyAt)), "nothing asynchronous between _encode and apply");
  assert.match(b, /writeToEngine\(encodedPackets, packetOpts\)/, "per-socket write is client.writeToEngine(encoded, packetOpts)");
  assert.match(b, /notifyOutgoingListeners/, "broadcast notifies onAnyOutgoing listeners");
  const w = src(Adapter.prototype.broadcastWithAck);
  assert.ok(w.indexOf("packet.id =") > 0 && w.indexOf("packet.id =") < w.indexOf("this._encode("), "ack id is set before _encode");
  assert.match(src(SessionAwareAdapter.prototype.broadcast), /super\.broadcast\(packet, opts\)/, "CSR adapter ends in Adapter.broadcast");
});

test("_encode pre-builds a 2-part ws frame for a plain string packet, none for binary", () => {
  const nsp = io.of("/pin-encode");
  const opts: Record<string, unknown> = { preEncoded: true };
  const encoded = (nsp.adapter as unknown as { _encode(p: unknown, o: unknown): unknown[] })._encode({ type: 2, data: ["e", 1], nsp: "/pin-encode" }, opts);
  assert.equal(encoded.length, 1);
  const frame = opts.wsPreEncodedFrame as Buffer[];
  assert.ok(Array.isArray(frame) && frame.length === 2 && Buffer.isBuffer(frame[0]) && Buffer.isBuffer(frame[1]), "frame is [header, payload]");
  assert.equal(frame[1]!.toString(), "4" + String(encoded[0]));
  const binOpts: Record<string, unknown> = {};
  (nsp.adapter as unknown as { _encode(p: unknown, o: unknown): unknown[] })._encode({ type: 2, data: ["e", Buffer.from([1])], nsp: "/pin-encode" }, binOpts);
  assert.equal(binOpts.wsPreEncodedFrame, undefined, "binary packets have no pre-built frame (fast path not used)");
});

test("Redis and cluster adapters do not override apply/_encode and end local delivery in super.broadcast", () => {
  for (const [name, C] of [["RedisAdapter", RedisAdapter], ["NodeClusterAdapter", NodeClusterAdapter]] as const) {
    let proto: object | null = C.prototype as object;
    while (proto && proto !== Adapter.prototype) {
      assert.ok(!Object.prototype.hasOwnProperty.call(proto, "apply"), `${name}: ${proto.constructor.name} overrides apply`);
      assert.ok(!Object.prototype.hasOwnProperty.call(proto, "_encode"), `${name}: ${proto.constructor.name} overrides _encode`);
      proto = Object.getPrototypeOf(proto) as object | null;
    }
    assert.equal(proto, Adapter.prototype, `${name} extends socket.io-adapter's Adapter`);
  }
  assert.match(src(RedisAdapter.prototype.broadcast), /super\.broadcast\(packet, opts\)/);
});

test("ws: Sender#sendFrame(list, cb), Sender.frame -> [header, data], bufferedAmount = socket buffer + sender bytes", () => {
  const Sender = (WebSocket as unknown as { Sender: { frame(d: Buffer, o: object): Buffer[]; prototype: Record<string, unknown> } }).Sender;
  assert.equal(typeof Sender.prototype.sendFrame, "function");
  const list = Sender.frame(Buffer.from("4hello"), { readOnly: false, mask: false, rsv1: false, opcode: 1, fin: true });
  assert.equal(list.length, 2);
  const bufferedAmount = Object.getOwnPropertyDescriptor(WebSocket.prototype, "bufferedAmount")!.get!.toString();
  assert.match(bufferedAmount, /_socket\._writableState\.length \+ this\._sender\._bufferedBytes/);
  assert.match(src(Sender.prototype.sendFrame), /this\._socket\.write\(list\[1\], cb\)/, "sendFrame writes straight to the net.Socket");
});

test("engine.io: flush replaces writeBuffer and calls transport.send; websocket send clears writable until the last write completes", () => {
  const EioSocket = require("engine.io/build/socket.js").Socket as unknown as { prototype: Record<string, unknown> };
  const flush = src(EioSocket.prototype.flush);
  assert.match(flush, /this\.transport\.writable/);
  assert.match(flush, /this\.writeBuffer = \[\]/, "flush replaces the buffer (our byte counter keys on the array)");
  assert.match(flush, /this\.server\.emit\("flush", this, this\.writeBuffer\)/, "server-level flush event (outbound metrics)");
  assert.match(src(EioSocket.prototype.sendPacket), /this\.writeBuffer\.push\(packet\)[\s\S]*this\.flush\(\)/, "sendPacket queues then flushes");
  assert.equal(typeof EioSocket.prototype.onClose, "function");
  const WsTransport = require("engine.io/build/transports/websocket.js").WebSocket as unknown as { prototype: Record<string, unknown> };
  assert.match(src(WsTransport.prototype.send), /this\.writable = false/);
  const ClientProto = (require("socket.io/dist/client.js").Client as { prototype: unknown }).prototype as Record<string, unknown>;
  assert.match(src(ClientProto.writeToEngine), /opts\.volatile && !this\.conn\.transport\.writable/, "volatile dropped when not writable");
  assert.match(src(ClientProto._packet), /this\.writeToEngine\(/, "per-socket emits go through writeToEngine");
  const SocketProto = (require("socket.io/dist/socket.js").Socket as { prototype: unknown }).prototype as Record<string, unknown>;
  assert.match(src(SocketProto.notifyOutgoingListeners), /this\._anyOutgoingListeners[\s\S]*listener\.apply\(this, packet\.data\)/, "onAnyOutgoing listeners get packet.data as arguments");
  const NspProto = (require("socket.io/dist/namespace.js").Namespace as { prototype: unknown }).prototype as Record<string, unknown>;
  assert.match(src(NspProto._initAdapter), /new \(this\.server\.adapter\(\)\)\(this\)/, "adapters are created with new from io.adapter()");
  assert.match(src(NspProto._doConnect), /this\.sockets\.set\(socket\.id, socket\)[\s\S]*_onconnect/, "nsp.sockets is set before the socket joins");
});

test("live websocket connection: safeWebSocket, ws internals, and the invariant 'writable implies empty write buffer'", async () => {
  const { server, close } = await serverSocketFor(["websocket"]);
  const conn = connOf(server);
  await waitFor(() => conn.transport.writable, { message: "transport writable when idle" });
  assert.equal(conn.transport.name, "websocket");
  assert.equal(conn._readyState, "open");
  assert.equal(conn.writeBuffer.length, 0);
  const ws = safeWebSocket(conn);
  assert.ok(ws, "an idle websocket connection is safe");
  assert.equal(ws, wsOf(conn));
  assert.ok(ws._socket && typeof ws._socket.cork === "function" && typeof ws._socket.writableLength === "number");
  assert.equal(typeof ws._sender._bufferedBytes, "number");
  assert.deepEqual(Object.keys(ws._extensions), [], "no permessage-deflate negotiated");
  assert.equal(typeof ws.terminate, "function");
  assert.equal(wsBufferedBytes(ws), (ws as unknown as { bufferedAmount: number }).bufferedAmount);
  // after an engine write, the transport is busy: the next packets queue and the connection is not safe
  server.emit("a", 1);
  server.emit("b", 2);
  assert.equal(conn.transport.writable, false, "engine write clears writable");
  assert.ok(conn.writeBuffer.length >= 1, "the next packet waits in writeBuffer");
  assert.equal(safeWebSocket(conn), null, "busy connection is not safe");
  await waitFor(() => conn.transport.writable && conn.writeBuffer.length === 0, { message: "drained" });
  assert.equal(eventNameOfEncoded(conn.writeBuffer[0]?.data ?? '2["cursor",1]'), "cursor");
  assert.equal(eventNameOfEncoded('2/chat,12["typing",{}]'), "typing");
  close();
});

test("live polling connection is never safe; the request can be released and handshake stays intact", async () => {
  const { server, close } = await serverSocketFor(["polling"]);
  const conn = connOf(server);
  assert.equal(safeWebSocket(conn), null);
  assert.equal(wsOf(conn), null);
  const headers = server.handshake.headers;
  assert.equal(server.request.headers, headers, "handshake.headers is the request's headers object");
  assert.ok(releaseHandshakeRequest(conn));
  assert.equal(server.handshake.headers, headers);
  assert.equal((server.request as unknown as { pylonReleased: boolean }).pylonReleased, true);
  assert.equal(server.request.headers, headers);
  assert.equal(server.request.socket.remoteAddress, "127.0.0.1");
  close();
});

test("closeConnectionNow reports its reason as the socket.io disconnect reason", async () => {
  const { server } = await serverSocketFor(["websocket"]);
  const reason = onceEvent<[string]>(server, "disconnect");
  closeConnectionNow(connOf(server), "slow_consumer");
  assert.equal((await reason)[0], "slow_consumer");
});

test("withFastPath wraps classes and factories; ensureFastPath hooks existing adapters without re-creating them", () => {
  const Wrapped = withFastPath(Adapter);
  assert.ok(isFastPathWrapped(Wrapped));
  assert.equal(withFastPath(Wrapped), Wrapped, "idempotent");
  const nsp = io.of("/pin-wrap");
  const before = nsp.adapter;
  assert.ok(!hasFastPath(before));
  ensureFastPath(io);
  assert.equal(nsp.adapter, before, "same instance");
  assert.ok(hasFastPath(before));
  assert.ok(isFastPathWrapped(io.adapter()));
  assert.ok(namespacesOf(io).has("/pin-wrap"));
  const later = io.of("/pin-later");
  assert.ok(hasFastPath(later.adapter), "namespaces created afterwards get it from the wrapped constructor");
});

/**
 * The one place that reaches into engine.io / socket.io / ws internals (versions pinned exactly in package.json:
 * socket.io 4.8.4, engine.io 6.6.11, socket.io-adapter 2.5.8, ws 8.21.3).
 * test/unit/engine-internals.test.ts and test/unit/engine-internals-writepath.test.ts pin every assumption made
 * here, so an upgrade fails loudly instead of silently misordering or leaking.
 *
 * Assumptions used by the write path (src/transport/fast-path.ts) and flow control (src/flow/):
 * - engine Socket: `transport`, `writeBuffer` (array of packets `{ type, data, options }`), `_readyState`,
 *   `request`, `onClose(reason)`; "transport.writable implies writeBuffer is empty" after every flush.
 * - engine WebSocket transport: `name === "websocket"`, `writable`, `socket` (the ws WebSocket), `perMessageDeflate`.
 * - ws WebSocket: `readyState` (1 = OPEN), `_socket` (net.Socket), `_sender.sendFrame(list, cb)`,
 *   `_sender._bufferedBytes`, `_extensions`, `terminate()`.
 * - socket.io Client: `writeToEngine(encodedPackets, opts)` on its prototype, `conn`.
 * - socket.io Server: `_nsps` (Map of namespaces).
 * - socket.io Socket: `fns` (middleware array, read through `this.fns` per event), `_anyListeners`,
 *   `_anyOutgoingListeners` (arrays, read through the property each time); `onevent(packet)` is called by
 *   `_onpacket` (within the Client's per-packet nextTick) through `this.onevent`; it takes `packet.data || []` as
 *   the event array, pushes `this.ack(packet.id)` when the packet has an id, calls the any-listeners, then
 *   `this.dispatch(args)`, which runs `fns` then emits on a later tick when `connected`. The ack function sends
 *   once, `this.packet({ id, type: ACK, data: args })`.
 * - socket.io-adapter Adapter.prototype.broadcast calls `this._encode(packet, packetOpts)` and then immediately
 *   `this.apply(opts, callback)`, synchronously, for every broadcast (local ones and those received from the
 *   Redis / cluster adapters).
 */
import { EventEmitter } from "node:events";
import { Socket, type Namespace, type Server } from "socket.io";
import { PylonDecoder, encodeAckText, encodesLikePylon } from "../protocol/parser.js";
import { HeartbeatHandle, type HeartbeatWheel } from "./heartbeat-wheel.js";
import { LazyMap, SmallMap } from "./small-maps.js";

/** An Engine.IO connection as engine.io keeps it in `engine.clients`. */
export interface EngineConnection {
  id: string;
  readyState: string;
  protocol: number;
  transport: { name: string };
  close(discard?: boolean): void;
}

/** engine.io's `clients` (protected, a plain object keyed by sid in engine.io 6). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function engineConnections(io: Server<any, any, any, any>): EngineConnection[] {
  const clients = (io.engine as unknown as { clients: Record<string, EngineConnection> }).clients;
  return Object.values(clients);
}

/** engine.io's mutable options object, read on every new handshake. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function engineOptionsObject(io: Server<any, any, any, any>): { transports: unknown; allowUpgrades?: unknown } {
  return io.engine.opts as unknown as { transports: unknown; allowUpgrades?: unknown };
}

// ---------------------------------------------------------------------------------------------------------------
// Write path internals
// ---------------------------------------------------------------------------------------------------------------

/** net.Socket as the write path uses it. */
export interface NetSocketLike {
  readonly writableLength: number;
  readonly destroyed: boolean;
  cork(): void;
  uncork(): void;
}

/** ws WebSocket internals. */
export interface WsInternals {
  readyState: number;
  _socket: NetSocketLike | null;
  _sender: { sendFrame(list: readonly Buffer[], cb?: (err?: Error) => void): void; _bufferedBytes: number };
  _extensions: Record<string, unknown>;
  terminate(): void;
}

/** An engine.io packet in the write buffer. */
export interface EnginePacket {
  type: string;
  data?: string | Buffer;
  options?: { volatile?: boolean; wsPreEncodedFrame?: readonly Buffer[] } & Record<string, unknown>;
}

interface TransportInternals {
  readonly name: string;
  writable: boolean;
  socket?: WsInternals;
  perMessageDeflate?: unknown;
}

/** engine.io Socket internals. */
export interface EngineConnInternals {
  id: string;
  _readyState: string;
  transport: TransportInternals;
  writeBuffer: EnginePacket[];
  request: unknown;
  upgrading: boolean;
  onClose(reason: string, description?: unknown): void;
  on(event: string, fn: (...args: unknown[]) => void): unknown;
}

/** A socket.io Socket's engine connection, typed with the internals above. */
export function connOf(socket: Socket): EngineConnInternals {
  return socket.conn as unknown as EngineConnInternals;
}

const WS_OPEN = 1;

/**
 * The ws WebSocket of a connection when a pre-built frame may be written straight to it now without reordering:
 * websocket transport, transport writable, engine write buffer empty, engine socket open, no permessage-deflate,
 * ws OPEN with a live net.Socket. Otherwise null (use the normal engine path, which queues behind what is pending).
 */
export function safeWebSocket(conn: EngineConnInternals): WsInternals | null {
  const t = conn.transport;
  if (!t.writable || conn.writeBuffer.length !== 0 || conn._readyState !== "open" || t.perMessageDeflate) return null;
  const ws = t.socket;
  if (ws === undefined || ws.readyState !== WS_OPEN || ws._socket === null || t.name !== "websocket") return null;
  if (ws._extensions["permessage-deflate"] !== undefined) return null;
  return ws;
}

/**
 * A query parameter of an engine request: from the query engine.io's `prepare()` parsed into `req._query` (set before
 * allowRequest and before the `headers` event), else parsed from the URL. undefined when absent or not a string.
 */
export function engineQueryParam(req: { url?: string | undefined }, name: string): string | undefined {
  const query = (req as { _query?: Record<string, unknown> })._query;
  const v = query !== undefined ? query[name] : new URL(req.url ?? "/", "http://localhost").searchParams.get(name);
  return typeof v === "string" ? v : undefined;
}

/** Writes a frame built by ws's `Sender.frame()` (socket.io-adapter's `wsPreEncodedFrame`) without a callback. */
export function writeFrame(ws: WsInternals, frame: readonly Buffer[]): void {
  ws._sender.sendFrame(frame);
}

/** Bytes buffered in user space for a ws WebSocket (same as ws's `bufferedAmount`). */
export function wsBufferedBytes(ws: WsInternals): number {
  const net = ws._socket;
  return (net === null ? 0 : net.writableLength) + ws._sender._bufferedBytes;
}

/** The ws WebSocket of a connection whose current transport is websocket (whatever its state), else null. */
export function wsOf(conn: EngineConnInternals): WsInternals | null {
  const t = conn.transport;
  return t.name === "websocket" && t.socket !== undefined ? t.socket : null;
}

/** Length in bytes (approximate for strings: UTF-16 length) of a packet in the engine write buffer. */
export function packetBytes(p: EnginePacket): number {
  const d = p.data;
  if (d === undefined) return 1;
  return typeof d === "string" ? d.length + 1 : d.byteLength + 1;
}

/**
 * Closes a connection at once with a reason that socket.io reports as the disconnect reason (e.g. "slow_consumer"),
 * and destroys the WebSocket's TCP socket so its buffers are freed now (a close frame would queue behind them).
 */
export function closeConnectionNow(conn: EngineConnInternals, reason: string): void {
  const ws = wsOf(conn);
  if (conn._readyState !== "closed") conn.onClose(reason);
  ws?.terminate();
}

/** Event name of an encoded socket.io EVENT packet (`2/nsp,12["name",...]`), or undefined. Slow path only. */
export function eventNameOfEncoded(data: unknown): string | undefined {
  if (typeof data !== "string") return undefined;
  const start = data.indexOf('["');
  if (start < 0 || start > 256) return undefined;
  const end = data.indexOf('"', start + 2);
  return end < 0 ? undefined : data.slice(start + 2, end);
}

/** The per-socket write function of socket.io's Client, replaceable per instance. */
export type WriteToEngine = (this: unknown, encodedPackets: unknown, opts: { volatile?: boolean } & Record<string, unknown>) => void;

/** socket.io Client.prototype.writeToEngine of a socket's client. */
export function originalWriteToEngine(socket: Socket): WriteToEngine {
  const client = socket.client as unknown as object;
  return (Object.getPrototypeOf(client) as { writeToEngine: WriteToEngine }).writeToEngine;
}

/** socket.io's own Client#writeToEngine (the prototype's), called on a Client whose instance method is replaced. */
export function engineWrite(client: unknown, encodedPackets: unknown, opts: Record<string, unknown>): void {
  (Object.getPrototypeOf(client) as { writeToEngine: WriteToEngine }).writeToEngine.call(client, encodedPackets, opts);
}

/** Installs a replacement writeToEngine on one Client instance (shared function; `this` is the Client). */
export function setClientWrite(socket: Socket, fn: WriteToEngine): void {
  const client = socket.client as unknown as { writeToEngine: WriteToEngine };
  if (client.writeToEngine !== fn) client.writeToEngine = fn;
}

/** The engine connection of the Client a writeToEngine call runs on. */
export function connOfClient(client: unknown): EngineConnInternals {
  return (client as { conn: EngineConnInternals }).conn;
}

/** socket.io's namespaces (protected `_nsps`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function namespacesOf(io: Server<any, any, any, any>): Map<string, Namespace> {
  return (io as unknown as { _nsps: Map<string, Namespace> })._nsps;
}

// ---------------------------------------------------------------------------------------------------------------
// Inbound dispatch (the event pipeline's direct path, src/server/event-pipeline.ts)
// ---------------------------------------------------------------------------------------------------------------

/** socket.io Socket#onevent: the packet's data array, the ack function pushed last, any-listeners, then dispatch. */
export type SocketOnevent = (this: Socket, packet: InboundEventPacket) => void;
/** What onevent reads of a decoded EVENT packet. */
export interface InboundEventPacket {
  id?: number;
  data?: unknown[];
}

/** socket.io-parser's PacketType.EVENT and ACK. */
const EVENT_PACKET = 2;
const ACK_PACKET = 3;
const protoOnevent = (Socket.prototype as unknown as { onevent: SocketOnevent }).onevent;
const emitLocal = EventEmitter.prototype.emit as (this: unknown, ...event: unknown[]) => boolean;

/** Replaces socket.io's onevent on one Socket instance (an own property; `_onpacket` calls `this.onevent`). */
export function setSocketOnevent(socket: Socket, fn: SocketOnevent): void {
  (socket as unknown as { onevent: SocketOnevent }).onevent = fn;
}

/** socket.io's own onevent (its ack function, any-listeners, then dispatch: the middlewares, handlers a tick later). */
export function oneventThroughDispatch(socket: Socket, packet: InboundEventPacket): void {
  protoOnevent.call(socket, packet);
}

/** Whether `middleware` is the socket's only socket.use middleware and nothing listens with onAny (read through
 * the properties, like socket.io): then onevent's work reduces to the ack function and that middleware. */
export function isSoleListener(socket: Socket, middleware: unknown): boolean {
  const s = socket as unknown as { fns: unknown[]; _anyListeners?: unknown[] };
  return s.fns.length === 1 && s.fns[0] === middleware && (s._anyListeners === undefined || s._anyListeners.length === 0);
}

interface AckClient {
  encoder: unknown;
  conn: { readyState: string };
  writeToEngine(encodedPackets: string[], opts: { compress: boolean }): void;
}

/**
 * What socket.io's ack function sends: `socket.packet({ id, type: ACK, data: args })`, which sets the namespace and
 * `compress`, then Client#_packet: nothing unless the connection is open, the encoder's output to writeToEngine.
 * With Pylon's encoder and plain-JSON args the string is built here (encodeAckText, the same string) and handed to
 * writeToEngine directly; otherwise socket.io's own path runs.
 */
export function sendAck(socket: Socket, id: number, args: unknown[]): void {
  const client = socket.client as unknown as AckClient;
  const str = encodesLikePylon(client.encoder) ? encodeAckText(socket.nsp.name, id, args) : undefined;
  if (str === undefined) {
    (socket as unknown as { packet(p: { id: number; type: number; data: unknown[] }): void }).packet({ id, type: ACK_PACKET, data: args });
    return;
  }
  if (client.conn.readyState !== "open") return;
  client.writeToEngine([str], { compress: true });
}

/** What socket.io's dispatch does once the middlewares passed: the socket's own listeners, if still connected. */
export function emitToHandlers(socket: Socket, event: unknown[]): void {
  if (socket.connected) emitLocal.apply(socket, event);
}

// ---------------------------------------------------------------------------------------------------------------
// Adapter internals (fast path mixin)
// ---------------------------------------------------------------------------------------------------------------

/** The parts of socket.io-adapter's Adapter the fast path hooks, as own properties on an instance. */
export interface AdapterInternals {
  nsp: Namespace;
  rooms: Map<string, Set<string>>;
  sids: Map<string, Set<string>>;
  _encode(packet: unknown, packetOpts: Record<string, unknown>): unknown[];
  apply(opts: { rooms: Set<string>; except?: Set<string>; flags?: Record<string, unknown> }, cb: (socket: Socket) => void): void;
  addAll(id: string, rooms: Set<string>): void;
  del(id: string, room: string): void;
  delAll(id: string): void;
}

/** socket.io Socket.prototype.notifyOutgoingListeners (onAnyOutgoing), called for every delivery like the adapter does. */
export function notifyOutgoing(socket: Socket, packet: { data?: unknown }): void {
  const s = socket as unknown as { _anyOutgoingListeners?: ((...a: unknown[]) => void)[]; notifyOutgoingListeners(p: unknown): void };
  const listeners = s._anyOutgoingListeners;
  if (listeners === undefined || listeners.length === 0) return;
  // one listener (Pylon's own traffic instruments): same call as socket.io's, without its defensive copy per delivery
  if (listeners.length === 1) listeners[0]!.apply(socket, packet.data as unknown[]);
  else s.notifyOutgoingListeners(packet);
}

// ---------------------------------------------------------------------------------------------------------------
// Memory per connection
// ---------------------------------------------------------------------------------------------------------------

/** What stays of the HTTP request once released: what socket.handshake and Pylon's own code read. */
export interface RequestStandIn {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly url: string | undefined;
  readonly method: string | undefined;
  readonly _query: unknown;
  readonly socket: { readonly remoteAddress: string | undefined; readonly remotePort: number | undefined; readonly encrypted: boolean };
  readonly connection: RequestStandIn["socket"];
  readonly pylonReleased: true;
}

interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
  url?: string;
  method?: string;
  _query?: unknown;
  socket?: { remoteAddress?: string; remotePort?: number; encrypted?: boolean } | null;
  websocket?: unknown;
  pylonReleased?: true;
}

/**
 * Replaces the engine connection's retained HTTP request (IncomingMessage, raw headers, its socket and parser
 * references) with a small stand-in. socket.handshake is untouched (its headers object is the same object).
 */
export function releaseHandshakeRequest(conn: EngineConnInternals): boolean {
  const req = conn.request as RequestLike | null | undefined;
  if (req == null || req.pylonReleased === true) return false;
  const sock = { remoteAddress: req.socket?.remoteAddress, remotePort: req.socket?.remotePort, encrypted: !!req.socket?.encrypted };
  const standIn: RequestStandIn = {
    headers: req.headers,
    url: req.url,
    method: req.method,
    _query: req._query,
    socket: sock,
    connection: sock,
    pylonReleased: true,
  };
  // engine.io's onWebSocket() leaves an `error` listener (onUpgradeError, a closure over the request that only logs)
  // on a websocket that handshook directly; the transport has its own error listener, so dropping it is safe.
  const ws = wsOf(conn) as unknown as { listeners(e: string): ((...a: unknown[]) => void)[]; off(e: string, fn: unknown): void } | null;
  if (ws !== null) for (const l of ws.listeners("error")) if (l.name === "onUpgradeError") ws.off("error", l);
  req.websocket = undefined;
  conn.request = standIn;
  return true;
}

/**
 * Re-allocates at their exact length the per-socket arrays socket.io grows with spare capacity (V8 gives a first
 * `push` 16 slots): the middleware list `fns` (socket.use) and the any-listener lists (onAny, onAnyOutgoing).
 * socket.io reads them as plain arrays (it copies `fns` per event); later pushes still work. ~100 B per array.
 */
export function compactSocketArrays(socket: Socket): void {
  const s = socket as unknown as { fns?: unknown[]; _anyListeners?: unknown[]; _anyOutgoingListeners?: unknown[] };
  if (Array.isArray(s.fns) && s.fns.length > 0) s.fns = s.fns.slice();
  if (Array.isArray(s._anyListeners) && s._anyListeners.length > 0) s._anyListeners = s._anyListeners.slice();
  if (Array.isArray(s._anyOutgoingListeners) && s._anyOutgoingListeners.length > 0) s._anyOutgoingListeners = s._anyOutgoingListeners.slice();
}

/** Sets socket.io's adapter constructor for namespaces created from now on, without re-creating existing adapters
 * (the public `io.adapter(x)` setter re-creates them, losing rooms and leaking backplane subscriptions). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function setAdapterForNewNamespaces(io: Server<any, any, any, any>, ctor: unknown): void {
  (io as unknown as { _adapter: unknown })._adapter = ctor;
}

// ---------------------------------------------------------------------------------------------------------------
// Memory per connection: listener tables (PERF-NOTES §3)
// ---------------------------------------------------------------------------------------------------------------
//
// Assumptions, pinned by test/unit/engine-internals-memory.test.ts:
// - node:events keeps listeners in `_events`, created as `{ __proto__: null }` (a dictionary-mode object, ~160-450 B
//   for a handful of keys), read only by own-key access; a value is a listener or an array of listeners; `once()`
//   stores a bound `onceWrapper` whose `.listener` is the original, and removeListener() matches either.
// - engine.io Socket#setTransport: `transport.once("error", onError)`, `transport.once("close", onClose)` (bound
//   functions named "bound onError" / "bound onClose") whose handlers are idempotent and which clearTransport() removes
//   by reference; the WebSocket transport: `ws.once("close", this.onClose.bind(this))` (ws emits "close" once).
// - engine.io Server#handshake: `socket.once("close", () => { delete this.clients[id]; this.clientsCount--; })`
//   (the socket's first "close" listener) and `transport.on("headers", ...)`, which only a polling transport emits.
// - engine.io Socket: `cleanupFn`, `packetsFn`, `sentCallbackFn`, `writeBuffer` arrays, replaced wholesale by engine.io
//   itself (never held elsewhere); socket.io-parser's Decoder keeps listeners in `_callbacks["$decoded"]` (array).
// - socket.io Socket `acks` and Client `sockets` / `nsps`: Maps read through the property, used only with
//   set/get/has/delete/clear/size/values (socket.io-adapter and BroadcastOperator: `socket.acks.set/delete`).
// - engine.io Socket#setTransport adds, on the transport, "error" (bound onError), "ready" (closure onReady),
//   "packet" (bound onPacket), "drain" (bound onDrain), "close" (bound onClose, "transport close") and pushes the one
//   cleanup function removing them into `cleanupFn`; clearTransport() calls and drops every cleanup function.
// - engine.io Socket heartbeat (protocol 4): `pingIntervalTimer` is set once, by schedulePing() at open, and afterwards
//   only `refresh()`ed (on pong) and passed to clearTimeout() (on close); its callback sets hasRefreshedPingTimeout
//   = false, sends "ping" and calls resetPingTimeout(). `pingTimeoutTimer` is null except while a ping is unanswered.

/** Empty, frozen, null-prototype object: the prototype of compacted `_events` (no inherited keys, like `{ __proto__: null }`). */
const NO_INHERITED_KEYS: object = Object.freeze(Object.create(null) as object);

type Listener = ((...args: unknown[]) => unknown) & { listener?: Listener };
interface EmitterInternals {
  _events?: Record<string | symbol, Listener | Listener[] | undefined>;
}

/**
 * Rebuilds an EventEmitter's listener table as a fast-mode object (null-prototype tables are dictionaries) with
 * arrays of listeners at their exact length (V8 grows a pushed array to 17 slots). Order of keys and listeners is kept.
 * A table with a prototype (node streams pre-shape theirs) keeps its object; only its arrays are re-allocated.
 */
export function compactEmitter(emitter: unknown): void {
  const e = emitter as EmitterInternals | null | undefined;
  const events = e?._events;
  if (events == null || typeof events !== "object") return;
  if (Object.getPrototypeOf(events) !== null) {
    for (const k of Reflect.ownKeys(events)) {
      const v = events[k];
      if (Array.isArray(v)) events[k] = v.slice();
    }
    return;
  }
  const fast = Object.create(NO_INHERITED_KEYS) as Record<string | symbol, Listener | Listener[] | undefined>;
  for (const k of Reflect.ownKeys(events)) {
    const v = events[k];
    fast[k] = Array.isArray(v) ? v.slice() : v;
  }
  e!._events = fast;
}

/**
 * Replaces, in place (same position), a `once()` wrapper for `type` whose listener `match` accepts by the listener itself.
 * Only for listeners that are idempotent and removed by reference when their emitter is cleaned up (see above):
 * removeListener(type, listener) still finds them. Saves the wrapper's state object, bound function and property
 * array (~150 B). Returns how many were unwrapped.
 */
function unwrapOnce(emitter: unknown, type: string, match: (l: Listener) => boolean, replaceWith?: Listener): number {
  const events = (emitter as EmitterInternals | null | undefined)?._events;
  const v = events?.[type];
  if (v === undefined) return 0;
  if (!Array.isArray(v)) {
    const inner = v.listener;
    if (inner === undefined || !match(inner)) return 0;
    events![type] = replaceWith ?? inner;
    return 1;
  }
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const inner = v[i]!.listener;
    if (inner === undefined || !match(inner)) continue;
    v[i] = replaceWith ?? inner;
    n++;
  }
  return n;
}

/** A matcher for a function made by `fn.bind()` from a function named `name` (built once per name, not per call). */
const isBound = (name: string): ((l: Listener) => boolean) => {
  const full = `bound ${name}`;
  return (l) => l.name === full;
};
const BOUND_ON_ERROR = isBound("onError");
const BOUND_ON_CLOSE = isBound("onClose");
const BOUND_ON_PACKET = isBound("onPacket");
const BOUND_ON_DRAIN = isBound("onDrain");

/** engine.io Server#handshake's close listener, shared by every connection (`this` is the engine Socket); also
 * releases the connection from the heartbeat wheel (engine.io's clearTimeout() does nothing to a wheel handle). */
function forgetEngineClient(this: { id: string; server: { clients: Record<string, unknown>; clientsCount: number }; pingIntervalTimer?: unknown }): void {
  delete this.server.clients[this.id];
  this.server.clientsCount--;
  const h = this.pingIntervalTimer;
  if (h instanceof HeartbeatHandle) h.cancel();
}

// engine.io Socket#setTransport gives every transport five listeners bound to the socket (four bound functions, one
// closure) and a cleanup closure over all five (~0.4 KB). The same five as functions shared by every connection, with
// `this` the transport and the socket found through one symbol-keyed property on the transport:
const TRANSPORT_OWNER = Symbol("pylon.engineSocket");
interface OwnedTransport {
  [TRANSPORT_OWNER]: { onError(err: unknown): void; flush(): void; onPacket(p: unknown): void; onDrain(): void; onClose(reason: string): void };
  removeListener(type: string, fn: Listener): unknown;
}
function transportError(this: OwnedTransport, err: unknown): void {
  this[TRANSPORT_OWNER].onError(err);
}
function transportReady(this: OwnedTransport): void {
  this[TRANSPORT_OWNER].flush();
}
function transportPacket(this: OwnedTransport, packet: unknown): void {
  const conn = this[TRANSPORT_OWNER];
  const client = (conn as unknown as DirectInboundConn)[INBOUND_CLIENT];
  if (client !== undefined && directInbound(conn as unknown as DirectInboundConn, client, packet as { type: string; data?: unknown })) return;
  conn.onPacket(packet);
}
function transportDrain(this: OwnedTransport): void {
  this[TRANSPORT_OWNER].onDrain();
}
function transportClose(this: OwnedTransport): void {
  this[TRANSPORT_OWNER].onClose("transport close");
}
/** What engine.io's cleanup closure does, for the shared listeners (bound to the transport, run by clearTransport()). */
function detachSharedListeners(this: OwnedTransport): void {
  this.removeListener("error", transportError as Listener);
  this.removeListener("ready", transportReady as Listener);
  this.removeListener("packet", transportPacket as Listener);
  this.removeListener("drain", transportDrain as Listener);
  this.removeListener("close", transportClose as Listener);
}

/** Index of the one listener of `type` that `match` accepts (-1: none, or more than one). */
function soleMatch(events: Record<string | symbol, Listener | Listener[] | undefined>, type: string, match: (l: Listener) => boolean): number {
  const v = events[type];
  if (v === undefined) return -1;
  if (!Array.isArray(v)) return match(v) ? 0 : -1;
  let at = -1;
  for (let i = 0; i < v.length; i++) {
    if (!match(v[i]!)) continue;
    if (at !== -1) return -1;
    at = i;
  }
  return at;
}

// ---------------------------------------------------------------------------------------------------------------
// Direct inbound path
// ---------------------------------------------------------------------------------------------------------------
//
// Assumptions, pinned by test/unit/engine-internals-inbound.test.ts:
// - engine.io Socket#onPacket(packet), for a "message" packet on an "open" socket: emits "packet" (packet), refreshes
//   the pong timeout once per ping (protocol 4: `pingTimeoutTimer` non-null and `!hasRefreshedPingTimeout`, then
//   `refresh()` and sets the flag), then emits "data" and "message" (packet.data); nothing else.
// - engine.io WebSocket transport: one ws "message" listener (a closure) that turns a text frame into a string and
//   calls `onData(message)`, which is `onPacket(parser.decodePacket(data))`, which emits "packet"; engine.io-parser
//   decodes "4" + data as `{ type: "message", data }` ("4" alone has no data).
// - socket.io Socket: `_onpacket(packet)` calls `this.onevent(packet)` for an EVENT, after a debug() call.
// - socket.io Client: `conn.on("data", this.ondata)` with `ondata` bound on the instance, `decoder`, `nsps` (Map by
//   namespace name, read through the property), `ondecoded` bound on the instance; for a decoded packet other than
//   CONNECT / CONNECT_ERROR whose namespace has a socket it runs `socket._onpacket(packet)` on the next tick.

const INBOUND_CLIENT = Symbol("pylon.inboundClient");

type Listener0 = (this: unknown, data: unknown) => void;

interface DirectInboundClient {
  readonly decoder: PylonDecoder;
  readonly nsps: { get(name: string): InboundSocket | undefined };
  readonly ondata: Listener0;
  readonly ondecoded: (packet: unknown) => void;
}

interface DirectInboundConn {
  [INBOUND_CLIENT]?: DirectInboundClient;
  _readyState: string;
  _events?: Record<string | symbol, Listener | Listener[] | undefined>;
  pingTimeoutTimer: { refresh(): void } | null;
  hasRefreshedPingTimeout: boolean;
}

interface InboundSocket {
  _onpacket(packet: unknown): void;
  onevent(packet: unknown): void;
}

/** socket.io's Socket#_onpacket for the packet on the next tick: an EVENT goes to `onevent` (what _onpacket does
 * besides a debug() call), anything else to _onpacket itself. */
function deliverPacket(socket: InboundSocket, packet: { type: number }): void {
  if (packet.type === EVENT_PACKET) socket.onevent(packet);
  else socket._onpacket(packet);
}

/** What socket.io's Client#ondata does for one text frame, without its decoder's event and the per-packet closure. */
function clientData(client: DirectInboundClient, data: string): void {
  const packet = client.decoder.decodeText(data);
  if (packet === undefined) return client.ondata(data); // anything else: socket.io's own path (and its errors)
  const socket = client.nsps.get(packet.nsp);
  if (socket === undefined) return client.ondecoded(packet); // no socket in that namespace: socket.io decides
  process.nextTick(deliverPacket, socket, packet);
}

/** Calls the listeners of one event like EventEmitter#emit (a copy of the list), socket.io's ondata by clientData. */
function emitText(conn: unknown, listeners: Listener | Listener[], client: DirectInboundClient, data: string): void {
  if (typeof listeners === "function") {
    if (listeners === client.ondata) clientData(client, data);
    else listeners.call(conn, data);
    return;
  }
  const list = listeners.slice();
  for (let i = 0; i < list.length; i++) {
    const l = list[i]!;
    if (l === client.ondata) clientData(client, data);
    else l.call(conn, data);
  }
}

/**
 * engine.io's Socket#onPacket and socket.io's Client#ondata for one text message, in one call: the same listeners
 * in the same order, the same pong-timeout refresh; the packet decoded by Pylon's parser when it has the common shape.
 * False (nothing done) when the packet is not a text message of an open connection or someone listens to "packet".
 */
function directInbound(conn: DirectInboundConn, client: DirectInboundClient, packet: { type: string; data?: unknown }): boolean {
  const data = packet.data;
  return packet.type === "message" && typeof data === "string" && directText(conn, client, data);
}

/** directInbound for the data of a text "message" packet. */
function directText(conn: DirectInboundConn, client: DirectInboundClient, data: string): boolean {
  if (conn._readyState !== "open") return false;
  const events = conn._events;
  if (events === undefined || events.packet !== undefined) return false;
  if (conn.pingTimeoutTimer !== null && !conn.hasRefreshedPingTimeout) {
    conn.pingTimeoutTimer.refresh();
    conn.hasRefreshedPingTimeout = true;
  }
  const onData = events.data;
  if (onData !== undefined) emitText(conn, onData, client, data);
  const onMessage = events.message;
  if (onMessage !== undefined) emitText(conn, onMessage, client, data);
  return true;
}

/** engine.io's packet type "message" ("4"), the first character of an encoded text message. */
const CHAR_MESSAGE = 52;

interface WsTransport extends OwnedTransport {
  name: string;
  socket?: EmitterInternals;
  _events?: EmitterInternals["_events"];
  onData(data: unknown): void;
}

/**
 * The ws "message" listener of an engine.io WebSocket transport, instead of engine.io's closure (which stringifies
 * a text frame, then onData(): decodePacket() and the transport's "packet" event, whose shared listener is
 * transportPacket). A text "message" packet of the connection's current transport, when transportPacket is the only
 * "packet" listener, goes straight to directText(); every other frame to the transport's onData(), as before.
 */
function directWsMessages(transport: WsTransport): Listener {
  return function pylonWsMessage(data: unknown, isBinary: unknown): void {
    if (isBinary) return transport.onData(data);
    const str = (data as Buffer).toString();
    if (str.charCodeAt(0) === CHAR_MESSAGE && str.length > 1) {
      // engine.io-parser: "4" + data is { type: "message", data } ("4" alone has no data: engine.io's path)
      const conn = transport[TRANSPORT_OWNER] as unknown as DirectInboundConn & { transport: unknown };
      const client = conn[INBOUND_CLIENT];
      if (client !== undefined && conn.transport === transport && transport._events?.packet === transportPacket && directText(conn, client, str.slice(1))) return;
    }
    transport.onData(str);
  };
}

/** Puts directWsMessages in place of engine.io's ws "message" listener: only when it is the ws's one listener. */
function takeOverWsMessages(transport: WsTransport): boolean {
  const events = transport.socket?._events;
  if (transport.name !== "websocket" || events == null || typeof events.message !== "function") return false;
  events.message = directWsMessages(transport);
  return true;
}

/**
 * Turns the direct inbound path on for a socket's connection: engine.io's shared transport listener then hands text
 * messages to the socket.io Client directly (see directInbound). Only for protocol 4 connections whose transport
 * listeners are shared (shareTransportListeners) and whose Client uses Pylon's parser; false otherwise.
 */
function enableDirectInbound(socket: Socket): boolean {
  const conn = socket.conn as unknown as DirectInboundConn & { protocol: number; transport: Partial<OwnedTransport> };
  const client = socket.client as unknown as DirectInboundClient;
  if (conn.protocol !== 4 || conn.transport[TRANSPORT_OWNER] === undefined || !(client.decoder instanceof PylonDecoder)) return false;
  if (typeof client.ondata !== "function" || typeof client.ondecoded !== "function" || client.nsps == null) return false;
  conn[INBOUND_CLIENT] = client;
  return true;
}

/** engine.io's "upgrade" (after setTransport on the new transport): its listeners get shared again (shared, `this` = conn). */
function reshareAfterUpgrade(this: { transport: EmitterInternals & { name: string }; cleanupFn?: unknown[] }): void {
  unwrapOnce(this.transport, "error", BOUND_ON_ERROR);
  unwrapOnce(this.transport, "close", BOUND_ON_CLOSE);
  shareTransportListeners(this);
}

/** engine.io's five per-transport listeners: event, how to recognise engine.io's own, the shared replacement. */
const SHARED_TRANSPORT_LISTENERS: readonly (readonly [string, (l: Listener) => boolean, Listener])[] = [
  ["error", BOUND_ON_ERROR, transportError as Listener],
  ["ready", (l) => l.name === "onReady" && l.listener === undefined, transportReady as Listener],
  ["packet", BOUND_ON_PACKET, transportPacket as Listener],
  ["drain", BOUND_ON_DRAIN, transportDrain as Listener],
  ["close", BOUND_ON_CLOSE, transportClose as Listener],
];

/**
 * Replaces engine.io's per-transport listeners (Socket#setTransport) by the shared ones above, in place, and its
 * cleanup closure by detachSharedListeners bound to the transport. Only when each of the five is found exactly once
 * by name (once() wrappers already removed) and the socket has exactly one cleanup function; otherwise nothing changes.
 */
function shareTransportListeners(conn: { transport: EmitterInternals; cleanupFn?: unknown[] }): boolean {
  const transport = conn.transport as EmitterInternals & Partial<OwnedTransport>;
  const events = transport._events;
  if (events == null || transport[TRANSPORT_OWNER] !== undefined) return false;
  if (!Array.isArray(conn.cleanupFn) || conn.cleanupFn.length !== 1 || typeof conn.cleanupFn[0] !== "function") return false;
  const plan = SHARED_TRANSPORT_LISTENERS;
  const at = new Array<number>(plan.length);
  for (let i = 0; i < plan.length; i++) if ((at[i] = soleMatch(events, plan[i]![0], plan[i]![1])) === -1) return false;
  (transport as OwnedTransport)[TRANSPORT_OWNER] = conn as unknown as OwnedTransport[typeof TRANSPORT_OWNER];
  for (let i = 0; i < plan.length; i++) {
    const [type, , shared] = plan[i]!;
    const v = events[type]!;
    if (Array.isArray(v)) v[at[i]!] = shared;
    else events[type] = shared;
  }
  conn.cleanupFn = [detachSharedListeners.bind(transport as OwnedTransport)];
  takeOverWsMessages(transport as unknown as WsTransport);
  return true;
}

/** engine.io Socket's heartbeat fields (protocol 4: the server pings every pingInterval, the client answers). */
export interface HeartbeatInternals {
  protocol: number;
  _readyState: string;
  pingIntervalTimer: unknown;
  pingTimeoutTimer: unknown;
  hasRefreshedPingTimeout: boolean;
  server: { opts: { pingInterval: number } };
  sendPacket(type: string): void;
  resetPingTimeout(): void;
}

/** What engine.io's pingInterval timer does when it fires (Socket#schedulePing): ping, then wait pingTimeout for the pong. */
export function sendHeartbeatPing(conn: object): void {
  const c = conn as HeartbeatInternals;
  if (c._readyState === "closed") return;
  c.hasRefreshedPingTimeout = false;
  c.sendPacket("ping");
  c.resetPingTimeout();
}

/**
 * Moves a protocol-4 connection's pingInterval timer onto a shared wheel: clears engine.io's Timeout and puts a
 * wheel handle in `pingIntervalTimer` (engine.io calls only `refresh()` on it, on each pong). The pong timeout stays
 * engine.io's own (a Timeout that lives only while a ping is unanswered). Needs forgetEngineClient as the
 * connection's close listener (it cancels the handle). False (nothing changed) when the connection does not fit.
 */
function moveHeartbeatToWheel(conn: HeartbeatInternals & EmitterInternals, wheel: HeartbeatWheel): boolean {
  const t = conn.pingIntervalTimer as { refresh?: unknown; _onTimeout?: unknown } | null;
  if (conn.protocol !== 4 || conn._readyState !== "open" || conn.pingTimeoutTimer !== null) return false;
  if (t === null || typeof t !== "object" || typeof t.refresh !== "function" || typeof t._onTimeout !== "function") return false;
  if (conn.server.opts.pingInterval !== wheel.intervalMs) return false;
  const close = conn._events?.close;
  if (close !== forgetEngineClient && !(Array.isArray(close) && close.includes(forgetEngineClient as Listener))) return false;
  clearTimeout(t as unknown as NodeJS.Timeout);
  conn.pingIntervalTimer = wheel.add(conn);
  return true;
}

/** engine.io's handshake close listener: an arrow function deleting the connection from `clients` (source checked). */
function isHandshakeCloseListener(l: Listener): boolean {
  if (l.name !== "" || l.length !== 0) return false;
  const src = Function.prototype.toString.call(l);
  return src.includes("delete this.clients[id]") && src.includes("this.clientsCount--");
}

/** engine.io Server#handshake's "headers" listener (re-emits the transport's headers on the server). */
function isHandshakeHeadersListener(l: Listener): boolean {
  return l.name === "" && l.length === 2 && Function.prototype.toString.call(l).includes("isInitialRequest");
}

interface ConnMemoryInternals {
  transport: { name: string; socket?: unknown } & EmitterInternals;
  cleanupFn?: unknown[];
  packetsFn?: unknown[];
  sentCallbackFn?: unknown[];
  writeBuffer?: unknown[];
}

/** Interns a string (see StringInterner); the identity when none is given. */
type Intern = <T>(value: T) => T;

/**
 * Handshake values unique to one connection, never interned: they would only fill the bounded table (and empty it,
 * which drops the shared copies too). `sec-websocket-key` is random per upgrade; `t` is the cache-buster that polling
 * clients put on every request, and a URL that carries it is unique too.
 */
const UNIQUE_HEADER = "sec-websocket-key";
const UNIQUE_QUERY = "t";

/**
 * Replaces per-connection copies of strings that repeat across connections with one shared copy: socket.handshake's
 * time, url, address and header / query values, the engine connection's remoteAddress and the released request's url
 * and address. Same content, so nothing visible changes; ~0.2-0.3 KB per connection with a typical browser's headers.
 */
function internHandshake(socket: Socket, intern: Intern): void {
  const h = socket.handshake as unknown as Record<string, unknown> & { headers?: Record<string, unknown>; query?: Record<string, unknown> };
  const uniqueUrl = h.query != null && typeof h.query === "object" && h.query[UNIQUE_QUERY] !== undefined;
  h.time = intern(h.time);
  if (!uniqueUrl) h.url = intern(h.url);
  h.address = intern(h.address);
  internValues(h.headers, UNIQUE_HEADER, intern);
  internValues(h.query, UNIQUE_QUERY, intern);
  const conn = socket.conn as unknown as { remoteAddress?: unknown; request?: { pylonReleased?: boolean; url?: unknown; socket?: { remoteAddress?: unknown } } };
  conn.remoteAddress = intern(conn.remoteAddress);
  const req = conn.request;
  if (req?.pylonReleased === true) {
    if (!uniqueUrl) req.url = intern(req.url);
    if (req.socket != null) req.socket.remoteAddress = intern(req.socket.remoteAddress);
  }
}

function internValues(obj: Record<string, unknown> | undefined, unique: string, intern: Intern): void {
  if (obj == null || typeof obj !== "object") return;
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    if (typeof v === "string" && k !== unique) obj[k] = intern(v);
  }
}

/** What compactConnection() did (tests). */
export interface CompactionReport {
  unwrapped: number;
  headersListenerDropped: boolean;
  heartbeatOnWheel: boolean;
  transportListenersShared: boolean;
  /** Text messages go to the socket.io Client directly (see directInbound). */
  directInbound: boolean;
}

/** Optional parts of compactConnection(): a string interner and a heartbeat wheel (both per server). */
export interface CompactionOptions {
  intern?: Intern;
  heartbeats?: HeartbeatWheel;
}

/**
 * Trims what engine.io, ws and socket.io keep per connection without changing behaviour: fast-mode listener tables,
 * exact-length arrays, no `once()` wrappers around listeners that are idempotent and removed by reference, one shared
 * function for engine.io's per-connection "close" bookkeeping closure, and no "headers" listener on a websocket
 * transport (only polling emits it), socket.io's `acks` map allocated on first use (LazyMap) and the Client's
 * one-entry `sockets` / `nsps` maps inline (SmallMap), given `intern`,
 * one copy of handshake strings that repeat across connections, and given `heartbeats`, the pingInterval timer on a
 * shared wheel; engine.io's five per-transport listeners shared by every connection (shareTransportListeners). Run after the connection listeners (they may add
 * listeners and middlewares) and after releaseHandshakeRequest() (so the stand-in's strings are interned too).
 * Together ~1.5-2 KB per idle websocket connection; see docs/benchmarks.md.
 */
export function compactConnection(socket: Socket, opts: CompactionOptions = {}): CompactionReport {
  const { intern, heartbeats } = opts;
  compactSocketArrays(socket);
  const s = socket as unknown as { acks?: unknown };
  if (s.acks instanceof Map && s.acks.size === 0) s.acks = new LazyMap();
  const client = socket.client as unknown as { sockets?: unknown; nsps?: unknown };
  if (client.sockets instanceof Map && client.sockets.size <= 1) client.sockets = new SmallMap(client.sockets);
  if (client.nsps instanceof Map && client.nsps.size <= 1) client.nsps = new SmallMap(client.nsps);
  if (intern !== undefined) internHandshake(socket, intern);
  const conn = socket.conn as unknown as ConnMemoryInternals;
  const transport = conn.transport;
  let unwrapped = 0;
  unwrapped += unwrapOnce(transport, "error", BOUND_ON_ERROR);
  unwrapped += unwrapOnce(transport, "close", BOUND_ON_CLOSE);
  unwrapped += unwrapOnce(conn, "close", isHandshakeCloseListener, forgetEngineClient as Listener);
  let headersListenerDropped = false;
  const ws = transport.name === "websocket" ? (transport.socket as EmitterInternals | undefined) : undefined;
  if (ws !== undefined) {
    unwrapped += unwrapOnce(ws, "close", BOUND_ON_CLOSE);
    const h = transport._events?.headers;
    if (typeof h === "function" && h.listener === undefined && isHandshakeHeadersListener(h)) {
      (transport as unknown as { off(e: string, fn: Listener): void }).off("headers", h);
      headersListenerDropped = true;
    }
    compactEmitter(ws);
    compactEmitter((ws as { _receiver?: unknown })._receiver);
    compactEmitter((ws as { _socket?: unknown })._socket);
  }
  const transportListenersShared = shareTransportListeners(conn as unknown as { transport: EmitterInternals; cleanupFn?: unknown[] });
  const directInbound = transportListenersShared && enableDirectInbound(socket);
  // a polling connection that upgrades gets new transport listeners from engine.io: share those too (one shared
  // listener, kept after the upgrade: engine.io emits "upgrade" once per connection)
  if (transportListenersShared && transport.name === "polling") (conn as unknown as { on(e: string, fn: Listener): void }).on("upgrade", reshareAfterUpgrade as Listener);
  compactEmitter(transport);
  compactEmitter(conn);
  compactEmitter(socket);
  if (Array.isArray(conn.cleanupFn) && !transportListenersShared) conn.cleanupFn = conn.cleanupFn.slice();
  if (Array.isArray(conn.packetsFn) && conn.packetsFn.length === 0) conn.packetsFn = [];
  if (Array.isArray(conn.sentCallbackFn) && conn.sentCallbackFn.length === 0) conn.sentCallbackFn = [];
  if (Array.isArray(conn.writeBuffer) && conn.writeBuffer.length === 0) conn.writeBuffer = [];
  const callbacks = (socket.client as unknown as { decoder?: { _callbacks?: Record<string, unknown> } }).decoder?._callbacks;
  if (callbacks != null) for (const k of Object.keys(callbacks)) if (Array.isArray(callbacks[k])) callbacks[k] = (callbacks[k] as unknown[]).slice();
  const heartbeatOnWheel = heartbeats !== undefined && moveHeartbeatToWheel(conn as unknown as HeartbeatInternals & EmitterInternals, heartbeats);
  return { unwrapped, headersListenerDropped, heartbeatOnWheel, transportListenersShared, directInbound };
}

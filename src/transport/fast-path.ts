/**
 * Broadcast fast path (PERF-NOTES §1, §2), as a mixin over WHATEVER adapter is configured.
 *
 * Contract for other modules (scale-out: src/cluster/): when you configure an adapter, pass it through
 * `withFastPath()` before handing it to socket.io:
 *
 *     io.adapter(withFastPath(createAdapter(pub, sub)));     // redis
 *     io.adapter(withFastPath(createClusterAdapter()));      // cluster
 *
 * It accepts an adapter class or an adapter factory (what `createAdapter()` returns) and returns a factory that
 * socket.io calls with `new`. When the write-path module is off (or not set up on that Server) the adapter is
 * returned untouched, so calling it is always safe. The write-path module also re-wraps the configured adapter at
 * start() if another module set an unwrapped one during setup.
 *
 * How it works: it hooks two methods on each adapter INSTANCE (own properties, so any subclass works: the
 * in-memory Adapter, socket.io's SessionAwareAdapter, the Redis and cluster adapters, whose remote messages end in
 * Adapter.prototype.broadcast too). Adapter.prototype.broadcast calls `this._encode()` then `this.apply()`
 * synchronously; `_encode` arms the hook for broadcasts without ack, and `apply` then walks a flat, lazily rebuilt
 * array of targets for the room instead of building a de-duplication Set. Per target: `onAnyOutgoing` listeners are
 * notified (as socket.io does), then, when the connection is safe (see engine-internals `safeWebSocket`) and not
 * congested, the pre-built frame is written straight to its ws; otherwise the normal engine path is used (which
 * queues behind anything pending, so per-socket order holds). Volatile broadcasts always take the normal path (so
 * flow control can drop them). Broadcasts with ack (`timeout()` / `emitWithAck`) are never armed: socket.io's own
 * loop runs. `except` and `local` flags are honoured (`local` is handled by the Redis/cluster adapter before).
 */
import type { Namespace, Server, Socket } from "socket.io";
import {
  connOf,
  namespacesOf,
  setAdapterForNewNamespaces,
  notifyOutgoing,
  safeWebSocket,
  writeFrame,
  type AdapterInternals,
  type EngineConnInternals,
} from "./engine-internals.js";
import type { WriteCoalescer } from "./coalescer.js";

/** Per-Pylon state shared by every wrapped adapter instance of one socket.io Server. */
export interface FastPathRuntime {
  /** Write frames straight to idle websockets (flow.fastPath). When false only the flat target arrays are used. */
  readonly directWrites: boolean;
  /** Burst coalescing (flow.coalesce), or null. */
  readonly coalescer: WriteCoalescer | null;
  /** A connection with this many bytes or more pending takes the engine path (where flow control decides). */
  readonly softLimitBytes: number;
  /** Called once per armed broadcast, with plain counts (metrics are incremented in bulk there). */
  onBroadcast(targets: number, fastWrites: number, engineWrites: number, frameBytes: number): void;
}

const RUNTIME = Symbol.for("pylon.fastPathRuntime");
const WRAPPED = Symbol.for("pylon.fastPathWrapped");
const SIZES = Symbol.for("pylon.fastPathSizes");

type AnyServer = { [RUNTIME]?: FastPathRuntime };

/** Attaches the runtime to one socket.io Server (instance state; removed by detachFastPathRuntime). */
export function attachFastPathRuntime(io: object, runtime: FastPathRuntime): void {
  Object.defineProperty(io, RUNTIME, { value: runtime, configurable: true, enumerable: false, writable: true });
}

export function detachFastPathRuntime(io: object): void {
  delete (io as AnyServer)[RUNTIME];
}

/** Whether an adapter constructor/factory was returned by withFastPath(). */
export function isFastPathWrapped(ctor: unknown): boolean {
  return typeof ctor === "function" && (ctor as unknown as Record<symbol, unknown>)[WRAPPED] === true;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AdapterCtor = new (nsp: any, ...rest: any[]) => any;

/**
 * Wraps an adapter class or factory so every adapter it creates gets the fast path (when the write-path module set
 * up a runtime on that namespace's Server). Idempotent.
 */
export function withFastPath<C>(Base: C): C {
  if (isFastPathWrapped(Base)) return Base;
  const Ctor = Base as unknown as AdapterCtor;
  // A plain function (not an arrow): socket.io calls it with `new`, and the object it returns is the adapter.
  const wrapped = function PylonFastPathAdapter(nsp: Namespace): unknown {
    const adapter = new Ctor(nsp) as AdapterInternals;
    installFastPath(adapter);
    return adapter;
  };
  Object.defineProperty(wrapped, WRAPPED, { value: true });
  return wrapped as unknown as C;
}

/** One target of a broadcast: a namespace socket, its engine connection and its coalescing state. */
class Target {
  readonly socket: Socket;
  readonly conn: EngineConnInternals;
  /** Tick generation of this connection's last fast write. */
  tick = 0;
  /** Tick generation in which it was corked. */
  corked = 0;
  constructor(socket: Socket) {
    this.socket = socket;
    this.conn = connOf(socket);
  }
}

const ALL = "\u0000pylon:all";

interface ArmedBroadcast {
  armed: boolean;
  packet: unknown;
  encoded: unknown[];
  packetOpts: Record<string, unknown>;
}

/** Whether installFastPath() ran on this adapter instance. */
export function hasFastPath(adapter: unknown): boolean {
  return typeof adapter === "object" && adapter !== null && (adapter as Record<symbol, unknown>)[WRAPPED] === true;
}

/** Entries the fast path keeps for an adapter (per-socket targets, cached room arrays); 0/0 when not installed. */
export function fastPathSizes(adapter: unknown): { targets: number; flatRooms: number } {
  const fn = (adapter as Record<symbol, unknown> | null)?.[SIZES];
  return typeof fn === "function" ? (fn as () => { targets: number; flatRooms: number })() : { targets: 0, flatRooms: 0 };
}

/**
 * Installs the hooks on one adapter instance (idempotent). The runtime is looked up on the namespace's Server at
 * each broadcast, so the order in which modules set the adapter and the runtime does not matter; without a runtime
 * socket.io's own loop runs.
 */
export function installFastPath(adapter: AdapterInternals): void {
  if (hasFastPath(adapter)) return;
  const proto = Object.getPrototypeOf(adapter) as AdapterInternals;
  const origEncode = proto._encode;
  const origApply = proto.apply;
  const origAddAll = proto.addAll;
  const origDel = proto.del;
  const origDelAll = proto.delAll;
  if (typeof origEncode !== "function" || typeof origApply !== "function") return; // not a socket.io-adapter Adapter
  Object.defineProperty(adapter, WRAPPED, { value: true });
  Object.defineProperty(adapter, SIZES, { value: (): { targets: number; flatRooms: number } => ({ targets: targets.size, flatRooms: flat.size }) });

  const targets = new Map<string, Target>();
  const flat = new Map<string, Target[]>();
  const armed: ArmedBroadcast = { armed: false, packet: undefined, encoded: [], packetOpts: {} };
  const nsp = adapter.nsp;
  const server = nsp.server as unknown as AnyServer;

  const targetOf = (id: string): Target | undefined => {
    let t = targets.get(id);
    if (t === undefined) {
      const socket = nsp.sockets.get(id);
      if (socket === undefined) return undefined;
      t = new Target(socket);
      targets.set(id, t);
    }
    return t;
  };

  const flatOf = (room: string | undefined): Target[] => {
    const key = room ?? ALL;
    let list = flat.get(key);
    if (list !== undefined) return list;
    list = [];
    let complete = true;
    const ids = room === undefined ? adapter.sids.keys() : (adapter.rooms.get(room)?.values() ?? [].values());
    for (const id of ids) {
      const t = targetOf(id);
      if (t === undefined) complete = false;
      else list.push(t);
    }
    if (complete && list.length > 0) flat.set(key, list); // empty rooms are not cached (no entry per unknown room)
    return list;
  };

  adapter._encode = function (packet: unknown, packetOpts: Record<string, unknown>): unknown[] {
    const encoded = origEncode.call(this, packet, packetOpts);
    if (server[RUNTIME] === undefined) {
      armed.armed = false;
      return encoded;
    }
    // broadcastWithAck sets packet.id before encoding: its loop must register acks, so it stays socket.io's.
    if ((packet as { id?: unknown }).id === undefined) {
      armed.armed = true;
      armed.packet = packet;
      armed.encoded = encoded;
      armed.packetOpts = packetOpts;
    } else armed.armed = false;
    return encoded;
  };

  adapter.apply = function (opts, callback): void {
    if (!armed.armed) {
      origApply.call(this, opts, callback);
      return;
    }
    armed.armed = false;
    const { packet, encoded, packetOpts } = armed;
    armed.packet = undefined;
    const runtime = server[RUNTIME];
    if (runtime === undefined) {
      origApply.call(this, opts, callback);
      return;
    }
    const rooms = opts.rooms;
    const except = opts.except !== undefined && opts.except.size > 0 ? exceptIds(adapter, opts.except) : null;
    let list: Target[];
    if (rooms.size === 0) list = flatOf(undefined);
    else if (rooms.size === 1) list = flatOf(rooms.values().next().value as string);
    else list = union(rooms);
    deliver(runtime, list, except, packet, encoded, packetOpts);
  };

  const union = (rooms: Set<string>): Target[] => {
    const seen = new Set<string>();
    const out: Target[] = [];
    for (const room of rooms) {
      const ids = adapter.rooms.get(room);
      if (ids === undefined) continue;
      for (const id of ids) {
        if (seen.has(id)) continue;
        seen.add(id);
        const t = targetOf(id);
        if (t !== undefined) out.push(t);
      }
    }
    return out;
  };

  const deliver = (
    runtime: FastPathRuntime,
    list: Target[],
    except: Set<string> | null,
    packet: unknown,
    encoded: unknown[],
    packetOpts: Record<string, unknown>,
  ): void => {
    const frame = runtime.directWrites && packetOpts.volatile !== true ? (packetOpts.wsPreEncodedFrame as readonly Buffer[] | undefined) : undefined;
    const coalescer = frame !== undefined ? runtime.coalescer : null;
    const gen = coalescer !== null ? coalescer.begin() : 0;
    const soft = runtime.softLimitBytes;
    let fast = 0;
    let slow = 0;
    for (let i = 0; i < list.length; i++) {
      const t = list[i]!;
      const socket = t.socket;
      if (except !== null && except.has(socket.id)) continue;
      notifyOutgoing(socket, packet as { data?: unknown });
      if (frame !== undefined) {
        const ws = safeWebSocket(t.conn);
        if (ws !== null) {
          const net = ws._socket!;
          if (net.writableLength < soft) {
            if (gen !== 0) {
              if (t.tick === gen) {
                if (t.corked !== gen) {
                  t.corked = gen;
                  coalescer!.cork(net);
                }
              } else t.tick = gen;
            }
            writeFrame(ws, frame);
            fast++;
            continue;
          }
        }
      }
      (socket.client as unknown as { writeToEngine(e: unknown, o: unknown): void }).writeToEngine(encoded, packetOpts);
      slow++;
    }
    const frameBytes = frame !== undefined ? frame[0]!.length + (frame[1]?.length ?? 0) : 0;
    runtime.onBroadcast(fast + slow, fast, slow, frameBytes);
  };

  adapter.addAll = function (id: string, rooms: Set<string>): void {
    origAddAll.call(this, id, rooms);
    flat.delete(ALL);
    for (const room of rooms) flat.delete(room);
  };
  adapter.del = function (id: string, room: string): void {
    origDel.call(this, id, room);
    flat.delete(room);
  };
  adapter.delAll = function (id: string): void {
    const rooms = adapter.sids.get(id);
    if (rooms !== undefined) for (const room of rooms) flat.delete(room);
    flat.delete(ALL);
    targets.delete(id);
    origDelAll.call(this, id);
  };
}

function exceptIds(adapter: AdapterInternals, exceptRooms: Set<string>): Set<string> {
  const ids = new Set<string>();
  for (const room of exceptRooms) {
    const members = adapter.rooms.get(room);
    if (members !== undefined) for (const id of members) ids.add(id);
  }
  return ids;
}

/**
 * Makes sure every adapter of a Server has the fast path: wraps the configured constructor for future namespaces and
 * installs the hooks on existing adapter instances (without re-creating them). Returns whether anything was missing.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function ensureFastPath(io: Server<any, any, any, any>): boolean {
  let changed = false;
  const current = io.adapter();
  if (current !== undefined && !isFastPathWrapped(current)) {
    setAdapterForNewNamespaces(io, withFastPath(current));
    changed = true;
  }
  for (const nsp of namespacesOf(io).values()) {
    if (!hasFastPath(nsp.adapter)) {
      installFastPath(nsp.adapter as unknown as AdapterInternals);
      changed = true;
    }
  }
  return changed;
}

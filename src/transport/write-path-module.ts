import type { Namespace, Socket } from "socket.io";
import type { PylonConfig } from "../config/index.js";
import type { PylonContext, PylonModule } from "../server/module.js";
import { WriteCoalescer } from "./coalescer.js";
import { StringInterner } from "./string-interner.js";
import { HeartbeatWheel } from "./heartbeat-wheel.js";
import { WritePathMetrics } from "./write-path-metrics.js";
import {
  compactConnection,
  connOf,
  namespacesOf,
  packetBytes,
  releaseHandshakeRequest,
  safeWebSocket,
  sendHeartbeatPing,
  wsBufferedBytes,
  type EngineConnInternals,
  type EnginePacket,
} from "./engine-internals.js";
import { attachFastPathRuntime, detachFastPathRuntime, ensureFastPath, fastPathSizes, type FastPathRuntime } from "./fast-path.js";

/** The runtime the wrapped adapters read at each broadcast (mutable: reload changes limits). */
class Runtime implements FastPathRuntime {
  directWrites: boolean;
  coalescer: WriteCoalescer | null;
  softLimitBytes: number;
  /** Plain counters (tests, stats API): broadcasts armed, fast writes, engine-path writes. */
  broadcasts = 0;
  fastWrites = 0;
  engineWrites = 0;
  readonly #metrics: WritePathMetrics;

  constructor(config: PylonConfig, metrics: WritePathMetrics) {
    this.#metrics = metrics;
    this.directWrites = config.flow.fastPath;
    this.coalescer = config.flow.coalesce ? new WriteCoalescer() : null;
    this.softLimitBytes = config.flow.enabled ? config.flow.softLimitBytes : Number.POSITIVE_INFINITY;
  }

  /** Per-socket writes (socket.emit, acks): the same "safe" rule; a single text packet is sent with ws.send(). */
  directWrite(conn: EngineConnInternals, encodedPackets: unknown): boolean {
    if (!this.directWrites) return false;
    let data = encodedPackets;
    if (Array.isArray(data)) {
      if (data.length !== 1) return false;
      data = data[0];
    }
    if (typeof data !== "string") return false;
    const ws = safeWebSocket(conn);
    if (ws === null || wsBufferedBytes(ws) >= this.softLimitBytes) return false;
    (ws as unknown as { send(d: string): void }).send("4" + data);
    this.fastWrites++;
    this.#metrics.addFast(1, data.length + 1);
    return true;
  }

  onBroadcast(targets: number, fast: number, engine: number, frameBytes: number): void {
    this.broadcasts++;
    this.fastWrites += fast;
    this.engineWrites += engine;
    const m = this.#metrics;
    m.fanout.observe(targets);
    if (fast > 0) m.addFast(fast, fast * frameBytes);
  }
}

/**
 * The outbound write path (issue 3): the broadcast fast path on whatever adapter is configured, burst coalescing,
 * engine-path outbound metrics, and the release of the HTTP request each connection retains
 * (engine.freeHandshakeRequest). See docs/flow-control.md and the header of fast-path.ts (contract with src/cluster).
 */
export class WritePathModule implements PylonModule {
  readonly name = "write-path";
  #ctx: PylonContext | undefined;
  #runtime: Runtime | undefined;
  #heartbeats: HeartbeatWheel | undefined;
  readonly #disposers: (() => void)[] = [];

  /**
   * Writes one per-socket packet (socket.emit, ack) straight to an idle websocket; false when not safe (the caller then
   * uses engine.io). Used by the flow module's per-client write hook.
   */
  readonly directWrite = (conn: EngineConnInternals, encodedPackets: unknown): boolean =>
    this.#runtime !== undefined && this.#runtime.directWrite(conn, encodedPackets);

  /** Counters of the fast path (tests and stats). */
  get stats(): { broadcasts: number; fastWrites: number; engineWrites: number } {
    const r = this.#runtime;
    return { broadcasts: r?.broadcasts ?? 0, fastWrites: r?.fastWrites ?? 0, engineWrites: r?.engineWrites ?? 0 };
  }

  /** Per-socket entries kept by the fast path, summed over namespaces (memory-hygiene test: 0 once all left). */
  internalSizes(): Record<string, number> {
    const out = { "writePath.targets": 0, "writePath.flatRooms": 0, "writePath.heartbeats": this.#heartbeats?.size ?? 0 };
    if (!this.#ctx) return out;
    for (const nsp of namespacesOf(this.#ctx.io).values()) {
      const s = fastPathSizes(nsp.adapter);
      out["writePath.targets"] += s.targets;
      out["writePath.flatRooms"] += s.flatRooms;
    }
    return out;
  }

  setup(ctx: PylonContext): void {
    this.#ctx = ctx;
    const { io, config } = ctx;
    const metrics = new WritePathMetrics(ctx.metrics);
    const runtime = (this.#runtime = new Runtime(config, metrics));
    attachFastPathRuntime(io, runtime);
    ensureFastPath(io);

    // Engine-path outbound packets and bytes: one listener on the engine server, counted per flush.
    const onFlush = (_conn: unknown, buffer: EnginePacket[]): void => {
      let bytes = 0;
      for (let i = 0; i < buffer.length; i++) bytes += packetBytes(buffer[i]!);
      metrics.addEngine(buffer.length, bytes);
    };
    io.engine.on("flush", onFlush);
    this.#disposers.push(() => io.engine.off("flush", onFlush));

    // one copy of the handshake strings that repeat across this server's connections (bounded table)
    const interner = new StringInterner();
    // one timer for every connection's pingInterval (engine.io keeps a Timeout per connection)
    const heartbeats = (this.#heartbeats = new HeartbeatWheel(config.engine.pingInterval, sendHeartbeatPing));
    const free = config.engine.freeHandshakeRequest;
    const compaction = { intern: <T>(v: T): T => interner.intern(v), heartbeats };
    const fresh: Socket[] = [];
    const compactFresh = (): void => {
      try {
        for (let i = 0; i < fresh.length; i++) {
          const socket = fresh[i]!;
          if (!socket.connected) continue;
          if (free) releaseHandshakeRequest(connOf(socket));
          compactConnection(socket, compaction);
        }
      } finally {
        fresh.length = 0;
      }
    };
    const watch = (nsp: Namespace): void => {
      // a namespace created after setup with an adapter set by someone else still gets the hooks
      ensureFastPath(io);
      const onConnection = (socket: Socket): void => {
        // after every connection listener ran (they may read socket.request, add middlewares and listeners): the
        // sockets that connected in this tick are compacted together at its end (one nextTick, no closure per socket)
        if (fresh.push(socket) === 1) process.nextTick(compactFresh);
      };
      nsp.on("connection", onConnection);
      this.#disposers.push(() => nsp.off("connection", onConnection));
    };
    for (const nsp of namespacesOf(io).values()) watch(nsp);
    io.on("new_namespace", watch);
    this.#disposers.push(() => io.off("new_namespace", watch));
  }

  start(): void {
    const ctx = this.#ctx;
    if (ctx && ensureFastPath(ctx.io)) {
      ctx.logger.debug("write path: hooked an adapter set without withFastPath()");
    }
  }

  close(): void {
    for (const d of this.#disposers.splice(0)) d();
    if (this.#ctx) detachFastPathRuntime(this.#ctx.io);
    this.#runtime?.coalescer?.close();
    this.#heartbeats?.close();
  }
}

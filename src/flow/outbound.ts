import type { EventClass } from "../config/sections/flow.js";
import {
  closeConnectionNow,
  connOfClient,
  engineWrite,
  eventNameOfEncoded,
  packetBytes,
  wsBufferedBytes,
  wsOf,
  type EngineConnInternals,
  type EnginePacket,
  type WriteToEngine,
} from "../transport/engine-internals.js";
import type { FlowMetrics } from "./metrics.js";

export interface OutboundLimits {
  softLimitBytes: number;
  hardLimitBytes: number;
  hardLimitPackets: number;
}

/** Pending outbound data of one connection. */
export interface Pending {
  packets: number;
  bytes: number;
}

/** Running byte count of a connection's engine write buffer (avoids re-summing a growing buffer on every write). */
interface QueuedCount {
  buffer: EnginePacket[];
  counted: number;
  bytes: number;
}

/**
 * Per-socket outbound accounting and policies. Pending = engine write buffer (packets and bytes; this is where a
 * polling client's messages wait for the next poll) + the WebSocket's user-space buffer (ws `bufferedAmount`:
 * net.Socket writableLength + ws sender queue), where the fast path's writes and engine writes already handed to
 * ws wait for the kernel.
 *
 * Policies, applied on every write to a socket (socket.emit, the engine path of broadcasts; the fast path only
 * writes to connections below the soft limit and hands the others to this check):
 * - pending >= hardLimitBytes or packets >= hardLimitPackets: the connection is closed with reason `slow_consumer`
 *   (whatever the event's class: a reliable message is never dropped silently).
 * - pending >= softLimitBytes (congested): `volatile` events (and events classed volatile) are dropped
 *   (`volatile_congested`); a `telemetry`-class event replaces the oldest queued packet of the same event and namespace
 *   still in the engine write buffer (`telemetry_oldest`; so at most one per event waits there); reliable events queue.
 * - socket.io's own rule stays: a volatile event is discarded while the transport is busy writing (polling between
 *   polls, websocket while a write is in progress); counted as `volatile_busy`.
 * The cheap case (nothing in the engine buffer, ws buffer below the soft limit) costs two reads.
 */
export class OutboundFlow {
  readonly #limits: OutboundLimits;
  readonly #metrics: FlowMetrics;
  readonly #classes = new Map<string, EventClass>();
  readonly #queued = new WeakMap<EngineConnInternals, QueuedCount>();
  readonly #onSlowConsumer: (conn: EngineConnInternals, pending: Pending) => void;
  /** The shared replacement for socket.io Client#writeToEngine (installed per client by the flow module). */
  readonly writeHook: WriteToEngine;

  constructor(
    limits: OutboundLimits,
    classes: Record<string, EventClass>,
    metrics: FlowMetrics,
    onSlowConsumer: (conn: EngineConnInternals, pending: Pending) => void,
    directWrite?: (conn: EngineConnInternals, encodedPackets: unknown) => boolean,
  ) {
    this.#limits = { ...limits };
    this.#metrics = metrics;
    this.#onSlowConsumer = onSlowConsumer;
    for (const [name, cls] of Object.entries(classes)) this.#classes.set(name, cls);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const flow = this;
    this.writeHook = function (this: unknown, encodedPackets, opts): void {
      const conn = connOfClient(this);
      if (!flow.admit(conn, encodedPackets, opts.volatile === true)) return;
      if (opts.volatile === true && !conn.transport.writable) {
        // socket.io's own rule (Client#writeToEngine): volatile is discarded while the transport is busy; counted here
        flow.#metrics.drops.volatile_busy.inc();
        return;
      }
      if (directWrite !== undefined && opts.volatile !== true && directWrite(conn, encodedPackets)) return;
      engineWrite(this, encodedPackets, opts);
    };
  }

  /** Classes an event name (API): reliable | volatile | telemetry. */
  setEventClass(event: string, cls: EventClass): void {
    if (cls === "reliable") this.#classes.delete(event);
    else this.#classes.set(event, cls);
  }

  classOf(event: string | undefined): EventClass {
    return (event !== undefined ? this.#classes.get(event) : undefined) ?? "reliable";
  }

  get limits(): Readonly<OutboundLimits> {
    return this.#limits;
  }

  updateLimits(limits: OutboundLimits, classes: Record<string, EventClass>): void {
    Object.assign(this.#limits, limits);
    this.#classes.clear();
    for (const [name, cls] of Object.entries(classes)) this.#classes.set(name, cls);
  }

  /** Pending outbound packets and bytes of a connection. */
  pending(conn: EngineConnInternals): Pending {
    const ws = wsOf(conn);
    return { packets: conn.writeBuffer.length, bytes: (ws !== null ? wsBufferedBytes(ws) : 0) + this.#queuedBytes(conn) };
  }

  /** Decides whether a write may proceed; applies drop and disconnect policies. Returns false when not written. */
  admit(conn: EngineConnInternals, encodedPackets: unknown, volatile: boolean): boolean {
    const buffer = conn.writeBuffer;
    const ws = wsOf(conn);
    const wsBytes = ws !== null ? wsBufferedBytes(ws) : 0;
    const limits = this.#limits;
    if (buffer.length === 0 && wsBytes < limits.softLimitBytes) return true;
    if (conn._readyState !== "open") return true; // engine ignores writes to closing/closed connections
    const bytes = wsBytes + this.#queuedBytes(conn);
    if (bytes >= limits.hardLimitBytes || buffer.length >= limits.hardLimitPackets) {
      this.#metrics.drops.slow_consumer.inc();
      this.#onSlowConsumer(conn, { packets: buffer.length, bytes });
      return false;
    }
    if (bytes < limits.softLimitBytes) return true;
    if (volatile) {
      this.#metrics.drops.volatile_congested.inc();
      return false;
    }
    if (this.#classes.size === 0) return true;
    const first = Array.isArray(encodedPackets) ? (encodedPackets[0] as unknown) : encodedPackets;
    const cls = this.classOf(eventNameOfEncoded(first));
    if (cls === "volatile") {
      this.#metrics.drops.volatile_congested.inc();
      return false;
    }
    if (cls === "telemetry" && this.#dropOldest(conn, first)) this.#metrics.drops.telemetry_oldest.inc();
    return true;
  }

  /** Removes the oldest queued packet of the same telemetry event from the engine write buffer. */
  #dropOldest(conn: EngineConnInternals, encoded: unknown): boolean {
    const name = eventNameOfEncoded(encoded);
    const nsp = nspPrefixOf(encoded);
    const buffer = conn.writeBuffer;
    for (let i = 0; i < buffer.length; i++) {
      const p = buffer[i]!;
      if (p.type === "message" && eventNameOfEncoded(p.data) === name && nspPrefixOf(p.data) === nsp) {
        buffer.splice(i, 1);
        this.#queued.delete(conn);
        return true;
      }
    }
    return false;
  }

  #queuedBytes(conn: EngineConnInternals): number {
    const buffer = conn.writeBuffer;
    if (buffer.length === 0) return 0;
    let q = this.#queued.get(conn);
    if (q === undefined || q.buffer !== buffer || q.counted > buffer.length) {
      q = { buffer, counted: 0, bytes: 0 };
      this.#queued.set(conn, q);
    }
    for (let i = q.counted; i < buffer.length; i++) q.bytes += packetBytes(buffer[i]!);
    q.counted = buffer.length;
    return q.bytes;
  }
}

/** The namespace part of an encoded packet (`2/chat,["e"]` -> "/chat,"), "" for the main namespace. */
function nspPrefixOf(data: unknown): string {
  if (typeof data !== "string" || data.charCodeAt(1) !== 47 /* "/" */) return "";
  const comma = data.indexOf(",");
  return comma < 0 ? "" : data.slice(1, comma + 1);
}

/** The default slow-consumer action: count and close the connection with reason slow_consumer. */
export function closeSlowConsumer(metrics: FlowMetrics): (conn: EngineConnInternals) => void {
  return (conn) => {
    if (conn._readyState === "closed") return;
    metrics.slowConsumerDisconnects.inc();
    closeConnectionNow(conn, "slow_consumer");
  };
}

import type { Socket } from "socket.io";
import { errorBody } from "../protocol/errors.js";
import type { FlowMetrics } from "./metrics.js";

export interface InboundLimits {
  /** Acknowledged events whose ack has not been sent yet, per socket. */
  maxConcurrent: number;
  /** Events waiting for a slot, per socket. */
  maxQueued: number;
  /** An in-flight slot whose ack never comes is reclaimed after this long (checked lazily when the socket is full). */
  slotTimeoutMs: number;
}

type Ack = (...args: unknown[]) => void;

interface Slot {
  readonly startedAt: number;
  done: boolean;
}

interface SocketState {
  inFlight: Slot[];
  queue: Queued[];
}

interface Queued {
  readonly event: unknown[];
  readonly next: (err?: Error) => void;
}

/**
 * Per-socket inbound limits, as a socket.io per-socket middleware (`socket.use`).
 *
 * An event carrying an ack occupies a slot from dispatch until its ack is sent (so an async handler that takes long,
 * or waits on something, counts). When `maxConcurrent` slots are busy, further events of that socket wait in a
 * per-socket queue (in order; events without ack queue too so the socket's order is kept); when the queue holds
 * `maxQueued` events, a new event is refused: answered with the error ack `{ error: { code: "overloaded" } }` when it
 * has an ack (counted as drops{reason="inbound_overloaded"}), else dropped and counted (`inbound_overflow`). A slow
 * socket therefore only ever delays itself; other sockets are not affected, and its pending work is bounded.
 * Events without ack do not hold a slot (socket.io cannot tell when their handler finishes).
 */
export class InboundLimiter {
  readonly #limits: InboundLimits;
  readonly #metrics: FlowMetrics;
  readonly #now: () => number;
  readonly #state = new WeakMap<Socket, SocketState>();

  constructor(limits: InboundLimits, metrics: FlowMetrics, now: () => number = Date.now) {
    this.#limits = { ...limits };
    this.#metrics = metrics;
    this.#now = now;
  }

  updateLimits(limits: InboundLimits): void {
    Object.assign(this.#limits, limits);
  }

  /**
   * Installs the limiter on one socket: one small closure per socket; the per-socket state is created on the first
   * event that has to be tracked and lives in a WeakMap, so it goes away with the socket.
   */
  attach(socket: Socket): void {
    socket.use((event, next) => this.#onEvent(socket, event, next));
  }

  #onEvent(socket: Socket, event: unknown[], next: (err?: Error) => void): void {
    const limits = this.#limits;
    const hasAck = typeof event[event.length - 1] === "function";
    let st = this.#state.get(socket);
    if (st === undefined) {
      if (!hasAck) return next(); // nothing in flight, nothing queued: untracked fast case
      st = { inFlight: [], queue: [] };
      this.#state.set(socket, st);
    }
    if (st.queue.length === 0 && st.inFlight.length < limits.maxConcurrent) return this.#dispatch(socket, st, event, next);
    if (st.inFlight.length >= limits.maxConcurrent) this.#expireStale(st);
    if (st.queue.length === 0 && st.inFlight.length < limits.maxConcurrent) return this.#dispatch(socket, st, event, next);
    if (st.queue.length >= limits.maxQueued) {
      const last = event[event.length - 1];
      if (hasAck) {
        this.#metrics.drops.inbound_overloaded.inc();
        (last as Ack)({ error: errorBody("overloaded", { maxConcurrent: limits.maxConcurrent, maxQueued: limits.maxQueued }) });
      } else this.#metrics.drops.inbound_overflow.inc();
      return;
    }
    this.#metrics.inboundQueued.inc();
    st.queue.push({ event, next });
  }

  #dispatch(socket: Socket, st: SocketState, event: unknown[], next: (err?: Error) => void): void {
    const last = event[event.length - 1];
    if (typeof last === "function") {
      const slot: Slot = { startedAt: this.#now(), done: false };
      st.inFlight.push(slot);
      const ack = last as Ack;
      event[event.length - 1] = (...args: unknown[]): void => {
        ack(...args);
        this.#release(socket, st, slot);
      };
      // An event nobody listens to never acks: free its slot at once.
      if (socket.listenerCount(event[0] as string) === 0) this.#release(socket, st, slot);
    }
    next();
  }

  #release(socket: Socket, st: SocketState, slot: Slot): void {
    if (slot.done) return;
    slot.done = true;
    const i = st.inFlight.indexOf(slot);
    if (i >= 0) st.inFlight.splice(i, 1);
    while (st.queue.length > 0 && st.inFlight.length < this.#limits.maxConcurrent) {
      const q = st.queue.shift()!;
      if (socket.connected) this.#dispatch(socket, st, q.event, q.next);
    }
  }

  #expireStale(st: SocketState): void {
    const limit = this.#now() - this.#limits.slotTimeoutMs;
    for (let i = st.inFlight.length - 1; i >= 0; i--) {
      const slot = st.inFlight[i]!;
      if (slot.startedAt <= limit) {
        slot.done = true;
        st.inFlight.splice(i, 1);
      }
    }
  }
}

import type { Socket } from "socket.io";
import { errorBody } from "../protocol/errors.js";
import type { FlowMetrics } from "./metrics.js";
import type { InboundEvent, NamespaceStage } from "../server/event-pipeline.js";

export interface InboundLimits {
  /** Acknowledged events whose ack has not been sent yet, per socket. */
  maxConcurrent: number;
  /** Events waiting for a slot, per socket. */
  maxQueued: number;
  /** An in-flight slot whose ack never comes is reclaimed after this long (checked lazily when the socket is full). */
  slotTimeoutMs: number;
}

/** Per-socket state, created on the first event that has to be tracked (an idle socket keeps none). */
interface SocketState {
  /** The acknowledged events whose ack has not been sent yet. */
  inFlight: Slot[];
  /** Held events waiting for a slot, in arrival order. */
  queue: InboundEvent[];
}

interface Slot {
  readonly startedAt: number;
  readonly st: SocketState;
  done: boolean;
}

/**
 * Per-socket inbound limits: the flow-control stage of the inbound event pipeline (src/server/event-pipeline.ts).
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
  /** The stage (the same for every namespace: the state is per socket). */
  readonly stage: NamespaceStage;

  constructor(limits: InboundLimits, metrics: FlowMetrics, now: () => number = Date.now) {
    this.#limits = { ...limits };
    this.#metrics = metrics;
    this.#now = now;
    this.stage = {
      onEvent: (socket, ev) => this.#onEvent(socket, ev),
      onAck: (socket, ev) => {
        const slot = ev.slot as Slot | undefined;
        if (slot !== undefined) this.#release(socket, slot.st, slot);
      },
    };
  }

  updateLimits(limits: InboundLimits): void {
    Object.assign(this.#limits, limits);
  }

  #onEvent(socket: Socket, ev: InboundEvent): boolean {
    const limits = this.#limits;
    let st = ev.state as SocketState | undefined;
    if (st === undefined) {
      if (!ev.hasAck) return true; // nothing in flight, nothing queued: untracked fast case
      st = { inFlight: [], queue: [] };
      ev.state = st;
    }
    if (st.queue.length === 0 && st.inFlight.length < limits.maxConcurrent) return this.#admit(socket, st, ev);
    if (st.inFlight.length >= limits.maxConcurrent) this.#expireStale(st);
    if (st.queue.length === 0 && st.inFlight.length < limits.maxConcurrent) return this.#admit(socket, st, ev);
    if (st.queue.length >= limits.maxQueued) {
      const ack = ev.ack;
      if (ack !== undefined) {
        this.#metrics.drops.inbound_overloaded.inc();
        ack({ error: errorBody("overloaded", { maxConcurrent: limits.maxConcurrent, maxQueued: limits.maxQueued }) });
      } else this.#metrics.drops.inbound_overflow.inc();
      return false;
    }
    this.#metrics.inboundQueued.inc();
    st.queue.push(ev);
    ev.hold();
    return false;
  }

  /** Gives an acknowledged event a slot (released by the pipeline's onAck). Always true: the event goes on. */
  #admit(socket: Socket, st: SocketState, ev: InboundEvent): true {
    if (ev.hasAck) {
      const slot: Slot = { startedAt: this.#now(), st, done: false };
      st.inFlight.push(slot);
      ev.slot = slot;
      // An event nobody listens to never acks: free its slot at once.
      if (socket.listenerCount(ev.name as string) === 0) this.#release(socket, st, slot);
    }
    return true;
  }

  #release(socket: Socket, st: SocketState, slot: Slot): void {
    if (slot.done) return;
    slot.done = true;
    const i = st.inFlight.indexOf(slot);
    if (i >= 0) st.inFlight.splice(i, 1);
    while (st.queue.length > 0 && st.inFlight.length < this.#limits.maxConcurrent) {
      const ev = st.queue.shift()!;
      if (!socket.connected) continue;
      this.#admit(socket, st, ev);
      ev.resume();
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

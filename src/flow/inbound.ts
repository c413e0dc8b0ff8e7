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

  constructor(limits: InboundLimits, metrics: FlowMetrics, now: () => number = Date.now) {
    this.#limits = { ...limits };
    this.#metrics = metrics;
    this.#now = now;
  }

  updateLimits(limits: InboundLimits): void {
    Object.assign(this.#limits, limits);
  }

  /** Installs the limiter on one socket; its state is dropped with the socket. */
  attach(socket: Socket): void {
    const limits = this.#limits;
    const metrics = this.#metrics;
    const now = this.#now;
    let inFlight: Slot[] = [];
    let queue: Queued[] = [];

    const release = (slot: Slot): void => {
      if (slot.done) return;
      slot.done = true;
      const i = inFlight.indexOf(slot);
      if (i >= 0) inFlight.splice(i, 1);
      pump();
    };

    const expireStale = (): void => {
      const limit = now() - limits.slotTimeoutMs;
      for (let i = inFlight.length - 1; i >= 0; i--) {
        const slot = inFlight[i]!;
        if (slot.startedAt <= limit) {
          slot.done = true;
          inFlight.splice(i, 1);
        }
      }
    };

    const dispatch = (event: unknown[], next: (err?: Error) => void): void => {
      const last = event[event.length - 1];
      if (typeof last === "function") {
        const slot: Slot = { startedAt: now(), done: false };
        inFlight.push(slot);
        const ack = last as Ack;
        event[event.length - 1] = (...args: unknown[]): void => {
          ack(...args);
          release(slot);
        };
        // An event nobody listens to never acks: free its slot at once.
        if (socket.listeners(event[0] as string).length === 0) release(slot);
      }
      next();
    };

    const pump = (): void => {
      while (queue.length > 0 && inFlight.length < limits.maxConcurrent) {
        const q = queue.shift()!;
        if (!socket.connected) continue;
        dispatch(q.event, q.next);
      }
    };

    socket.use((event, next) => {
      if (queue.length === 0 && inFlight.length < limits.maxConcurrent) return dispatch(event, next);
      if (inFlight.length >= limits.maxConcurrent) expireStale();
      if (queue.length === 0 && inFlight.length < limits.maxConcurrent) return dispatch(event, next);
      if (queue.length >= limits.maxQueued) {
        const last = event[event.length - 1];
        if (typeof last === "function") {
          metrics.drops.inbound_overloaded.inc();
          (last as Ack)({ error: errorBody("overloaded", { maxConcurrent: limits.maxConcurrent, maxQueued: limits.maxQueued }) });
        } else metrics.drops.inbound_overflow.inc();
        return;
      }
      metrics.inboundQueued.inc();
      queue.push({ event, next });
    });

    socket.once("disconnect", () => {
      queue = [];
      inFlight = [];
    });
  }
}

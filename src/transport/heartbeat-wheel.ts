import { forEachInSlices } from "../server/slices.js";

/** Pings sent per macrotask turn when many are due at once. */
const FIRE_SLICE = 128;
/** `key` of a handle waiting in the fire queue (neither in a bucket nor idle). */
const QUEUED = -2;

/**
 * One timer for every connection's heartbeat instead of one Node Timeout (+ closure and context, ~0.2 KB) each.
 * A handle stands in for engine.io's `pingIntervalTimer` (engine.io only calls `refresh()` on it, when a pong arrives);
 * the wheel calls `onDue(target)` once `intervalMs` has passed since the handle was added or last refreshed.
 * Handles are kept in buckets of `granularityMs` (pingInterval / 250: 100 ms at the default 25 s) and fire up to two
 * buckets early, never late, so a peer that stops answering is still detected within pingInterval + pingTimeout. One
 * interval timer (unref'd) runs while handles exist.
 *
 * Due handles are fired in slices of FIRE_SLICE per macrotask (forEachInSlices), never all at once:
 * connections made together (a deploy, a reconnect storm, a bench ramp) come due together, and one synchronous loop
 * over thousands of pings (then their pongs) would hold every broadcast behind it. engine.io's own per-connection
 * timers interleave with I/O the same way.
 */
export class HeartbeatHandle<T extends object = object> {
  /** null once cancelled (the connection closed): dropped when its bucket comes up. */
  target: T | null;
  due: number;
  /** Bucket the handle sits in, -1 (none) or QUEUED (due, waiting for its slice). */
  key = -1;
  readonly #wheel: HeartbeatWheel<T>;

  constructor(wheel: HeartbeatWheel<T>, target: T, due: number) {
    this.#wheel = wheel;
    this.target = target;
    this.due = due;
  }

  /** The peer answered: the next heartbeat is due `intervalMs` from now (what Timeout#refresh does). */
  refresh(): this {
    this.#wheel.refresh(this);
    return this;
  }

  /** The connection closed: forget it now (its target is released at once). */
  cancel(): void {
    this.#wheel.cancel(this);
  }
}

export class HeartbeatWheel<T extends object = object> {
  readonly intervalMs: number;
  readonly granularityMs: number;
  readonly #onDue: (target: T) => void;
  readonly #now: () => number;
  readonly #buckets = new Map<number, HeartbeatHandle<T>[]>();
  /** Changes on close(): slices of due handles still pending from before are dropped. */
  #epoch = 0;
  readonly #fireOne = (h: HeartbeatHandle<T>): void => this.#fire(h);
  #timer: NodeJS.Timeout | null = null;
  #live = 0;

  constructor(intervalMs: number, onDue: (target: T) => void, now: () => number = () => performance.now()) {
    this.intervalMs = intervalMs;
    this.granularityMs = Math.max(5, Math.min(1000, Math.floor(intervalMs / 250)));
    this.#onDue = onDue;
    this.#now = now;
  }

  /** Handles whose connection is still open (memory-hygiene checks: 0 once every connection left). */
  get size(): number {
    return this.#live;
  }

  add(target: T): HeartbeatHandle<T> {
    const h = new HeartbeatHandle<T>(this, target, this.#now() + this.intervalMs);
    this.#live++;
    this.#enqueue(h);
    return h;
  }

  refresh(h: HeartbeatHandle<T>): void {
    if (h.target === null) return;
    h.due = this.#now() + this.intervalMs;
    if (h.key === -1) this.#enqueue(h);
    // else: it sits in an earlier bucket (or the fire queue) and moves to its new bucket when it comes up
  }

  cancel(h: HeartbeatHandle<T>): void {
    if (h.target === null) return;
    h.target = null;
    this.#live--;
  }

  /** Stops the timer and forgets every handle (server close). */
  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#epoch++;
    for (const bucket of this.#buckets.values()) for (const h of bucket) h.target = null;
    this.#buckets.clear();
    this.#live = 0;
  }

  /** Bucket of a due time: one before the bucket holding it, so a handle fires within (due - 2g, due]. */
  #keyOf(due: number): number {
    return Math.floor(due / this.granularityMs) - 1;
  }

  #enqueue(h: HeartbeatHandle<T>): void {
    const key = this.#keyOf(h.due);
    h.key = key;
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) this.#buckets.set(key, [h]);
    else bucket.push(h);
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#tick(), this.granularityMs);
      this.#timer.unref();
    }
  }

  #tick(): void {
    const current = Math.floor(this.#now() / this.granularityMs);
    const due: HeartbeatHandle<T>[] = [];
    for (const [key, bucket] of this.#buckets) {
      if (key > current) continue;
      this.#buckets.delete(key);
      for (const h of bucket) {
        if (h.target === null) continue;
        h.key = QUEUED;
        due.push(h);
      }
    }
    if (this.#buckets.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
    if (due.length === 0) return;
    const epoch = this.#epoch;
    void forEachInSlices(due, FIRE_SLICE, this.#fireOne, () => this.#epoch !== epoch);
  }

  /** A due handle's turn: ping, unless it was cancelled or refreshed (then it goes to its new bucket). */
  #fire(h: HeartbeatHandle<T>): void {
    h.key = -1;
    const target = h.target;
    if (target === null) return;
    if (this.#keyOf(h.due) > Math.floor(this.#now() / this.granularityMs)) this.#enqueue(h);
    else this.#onDue(target);
  }
}

/** Anything with socket.io's emit: a Socket, a BroadcastOperator (`io.to(room)`), a Namespace. */
export interface BatchTarget {
  emit(event: string, ...args: unknown[]): unknown;
}

export interface BatchOptions {
  /** 0 (default): flush at the end of the current tick. N > 0: flush N ms after the first item of a batch. */
  windowMs?: number;
  /** Flush at once when a batch holds this many items (default 1000). */
  maxItems?: number;
}

/** What the client receives: one event per batch, `{ seq, items }`; seq starts at 1 and grows by one per batch. */
export interface BatchPayload<T> {
  seq: number;
  items: T[];
}

/**
 * Coalesces small, high-rate events (telemetry, cursors, presence ticks) into one packet per tick or per window:
 * `const b = batch(io.to("room"), "cursor"); b.add({x, y}); ...` sends `cursor` with `{ seq, items: [...] }`.
 * The sequence lets clients detect a lost batch (e.g. a volatile emit or a reconnect). close() sends what is left
 * and stops; add() after close() throws.
 */
export class Batcher<T> {
  readonly #target: BatchTarget;
  readonly #event: string;
  readonly #windowMs: number;
  readonly #maxItems: number;
  #items: T[] = [];
  #seq = 0;
  #scheduled = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #flushFn = (): void => this.flush();

  constructor(target: BatchTarget, event: string, options: BatchOptions = {}) {
    const windowMs = options.windowMs ?? 0;
    const maxItems = options.maxItems ?? 1000;
    if (!Number.isFinite(windowMs) || windowMs < 0) throw new RangeError(`batch(): windowMs must be >= 0 (got ${windowMs})`);
    if (!Number.isInteger(maxItems) || maxItems < 1) throw new RangeError(`batch(): maxItems must be an integer >= 1 (got ${maxItems})`);
    this.#target = target;
    this.#event = event;
    this.#windowMs = windowMs;
    this.#maxItems = maxItems;
  }

  /** Sequence number of the last batch sent (0 before the first). */
  get seq(): number {
    return this.#seq;
  }

  /** Items waiting for the next flush. */
  get size(): number {
    return this.#items.length;
  }

  add(item: T): void {
    if (this.#closed) throw new Error(`batch(${this.#event}): add() after close()`);
    this.#items.push(item);
    if (this.#items.length >= this.#maxItems) {
      this.flush();
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#windowMs === 0) process.nextTick(this.#flushFn);
    else {
      this.#timer = setTimeout(this.#flushFn, this.#windowMs);
      this.#timer.unref();
    }
  }

  /** Sends the pending items now (no-op when empty). */
  flush(): void {
    this.#scheduled = false;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#items.length === 0) return;
    const items = this.#items;
    this.#items = [];
    const payload: BatchPayload<T> = { seq: ++this.#seq, items };
    this.#target.emit(this.#event, payload);
  }

  /** Sends what is left and stops (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
  }
}

/** `batch(target, event, options)`: see Batcher. */
export function batch<T = unknown>(target: BatchTarget, event: string, options?: BatchOptions): Batcher<T> {
  return new Batcher<T>(target, event, options);
}

import { randomBytes } from "node:crypto";
import type { LoggedMessage, StreamMessage } from "../protocol/streams.js";
import type { AppendInput, Appended, AppendListener, ReadResult, Retention, StreamLog } from "./log.js";

interface Entry {
  msg: LoggedMessage;
  bytes: number;
}

interface Ring {
  epoch: string;
  head: number;
  entries: Entry[];
  /** Index of the oldest live entry in `entries` (compacted lazily). */
  start: number;
  bytes: number;
  /** publish id -> [seq, expiresAt] */
  ids: Map<string, [number, number]>;
}

export interface MemoryLogOptions {
  retention: (stream: string) => Retention;
  publishIdTtlMs: number;
  now?: () => number;
}

/**
 * In-process log: one bounded ring per stream (count, bytes and age). One node only: every process has its own
 * epochs. Live feed = synchronous callback after each append, so delivery order is the append order.
 */
export class MemoryLog implements StreamLog {
  readonly kind = "memory" as const;
  readonly #rings = new Map<string, Ring>();
  readonly #listeners = new Set<AppendListener>();
  readonly #opts: MemoryLogOptions;
  readonly #now: () => number;

  constructor(opts: MemoryLogOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  #ring(stream: string): Ring {
    let r = this.#rings.get(stream);
    if (!r) {
      r = { epoch: randomBytes(6).toString("hex"), head: 0, entries: [], start: 0, bytes: 0, ids: new Map() };
      this.#rings.set(stream, r);
    }
    return r;
  }

  async append(stream: string, input: AppendInput): Promise<Appended> {
    const r = this.#ring(stream);
    const now = this.#now();
    const prev = r.ids.get(input.id);
    if (prev && prev[1] > now) return { epoch: r.epoch, seq: prev[0], duplicate: true };
    const seq = ++r.head;
    const msg: LoggedMessage = { seq, event: input.event, data: JSON.parse(input.dataJson) as unknown, ts: input.ts };
    const bytes = input.dataJson.length + input.event.length + 32;
    r.entries.push({ msg, bytes });
    r.bytes += bytes;
    r.ids.set(input.id, [seq, now + this.#opts.publishIdTtlMs]);
    this.#trim(stream, r, now);
    const live: StreamMessage = { stream, epoch: r.epoch, seq, event: msg.event, data: msg.data, ts: msg.ts };
    for (const l of this.#listeners) l(live);
    return { epoch: r.epoch, seq, duplicate: false };
  }

  #trim(stream: string, r: Ring, now: number): void {
    const ret = this.#opts.retention(stream);
    const minTs = ret.maxAgeMs > 0 ? now - ret.maxAgeMs : -Infinity;
    while (r.start < r.entries.length) {
      const e = r.entries[r.start]!;
      const count = r.entries.length - r.start;
      if (count > ret.maxCount || r.bytes > ret.maxBytes || e.msg.ts < minTs) {
        r.bytes -= e.bytes;
        r.entries[r.start] = undefined as unknown as Entry;
        r.start++;
      } else break;
    }
    if (r.start > 1024 && r.start * 2 > r.entries.length) {
      r.entries = r.entries.slice(r.start);
      r.start = 0;
    }
    if (r.ids.size > 4096) {
      for (const [id, [, exp]] of r.ids) if (exp <= now) r.ids.delete(id);
    }
  }

  async read(stream: string, after: number, limit: number): Promise<ReadResult> {
    const r = this.#ring(stream);
    this.#trim(stream, r, this.#now());
    const count = r.entries.length - r.start;
    const oldest = count > 0 ? r.entries[r.start]!.msg.seq : r.head + 1;
    const messages: LoggedMessage[] = [];
    if (after + 1 >= oldest) {
      let i = r.start + (after + 1 - oldest);
      while (i < r.entries.length && messages.length < limit) messages.push(r.entries[i++]!.msg);
    }
    return { epoch: r.epoch, head: r.head, oldest, messages };
  }

  async head(stream: string): Promise<{ epoch: string; head: number }> {
    const r = this.#ring(stream);
    return { epoch: r.epoch, head: r.head };
  }

  watch(listener: AppendListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onFeedGap(): () => void {
    return () => {};
  }

  healthy(): boolean {
    return true;
  }

  /** Drops a stream's log (tests, admin): its next use starts a new epoch. */
  drop(stream: string): void {
    this.#rings.delete(stream);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    this.#rings.clear();
  }
}

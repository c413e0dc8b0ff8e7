import type { LoggedMessage, ResyncReason, StreamMessage } from "../protocol/streams.js";
import type { StreamLog } from "./log.js";

export interface HubSink {
  /** Sends one message to every live subscriber of the stream on this node (one encode, room broadcast). */
  live(msg: StreamMessage): void;
  /** Tells every live subscriber on this node to continue from `{epoch, head}`. */
  resync(epoch: string, head: number, reason: ResyncReason): void;
  /** Sends the position notice to live subscribers. */
  position(epoch: string, head: number): void;
  /**
   * At a position check with live subscribers on this node: how many messages the log head was ahead of what they
   * had been sent (before the check repaired it). 0 when they were level.
   */
  lag(behind: number): void;
  duplicate(): void;
  repaired(count: number): void;
  error(err: unknown): void;
}

type Task = { kind: "msg"; msg: StreamMessage } | { kind: "check"; done: () => void; notify: boolean };

/**
 * The node-side state of one stream: the head this node has delivered to its live subscribers (`nodeHead`), in the
 * log's epoch. Incoming feed messages and position checks run through one serial queue, so the node delivers
 * seq nodeHead+1, nodeHead+2, ... exactly once each: duplicates are dropped, holes are filled from the log first.
 * Live subscribers sit in the stream's room and have always been sent exactly 1..nodeHead.
 */
export class StreamHub {
  readonly name: string;
  epoch = "";
  nodeHead = 0;
  subscribers = 0;
  /** Lag measured by the latest position check with live subscribers (see HubSink.lag). */
  lastLag = 0;
  readonly ready: Promise<void>;
  readonly #log: StreamLog;
  readonly #sink: HubSink;
  readonly #batch: number;
  readonly #tasks: Task[] = [];
  #busy = true;
  #closed = false;

  constructor(name: string, log: StreamLog, sink: HubSink, batch: number) {
    this.name = name;
    this.#log = log;
    this.#sink = sink;
    this.#batch = batch;
    this.ready = this.#init();
  }

  async #init(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const h = await this.#log.head(this.name);
        this.epoch = h.epoch;
        this.nodeHead = h.head;
        break;
      } catch (err) {
        if (this.#closed || attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
    this.#busy = false;
    void this.#run();
  }

  get idle(): boolean {
    return !this.#busy && this.#tasks.length === 0;
  }

  push(msg: StreamMessage): void {
    this.#tasks.push({ kind: "msg", msg });
    if (!this.#busy) void this.#run();
  }

  /** Compares nodeHead with the log head and repairs; then (notify) sends the position notice. */
  check(notify = false): Promise<void> {
    return new Promise<void>((done) => {
      this.#tasks.push({ kind: "check", done, notify });
      if (!this.#busy) void this.#run();
    });
  }

  async #run(): Promise<void> {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    try {
      while (this.#tasks.length > 0 && !this.#closed) {
        const task = this.#tasks[0]!;
        try {
          if (task.kind === "msg") await this.#apply(task.msg);
          else {
            const h = await this.#log.head(this.name);
            if (this.subscribers > 0) {
              // in a new epoch the subscribers start over at 0: everything up to the head is still to come
              this.lastLag = h.epoch === this.epoch ? Math.max(0, h.head - this.nodeHead) : h.head;
              this.#sink.lag(this.lastLag);
            }
            if (h.epoch !== this.epoch) this.#newEpoch(h.epoch);
            if (h.head > this.nodeHead) await this.#repair(h.head);
            if (task.notify && this.subscribers > 0) this.#sink.position(this.epoch, this.nodeHead);
            task.done();
          }
          this.#tasks.shift();
        } catch (err) {
          // log unavailable: keep the task, the next position check (or feed message) resumes
          this.#sink.error(err);
          if (task.kind === "check") {
            this.#tasks.shift();
            task.done();
          }
          break;
        }
      }
    } finally {
      this.#busy = false;
    }
  }

  async #apply(msg: StreamMessage): Promise<void> {
    if (msg.epoch !== this.epoch) {
      // a message of an older epoch (in flight while the log was recreated) is dropped
      const h = await this.#log.head(this.name);
      if (h.epoch !== msg.epoch) {
        this.#sink.duplicate();
        return;
      }
      this.#newEpoch(msg.epoch);
    }
    if (msg.seq <= this.nodeHead) {
      this.#sink.duplicate();
      return;
    }
    if (msg.seq > this.nodeHead + 1) await this.#repair(msg.seq - 1);
    if (msg.epoch === this.epoch && msg.seq === this.nodeHead + 1) {
      this.nodeHead = msg.seq;
      this.#sink.live(msg);
    }
  }

  #newEpoch(epoch: string): void {
    this.epoch = epoch;
    this.nodeHead = 0;
    this.#sink.resync(epoch, 0, "epoch_changed");
  }

  /** Delivers nodeHead+1..target from the log. */
  async #repair(target: number): Promise<void> {
    let repaired = 0;
    while (this.nodeHead < target && !this.#closed) {
      const r = await this.#log.read(this.name, this.nodeHead, Math.min(this.#batch, target - this.nodeHead));
      if (r.epoch !== this.epoch) {
        this.#newEpoch(r.epoch);
        target = Math.min(target, r.head);
        continue;
      }
      if (this.nodeHead + 1 < r.oldest) {
        // the log no longer holds what this node missed: its subscribers continue from the log head
        this.nodeHead = r.head;
        this.#sink.resync(this.epoch, r.head, "trimmed");
        break;
      }
      if (r.messages.length === 0) break;
      for (const m of r.messages as LoggedMessage[]) {
        if (m.seq !== this.nodeHead + 1) break;
        this.nodeHead = m.seq;
        repaired++;
        this.#sink.live({ stream: this.name, epoch: this.epoch, seq: m.seq, event: m.event, data: m.data, ts: m.ts });
      }
    }
    if (repaired > 0) this.#sink.repaired(repaired);
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#tasks.splice(0)) if (t.kind === "check") t.done();
  }
}

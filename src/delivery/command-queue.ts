import { Redis } from "ioredis";

/** One queued command (persisted before the caller is acknowledged). */
export interface QueuedCommand {
  name: string;
  key: string;
  payload: unknown;
  replyTo: string | undefined;
  /** The claim token taken when the command was accepted: the worker renews it while the handler runs. */
  claim?: string | undefined;
}

/**
 * The "persist, acknowledge, process later" queue of commands registered with `{ queued: true }`.
 * Memory: an in-process FIFO. Redis: a Redis Stream read by a consumer group (one consumer per node), so any node
 * may process a command accepted by another, and entries of a dead node are claimed (XAUTOCLAIM) by the others.
 */
export interface CommandQueue {
  readonly kind: "memory" | "redis";
  enqueue(cmd: QueuedCommand): Promise<void>;
  /** Starts consuming: `process` runs each command; the entry is acknowledged when it resolves. */
  start(process: (cmd: QueuedCommand) => Promise<void>): void;
  close(): Promise<void>;
}

export class MemoryCommandQueue implements CommandQueue {
  readonly kind = "memory" as const;
  readonly #items: QueuedCommand[] = [];
  #process: ((cmd: QueuedCommand) => Promise<void>) | undefined;
  #running = false;
  #closed = false;

  async enqueue(cmd: QueuedCommand): Promise<void> {
    this.#items.push(cmd);
    this.#pump();
  }

  start(process: (cmd: QueuedCommand) => Promise<void>): void {
    this.#process = process;
    this.#pump();
  }

  #pump(): void {
    if (this.#running || !this.#process || this.#closed) return;
    this.#running = true;
    setImmediate(async () => {
      try {
        while (this.#items.length > 0 && !this.#closed) await this.#process!(this.#items.shift()!).catch(() => {});
      } finally {
        this.#running = false;
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#items.length = 0;
  }
}

export interface RedisCommandQueueOptions {
  redisUrl: string;
  keyPrefix: string;
  group: string;
  consumer: string;
  connectionName: string;
  /** Entries pending longer than this on a consumer are claimed by another node. */
  claimIdleMs: number;
  onError?: (err: Error) => void;
}

export class RedisCommandQueue implements CommandQueue {
  readonly kind = "redis" as const;
  readonly #cmd: Redis;
  readonly #reader: Redis;
  readonly #opts: RedisCommandQueueOptions;
  readonly #key: string;
  #closed = false;
  #started = false;
  readonly #keepers = new Set<NodeJS.Timeout>();

  constructor(opts: RedisCommandQueueOptions) {
    this.#opts = opts;
    this.#key = `${opts.keyPrefix}cmdq`;
    this.#cmd = new Redis(opts.redisUrl, { connectionName: `${opts.connectionName}-cmdq`, maxRetriesPerRequest: 20, lazyConnect: true });
    this.#reader = new Redis(opts.redisUrl, { connectionName: `${opts.connectionName}-cmdq-read`, maxRetriesPerRequest: null, lazyConnect: true });
    this.#cmd.on("error", (err: Error) => opts.onError?.(err));
    this.#reader.on("error", (err: Error) => opts.onError?.(err));
  }

  async enqueue(cmd: QueuedCommand): Promise<void> {
    await this.#cmd.xadd(this.#key, "*", "c", JSON.stringify(cmd));
  }

  start(process: (cmd: QueuedCommand) => Promise<void>): void {
    if (this.#started) return;
    this.#started = true;
    void this.#run(process);
  }

  async #ensureGroup(): Promise<void> {
    try {
      await this.#cmd.xgroup("CREATE", this.#key, this.#opts.group, "0", "MKSTREAM");
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  async #handle(entries: [string, string[]][], process: (cmd: QueuedCommand) => Promise<void>): Promise<void> {
    for (const [id, fields] of entries) {
      if (this.#closed) return;
      const raw = fields[fields.indexOf("c") + 1];
      if (raw !== undefined) {
        // keep the entry ours while the handler runs (resets its idle time, so no other node claims it)
        const keep = setInterval(() => {
          this.#cmd.xclaim(this.#key, this.#opts.group, this.#opts.consumer, 0, id, "JUSTID").catch(() => {});
        }, Math.max(50, Math.floor(this.#opts.claimIdleMs / 3)));
        this.#keepers.add(keep);
        try {
          await process(JSON.parse(raw) as QueuedCommand);
        } catch (err) {
          this.#opts.onError?.(err as Error);
        } finally {
          clearInterval(keep);
          this.#keepers.delete(keep);
        }
      }
      if (this.#closed) return;
      await this.#cmd.xack(this.#key, this.#opts.group, id);
    }
  }

  async #run(process: (cmd: QueuedCommand) => Promise<void>): Promise<void> {
    let lastClaim = 0;
    while (!this.#closed) {
      try {
        await this.#ensureGroup();
        break;
      } catch (err) {
        this.#opts.onError?.(err as Error);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    while (!this.#closed) {
      try {
        if (Date.now() - lastClaim > this.#opts.claimIdleMs / 2) {
          lastClaim = Date.now();
          const claimed = (await this.#cmd.xautoclaim(this.#key, this.#opts.group, this.#opts.consumer, this.#opts.claimIdleMs, "0-0", "COUNT", 50)) as [string, [string, string[]][]];
          await this.#handle(claimed[1] ?? [], process);
        }
        const res = (await this.#reader.xreadgroup(
          "GROUP", this.#opts.group, this.#opts.consumer, "COUNT", 20, "BLOCK", 1000, "STREAMS", this.#key, ">",
        )) as [string, [string, string[]][]][] | null;
        if (res) for (const [, entries] of res) await this.#handle(entries, process);
      } catch (err) {
        if (this.#closed) return;
        if (/NOGROUP/.test((err as Error).message)) await this.#ensureGroup().catch(() => {});
        this.#opts.onError?.(err as Error);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const k of this.#keepers) clearInterval(k);
    this.#keepers.clear();
    // the loop is not awaited: a handler may still run; its entry stays pending and another node claims it
    this.#reader.disconnect();
    this.#cmd.disconnect();
  }
}

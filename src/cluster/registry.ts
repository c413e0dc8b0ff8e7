import type { Redis } from "ioredis";
import { isIpcMessage, type IpcMessage } from "./probe.js";

/** What every node announces about itself. */
export interface NodeRecord {
  id: string;
  /** HOST:PORT where other nodes forward session traffic to this node. */
  address: string;
  version: string;
  /** Open Engine.IO connections on this node. */
  connections: number;
  /** ISO time the node started. */
  startedAt: string;
  /** ISO time of the last heartbeat. */
  lastSeen: string;
}

/** Live nodes with heartbeat and expiry. One interface, three homes: this process, Redis, the node:cluster primary. */
export interface NodeRegistry {
  readonly kind: "memory" | "redis" | "ipc";
  /** Announces (or refreshes) a node; it expires after ttlMs without another announce. */
  announce(record: NodeRecord, ttlMs: number): Promise<void>;
  /** Removes a node at once (on shutdown). */
  withdraw(id: string): Promise<void>;
  list(): Promise<NodeRecord[]>;
  lookup(id: string): Promise<NodeRecord | undefined>;
  close(): void;
}

function parseRecord(raw: string | null | undefined): NodeRecord | undefined {
  if (!raw) return undefined;
  try {
    const r = JSON.parse(raw) as NodeRecord;
    return typeof r.id === "string" && typeof r.address === "string" ? r : undefined;
  } catch {
    return undefined;
  }
}

/** One process: only itself. */
export class MemoryRegistry implements NodeRegistry {
  readonly kind = "memory";
  readonly #nodes = new Map<string, { record: NodeRecord; expiresAt: number }>();

  announce(record: NodeRecord, ttlMs: number): Promise<void> {
    this.#nodes.set(record.id, { record, expiresAt: Date.now() + ttlMs });
    return Promise.resolve();
  }

  withdraw(id: string): Promise<void> {
    this.#nodes.delete(id);
    return Promise.resolve();
  }

  list(): Promise<NodeRecord[]> {
    const now = Date.now();
    return Promise.resolve([...this.#nodes.values()].filter((n) => n.expiresAt > now).map((n) => n.record));
  }

  async lookup(id: string): Promise<NodeRecord | undefined> {
    return (await this.list()).find((n) => n.id === id);
  }

  close(): void {
    this.#nodes.clear();
  }
}

/**
 * Redis: one key per node with a TTL (`<prefix>:node:<id>`), plus a sorted set `<prefix>:nodes` scored by expiry
 * so listing needs no SCAN. Expired members are pruned on every heartbeat.
 */
export class RedisRegistry implements NodeRegistry {
  readonly kind = "redis";
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  #key(id: string): string {
    return `${this.prefix}:node:${id}`;
  }

  get #index(): string {
    return `${this.prefix}:nodes`;
  }

  async announce(record: NodeRecord, ttlMs: number): Promise<void> {
    const now = Date.now();
    await this.redis
      .multi()
      .set(this.#key(record.id), JSON.stringify(record), "PX", ttlMs)
      .zadd(this.#index, now + ttlMs, record.id)
      .zremrangebyscore(this.#index, "-inf", now)
      .exec();
  }

  async withdraw(id: string): Promise<void> {
    await this.redis.multi().del(this.#key(id)).zrem(this.#index, id).exec();
  }

  async list(): Promise<NodeRecord[]> {
    const ids = await this.redis.zrangebyscore(this.#index, Date.now(), "+inf");
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.#key(id)));
    return raws.map(parseRecord).filter((r): r is NodeRecord => r !== undefined);
  }

  async lookup(id: string): Promise<NodeRecord | undefined> {
    return parseRecord(await this.redis.get(this.#key(id)));
  }

  close(): void {
    // the Redis connection belongs to the backplane
  }
}

/** node:cluster worker: announces to the primary over IPC and keeps the table the primary sends back. */
export class IpcRegistry implements NodeRegistry {
  readonly kind = "ipc";
  #nodes: NodeRecord[] = [];
  readonly #onMessage = (m: unknown): void => {
    if (isIpcMessage(m) && m.pylon === "nodes" && Array.isArray(m.nodes)) {
      this.#nodes = m.nodes.map((n) => parseRecord(JSON.stringify(n))).filter((r): r is NodeRecord => r !== undefined);
    }
  };

  constructor(readonly proc: NodeJS.Process) {
    proc.on("message", this.#onMessage);
  }

  #send(msg: IpcMessage): void {
    if (this.proc.send && this.proc.connected) this.proc.send(msg);
  }

  announce(record: NodeRecord, ttlMs: number): Promise<void> {
    this.#send({ pylon: "announce", node: { ...record, ttlMs } });
    return Promise.resolve();
  }

  withdraw(id: string): Promise<void> {
    this.#send({ pylon: "withdraw", id });
    return Promise.resolve();
  }

  list(): Promise<NodeRecord[]> {
    return Promise.resolve([...this.#nodes]);
  }

  lookup(id: string): Promise<NodeRecord | undefined> {
    return Promise.resolve(this.#nodes.find((n) => n.id === id));
  }

  close(): void {
    this.proc.off("message", this.#onMessage);
  }
}

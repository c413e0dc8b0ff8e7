import { Redis } from "ioredis";
import type { CommandOutcome } from "../protocol/streams.js";

export type BeginResult = { state: "new" } | { state: "running" } | { state: "done"; outcome: CommandOutcome };

/**
 * Records idempotency keys of commands. begin() claims a key (atomically, across nodes for Redis) for `leaseMs`;
 * complete() stores the outcome for `ttlMs`. A key whose claim lapsed (its node died mid-handler) can be claimed again.
 */
export interface IdempotencyStore {
  readonly kind: "memory" | "redis";
  begin(key: string, leaseMs: number): Promise<BeginResult>;
  /** Extends a running claim (called while the handler runs). */
  renew(key: string, leaseMs: number): Promise<void>;
  complete(key: string, outcome: CommandOutcome, ttlMs: number): Promise<void>;
  /** Releases a claim without an outcome (the command was not run). */
  release(key: string): Promise<void>;
  close(): Promise<void>;
}

interface MemEntry {
  outcome: CommandOutcome | undefined;
  expiresAt: number;
}

/** In-process LRU (Map insertion order) with expiry; bounded by maxEntries. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly kind = "memory" as const;
  readonly #map = new Map<string, MemEntry>();
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** Count of entries evicted by the LRU bound before they expired. */
  evicted = 0;

  constructor(maxEntries: number, now: () => number = Date.now) {
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  async begin(key: string, leaseMs: number): Promise<BeginResult> {
    const now = this.#now();
    const e = this.#map.get(key);
    if (e && e.expiresAt > now) {
      this.#map.delete(key);
      this.#map.set(key, e);
      return e.outcome ? { state: "done", outcome: e.outcome } : { state: "running" };
    }
    this.#set(key, { outcome: undefined, expiresAt: now + leaseMs });
    return { state: "new" };
  }

  async renew(key: string, leaseMs: number): Promise<void> {
    const e = this.#map.get(key);
    if (e && !e.outcome) e.expiresAt = this.#now() + leaseMs;
  }

  async complete(key: string, outcome: CommandOutcome, ttlMs: number): Promise<void> {
    this.#set(key, { outcome, expiresAt: this.#now() + ttlMs });
  }

  async release(key: string): Promise<void> {
    const e = this.#map.get(key);
    if (e && !e.outcome) this.#map.delete(key);
  }

  #set(key: string, e: MemEntry): void {
    this.#map.delete(key);
    this.#map.set(key, e);
    while (this.#map.size > this.#maxEntries) {
      const oldest = this.#map.keys().next().value as string;
      const o = this.#map.get(oldest)!;
      if (o.expiresAt > this.#now()) this.evicted++;
      this.#map.delete(oldest);
    }
  }

  get size(): number {
    return this.#map.size;
  }

  async close(): Promise<void> {
    this.#map.clear();
  }
}

/** KEYS: key. ARGV: lease ms. SET NX PX, or the stored value. */
const BEGIN_LUA = `
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], 'r', 'PX', ARGV[1])
return false
`;
/** KEYS: key. ARGV: lease ms. Extends only a running claim. */
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) == 'r' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1
`;
/** KEYS: key. Deletes only a running claim. */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == 'r' then redis.call('DEL', KEYS[1]) end
return 1
`;

type RedisWithScripts = Redis & {
  pylonIdemBegin(key: string, leaseMs: number): Promise<string | null>;
  pylonIdemRenew(key: string, leaseMs: number): Promise<number>;
  pylonIdemRelease(key: string): Promise<number>;
};

/** Redis store: `SET key r NX PX lease` (in a script that returns the stored outcome when present). */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly kind = "redis" as const;
  readonly #redis: RedisWithScripts;
  readonly #prefix: string;

  constructor(opts: { redisUrl: string; keyPrefix: string; connectionName: string; onError?: (err: Error) => void }) {
    this.#prefix = `${opts.keyPrefix}cmd:`;
    this.#redis = new Redis(opts.redisUrl, { connectionName: `${opts.connectionName}-cmd`, maxRetriesPerRequest: 20 }) as RedisWithScripts;
    this.#redis.defineCommand("pylonIdemBegin", { numberOfKeys: 1, lua: BEGIN_LUA });
    this.#redis.defineCommand("pylonIdemRenew", { numberOfKeys: 1, lua: RENEW_LUA });
    this.#redis.defineCommand("pylonIdemRelease", { numberOfKeys: 1, lua: RELEASE_LUA });
    this.#redis.on("error", (err: Error) => opts.onError?.(err));
  }

  async begin(key: string, leaseMs: number): Promise<BeginResult> {
    const v = await this.#redis.pylonIdemBegin(this.#prefix + key, leaseMs);
    if (v === null) return { state: "new" };
    if (v === "r") return { state: "running" };
    return { state: "done", outcome: JSON.parse(v) as CommandOutcome };
  }

  async renew(key: string, leaseMs: number): Promise<void> {
    await this.#redis.pylonIdemRenew(this.#prefix + key, leaseMs);
  }

  async complete(key: string, outcome: CommandOutcome, ttlMs: number): Promise<void> {
    await this.#redis.set(this.#prefix + key, JSON.stringify(outcome), "PX", ttlMs);
  }

  async release(key: string): Promise<void> {
    await this.#redis.pylonIdemRelease(this.#prefix + key);
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => {});
    this.#redis.disconnect();
  }
}

import { Redis } from "ioredis";
import { TokenBucket } from "./token-bucket.js";

/** Result of one take: allowed, or refused with the time until enough tokens are back. */
export interface TakeResult {
  allowed: boolean;
  retryAfterMs: number;
}

/** Shared token buckets by key (per-IP handshake limits). One contract, a memory and a Redis implementation. */
export interface RateLimitStore {
  /** Spends `cost` tokens from the bucket `key` (perSec refill, burst size). */
  take(key: string, perSec: number, burst: number, cost?: number): Promise<TakeResult>;
  close(): Promise<void>;
}

/** Buckets in this process. Idle (full) buckets are swept periodically so memory stays bounded by active keys. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #now: () => number;
  readonly #sweep: NodeJS.Timeout;
  readonly #maxKeys: number;

  constructor(options: { now?: () => number; sweepMs?: number; maxKeys?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#sweep = setInterval(() => this.sweep(), options.sweepMs ?? 30_000);
    this.#sweep.unref();
  }

  take(key: string, perSec: number, burst: number, cost = 1): Promise<TakeResult> {
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (!b || b.perSec !== perSec || b.burst !== burst) {
      if (!b && this.#buckets.size >= this.#maxKeys) this.sweep();
      b = new TokenBucket(perSec, burst, now);
      this.#buckets.set(key, b);
    }
    const wait = b.take(now, cost);
    return Promise.resolve({ allowed: wait === 0, retryAfterMs: wait });
  }

  /** Forgets buckets that are full again. */
  sweep(): void {
    const now = this.#now();
    for (const [k, b] of this.#buckets) if (b.full(now)) this.#buckets.delete(k);
  }

  get size(): number {
    return this.#buckets.size;
  }

  close(): Promise<void> {
    clearInterval(this.#sweep);
    this.#buckets.clear();
    return Promise.resolve();
  }
}

// KEYS[1] bucket; ARGV: perSec, burst, cost. Time from the Redis server so every node shares one clock.
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000); ts = now end
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = math.max(1, math.ceil((math.min(cost, burst) - tokens) * 1000 / rate)) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
`;

/**
 * Buckets in Redis (one hash per key, updated atomically by a Lua script, expiring once refilled), shared by all
 * nodes. When Redis is unreachable the store fails open (allows) and reports through onError, so an outage of the
 * limiter never takes the service down; the caller counts it.
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #onError: (err: Error) => void;
  #closed = false;

  constructor(url: string, options: { prefix?: string; onError?: (err: Error) => void } = {}) {
    this.#prefix = options.prefix ?? "pylon:rl:";
    this.#onError = options.onError ?? (() => undefined);
    this.#redis = new Redis(url, {
      lazyConnect: false,
      enableOfflineQueue: true,
      maxRetriesPerRequest: 1,
      commandTimeout: 1000,
      retryStrategy: (n) => Math.min(n * 200, 2000),
    });
    this.#redis.on("error", (err: Error) => this.#onError(err));
    this.#redis.defineCommand("pylonTake", { numberOfKeys: 1, lua: TAKE_SCRIPT });
  }

  async take(key: string, perSec: number, burst: number, cost = 1): Promise<TakeResult> {
    if (this.#closed) return { allowed: true, retryAfterMs: 0 };
    try {
      const run = (this.#redis as unknown as { pylonTake(k: string, r: number, b: number, c: number): Promise<number> }).pylonTake;
      const wait = Number(await run.call(this.#redis, this.#prefix + key, perSec, burst, cost));
      return { allowed: wait === 0, retryAfterMs: wait };
    } catch (err) {
      this.#onError(err as Error);
      return { allowed: true, retryAfterMs: 0 };
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }
}

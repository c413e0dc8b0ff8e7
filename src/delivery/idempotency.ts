import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { CommandOutcome } from "../protocol/streams.js";

/** `new`: this call holds the claim, identified by `claim` (pass it to renew/release). */
export type BeginResult = { state: "new"; claim: string } | { state: "running" } | { state: "done"; outcome: CommandOutcome };

/**
 * Records idempotency keys of commands. begin() claims a key (atomically, across nodes for Redis) for `leaseMs`;
 * complete() stores the outcome for `ttlMs`. A key whose claim lapsed (its node died mid-handler) can be claimed again.
 * Each claim carries a token: renew() and release() act only on the caller's own claim, never on a later one.
 */
export interface IdempotencyStore {
  readonly kind: "memory" | "redis";
  begin(key: string, leaseMs: number): Promise<BeginResult>;
  /** Extends the caller's running claim; false when it no longer holds it (lapsed, taken over, or completed). */
  renew(key: string, leaseMs: number, claim: string): Promise<boolean>;
  complete(key: string, outcome: CommandOutcome, ttlMs: number): Promise<void>;
  /** Releases the caller's claim without an outcome (the command was not run). */
  release(key: string, claim: string): Promise<void>;
  close(): Promise<void>;
}

/** A fresh claim token (unguessable, so no other node's claim can carry it). */
export function newClaim(): string {
  return randomBytes(12).toString("base64url");
}

interface MemEntry {
  outcome: CommandOutcome | undefined;
  /** Token of the running claim (undefined once the outcome is stored). */
  claim: string | undefined;
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
    const claim = newClaim();
    this.#set(key, { outcome: undefined, claim, expiresAt: now + leaseMs });
    return { state: "new", claim };
  }

  async renew(key: string, leaseMs: number, claim: string): Promise<boolean> {
    const e = this.#map.get(key);
    if (!e || e.claim !== claim || e.expiresAt <= this.#now()) return false;
    e.expiresAt = this.#now() + leaseMs;
    return true;
  }

  async complete(key: string, outcome: CommandOutcome, ttlMs: number): Promise<void> {
    this.#set(key, { outcome, claim: undefined, expiresAt: this.#now() + ttlMs });
  }

  async release(key: string, claim: string): Promise<void> {
    const e = this.#map.get(key);
    if (e && e.claim === claim) this.#map.delete(key);
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

// Values: a running claim is `r:<token>` (a plain `r` from older versions counts as running, owned by nobody here); an
// outcome is its JSON (starts with `{`).
/**
 * KEYS: key. ARGV: lease ms, claim token. SET NX PX, or the stored value. Finding its own claim means this very call
 * ran before and its reply was lost with the connection (the Redis client resends unanswered commands after a
 * reconnect): it returns false again, so the caller holds the claim it made (before, it answered "running" and nobody
 * ran the command until the lease lapsed).
 */
const BEGIN_LUA = `
local v = redis.call('GET', KEYS[1])
if v == 'r:' .. ARGV[2] then return false end
if v then return v end
redis.call('SET', KEYS[1], 'r:' .. ARGV[2], 'PX', ARGV[1])
return false
`;
/** KEYS: key. ARGV: lease ms, claim token. Extends only the caller's own running claim; 1 when it did. */
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) == 'r:' .. ARGV[2] then redis.call('PEXPIRE', KEYS[1], ARGV[1]) return 1 end
return 0
`;
/** KEYS: key. ARGV: claim token. Deletes only the caller's own running claim. */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == 'r:' .. ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

type RedisWithScripts = Redis & {
  pylonIdemBegin(key: string, leaseMs: number, claim: string): Promise<string | null>;
  pylonIdemRenew(key: string, leaseMs: number, claim: string): Promise<number>;
  pylonIdemRelease(key: string, claim: string): Promise<number>;
};

/** Redis store: `SET key r:<claim> NX PX lease` (in a script that returns the stored value when present). */
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
    const claim = newClaim();
    const v = await this.#redis.pylonIdemBegin(this.#prefix + key, leaseMs, claim);
    if (v === null) return { state: "new", claim };
    if (v.startsWith("r")) return { state: "running" };
    return { state: "done", outcome: JSON.parse(v) as CommandOutcome };
  }

  async renew(key: string, leaseMs: number, claim: string): Promise<boolean> {
    return (await this.#redis.pylonIdemRenew(this.#prefix + key, leaseMs, claim)) === 1;
  }

  async complete(key: string, outcome: CommandOutcome, ttlMs: number): Promise<void> {
    await this.#redis.set(this.#prefix + key, JSON.stringify(outcome), "PX", ttlMs);
  }

  async release(key: string, claim: string): Promise<void> {
    await this.#redis.pylonIdemRelease(this.#prefix + key, claim);
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => {});
    this.#redis.disconnect();
  }
}

import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { LoggedMessage, StreamMessage } from "../protocol/streams.js";
import type { AppendInput, Appended, AppendListener, ReadResult, Retention, StreamLog } from "./log.js";

/**
 * Append = one Lua script: publish-id check, epoch creation, HINCRBY seq, XADD (id = "<seq>-0", MAXLEN ~ count),
 * age trim (XTRIM MINID, every 8th append), PUBLISH of the envelope on the node feed channel. Redis runs the script
 * atomically, so seq order = log order = PUBLISH order, and every subscriber connection receives one total order.
 * KEYS: meta hash, log stream, publish-id key.  ARGV: new epoch, event, data JSON, ts, maxCount, minTs, id TTL ms,
 * channel, stream name.
 */
const APPEND_LUA = `
local prev = redis.call('GET', KEYS[3])
if prev then return {0, prev} end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], seq .. '-0', 't', ARGV[4], 'e', ARGV[2], 'd', ARGV[3])
local minTs = tonumber(ARGV[6])
if minTs > 0 and seq % 8 == 0 then
  local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 64)
  local cut = 0
  for i, e in ipairs(first) do
    if tonumber(e[2][2]) < minTs then cut = i else break end
  end
  if cut > 0 then
    local lastSeq = tonumber(string.match(first[cut][1], '^(%d+)'))
    redis.call('XTRIM', KEYS[2], 'MINID', (lastSeq + 1) .. '-0')
  end
end
redis.call('SET', KEYS[3], epoch .. ':' .. seq, 'PX', ARGV[7])
redis.call('PUBLISH', ARGV[8], '{"stream":' .. cjson.encode(ARGV[9]) .. ',"epoch":"' .. epoch .. '","seq":' .. seq ..
  ',"event":' .. cjson.encode(ARGV[2]) .. ',"data":' .. ARGV[3] .. ',"ts":' .. ARGV[4] .. '}')
return {1, epoch .. ':' .. seq}
`;

/** KEYS: meta, log.  ARGV: after, limit, new epoch.  Returns {epoch, head, oldest, entries}. */
const READ_LUA = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[3]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
end
local head = tonumber(redis.call('HGET', KEYS[1], 'seq'))
local oldest = head + 1
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if first[1] then oldest = tonumber(string.match(first[1][1], '^(%d+)')) end
local after = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local entries = {}
if limit > 0 and after + 1 >= oldest and after < head then
  entries = redis.call('XRANGE', KEYS[2], (after + 1) .. '-0', '+', 'COUNT', limit)
end
return {epoch, head, oldest, entries}
`;

export interface RedisLogOptions {
  redisUrl: string;
  keyPrefix: string;
  retention: (stream: string) => Retention;
  publishIdTtlMs: number;
  /** Connection name prefix (CLIENT SETNAME), e.g. "pylon-<nodeId>". */
  connectionName: string;
  onError?: (err: Error, connection: string) => void;
  now?: () => number;
}

type RedisWithScripts = Redis & {
  pylonAppend(...args: (string | number)[]): Promise<[number, string]>;
  pylonRead(...args: (string | number)[]): Promise<[string, number, number, [string, string[]][]]>;
};

/**
 * Redis Streams log. Two connections per node: one for commands (append, read), one subscribed to the feed channel.
 * After the feed connection reconnects, onFeedGap listeners run so the streams module re-checks positions from the
 * log (messages published while it was away are repaired from the log, never lost).
 */
export class RedisLog implements StreamLog {
  readonly kind = "redis" as const;
  readonly #cmd: RedisWithScripts;
  readonly #sub: Redis;
  readonly #opts: RedisLogOptions;
  readonly #channel: string;
  readonly #listeners = new Set<AppendListener>();
  readonly #gapListeners = new Set<() => void>();
  readonly #now: () => number;
  #subReadyOnce = false;
  #subscribed: Promise<unknown> | undefined;
  #closed = false;

  constructor(opts: RedisLogOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#channel = `${opts.keyPrefix}streams`;
    this.#cmd = new Redis(opts.redisUrl, { connectionName: `${opts.connectionName}-log`, maxRetriesPerRequest: 20, enableOfflineQueue: true }) as RedisWithScripts;
    this.#cmd.defineCommand("pylonAppend", { numberOfKeys: 3, lua: APPEND_LUA });
    this.#cmd.defineCommand("pylonRead", { numberOfKeys: 2, lua: READ_LUA });
    this.#sub = new Redis(opts.redisUrl, { connectionName: `${opts.connectionName}-feed`, maxRetriesPerRequest: null });
    this.#cmd.on("error", (err: Error) => opts.onError?.(err, "log"));
    this.#sub.on("error", (err: Error) => opts.onError?.(err, "feed"));
    this.#sub.on("message", (_ch: string, text: string) => this.#onFeed(text));
    this.#sub.on("ready", () => {
      if (this.#subReadyOnce) for (const l of this.#gapListeners) l();
      this.#subReadyOnce = true;
    });
  }

  #keys(stream: string): [string, string] {
    const base = `${this.#opts.keyPrefix}s:{${stream}}`;
    return [`${base}:m`, `${base}:l`];
  }

  #onFeed(text: string): void {
    let msg: StreamMessage;
    try {
      msg = JSON.parse(text) as StreamMessage;
    } catch {
      return;
    }
    for (const l of this.#listeners) l(msg);
  }

  async append(stream: string, input: AppendInput): Promise<Appended> {
    const [meta, log] = this.#keys(stream);
    const ret = this.#opts.retention(stream);
    const minTs = ret.maxAgeMs > 0 ? this.#now() - ret.maxAgeMs : 0;
    const idKey = `${this.#opts.keyPrefix}s:{${stream}}:p:${input.id}`;
    const [fresh, pos] = await this.#cmd.pylonAppend(
      meta, log, idKey,
      newEpoch(), input.event, input.dataJson, input.ts, ret.maxCount, minTs, this.#opts.publishIdTtlMs, this.#channel, stream,
    );
    const i = pos.lastIndexOf(":");
    return { epoch: pos.slice(0, i), seq: Number(pos.slice(i + 1)), duplicate: fresh === 0 };
  }

  async read(stream: string, after: number, limit: number): Promise<ReadResult> {
    const [meta, log] = this.#keys(stream);
    const [epoch, head, oldestRaw, entries] = await this.#cmd.pylonRead(meta, log, Math.max(0, Math.floor(after)), limit, newEpoch());
    let oldest = Number(oldestRaw);
    let messages: LoggedMessage[] = entries.map(([id, f]) => toMessage(id, f));
    const ret = this.#opts.retention(stream);
    if (ret.maxAgeMs > 0) {
      // entries past their age count as trimmed even if the lazy XTRIM has not removed them yet
      const minTs = this.#now() - ret.maxAgeMs;
      const firstLive = messages.findIndex((m) => m.ts >= minTs);
      if (firstLive !== 0 && messages.length > 0) {
        oldest = firstLive < 0 ? Number(head) + 1 : messages[firstLive]!.seq;
        messages = [];
      }
    }
    return { epoch, head: Number(head), oldest, messages };
  }

  async head(stream: string): Promise<{ epoch: string; head: number }> {
    const r = await this.read(stream, 0, 0);
    return { epoch: r.epoch, head: r.head };
  }

  watch(listener: AppendListener): () => void {
    this.#listeners.add(listener);
    this.#subscribed ??= this.#sub.subscribe(this.#channel);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once the feed subscription is active. */
  async ready(): Promise<void> {
    this.#subscribed ??= this.#sub.subscribe(this.#channel);
    await this.#subscribed;
  }

  onFeedGap(listener: () => void): () => void {
    this.#gapListeners.add(listener);
    return () => this.#gapListeners.delete(listener);
  }

  healthy(): boolean {
    return this.#cmd.status === "ready" && this.#sub.status === "ready";
  }

  /** Deletes a stream's log and meta (tests, admin): the next use starts a new epoch. */
  async drop(stream: string): Promise<void> {
    await this.#cmd.del(...this.#keys(stream));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#gapListeners.clear();
    this.#subscribed?.catch(() => {});
    await Promise.allSettled([this.#cmd.quit(), this.#sub.quit()]);
    this.#cmd.disconnect();
    this.#sub.disconnect();
  }
}

function toMessage(id: string, f: string[]): LoggedMessage {
  // fields are written in the order t, e, d
  return { seq: Number(id.slice(0, id.indexOf("-"))), ts: Number(f[1]), event: f[3] ?? "", data: JSON.parse(f[5] ?? "null") as unknown };
}

function newEpoch(): string {
  return randomBytes(6).toString("hex");
}

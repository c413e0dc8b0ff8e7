import { Redis, type RedisOptions } from "ioredis";
import type { BackplaneMetrics } from "./backplane-metrics.js";

/** The two Redis connections of the backplane: one to publish (and query), one in subscriber mode. */
export interface RedisPair {
  pub: Redis;
  sub: Redis;
  /** The last connection error seen (message only), for the state-change log line. */
  lastError(): string | undefined;
  close(): Promise<void>;
}

type Publish = (channel: string | Buffer, message: string | Buffer) => Promise<number>;

/**
 * Creates the pub/sub pair. ioredis reconnects forever (capped backoff) and re-subscribes by itself.
 * The publisher does not queue while disconnected: a publish during an outage fails at once, is counted in
 * backplane_publish_errors_total and resolves to 0 (the adapters call publish without handling rejections, and an
 * unhandled rejection would crash the process). Errors are not logged here: the health probe logs state changes.
 */
export function createRedisPair(url: string, metrics: BackplaneMetrics): RedisPair {
  let lastError: string | undefined;
  const common: RedisOptions = {
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 1000),
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
  };
  const pub = new Redis(url, { ...common, enableOfflineQueue: false, connectionName: "pylon-pub" });
  // The subscriber queues its (re)subscriptions until connected, however long that takes.
  const sub = new Redis(url, { ...common, maxRetriesPerRequest: null, connectionName: "pylon-sub" });
  const onError = (err: Error): void => {
    lastError = err.message;
  };
  pub.on("error", onError);
  sub.on("error", onError);
  for (const method of ["publish", "spublish"] as const) {
    const original = (pub[method] as unknown as Publish).bind(pub);
    const guarded: Publish = (channel, message) => {
      metrics.messagesOut.inc();
      return original(channel, message).catch((err: unknown) => {
        metrics.publishErrors.inc();
        lastError = (err as Error).message;
        return 0;
      });
    };
    Object.defineProperty(pub, method, { value: guarded, configurable: true, writable: true });
  }
  // The adapters (un)subscribe without handling rejections (e.g. "Connection is closed" while shutting down).
  for (const method of ["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"] as const) {
    const original = (sub[method] as unknown as (...args: unknown[]) => Promise<unknown>).bind(sub);
    const guarded = (...args: unknown[]): Promise<unknown> =>
      original(...args).catch((err: unknown) => {
        lastError = (err as Error).message;
        return undefined;
      });
    Object.defineProperty(sub, method, { value: guarded, configurable: true, writable: true });
  }
  const countIn = (): void => metrics.messagesIn.inc();
  sub.on("messageBuffer", countIn);
  sub.on("pmessageBuffer", countIn);
  sub.on("smessageBuffer", countIn);
  let closed: Promise<void> | undefined;
  return {
    pub,
    sub,
    lastError: () => lastError,
    close() {
      closed ??= (async () => {
        for (const c of [pub, sub]) {
          try {
            if (c.status === "ready") await c.quit();
            else c.disconnect();
          } catch {
            c.disconnect();
          }
        }
      })();
      return closed;
    },
  };
}

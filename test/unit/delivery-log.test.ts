import { MemoryLog } from "../../src/delivery/memory-log.js";
import { RedisLog } from "../../src/delivery/redis-log.js";
import { startRedis, useCleanup, type RedisProcess } from "../helpers/index.js";
import { runLogContract } from "./delivery-log-contract.js";

const cleanup = useCleanup();

runLogContract("memory", async ({ retention, now }) => new MemoryLog({ retention, publishIdTtlMs: 60_000, ...(now ? { now } : {}) }));

let redis: RedisProcess | undefined;
runLogContract("redis", async ({ retention, now }) => {
  if (!redis) {
    redis = await startRedis();
    cleanup.add(() => redis?.stop());
  }
  const log = new RedisLog({ redisUrl: redis.url, keyPrefix: "ct:", retention, publishIdTtlMs: 60_000, connectionName: "contract", ...(now ? { now } : {}) });
  await log.ready();
  return log;
});

import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { startPylon, startRedis, useCleanup, type RedisProcess } from "../helpers/index.js";
import { MemoryRateLimitStore, RedisRateLimitStore, type RateLimitStore } from "../../src/security/index.js";

// One contract, both stores: the per-IP handshake buckets behave the same in memory and in a real redis-server.
const cleanup = useCleanup();

function runRateStoreContract(name: string, create: () => Promise<RateLimitStore>): void {
  describe(`RateLimitStore contract: ${name}`, () => {
    test("allows up to the burst, then refuses with a retry-after", async () => {
      const store = await create();
      const key = `k-${Math.random()}`;
      for (let i = 0; i < 5; i++) assert.equal((await store.take(key, 1, 5)).allowed, true, `take ${i}`);
      const refused = await store.take(key, 1, 5);
      assert.equal(refused.allowed, false);
      assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 1000, String(refused.retryAfterMs));
      await store.close();
    });
    test("keys are independent and cost counts", async () => {
      const store = await create();
      const a = `a-${Math.random()}`;
      const b = `b-${Math.random()}`;
      assert.equal((await store.take(a, 1, 10, 10)).allowed, true);
      assert.equal((await store.take(a, 1, 10, 1)).allowed, false);
      assert.equal((await store.take(b, 1, 10, 1)).allowed, true);
      await store.close();
    });
    test("tokens come back at the refill rate", async () => {
      const store = await create();
      const key = `r-${Math.random()}`;
      assert.equal((await store.take(key, 50, 1)).allowed, true);
      const refused = await store.take(key, 50, 1);
      assert.equal(refused.allowed, false);
      await new Promise((r) => setTimeout(r, refused.retryAfterMs + 30)); // the store's own retry-after
      assert.equal((await store.take(key, 50, 1)).allowed, true);
      await store.close();
    });
    test("close is idempotent", async () => {
      const store = await create();
      await store.close();
      await store.close();
    });
  });
}

runRateStoreContract("memory", () => Promise.resolve(new MemoryRateLimitStore()));

let redis: RedisProcess;
before(async () => {
  redis = await startRedis();
});
runRateStoreContract("redis", () => Promise.resolve(new RedisRateLimitStore(redis.url)));

test("two Redis stores (two nodes) share one bucket", async () => {
  const a = new RedisRateLimitStore(redis.url);
  const b = new RedisRateLimitStore(redis.url);
  cleanup.add(() => a.close());
  cleanup.add(() => b.close());
  const key = `shared-${Math.random()}`;
  let allowed = 0;
  for (let i = 0; i < 10; i++) if ((await (i % 2 ? a : b).take(key, 0.01, 6)).allowed) allowed++;
  assert.equal(allowed, 6);
});

test("the Redis store fails open (and reports) when Redis is down", async () => {
  const errors: Error[] = [];
  const store = new RedisRateLimitStore("redis://127.0.0.1:1", { onError: (e) => errors.push(e) });
  cleanup.add(() => store.close());
  const r = await store.take("x", 1, 1);
  assert.equal(r.allowed, true);
  assert.ok(errors.length > 0);
});

test("two pylon nodes with rateLimit.store redis share one per-IP handshake budget", async () => {
  const config = {
    drain: { windowMs: 0 },
    cluster: { redisUrl: redis.url },
    security: { rateLimit: { enabled: true, store: "redis", handshakesPerSec: 0.01, handshakeBurst: 6 } },
  };
  const [a, b] = await Promise.all([startPylon({ config }), startPylon({ config })]);
  const handshake = async (url: string): Promise<number> => {
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
    await res.text();
    return res.status;
  };
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) statuses.push(await handshake(i % 2 ? a.url : b.url));
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 403, 403, 403, 403]);
  await Promise.all([a.stop(), b.stop()]);
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { MemoryIdempotencyStore, RedisIdempotencyStore, type IdempotencyStore } from "../../src/delivery/idempotency.js";
import { startRedis, useCleanup, waitFor, type RedisProcess } from "../helpers/index.js";

const cleanup = useCleanup();
let redis: RedisProcess | undefined;

/** One contract for every idempotency store. */
function runStoreContract(label: string, create: () => Promise<IdempotencyStore>): void {
  describe(`IdempotencyStore contract: ${label}`, () => {
    it("claims a key once; concurrent claims see running; the outcome is returned to later claims", async () => {
      const store = await create();
      try {
        const key = `k-${randomUUID()}`;
        const claims = await Promise.all(Array.from({ length: 10 }, () => store.begin(key, 10_000)));
        assert.equal(claims.filter((c) => c.state === "new").length, 1);
        assert.equal(claims.filter((c) => c.state === "running").length, 9);
        await store.complete(key, { status: "ok", key, result: { n: 1 } }, 60_000);
        assert.deepEqual(await store.begin(key, 10_000), { state: "done", outcome: { status: "ok", key, result: { n: 1 } } });
      } finally {
        await store.close();
      }
    });

    it("a lapsed claim (its node died) can be claimed again; renew keeps it; release frees it", async () => {
      const store = await create();
      try {
        const key = `k-${randomUUID()}`;
        const first = await store.begin(key, 600);
        assert.equal(first.state, "new");
        const claim = first.state === "new" ? first.claim : "";
        assert.equal(await store.renew(key, 60_000, claim), true);
        assert.equal((await store.begin(key, 600)).state, "running");
        await store.release(key, claim);
        assert.equal((await store.begin(key, 300)).state, "new");
        await waitFor(async () => (await store.begin(key, 300)).state === "new", { timeoutMs: 5000, message: "claim lapsed" });
      } finally {
        await store.close();
      }
    });

    it("renew and release act only on the caller's own claim (a lapsed claim cannot extend or free its successor)", async () => {
      const store = await create();
      try {
        const key = `k-${randomUUID()}`;
        const old = await store.begin(key, 300);
        assert.equal(old.state, "new");
        let next = await store.begin(key, 60_000);
        await waitFor(async () => (next = await store.begin(key, 60_000)).state === "new", { timeoutMs: 5000, message: "the first claim lapsed and a second node claimed" });
        const oldClaim = old.state === "new" ? old.claim : "";
        const nextClaim = next.state === "new" ? next.claim : "";
        assert.notEqual(oldClaim, nextClaim);
        assert.equal(await store.renew(key, 60_000, oldClaim), false, "the lapsed claim is gone");
        await store.release(key, oldClaim);
        assert.equal((await store.begin(key, 60_000)).state, "running", "the successor's claim survived the stale release");
        assert.equal(await store.renew(key, 60_000, nextClaim), true);
        await store.complete(key, { status: "ok", key, result: 1 }, 60_000);
        assert.equal(await store.renew(key, 60_000, nextClaim), false, "a stored outcome is not a running claim");
        assert.equal((await store.begin(key, 60_000)).state, "done");
      } finally {
        await store.close();
      }
    });

    it("keeps error outcomes too (retries get the same error)", async () => {
      const store = await create();
      try {
        const key = `k-${randomUUID()}`;
        await store.begin(key, 10_000);
        const outcome = { status: "error" as const, key, error: { code: "command_failed", message: "the command handler failed" } };
        await store.complete(key, outcome, 60_000);
        assert.deepEqual(await store.begin(key, 10_000), { state: "done", outcome });
      } finally {
        await store.close();
      }
    });
  });
}

runStoreContract("memory", async () => new MemoryIdempotencyStore(1000));
runStoreContract("redis", async () => {
  if (!redis) {
    redis = await startRedis();
    cleanup.add(() => redis?.stop());
  }
  return new RedisIdempotencyStore({ redisUrl: redis.url, keyPrefix: "it:", connectionName: "contract" });
});

describe("MemoryIdempotencyStore bounds", () => {
  it("evicts least recently used keys beyond maxEntries and counts evictions of live keys", async () => {
    const store = new MemoryIdempotencyStore(100);
    for (let i = 0; i < 150; i++) await store.complete(`key-${i}`, { status: "ok", key: `key-${i}`, result: i }, 60_000);
    assert.equal(store.size, 100);
    assert.equal(store.evicted, 50);
    assert.equal((await store.begin("key-0", 1000)).state, "new");
    assert.equal((await store.begin("key-149", 1000)).state, "done");
    await store.close();
  });
});

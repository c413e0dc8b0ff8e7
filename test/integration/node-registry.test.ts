import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { startRedis, useCleanup, waitFor, type RedisProcess } from "../helpers/index.js";
import { MemoryRegistry, RedisRegistry, type NodeRecord, type NodeRegistry } from "../../src/cluster/registry.js";

// One contract, every implementation of the node registry (memory; Redis on a real redis-server).
const cleanup = useCleanup();

function record(id: string, connections = 0): NodeRecord {
  const now = new Date().toISOString();
  return { id, address: `127.0.0.1:${4000 + id.length}`, version: "0.1.0", connections, startedAt: now, lastSeen: now };
}

function contract(name: string, create: () => NodeRegistry): void {
  describe(`node registry contract: ${name}`, () => {
    it("announce, list, lookup, refresh", async () => {
      const r = create();
      await r.announce(record("a", 1), 5000);
      await r.announce(record("bb", 2), 5000);
      assert.deepEqual((await r.list()).map((n) => n.id).sort(), ["a", "bb"]);
      assert.equal((await r.lookup("bb"))?.connections, 2);
      await r.announce(record("bb", 7), 5000);
      assert.equal((await r.lookup("bb"))?.connections, 7);
      assert.equal(await r.lookup("nope"), undefined);
      r.close();
    });

    it("a node expires without heartbeat", async () => {
      const r = create();
      await r.announce(record("short"), 150);
      await r.announce(record("long"), 10_000);
      await waitFor(async () => (await r.lookup("short")) === undefined, { timeoutMs: 3000, message: "expired" });
      assert.deepEqual((await r.list()).map((n) => n.id), ["long"]);
      r.close();
    });

    it("withdraw removes at once", async () => {
      const r = create();
      await r.announce(record("w"), 10_000);
      await r.withdraw("w");
      assert.equal(await r.lookup("w"), undefined);
      assert.equal((await r.list()).some((n) => n.id === "w"), false);
      r.close();
    });
  });
}

contract("memory", () => new MemoryRegistry());

describe("redis registry", () => {
  let redis: RedisProcess;
  let client: Redis;
  let n = 0;
  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    cleanup.add(() => client.disconnect());
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
  });
  // each registry gets its own key prefix so the cases do not see each other
  contract("redis", () => new RedisRegistry(client, `t${n++}`));
});

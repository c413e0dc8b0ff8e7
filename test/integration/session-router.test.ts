import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import WebSocket from "ws";
import { freePort, metricSum, scrapeMetrics, startRedis, useCleanup, waitFor, type RedisProcess } from "../helpers/index.js";
import { createPylon, type Pylon } from "../../src/index.js";
import { ClusterModule } from "../../src/cluster/cluster-module.js";
import { RedisRegistry } from "../../src/cluster/registry.js";

// The session router's failure modes, on one real node: the owner of a session is unknown, registered but
// unreachable, or the request was already forwarded once. Each gets Engine.IO's standard unknown-session error.
const cleanup = useCleanup();
const UNKNOWN_SID = { code: 1, message: "Session ID unknown" };

describe("session router failure modes", () => {
  let redis: RedisProcess;
  let pylon: Pylon;
  let url: string;
  let client: Redis;

  before(async () => {
    redis = await startRedis();
    pylon = createPylon(
      { server: { port: 0, host: "127.0.0.1", demo: false }, cluster: { redisUrl: redis.url, nodeId: "me", forwardTimeoutMs: 1000 }, log: { level: "silent" }, metrics: { processMetrics: false } },
      { modules: [new ClusterModule()] },
    );
    cleanup.add(() => pylon.close());
    url = (await pylon.start()).url;
    client = new Redis(redis.url);
    cleanup.add(() => client.disconnect());
    // a node that is registered but does not answer (nothing listens on its port)
    await new RedisRegistry(client, "pylon").announce(
      { id: "ghost", address: `127.0.0.1:${await freePort()}`, version: "0", connections: 0, startedAt: "", lastSeen: "" },
      60_000,
    );
    await waitFor(() => pylon.health.readiness().ready, { message: "ready" });
  });
  after(async () => {
    client.disconnect();
    await pylon.close();
    await redis.stop();
  });

  async function poll(sid: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`, { headers });
    return { status: res.status, body: await res.json() };
  }

  async function counter(labels: Record<string, string>, name = "pylon_session_forwards_total"): Promise<number> {
    return metricSum(await scrapeMetrics(url), name, labels);
  }

  it("owner not in the registry: 400 unknown session, counted", async () => {
    assert.deepEqual(await poll("nobody.AAAAAAAAAAAAAAAAAAAA"), { status: 400, body: UNKNOWN_SID });
    assert.equal(await counter({ kind: "polling", outcome: "owner_unknown" }), 1);
  });

  it("owner registered but unreachable: 400 unknown session, counted", async () => {
    assert.deepEqual(await poll("ghost.AAAAAAAAAAAAAAAAAAAA"), { status: 400, body: UNKNOWN_SID });
    assert.equal(await counter({ kind: "polling", outcome: "owner_unreachable" }), 1);
  });

  it("a request already forwarded once is never forwarded again", async () => {
    assert.deepEqual(await poll("ghost.BBBBBBBBBBBBBBBBBBBB", { "x-pylon-forwarded-by": "other" }), { status: 400, body: UNKNOWN_SID });
    assert.equal(await counter({ reason: "already_forwarded" }, "pylon_session_foreign_refused_total"), 1);
  });

  it("ids without an owner and this node's own unknown ids are engine.io's business", async () => {
    assert.deepEqual(await poll("AAAAAAAAAAAAAAAAAAAA"), { status: 400, body: UNKNOWN_SID });
    assert.deepEqual(await poll("me.AAAAAAAAAAAAAAAAAAAA"), { status: 400, body: UNKNOWN_SID });
  });

  it("a WebSocket upgrade for an unreachable owner is refused with HTTP 400", async () => {
    const ws = new WebSocket(`${url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&sid=ghost.CCCCCCCCCCCCCCCCCCCC`);
    const status = await new Promise<number>((resolve, reject) => {
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.once("open", () => reject(new Error("upgrade should have been refused")));
      ws.once("error", () => undefined);
    });
    ws.terminate();
    assert.equal(status, 400);
    assert.equal(await counter({ kind: "upgrade", outcome: "owner_unreachable" }), 1);
  });

  it("session ids name this node", async () => {
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
    const open = JSON.parse((await res.text()).slice(1)) as { sid: string };
    assert.match(open.sid, /^me\.[A-Za-z0-9_-]{20}$/);
  });
});

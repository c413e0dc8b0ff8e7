import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import WebSocket from "ws";
import { delay, freePort, metricSum, scrapeMetrics, startRedis, useCleanup, waitFor, type RedisProcess } from "../helpers/index.js";
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

describe("poll handoff: a forwarded long-poll whose forwarding path dies is answered on the retried GET", () => {
  let redis: RedisProcess;
  const nodes: Pylon[] = [];

  before(async () => {
    redis = await startRedis();
    for (const id of ["ha", "hb"]) {
      const p = createPylon(
        {
          server: { port: 0, host: "127.0.0.1", demo: false },
          engine: { pingInterval: 1000, pingTimeout: 5000 },
          cluster: { redisUrl: redis.url, nodeId: id, forwardTimeoutMs: 3000, heartbeatMs: 200 },
          log: { level: "silent" },
          metrics: { processMetrics: false },
        },
        { modules: [new ClusterModule()] },
      );
      cleanup.add(() => p.close());
      await p.start();
      nodes.push(p);
    }
    await waitFor(() => nodes.every((n) => n.health.readiness().ready), { message: "ready" });
  });
  after(async () => {
    for (const n of nodes) await n.close();
    await redis.stop();
  });

  it("the session survives and the retried GET gets the pending packet", async () => {
    const [a, b] = nodes.map((n) => n.address().url) as [string, string];
    const open = JSON.parse((await (await fetch(`${a}/socket.io/?EIO=4&transport=polling`)).text()).slice(1)) as { sid: string };
    const path = `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(open.sid)}`;
    await waitFor(async () => (await fetch(`${b}/api/nodes`).then((r) => r.json()) as { nodes: unknown[] }).nodes.length === 2, { message: "both nodes registered" });
    // a long-poll through node b (forwarded to a), cut before a answers (as when b dies)
    const abort = new AbortController();
    const cut = fetch(`${b}${path}`, { signal: abort.signal }).catch(() => "aborted");
    await waitFor(async () => metricSum(await scrapeMetrics(b), "pylon_session_forwards_total", { kind: "polling" }) === 0 && (await new Promise((r) => setTimeout(r, 100, true))));
    abort.abort();
    assert.equal(await cut, "aborted");
    // the retried GET, straight to the owner: answered with the ping engine.io wrote into the parked poll
    const retry = await fetch(`${a}${path}`);
    assert.equal(retry.status, 200);
    assert.equal(await retry.text(), "2");
    assert.equal(metricSum(await scrapeMetrics(a), "pylon_session_poll_handoffs_total"), 1);
    // and the session goes on: answer the ping, poll again
    assert.equal((await fetch(`${a}${path}`, { method: "POST", body: "3" })).status, 200);
    const next = fetch(`${a}${path}`);
    assert.equal((await next).status, 200);
  });

  it("a retry that comes after the owner parked the poll gets what engine.io wrote meanwhile", async () => {
    const [a, b] = nodes.map((n) => n.address().url) as [string, string];
    const open = JSON.parse((await (await fetch(`${a}/socket.io/?EIO=4&transport=polling`)).text()).slice(1)) as { sid: string };
    const path = `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(open.sid)}`;
    const before = metricSum(await scrapeMetrics(a), "pylon_session_poll_handoffs_total");
    const abort = new AbortController();
    const cut = fetch(`${b}${path}`, { signal: abort.signal }).catch(() => "aborted");
    await delay(100);
    abort.abort();
    assert.equal(await cut, "aborted");
    // the owner parks the poll (grace 3 s); engine.io's next ping (pingInterval 1 s) is held for the retry
    await delay(1500);
    const retry = await fetch(`${a}${path}`);
    assert.equal(retry.status, 200);
    assert.equal(await retry.text(), "2");
    assert.equal(metricSum(await scrapeMetrics(a), "pylon_session_poll_handoffs_total"), before + 1);
    assert.equal((await fetch(`${a}${path}`, { method: "POST", body: "3" })).status, 200);
    assert.equal((await fetch(`${a}${path}`)).status, 200);
  });

  it("nobody retries within the grace period: the session ends as it would have at once", async () => {
    const [a, b] = nodes.map((n) => n.address().url) as [string, string];
    const open = JSON.parse((await (await fetch(`${a}/socket.io/?EIO=4&transport=polling`)).text()).slice(1)) as { sid: string };
    const path = `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(open.sid)}`;
    const abort = new AbortController();
    const cut = fetch(`${b}${path}`, { signal: abort.signal }).catch(() => "aborted");
    await delay(100);
    abort.abort();
    assert.equal(await cut, "aborted");
    await waitFor(async () => (await fetch(`${a}${path}`, { method: "POST", body: "6" })).status === 400, {
      timeoutMs: 10_000,
      message: "session closed after the grace period",
    });
  });
});

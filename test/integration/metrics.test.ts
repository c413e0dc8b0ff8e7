/**
 * Every listed series exists on /metrics and moves the way this test's traffic implies: connections by
 * namespace/transport/protocol, handshakes and failures by code, upgrades attempted/succeeded/failed (probe closed,
 * timeout) and time to upgrade, disconnects by reason, events in/out by declared name (others as "other"), bytes in/out,
 * ack latency, fan-out, drops, pending outbound bytes, rate-limit and auth failures, security events, client versions,
 * backplane latency/errors (a real redis-server backplane), stream publish/replay counts and subscriptions,
 * event-loop lag and GC. Also: /api/stats, /api/cluster, /api/nodes and /api/rooms with the admin token, 401 without, 404 (the admin API) when admin is off,
 * and every metric the server registers is documented in docs/metrics.md.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { WebSocket } from "ws";
import {
  REPO_ROOT,
  connectClient,
  emitWithAck,
  metricSum,
  onceEvent,
  parseMetrics,
  startPylon,
  startRedis,
  transportName,
  useCleanup,
  waitFor,
  type ClientSocket,
  type PylonProcess,
} from "../helpers/index.js";

const cleanup = useCleanup();
const TOKEN = "metrics-test-admin-token-0123";

interface V2Socket {
  connected: boolean;
  on(ev: string, fn: (...a: unknown[]) => void): void;
  close(): void;
}
const ioV2 = createRequire(import.meta.url)("socket.io-client-v2") as (url: string, opts: Record<string, unknown>) => V2Socket;

async function raw(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

async function scrape(p: PylonProcess): Promise<{ m: Map<string, number>; text: string }> {
  const text = await raw(p.url);
  return { m: parseMetrics(text), text };
}

/** Opens a polling session by hand (no namespace connect) and returns its sid. */
async function pollingSession(url: string): Promise<string> {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const body = await res.text();
  const sid = /"sid":"([^"]+)"/.exec(body)?.[1];
  assert.ok(sid, `handshake body carries a sid: ${body}`);
  return sid;
}

test("metrics: every series exists and moves with the traffic; admin API answers with the token only", async () => {
  const redis = await startRedis();
  cleanup.add(() => redis.stop());
  const pylon = await startPylon({
    config: {
      cluster: { redisUrl: redis.url, probeIntervalMs: 200 },
      flow: { sampleIntervalMs: 100 },
      admin: { token: TOKEN, sampleIntervalMs: 250, rateWindowMs: 5000 },
      metrics: { eventNames: ["echo", "join", "say", "message"] },
      engine: { allowEIO3: true, upgradeTimeout: 1000 },
      security: {
        jwt: { mode: "optional", algorithms: ["HS256"], hmacSecret: "metrics-test-hmac-secret-0123456789abcdef" },
        rateLimit: { enabled: true, perEvent: { say: { perSec: 0.001, burst: 3 } } },
      },
    },
  });
  cleanup.add(() => pylon.kill());
  const demo = `${pylon.url}/demo`;
  const before = (await scrape(pylon)).m;
  const delta = (after: Map<string, number>, name: string, labels: Record<string, string> = {}): number =>
    metricSum(after, name, labels) - metricSum(before, name, labels);

  // connections: 2 websocket, 1 polling, 1 upgrading (polling -> websocket), 1 socket.io v2 client (EIO 3)
  const ws1 = await connectClient(demo, { transports: ["websocket"] });
  const ws2 = await connectClient(demo, { transports: ["websocket"] });
  const poll = await connectClient(demo, { transports: ["polling"], upgrade: false });
  const up = await connectClient(demo);
  if (transportName(up) !== "websocket") await onceEvent(up.io.engine, "upgrade");
  const v2 = ioV2(demo, { forceNew: true, reconnection: false, transports: ["websocket"] });
  cleanup.add(() => v2.close());
  await waitFor(() => v2.connected, { message: "v2 client connected" });
  const clients: ClientSocket[] = [ws1, ws2, poll, up];

  let m = (await scrape(pylon)).m;
  assert.equal(metricSum(m, "pylon_sockets_connected", { namespace: "/demo", transport: "websocket" }), 4, "ws1, ws2, upgraded, v2");
  assert.equal(metricSum(m, "pylon_sockets_connected", { namespace: "/demo", transport: "polling" }), 1);
  assert.equal(metricSum(m, "pylon_engine_connections", { protocol: "4" }), 4);
  assert.equal(metricSum(m, "pylon_engine_connections", { protocol: "3" }), 1);
  assert.equal(delta(m, "pylon_handshakes_total", { outcome: "ok" }), 5);
  assert.equal(delta(m, "pylon_namespace_connects_total", { namespace: "/demo", outcome: "ok" }), 5);
  assert.equal(delta(m, "pylon_client_handshakes_total", { eio: "3" }), 1, "the v2 client is seen as EIO 3");
  assert.equal(delta(m, "pylon_client_handshakes_total", { eio: "4" }), 4);
  assert.equal(delta(m, "pylon_transport_upgrades_total", { outcome: "attempted" }), 1);
  assert.equal(delta(m, "pylon_transport_upgrades_total", { outcome: "succeeded" }), 1);
  assert.equal(delta(m, "pylon_transport_upgrade_duration_seconds_count"), 1, "time to upgrade observed");
  // pending outbound bytes are sampled per connection every flow.sampleIntervalMs
  await waitFor(async () => delta((await scrape(pylon)).m, "pylon_pending_outbound_bytes_count") >= 5, { message: "pending bytes sampled" });

  // events: declared names by name, others as "other"; acks timed; a broadcast fans out; a rate limit refuses
  for (const c of [ws1, ws2]) assert.deepEqual(await emitWithAck(c, "join", "metrics-room"), { ok: true });
  for (let i = 0; i < 5; i++) assert.deepEqual(await emitWithAck(ws1, "echo", { i, pad: "x".repeat(100) }), { i, pad: "x".repeat(100) });
  const received: unknown[] = [];
  ws2.on("message", (msg: unknown) => received.push(msg));
  for (let i = 0; i < 5; i++) ws1.emit("say", { room: "metrics-room", text: `hello ${i}` });
  ws1.emit("no-such-event", 1);
  await waitFor(() => received.length === 3, { message: "3 of 5 says delivered (burst 3)" });
  await emitWithAck(ws1, "echo", "barrier"); // every event before it was handled
  m = (await scrape(pylon)).m;
  assert.equal(delta(m, "pylon_events_in_total", { namespace: "/demo", event: "echo" }), 6);
  assert.equal(delta(m, "pylon_events_in_total", { namespace: "/demo", event: "join" }), 2);
  assert.equal(delta(m, "pylon_events_in_total", { namespace: "/demo", event: "say" }), 5, "counted before the rate limit");
  assert.equal(delta(m, "pylon_events_in_total", { namespace: "/demo", event: "other" }), 1);
  assert.equal(delta(m, "pylon_events_out_total", { namespace: "/demo", event: "message" }), 6, "3 broadcasts x 2 members");
  assert.ok(delta(m, "pylon_bytes_in_total") > 5 * 100, "bytes in");
  assert.ok(delta(m, "pylon_outbound_bytes_total") > 5 * 100, "bytes out");
  assert.ok(delta(m, "pylon_outbound_packets_total") >= 6 + 8, "packets out");
  assert.ok(delta(m, "pylon_broadcast_fanout_count") >= 3, "broadcast fan-out observed");
  assert.ok(delta(m, "pylon_broadcast_fanout_sum") >= 6);
  assert.equal(delta(m, "pylon_ack_latency_seconds_count", { direction: "client_to_server" }), 8, "6 echo + 2 join acks");
  assert.equal(delta(m, "pylon_rate_limited_total", { kind: "event" }), 2);
  assert.ok(delta(m, "pylon_invalid_events_total", { code: "unknown_event" }) >= 1);
  assert.equal(delta(m, "pylon_drops_total"), 0, "no drops without congestion (drops under congestion: flow-control.test.ts)");

  // handshake failures by code
  assert.equal((await fetch(`${pylon.url}/socket.io/?EIO=4&transport=carrier-pigeon`)).status, 400);
  assert.equal((await fetch(`${pylon.url}/socket.io/?EIO=4&transport=polling&sid=nope`)).status, 400);
  const bad = await connectClient(demo, { transports: ["websocket"], auth: { token: "not-a-jwt" } }).then(
    () => assert.fail("a forged token must be refused"),
    (err: Error & { data?: { code?: string } }) => err,
  );
  assert.equal(bad.data?.code, "token_invalid");

  // upgrade failures: a probe that closes at once, and one that never completes (engine.upgradeTimeout = 1 s)
  const sidA = await pollingSession(pylon.url);
  const wsA = new WebSocket(`ws://127.0.0.1:${pylon.port}/socket.io/?EIO=4&transport=websocket&sid=${sidA}`);
  await onceEvent(wsA, "open");
  wsA.close();
  const sidB = await pollingSession(pylon.url);
  const wsB = new WebSocket(`ws://127.0.0.1:${pylon.port}/socket.io/?EIO=4&transport=websocket&sid=${sidB}`);
  cleanup.add(() => wsB.terminate());
  await onceEvent(wsB, "open");
  await onceEvent(wsB, "close", 10_000); // the server gives up after upgradeTimeout
  m = await waitFor(async () => {
    const s = (await scrape(pylon)).m;
    return delta(s, "pylon_transport_upgrade_failures_total") >= 2 ? s : undefined;
  });
  assert.equal(delta(m, "pylon_transport_upgrades_total", { outcome: "attempted" }), 3);
  assert.equal(delta(m, "pylon_transport_upgrades_total", { outcome: "failed" }), 2);
  assert.equal(delta(m, "pylon_transport_upgrade_failures_total", { reason: "probe_closed" }), 1);
  assert.equal(delta(m, "pylon_transport_upgrade_failures_total", { reason: "timeout" }), 1);
  assert.equal(delta(m, "pylon_handshakes_total", { outcome: "unknown_transport" }), 1);
  assert.ok(delta(m, "pylon_engine_connection_errors_total", { code: "unknown_sid" }) >= 1);
  assert.equal(delta(m, "pylon_auth_failures_total", { code: "token_invalid" }), 1);

  // admin API: refused without the right token (counted, recorded), answers with it
  assert.equal((await fetch(`${pylon.url}/api/stats`)).status, 401);
  assert.equal((await fetch(`${pylon.url}/api/stats`, { headers: { authorization: "Bearer wrong" } })).status, 401);
  const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
  const stats = (await (await fetch(`${pylon.url}/api/stats`, auth)).json()) as {
    connections: { total: number; byTransport: Record<string, number>; byProtocol: Record<string, number> };
    upgrades: { attempted: number; succeeded: number; failed: number; successRate: number };
    events: { byName: { event: string; inTotal: number }[] };
    latency: { ackClientToServer: { p99: number | null; count: number } };
    security: { recent: { type: string }[] };
  };
  assert.ok(stats.connections.total >= 5, `live connections: ${stats.connections.total}`);
  assert.equal(stats.connections.byProtocol["3"], 1);
  assert.deepEqual([stats.upgrades.attempted, stats.upgrades.succeeded, stats.upgrades.failed], [3, 1, 2]);
  assert.ok(Math.abs(stats.upgrades.successRate - 1 / 3) < 1e-9);
  assert.equal(stats.events.byName.find((e) => e.event === "echo")?.inTotal, 6);
  assert.ok(stats.latency.ackClientToServer.count >= 8 && stats.latency.ackClientToServer.p99 !== null);
  const types = stats.security.recent.map((e) => e.type);
  assert.ok(types.includes("admin_auth_failed"), `admin failures recorded: ${types.join(", ")}`);
  assert.ok(types.length >= 3, `the security audit feeds the ring too: ${types.join(", ")}`);
  const cluster = (await (await fetch(`${pylon.url}/api/cluster`, auth)).json()) as { scope: string; registry: string; nodes: { self: boolean; connections: number }[] };
  assert.equal(cluster.scope, "cluster");
  assert.equal(cluster.registry, "redis");
  assert.equal(cluster.nodes.filter((n) => n.self).length, 1);
  // the cluster APIs sit behind the same token when one is set
  for (const path of ["/api/nodes", "/api/rooms/_/r"]) {
    const refused = await fetch(`${pylon.url}${path}`);
    assert.equal(refused.status, 401, path);
    assert.match(refused.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.equal((await fetch(`${pylon.url}${path}`, auth)).status, 200, `${path} with the token`);
  }
  m = (await scrape(pylon)).m;
  assert.equal(delta(m, "pylon_admin_auth_failures_total"), 4);
  assert.equal(delta(m, "pylon_security_events_total", { type: "admin_auth_failed" }), 4);

  // backplane: connected, probe round trips observed, messages through Redis
  m = await waitFor(async () => {
    const s = (await scrape(pylon)).m;
    return delta(s, "pylon_backplane_publish_rtt_seconds_count") >= 2 ? s : undefined;
  }, { message: "backplane probe round trips" });
  assert.equal(metricSum(m, "pylon_backplane_connected"), 1);
  assert.ok(delta(m, "pylon_backplane_messages_out_total") > 0 && delta(m, "pylon_backplane_messages_in_total") > 0);
  assert.equal(delta(m, "pylon_backplane_publish_errors_total"), 0);
  const bp = ((await (await fetch(`${pylon.url}/api/stats`, auth)).json()) as { backplane: { connected: boolean | null; rtt: { count: number } } }).backplane;
  assert.equal(bp.connected, true);
  assert.ok(bp.rtt.count >= 2);

  // streams: 3 publishes over HTTP, a subscriber from seq 0 gets them replayed, then one live. On a second node
  // without JWT: the HTTP stream API is refused when authentication is on and no authorizeHttp hook is set.
  const streamsNode = await startPylon({ config: { delivery: { httpPublish: true } } });
  cleanup.add(() => streamsNode.kill());
  const streamsBefore = (await scrape(streamsNode)).m;
  const sdelta = (after: Map<string, number>, name: string): number => metricSum(after, name) - metricSum(streamsBefore, name);
  const publish = (n: number): Promise<Response> =>
    fetch(`${streamsNode.url}/api/streams/metrics-stream`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ event: "tick", data: { n } }) });
  for (let n = 1; n <= 3; n++) assert.equal((await publish(n)).status, 200);
  const sub = await connectClient(streamsNode.url, { transports: ["websocket"] });
  const seen: unknown[] = [];
  sub.on("pylon:batch", (b: { messages: unknown[] }) => seen.push(...b.messages));
  sub.on("pylon:msg", (msg: unknown) => seen.push(msg));
  const subAck = await emitWithAck<{ ok?: boolean; error?: unknown }>(sub, "pylon:subscribe", { stream: "metrics-stream", after: 0 });
  assert.ok(!subAck.error, `subscribed: ${JSON.stringify(subAck)}`);
  await waitFor(() => seen.length === 3, { message: "3 replayed" });
  assert.equal((await publish(4)).status, 200);
  await waitFor(() => seen.length === 4, { message: "1 live" });
  const sm = (await scrape(streamsNode)).m;
  assert.equal(sdelta(sm, "pylon_stream_published_total"), 4);
  assert.equal(sdelta(sm, "pylon_stream_replayed_messages_total"), 3);
  assert.ok(sdelta(sm, "pylon_stream_live_messages_total") >= 1);
  assert.equal(metricSum(sm, "pylon_stream_subscriptions"), 1);
  assert.ok(metricSum(sm, "pylon_events_out_total", { event: "pylon:batch" }) >= 1, "reserved stream events counted by name");
  sub.disconnect();

  // disconnects by reason, connections back to zero
  for (const c of clients) c.disconnect();
  v2.close();
  m = await waitFor(async () => {
    const s = (await scrape(pylon)).m;
    return metricSum(s, "pylon_sockets_connected") === 0 ? s : undefined;
  }, { message: "sockets_connected back to 0" });
  assert.ok(delta(m, "pylon_disconnects_total", { namespace: "/demo", reason: "client namespace disconnect" }) >= 4);
  assert.ok(delta(m, "pylon_disconnects_total", { namespace: "/demo" }) >= 5);

  // process metrics: event-loop lag and GC pauses (keep the server busy until a GC happened)
  const busy = await connectClient(demo, { transports: ["websocket"] });
  const { text } = await waitFor(async () => {
    for (let i = 0; i < 50; i++) busy.emit("echo", "y".repeat(10_000), () => undefined);
    await emitWithAck(busy, "echo", "barrier");
    const s = await scrape(pylon);
    return metricSum(s.m, "pylon_nodejs_gc_duration_seconds_count") > 0 ? s : undefined;
  }, { timeoutMs: 30_000, intervalMs: 100, message: "a GC pause observed" });
  busy.disconnect();
  const fin = parseMetrics(text);
  assert.ok(fin.has("pylon_nodejs_eventloop_lag_p99_seconds"), "event-loop lag exported");
  assert.ok(metricSum(fin, "pylon_pending_outbound_bytes_count") >= 0 && text.includes("# TYPE pylon_pending_outbound_bytes histogram"));

  // every metric the server registers is documented
  const docs = readFileSync(join(REPO_ROOT, "docs/metrics.md"), "utf8");
  const registered = [...text.matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]!);
  assert.ok(registered.length > 50, `registered: ${registered.length}`);
  const undocumented = registered.filter((name) => !docs.includes("`" + name + "`"));
  assert.deepEqual(undocumented, [], "document these in docs/metrics.md");
});

test("admin is off without a token: /admin and /api/* do not exist", async () => {
  const pylon = await startPylon();
  cleanup.add(() => pylon.kill());
  for (const path of ["/admin", "/api/stats", "/api/cluster"]) {
    assert.equal((await fetch(`${pylon.url}${path}`)).status, 404, path);
  }
  // the cluster APIs stay open without a token (the doctor and private dashboards read them)
  for (const path of ["/api/nodes", "/api/rooms/_/r"]) assert.equal((await fetch(`${pylon.url}${path}`)).status, 200, path);
  assert.equal((await fetch(`${pylon.url}/metrics`)).status, 200);
});

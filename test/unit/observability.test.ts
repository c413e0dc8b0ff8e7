/**
 * Observability building blocks, in process with a real socket.io server and client: event tallies by declared name,
 * ack latency in both directions, the security events ring, client identification, histogram quantiles.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type Socket } from "socket.io";
import { parseConfig } from "../../src/config/index.js";
import { Metrics } from "../../src/observability/metrics.js";
import { SocketInstruments } from "../../src/observability/traffic.js";
import { EventPipeline } from "../../src/server/event-pipeline.js";
import { SecurityEvents } from "../../src/observability/security-events.js";
import { clientFamily, identifyClient } from "../../src/observability/client-versions.js";
import { quantile, takeSnapshot, sum } from "../../src/observability/admin/snapshot.js";
import { MAX_DECLARED_EVENTS } from "../../src/observability/event-tally.js";
import { connectClient, parseMetrics, metricSum, useCleanup } from "../helpers/index.js";

const cleanup = useCleanup();

function metricsWith(eventNames: string[]): Metrics {
  const m = new Metrics(parseConfig({ metrics: { eventNames, processMetrics: false } }).metrics);
  cleanup.add(() => m.close());
  return m;
}

async function scrape(m: Metrics): Promise<Map<string, number>> {
  return parseMetrics((await m.render()).body);
}

test("events in/out are counted by declared name (others as 'other'); acks are timed in both directions", async () => {
  const metrics = metricsWith(["ping", "news"]);
  const http = createServer();
  const io = new Server(http);
  cleanup.add(() => new Promise<void>((r) => io.close(() => r())));
  const instruments = new SocketInstruments(metrics.events.namespace("/"), metrics);
  // the instruments' inbound stage runs in the event pipeline, as in Pylon (its attach installs the outbound ones)
  const pipeline = new EventPipeline();
  pipeline.add({ name: "metrics", order: 0, forNamespace: () => instruments.stage });
  pipeline.install(io, [io.of("/")]);
  cleanup.add(() => pipeline.close());
  let serverSocket: Socket | undefined;
  io.on("connection", (socket) => {
    serverSocket = socket;
    socket.on("ping", (n: number, ack: (r: number) => void) => ack(n + 1));
    socket.on("random-1", () => undefined);
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const client = await connectClient(url, { transports: ["websocket"] });
  client.on("ask", (q: string, ack: (a: string) => void) => ack(q.toUpperCase()));

  for (let i = 0; i < 3; i++) assert.equal(await client.emitWithAck("ping", i), i + 1);
  client.emit("random-1");
  client.emit("random-2");
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(serverSocket);
  serverSocket.emit("news", "a");
  serverSocket.emit("undeclared", "b");
  io.emit("news", "broadcast");
  assert.equal(await serverSocket.timeout(2000).emitWithAck("ask", "hi"), "HI");

  const m = await scrape(metrics);
  assert.equal(m.get('pylon_events_in_total{namespace="/",event="ping"}'), 3);
  assert.equal(m.get('pylon_events_in_total{namespace="/",event="other"}'), 2, "random-1 and random-2 share one label");
  assert.equal(m.get('pylon_events_out_total{namespace="/",event="news"}'), 2, "socket emit + broadcast delivery");
  assert.equal(m.get('pylon_events_out_total{namespace="/",event="other"}'), 2, "undeclared + ask");
  assert.equal(m.get('pylon_ack_latency_seconds_count{direction="client_to_server"}'), 3);
  assert.equal(m.get('pylon_ack_latency_seconds_count{direction="server_to_client"}'), 1);
  // counters move on: a second scrape adds only what happened in between
  client.emit("ping", 9, () => undefined);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await scrape(metrics)).get('pylon_events_in_total{namespace="/",event="ping"}'), 4);
  client.disconnect();
});

test("declared event names are bounded and validated", () => {
  const metrics = metricsWith([]);
  assert.deepEqual(metrics.declareEvents(["ok:name", "bad name", "other"]), ["bad name", "other"]);
  const many = Array.from({ length: MAX_DECLARED_EVENTS + 5 }, (_, i) => `e${i}`);
  assert.equal(metrics.declareEvents(many).length, 6, "everything past the cap is refused (ok:name took one slot)");
  assert.equal(metrics.events.declared.size, MAX_DECLARED_EVENTS);
});

test("security events: a bounded ring, newest first, counted by type with bounded labels", async () => {
  const metrics = metricsWith([]);
  const ring = new SecurityEvents(3, metrics.counter({ name: "test_security_events_total", help: "t", labelNames: ["type"] }));
  for (let i = 0; i < 5; i++) ring.record({ type: "auth_failed", detail: `n${i}`, address: "127.0.0.1" });
  ring.record({ type: "bad type with spaces", detail: "x".repeat(500) });
  const recent = ring.recent();
  assert.equal(recent.length, 3);
  assert.equal(recent[0]!.type, "other");
  assert.equal(recent[0]!.detail!.length, 200, "detail clipped");
  assert.deepEqual(recent.slice(1).map((e) => e.detail), ["n4", "n3"]);
  assert.equal(ring.recent(1).length, 1);
  const m = await scrape(metrics);
  assert.equal(metricSum(m, "pylon_test_security_events_total", { type: "auth_failed" }), 5);
  assert.equal(metricSum(m, "pylon_test_security_events_total", { type: "other" }), 1);
  // the recorder the admin dashboard reads is on every Metrics instance
  metrics.securityEvents.record({ type: "rate_limited" });
  assert.equal((await scrape(metrics)).get('pylon_security_events_total{type="rate_limited"}'), 1);
});

test("client identification: family from the User-Agent, bounded v= versions", () => {
  assert.equal(clientFamily("Mozilla/5.0 (X11; Linux x86_64) Chrome/120"), "browser");
  assert.equal(clientFamily("node-XMLHttpRequest"), "node");
  assert.equal(clientFamily("python-requests/2.31"), "python");
  assert.equal(clientFamily("okhttp/4.12.0"), "java");
  assert.equal(clientFamily(undefined), "none");
  assert.equal(clientFamily("weird/1.0"), "other");
  const known = new Set<string>();
  const req = (url: string, ua?: string): IncomingMessage => ({ url, headers: ua ? { "user-agent": ua } : {} }) as IncomingMessage;
  assert.deepEqual(identifyClient(req("/socket.io/?EIO=4&v=4.8.1&transport=polling", "Mozilla/5.0"), 4, known), { eio: "4", client: "browser", version: "4.8" });
  assert.deepEqual(identifyClient(req("/socket.io/?EIO=3&transport=polling"), 3, known), { eio: "3", client: "none", version: "unknown" });
  for (let i = 0; i < 40; i++) identifyClient(req(`/?v=1.${i}`), 4, known, 8);
  assert.equal(known.size, 8, "distinct versions capped");
  assert.equal(identifyClient(req("/?v=9.9"), 4, known, 8).version, "other");
});

test("quantiles from cumulative buckets interpolate like histogram_quantile", async () => {
  const h = { le: [0.1, 0.2, 0.4, Infinity], counts: [50, 90, 100, 100], count: 100 };
  assert.equal(quantile(0.5, h), 0.1);
  assert.ok(Math.abs(quantile(0.7, h)! - 0.15) < 1e-9);
  assert.ok(Math.abs(quantile(0.99, h)! - 0.38) < 1e-9);
  assert.equal(quantile(0.5, { le: [1, Infinity], counts: [0, 0], count: 0 }), null);
  // snapshots are copies: a later increment does not move an earlier snapshot
  const metrics = metricsWith([]);
  metrics.handshakes.inc({ outcome: "ok" });
  const before = await takeSnapshot(metrics.registry, Date.now());
  metrics.handshakes.inc({ outcome: "ok" });
  const after = await takeSnapshot(metrics.registry, Date.now());
  assert.equal(sum(before, "pylon_handshakes_total"), 1);
  assert.equal(sum(after, "pylon_handshakes_total"), 2);
});

test("bytes in: Pylon's parser counts every frame once (direct decodeText, declined frames through add(), binary attachments)", async () => {
  const { countingParser } = await import("../../src/observability/bad-input.js");
  const m = new Metrics(parseConfig({ metrics: { processMetrics: false } }).metrics);
  const { Decoder } = countingParser(m);
  const d = new Decoder();
  d.on("decoded", () => undefined);
  const direct = '2["echo","é"]'; // 13 UTF-16 units, 14 bytes
  assert.ok(d.decodeText(direct), "the direct path decodes it");
  assert.equal(m.bytesInCount, 14);
  const declined = '2 ["odd",1]';
  assert.equal(d.decodeText(declined), undefined, "declined by the direct path: not counted there");
  d.add(declined); // what the direct path then does (socket.io's ondata)
  assert.equal(m.bytesInCount, 14 + 11);
  d.add('21["join","lobby"]'); // socket.io's path (polling): decoded directly inside add(), counted once
  assert.equal(m.bytesInCount, 25 + 18);
  d.add('51-["bin",{"_placeholder":true,"num":0}]');
  d.add(Buffer.alloc(100));
  assert.equal(m.bytesInCount, 43 + 40 + 100);
  m.close();
});

test("DeferredSeries: plain counts applied at scrape time (counter: the increase, gauge: the value; a new cell shows at 0)", async () => {
  const m = new Metrics(parseConfig({ metrics: { processMetrics: false } }).metrics);
  const hot = m.perConnection;
  const ok = hot.namespaceConnects.of2("/demo", "ok");
  ok.value += 3;
  m.namespaceConnects.inc({ namespace: "/", outcome: "invalid_namespace" }); // direct prom-client calls still add up
  hot.socketsConnected.of2("/demo", "websocket").value += 2;
  hot.socketsConnected.of2("/demo", "polling").value++;
  hot.disconnects.of2("/demo", "transport close"); // created, nothing added yet
  const read = async (): Promise<string> => (await m.render()).body;
  let text = await read();
  assert.match(text, /pylon_namespace_connects_total\{namespace="\/demo",outcome="ok"\} 3/);
  assert.match(text, /pylon_namespace_connects_total\{namespace="\/",outcome="invalid_namespace"\} 1/);
  assert.match(text, /pylon_sockets_connected\{namespace="\/demo",transport="websocket"\} 2/);
  assert.match(text, /pylon_disconnects_total\{namespace="\/demo",reason="transport close"\} 0/);
  ok.value++;
  hot.socketsConnected.of2("/demo", "websocket").value--;
  hot.socketsConnected.of2("/demo", "polling").value--;
  assert.equal(hot.namespaceConnects.of2("/demo", "ok"), ok, "one cell per label set");
  text = await read();
  assert.match(text, /pylon_namespace_connects_total\{namespace="\/demo",outcome="ok"\} 4/, "a counter gets the increase once");
  assert.match(text, /pylon_sockets_connected\{namespace="\/demo",transport="websocket"\} 1/);
  assert.match(text, /pylon_sockets_connected\{namespace="\/demo",transport="polling"\} 0/);
  text = await read();
  assert.match(text, /pylon_namespace_connects_total\{namespace="\/demo",outcome="ok"\} 4/, "nothing applied twice");
  m.close();
});

import { test, before } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import {
  connectClient,
  emitWithAck,
  metricSum,
  scrapeMetrics,
  startPylon,
  useCleanup,
  type ClientSocket,
  withTimeout,
  type PylonProcess,
} from "../helpers/index.js";

/**
 * Bad input sent as raw bytes (raw HTTP and raw WebSocket frames, not socket.io-client): each case gets
 * engine.io/socket.io's standard error or close, a counter moves in /metrics, and well-behaved clients connected
 * during the abuse keep echoing.
 */
const cleanup = useCleanup();
const MAX = 10_000; // engine.maxHttpBufferSize for this file

let pylon: PylonProcess;
let goodWs: ClientSocket;
let goodPolling: ClientSocket;
let goodIds: string[];
let echoes = 0;

before(async () => {
  pylon = await startPylon({ args: ["--engine.maxHttpBufferSize", String(MAX)] });
  cleanup.add(() => pylon.kill());
  goodWs = await connectClient(`${pylon.url}/demo`, { transports: ["websocket"] });
  goodPolling = await connectClient(`${pylon.url}/demo`, { transports: ["polling"], upgrade: false });
  goodIds = [goodWs.id!, goodPolling.id!];
});

async function goodClientsStillEcho(): Promise<void> {
  const payload = { n: ++echoes, text: "still fine" };
  assert.deepEqual(await emitWithAck(goodWs, "echo", payload), payload);
  assert.deepEqual(await emitWithAck(goodPolling, "echo", payload), payload);
}

const engineUrl = (query: string): string => `${pylon.url}/socket.io/?${query}`;
const wsUrl = (query: string): string => `ws://127.0.0.1:${pylon.port}/socket.io/?${query}`;

/** Scrapes /metrics before and after `fn` and returns the delta of a metric (optionally label-filtered). */
async function delta(fn: () => Promise<void>, name: string, labels: Record<string, string> = {}): Promise<number> {
  const before = metricSum(await scrapeMetrics(pylon.url), name, labels);
  await fn();
  const after = metricSum(await scrapeMetrics(pylon.url), name, labels);
  return after - before;
}

/** Raw polling handshake; returns the sid. */
async function pollingHandshake(): Promise<string> {
  const res = await fetch(engineUrl("EIO=4&transport=polling"));
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.equal(body[0], "0");
  return (JSON.parse(body.slice(1)) as { sid: string }).sid;
}

/** Raw polling handshake joined to /demo (so socket.io has a namespace socket on the session). */
async function pollingSessionInDemo(): Promise<string> {
  const sid = await pollingHandshake();
  const post = await fetch(engineUrl(`EIO=4&transport=polling&sid=${sid}`), { method: "POST", body: "40/demo," });
  assert.equal(post.status, 200);
  const get = await fetch(engineUrl(`EIO=4&transport=polling&sid=${sid}`));
  assert.match(await get.text(), /^40\/demo,\{"sid":/);
  return sid;
}

interface RawWs {
  ws: WebSocket;
  messages: string[];
  closed: Promise<{ code: number; reason: string }>;
}

/** A raw WebSocket handshake (EIO=4, no sid), optionally connected to /demo. */
async function rawWs(connectDemo: boolean): Promise<RawWs> {
  const ws = new WebSocket(wsUrl("EIO=4&transport=websocket"));
  cleanup.add(() => ws.terminate());
  const messages: string[] = [];
  const waiters: (() => void)[] = [];
  ws.on("message", (data, isBinary) => {
    messages.push(isBinary ? "<binary>" : data.toString());
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  const nextMessage = (): Promise<void> => new Promise((r) => waiters.push(r));
  await withTimeout(nextMessage(), 5000, "Engine.IO open packet");
  assert.match(messages[0]!, /^0\{"sid":/);
  if (connectDemo) {
    const ack = nextMessage();
    ws.send("40/demo,");
    await withTimeout(ack, 5000, "namespace connect");
    assert.match(messages[1]!, /^40\/demo,\{"sid":/);
  }
  return { ws, messages, closed };
}

function closedWithin(conn: RawWs, ms = 5000): Promise<{ code: number; reason: string }> {
  return withTimeout(conn.closed, ms, "the server closing the connection");
}

// ---- Engine.IO level ----

test("malformed Engine.IO packet over polling POST (9garbage): session closed with parse error, counted", async () => {
  const sid = await pollingHandshake();
  const d = await delta(async () => {
    const post = await fetch(engineUrl(`EIO=4&transport=polling&sid=${sid}`), { method: "POST", body: "9garbage" });
    assert.equal(post.status, 200); // engine.io acknowledges the POST, then drops the session
    const next = await fetch(engineUrl(`EIO=4&transport=polling&sid=${sid}`));
    assert.equal(next.status, 400);
    assert.deepEqual(await next.json(), { code: 1, message: "Session ID unknown" });
  }, "pylon_engine_closes_total", { reason: "parse error" });
  assert.equal(d, 1);
  await goodClientsStillEcho();
});

test("malformed Engine.IO packet over websocket (9garbage): connection closed with parse error, counted", async () => {
  const conn = await rawWs(false);
  const d = await delta(async () => {
    conn.ws.send("9garbage");
    await closedWithin(conn);
  }, "pylon_engine_closes_total", { reason: "parse error" });
  assert.equal(d, 1);
  await goodClientsStillEcho();
});

// ---- Socket.IO level ----

const SOCKET_IO_GARBAGE: { name: string; frame: string | Buffer; binary?: boolean }[] = [
  { name: 'event with broken JSON ("4" + "2garbage[")', frame: "4" + "2garbage[" },
  { name: "bad JSON in a namespaced event", frame: '42/demo,["echo",{"a":' },
  { name: "unknown Socket.IO packet type 7", frame: '47/demo,["echo","x"]' },
  { name: "binary frame where a text packet was expected", frame: Buffer.from([0xff, 0xfe, 0xfd, 0x00, 0x80]), binary: true },
  { name: "binary event announcing attachments that are not binary", frame: '451-/demo,["echo",{"_placeholder":true,"num":7}]' },
];

for (const c of SOCKET_IO_GARBAGE) {
  test(`malformed Socket.IO packet over websocket: ${c.name} -> connection closed, counted`, async () => {
    const conn = await rawWs(true);
    const d = await delta(async () => {
      conn.ws.send(c.frame, { binary: c.binary === true });
      if (c.name.startsWith("binary event")) conn.ws.send("4not binary"); // text where the attachment was due
      await closedWithin(conn);
    }, "pylon_socketio_parse_errors_total");
    assert.equal(d, 1);
    await goodClientsStillEcho();
  });
}

test("malformed Socket.IO packet over polling POST: session closed, counted", async () => {
  const sid = await pollingSessionInDemo();
  const d = await delta(async () => {
    const post = await fetch(engineUrl(`EIO=4&transport=polling&sid=${sid}`), { method: "POST", body: "42garbage[" });
    assert.equal(post.status, 200);
    const next = await fetch(engineUrl(`EIO=4&transport=polling&sid=${sid}`));
    // the session is gone: either the pending close packet (1) or Session ID unknown
    if (next.status === 200) assert.match(await next.text(), /^1|^6/);
    else assert.deepEqual(await next.json(), { code: 1, message: "Session ID unknown" });
  }, "pylon_socketio_parse_errors_total");
  assert.equal(d, 1);
  await goodClientsStillEcho();
});

test("a text frame that is not UTF-8: close 1007, counted as a transport error", async () => {
  const conn = await rawWs(true);
  const d = await delta(async () => {
    // the ws library sends these bytes as a text frame as given (42 + invalid UTF-8)
    conn.ws.send(Buffer.from([0x34, 0x32, 0xff, 0xfe, 0xfd]), { binary: false });
    const { code } = await closedWithin(conn);
    assert.equal(code, 1007);
  }, "pylon_engine_closes_total", { reason: "transport error" });
  assert.equal(d, 1);
  await goodClientsStillEcho();
});

// ---- size limits ----

test("polling POST over maxHttpBufferSize: HTTP 413, counted", async () => {
  const sid = await pollingSessionInDemo();
  const d = await delta(async () => {
    const body = '42/demo,["echo","' + "x".repeat(MAX + 100) + '"]';
    const post = await fetch(engineUrl(`EIO=4&transport=polling&sid=${sid}`), { method: "POST", body });
    assert.equal(post.status, 413);
  }, "pylon_engine_connection_errors_total", { code: "payload_too_large" });
  assert.equal(d, 1);
  await goodClientsStillEcho();
});

test("websocket message over maxHttpBufferSize: close 1009, counted", async () => {
  const conn = await rawWs(true);
  const d = await delta(async () => {
    conn.ws.send('42/demo,["echo","' + "x".repeat(MAX + 100) + '"]');
    const { code } = await closedWithin(conn);
    assert.equal(code, 1009);
  }, "pylon_engine_closes_total", { reason: "transport error" });
  assert.equal(d, 1);
  await goodClientsStillEcho();
});

// ---- namespaces and sessions ----

test("unknown namespace: socket.io's CONNECT_ERROR 'Invalid namespace', counted; the connection stays usable", async () => {
  const conn = await rawWs(false);
  const d = await delta(async () => {
    const before = conn.messages.length;
    conn.ws.send("40/not-declared,");
    await withTimeout(new Promise<void>((resolve) => conn.ws.once("message", () => resolve())), 5000, "server reply");
    assert.equal(conn.messages[before], '44/not-declared,{"message":"Invalid namespace"}');
  }, "pylon_namespace_connects_total", { outcome: "invalid_namespace" });
  assert.equal(d, 1);
  // the same connection can still join a declared namespace
  conn.ws.send("40/demo,");
  await withTimeout(new Promise<void>((resolve) => conn.ws.once("message", () => resolve())), 5000, "server reply");
  assert.match(conn.messages.at(-1)!, /^40\/demo,\{"sid":/);
  conn.ws.close();
  await goodClientsStillEcho();
});

test("WebSocket upgrade with an unknown sid: HTTP 400 Session ID unknown, counted as unknown_sid", async () => {
  const d = await delta(async () => {
    const ws = new WebSocket(wsUrl("EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA"));
    const res = await withTimeout(new Promise<{ status: number; body: string }>((resolve, reject) => {
      ws.once("unexpected-response", (_req, r) => {
        let body = "";
        r.setEncoding("utf8");
        r.on("data", (chunk: string) => (body += chunk));
        r.on("end", () => resolve({ status: r.statusCode ?? 0, body }));
      });
      ws.once("open", () => reject(new Error("upgrade with an unknown sid must be refused")));
      ws.once("error", () => undefined);
    }), 5000, "refused upgrade");
    assert.equal(res.status, 400);
    assert.equal(res.body, "Session ID unknown");
    ws.terminate();
  }, "pylon_engine_connection_errors_total", { code: "unknown_sid" });
  assert.equal(d, 1);
  await goodClientsStillEcho();
});

// ---- handshake errors ----

const HANDSHAKE_ERRORS: { name: string; query: string; method?: string; status: number; body: { code: number; message: string }; counted: string }[] = [
  { name: "bad transport name", query: "EIO=4&transport=carrier-pigeon", status: 400, body: { code: 0, message: "Transport unknown" }, counted: "unknown_transport" },
  { name: "EIO=5", query: "EIO=5&transport=polling", status: 400, body: { code: 5, message: "Unsupported protocol version" }, counted: "unsupported_protocol_version" },
  { name: "EIO=3 with allowEIO3 off", query: "EIO=3&transport=polling", status: 400, body: { code: 5, message: "Unsupported protocol version" }, counted: "unsupported_protocol_version" },
  { name: "POST handshake", query: "EIO=4&transport=polling", method: "POST", status: 400, body: { code: 2, message: "Bad handshake method" }, counted: "bad_handshake_method" },
  { name: "polling request with an unknown sid", query: "EIO=4&transport=polling&sid=nope", status: 400, body: { code: 1, message: "Session ID unknown" }, counted: "unknown_sid" },
];

for (const c of HANDSHAKE_ERRORS) {
  test(`handshake error: ${c.name} -> HTTP ${c.status} ${JSON.stringify(c.body)}, counted as ${c.counted}`, async () => {
    const d = await delta(async () => {
      const res = await fetch(engineUrl(c.query), c.method ? { method: c.method, body: "x" } : {});
      assert.equal(res.status, c.status);
      assert.deepEqual(await res.json(), c.body);
    }, "pylon_engine_connection_errors_total", { code: c.counted });
    assert.equal(d, 1);
    await goodClientsStillEcho();
  });
}

test("unsupported protocol over a WebSocket upgrade: the error after the 101, counted", async () => {
  const d = await delta(async () => {
    const ws = new WebSocket(wsUrl("EIO=5&transport=websocket"));
    // engine.io writes its HTTP 400 after accepting the upgrade; the client sees an invalid frame or a close
    const outcome = await withTimeout(new Promise<string>((resolve) => {
      ws.once("error", (err) => resolve(`error: ${err.message}`));
      ws.once("close", (code) => resolve(`close: ${code}`));
    }), 5000, "refused upgrade");
    assert.match(outcome, /^(error|close)/);
    ws.terminate();
  }, "pylon_engine_connection_errors_total", { code: "unsupported_protocol_version" });
  assert.equal(d, 1);
  await goodClientsStillEcho();
});

test("the well-behaved clients stayed connected through every case and the server is alive", async () => {
  assert.equal(goodWs.connected, true);
  assert.equal(goodPolling.connected, true);
  assert.deepEqual([goodWs.id, goodPolling.id], goodIds);
  assert.equal(pylon.alive(), true);
  assert.ok(echoes >= 15);
  await goodClientsStillEcho();
  const health = await fetch(`${pylon.url}/healthz`);
  assert.equal(health.status, 200);
});

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { connectClient, metricSum, onceEvent, scrapeMetrics, startPylon, useCleanup, waitFor, type PylonProcess } from "../helpers/index.js";

const cleanup = useCleanup();
let pylon: PylonProcess;

before(async () => {
  pylon = await startPylon();
  cleanup.add(() => pylon.kill());
});

test("/healthz and /readyz answer JSON on the engine's port; unknown paths get a JSON 404", async () => {
  const health = await fetch(`${pylon.url}/healthz`);
  assert.equal(health.status, 200);
  const h = (await health.json()) as { status: string; nodeId: string };
  assert.equal(h.status, "ok");
  assert.match(h.nodeId, /\S/);
  const ready = await fetch(`${pylon.url}/readyz`);
  assert.equal(ready.status, 200);
  const r = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean }> };
  assert.equal(r.status, "ready");
  assert.equal(r.checks.started?.ok, true);
  assert.equal(r.checks.draining?.ok, true);
  const missing = await fetch(`${pylon.url}/no-such-page`);
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: { code: "not_found" } });
});

test("/metrics: sockets by namespace and transport, handshakes, disconnects by reason, protocol versions, process metrics", async () => {
  const res = await fetch(`${pylon.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  for (const name of ["pylon_process_cpu_user_seconds_total", "pylon_process_resident_memory_bytes", "pylon_nodejs_eventloop_lag_seconds"]) {
    assert.match(text, new RegExp(`^${name} `, "m"), `${name} exported`);
  }

  const before = await scrapeMetrics(pylon.url);
  const ws = await connectClient(`${pylon.url}/demo`, { transports: ["websocket"] });
  const polling = await connectClient(`${pylon.url}/demo`, { transports: ["polling"], upgrade: false });
  let m = await scrapeMetrics(pylon.url);
  assert.equal(metricSum(m, "pylon_sockets_connected", { namespace: "/demo", transport: "websocket" }), 1);
  assert.equal(metricSum(m, "pylon_sockets_connected", { namespace: "/demo", transport: "polling" }), 1);
  assert.equal(metricSum(m, "pylon_engine_connections", { protocol: "4" }), 2);
  assert.equal(metricSum(m, "pylon_handshakes_total", { outcome: "ok" }) - metricSum(before, "pylon_handshakes_total", { outcome: "ok" }), 2);
  assert.equal(
    metricSum(m, "pylon_namespace_connects_total", { namespace: "/demo", outcome: "ok" }) -
      metricSum(before, "pylon_namespace_connects_total", { namespace: "/demo", outcome: "ok" }),
    2,
  );

  const gone = onceEvent(ws, "disconnect");
  ws.disconnect();
  await gone;
  polling.io.engine.close(); // the transport goes away without a namespace disconnect
  await waitFor(async () => metricSum(await scrapeMetrics(pylon.url), "pylon_sockets_connected") === 0, { message: "gauges back to 0" });
  m = await scrapeMetrics(pylon.url);
  assert.equal(metricSum(m, "pylon_disconnects_total", { namespace: "/demo", reason: "client namespace disconnect" }), 1);
  assert.equal(metricSum(m, "pylon_disconnects_total", { namespace: "/demo", reason: "transport close" }), 1);
  assert.equal(metricSum(m, "pylon_engine_connections"), 0);
});

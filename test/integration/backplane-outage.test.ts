import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { delay, metricSum, scrapeMetrics, startPylon, startRedis, useCleanup, waitFor, type PylonProcess } from "../helpers/index.js";
import { PING_ARGS, connectListener, waitAllReceived, waitReady } from "../helpers/scale.js";

// A real Redis stops for 5 s and comes back: readiness follows it, nodes never crash, broadcasts resume,
// and each node logs one line per backplane state change.
useCleanup();

function lines(node: PylonProcess, msg: string): number {
  return node.records().filter((r) => r.msg === msg).length;
}

describe("backplane outage (real redis-server stopped and restarted)", () => {
  it("readyz 503 while Redis is down, 200 after; broadcasts resume; one log line per state change; no crash", async () => {
    const redis = await startRedis();
    const args = ["--redis-url", redis.url, "--cluster.probeIntervalMs", "250", "--cluster.probeTimeoutMs", "1000", ...PING_ARGS];
    const nodes = await Promise.all([1, 2].map((i) => startPylon({ args: [...args, "--node-id", `r${i}`] })));
    await Promise.all(nodes.map((n) => waitReady(n.url)));
    const a = await connectListener(nodes[0]!.url, "websocket", "r");
    const b = await connectListener(nodes[1]!.url, "polling", "r");
    a.socket.emit("say", { room: "r", text: "before" });
    await waitAllReceived([a, b], ["before"]);

    await redis.stop();
    for (const n of nodes) {
      const body = await waitFor(
        async () => {
          const res = await fetch(`${n.url}/readyz`);
          const json = (await res.json()) as { checks: { backplane: { ok: boolean; detail?: string } } };
          return res.status === 503 && !json.checks.backplane.ok ? json : undefined;
        },
        { message: `${n.url} readyz 503 (backplane check failing) while Redis is down` },
      );
      assert.match(body.checks.backplane.detail ?? "", /backplane down/);
    }
    const nodesDuring = await fetch(`${nodes[0]!.url}/api/nodes`);
    assert.equal(nodesDuring.status, 503);
    assert.equal(((await nodesDuring.json()) as { error: { code: string } }).error.code, "backplane_unavailable");
    // a broadcast during the outage reaches local clients; the cross-node copy is dropped and counted
    a.socket.emit("say", { room: "r", text: "during" });
    await waitAllReceived([a], ["during"]);
    await delay(5000 - 500);
    await redis.restart();
    await Promise.all(nodes.map((n) => waitReady(n.url, 20_000)));

    await waitFor(
      async () => {
        const text = `after-${Date.now()}`;
        b.socket.emit("say", { room: "r", text });
        await delay(200);
        return a.received.has(text) && b.received.has(text);
      },
      { timeoutMs: 10_000, intervalMs: 10, message: "cross-node broadcasts resume after Redis returns" },
    );
    for (const n of nodes) {
      assert.ok(n.alive(), "node still running");
      assert.equal(lines(n, "backplane down"), 1, `one 'backplane down' line:\n${n.stdout().slice(-3000)}`);
      assert.equal(lines(n, "backplane recovered"), 1, "one 'backplane recovered' line");
      const backplaneLines = n.records().filter((r) => r.backplane !== undefined);
      assert.deepEqual(backplaneLines.map((r) => r.msg), ["backplane up", "backplane down", "backplane recovered"], "one line per state change");
      assert.deepEqual(backplaneLines.filter((r) => (r.level ?? 0) >= 50).map((r) => r.msg), ["backplane down"], "one error line for the outage");
      assert.doesNotMatch(n.stderr(), /Unhandled|uncaught/i);
      const m = await scrapeMetrics(n.url);
      assert.equal(metricSum(m, "pylon_backplane_connected"), 1);
      assert.equal(metricSum(m, "pylon_backplane_state_changes_total", { state: "down" }), 1);
      assert.ok(metricSum(m, "pylon_backplane_publish_rtt_seconds_count") > 0);
    }
    assert.ok(metricSum(await scrapeMetrics(nodes[0]!.url), "pylon_backplane_publish_errors_total") >= 1, "the dropped publish is counted");
    assert.deepEqual(a.disconnects, []);
    assert.deepEqual(b.disconnects, []);
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { CLI_PATH, connectClient, freePort, metricSum, scrapeMetrics, spawnTracked, startPylon, startRedis, tempDir, useCleanup, waitFor } from "../helpers/index.js";
import { PING_ARGS, connectListeners, ownerNode, waitAllReceived } from "../helpers/scale.js";

// `pylon serve --workers 2`: node:cluster workers share one port (the primary spreads connections), with no sticky
// module: a polling request reaching the wrong worker is forwarded to the owner worker's private loopback port.
useCleanup();

describe("--workers 2 on one port", () => {
  it("polling clients work without sticky sessions and broadcasts reach every worker's clients", async () => {
    const node = await startPylon({ args: ["--workers", "2", "--node-id", "wk", ...PING_ARGS] });
    await waitFor(() => node.records().filter((r) => /listening on/.test(String(r.msg))).length >= 2, { message: "both workers listening" });
    const nodes = await waitFor(async () => {
      const r = (await (await fetch(`${node.url}/api/nodes`)).json()) as { adapter: string; nodes: { id: string; address: string }[] };
      return r.nodes.length === 2 ? r : undefined;
    }, { message: "both workers in the registry" });
    assert.equal(nodes.adapter, "cluster");
    assert.deepEqual(nodes.nodes.map((n) => n.id), ["wk-w1", "wk-w2"]);
    // every worker proves its IPC backplane before it is ready
    for (const n of nodes.nodes) await waitFor(async () => (await fetch(`http://${n.address}/readyz`)).status === 200, { message: `${n.id} ready` });

    const listeners = await connectListeners(node.url, 30, "w", { transports: ["polling"] });
    const owners = new Set(listeners.map((l) => ownerNode(l.socket)));
    assert.deepEqual([...owners].sort(), ["wk-w1", "wk-w2"], "sessions on both workers");
    const sender = await connectClient(`${node.url}/demo`, { transports: ["polling"] });
    await sender.timeout(5000).emitWithAck("join", "w");
    const texts = ["x1", "x2", "x3"];
    for (const text of texts) sender.emit("say", { room: "w", text });
    await waitAllReceived(listeners, texts);
    for (const l of listeners) assert.deepEqual(l.disconnects, []);

    let forwarded = 0;
    for (const n of nodes.nodes) forwarded += metricSum(await scrapeMetrics(`http://${n.address}`), "pylon_session_forwards_total", { kind: "polling", outcome: "ok" });
    assert.ok(forwarded > 0, "requests that reached the other worker were forwarded to the owner");

    const exit = await node.stop();
    assert.equal(exit.code, 0, "the primary drains its workers and exits 0 on SIGTERM");
  });

  it("--workers 2 with --redis-url: 2 processes x 2 workers share one registry and one broadcast domain", async () => {
    const redis = await startRedis();
    const args = ["--workers", "2", "--redis-url", redis.url, ...PING_ARGS];
    const [p1, p2] = await Promise.all([startPylon({ args: [...args, "--node-id", "ha"] }), startPylon({ args: [...args, "--node-id", "hb"] })]);
    const list = await waitFor(async () => {
      const r = (await (await fetch(`${p1!.url}/api/nodes`)).json()) as { adapter: string; nodes: { id: string }[] };
      return r.nodes.length === 4 ? r : undefined;
    }, { message: "4 workers in the Redis registry" });
    assert.equal(list.adapter, "redis");
    assert.deepEqual(list.nodes.map((n) => n.id), ["ha-w1", "ha-w2", "hb-w1", "hb-w2"]);
    const listeners = [
      ...(await connectListeners(p1!.url, 9, "h", { transports: ["polling"] })),
      ...(await connectListeners(p2!.url, 9, "h", { transports: ["polling"] })),
    ];
    const sender = await connectClient(`${p2!.url}/demo`, { transports: ["websocket"] });
    await sender.timeout(5000).emitWithAck("join", "h");
    sender.emit("say", { room: "h", text: "y1" });
    await waitAllReceived(listeners, ["y1"]);
    for (const l of listeners) assert.deepEqual(l.disconnects, []);
  });

  it("the primary exits 1 when its workers cannot listen (port taken), instead of re-forking forever", async () => {
    const port = await freePort();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", r));
    try {
      const child = spawnTracked(process.execPath, [CLI_PATH, "serve", "--port", String(port), "--host", "127.0.0.1", "--workers", "2"], "pylon", { cwd: tempDir("pylon-cwd-") });
      const exit = await child.exited;
      assert.equal(exit.code, 1);
      assert.match(child.stdout(), /giving up/);
    } finally {
      blocker.close();
    }
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/index.js";
import { configFields } from "../../src/config/fields.js";
import { adapterKind, createBackplane } from "../../src/cluster/adapter.js";
import { workerClusterOverrides } from "../../src/cluster/primary.js";
import { backplaneMetrics } from "../../src/cluster/backplane-metrics.js";
import { Metrics } from "../../src/observability/metrics.js";

describe("cluster config", () => {
  it("a Redis URL selects the redis adapter; memory is the default", () => {
    assert.equal(adapterKind(parseConfig({}).cluster), "memory");
    assert.equal(adapterKind(parseConfig({ cluster: { redisUrl: "redis://127.0.0.1:1" } }).cluster), "redis");
    assert.equal(adapterKind(parseConfig({ cluster: { adapter: "cluster" } }).cluster), "cluster");
  });

  it("adapter redis without a URL is refused, naming the option", () => {
    assert.throws(() => adapterKind(parseConfig({ cluster: { adapter: "redis" } }).cluster), /cluster\.redisUrl is empty.*--redis-url/);
  });

  it("adapter cluster outside a node:cluster worker is refused, naming --workers", () => {
    const config = parseConfig({ cluster: { adapter: "cluster" } });
    const metrics = backplaneMetrics(new Metrics(config.metrics));
    assert.throws(() => createBackplane(config, { metrics, proc: process, isWorker: false, nodeId: "x" }), /--workers N/);
  });

  it("workers get their own node id, the cluster adapter (unless Redis) and a private loopback port", () => {
    assert.deepEqual(workerClusterOverrides(parseConfig({ cluster: { nodeId: "api", workers: 4 } }), 3), {
      nodeId: "api-w3",
      adapter: "cluster",
      forwardListen: "127.0.0.1:0",
      workers: 1,
    });
    const o = workerClusterOverrides(parseConfig({ cluster: { nodeId: "x".repeat(32), redisUrl: "redis://h:1", forwardListen: "10.0.0.1:7000" } }), 12);
    assert.equal(o.nodeId, `${"x".repeat(28)}-w12`);
    assert.equal(o.adapter, "redis");
    assert.equal(o.forwardListen, "10.0.0.1:7000");
    // the override is a valid config
    parseConfig({ cluster: { ...o } });
  });

  it("the operator interface keeps its names (flags and env)", () => {
    const byKey = new Map(configFields().map((f) => [f.key, f]));
    assert.equal(byKey.get("cluster.redisUrl")?.flag, "--redis-url");
    assert.ok(byKey.get("cluster.redisUrl")?.envNames.includes("PYLON_REDIS_URL"));
    assert.equal(byKey.get("cluster.redisUrl")?.secret, true);
    assert.equal(byKey.get("cluster.nodeId")?.flag, "--node-id");
    assert.ok(byKey.get("cluster.nodeId")?.envNames.includes("PYLON_NODE_ID"));
    assert.equal(byKey.get("cluster.workers")?.flag, "--workers");
    assert.equal(byKey.get("cluster.advertiseAddress")?.flag, "--advertise-address");
    assert.equal(byKey.get("cluster.forwarding")?.flag, "--cluster.forwarding");
  });
});

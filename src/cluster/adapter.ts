import { Adapter } from "socket.io-adapter";
import { createAdapter as createRedisAdapter, RedisAdapter } from "@socket.io/redis-adapter";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { NodeClusterAdapter } from "@socket.io/cluster-adapter";
import type { Namespace } from "socket.io";
import type { PylonConfig } from "../config/index.js";
import type { BackplaneMetrics } from "./backplane-metrics.js";
import { createRedisPair } from "./redis-clients.js";
import { ipcProbe, redisProbe, type BackplaneProbe } from "./probe.js";
import { IpcRegistry, MemoryRegistry, RedisRegistry, type NodeRegistry } from "./registry.js";

export type AdapterKind = "memory" | "cluster" | "redis";

/** What socket.io's io.adapter() accepts: an Adapter class or a factory. */
export type AdapterConstructor = typeof Adapter | ((nsp: Namespace) => Adapter);

/** The chosen adapter with its backplane: health probe, node registry and teardown. */
export interface Backplane {
  kind: AdapterKind;
  adapter: AdapterConstructor;
  /** Publish/subscribe round trip (none for memory: nothing to prove). */
  probe: BackplaneProbe | undefined;
  registry: NodeRegistry;
  lastError: () => string | undefined;
  close(): Promise<void>;
}

/** The adapter a config selects: a Redis URL means redis; adapter=redis without a URL is refused. */
export function adapterKind(cluster: PylonConfig["cluster"]): AdapterKind {
  if (cluster.redisUrl) return "redis";
  if (cluster.adapter === "redis") {
    throw new Error("cluster.adapter is redis but cluster.redisUrl is empty: set --redis-url / PYLON_REDIS_URL, or use adapter memory");
  }
  return cluster.adapter;
}

export interface BackplaneDeps {
  metrics: BackplaneMetrics;
  /** The process, for node:cluster IPC (a worker talks to its primary). */
  proc: NodeJS.Process;
  isWorker: boolean;
  /** This node's id (the probe channel is private to it). */
  nodeId: string;
}

/** Builds the configured adapter and its backplane (official packages only). */
export function createBackplane(config: PylonConfig, deps: BackplaneDeps): Backplane {
  const cluster = config.cluster;
  const kind = adapterKind(cluster);
  if (kind === "redis") {
    const pair = createRedisPair(cluster.redisUrl, deps.metrics);
    const { pub, sub } = pair;
    let adapter: AdapterConstructor;
    if (cluster.redisSharded) {
      adapter = createShardedAdapter(pub, sub, { channelPrefix: cluster.redisAdapterKey, subscriptionMode: "dynamic" });
    } else {
      // a class (not the factory) so that wrappers such as the broadcast fast path can extend it
      const opts = { key: cluster.redisAdapterKey };
      adapter = class PylonRedisAdapter extends RedisAdapter {
        constructor(nsp: Namespace) {
          super(nsp, pub, sub, opts);
        }
      } as unknown as AdapterConstructor;
      void createRedisAdapter; // the official factory does exactly this with fixed clients
    }
    return {
      kind,
      adapter,
      probe: redisProbe(pub, sub, `${cluster.redisKeyPrefix}:probe:${deps.nodeId}`),
      registry: new RedisRegistry(pub, cluster.redisKeyPrefix),
      lastError: pair.lastError,
      close: () => pair.close(),
    };
  }
  if (kind === "cluster") {
    if (!deps.isWorker || !deps.proc.send) {
      throw new Error("cluster.adapter is cluster but this process is not a node:cluster worker: run `pylon serve --workers N` (N > 1)");
    }
    const proc = deps.proc;
    const countIn = (m: unknown): void => {
      if (typeof m === "object" && m !== null && (m as { source?: unknown }).source === "_sio_adapter") deps.metrics.messagesIn.inc();
    };
    proc.on("message", countIn);
    const metrics = deps.metrics;
    const adapter = class PylonClusterAdapter extends NodeClusterAdapter {
      constructor(nsp: Namespace) {
        super(nsp, {});
      }
      protected override doPublish(message: Parameters<NodeClusterAdapter["doPublish"]>[0]): Promise<string> {
        metrics.messagesOut.inc();
        return super.doPublish(message);
      }
      protected override doPublishResponse(...args: Parameters<NodeClusterAdapter["doPublishResponse"]>): Promise<void> {
        metrics.messagesOut.inc();
        return super.doPublishResponse(...args);
      }
    } as unknown as AdapterConstructor;
    return {
      kind,
      adapter,
      probe: ipcProbe(proc),
      registry: new IpcRegistry(proc),
      lastError: () => (proc.connected ? undefined : "IPC channel closed"),
      close: () => {
        proc.off("message", countIn);
        return Promise.resolve();
      },
    };
  }
  return { kind, adapter: Adapter, probe: undefined, registry: new MemoryRegistry(), lastError: () => undefined, close: () => Promise.resolve() };
}

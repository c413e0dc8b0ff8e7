import cluster from "node:cluster";
import { randomBytes } from "node:crypto";
import { parseConfig, type PylonConfig } from "../config/index.js";
import { createLogger } from "../observability/logger.js";
import { WorkerPrimary, workerClusterOverrides, workerCount } from "../cluster/primary.js";
import type { Pylon } from "../server/pylon.js";

/** What `pylon serve` should do in this process given --workers. */
export type ServeRole = { role: "single"; config: PylonConfig } | { role: "worker"; config: PylonConfig } | { role: "primary" };

/**
 * `--workers N` (N > 1, or 0 = one per core): the first process becomes the node:cluster primary and forks N workers
 * that re-run the same command line; each worker gets its own node id (<id>-w<N>), the cluster adapter (or Redis
 * when a Redis URL is set) and a private loopback port where the other workers forward its sessions.
 */
export function serveRole(config: PylonConfig, isTTY: boolean): ServeRole {
  if (cluster.isWorker) {
    const id = cluster.worker?.id ?? 0;
    return { role: "worker", config: parseConfig({ ...config, cluster: { ...config.cluster, ...workerClusterOverrides(config, id) } }) };
  }
  if (workerCount(config) <= 1) return { role: "single", config };
  const logger = createLogger(config.log, { isTTY }, { role: "primary" });
  // workers share one base node id: the one configured, or one generated here and handed down
  const env: Record<string, string> = config.cluster.nodeId ? {} : { PYLON_NODE_ID: randomBytes(4).toString("hex") };
  const primary = new WorkerPrimary(config, logger, env);
  primary.start();
  process.once("SIGTERM", () => primary.stop("SIGTERM"));
  process.once("SIGINT", () => primary.stop("SIGINT"));
  process.on("SIGHUP", () => primary.reload());
  return { role: "primary" };
}

/** A worker whose primary is gone (killed) cannot accept connections any more: close and exit. */
export function exitWithPrimary(pylon: Pylon): void {
  if (!cluster.isWorker) return;
  process.once("disconnect", () => {
    pylon.logger.error("primary process gone; worker exiting");
    pylon.close().finally(() => process.exit(1));
  });
}

import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import { setupPrimary } from "@socket.io/cluster-adapter";
import type { PylonConfig } from "../config/index.js";
import type { Logger } from "../observability/logger.js";
import { isIpcMessage, type IpcMessage } from "./probe.js";
import type { NodeRecord } from "./registry.js";

/** How many workers a config asks for (0 = one per core). */
export function workerCount(config: PylonConfig): number {
  return config.cluster.workers === 0 ? availableParallelism() : config.cluster.workers;
}

/** The config a node:cluster worker runs with: its own node id, the cluster adapter (unless Redis), a private forwarding port. */
export function workerClusterOverrides(config: PylonConfig, workerId: number): Partial<PylonConfig["cluster"]> {
  const suffix = `-w${workerId}`;
  const base = (config.cluster.nodeId || "node").slice(0, 32 - suffix.length);
  return {
    nodeId: base + suffix,
    adapter: config.cluster.redisUrl ? "redis" : "cluster",
    forwardListen: config.cluster.forwardListen || "127.0.0.1:0",
    workers: 1,
  };
}

/**
 * The node:cluster primary: forks the workers (which share the listening port; the OS spreads connections),
 * relays the cluster adapter's messages (setupPrimary), keeps the IPC node registry and answers backplane probes,
 * re-forks a worker that dies, and on SIGTERM/SIGINT drains every worker before exiting.
 */
export class WorkerPrimary {
  readonly #nodes = new Map<string, { record: NodeRecord; expiresAt: number; workerId: number }>();
  readonly #config: PylonConfig;
  readonly #logger: Logger;
  readonly #env: Record<string, string>;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #restarts = 0;
  /** Workers that exited before ever listening, in a row (a bad port or config): the primary gives up at 3. */
  #startFailures = 0;
  readonly #listened = new Set<number>();
  #exitCode = 0;

  constructor(config: PylonConfig, logger: Logger, env: Record<string, string>) {
    this.#config = config;
    this.#logger = logger;
    this.#env = env;
  }

  start(): void {
    const n = workerCount(this.#config);
    const kind = this.#config.cluster.redisUrl ? "redis" : "cluster";
    if (kind === "cluster") setupPrimary(); // relays the workers' cluster adapter messages
    cluster.on("message", (worker, message) => this.#onMessage(worker, message));
    cluster.on("exit", (worker, code, signal) => this.#onExit(worker, code, signal));
    cluster.on("listening", (worker) => {
      if (!this.#listened.has(worker.id)) {
        this.#listened.add(worker.id);
        this.#startFailures = 0;
      }
    });
    this.#timer = setInterval(() => this.#prune(), this.#config.cluster.heartbeatMs);
    for (let i = 0; i < n; i++) cluster.fork(this.#env);
    this.#logger.info({ workers: n, adapter: kind }, "primary started workers");
  }

  #onMessage(worker: Worker, m: unknown): void {
    if (!isIpcMessage(m)) return;
    if (m.pylon === "probe") return void this.#send(worker, { pylon: "probe-ack", token: m.token });
    if (m.pylon === "announce" && m.node && typeof m.node === "object") {
      const { ttlMs, ...record } = m.node as NodeRecord & { ttlMs: number };
      const known = this.#nodes.has(record.id);
      this.#nodes.set(record.id, { record, expiresAt: Date.now() + (ttlMs || 6000), workerId: worker.id });
      if (!known) this.#logger.info({ node: record.id, address: record.address }, "worker node registered");
      this.#broadcast();
    } else if (m.pylon === "withdraw" && m.id) {
      if (this.#nodes.delete(m.id)) this.#broadcast();
    }
  }

  #send(worker: Worker, msg: IpcMessage): void {
    if (worker.isConnected()) worker.send(msg, undefined, () => undefined);
  }

  #broadcast(): void {
    const msg: IpcMessage = { pylon: "nodes", nodes: [...this.#nodes.values()].map((n) => n.record) };
    for (const w of Object.values(cluster.workers ?? {})) if (w) this.#send(w, msg);
  }

  #prune(): void {
    const now = Date.now();
    let changed = false;
    for (const [id, n] of this.#nodes) {
      if (n.expiresAt <= now) {
        this.#nodes.delete(id);
        changed = true;
      }
    }
    if (changed) this.#broadcast();
  }

  #onExit(worker: Worker, code: number | null, signal: string | null): void {
    for (const [id, n] of this.#nodes) if (n.workerId === worker.id) this.#nodes.delete(id);
    this.#broadcast();
    if (this.#stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) this.#finish();
      return;
    }
    if (!this.#listened.has(worker.id) && ++this.#startFailures >= 3) {
      this.#logger.fatal({ worker: worker.id, code, signal }, "workers exit before listening (see their log); giving up");
      this.#stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGKILL");
      if (this.#timer) clearInterval(this.#timer);
      this.#exitCode = 1;
      setTimeout(() => process.exit(1), 200).unref();
      return;
    }
    this.#listened.delete(worker.id);
    this.#restarts++;
    const delay = Math.min(100 * 2 ** Math.min(this.#restarts, 6), 5000);
    this.#logger.error({ worker: worker.id, code, signal, restartInMs: delay }, "worker exited unexpectedly; forking a replacement");
    setTimeout(() => {
      if (!this.#stopping) cluster.fork(this.#env);
    }, delay).unref();
  }

  /** Drains every worker (SIGTERM each), then exits; workers still alive after the drain window are killed. */
  stop(signal: string): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#logger.info({ signal }, "primary shutting down workers (drain)");
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (workers.length === 0) return this.#finish();
    for (const w of workers) w.process.kill("SIGTERM");
    const grace = this.#config.drain.windowMs + this.#config.drain.readyzGraceMs + 10_000;
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGKILL");
    }, grace).unref();
  }

  /** Forwards SIGHUP (config reload) to every worker. */
  reload(): void {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGHUP");
  }

  #finish(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#logger.info("all workers exited");
    process.exit(this.#exitCode);
  }
}

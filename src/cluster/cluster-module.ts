import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { PylonConfig } from "../config/index.js";
import type { PylonContext, PylonModule } from "../server/module.js";
import { sendJson } from "../server/http-router.js";
import { errorBody } from "../protocol/errors.js";
import { SessionRouter } from "../transport/session-router.js";
import { engineConnections } from "../transport/engine-internals.js";
import { createBackplane, type Backplane } from "./adapter.js";
import { backplaneMetrics } from "./backplane-metrics.js";
import { BackplaneHealth } from "./backplane-health.js";
import { RegistryDirectory } from "./directory.js";
import type { NodeRecord } from "./registry.js";
import { wrapAdapter } from "./fast-path.js";

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/**
 * Scale-out: picks the adapter (memory | cluster | redis), proves the backplane before /readyz turns 200, announces
 * this node in the registry, serves /api/nodes and /api/rooms/:ns/:room (behind admin.token when one is set), and routes foreign sessions to their owner.
 */
export class ClusterModule implements PylonModule {
  readonly name = "cluster";
  #ctx!: PylonContext;
  #backplane!: Backplane;
  #health: BackplaneHealth | undefined;
  #router!: SessionRouter;
  #directory!: RegistryDirectory;
  #heartbeat: NodeJS.Timeout | undefined;
  #record: NodeRecord | undefined;
  readonly #disposers: (() => void)[] = [];
  #closed: Promise<void> | undefined;

  /** The backplane (after setup), e.g. for tests and the bench. */
  get backplane(): Backplane {
    return this.#backplane;
  }

  get router(): SessionRouter {
    return this.#router;
  }

  async setup(ctx: PylonContext): Promise<void> {
    this.#ctx = ctx;
    const config = ctx.config.cluster;
    const metrics = backplaneMetrics(ctx.metrics);
    this.#backplane = createBackplane(ctx.config, { metrics, proc: process, isWorker: cluster.isWorker, nodeId: ctx.nodeId });
    ctx.io.adapter(wrapAdapter(this.#backplane.adapter));
    ctx.logger.info({ adapter: this.#backplane.kind, registry: this.#backplane.registry.kind, forwarding: config.forwarding }, "cluster adapter selected");
    if (this.#backplane.probe) {
      const health = new BackplaneHealth(
        this.#backplane.probe,
        { kind: this.#backplane.kind, intervalMs: config.probeIntervalMs, timeoutMs: config.probeTimeoutMs, lastError: this.#backplane.lastError, onChange: (state) => {
          if (state === "up") void this.#announce(); // registered as soon as the backplane works
        } },
        ctx.logger,
        metrics,
      );
      this.#health = health;
      this.#disposers.push(ctx.health.addCheck("backplane", () => health.check()));
    }
    this.#directory = new RegistryDirectory(this.#backplane.registry, config.heartbeatMs);
    this.#router = new SessionRouter({
      nodeId: ctx.nodeId,
      forwarding: config.forwarding,
      timeoutMs: config.forwardTimeoutMs,
      forwardListen: config.forwardListen,
      directory: this.#directory,
    });
    this.#router.setup(ctx);
    this.#disposers.push(
      ctx.routes.add("GET", "/api/nodes", async (req, res) => {
        if (!ctx.adminAuth.guard(req, res)) return;
        let nodes;
        try {
          nodes = await this.#backplane.registry.list();
        } catch (err) {
          return sendJson(res, 503, { error: errorBody("backplane_unavailable", { detail: (err as Error).message }), self: ctx.nodeId });
        }
        sendJson(res, 200, { self: ctx.nodeId, adapter: this.#backplane.kind, nodes: nodes.sort((a, b) => a.id.localeCompare(b.id)) });
      }),
      ctx.routes.add("GET", "/api/rooms/*", async (req, res, url) => {
        if (ctx.adminAuth.guard(req, res)) await this.#roomCount(url, res);
      }),
    );
  }

  async start(): Promise<void> {
    await this.#router.start();
    this.#health?.start();
    this.#record = this.#makeRecord();
    await this.#announce();
    const hb = setInterval(() => void this.#announce(), this.#ctx.config.cluster.heartbeatMs);
    hb.unref();
    this.#heartbeat = hb;
  }

  #advertised(): string {
    const c = this.#ctx.config.cluster;
    if (c.advertiseAddress) return c.advertiseAddress;
    if (this.#router.listenAddress) return this.#router.listenAddress;
    const a = this.#ctx.httpServer.address() as AddressInfo | null;
    const host = !a || a.address === "0.0.0.0" || a.address === "::" ? "127.0.0.1" : a.address;
    return `${host.includes(":") ? `[${host}]` : host}:${a?.port ?? this.#ctx.config.server.port}`;
  }

  #makeRecord(): NodeRecord {
    const now = new Date().toISOString();
    return { id: this.#ctx.nodeId, address: this.#advertised(), version: packageVersion(), connections: 0, startedAt: now, lastSeen: now };
  }

  async #announce(): Promise<void> {
    if (!this.#record) return;
    const record = { ...this.#record, connections: engineConnections(this.#ctx.io).length, lastSeen: new Date().toISOString() };
    try {
      await this.#backplane.registry.announce(record, this.#ctx.config.cluster.heartbeatMs * 3);
    } catch {
      // the backplane health reports the outage (once); the next heartbeat retries
    }
  }

  async #roomCount(url: URL, res: Parameters<Parameters<PylonContext["routes"]["add"]>[2]>[1]): Promise<void> {
    const parts = url.pathname.slice("/api/rooms/".length).split("/");
    if (parts.length !== 2 || !parts[1]) {
      return sendJson(res, 400, { error: errorBody("bad_request", { hint: "use /api/rooms/:namespace/:room (namespace without its leading /, or _ for /)" }) });
    }
    let nsName: string;
    let room: string;
    try {
      const ns = decodeURIComponent(parts[0]!);
      nsName = ns === "_" || ns === "" || ns === "/" ? "/" : ns.startsWith("/") ? ns : `/${ns}`;
      room = decodeURIComponent(parts[1]);
    } catch {
      return sendJson(res, 400, { error: errorBody("bad_request", { hint: "malformed percent-encoding" }) });
    }
    const nsp = this.#ctx.io._nsps.get(nsName);
    if (!nsp) return sendJson(res, 404, { error: errorBody("invalid_namespace", { namespace: nsName }) });
    const local = nsp.adapter.rooms.get(room)?.size ?? 0;
    try {
      const sockets = await nsp.in(room).fetchSockets();
      sendJson(res, 200, { namespace: nsName, room, members: sockets.length, local });
    } catch (err) {
      sendJson(res, 503, { error: errorBody("backplane_unavailable", { detail: (err as Error).message }), namespace: nsName, room, local });
    }
  }

  reload(_config: PylonConfig): void {
    // adapter, node id and forwarding are fixed for the life of the process
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      if (this.#heartbeat) clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
      for (const d of this.#disposers.splice(0)) d();
      this.#health?.close();
      await this.#router?.close();
      if (this.#record) {
        const id = this.#record.id;
        this.#record = undefined;
        await Promise.race([this.#backplane.registry.withdraw(id).catch(() => undefined), new Promise((r) => setTimeout(r, 500).unref())]);
      }
      this.#directory?.clear();
      this.#backplane?.registry.close();
      await this.#backplane?.close();
    })();
    return this.#closed;
  }
}

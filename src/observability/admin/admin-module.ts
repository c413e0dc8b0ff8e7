import { readFile } from "node:fs/promises";
import type { PylonConfig } from "../../config/index.js";
import type { PylonContext, PylonModule } from "../../server/module.js";
import { sendJson } from "../../server/http-router.js";
import { ADMIN_SECURITY_HEADERS as SECURITY_HEADERS } from "../../server/admin-auth.js";
import { StatsService } from "./stats.js";

/** What the cluster view needs from a node registry (src/cluster's NodeRegistry.list() satisfies it). */
export interface ClusterNodeSource {
  /** Live nodes: id, address, version, connections, startedAt, lastSeen. */
  list(): Promise<{ id: string; address: string; version: string; connections: number; startedAt: string; lastSeen: string }[]>;
  /** memory | redis | ipc: where the registry lives. */
  readonly kind: string;
}

export interface AdminOptions {
  /** Directory holding admin.html, admin.js, admin.css. */
  webRoot: URL;
  /** The node registry, when the cluster module runs; /api/cluster then lists every node. */
  nodes?: () => ClusterNodeSource | undefined;
}

const STATIC: Record<string, { file: string; type: string }> = {
  "/admin": { file: "admin.html", type: "text/html; charset=utf-8" },
  "/admin/admin.js": { file: "admin.js", type: "text/javascript; charset=utf-8" },
  "/admin/admin.css": { file: "admin.css", type: "text/css; charset=utf-8" },
};

/**
 * Admin API and dashboard, enabled only when admin.token is set (otherwise none of these routes exist: 404).
 *  - GET /api/stats   this node (connections, upgrades, event rates, drops, latency percentiles, security events);
 *  - GET /api/cluster every node from the cluster registry (or this node only, said so in `scope`);
 *  - GET /admin       the dashboard (static page; it asks for the token and polls /api/stats with it).
 * The API needs `Authorization: Bearer <admin.token>` (ctx.adminAuth, src/server/admin-auth.ts: constant-time
 * compare; failures get 401, are counted and recorded as security events). The static page holds no data.
 */
export class AdminModule implements PylonModule {
  readonly name = "admin";
  readonly #opts: AdminOptions;
  #stats: StatsService | undefined;
  readonly #disposers: (() => void)[] = [];

  constructor(opts: AdminOptions) {
    this.#opts = opts;
  }

  /** Admin is on when a token is configured. */
  static enabled(config: PylonConfig): boolean {
    return config.admin.token !== "";
  }

  setup(ctx: PylonContext): void {
    const { config } = ctx;
    const startedAt = Date.now();
    const stats = new StatsService(
      { nodeId: ctx.nodeId, metrics: ctx.metrics, readiness: () => ctx.health.readiness(), startedAt },
      { sampleIntervalMs: config.admin.sampleIntervalMs, rateWindowMs: config.admin.rateWindowMs },
    );
    this.#stats = stats;
    const authorized = ctx.adminAuth.guard.bind(ctx.adminAuth);
    this.#disposers.push(
      ctx.routes.add("GET", "/api/stats", async (req, res) => {
        if (!authorized(req, res)) return;
        sendJson(res, 200, await stats.stats(), SECURITY_HEADERS);
      }),
      ctx.routes.add("GET", "/api/cluster", async (req, res) => {
        if (!authorized(req, res)) return;
        sendJson(res, 200, await this.#cluster(ctx), SECURITY_HEADERS);
      }),
    );
    for (const [path, { file, type }] of Object.entries(STATIC)) {
      const url = new URL(file, this.#opts.webRoot);
      this.#disposers.push(
        ctx.routes.add("GET", path, async (_req, res) => {
          const body = await readFile(url);
          res.writeHead(200, { "content-type": type, "cache-control": "no-cache", ...SECURITY_HEADERS });
          res.end(body);
        }),
      );
    }
    ctx.logger.info({ paths: ["/admin", "/api/stats", "/api/cluster"] }, "admin API enabled (Bearer admin.token)");
  }

  start(): void {
    this.#stats?.start();
  }

  close(): void {
    this.#stats?.close();
    for (const d of this.#disposers.splice(0)) d();
  }

  async #cluster(ctx: PylonContext): Promise<unknown> {
    const self = await this.#stats!.stats();
    const summary = {
      id: ctx.nodeId,
      connections: self.connections.total,
      byTransport: self.connections.byTransport,
      eventsInPerSec: self.events.inPerSec,
      eventsOutPerSec: self.events.outPerSec,
      ready: self.ready,
    };
    const registry = this.#opts.nodes?.();
    if (!registry) {
      return { scope: "node", note: "no cluster node registry in this process: this node only", self: ctx.nodeId, nodes: [{ ...summary, self: true }] };
    }
    try {
      const nodes = await registry.list();
      const listed = nodes
        .map((n) => (n.id === ctx.nodeId ? { ...n, ...summary, self: true } : { ...n, self: false }))
        .sort((a, b) => a.id.localeCompare(b.id));
      if (!listed.some((n) => n.self)) listed.unshift({ ...summary, self: true } as (typeof listed)[number]);
      return { scope: "cluster", registry: registry.kind, self: ctx.nodeId, totalConnections: listed.reduce((a, n) => a + (n.connections ?? 0), 0), nodes: listed };
    } catch (err) {
      return { scope: "node", note: `node registry unavailable (${(err as Error).message}): this node only`, self: ctx.nodeId, nodes: [{ ...summary, self: true }] };
    }
  }
}

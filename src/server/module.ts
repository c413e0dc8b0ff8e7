import type { Server as HttpServer, IncomingMessage } from "node:http";
import type { Server } from "socket.io";
import type { PylonConfig } from "../config/index.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { AdminAuth } from "./admin-auth.js";
import type { Admission } from "./admission.js";
import type { Health } from "./health.js";
import type { HttpRouter } from "./http-router.js";
import type { UpgradeGate } from "./upgrade-gate.js";
import type { EventPipeline } from "./event-pipeline.js";

/** What a feature module receives from the Pylon composer. Modules never import the composer itself. */
export interface PylonContext {
  readonly config: PylonConfig;
  readonly nodeId: string;
  // socket.io's Server is generic over event maps; modules work with the untyped view.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly io: Server<any, any, any, any>;
  readonly httpServer: HttpServer;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** HTTP routes served before the engine (/healthz, /metrics, /api/...). */
  readonly routes: HttpRouter;
  /** Readiness checks behind /readyz. */
  readonly health: Health;
  /** Checks run before every Engine.IO handshake (rate limits, origin, drain). */
  readonly admission: Admission;
  /** Hooks run on HTTP upgrade requests and engine-path requests before engine.io sees them (session forwarding). */
  readonly gate: UpgradeGate;
  /** The inbound event path: modules add stages (metrics, security, flow control) instead of socket.use per feature. */
  readonly events: EventPipeline;
  /** The admin.token check of the operator APIs (admin and cluster routes). */
  readonly adminAuth: AdminAuth;
  /** Client address of a request, honouring server.trustProxy. */
  clientAddress(req: IncomingMessage): string;
}

/** A feature with one job, composed by the Pylon class. */
export interface PylonModule {
  readonly name: string;
  /** Wire into the context: register routes, checks, middleware, metrics. Runs before listen. */
  setup(ctx: PylonContext): void | Promise<void>;
  /** After the server listens. */
  start?(): void | Promise<void>;
  /** When drain starts (readyz is already 503): stop taking new work. */
  drain?(): void | Promise<void>;
  /** Release everything (timers, connections, listeners). Must be idempotent. */
  close?(): void | Promise<void>;
  /** Apply a reloaded config (SIGHUP). */
  reload?(config: PylonConfig): void;
}

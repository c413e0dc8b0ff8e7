import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Server, type DefaultEventsMap } from "socket.io";
import type { EventsMap } from "../protocol/events.js";
import { engineConnections, engineOptionsObject } from "../transport/engine-internals.js";
import { parseConfig, type PylonConfig, type PylonConfigInput } from "../config/index.js";
import { createLogger, type Logger } from "../observability/logger.js";
import { Metrics } from "../observability/metrics.js";
import { LifecycleObserver } from "../observability/lifecycle.js";
import { AdminAuth } from "./admin-auth.js";
import { countingParser, oversizedPollingCounter } from "../observability/bad-input.js";
import { engineOptions, applyRuntimeEngineOptions, transportPolicyCheck } from "../transport/engine-options.js";
import { originCheck } from "../security/origin.js";
import { Admission } from "./admission.js";
import { Health } from "./health.js";
import { HttpRouter, sendJson } from "./http-router.js";
import type { PylonContext, PylonModule } from "./module.js";
import { NamespaceRegistry } from "./namespaces.js";
import { registerOpsRoutes } from "./ops-routes.js";
import { runDrain } from "./drain.js";
import { UpgradeGate } from "./upgrade-gate.js";
import { EventPipeline } from "./event-pipeline.js";
import { StreamsModule, type StreamHandle } from "../delivery/streams-module.js";

export interface PylonOptions {
  /** Attach to this HTTP server instead of creating one (start() then does not listen; the owner does). */
  httpServer?: HttpServer;
  /** Feature modules, set up in order before the built-in ones see traffic. */
  modules?: PylonModule[];
  /** A logger to use instead of one built from config.log. */
  logger?: Logger;
  /** Whether stdout is a TTY (pretty logs on auto); defaults to false. */
  isTTY?: boolean;
}

type State = "new" | "starting" | "running" | "draining" | "closed";

/**
 * The composer: owns the lifecycle start() -> running -> drain() -> close() and wires feature modules into one
 * context. It holds no feature logic of its own.
 */
export class Pylon<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = unknown,
> {
  readonly config: PylonConfig;
  readonly io: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  readonly httpServer: HttpServer;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly health = new Health();
  readonly admission = new Admission();
  readonly gate = new UpgradeGate();
  readonly events = new EventPipeline();
  readonly routes: HttpRouter;
  readonly adminAuth: AdminAuth;
  readonly nodeId: string;
  readonly #modules: PylonModule[];
  readonly #ownsServer: boolean;
  readonly #disposers: (() => void)[] = [];
  #state: State = "new";
  #drainPromise: Promise<void> | undefined;
  #closePromise: Promise<void> | undefined;
  #setupDone: Promise<void> | undefined;
  readonly #trustedProxies: Set<string>;
  /** The transport policy new handshakes follow (changes on reload). */
  #transportPolicy: PylonConfig["engine"]["transports"];

  constructor(config: PylonConfig, options: PylonOptions = {}) {
    this.config = config;
    this.nodeId = config.cluster.nodeId || randomBytes(4).toString("hex");
    this.logger = options.logger ?? createLogger(config.log, { isTTY: options.isTTY ?? false }, { nodeId: this.nodeId });
    this.metrics = new Metrics(config.metrics);
    this.routes = new HttpRouter((err, req) => this.logger.error({ err, url: req.url }, "http handler failed"));
    this.#trustedProxies = new Set(config.server.trustProxy);
    this.adminAuth = new AdminAuth(config.admin.token, this.metrics, (req) => this.clientAddress(req));
    this.#transportPolicy = config.engine.transports;
    this.#ownsServer = !options.httpServer;
    this.httpServer = options.httpServer ?? createServer();
    this.io = new Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>({
      ...engineOptions(config.engine),
      parser: countingParser(this.metrics),
      allowRequest: (req, cb) => {
        let verdict: ReturnType<Admission["evaluate"]>;
        try {
          verdict = this.admission.evaluate(req);
        } catch (err) {
          this.logger.error({ err }, "admission check failed");
          return cb("internal_error", false);
        }
        if (!(verdict instanceof Promise)) return cb(verdict ? verdict.reason : null, !verdict);
        verdict.then(
          (refusal) => cb(refusal ? refusal.reason : null, !refusal),
          (err: unknown) => {
            this.logger.error({ err }, "admission check failed");
            cb("internal_error", false);
          },
        );
      },
    });
    this.io.attach(this.httpServer);
    this.#interceptHttp();
    // before any module: its one socket middleware runs ahead of every other connection listener's
    this.events.install(this.io, [this.io.of("/")]);
    this.#disposers.push(() => this.events.close());

    const lifecycle = new LifecycleObserver();
    const namespaces = new NamespaceRegistry(config, (name) => lifecycle.observeNamespace(name));
    this.#modules = [lifecycle, namespaces, ...(options.modules ?? [])];

    this.admission.add("draining", () => (this.health.draining ? { reason: "draining" } : null));
    this.admission.add("origin", originCheck(config.engine.corsOrigins));
    this.admission.add("transport", transportPolicyCheck(() => this.#transportPolicy));
    this.gate.onEngineRequest(oversizedPollingCounter(this.metrics, this.logger));
    this.#disposers.push(registerOpsRoutes(this.routes, this.health, config.metrics.enabled ? this.metrics : undefined, this.nodeId));
  }

  /** The context handed to modules. */
  get context(): PylonContext {
    return {
      config: this.config,
      nodeId: this.nodeId,
      io: this.io,
      httpServer: this.httpServer,
      logger: this.logger,
      metrics: this.metrics,
      routes: this.routes,
      health: this.health,
      admission: this.admission,
      gate: this.gate,
      events: this.events,
      adminAuth: this.adminAuth,
      clientAddress: (req) => this.clientAddress(req),
    };
  }

  get state(): State {
    return this.#state;
  }

  /** The first module that is an instance of `ctor` (e.g. `pylon.module(StreamsModule)`), if any. */
  module<T extends PylonModule>(ctor: abstract new (...args: never[]) => T): T | undefined {
    return this.#modules.find((m): m is T => m instanceof ctor);
  }

  /** A stream of the delivery module: `pylon.stream(name).publish(event, data)`. Throws when delivery is disabled. */
  stream(name: string): StreamHandle {
    const streams = this.module(StreamsModule);
    if (!streams) throw new Error("pylon.stream(): the delivery module is not loaded (delivery.enabled is false)");
    return streams.stream(name);
  }

  /** Adds a module before start(). */
  use(module: PylonModule): this {
    if (this.#state !== "new") throw new Error(`Pylon.use(${module.name}) must be called before start()`);
    this.#modules.push(module);
    return this;
  }

  /** The address clients use: honours X-Forwarded-For only from configured trusted proxies. */
  clientAddress(req: IncomingMessage): string {
    const peer = req.socket?.remoteAddress ?? "";
    if (this.#trustedProxies.size === 0 || !this.#trustedProxies.has(peer)) return peer;
    const xff = req.headers["x-forwarded-for"];
    const chain = (Array.isArray(xff) ? xff.join(",") : (xff ?? "")).split(",").map((s) => s.trim()).filter(Boolean);
    for (let i = chain.length - 1; i >= 0; i--) {
      if (!this.#trustedProxies.has(chain[i]!)) return chain[i]!;
    }
    return chain[0] ?? peer;
  }

  /** Sets up modules (once). start() calls it; call it early to register routes before attaching elsewhere. */
  setup(): Promise<void> {
    this.#setupDone ??= (async () => {
      const ctx = this.context;
      for (const m of this.#modules) await m.setup(ctx);
    })();
    return this.#setupDone;
  }

  /** Sets up modules, listens (when it owns the server), and turns ready. Resolves with the bound address. */
  async start(): Promise<{ host: string; port: number; url: string }> {
    if (this.#state !== "new") throw new Error(`Pylon.start() called in state ${this.#state}`);
    this.#state = "starting";
    await this.setup();
    if (this.#ownsServer) {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        this.httpServer.once("error", onError);
        this.httpServer.listen(this.config.server.port, this.config.server.host, () => {
          this.httpServer.off("error", onError);
          resolve();
        });
      });
    }
    for (const m of this.#modules) await m.start?.();
    this.health.markStarted();
    this.#state = "running";
    const addr = this.address();
    this.logger.info({ port: addr.port }, `listening on ${addr.url}`);
    return addr;
  }

  address(): { host: string; port: number; url: string } {
    const a = this.httpServer.address() as AddressInfo | null;
    const port = a?.port ?? this.config.server.port;
    const bound = a?.address ?? this.config.server.host;
    const host = bound === "0.0.0.0" || bound === "::" ? "127.0.0.1" : bound;
    const urlHost = host.includes(":") ? `[${host}]` : host;
    return { host, port, url: `http://${urlHost}:${port}` };
  }

  /**
   * Graceful drain: /readyz turns 503 and new handshakes are refused first; after drain.readyzGraceMs the connected
   * clients are disconnected in batches spread over drain.windowMs (they reconnect elsewhere); then the server closes.
   */
  drain(): Promise<void> {
    this.#drainPromise ??= (async () => {
      if (this.#state === "closed") return;
      this.#state = "draining";
      this.health.markDraining();
      const clients = engineConnections(this.io);
      this.logger.info({ connections: clients.length, windowMs: this.config.drain.windowMs }, "drain started");
      for (const m of this.#modules) await m.drain?.();
      if (this.config.drain.readyzGraceMs > 0) await sleep(this.config.drain.readyzGraceMs);
      const live = engineConnections(this.io);
      await runDrain(live, this.config.drain, (ms) => sleep(ms), (i, size) =>
        this.logger.debug({ batch: i, size }, "drain batch closed"),
      );
      this.logger.info({ connections: live.length }, "drain finished");
      await this.close();
    })();
    return this.#drainPromise;
  }

  /** Closes everything at once (idempotent). Prefer drain() in production. */
  close(): Promise<void> {
    this.#closePromise ??= (async () => {
      this.#state = "closed";
      this.health.markDraining();
      for (const m of [...this.#modules].reverse()) {
        try {
          await m.close?.();
        } catch (err) {
          this.logger.error({ err, module: m.name }, "module close failed");
        }
      }
      for (const d of this.#disposers.splice(0)) d();
      if (this.#ownsServer) {
        await new Promise<void>((resolve) => {
          this.io.close(() => resolve());
          this.httpServer.closeAllConnections?.();
        });
      } else {
        this.io.disconnectSockets(true);
        this.io.engine.close();
      }
      this.metrics.close();
    })();
    return this.#closePromise;
  }

  /** Applies a reloaded config: transport policy (new handshakes follow it), log level, and module reloads. */
  reload(next: PylonConfig): void {
    this.#transportPolicy = next.engine.transports;
    applyRuntimeEngineOptions(engineOptionsObject(this.io), next.engine);
    this.logger.level = next.log.level;
    this.adminAuth.setToken(next.admin.token);
    for (const m of this.#modules) m.reload?.(next);
    this.logger.info({ transports: next.engine.transports, logLevel: next.log.level }, "configuration reloaded");
  }

  /** Puts the router and the gate in front of engine.io on the request and upgrade events. */
  #interceptHttp(): void {
    const server = this.httpServer;
    const enginePath = this.config.engine.path.replace(/\/$/, "");
    const requestListeners = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
    const upgradeListeners = server.listeners("upgrade") as ((req: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
    server.removeAllListeners("request");
    server.removeAllListeners("upgrade");
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const onEnginePath = path === enginePath || path.startsWith(enginePath + "/");
      if (onEnginePath) {
        if (this.gate.handleRequest(req, res)) return;
      } else if (this.routes.handle(req, res)) return;
      // engine.io's own listener only chains to listeners that existed before attach: when Pylon created the server
      // there are none, so a path that is neither the engine's nor a route would never be answered
      if (requestListeners.length === 0 || (!onEnginePath && this.#ownsServer)) return sendJson(res, 404, { error: { code: "not_found" } });
      for (const l of requestListeners) l.call(server, req, res);
    });
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.gate.handleUpgrade(req, socket, head)) return;
      for (const l of upgradeListeners) l.call(server, req, socket, head);
    });
  }
}

/** Creates a Pylon from a config object (validated; throws ConfigError) or an already loaded config. */
export function createPylon<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = unknown,
>(config: PylonConfigInput | PylonConfig = {}, options: PylonOptions = {}): Pylon<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
  const parsed = Object.isFrozen(config) ? (config as PylonConfig) : parseConfig(config);
  return new Pylon<ListenEvents, EmitEvents, ServerSideEvents, SocketData>(parsed, options);
}

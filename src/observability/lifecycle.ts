import type { IncomingMessage } from "node:http";
import type { Socket } from "socket.io";
import type { PylonConfig } from "../config/index.js";
import type { PylonContext, PylonModule } from "../server/module.js";
import { STREAM_EVENTS } from "../protocol/streams.js";
import { identifyClient } from "./client-versions.js";
import { SocketInstruments } from "./traffic.js";
import { UpgradeTracker } from "./upgrades.js";

/** Engine.IO error codes (engine.io Server.errors) by number, for metric labels. */
const ENGINE_ERROR_NAMES: Record<number, string> = {
  0: "unknown_transport",
  1: "unknown_sid",
  2: "bad_handshake_method",
  3: "bad_request",
  4: "forbidden",
  5: "unsupported_protocol_version",
};

interface EngineSocketLike {
  id: string;
  protocol: number;
  transport: { name: string };
  request?: IncomingMessage;
  on(event: "close", fn: (reason: string, description?: unknown) => void): void;
  on(event: "upgrade" | "upgrading", fn: () => void): void;
}

function transportOf(socket: Socket): string {
  return socket.conn.transport.name;
}

/**
 * Connection lifecycle: metrics (connections by namespace/transport/protocol, handshakes, client identities, upgrades
 * and time to upgrade, disconnects, engine errors and closes, bytes and events in/out, ack latency) and one debug log
 * line per lifecycle event. With metrics.enabled=false only the cheap connection counters run (no per-event hooks).
 */
export class LifecycleObserver implements PylonModule {
  readonly name = "lifecycle";
  #ctx: PylonContext | undefined;
  #upgrades: UpgradeTracker | undefined;
  readonly #clientVersions = new Set<string>();
  /** Traffic instruments of each observed namespace (their inbound stage runs in the event pipeline). */
  readonly #instruments = new Map<string, SocketInstruments>();

  setup(ctx: PylonContext): void {
    this.#ctx = ctx;
    const { io, metrics, logger } = ctx;
    const detailed = ctx.config.metrics.enabled;
    // per-connection counts as plain numbers (applied to the metrics at scrape time: Metrics.perConnection)
    const hot = metrics.perConnection;
    const handshakesOk = hot.handshakes.of1("ok");
    const upgrades = new UpgradeTracker(metrics, ctx.config.engine.upgradeTimeout);
    this.#upgrades = upgrades;
    if (detailed) ctx.events.add({ name: "metrics", order: 0, forNamespace: (nsp) => this.#instruments.get(nsp.name)?.stage });
    // the reserved stream/command events of the wire contract are counted by name when streams are on
    if (ctx.config.delivery.enabled) metrics.declareEvents(Object.values(STREAM_EVENTS));
    io.engine.on("headers", (_headers: unknown, req: IncomingMessage) => upgrades.onHeaders(req));
    // shared by every connection (`this` is the engine socket): no closure kept per idle connection
    const onEngineClose = function onEngineClose(this: EngineSocketLike, reason: string): void {
      upgrades.onSessionClose(this.id);
      hot.engineConnections.of1(String(this.protocol)).value--;
      hot.engineCloses.of1(normalizeReason(reason)).value++;
    };
    io.engine.on("connection", (raw: EngineSocketLike) => {
      handshakesOk.value++;
      hot.engineConnections.of1(String(raw.protocol)).value++;
      if (detailed) {
        const id = identifyClient(raw.request, raw.protocol, this.#clientVersions);
        hot.clientHandshakes.of3(id.eio, id.client, id.version).value++;
        // bytes in are counted by Pylon's parser (src/observability/bad-input.ts): no listener per connection
      }
      // a connection that starts on websocket never upgrades: only polling ones time their upgrade
      if (raw.transport.name !== "websocket") {
        const bornAt = performance.now();
        raw.on("upgrade", () => upgrades.onUpgrade(raw.id, performance.now() - bornAt));
      }
      raw.on("close", onEngineClose);
    });
    io.engine.on("connection_error", (err: { code?: number; message?: string; context?: Record<string, unknown>; req?: { url?: string } }) => {
      const code = ENGINE_ERROR_NAMES[err.code ?? -1] ?? "other";
      metrics.engineErrors.inc({ code });
      const isHandshake = !/[?&]sid=/.test(err.req?.url ?? "");
      if (isHandshake) hot.handshakes.of1(code).value++;
      logger.debug({ event: "engine_error", code, message: err.message, context: err.context }, "engine connection error");
    });
  }

  /** Sizes of the per-connection state this module keeps (0 when no upgrade is in flight). */
  internalSizes(): Record<string, number> {
    return { "lifecycle.pendingUpgrades": this.#upgrades?.pendingCount ?? 0 };
  }

  close(): void {
    this.#upgrades?.close();
  }

  /** SIGHUP: names added to metrics.eventNames are counted by name from now on (names are never undeclared). */
  reload(config: PylonConfig): void {
    this.#ctx?.metrics.declareEvents(config.metrics.eventNames);
  }

  /** Called by the namespace registry for every declared namespace. */
  observeNamespace(name: string): void {
    const ctx = this.#ctx;
    if (!ctx) return;
    const { io, metrics, logger } = ctx;
    if (ctx.config.metrics.enabled && !this.#instruments.has(name)) this.#instruments.set(name, new SocketInstruments(metrics.events.namespace(name), metrics));
    // shared by every socket of the namespace (`this` is the socket) when no per-socket debug logger is needed
    const hot = metrics.perConnection;
    const connectsOk = hot.namespaceConnects.of2(name, "ok");
    const onDisconnect = function onDisconnect(this: Socket, reason: string): void {
      hot.socketsConnected.of2(name, transportOf(this)).value--;
      hot.disconnects.of2(name, normalizeReason(reason)).value++;
    };
    io.of(name).on("connection", (socket: Socket) => {
      let transport = transportOf(socket);
      hot.socketsConnected.of2(name, transport).value++;
      connectsOk.value++;
      // a child logger per socket costs heap for the connection's lifetime: only when debug lines will be written
      const log = logger.isLevelEnabled("debug") ? logger.child({ socketId: socket.id, namespace: name }) : undefined;
      log?.debug(
        { event: "connect", transport, protocol: socket.conn.protocol, address: ctx.clientAddress(socket.request) },
        "socket connected",
      );
      if (log === undefined && transport === "websocket") {
        // the common case: no upgrade can follow, the transport at disconnect is the one counted now
        socket.on("disconnect", onDisconnect);
        return;
      }
      const onUpgrade = (): void => {
        hot.socketsConnected.of2(name, transport).value--;
        transport = transportOf(socket);
        hot.socketsConnected.of2(name, transport).value++;
        log?.debug({ event: "upgrade", transport }, "socket upgraded");
      };
      socket.conn.on("upgrade", onUpgrade);
      socket.once("disconnect", (reason: string) => {
        socket.conn.off("upgrade", onUpgrade);
        hot.socketsConnected.of2(name, transport).value--;
        hot.disconnects.of2(name, normalizeReason(reason)).value++;
        log?.debug({ event: "disconnect", reason, transport }, "socket disconnected");
      });
    });
  }
}

/** Reasons are a small fixed set in socket.io/engine.io; anything else is bucketed to keep label cardinality bounded. */
const KNOWN_REASONS = new Set([
  "transport close",
  "transport error",
  "ping timeout",
  "parse error",
  "forced close",
  "server namespace disconnect",
  "client namespace disconnect",
  "server shutting down",
  "forced server close",
  "token_expired",
  "slow_consumer",
  "rate_limited",
  "draining",
]);

export function normalizeReason(reason: string): string {
  return KNOWN_REASONS.has(reason) ? reason : "other";
}

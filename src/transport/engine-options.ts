import type { ServerOptions } from "socket.io";
import type { PylonConfig, TransportPolicy } from "../config/index.js";

type EngineTransport = "polling" | "websocket";

/** Engine.IO transports for a policy. websocket+polling: start on polling, upgrade. */
export function transportsFor(policy: TransportPolicy): EngineTransport[] {
  switch (policy) {
    case "websocket":
      return ["websocket"];
    case "polling":
      return ["polling"];
    default:
      return ["polling", "websocket"];
  }
}

/** socket.io/engine.io server options from the engine config section (the production playbook's defaults). */
export function engineOptions(engine: PylonConfig["engine"]): Partial<ServerOptions> {
  const origins = engine.corsOrigins;
  return {
    path: engine.path,
    transports: transportsFor(engine.transports),
    allowUpgrades: engine.transports === "websocket+polling",
    pingInterval: engine.pingInterval,
    pingTimeout: engine.pingTimeout,
    connectTimeout: engine.connectTimeout,
    upgradeTimeout: engine.upgradeTimeout,
    maxHttpBufferSize: engine.maxHttpBufferSize,
    perMessageDeflate: engine.perMessageDeflate ? { threshold: engine.perMessageDeflateThreshold } : false,
    httpCompression: engine.httpCompression,
    allowEIO3: engine.allowEIO3,
    serveClient: engine.serveClient,
    cleanupEmptyChildNamespaces: true,
    ...(origins.length > 0
      ? { cors: { origin: origins.includes("*") ? true : [...origins], credentials: true, methods: ["GET", "POST"] } }
      : {}),
  };
}

/** The subset of engine options that can change at runtime (SIGHUP); new handshakes follow them. */
export function applyRuntimeEngineOptions(opts: { transports: unknown; allowUpgrades?: unknown }, engine: PylonConfig["engine"]): void {
  opts.transports = transportsFor(engine.transports);
  opts.allowUpgrades = engine.transports === "websocket+polling";
}

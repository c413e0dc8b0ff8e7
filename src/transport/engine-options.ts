import type { IncomingMessage } from "node:http";
import type { ServerOptions } from "socket.io";
import type { Refusal } from "../server/admission.js";
import type { PylonConfig, TransportPolicy } from "../config/index.js";
import { engineQueryParam } from "./engine-internals.js";

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
    // engine.io replaces (does not merge) its default { threshold: 1024 }: `true` would gzip even 1-byte pings.
    httpCompression: engine.httpCompression ? { threshold: 1024 } : false,
    allowEIO3: engine.allowEIO3,
    serveClient: engine.serveClient,
    cleanupEmptyChildNamespaces: true,
    ...(origins.length > 0
      ? { cors: { origin: origins.includes("*") ? true : [...origins], credentials: true, methods: ["GET", "POST"] } }
      : {}),
  };
}

/**
 * The subset of engine options that can change at runtime (SIGHUP); new handshakes follow them.
 * engine.io checks `transports` on every request, including those of established sessions, so a transport is never
 * removed from it at runtime (that would cut off the clients already on it): the list only grows, and handshakes on a
 * transport the current policy excludes are refused by transportPolicyCheck() instead.
 */
export function applyRuntimeEngineOptions(opts: { transports: unknown; allowUpgrades?: unknown }, engine: PylonConfig["engine"]): void {
  const current = Array.isArray(opts.transports) ? (opts.transports as string[]) : [];
  opts.transports = [...new Set([...current, ...transportsFor(engine.transports)])];
  opts.allowUpgrades = engine.transports === "websocket+polling";
}

/**
 * Admission check: refuses a handshake whose transport the current policy excludes (after a runtime policy change;
 * before one, engine.io itself answers "Transport unknown"). The client gets Engine.IO's 403 with transport_not_allowed.
 */
export function transportPolicyCheck(policy: () => TransportPolicy): (req: IncomingMessage) => Refusal | null {
  return (req) => {
    const transport = engineQueryParam(req, "transport"); // engine.io's parsed query: no URL per handshake
    if (transport === undefined) return null;
    const p = policy();
    return p === "websocket+polling" || p === transport ? null : { reason: "transport_not_allowed" };
  };
}

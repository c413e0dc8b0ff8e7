/**
 * The one place that reaches into engine.io internals (versions pinned exactly in package.json).
 * test/unit/engine-internals.test.ts pins every assumption made here, so an upgrade fails loudly.
 */
import type { Server } from "socket.io";

/** An Engine.IO connection as engine.io keeps it in `engine.clients`. */
export interface EngineConnection {
  id: string;
  readyState: string;
  protocol: number;
  transport: { name: string };
  close(discard?: boolean): void;
}

/** engine.io's `clients` (protected, a plain object keyed by sid in engine.io 6). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function engineConnections(io: Server<any, any, any, any>): EngineConnection[] {
  const clients = (io.engine as unknown as { clients: Record<string, EngineConnection> }).clients;
  return Object.values(clients);
}

/** engine.io's mutable options object, read on every new handshake. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function engineOptionsObject(io: Server<any, any, any, any>): { transports: unknown; allowUpgrades?: unknown } {
  return io.engine.opts as unknown as { transports: unknown; allowUpgrades?: unknown };
}

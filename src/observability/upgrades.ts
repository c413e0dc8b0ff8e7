import type { IncomingMessage } from "node:http";
import type { Metrics } from "./metrics.js";
import { engineQueryParam } from "../transport/engine-internals.js";

interface Pending {
  startedAt: number;
  socket: IncomingMessage["socket"];
  onClose: () => void;
}

/**
 * Transport upgrade accounting (polling -> websocket):
 *  - attempted: a websocket upgrade request for an existing session passed engine.io's checks (engine `headers` event);
 *  - succeeded: the engine socket emitted `upgrade`;
 *  - failed: the websocket probe closed before the upgrade completed (reason `timeout` when that happened at or after
 *    engine.upgradeTimeout, `probe_closed` otherwise), or the session closed during the attempt (`socket_closed`).
 * Pending attempts are keyed by sid and removed on every outcome (the map is empty when no upgrade is in flight).
 */
export class UpgradeTracker {
  readonly #pending = new Map<string, Pending>();
  readonly #metrics: Metrics;
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(metrics: Metrics, upgradeTimeoutMs: number, now: () => number = () => performance.now()) {
    this.#metrics = metrics;
    this.#timeoutMs = upgradeTimeoutMs;
    this.#now = now;
  }

  /** engine `headers` listener: called for every engine HTTP response and websocket handshake. */
  onHeaders(req: IncomingMessage): void {
    if (req.headers.upgrade === undefined) return; // polling request
    const url = req.url ?? "";
    if (!url.includes("sid=")) return; // a websocket-only handshake, not an upgrade
    const sid = engineQueryParam(req, "sid");
    if (!sid || this.#pending.has(sid)) return;
    const socket = req.socket;
    const entry: Pending = {
      startedAt: this.#now(),
      socket,
      onClose: () => this.#fail(sid, this.#now() - entry.startedAt >= this.#timeoutMs - 50 ? "timeout" : "probe_closed"),
    };
    this.#pending.set(sid, entry);
    socket.once("close", entry.onClose);
    this.#metrics.perConnection.upgrades.of1("attempted").value++;
  }

  /** The engine socket `sid` completed its upgrade; `sinceHandshakeMs` is the time since its handshake. */
  onUpgrade(sid: string, sinceHandshakeMs: number): void {
    const entry = this.#pending.get(sid);
    if (entry) {
      this.#pending.delete(sid);
      entry.socket.off("close", entry.onClose);
    }
    this.#metrics.perConnection.upgrades.of1("succeeded").value++;
    this.#metrics.upgradeDuration.observe(sinceHandshakeMs / 1000);
  }

  /** The engine socket closed: an attempt still pending failed with it. */
  onSessionClose(sid: string): void {
    if (this.#pending.has(sid)) this.#fail(sid, "socket_closed");
  }

  #fail(sid: string, reason: "timeout" | "probe_closed" | "socket_closed"): void {
    const entry = this.#pending.get(sid);
    if (!entry) return;
    this.#pending.delete(sid);
    entry.socket.off("close", entry.onClose);
    this.#metrics.perConnection.upgrades.of1("failed").value++;
    this.#metrics.upgradeFailures.inc({ reason });
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  close(): void {
    for (const e of this.#pending.values()) e.socket.off("close", e.onClose);
    this.#pending.clear();
  }
}

import type { Socket } from "socket.io";
import type { PylonConfig } from "../config/index.js";
import { errorBody, type ErrorCode } from "../protocol/errors.js";
import type { SecurityAudit } from "./audit.js";
import type { Authorizer } from "./authz.js";
import type { CompiledEvent, EventValidator } from "./schemas.js";
import { valueAt } from "./schemas.js";
import { TokenBucket } from "./token-bucket.js";
import type { WireSizes } from "./wire-sizes.js";
import type { PylonUser } from "./user.js";

type SecurityConfig = PylonConfig["security"];

/** Reserved client -> server event: replace the socket's token before it expires (see docs/security.md). */
export const REFRESH_EVENT = "auth:refresh";
/** Reserved server -> client event sent right before a security disconnect: `{ code, message }`. */
export const DISCONNECT_EVENT = "pylon:disconnect";


/** What the guard needs from the module (no back-reference to the module itself). */
export interface GuardDeps {
  readonly config: SecurityConfig;
  readonly audit: SecurityAudit;
  readonly validator: EventValidator;
  readonly authorizer: Authorizer;
  readonly authEnabled: boolean;
  /** Inbound event sizes of the socket's Engine.IO connection. */
  wireSizes(socket: Socket): WireSizes | undefined;
  /** Handles auth:refresh (verification lives with the handshake code). */
  refresh(socket: Socket, args: unknown[], ack: ((res: unknown) => void) | undefined): void;
  address(socket: Socket): string;
}

type Ack = (res: unknown) => void;

const ackOf = (packet: unknown[]): Ack | undefined => {
  const last = packet[packet.length - 1];
  return typeof last === "function" ? (last as Ack) : undefined;
};

/**
 * The per-socket event pipeline, one `socket.use` middleware: rate limits (events, per event, bytes) -> reserved
 * auth:refresh -> size check -> schema validation -> room authorization -> next middleware (idempotency) -> handler.
 * A refused event never reaches a handler; it gets an error ack when it asked for one and is always counted.
 * Sustained rate-limit abuse disconnects the whole connection (reason rate_limited).
 */
export class SocketGuard {
  readonly #socket: Socket;
  readonly #deps: GuardDeps;
  readonly #namespace: string;
  readonly #rate: SecurityConfig["rateLimit"];
  readonly #eventBucket: TokenBucket | undefined;
  readonly #bytes: TokenBucket | undefined;
  readonly #strikes: TokenBucket | undefined;
  /** This namespace's validated events (undefined: the namespace is not validated). */
  readonly #events: ReadonlyMap<string, CompiledEvent> | undefined;
  readonly #maxBytes: number;
  #perEvent: Map<string, TokenBucket> | undefined;
  #closed = false;

  constructor(socket: Socket, deps: GuardDeps, now = Date.now()) {
    this.#socket = socket;
    this.#deps = deps;
    this.#namespace = socket.nsp.name;
    this.#rate = deps.config.rateLimit;
    this.#events = deps.validator.events(this.#namespace);
    this.#maxBytes = deps.config.events.maxBytes;
    if (this.#rate.enabled) {
      this.#eventBucket = new TokenBucket(this.#rate.eventsPerSec, this.#rate.eventBurst, now);
      this.#bytes = new TokenBucket(this.#rate.bytesPerSec, this.#rate.byteBurst, now);
      this.#strikes = new TokenBucket(Math.max(this.#rate.disconnectAfter / 10, 0.001), this.#rate.disconnectAfter, now);
    }
  }

  /** The socket.use middleware. */
  readonly middleware = (packet: unknown[], next: (err?: Error) => void): void => {
    if (this.#closed || !this.#socket.connected) {
      this.#deps.audit.invalidEvents.inc({ code: "after_disconnect" }); // socket.io would drop it too; counted
      return;
    }
    const event = packet[0];
    const ack = ackOf(packet);
    if (typeof event !== "string") return this.#refuse("invalid_event", ack, "invalid_payload", { path: "/event" });

    const bytes = this.#takeBytes();
    if (this.#eventBucket) {
      const now = Date.now();
      let wait = this.#eventBucket.take(now);
      let kind = "event";
      if (wait === 0 && Object.hasOwn(this.#rate.perEvent, event)) {
        const limit = this.#rate.perEvent[event];
        if (limit) {
          this.#perEvent ??= new Map();
          let b = this.#perEvent.get(event);
          if (!b) this.#perEvent.set(event, (b = new TokenBucket(limit.perSec, limit.burst, now)));
          wait = b.take(now);
        }
      }
      if (wait === 0 && bytes > 0) {
        wait = this.#bytes!.take(now, bytes);
        kind = "bytes";
      }
      if (wait > 0) return this.#rateLimited(kind, wait, ack, now);
    }

    if (event === REFRESH_EVENT) {
      const args = ack ? packet.slice(1, -1) : packet.slice(1);
      this.#deps.refresh(this.#socket, args, ack);
      return;
    }

    const events = this.#events;
    if (events) {
      const spec = events.get(event);
      const max = spec?.maxBytes ?? this.#maxBytes;
      if (bytes > max) return this.#refuse("payload_too_large", ack, "payload_too_large", { limit: "bytes", maxBytes: max });
      const r = this.#deps.validator.checkIn(events, event, packet, 1);
      if (!r.ok) return this.#refuse(r.code, ack, r.code, r.extra);
      const dataArgs = ack ? packet.length - 2 : packet.length - 1;
      if (dataArgs >= 1) packet[1] = r.payload;

      const roomPath = spec?.room;
      if (roomPath !== undefined && this.#deps.authEnabled) {
        const user = (this.#socket.data as { user?: PylonUser }).user;
        const room = valueAt(r.payload, roomPath);
        const verdict = user
          ? this.#deps.authorizer.check(user, "room", String(room))
          : this.#deps.authorizer.check(ANONYMOUS, "room", String(room));
        if (!verdict.ok) {
          this.#deps.audit.denied("room", {
            code: "forbidden",
            address: this.#deps.address(this.#socket),
            namespace: this.#namespace,
            socketId: this.#socket.id,
            ...(user ? { userId: user.id } : {}),
            event,
            reason: verdict.reason,
          });
          ack?.({ error: errorBody("forbidden") });
          return;
        }
      }
    }
    next();
  };

  #takeBytes(): number {
    return this.#deps.wireSizes(this.#socket)?.take(this.#namespace) ?? 0;
  }

  #refuse(metricCode: string, ack: Ack | undefined, code: ErrorCode, extra: Record<string, unknown>): void {
    this.#deps.audit.invalidEvents.inc({ code: metricCode });
    ack?.({ error: errorBody(code, extra) });
  }

  #rateLimited(kind: string, retryAfterMs: number, ack: Ack | undefined, now: number): void {
    this.#deps.audit.rateLimited.inc({ kind });
    ack?.({ error: errorBody("rate_limited", { retryAfterMs }) });
    if (this.#strikes && this.#strikes.take(now) > 0) this.disconnect("rate_limited", kind);
  }

  /** Tells the client why (reserved event pylon:disconnect) and closes the whole connection. */
  disconnect(code: "rate_limited" | "token_expired", detail?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    const user = (this.#socket.data as { user?: PylonUser }).user;
    this.#deps.audit.disconnected(code, {
      code,
      address: this.#deps.address(this.#socket),
      namespace: this.#namespace,
      socketId: this.#socket.id,
      ...(user ? { userId: user.id } : {}),
      ...(detail ? { kind: detail } : {}),
    });
    if (!this.#socket.connected) return;
    this.#socket.emit(DISCONNECT_EVENT, errorBody(code));
    // token expiry ends this namespace's session; abuse ends the whole connection
    this.#socket.disconnect(code === "rate_limited");
  }

  close(): void {
    this.#closed = true;
    this.#perEvent?.clear();
  }
}

const ANONYMOUS: PylonUser = Object.freeze({ id: "", roles: Object.freeze([]), claims: Object.freeze({}) });

import type { Socket } from "socket.io";
import type { PylonConfig } from "../config/index.js";
import { errorBody, type ErrorCode } from "../protocol/errors.js";
import type { SecurityAudit } from "./audit.js";
import type { Authorizer } from "./authz.js";
import type { CompiledEvent, EventValidator } from "./schemas.js";
import { valueAt } from "./schemas.js";
import { wireSizeOf } from "../protocol/parser.js";
import { TokenBucket } from "./token-bucket.js";
import type { PylonUser } from "./user.js";

type SecurityConfig = PylonConfig["security"];

/** Reserved client -> server event: replace the socket's token before it expires (see docs/security.md). */
export const REFRESH_EVENT = "auth:refresh";
/** Reserved server -> client event sent right before a security disconnect: `{ code, message }`. */
export const DISCONNECT_EVENT = "pylon:disconnect";


/** What the guard needs from the module (no back-reference to the module itself). One object shared by every guard. */
export interface GuardDeps {
  readonly config: SecurityConfig;
  readonly audit: SecurityAudit;
  readonly validator: EventValidator;
  readonly authorizer: Authorizer;
  readonly authEnabled: boolean;
  /** True once the module closed: events are refused (counted) from then on. */
  readonly closed: boolean;
  /** Handles auth:refresh (verification lives with the handshake code). */
  refresh(guard: SocketGuard, socket: Socket, args: unknown[], ack: ((res: unknown) => void) | undefined): void;
  address(socket: Socket): string;
}

type Ack = (res: unknown) => void;

const ackOf = (packet: unknown[]): Ack | undefined => {
  const last = packet[packet.length - 1];
  return typeof last === "function" ? (last as Ack) : undefined;
};

/** Rate-limit state of one socket (only when security.rateLimit.enabled). */
interface Limits {
  readonly event: TokenBucket;
  readonly bytes: TokenBucket;
  readonly strikes: TokenBucket;
  perEvent: Map<string, TokenBucket> | undefined;
}

/**
 * The security stage of the inbound event pipeline, per socket: rate limits (events, per event, bytes) -> reserved
 * auth:refresh -> size check -> schema validation -> room authorization -> next middleware (idempotency) -> handler.
 * A refused event never reaches a handler; it gets an error ack when it asked for one and is always counted.
 * Sustained rate-limit abuse disconnects the whole connection (reason rate_limited).
 * Kept small: it lives as long as the connection (shared deps, rate-limit state only when enabled).
 */
export class SocketGuard {
  readonly #socket: Socket;
  readonly #deps: GuardDeps;
  readonly #limits: Limits | undefined;
  /** This namespace's validated events (undefined: the namespace is not validated). */
  readonly #events: ReadonlyMap<string, CompiledEvent> | undefined;
  #closed = false;
  /** Token-expiry timer (armed by the module when the token has an exp). */
  timer: NodeJS.Timeout | undefined = undefined;
  /** Whether the module listens to this socket's disconnect (only once a timer was armed). */
  watched = false;

  constructor(socket: Socket, deps: GuardDeps, now = Date.now()) {
    this.#socket = socket;
    this.#deps = deps;
    this.#events = deps.validator.events(socket.nsp.name);
    const rate = deps.config.rateLimit;
    this.#limits = rate.enabled
      ? {
          event: new TokenBucket(rate.eventsPerSec, rate.eventBurst, now),
          bytes: new TokenBucket(rate.bytesPerSec, rate.byteBurst, now),
          strikes: new TokenBucket(Math.max(rate.disconnectAfter / 10, 0.001), rate.disconnectAfter, now),
          perEvent: undefined,
        }
      : undefined;
  }

  /**
   * Checks one inbound event (the security stage of the event pipeline). True: the event goes on to the handlers;
   * false: it was refused (counted, and answered with an error ack when the client asked for one) or handled here
   * (auth:refresh). `packet[1]` is replaced by the validated payload.
   */
  check(packet: unknown[]): boolean {
    if (this.#closed || this.#deps.closed || !this.#socket.connected) {
      this.#deps.audit.invalidEvents.inc({ code: "after_disconnect" }); // socket.io would drop it too; counted
      return false;
    }
    const event = packet[0];
    const ack = ackOf(packet);
    if (typeof event !== "string") return this.#refuse("invalid_event", ack, "invalid_payload", { path: "/event" });

    const bytes = wireSizeOf(packet); // as received (set by Pylon's decoder)
    const limits = this.#limits;
    if (limits !== undefined) {
      const now = Date.now();
      const rate = this.#deps.config.rateLimit;
      let wait = limits.event.take(now);
      let kind = "event";
      if (wait === 0 && Object.hasOwn(rate.perEvent, event)) {
        const limit = rate.perEvent[event];
        if (limit) {
          limits.perEvent ??= new Map();
          let b = limits.perEvent.get(event);
          if (!b) limits.perEvent.set(event, (b = new TokenBucket(limit.perSec, limit.burst, now)));
          wait = b.take(now);
        }
      }
      if (wait === 0 && bytes > 0) {
        wait = limits.bytes.take(now, bytes);
        kind = "bytes";
      }
      if (wait > 0) return this.#rateLimited(kind, wait, ack, now);
    }

    if (event === REFRESH_EVENT) {
      const args = ack ? packet.slice(1, -1) : packet.slice(1);
      this.#deps.refresh(this, this.#socket, args, ack);
      return false;
    }

    const events = this.#events;
    if (events) {
      const spec = events.get(event);
      const max = spec?.maxBytes ?? this.#deps.config.events.maxBytes;
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
            namespace: this.#socket.nsp.name,
            socketId: this.#socket.id,
            ...(user ? { userId: user.id } : {}),
            event,
            reason: verdict.reason,
          });
          ack?.({ error: errorBody("forbidden") });
          return false;
        }
      }
    }
    return true;
  }

  #refuse(metricCode: string, ack: Ack | undefined, code: ErrorCode, extra: Record<string, unknown>): false {
    this.#deps.audit.invalidEvents.inc({ code: metricCode });
    ack?.({ error: errorBody(code, extra) });
    return false;
  }

  #rateLimited(kind: string, retryAfterMs: number, ack: Ack | undefined, now: number): false {
    this.#deps.audit.rateLimited.inc({ kind });
    ack?.({ error: errorBody("rate_limited", { retryAfterMs }) });
    if (this.#limits && this.#limits.strikes.take(now) > 0) this.disconnect("rate_limited", kind);
    return false;
  }

  /** Tells the client why (reserved event pylon:disconnect) and closes the whole connection. */
  disconnect(code: "rate_limited" | "token_expired", detail?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    const user = (this.#socket.data as { user?: PylonUser }).user;
    this.#deps.audit.disconnected(code, {
      code,
      address: this.#deps.address(this.#socket),
      namespace: this.#socket.nsp.name,
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
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.#limits?.perEvent?.clear();
  }
}

const ANONYMOUS: PylonUser = Object.freeze({ id: "", roles: Object.freeze([]), claims: Object.freeze({}) });

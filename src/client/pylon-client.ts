import { io as connectIo, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import {
  COMMAND_RESULT_EVENT,
  REPLY_STREAM_PREFIX,
  STREAM_EVENTS,
  type CommandAck,
  type CommandOutcome,
  type ErrorAck,
  type LoggedMessage,
  type PositionNotice,
  type ReplayBatch,
  type ResyncNotice,
  type StreamMessage,
  type SubscribeAck,
  type WireError,
} from "../protocol/streams.js";
import { Emitter } from "./emitter.js";
import { memoryPositions, type PositionStore } from "./positions.js";

export interface PylonClientOptions {
  /** Namespace carrying the stream events (server's delivery.namespace). Default "/". */
  namespace?: string;
  /** Passed to socket.io-client (transports, auth, path, extraHeaders...). Reconnection is handled by the SDK. */
  socket?: Partial<ManagerOptions & SocketOptions>;
  /** Where positions are kept (default: memory). Use localStoragePositions() in browsers to resume after a reload. */
  positions?: PositionStore;
  /** Client id used for the reply stream `_reply.<clientId>` (default: random, or the persisted one). */
  clientId?: string;
  /** Reconnect backoff: delay = random(0, min(maxMs, baseMs * 2^attempt)) ("full jitter"). */
  backoff?: { baseMs?: number; maxMs?: number };
  /** How long to wait for an ack before retrying (default 5000 ms). */
  ackTimeoutMs?: number;
  /**
   * How long the namespace handshake (socket.io CONNECT, sent once the transport is open) may take before the SDK
   * drops the attempt and reconnects (default: ackTimeoutMs). socket.io-client itself waits for the answer forever.
   */
  handshakeTimeoutMs?: number;
  /** Connect right away (default true). */
  autoConnect?: boolean;
  /**
   * Access token provider (server security.jwt): called for every (re)connect handshake, and again shortly before the
   * current token expires to renew it in place with the reserved event auth:refresh (docs/security.md).
   */
  getToken?: () => string | Promise<string>;
  /** Renew the token this long before its exp (default 30000 ms). */
  refreshAheadMs?: number;
}

export interface MessageMeta {
  stream: string;
  epoch: string;
  seq: number;
  event: string;
  ts: number;
  /** True when the message came from a replay (resume), false when live. */
  replayed: boolean;
}

export type MessageHandler = (data: unknown, meta: MessageMeta) => void;

export interface SubscribeOptions {
  /** Resume after this seq (default: the persisted position, else live from the head). */
  after?: number;
  /** Epoch `after` belongs to (default: the persisted one). */
  epoch?: string;
}

export interface ClientStats {
  delivered: number;
  duplicates: number;
  gaps: number;
  resyncs: number;
  replayed: number;
  reconnects: number;
  commandRetries: number;
}

export type ClientEvents = {
  connect: () => void;
  disconnect: (reason: string) => void;
  /** A connect attempt failed (transport error, refused handshake, or no answer to it within handshakeTimeoutMs); the SDK retries. */
  connect_error: (error: Error) => void;
  /** Scheduled reconnect (attempt number, delay ms). */
  reconnect_attempt: (attempt: number, delayMs: number) => void;
  /** The stream continued at {epoch, head} without replaying what came before: reload your state. */
  resync: (notice: ResyncNotice) => void;
  /** A hole was detected (expected seq `expected`, got `got`); the SDK asks the server to replay it. */
  gap: (info: { stream: string; expected: number; got: number }) => void;
  /** A (re)subscribe finished; `count` messages came from the log. */
  replayed: (info: { stream: string; count: number; epoch: string; head: number }) => void;
  /** A subscribe was refused (forbidden, invalid) and will not be retried. */
  subscribe_error: (info: { stream: string; error: WireError }) => void;
  /** getToken() failed or the server refused a token refresh (the server disconnects at expiry; the SDK reconnects with a new token). */
  auth_error: (error: WireError) => void;
};

/** Error thrown by command() when the server answered with an error outcome or the deadline passed. */
export class PylonClientError extends Error {
  readonly code: string;
  readonly data: WireError;
  constructor(error: WireError) {
    super(error.message);
    this.name = "PylonClientError";
    this.code = error.code;
    this.data = error;
  }
}

interface SubState {
  handler: MessageHandler;
  epoch: string | undefined;
  last: number | undefined;
  /** Generation of the subscribe request in flight (0: none). */
  pending: number;
  gen: number;
  internal: boolean;
}

export interface CommandOptions {
  /** Idempotency key (default: generated). Reuse it to retry the same command across page reloads. */
  key?: string;
  /** Give up after this long (default 30 s). */
  deadlineMs?: number;
}

/**
 * The Pylon client SDK over socket.io-client: ordered streams with exactly-once, in-order delivery to the handler
 * (dedupe by seq, gap detection -> replay, resume on reconnect and after reload with persisted positions), and
 * idempotent commands retried until they have a result or the deadline passes.
 */
export class PylonClient extends Emitter<ClientEvents> {
  readonly socket: Socket;
  readonly clientId: string;
  readonly stats: ClientStats = { delivered: 0, duplicates: 0, gaps: 0, resyncs: 0, replayed: 0, reconnects: 0, commandRetries: 0 };
  readonly #subs = new Map<string, SubState>();
  readonly #positions: PositionStore;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #ackTimeoutMs: number;
  readonly #outcomeWaiters = new Map<string, (o: CommandOutcome | undefined) => void>();
  readonly #connectWaiters = new Set<() => void>();
  /** Pending command pauses (backoff, outcome waits): woken early by a (re)connect and by close(), never dropped. */
  readonly #wakers = new Set<() => void>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #attempt = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Armed while a namespace handshake is unanswered (see handshakeTimeoutMs). */
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #handshakeTimeoutMs: number;
  #closed = false;
  #everConnected = false;
  readonly #getToken: (() => string | Promise<string>) | undefined;
  readonly #refreshAheadMs: number;
  #token: string | undefined;
  #refreshGen = 0;

  constructor(url: string, opts: PylonClientOptions = {}) {
    super();
    this.#positions = opts.positions ?? memoryPositions();
    this.#baseMs = opts.backoff?.baseMs ?? 300;
    this.#maxMs = opts.backoff?.maxMs ?? 10_000;
    this.#ackTimeoutMs = opts.ackTimeoutMs ?? 5000;
    this.#handshakeTimeoutMs = opts.handshakeTimeoutMs ?? this.#ackTimeoutMs;
    this.clientId = opts.clientId ?? randomId();
    this.#getToken = opts.getToken;
    this.#refreshAheadMs = opts.refreshAheadMs ?? 30_000;
    const ns = opts.namespace ?? "/";
    const base = url.replace(/\/$/, "");
    const auth = opts.getToken ? { auth: (cb: (data: object) => void) => this.#authPayload(cb) } : {};
    this.socket = connectIo(ns === "/" ? base : base + ns, { ...opts.socket, ...auth, reconnection: false, autoConnect: false });
    if (opts.getToken) this.socket.on("connect", () => this.#armRefresh());
    this.socket.on("connect", () => this.#onConnect());
    this.socket.on("disconnect", (reason) => {
      this.#clearHandshake();
      this.emit("disconnect", reason);
      if (reason !== "io client disconnect") this.#scheduleReconnect();
    });
    this.socket.on("connect_error", (err: Error) => {
      this.#clearHandshake();
      this.emit("connect_error", err);
      this.#scheduleReconnect();
    });
    // the transport is open: socket.io sends the namespace CONNECT now; its answer can be lost with the transport
    // (e.g. a long-poll response cut by a dying proxy hop) while the engine itself stays up
    this.socket.io.on("open", () => this.#armHandshake());
    this.socket.on(STREAM_EVENTS.message, (m: StreamMessage) => this.#onMessages(m.stream, m.epoch, [m], false));
    this.socket.on(STREAM_EVENTS.batch, (b: ReplayBatch) => this.#onMessages(b.stream, b.epoch, b.messages, true));
    this.socket.on(STREAM_EVENTS.resync, (n: ResyncNotice) => this.#onResync(n));
    this.socket.on(STREAM_EVENTS.position, (p: PositionNotice) => this.#onPosition(p));
    if (opts.autoConnect !== false) this.#connectNow();
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  connect(): void {
    this.#closed = false;
    if (!this.socket.connected) this.#connectNow();
  }

  /** One connect attempt (cancels a scheduled one: never two namespace handshakes at once). */
  #connectNow(): void {
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.socket.connect();
    // a transport already open (shared manager) does not emit "open" again: the CONNECT went out now
    if ((this.socket.io as unknown as { _readyState?: string })._readyState === "open") this.#armHandshake();
  }

  #armHandshake(): void {
    this.#clearHandshake();
    if (this.#closed || this.socket.connected) return;
    this.#handshakeTimer = setTimeout(() => {
      this.#handshakeTimer = undefined;
      if (this.#closed || this.socket.connected) return;
      // no answer to the namespace CONNECT: drop this attempt (closes the transport unless another namespace uses
      // it) and reconnect with backoff
      this.socket.disconnect();
      this.emit("connect_error", new Error(`handshake timeout: no answer to the namespace CONNECT within ${this.#handshakeTimeoutMs} ms`));
      this.#scheduleReconnect();
    }, this.#handshakeTimeoutMs);
  }

  #clearHandshake(): void {
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
  }

  /** Subscribes `handler` to a stream; returns a function that unsubscribes. */
  subscribe(stream: string, handler: MessageHandler, opts: SubscribeOptions = {}): () => void {
    return this.#subscribe(stream, handler, opts, false);
  }

  #subscribe(stream: string, handler: MessageHandler, opts: SubscribeOptions, internal: boolean): () => void {
    if (this.#subs.has(stream)) throw new Error(`already subscribed to ${stream}`);
    const saved = internal ? undefined : this.#positions.get(stream);
    const st: SubState = {
      handler,
      epoch: opts.epoch ?? (opts.after !== undefined ? undefined : saved?.epoch),
      last: opts.after ?? saved?.seq,
      pending: 0,
      gen: 0,
      internal,
    };
    this.#subs.set(stream, st);
    if (this.socket.connected) this.#sendSubscribe(stream, st);
    return () => {
      if (this.#subs.get(stream) !== st) return;
      this.#subs.delete(stream);
      if (this.socket.connected) this.socket.emit(STREAM_EVENTS.unsubscribe, { stream }, () => {});
    };
  }

  /** The position the SDK has handled for a stream. */
  position(stream: string): { epoch: string | undefined; seq: number | undefined } {
    const st = this.#subs.get(stream);
    return { epoch: st?.epoch, seq: st?.last };
  }

  #sendSubscribe(stream: string, st: SubState): void {
    const gen = ++st.gen;
    st.pending = gen;
    const req: { stream: string; epoch?: string; after?: number } = { stream };
    if (st.last !== undefined) {
      req.after = st.last;
      if (st.epoch !== undefined) req.epoch = st.epoch;
    }
    this.socket.timeout(this.#ackTimeoutMs).emit(STREAM_EVENTS.subscribe, req, (err: Error | null, ack: SubscribeAck) => {
      if (this.#subs.get(stream) !== st || st.gen !== gen) return;
      st.pending = 0;
      if (err) {
        // no ack in time: ask again if still connected (a reconnect resubscribes anyway)
        if (this.socket.connected) this.#later(() => this.#subs.get(stream) === st && this.socket.connected && this.#sendSubscribe(stream, st), this.#jitter(1));
        return;
      }
      if (!ack.ok) {
        const e = (ack as ErrorAck).error;
        if (e.code === "log_unavailable" || e.code === "internal_error" || e.code === "rate_limited") {
          this.#later(() => this.#subs.get(stream) === st && this.socket.connected && this.#sendSubscribe(stream, st), this.#jitter(2));
        } else {
          this.#subs.delete(stream);
          this.emit("subscribe_error", { stream, error: e });
        }
        return;
      }
      if (st.last === undefined || st.epoch !== ack.epoch) {
        st.epoch = ack.epoch;
        st.last = ack.head;
        this.#save(stream, st);
      } else if (st.last < ack.head) {
        this.#gap(stream, st, st.last + 1, ack.head);
        return;
      }
      this.emit("replayed", { stream, count: ack.replayed, epoch: ack.epoch, head: ack.head });
    });
  }

  #onMessages(stream: string, epoch: string, messages: LoggedMessage[], replayed: boolean): void {
    const st = this.#subs.get(stream);
    if (!st || st.last === undefined) return;
    if (st.epoch !== undefined && epoch !== st.epoch) {
      // a message of another epoch without a resync first: ask the server (it answers with a resync)
      this.#gap(stream, st, st.last + 1, messages[0]?.seq ?? 0);
      return;
    }
    st.epoch = epoch;
    for (const m of messages) {
      if (m.seq <= st.last) {
        this.stats.duplicates++;
        continue;
      }
      if (m.seq !== st.last + 1) {
        this.#gap(stream, st, st.last + 1, m.seq);
        return;
      }
      st.last = m.seq;
      this.stats.delivered++;
      if (replayed) this.stats.replayed++;
      this.#save(stream, st);
      try {
        st.handler(m.data, { stream, epoch, seq: m.seq, event: m.event, ts: m.ts, replayed });
      } catch (err) {
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }

  #gap(stream: string, st: SubState, expected: number, got: number): void {
    if (st.pending) return; // a (re)subscribe is in flight: its replay covers the hole
    this.stats.gaps++;
    this.emit("gap", { stream, expected, got });
    if (this.socket.connected) this.#sendSubscribe(stream, st);
  }

  #onResync(n: ResyncNotice): void {
    const st = this.#subs.get(n.stream);
    if (!st) return;
    st.epoch = n.epoch;
    st.last = n.head;
    this.stats.resyncs++;
    this.#save(n.stream, st);
    this.emit("resync", n);
  }

  #onPosition(p: PositionNotice): void {
    const st = this.#subs.get(p.stream);
    if (!st || st.last === undefined || st.pending) return;
    if (p.epoch !== st.epoch || p.head > st.last) this.#gap(p.stream, st, st.last + 1, p.head);
  }

  #save(stream: string, st: SubState): void {
    // the reply stream belongs to this client instance only: its position is not persisted
    if (st.internal) return;
    if (st.epoch !== undefined && st.last !== undefined) this.#positions.set(stream, { epoch: st.epoch, seq: st.last });
  }

  #onConnect(): void {
    this.#clearHandshake();
    if (this.#everConnected) this.stats.reconnects++;
    this.#everConnected = true;
    this.#attempt = 0;
    for (const [stream, st] of this.#subs) this.#sendSubscribe(stream, st);
    for (const w of [...this.#connectWaiters]) w();
    this.#connectWaiters.clear();
    // commands waiting out a backoff or an outcome retry now on the new connection (a retry returns the stored outcome)
    this.#wake();
    this.emit("connect");
  }

  #jitter(attempt: number): number {
    return Math.random() * Math.min(this.#maxMs, this.#baseMs * 2 ** attempt);
  }

  #later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer) return;
    const delay = this.#jitter(this.#attempt++);
    this.emit("reconnect_attempt", this.#attempt, delay);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (!this.#closed && !this.socket.connected) this.#connectNow();
    }, delay);
  }

  #waitConnected(ms: number): Promise<boolean> {
    if (this.socket.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.#connectWaiters.delete(done);
        resolve(this.socket.connected);
      };
      const t = setTimeout(done, Math.max(0, ms));
      this.#connectWaiters.add(done);
    });
  }

  /**
   * Sends a command with an idempotency key and retries (across reconnects, with backoff) until it has an outcome
   * or the deadline passes. Resolves with the result; rejects with PylonClientError on an error outcome.
   */
  async command(name: string, payload?: unknown, opts: CommandOptions = {}): Promise<unknown> {
    const key = opts.key ?? randomId();
    const deadline = Date.now() + (opts.deadlineMs ?? 30_000);
    const replyTo = REPLY_STREAM_PREFIX + this.clientId;
    if (!this.#subs.has(replyTo)) this.#subscribe(replyTo, (data, meta) => this.#onReply(data, meta), {}, true);
    let attempt = 0;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new PylonClientError({ code: "deadline_exceeded", message: `command ${name} had no result within its deadline`, key });
      if (attempt > 0) this.stats.commandRetries++;
      attempt++;
      if (!(await this.#waitConnected(left))) continue;
      let ack: CommandAck | ErrorAck;
      try {
        ack = (await this.socket.timeout(Math.min(this.#ackTimeoutMs, Math.max(1, deadline - Date.now()))).emitWithAck(STREAM_EVENTS.command, { name, key, payload, replyTo })) as CommandAck | ErrorAck;
      } catch {
        // disconnected before the ack (the ack is lost with the transport): retry as soon as the client reconnects;
        // no ack in time on a live connection: back off, but retry at once if the client reconnects meanwhile
        if (this.socket.connected) await this.#pause(Math.min(this.#jitter(attempt), deadline - Date.now()));
        continue;
      }
      if ("ok" in ack && ack.ok === false) {
        const code = ack.error.code;
        if (code !== "log_unavailable" && code !== "internal_error" && code !== "rate_limited") throw new PylonClientError(ack.error);
        await this.#pause(Math.min(this.#jitter(attempt), deadline - Date.now()));
        continue;
      }
      const a = ack as CommandAck;
      if (a.status === "ok") return a.result;
      if (a.status === "error") throw new PylonClientError(a.error);
      // accepted: the outcome comes on the reply stream; a retry also returns it once it is known
      const outcome = await this.#waitOutcome(key, Math.min(deadline - Date.now(), this.#jitter(attempt) + this.#ackTimeoutMs));
      if (outcome?.status === "ok") return outcome.result;
      if (outcome?.status === "error") throw new PylonClientError(outcome.error);
    }
  }

  #onReply(data: unknown, meta: MessageMeta): void {
    if (meta.event !== COMMAND_RESULT_EVENT) return;
    const o = data as CommandOutcome;
    this.#outcomeWaiters.get(o.key)?.(o);
  }

  /** Waits for the outcome on the reply stream, at most `ms`; undefined when the wait ended first (timeout, reconnect, close). */
  #waitOutcome(key: string, ms: number): Promise<CommandOutcome | undefined> {
    return new Promise((resolve) => {
      const waiter = (o: CommandOutcome | undefined): void => {
        clearTimeout(t);
        this.#wakers.delete(wake);
        if (this.#outcomeWaiters.get(key) === waiter) this.#outcomeWaiters.delete(key);
        resolve(o);
      };
      const wake = (): void => waiter(undefined);
      const t = setTimeout(wake, Math.max(0, ms));
      // a concurrent command() with the same key on this client ends its wait too: both retry and get the outcome
      this.#outcomeWaiters.get(key)?.(undefined);
      this.#outcomeWaiters.set(key, waiter);
      this.#wakers.add(wake);
    });
  }

  /** Waits `ms`, or less when the client (re)connects or is closed. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(t);
        this.#wakers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, Math.max(0, ms));
      this.#wakers.add(wake);
    });
  }

  #wake(): void {
    for (const w of [...this.#wakers]) w();
  }

  #authPayload(cb: (data: object) => void): void {
    Promise.resolve()
      .then(() => this.#getToken!())
      .then(
        (token) => {
          this.#token = token;
          cb({ token });
        },
        (err: unknown) => {
          this.emit("auth_error", { code: "token_missing", message: String((err as Error)?.message ?? err) });
          cb({});
        },
      );
  }

  /** Schedules the next auth:refresh refreshAheadMs before the current token's exp. */
  #armRefresh(): void {
    const gen = ++this.#refreshGen;
    const exp = tokenExp(this.#token);
    if (exp === undefined) return;
    const ms = Math.max(0, exp * 1000 - Date.now() - this.#refreshAheadMs);
    this.#later(() => {
      if (gen === this.#refreshGen && this.socket.connected) void this.refreshToken();
    }, ms);
  }

  /** Gets a new token from getToken() and sends it with auth:refresh; resolves true when the server accepted it. */
  async refreshToken(): Promise<boolean> {
    if (!this.#getToken || !this.socket.connected) return false;
    try {
      const token = await this.#getToken();
      const res = (await this.socket.timeout(this.#ackTimeoutMs).emitWithAck("auth:refresh", { token })) as { ok?: boolean; error?: WireError };
      if (res?.ok) {
        this.#token = token;
        this.#armRefresh();
        return true;
      }
      this.emit("auth_error", res?.error ?? { code: "internal_error", message: "invalid refresh answer" });
    } catch (err) {
      this.emit("auth_error", { code: "internal_error", message: String((err as Error)?.message ?? err) });
    }
    return false;
  }

  /** Disconnects and stops reconnecting; subscriptions and positions stay (connect() resumes them). */
  close(): void {
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#clearHandshake();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    // pending command pauses end now (their timers must not be dropped, or command() would never settle): the loops
    // then wait for connect() or their deadline
    this.#wake();
    this.socket.disconnect();
  }
}

/** The `exp` claim of a JWT, read without verification (the server verifies); undefined when absent or unreadable. */
function tokenExp(token: string | undefined): number | undefined {
  const part = token?.split(".")[1];
  if (!part) return undefined;
  try {
    const claims = JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))) as { exp?: unknown };
    return typeof claims.exp === "number" ? claims.exp : undefined;
  } catch {
    return undefined;
  }
}

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  let s = "";
  for (let i = 0; i < 32; i++) s += Math.floor(Math.random() * 16).toString(16);
  return s;
}

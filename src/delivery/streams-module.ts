import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Namespace, Socket } from "socket.io";
import type { Counter, Gauge, Histogram } from "prom-client";
import type { PylonConfig } from "../config/index.js";
import { readFile } from "node:fs/promises";
import { errorBody, PylonError, type ErrorCode } from "../protocol/errors.js";
import {
  COMMAND_RESULT_EVENT,
  RESERVED_PREFIX,
  STREAM_EVENTS,
  STREAM_NAME_RE,
  type CommandOutcome,
  type LoggedMessage,
  type ResyncReason,
  type SubscribeAck,
  type SubscribeRequest,
} from "../protocol/streams.js";
import { sendJson } from "../server/http-router.js";
import type { PylonContext, PylonModule } from "../server/module.js";
import { CommandRouter, type CommandHandler, type CommandOptions } from "./commands.js";
import { MemoryCommandQueue, RedisCommandQueue, type CommandQueue } from "./command-queue.js";
import { MemoryIdempotencyStore, RedisIdempotencyStore, type IdempotencyStore } from "./idempotency.js";
import { retentionFor, type Retention, type StreamLog } from "./log.js";
import { MemoryLog } from "./memory-log.js";
import { RedisLog } from "./redis-log.js";
import { StreamHub } from "./stream-hub.js";

/** Decides whether a socket may subscribe to a stream (the security module plugs in here). */
export type AuthorizeSubscribe = (socket: Socket, stream: string) => boolean | Promise<boolean>;
/** Decides whether an HTTP request may read (replay) or publish to a stream. */
export type AuthorizeHttp = (req: IncomingMessage, stream: string, action: "read" | "publish") => boolean | Promise<boolean>;
/** Decides whether a socket may run a command. */
export type AuthorizeCommand = (socket: Socket | undefined, name: string) => boolean | Promise<boolean>;

export interface StreamsHooks {
  authorizeSubscribe?: AuthorizeSubscribe | undefined;
  authorizeHttp?: AuthorizeHttp | undefined;
  authorizeCommand?: AuthorizeCommand | undefined;
}

export interface StreamsModuleOptions extends StreamsHooks {
  /** Use this log instead of the configured one (tests, embedding). */
  log?: StreamLog;
  /** Use this idempotency store instead of the configured one. */
  store?: IdempotencyStore;
  /**
   * Serve the streams demo (GET /streams, the browser SDK at /vendor/pylon-client.js) from this web root and register
   * the demo command `demo.say` ({text} -> publishes `said` on stream `demo.chat`).
   */
  demoWebRoot?: URL;
}

export interface PublishOptions {
  /** Publish id: a publish retried with the same id is appended once (within delivery.publishIdTtlMs). */
  id?: string;
}

/** What `pylon.stream(name)` returns. */
export interface StreamHandle {
  readonly name: string;
  /** Appends {seq, event, data, ts} to the stream's log and delivers it to every subscriber; resolves with its position. */
  publish(event: string, data: unknown, opts?: PublishOptions): Promise<{ epoch: string; seq: number; duplicate: boolean }>;
  /** Messages after `after` (exclusive), up to `limit`, plus epoch/head/oldest. */
  read(after: number, limit: number): ReturnType<StreamLog["read"]>;
  head(): Promise<{ epoch: string; head: number }>;
}

interface Sub {
  gen: number;
  joined: boolean;
}

const room = (stream: string): string => `${RESERVED_PREFIX}s:${stream}`;
const EVENT_RE = /^[A-Za-z0-9_:.-]{1,64}$/;

/**
 * Ordered streams with replay, resume and idempotent commands (issue 5). Publish -> log (seq, epoch) -> feed ->
 * per-node StreamHub -> room broadcast. Subscribers replay (after, nodeHead] from the log and join the room at the
 * exact moment they are level with the hub, so the seam has neither gap nor duplicate.
 */
export class StreamsModule implements PylonModule {
  readonly name = "delivery";
  readonly hooks: StreamsHooks;
  readonly #opts: StreamsModuleOptions;
  #ctx!: PylonContext;
  #config!: PylonConfig["delivery"];
  #log!: StreamLog;
  #store!: IdempotencyStore;
  #queue!: CommandQueue;
  #nsp!: Namespace;
  readonly #commands = new CommandRouter();
  readonly #hubs = new Map<string, StreamHub>();
  readonly #subs = new Map<string, Map<string, Sub>>();
  readonly #retentionCache = new Map<string, Retention>();
  readonly #disposers: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #lastErrorLog = 0;
  #warnedHttp = false;
  #m!: {
    published: Counter<string>;
    live: Counter<string>;
    replayed: Counter<string>;
    resyncs: Counter<"reason">;
    repaired: Counter<string>;
    duplicates: Counter<string>;
    subscriptions: Gauge<string>;
    lag: Histogram<string>;
    lagMax: Gauge<string>;
    errors: Counter<"code">;
    commands: Counter<"outcome">;
  };

  constructor(options: StreamsModuleOptions = {}) {
    this.#opts = options;
    this.hooks = { authorizeSubscribe: options.authorizeSubscribe, authorizeHttp: options.authorizeHttp, authorizeCommand: options.authorizeCommand };
  }

  /** The log in use (memory or redis). */
  get log(): StreamLog {
    return this.#log;
  }

  setup(ctx: PylonContext): void {
    this.#ctx = ctx;
    const cfg = (this.#config = ctx.config.delivery);
    const redisUrl = ctx.config.cluster.redisUrl;
    const useRedisLog = cfg.log === "redis" || (cfg.log === "auto" && redisUrl !== "");
    const useRedisStore = cfg.commands.store === "redis" || (cfg.commands.store === "auto" && redisUrl !== "");
    if ((useRedisLog || useRedisStore) && redisUrl === "") throw new Error("delivery: log/commands.store \"redis\" needs cluster.redisUrl");
    const retention = (stream: string): Retention => {
      const c = this.#config;
      return retentionFor(stream, { maxCount: c.maxCount, maxAgeMs: c.maxAgeMs, maxBytes: c.maxBytes }, c.retention, this.#retentionCache);
    };
    const connectionName = `pylon-${ctx.nodeId}`;
    const onRedisError = (err: Error, connection: string): void => this.#error(err, `redis ${connection}`);
    this.#log =
      this.#opts.log ??
      (useRedisLog
        ? new RedisLog({ redisUrl, keyPrefix: cfg.keyPrefix, retention, publishIdTtlMs: cfg.publishIdTtlMs, connectionName, onError: onRedisError })
        : new MemoryLog({ retention, publishIdTtlMs: cfg.publishIdTtlMs }));
    this.#store =
      this.#opts.store ??
      (useRedisStore
        ? new RedisIdempotencyStore({ redisUrl, keyPrefix: cfg.keyPrefix, connectionName, onError: (err) => onRedisError(err, "commands") })
        : new MemoryIdempotencyStore(cfg.commands.maxEntries));

    this.#queue = useRedisStore
      ? new RedisCommandQueue({
          redisUrl,
          keyPrefix: cfg.keyPrefix,
          group: cfg.commands.queueGroup,
          consumer: ctx.nodeId,
          connectionName,
          claimIdleMs: cfg.commands.claimIdleMs,
          onError: (err) => onRedisError(err, "command queue"),
        })
      : new MemoryCommandQueue();

    const m = ctx.metrics;
    this.#m = {
      published: m.counter({ name: "stream_published_total", help: "Messages appended to stream logs by this node" }),
      live: m.counter({ name: "stream_live_messages_total", help: "Messages this node delivered live to its stream rooms (once per message, not per socket)" }),
      replayed: m.counter({ name: "stream_replayed_messages_total", help: "Messages sent to subscribers from the log on subscribe/resume" }),
      resyncs: m.counter({ name: "stream_resyncs_total", help: "Resync notices sent (position could not be continued without a hole), by reason", labelNames: ["reason"] }),
      repaired: m.counter({ name: "stream_repaired_messages_total", help: "Messages the live feed missed and this node filled in from the log" }),
      duplicates: m.counter({ name: "stream_feed_duplicates_total", help: "Feed messages dropped because this node had already delivered them" }),
      subscriptions: m.gauge({ name: "stream_subscriptions", help: "Stream subscriptions held by sockets on this node" }),
      lag: m.histogram({
        name: "stream_subscriber_lag",
        help: "At each position check, per stream with live subscribers on this node: messages the log head was ahead of what they had been sent (before repair)",
        buckets: [0, 1, 2, 5, 10, 50, 100, 1000, 10_000],
      }),
      lagMax: m.gauge({ name: "stream_subscriber_lag_max", help: "Largest stream_subscriber_lag of the latest position-check round on this node (0 without live subscribers)" }),
      errors: m.counter({ name: "stream_errors_total", help: "Refused stream requests and backend errors, by error code", labelNames: ["code"] }),
      commands: m.counter({ name: "commands_total", help: "Commands by outcome (ok, error, accepted, replayed, running, rejected)", labelNames: ["outcome"] }),
    };

    this.#commands.bind({
      store: this.#store,
      ttlMs: cfg.commands.ttlMs,
      leaseMs: cfg.commands.leaseMs,
      queue: this.#queue,
      queueLeaseMs: cfg.commands.queueLeaseMs,
      reply: (stream, outcome: CommandOutcome) => this.stream(stream).publish(COMMAND_RESULT_EVENT, outcome, { id: `r-${outcome.key}` }),
      count: (outcome) => this.#m.commands.inc({ outcome }),
      authorize: (socket, name) => (this.hooks.authorizeCommand ? this.hooks.authorizeCommand(socket, name) : true),
      onError: (err, name) => this.#error(err, `command ${name}`),
    });

    if (!ctx.config.namespaces.some((n) => n.name === cfg.namespace)) {
      ctx.logger.warn({ namespace: cfg.namespace }, "delivery.namespace is not a declared namespace: clients cannot connect to it");
    }
    this.#nsp = ctx.io.of(cfg.namespace);
    const onConnection = (socket: Socket): void => this.#onConnection(socket);
    this.#nsp.on("connection", onConnection);
    this.#disposers.push(() => this.#nsp.off("connection", onConnection));
    this.#disposers.push(this.#log.watch((msg) => this.#hubs.get(msg.stream)?.push(msg)));
    this.#disposers.push(this.#log.onFeedGap(() => this.#checkAll(false)));
    this.#disposers.push(ctx.routes.add("GET", "/api/streams/*", (req, res, url) => this.#httpRead(req, res, url)));
    if (cfg.httpPublish) this.#disposers.push(ctx.routes.add("POST", "/api/streams/*", (req, res, url) => this.#httpPublish(req, res, url)));
    ctx.health.addCheck("delivery-log", () => ({ ok: this.#log.healthy(), detail: this.#log.kind }));
    if (this.#opts.demoWebRoot) this.#setupDemo(ctx, this.#opts.demoWebRoot);
  }

  #setupDemo(ctx: PylonContext, webRoot: URL): void {
    const files: [string, string, string][] = [
      ["/streams", "streams.html", "text/html; charset=utf-8"],
      ["/vendor/pylon-client.js", "vendor/pylon-client.js", "text/javascript; charset=utf-8"],
      ["/vendor/pylon-client.js.map", "vendor/pylon-client.js.map", "application/json"],
    ];
    for (const [path, file, type] of files) {
      this.#disposers.push(
        ctx.routes.add("GET", path, async (_req, res) => {
          let body: Buffer;
          try {
            body = await readFile(new URL(file, webRoot));
          } catch {
            return sendJson(res, 404, { error: { code: "not_found", message: `${file} is missing (run npm run build)` } });
          }
          res.writeHead(200, { "content-type": type, "cache-control": "no-cache" });
          res.end(body);
        }),
      );
    }
    this.#disposers.push(
      this.command("demo.say", async (payload) => {
        const text = (payload as { text?: unknown } | null)?.text;
        if (typeof text !== "string" || text.length === 0 || text.length > 500) throw new PylonError("invalid_payload", { path: "text" });
        return this.stream("demo.chat").publish("said", { text });
      }),
    );
  }

  async start(): Promise<void> {
    if (this.#log instanceof RedisLog) await this.#log.ready();
    this.#commands.startWorker();
    this.#armPositionCheck();
  }

  #armPositionCheck(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#closed || this.#config.positionCheckMs <= 0) return;
    this.#timer = setInterval(() => this.#checkAll(true), this.#config.positionCheckMs);
    this.#timer.unref();
  }

  /**
   * SIGHUP: retention (count/age/bytes and rules), replay limits, position-check interval, HTTP limits apply at once.
   * The log/store backends, namespace and key prefix need a restart.
   */
  reload(config: PylonConfig): void {
    const prev = this.#config;
    this.#config = config.delivery;
    this.#retentionCache.clear();
    if (prev.positionCheckMs !== this.#config.positionCheckMs && this.#timer !== undefined) this.#armPositionCheck();
  }

  /** A handle to publish to / read from a stream. */
  stream(name: string): StreamHandle {
    if (typeof name !== "string" || !STREAM_NAME_RE.test(name)) throw new Error(`invalid stream name ${JSON.stringify(name)}: must match ${STREAM_NAME_RE}`);
    return {
      name,
      publish: (event, data, opts) => this.#publish(name, event, data, opts),
      read: (after, limit) => this.#log.read(name, after, limit),
      head: () => this.#log.head(name),
    };
  }

  /** Registers the handler of a command (`{ queued: true }`: persisted to the command queue first); returns a disposer. */
  command(name: string, handler: CommandHandler, opts: CommandOptions = {}): () => void {
    return this.#commands.register(name, handler, opts);
  }

  async #publish(stream: string, event: string, data: unknown, opts: PublishOptions = {}): Promise<{ epoch: string; seq: number; duplicate: boolean }> {
    if (this.#closed) throw new Error("delivery module is closed");
    if (typeof event !== "string" || !EVENT_RE.test(event)) throw new Error(`invalid event name ${JSON.stringify(event)}: must match ${EVENT_RE}`);
    const dataJson = JSON.stringify(data === undefined ? null : data);
    if (dataJson.length > this.#config.maxMessageBytes) throw new Error(`stream message data is ${dataJson.length} bytes, over delivery.maxMessageBytes`);
    const id = opts.id ?? randomUUID();
    const ts = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await this.#log.append(stream, { event, dataJson, ts, id });
        if (!r.duplicate) this.#m.published.inc();
        return r;
      } catch (err) {
        // the append is idempotent by id: retrying after a lost connection never appends twice
        if (attempt >= 3 || this.#closed) {
          this.#m.errors.inc({ code: "log_unavailable" });
          throw err;
        }
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  #hub(stream: string): StreamHub {
    let hub = this.#hubs.get(stream);
    if (!hub) {
      hub = new StreamHub(
        stream,
        this.#log,
        {
          live: (msg) => {
            this.#m.live.inc();
            this.#nsp.local.to(room(stream)).emit(STREAM_EVENTS.message, msg);
          },
          resync: (epoch, head, reason) => {
            this.#m.resyncs.inc({ reason });
            this.#nsp.local.to(room(stream)).emit(STREAM_EVENTS.resync, { stream, epoch, head, reason });
          },
          position: (epoch, head) => this.#nsp.local.to(room(stream)).emit(STREAM_EVENTS.position, { stream, epoch, head }),
          lag: (behind) => this.#m.lag.observe(behind),
          duplicate: () => this.#m.duplicates.inc(),
          repaired: (n) => this.#m.repaired.inc(n),
          error: (err) => this.#error(err, `stream hub ${stream}`),
        },
        this.#config.replayBatch,
      );
      hub.ready.catch((err: unknown) => this.#error(err, `stream hub ${stream}`));
      this.#hubs.set(stream, hub);
    }
    return hub;
  }

  #release(stream: string): void {
    const hub = this.#hubs.get(stream);
    if (!hub) return;
    hub.subscribers--;
    this.#m.subscriptions.dec();
    if (hub.subscribers <= 0) {
      hub.close();
      this.#hubs.delete(stream);
    }
  }

  #checkAll(notify: boolean): void {
    const hubs = [...this.#hubs.values()];
    void Promise.all(hubs.map((hub) => hub.check(notify))).then(() => {
      if (!this.#closed) this.#m.lagMax.set(hubs.reduce((max, hub) => (hub.subscribers > 0 ? Math.max(max, hub.lastLag) : max), 0));
    });
  }

  #onConnection(socket: Socket): void {
    socket.on(STREAM_EVENTS.subscribe, (req: unknown, ack: unknown) => {
      const reply = typeof ack === "function" ? (ack as (a: SubscribeAck) => void) : () => {};
      this.#subscribe(socket, req, reply).catch((err: unknown) => {
        this.#error(err, "subscribe");
        reply({ ok: false, error: errorBody("log_unavailable") });
      });
    });
    socket.on(STREAM_EVENTS.unsubscribe, (req: unknown, ack: unknown) => {
      const reply = typeof ack === "function" ? (ack as (a: unknown) => void) : () => {};
      const stream = (req as { stream?: unknown } | null)?.stream;
      if (typeof stream !== "string" || !STREAM_NAME_RE.test(stream)) return reply(this.#refuse("invalid_stream"));
      const subs = this.#subs.get(socket.id);
      const sub = subs?.get(stream);
      if (sub) {
        sub.gen++;
        subs!.delete(stream);
        void socket.leave(room(stream));
        this.#release(stream);
      }
      reply({ ok: true });
    });
    socket.on(STREAM_EVENTS.command, (req: unknown, ack: unknown) => {
      const reply = typeof ack === "function" ? (ack as (a: unknown) => void) : () => {};
      void this.#commands.handle(req, socket, reply);
    });
    socket.once("disconnect", () => {
      const subs = this.#subs.get(socket.id);
      if (!subs) return;
      this.#subs.delete(socket.id);
      for (const [stream, sub] of subs) {
        sub.gen++;
        this.#release(stream);
      }
    });
  }

  #refuse(code: ErrorCode, extra: Record<string, unknown> = {}): { ok: false; error: ReturnType<typeof errorBody> } {
    this.#m.errors.inc({ code });
    return { ok: false, error: errorBody(code, extra) };
  }

  async #subscribe(socket: Socket, raw: unknown, reply: (a: SubscribeAck) => void): Promise<void> {
    const req = raw as Partial<SubscribeRequest> | null;
    if (!req || typeof req !== "object" || typeof req.stream !== "string" || !STREAM_NAME_RE.test(req.stream)) return reply(this.#refuse("invalid_stream"));
    if (req.after !== undefined && (typeof req.after !== "number" || !Number.isSafeInteger(req.after) || req.after < 0)) {
      return reply(this.#refuse("invalid_payload", { path: "after" }));
    }
    if (req.epoch !== undefined && typeof req.epoch !== "string") return reply(this.#refuse("invalid_payload", { path: "epoch" }));
    const stream = req.stream;
    if (this.hooks.authorizeSubscribe && !(await this.hooks.authorizeSubscribe(socket, stream))) return reply(this.#refuse("subscribe_forbidden", { stream }));
    if (socket.disconnected) return;
    let subs = this.#subs.get(socket.id);
    if (!subs) this.#subs.set(socket.id, (subs = new Map()));
    let sub = subs.get(stream);
    if (!sub) {
      if (subs.size >= this.#config.maxStreamsPerSocket) return reply(this.#refuse("invalid_payload", { path: "stream", reason: "too many streams" }));
      sub = { gen: 0, joined: false };
      subs.set(stream, sub);
      this.#m.subscriptions.inc();
      this.#hub(stream).subscribers++;
    }
    const gen = ++sub.gen;
    if (sub.joined) {
      sub.joined = false;
      void socket.leave(room(stream));
    }
    const hub = this.#hubs.get(stream)!;
    try {
      await hub.ready;
    } catch (err) {
      if (subs.get(stream) === sub) {
        subs.delete(stream);
        this.#release(stream);
      }
      throw err;
    }
    const stale = (): boolean => sub.gen !== gen || socket.disconnected;
    if (stale()) return;

    const epoch = hub.epoch;
    let sent = hub.nodeHead;
    let resync: ResyncReason | undefined;
    let replayed = 0;
    if (req.after !== undefined) {
      if (req.epoch !== undefined && req.epoch !== epoch) resync = "epoch_changed";
      else sent = req.after;
    }
    let checked = false;
    while (!resync) {
      if (hub.epoch !== epoch) {
        resync = "epoch_changed";
        break;
      }
      const target = hub.nodeHead;
      if (sent === target) {
        // level with the hub: join now, synchronously, so the next live message is seq target+1
        void socket.join(room(stream));
        sub.joined = true;
        break;
      }
      if (sent > target) {
        if (checked) {
          resync = "ahead";
          break;
        }
        checked = true;
        await hub.check();
        if (stale()) return;
        continue;
      }
      if (target - sent > this.#config.maxReplay) {
        resync = "replay_too_long";
        break;
      }
      const r = await this.#log.read(stream, sent, Math.min(this.#config.replayBatch, target - sent));
      if (stale()) return;
      if (r.epoch !== epoch) {
        resync = "epoch_changed";
        break;
      }
      if (sent + 1 < r.oldest || r.messages.length === 0 || r.messages[0]!.seq !== sent + 1) {
        resync = "trimmed";
        break;
      }
      const messages: LoggedMessage[] = [];
      for (const msg of r.messages) {
        if (msg.seq > target) break;
        messages.push(msg);
      }
      socket.emit(STREAM_EVENTS.batch, { stream, epoch, messages });
      sent = messages[messages.length - 1]!.seq;
      replayed += messages.length;
      this.#m.replayed.inc(messages.length);
    }
    if (resync) {
      sent = hub.nodeHead;
      this.#m.resyncs.inc({ reason: resync });
      socket.emit(STREAM_EVENTS.resync, { stream, epoch: hub.epoch, head: sent, reason: resync });
      void socket.join(room(stream));
      sub.joined = true;
    }
    reply({ ok: true, stream, epoch: hub.epoch, head: sent, replayed, resync: resync !== undefined });
  }

  /**
   * HTTP reads/publishes go through the authorizeHttp hook. Without one, they are open only while authentication is
   * off (security.jwt.mode "off"): with JWT on and no hook, the HTTP API would bypass the socket authorization, so it
   * is refused.
   */
  async #httpAllowed(req: IncomingMessage, stream: string, action: "read" | "publish"): Promise<boolean> {
    if (this.hooks.authorizeHttp) return this.hooks.authorizeHttp(req, stream, action);
    if (this.#ctx.config.security.jwt.mode === "off") return true;
    if (!this.#warnedHttp) {
      this.#warnedHttp = true;
      this.#ctx.logger.warn("delivery: /api/streams refused: authentication is on and no authorizeHttp hook is set");
    }
    return false;
  }

  async #httpRead(req: IncomingMessage, res: import("node:http").ServerResponse, url: URL): Promise<void> {
    const stream = decodeURIComponent(url.pathname.slice("/api/streams/".length));
    if (!STREAM_NAME_RE.test(stream)) return sendJson(res, 400, this.#refuse("invalid_stream"));
    const after = Number(url.searchParams.get("after") ?? "0");
    const limitRaw = Number(url.searchParams.get("limit") ?? String(this.#config.httpReplayLimit));
    if (!Number.isSafeInteger(after) || after < 0) return sendJson(res, 400, this.#refuse("invalid_payload", { path: "after" }));
    if (!Number.isSafeInteger(limitRaw) || limitRaw < 1) return sendJson(res, 400, this.#refuse("invalid_payload", { path: "limit" }));
    if (!(await this.#httpAllowed(req, stream, "read"))) return sendJson(res, 403, this.#refuse("subscribe_forbidden", { stream }));
    const limit = Math.min(limitRaw, this.#config.httpReplayLimit);
    let r;
    try {
      r = await this.#log.read(stream, after, limit);
    } catch (err) {
      this.#error(err, "http read");
      return sendJson(res, 503, this.#refuse("log_unavailable"));
    }
    const epoch = url.searchParams.get("epoch");
    if ((epoch !== null && epoch !== r.epoch) || (after < r.head && after + 1 < r.oldest)) {
      this.#m.resyncs.inc({ reason: epoch !== null && epoch !== r.epoch ? "epoch_changed" : "trimmed" });
      return sendJson(res, 409, this.#refuse("resync_required", { stream, epoch: r.epoch, head: r.head, oldest: r.oldest }));
    }
    sendJson(res, 200, { stream, epoch: r.epoch, head: r.head, oldest: r.oldest, messages: r.messages });
  }

  async #httpPublish(req: IncomingMessage, res: import("node:http").ServerResponse, url: URL): Promise<void> {
    const stream = decodeURIComponent(url.pathname.slice("/api/streams/".length));
    if (!STREAM_NAME_RE.test(stream)) return sendJson(res, 400, this.#refuse("invalid_stream"));
    if (!(await this.#httpAllowed(req, stream, "publish"))) return sendJson(res, 403, this.#refuse("publish_forbidden", { stream }));
    let body: { event?: unknown; data?: unknown; id?: unknown };
    try {
      body = JSON.parse(await readBody(req, this.#config.maxMessageBytes + 1024)) as typeof body;
    } catch {
      return sendJson(res, 400, this.#refuse("invalid_payload", { path: "" }));
    }
    if (!body || typeof body.event !== "string" || !EVENT_RE.test(body.event)) return sendJson(res, 400, this.#refuse("invalid_payload", { path: "event" }));
    if (body.id !== undefined && (typeof body.id !== "string" || body.id.length < 8 || body.id.length > 128)) return sendJson(res, 400, this.#refuse("invalid_payload", { path: "id" }));
    try {
      const r = await this.#publish(stream, body.event, body.data, body.id === undefined ? {} : { id: body.id as string });
      sendJson(res, 200, { stream, ...r });
    } catch (err) {
      this.#error(err, "http publish");
      sendJson(res, 503, this.#refuse("log_unavailable"));
    }
  }

  #error(err: unknown, where: string): void {
    const now = Date.now();
    if (now - this.#lastErrorLog < 1000) return;
    this.#lastErrorLog = now;
    this.#ctx?.logger.warn({ err: err instanceof Error ? err.message : String(err), where }, "delivery backend error");
  }

  drain(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const d of this.#disposers.splice(0)) d();
    for (const hub of this.#hubs.values()) hub.close();
    this.#hubs.clear();
    this.#subs.clear();
    this.#commands.close();
    await Promise.allSettled([this.#queue?.close(), this.#log?.close(), this.#store?.close()]);
  }
}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new Error("body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

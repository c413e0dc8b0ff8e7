import type { IncomingMessage } from "node:http";
import type { Namespace, Socket } from "socket.io";
import type { PylonConfig } from "../config/index.js";
import { errorBody, PylonError } from "../protocol/errors.js";
import type { PylonContext, PylonModule } from "../server/module.js";
import type { EventStage, NamespaceStage } from "../server/event-pipeline.js";
import { SecurityAudit } from "./audit.js";
import { Authorizer, type AuthzResult } from "./authz.js";
import { failureReason, TokenVerifier } from "./jwt.js";
import { MemoryRateLimitStore, RedisRateLimitStore, type RateLimitStore } from "./rate-store.js";
import { EventValidator, type EventSpecs } from "./schemas.js";
import { SocketGuard, type GuardDeps } from "./socket-guard.js";
import type { PylonUser } from "./user.js";

type SecurityConfig = PylonConfig["security"];

export interface SecurityModuleOptions {
  /** Event schemas declared in code, by namespace (the demo's come from defaultModules). */
  events?: Record<string, EventSpecs>;
  /** A rate-limit store to use instead of the configured one (embedding). */
  store?: RateLimitStore;
}

/** Longest timer Node accepts; tokens living longer are re-armed when it fires. */
const MAX_TIMER_MS = 2_147_000_000;

/** Reads the token: auth.token, then `Authorization: Bearer`, then the query parameter when enabled. */
export function extractToken(socket: Socket, queryParam: string): string | undefined {
  const auth = socket.handshake.auth as { token?: unknown } | undefined;
  if (typeof auth?.token === "string" && auth.token !== "") return auth.token;
  const header = socket.handshake.headers.authorization;
  if (typeof header === "string") {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (m) return m[1];
  }
  if (queryParam) {
    const q = socket.handshake.query[queryParam];
    if (typeof q === "string" && q !== "") return q;
  }
  return undefined;
}

/**
 * The security layer (issue 6), one module: JWT at every namespace connect, namespace/room authorization,
 * token lifetime (expiry disconnect, auth:refresh), per-event pipeline (rate limits, size, schema, room authz),
 * per-IP handshake limits (memory or Redis store) and the audit trail. Off parts cost nothing.
 */
export class SecurityModule implements PylonModule {
  readonly name = "security";
  readonly #config: SecurityConfig;
  readonly #namespaces: PylonConfig["namespaces"];
  readonly #redisUrl: string;
  readonly #verifier: TokenVerifier | undefined;
  readonly authorizer: Authorizer;
  readonly validator: EventValidator;
  readonly #storeOverride: RateLimitStore | undefined;
  #store: RateLimitStore | undefined;
  #audit: SecurityAudit | undefined;
  #ctx: PylonContext | undefined;
  /** Guards whose token-expiry timer is armed (module close clears them); nothing is kept per socket otherwise. */
  readonly #timed = new Map<Socket, SocketGuard>();
  /** Shared by every guard (one object per module, not closures per socket). */
  #deps: { -readonly [K in keyof GuardDeps]: GuardDeps[K] } | undefined;
  /** Socket "disconnect" listener shared by every socket (`this` is the socket). */
  readonly #onDisconnect: (this: Socket) => void;
  readonly #attached = new Set<string>();
  readonly #disposers: (() => void)[] = [];
  #closed = false;

  /** Throws (naming the option) when the security config is inconsistent: keys, patterns, schemas. */
  constructor(config: PylonConfig, options: SecurityModuleOptions = {}) {
    this.#config = config.security;
    this.#namespaces = config.namespaces;
    this.#redisUrl = config.cluster.redisUrl;
    this.#verifier = config.security.jwt.mode === "off" ? undefined : new TokenVerifier(config.security.jwt);
    this.authorizer = new Authorizer(config.security.authz);
    this.validator = new EventValidator(config.security.events, options.events);
    this.#storeOverride = options.store;
    const timed = this.#timed;
    this.#onDisconnect = function onDisconnect(this: Socket): void {
      const guard = timed.get(this);
      if (guard !== undefined) {
        timed.delete(this);
        guard.close();
      }
    };
    if (config.security.rateLimit.enabled && config.security.rateLimit.store === "redis" && !config.cluster.redisUrl && !options.store) {
      throw new Error("security.rateLimit.store is redis but cluster.redisUrl is empty; set cluster.redisUrl or use store memory");
    }
  }

  get authEnabled(): boolean {
    return this.#verifier !== undefined;
  }

  setup(ctx: PylonContext): void {
    this.#ctx = ctx;
    const audit = (this.#audit = new SecurityAudit(ctx.logger, ctx.metrics));
    this.#deps = {
      config: this.#config,
      audit,
      validator: this.validator,
      authorizer: this.authorizer,
      authEnabled: this.authEnabled,
      closed: false,
      refresh: (guard, s, args, ack) => void this.#refresh(guard, s, args, ack),
      address: (s) => this.#address(s),
    };
    const rate = this.#config.rateLimit;
    if (rate.enabled) {
      const store = (this.#store =
        this.#storeOverride ??
        (rate.store === "redis"
          ? new RedisRateLimitStore(this.#redisUrl, { onError: (err) => audit.storeError(err) })
          : new MemoryRateLimitStore()));
      this.#disposers.push(
        ctx.admission.add("rate_limit", async (req: IncomingMessage) => {
          const r = await store.take(`hs:${ctx.clientAddress(req)}`, rate.handshakesPerSec, rate.handshakeBurst);
          if (r.allowed) return null;
          audit.rateLimited.inc({ kind: "handshake" });
          return { reason: "rate_limited" };
        }),
      );
    }
    const names = new Set(this.#namespaces.map((n) => n.name));
    if (ctx.config.server.demo) names.add("/demo");
    for (const name of names) this.#attach(ctx.io.of(name));
    const onNew = (nsp: Namespace): void => this.#attach(nsp);
    ctx.io.on("new_namespace", onNew);
    this.#disposers.push(() => ctx.io.off("new_namespace", onNew));
    const stage: EventStage = { name: "security", order: 100, forNamespace: (nsp) => this.#stage(nsp) };
    ctx.events.add(stage);
    this.#disposers.push(() => ctx.events.remove(stage));
    ctx.logger.info(
      {
        jwt: this.#config.jwt.mode,
        rateLimit: rate.enabled ? rate.store : "off",
        validatedNamespaces: [...names].filter((n) => this.validator.validates(n)),
      },
      "security configured",
    );
  }

  #attach(nsp: Namespace): void {
    if (this.#attached.has(nsp.name)) return;
    this.#attached.add(nsp.name);
    nsp.use((socket, next) => {
      this.#authenticate(socket).then(
        () => next(),
        (err: unknown) => next(err instanceof PylonError ? err : new PylonError("internal_error", {}, { cause: err })),
      );
    });
  }

  /** The security stage of the event pipeline in one namespace (every attached namespace). */
  #stage(nsp: Namespace): NamespaceStage | undefined {
    if (!this.#attached.has(nsp.name)) return undefined;
    return {
      attach: (socket) => this.#onConnection(socket),
      onEvent: (_socket, ev) => (ev.state as SocketGuard | undefined)?.check(ev.packet) ?? true,
    };
  }

  #address(socket: Socket): string {
    return this.#ctx?.clientAddress(socket.request) ?? socket.handshake.address;
  }

  /** Handshake: token (when jwt is on), then the namespace's required roles/claims. Sets socket.data.user. */
  async #authenticate(socket: Socket): Promise<void> {
    const audit = this.#audit!;
    const namespace = socket.nsp.name;
    const fail = (code: "token_missing" | "token_expired" | "token_invalid" | "forbidden" | "internal_error", reason: string): never => {
      audit.authFailure({ code, address: this.#address(socket), namespace, reason });
      throw new PylonError(code);
    };
    let user: PylonUser | undefined;
    if (this.#verifier) {
      const token = extractToken(socket, this.#config.jwt.queryParam);
      if (token === undefined) {
        if (this.#config.jwt.mode === "required") fail("token_missing", "no token");
      } else {
        try {
          user = await this.#verifier.verify(token);
        } catch (err) {
          const code = err instanceof PylonError ? err.code : "internal_error";
          fail(code === "token_expired" || code === "token_invalid" ? code : "internal_error", failureReason(err));
        }
      }
    }
    const entry = this.#namespaces.find((n) => n.name === namespace);
    const verdict = this.authorizer.checkNamespace(user, entry);
    if (!verdict.ok) {
      audit.forbidden.inc({ kind: "namespace" });
      fail("forbidden", verdict.reason);
    }
    if (user) (socket.data as { user?: PylonUser }).user = user;
  }

  /** Per-socket set-up (the stage's attach): the guard and its token-expiry timer. */
  #onConnection(socket: Socket): SocketGuard | undefined {
    if (this.#closed || this.#deps === undefined) return undefined;
    const guard = new SocketGuard(socket, this.#deps);
    this.#armExpiry(socket, guard);
    return guard;
  }

  /** Disconnects the socket (reason token_expired) when its token expires, plus the clock tolerance. */
  #armExpiry(socket: Socket, guard: SocketGuard): void {
    if (guard.timer) clearTimeout(guard.timer);
    guard.timer = undefined;
    this.#timed.delete(socket);
    const user = (socket.data as { user?: PylonUser }).user;
    if (!user?.exp || !this.#config.jwt.disconnectOnExpiry) return;
    const due = user.exp * 1000 + this.#config.jwt.clockToleranceSec * 1000;
    const fire = (): void => {
      const left = due - Date.now();
      if (left > 0) {
        guard.timer = setTimeout(fire, Math.min(left, MAX_TIMER_MS));
        return;
      }
      guard.timer = undefined;
      this.#timed.delete(socket);
      guard.disconnect("token_expired");
    };
    guard.timer = setTimeout(fire, Math.min(Math.max(due - Date.now(), 0), MAX_TIMER_MS));
    this.#timed.set(socket, guard);
    // only a socket with a timer needs the disconnect listener (it stops the timer); others keep no listener
    if (!guard.watched) {
      guard.watched = true;
      socket.on("disconnect", this.#onDisconnect);
    }
  }

  /** auth:refresh(token | { token }, ack): verifies like the handshake; the subject must stay the same. */
  async #refresh(guard: SocketGuard, socket: Socket, args: unknown[], ack: ((res: unknown) => void) | undefined): Promise<void> {
    const audit = this.#audit!;
    const namespace = socket.nsp.name;
    const arg = args[0];
    const token = typeof arg === "string" ? arg : typeof (arg as { token?: unknown } | null)?.token === "string" ? (arg as { token: string }).token : undefined;
    const base = { address: this.#address(socket), namespace, socketId: socket.id };
    if (!this.#verifier) {
      audit.invalidEvents.inc({ code: "unknown_event" });
      ack?.({ error: errorBody("unknown_event") });
      return;
    }
    if (!token) {
      audit.authFailure({ ...base, code: "token_missing", reason: "refresh without token" });
      ack?.({ error: errorBody("token_missing") });
      return;
    }
    let user: PylonUser;
    try {
      user = await this.#verifier.verify(token);
    } catch (err) {
      const code = err instanceof PylonError && (err.code === "token_expired" || err.code === "token_invalid") ? err.code : "internal_error";
      audit.authFailure({ ...base, code, reason: `refresh:${failureReason(err)}` });
      ack?.({ error: errorBody(code) });
      return;
    }
    const current = (socket.data as { user?: PylonUser }).user;
    const verdict: AuthzResult =
      current && current.id !== user.id
        ? { ok: false, code: "forbidden", reason: "subject_changed" }
        : this.authorizer.checkNamespace(user, this.#namespaces.find((n) => n.name === namespace));
    if (!verdict.ok) {
      audit.denied("refresh", { ...base, code: "forbidden", userId: current?.id ?? user.id, reason: verdict.reason });
      ack?.({ error: errorBody("forbidden") });
      return;
    }
    if (!socket.connected || this.#closed) return;
    (socket.data as { user?: PylonUser }).user = user;
    this.#armExpiry(socket, guard);
    ack?.({ ok: true, ...(user.exp ? { exp: user.exp } : {}) });
  }

  /**
   * Authorizes a stream subscription or room join for other modules (counted and audited when denied).
   * With security.jwt.mode off every name is allowed (no identities exist).
   */
  authorize(user: PylonUser | undefined, kind: "room" | "stream", name: string, where: { namespace?: string; socketId?: string } = {}): AuthzResult {
    if (!this.#verifier) return { ok: true };
    const verdict = this.authorizer.check(user ?? ANONYMOUS, kind, name);
    if (!verdict.ok) {
      this.#audit?.denied(kind, { code: "forbidden", ...where, ...(user ? { userId: user.id } : {}), reason: verdict.reason });
    }
    return verdict;
  }

  /**
   * The streams module's authorizeSubscribe hook `(socket, stream) => boolean`: the security.authz rules applied to
   * socket.data.user; denials are counted (pylon_forbidden_total{kind="stream"}) and audited.
   */
  readonly subscribeHook = (socket: Socket, stream: string): boolean =>
    this.authorize((socket.data as { user?: PylonUser }).user, "stream", stream, { namespace: socket.nsp.name, socketId: socket.id }).ok;

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#deps) this.#deps.closed = true;
    for (const d of this.#disposers.splice(0)) d();
    for (const guard of this.#timed.values()) guard.close();
    this.#timed.clear();
    await this.#store?.close();
  }
}

const ANONYMOUS: PylonUser = Object.freeze({ id: "", roles: Object.freeze([]), claims: Object.freeze({}) });

import type { Socket } from "socket.io";
import { errorBody, PylonError } from "../protocol/errors.js";
import {
  COMMAND_NAME_RE,
  COMMAND_RESULT_EVENT,
  IDEMPOTENCY_KEY_RE,
  REPLY_STREAM_PREFIX,
  STREAM_NAME_RE,
  type CommandAck,
  type CommandOutcome,
  type CommandRequest,
} from "../protocol/streams.js";
import type { IdempotencyStore } from "./idempotency.js";

export interface CommandContext {
  readonly name: string;
  /** The idempotency key: use it to make effects outside Pylon idempotent too. */
  readonly key: string;
  /** The calling socket (undefined when the command was not sent over a socket). */
  readonly socket: Socket | undefined;
  /**
   * Acknowledge receipt now ({status: "accepted"}) and finish later: the outcome goes to the caller's reply stream
   * and is returned to retries once known.
   */
  accept(): void;
}

export type CommandHandler = (payload: unknown, ctx: CommandContext) => unknown;

export interface CommandDeps {
  store: IdempotencyStore;
  ttlMs: number;
  leaseMs: number;
  /** Publishes an outcome on a reply stream. */
  reply(stream: string, outcome: CommandOutcome): Promise<unknown>;
  /** Counts an outcome (ok, error, accepted, replayed, running, rejected). */
  count(outcome: string): void;
  authorize?: ((socket: Socket | undefined, name: string) => boolean | Promise<boolean>) | undefined;
  onError(err: unknown, name: string): void;
}

/**
 * Idempotent commands: each (name, key) runs its handler at most once while its claim is held; every retry gets the
 * first outcome (stored for ttlMs). A handler that calls ctx.accept() is answered at once with `accepted`; its outcome
 * is then published as `command.result` on the caller's reply stream.
 */
export class CommandRouter {
  readonly #handlers = new Map<string, CommandHandler>();
  #deps!: CommandDeps;
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  /** Handlers may be registered before the router is bound to its store (module setup). */
  bind(deps: CommandDeps): void {
    this.#deps = deps;
  }

  register(name: string, handler: CommandHandler): () => void {
    if (!COMMAND_NAME_RE.test(name)) throw new Error(`command name ${JSON.stringify(name)} must match ${COMMAND_NAME_RE}`);
    if (this.#handlers.has(name)) throw new Error(`command ${name} already has a handler`);
    this.#handlers.set(name, handler);
    return () => this.#handlers.delete(name);
  }

  /** Validates and runs one request; `ack` is called exactly once. */
  async handle(req: unknown, socket: Socket | undefined, ack: (a: CommandAck | { ok: false; error: ReturnType<typeof errorBody> }) => void): Promise<void> {
    const r = req as Partial<CommandRequest> | null;
    if (!r || typeof r !== "object" || typeof r.name !== "string" || typeof r.key !== "string" || !IDEMPOTENCY_KEY_RE.test(r.key)) {
      this.#deps.count("rejected");
      ack({ ok: false, error: errorBody("invalid_payload", { path: !r || typeof r !== "object" ? "" : typeof r.name !== "string" ? "name" : "key" }) });
      return;
    }
    if (r.replyTo !== undefined && (typeof r.replyTo !== "string" || !STREAM_NAME_RE.test(r.replyTo) || !r.replyTo.startsWith(REPLY_STREAM_PREFIX))) {
      this.#deps.count("rejected");
      ack({ ok: false, error: errorBody("invalid_payload", { path: "replyTo" }) });
      return;
    }
    const handler = this.#handlers.get(r.name);
    if (!handler) {
      this.#deps.count("rejected");
      ack({ ok: false, error: errorBody("unknown_command", { name: r.name }) });
      return;
    }
    if (this.#deps.authorize && !(await this.#deps.authorize(socket, r.name))) {
      this.#deps.count("rejected");
      ack({ ok: false, error: errorBody("forbidden", { name: r.name }) });
      return;
    }
    const key = r.key;
    const storeKey = `${r.name}:${key}`;
    let begun;
    try {
      begun = await this.#deps.store.begin(storeKey, this.#deps.leaseMs);
    } catch (err) {
      this.#deps.onError(err, r.name);
      ack({ ok: false, error: errorBody("log_unavailable") });
      return;
    }
    if (begun.state === "done") {
      this.#deps.count("replayed");
      ack(begun.outcome);
      return;
    }
    if (begun.state === "running") {
      this.#deps.count("running");
      ack({ status: "accepted", key });
      return;
    }
    await this.#run(r.name, key, storeKey, handler, r.payload, socket, r.replyTo, ack);
  }

  async #run(
    name: string,
    key: string,
    storeKey: string,
    handler: CommandHandler,
    payload: unknown,
    socket: Socket | undefined,
    replyTo: string | undefined,
    ack: (a: CommandAck) => void,
  ): Promise<void> {
    let acked = false;
    const renew = setInterval(() => {
      this.#deps.store.renew(storeKey, this.#deps.leaseMs).catch((err: unknown) => this.#deps.onError(err, name));
    }, Math.max(100, Math.floor(this.#deps.leaseMs / 3)));
    this.#timers.add(renew);
    const ctx: CommandContext = {
      name,
      key,
      socket,
      accept: () => {
        if (acked) return;
        acked = true;
        this.#deps.count("accepted");
        ack({ status: "accepted", key });
      },
    };
    let outcome: CommandOutcome;
    try {
      const result = await handler(payload, ctx);
      outcome = { status: "ok", key, result: result === undefined ? null : result };
    } catch (err) {
      const body = err instanceof PylonError ? err.data : errorBody("command_failed");
      if (!(err instanceof PylonError)) this.#deps.onError(err, name);
      outcome = { status: "error", key, error: body };
    } finally {
      clearInterval(renew);
      this.#timers.delete(renew);
    }
    try {
      await this.#deps.store.complete(storeKey, outcome, this.#deps.ttlMs);
    } catch (err) {
      this.#deps.onError(err, name);
    }
    this.#deps.count(outcome.status);
    if (!acked) {
      acked = true;
      ack(outcome);
    } else if (replyTo && !this.#closed) {
      await this.#deps.reply(replyTo, outcome).catch((err: unknown) => this.#deps.onError(err, name));
    }
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers.clear();
    this.#handlers.clear();
  }
}

export { COMMAND_RESULT_EVENT };

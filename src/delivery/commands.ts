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
import type { CommandQueue, QueuedCommand } from "./command-queue.js";
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

/** A command whose handler runs on this node: duplicates that arrive meanwhile wait for it. */
interface InFlight {
  /** Settles with the outcome once the handler finished and the outcome is stored. */
  readonly done: Promise<CommandOutcome>;
  /** Settles when the handler called ctx.accept() (the outcome then comes later, on reply streams). */
  readonly accepted: Promise<void>;
  /** Reply streams of duplicates answered `accepted`: each gets the outcome too. */
  readonly replyTos: Set<string>;
}

export type CommandHandler = (payload: unknown, ctx: CommandContext) => unknown;

/** Attempts to store an outcome (100, 200, 400, 800, 1600 ms apart). */
const COMPLETE_ATTEMPTS = 5;

export interface CommandOptions {
  /**
   * Persist the command to the queue and acknowledge `accepted` at once; a worker (any node, Redis consumer group in
   * distributed mode) runs the handler and publishes the outcome on the reply stream. Every node must register the
   * same queued handlers.
   */
  queued?: boolean;
}

export interface CommandDeps {
  store: IdempotencyStore;
  ttlMs: number;
  leaseMs: number;
  /** Queue of `queued` commands. */
  queue: CommandQueue;
  /** Claim held by a queued command until a worker picks it up. */
  queueLeaseMs: number;
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
  readonly #handlers = new Map<string, { handler: CommandHandler; queued: boolean }>();
  #deps!: CommandDeps;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Commands running on this node, by store key. */
  readonly #inflight = new Map<string, InFlight>();
  #closed = false;
  #workerWanted = false;

  /** Handlers may be registered before the router is bound to its store (module setup). */
  bind(deps: CommandDeps): void {
    this.#deps = deps;
  }

  register(name: string, handler: CommandHandler, opts: CommandOptions = {}): () => void {
    if (!COMMAND_NAME_RE.test(name)) throw new Error(`command name ${JSON.stringify(name)} must match ${COMMAND_NAME_RE}`);
    if (this.#handlers.has(name)) throw new Error(`command ${name} already has a handler`);
    this.#handlers.set(name, { handler, queued: opts.queued === true });
    if (opts.queued && this.#workerWanted) this.#deps.queue.start((cmd) => this.#work(cmd));
    return () => this.#handlers.delete(name);
  }

  /** Starts the worker of queued commands once the module runs (and only if a queued handler exists). */
  startWorker(): void {
    this.#workerWanted = true;
    if ([...this.#handlers.values()].some((h) => h.queued)) this.#deps.queue.start((cmd) => this.#work(cmd));
  }

  /** Runs one queued command (worker side): the outcome goes to the store and the reply stream. */
  async #work(cmd: QueuedCommand): Promise<void> {
    const storeKey = `${cmd.name}:${cmd.key}`;
    const entry = this.#handlers.get(cmd.name);
    const begun = await this.#deps.store.begin(storeKey, this.#deps.leaseMs);
    if (begun.state === "done") {
      // a redelivered entry whose outcome is known: only make sure the caller can see it
      if (cmd.replyTo) await this.#deps.reply(cmd.replyTo, begun.outcome).catch((err: unknown) => this.#deps.onError(err, cmd.name));
      return;
    }
    // running: the claim the enqueuing node took (and extended to queueLeaseMs) is handed over with the entry
    const claim = begun.state === "new" ? begun.claim : cmd.claim;
    const outcome = await this.#holding(cmd.name, cmd.key, storeKey, claim, async () =>
      !entry
        ? { status: "error", key: cmd.key, error: errorBody("unknown_command", { name: cmd.name }) }
        : await this.#execute(cmd.name, cmd.key, entry.handler, cmd.payload, undefined, () => {}),
    );
    if (cmd.replyTo && !this.#closed) await this.#deps.reply(cmd.replyTo, outcome).catch((err: unknown) => this.#deps.onError(err, cmd.name));
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
    const entry = this.#handlers.get(r.name);
    if (!entry) {
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
      const running = this.#inflight.get(storeKey);
      if (!running) {
        // running on another node (or a queued command): the outcome is returned to a later retry
        ack({ status: "accepted", key });
        return;
      }
      // running here: answer with the first outcome as soon as it is known, or `accepted` once the handler accepted
      // (its outcome is then published on this caller's reply stream too)
      const first = await Promise.race([running.done, running.accepted.then(() => undefined)]);
      if (first) ack(first);
      else {
        if (r.replyTo) running.replyTos.add(r.replyTo);
        ack({ status: "accepted", key });
      }
      return;
    }
    const claim = begun.claim;
    if (entry.queued) {
      try {
        await this.#deps.queue.enqueue({ name: r.name, key, payload: r.payload, replyTo: r.replyTo, claim });
        await this.#deps.store.renew(storeKey, this.#deps.queueLeaseMs, claim);
      } catch (err) {
        this.#deps.onError(err, r.name);
        await this.#deps.store.release(storeKey, claim).catch(() => {});
        ack({ ok: false, error: errorBody("log_unavailable") });
        return;
      }
      this.#deps.count("accepted");
      ack({ status: "accepted", key });
      return;
    }
    await this.#run(r.name, key, storeKey, claim, entry.handler, r.payload, socket, r.replyTo, ack);
  }

  async #run(
    name: string,
    key: string,
    storeKey: string,
    claim: string,
    handler: CommandHandler,
    payload: unknown,
    socket: Socket | undefined,
    replyTo: string | undefined,
    ack: (a: CommandAck) => void,
  ): Promise<void> {
    let acked = false;
    let settleDone!: (o: CommandOutcome) => void;
    let settleAccepted!: () => void;
    const flight: InFlight = {
      done: new Promise((r) => (settleDone = r)),
      accepted: new Promise((r) => (settleAccepted = r)),
      replyTos: new Set(),
    };
    this.#inflight.set(storeKey, flight);
    let outcome: CommandOutcome;
    try {
      outcome = await this.#holding(name, key, storeKey, claim, () =>
        this.#execute(name, key, handler, payload, socket, () => {
          if (acked) return;
          acked = true;
          this.#deps.count("accepted");
          ack({ status: "accepted", key });
          settleAccepted();
        }),
      );
    } finally {
      if (this.#inflight.get(storeKey) === flight) this.#inflight.delete(storeKey);
    }
    settleDone(outcome);
    if (!acked) {
      acked = true;
      ack(outcome);
    } else if (replyTo) flight.replyTos.add(replyTo);
    if (this.#closed) return;
    for (const to of flight.replyTos) await this.#deps.reply(to, outcome).catch((err: unknown) => this.#deps.onError(err, name));
  }

  /**
   * Runs the handler (`run`), then stores its outcome, renewing the claim every leaseMs / 3 all along: the claim is
   * kept until the outcome is stored, not only while the handler runs, so a slow outcome write (a Redis reconnect)
   * cannot let it lapse and another node run the command again. A renewal that finds the claim gone before the outcome
   * is written is reported once.
   */
  async #holding(name: string, key: string, storeKey: string, claim: string | undefined, run: () => Promise<CommandOutcome>): Promise<CommandOutcome> {
    let reported = false;
    let storing = false;
    const renew = setInterval(() => {
      if (claim === undefined) return; // a queued entry from an older version: its claim has no token
      this.#deps.store.renew(storeKey, this.#deps.leaseMs, claim).then(
        (held) => {
          // once the outcome is being written, the claim gives way to it: not a loss
          if (held || reported || storing || this.#closed) return;
          reported = true;
          this.#deps.onError(new Error(`the claim of command ${name} (key ${key}) was lost while it ran (lease lapsed): another node may run it again`), name);
        },
        (err: unknown) => this.#deps.onError(err, name),
      );
    }, Math.max(100, Math.floor(this.#deps.leaseMs / 3)));
    this.#timers.add(renew);
    try {
      const outcome = await run();
      storing = true;
      await this.#finish(name, storeKey, outcome);
      return outcome;
    } finally {
      clearInterval(renew);
      this.#timers.delete(renew);
    }
  }

  /** Runs the handler; never throws. */
  async #execute(name: string, key: string, handler: CommandHandler, payload: unknown, socket: Socket | undefined, accept: () => void): Promise<CommandOutcome> {
    const ctx: CommandContext = { name, key, socket, accept };
    try {
      const result = await handler(payload, ctx);
      return { status: "ok", key, result: result === undefined ? null : result };
    } catch (err) {
      if (!(err instanceof PylonError)) this.#deps.onError(err, name);
      return { status: "error", key, error: err instanceof PylonError ? err.data : errorBody("command_failed") };
    }
  }

  /**
   * Stores the outcome; a failed write is retried (with backoff, about 3 s in all) while the claim is still renewed.
   * If every attempt fails, the claim lapses after leaseMs and a retry may run the command again: reported.
   */
  async #finish(name: string, storeKey: string, outcome: CommandOutcome): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#deps.store.complete(storeKey, outcome, this.#deps.ttlMs);
        break;
      } catch (err) {
        if (attempt >= COMPLETE_ATTEMPTS - 1 || this.#closed) {
          this.#deps.onError(err, name);
          break;
        }
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
    this.#deps.count(outcome.status);
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers.clear();
    this.#handlers.clear();
    this.#inflight.clear();
  }
}

export { COMMAND_RESULT_EVENT };

import type { Namespace, Server, Socket } from "socket.io";
import {
  emitToHandlers,
  isSoleListener,
  oneventThroughDispatch,
  sendAck,
  setSocketOnevent,
  type InboundEventPacket,
} from "../transport/engine-internals.js";

type Ack = (...args: unknown[]) => void;
type Next = (err?: Error) => void;

/**
 * One inbound event as it goes through the pipeline. One object per event; it replaces socket.io's per-middleware
 * closures. Stages read it and may keep it (a held event is resumed with `resume()`).
 */
export class InboundEvent {
  /** `performance.now()` when the event entered the pipeline. */
  readonly receivedAt: number;
  /** Whether the client asked for an ack (the last packet element is then the ack function). */
  readonly hasAck: boolean;
  /** Free slot for the stage that admitted the event (the inbound limiter keeps its in-flight slot here). */
  slot: unknown = undefined;
  /** `performance.now()` when the handler called the ack (0 before). */
  ackedAt = 0;
  #index = 0;
  #held = false;
  readonly #run: NamespacePipeline;
  readonly #socket: Socket;
  readonly #packet: unknown[];
  /** socket.io's middleware continuation, or null on the direct path (the handlers are called by finish()). */
  readonly #next: Next | null;
  readonly #states: unknown[];

  /** `hasAck`: whether the packet ends with an ack function (the direct path pushes Pylon's own right after). */
  constructor(run: NamespacePipeline, socket: Socket, packet: unknown[], next: Next | null, states: unknown[], now: number, hasAck: boolean) {
    this.#run = run;
    this.#socket = socket;
    this.#packet = packet;
    this.#next = next;
    this.#states = states;
    this.receivedAt = now;
    this.hasAck = hasAck;
  }

  get packet(): unknown[] {
    return this.#packet;
  }

  /** The event's name (packet[0]; not always a string from a hostile client). */
  get name(): unknown {
    return this.#packet[0];
  }

  /** The ack the client asked for (already wrapped by the pipeline when a stage listens to acks), or undefined. */
  get ack(): Ack | undefined {
    return this.hasAck ? (this.#packet[this.#packet.length - 1] as Ack) : undefined;
  }

  /** The current stage's per-socket state (undefined until it sets one). Valid inside attach/onEvent only. */
  get state(): unknown {
    return this.#states[this.#index];
  }

  set state(value: unknown) {
    this.#states[this.#index] = value;
  }

  /** The current stage keeps the event: return false from onEvent, then call `resume()` (once) to go on. */
  hold(): void {
    this.#held = true;
  }

  /** Continues a held event with the next stage (and, after the last one, socket.io's handlers). */
  resume(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#index++;
    this.#run.continue(this.#socket, this);
  }

  /** @internal every stage passed: on to socket.io's next middleware, or (direct path) to the handlers. */
  finish(): void {
    if (this.#next !== null) this.#next();
    else emitToHandlers(this.#socket, this.#packet);
  }

  /** @internal the runner's cursor */
  get index(): number {
    return this.#index;
  }

  /** @internal */
  advance(): void {
    this.#index++;
  }
}

/** What a stage does in one namespace. */
export interface NamespaceStage {
  /** Per-socket set-up when a socket connects; the returned value is the stage's per-socket state (`ev.state`). */
  attach?(socket: Socket): unknown;
  /**
   * Runs for every inbound event, in stage order. Return true to go on; false when the stage refused or answered the
   * event (it must have counted it and, when the client asked for one, sent an error ack) or held it (`ev.hold()`).
   */
  onEvent(socket: Socket, ev: InboundEvent): boolean;
  /** Called once when the handler acks an event this stage saw (ev.ackedAt is set). */
  onAck?(socket: Socket, ev: InboundEvent): void;
}

/** A feature's contribution to the inbound event path. */
export interface EventStage {
  readonly name: string;
  /** Lower runs first: 0 metrics (counts everything), 100 security, 200 flow control. */
  readonly order: number;
  /** The stage for one namespace, or undefined when it has nothing to do there (asked once per namespace). */
  forNamespace(nsp: Namespace): NamespaceStage | undefined;
}

/** The compiled stages of one namespace. */
class NamespacePipeline {
  readonly #stages: NamespaceStage[];
  readonly #ackStages: NamespaceStage[];

  constructor(stages: NamespaceStage[]) {
    this.#stages = stages;
    this.#ackStages = stages.filter((s) => s.onAck !== undefined);
  }

  /**
   * Installs the one socket middleware of this socket and the direct path (one closure each, one state array).
   * Direct path: while the pipeline's middleware is the socket's only one (no application `socket.use`, no onAny),
   * socket.io's onevent and dispatch (its ack closure, a copy of the middleware list, a closure per middleware and
   * per `next`, a second nextTick before the handlers) are replaced by the stages in a loop, Pylon's ack function
   * (one closure that sends the ACK packet and calls the ack hooks) and the handlers called right away. socket.io
   * already runs onevent within a nextTick of its own per packet, so handlers still run after the decoding call
   * returns and in arrival order. With application middlewares or onAny listeners, socket.io's own onevent and
   * dispatch run, with this pipeline as the first middleware, as before.
   */
  attach(socket: Socket): void {
    const states = new Array<unknown>(this.#stages.length);
    for (let i = 0; i < this.#stages.length; i++) states[i] = this.#stages[i]!.attach?.(socket);
    const middleware = (packet: unknown[], next: Next): void => this.#start(socket, packet, next, states);
    socket.use(middleware);
    setSocketOnevent(socket, (packet) => {
      if (isSoleListener(socket, middleware)) this.#direct(socket, packet, states);
      else oneventThroughDispatch(socket, packet);
    });
  }

  /** The middleware path (socket.io's dispatch): the ack function is socket.io's, wrapped when a stage hooks acks. */
  #start(socket: Socket, packet: unknown[], next: Next, states: unknown[]): void {
    const hasAck = packet.length > 1 && typeof packet[packet.length - 1] === "function";
    const ev = new InboundEvent(this, socket, packet, next, states, performance.now(), hasAck);
    if (hasAck && this.#ackStages.length > 0) this.#wrapAck(socket, ev, packet);
    this.continue(socket, ev);
  }

  /** The direct path: what socket.io's onevent does (`packet.data || []`, the ack function last), then the stages. */
  #direct(socket: Socket, packet: InboundEventPacket, states: unknown[]): void {
    const args = packet.data || [];
    const id = packet.id;
    const ev = new InboundEvent(this, socket, args, null, states, performance.now(), id != null);
    if (id != null) args.push(ackFunction(socket, id, ev, this.#ackStages));
    this.continue(socket, ev);
  }

  continue(socket: Socket, ev: InboundEvent): void {
    const stages = this.#stages;
    for (let i = ev.index; i < stages.length; i = ev.index) {
      if (!stages[i]!.onEvent(socket, ev)) return;
      ev.advance();
    }
    ev.finish();
  }

  #wrapAck(socket: Socket, ev: InboundEvent, packet: unknown[]): void {
    const last = packet.length - 1;
    const ack = packet[last] as Ack;
    const stages = this.#ackStages;
    packet[last] = function pipelineAck(this: unknown, ...args: unknown[]): void {
      if (ev.ackedAt !== 0) return; // socket.io sends an ack once; so do the hooks
      ev.ackedAt = performance.now();
      ack.apply(this, args);
      for (let i = 0; i < stages.length; i++) stages[i]!.onAck!(socket, ev);
    };
  }
}

/**
 * Pylon's ack function for one event (the direct path): sends once, like socket.io's (an ACK packet with the args:
 * sendAck), records when, and calls the stages' ack hooks. One closure instead of socket.io's plus a wrapper.
 */
function ackFunction(socket: Socket, id: number, ev: InboundEvent, stages: readonly NamespaceStage[]): Ack {
  return function pylonAck(...args: unknown[]): void {
    if (ev.ackedAt !== 0) return;
    ev.ackedAt = performance.now();
    try {
      sendAck(socket, id, args);
    } finally {
      for (let i = 0; i < stages.length; i++) stages[i]!.onAck!(socket, ev); // a slot is released even if sending threw
    }
  };
}

/**
 * The inbound event path of every namespace as ONE socket.io middleware per socket (instead of one per feature):
 * socket.io's `run` copies the middleware list and allocates a closure per middleware per event, and each feature
 * that wanted to see the ack wrapped it again. Here stages are plain synchronous calls in a loop over one event
 * object, and the ack is wrapped once, only when a stage listens to acks and the client asked for one.
 *
 * Registered by the composer before any module sets up, so its middleware runs before the application's own
 * `socket.use` middlewares; stages are added by modules during setup (before sockets connect).
 */
export class EventPipeline {
  readonly #stages: EventStage[] = [];
  readonly #compiled = new Map<string, NamespacePipeline | null>();
  readonly #disposers: (() => void)[] = [];

  add(stage: EventStage): void {
    this.#stages.push(stage);
    this.#stages.sort((a, b) => a.order - b.order);
    this.#compiled.clear();
  }

  remove(stage: EventStage): void {
    const i = this.#stages.indexOf(stage);
    if (i >= 0) this.#stages.splice(i, 1);
    this.#compiled.clear();
  }

  get stageNames(): string[] {
    return this.#stages.map((s) => s.name);
  }

  /** Watches every namespace of `io` (existing and future) and installs the pipeline on each connecting socket. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  install(io: Server<any, any, any, any>, existing: Iterable<Namespace>): void {
    const watch = (nsp: Namespace): void => {
      const onConnection = (socket: Socket): void => this.#forNamespace(nsp)?.attach(socket);
      nsp.on("connection", onConnection);
      this.#disposers.push(() => nsp.off("connection", onConnection));
    };
    for (const nsp of existing) watch(nsp);
    io.on("new_namespace", watch);
    this.#disposers.push(() => io.off("new_namespace", watch));
  }

  #forNamespace(nsp: Namespace): NamespacePipeline | null {
    let p = this.#compiled.get(nsp.name);
    if (p === undefined) {
      const stages = this.#stages.map((s) => s.forNamespace(nsp)).filter((s): s is NamespaceStage => s !== undefined);
      p = stages.length > 0 ? new NamespacePipeline(stages) : null;
      this.#compiled.set(nsp.name, p);
    }
    return p;
  }

  close(): void {
    for (const d of this.#disposers.splice(0)) d();
    this.#compiled.clear();
  }
}

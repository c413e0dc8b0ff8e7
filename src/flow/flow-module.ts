import type { Namespace, Socket } from "socket.io";
import type { PylonConfig } from "../config/index.js";
import type { EventClass } from "../config/sections/flow.js";
import type { PylonContext, PylonModule } from "../server/module.js";
import type { EventStage } from "../server/event-pipeline.js";
import {
  connOf,
  engineConnections,
  namespacesOf,
  setClientWrite,
  type EngineConnInternals,
} from "../transport/engine-internals.js";
import { forEachInSlices } from "../server/slices.js";
import { InboundLimiter, type InboundLimits } from "./inbound.js";
import { FlowMetrics } from "./metrics.js";
import { closeSlowConsumer, OutboundFlow, type OutboundLimits } from "./outbound.js";

/** An in-flight slot whose ack never comes is reclaimed after this long (lazily, when the socket is full). */
const INBOUND_SLOT_TIMEOUT_MS = 60_000;

function outboundLimits(flow: PylonConfig["flow"]): OutboundLimits {
  return { softLimitBytes: flow.softLimitBytes, hardLimitBytes: flow.hardLimitBytes, hardLimitPackets: flow.hardLimitPackets };
}

function inboundLimits(flow: PylonConfig["flow"]): InboundLimits {
  return { maxConcurrent: flow.inboundMaxConcurrent, maxQueued: flow.inboundMaxQueued, slotTimeoutMs: INBOUND_SLOT_TIMEOUT_MS };
}

/**
 * Flow control (issue 7 items 1-2): per-socket outbound accounting with drop / slow-consumer policies (installed on
 * every socket.io Client's write), inbound handler limits (a stage of the inbound event pipeline), and a periodic sampler that
 * feeds the pending-bytes histogram and closes slow consumers that nothing writes to any more.
 * See docs/flow-control.md.
 */
/** The write path's per-socket direct write (src/transport/write-path-module.ts), when both modules run. */
export interface DirectWriter {
  directWrite(conn: EngineConnInternals, encodedPackets: unknown): boolean;
}

/** Connections sampled per macrotask turn. */
const SAMPLE_SLICE = 512;

export class FlowModule implements PylonModule {
  readonly name = "flow";
  readonly #writer: DirectWriter | undefined;

  /** `writer`: per-socket emits and acks to idle websockets are written directly (the broadcast fast path's rule). */
  constructor(writer?: DirectWriter) {
    this.#writer = writer;
  }

  #ctx: PylonContext | undefined;
  #metrics: FlowMetrics | undefined;
  #outbound: OutboundFlow | undefined;
  #inbound: InboundLimiter | undefined;
  #sampler: NodeJS.Timeout | undefined;
  #sampling: Promise<void> | undefined;
  #closed = false;
  readonly #disposers: (() => void)[] = [];

  /** Outbound policies (API: setEventClass, pending). Undefined before setup. */
  get outbound(): OutboundFlow | undefined {
    return this.#outbound;
  }

  /** Classes an outbound event name at runtime (same as flow.eventClasses in the config). */
  setEventClass(event: string, cls: EventClass): void {
    if (!this.#outbound) throw new Error("FlowModule.setEventClass() before setup()");
    this.#outbound.setEventClass(event, cls);
  }

  setup(ctx: PylonContext): void {
    this.#ctx = ctx;
    const flow = ctx.config.flow;
    const metrics = (this.#metrics = new FlowMetrics(ctx.metrics));
    const onSlow = closeSlowConsumer(metrics);
    const outbound = (this.#outbound = new OutboundFlow(outboundLimits(flow), flow.eventClasses, metrics, (conn, pending) => {
      ctx.logger.warn({ event: "slow_consumer", sid: conn.id, pendingBytes: pending.bytes, pendingPackets: pending.packets }, "closing slow consumer");
      onSlow(conn);
    }, this.#writer ? (conn, encoded) => this.#writer!.directWrite(conn, encoded) : undefined));
    const inbound = (this.#inbound = new InboundLimiter(inboundLimits(flow), metrics));

    const stage: EventStage = { name: "flow.inbound", order: 200, forNamespace: () => inbound.stage };
    ctx.events.add(stage);
    this.#disposers.push(() => ctx.events.remove(stage));
    const onConnection = (socket: Socket): void => setClientWrite(socket, outbound.writeHook);
    const watch = (nsp: Namespace): void => {
      nsp.on("connection", onConnection);
      this.#disposers.push(() => nsp.off("connection", onConnection));
    };
    for (const nsp of namespacesOf(ctx.io).values()) watch(nsp);
    ctx.io.on("new_namespace", watch);
    this.#disposers.push(() => ctx.io.off("new_namespace", watch));
  }

  start(): void {
    const ctx = this.#ctx;
    if (!ctx) return;
    this.#sampler = setInterval(() => this.sample().catch((err: unknown) => ctx.logger.error({ err }, "pending-bytes sampler failed")), ctx.config.flow.sampleIntervalMs);
    this.#sampler.unref();
  }

  /**
   * Samples every connection's pending outbound bytes and closes those over the hard limits. Runs in slices of
   * SAMPLE_SLICE connections per macrotask (setImmediate between), so a node with tens of thousands of connections
   * never holds broadcasts behind one long loop (a full pass over 10,000 took several ms). Resolves when the pass is
   * done; a pass still running when the next interval fires is not doubled.
   */
  sample(): Promise<void> {
    const ctx = this.#ctx;
    const outbound = this.#outbound;
    const metrics = this.#metrics;
    if (!ctx || !outbound || !metrics) return Promise.resolve();
    if (this.#sampling !== undefined) return this.#sampling;
    const onSlow = closeSlowConsumer(metrics);
    const visit = (conn: EngineConnInternals): void => {
      if (conn._readyState === "closed") return; // left since the pass began
      const p = outbound.pending(conn);
      metrics.pendingBytes.observe(p.bytes);
      const limits = outbound.limits;
      if (p.bytes >= limits.hardLimitBytes || p.packets >= limits.hardLimitPackets) {
        ctx.logger.warn({ event: "slow_consumer", sid: conn.id, pendingBytes: p.bytes, pendingPackets: p.packets }, "closing slow consumer");
        onSlow(conn);
      }
    };
    const conns = engineConnections(ctx.io) as unknown as EngineConnInternals[];
    // cleared in a later microtask even when the whole pass ran synchronously (one slice)
    const pass: Promise<void> = forEachInSlices(conns, SAMPLE_SLICE, visit, () => this.#closed).finally(() => {
      if (this.#sampling === pass) this.#sampling = undefined;
    });
    this.#sampling = pass;
    return pass;
  }

  /** Pending outbound data of one socket (API). */
  pendingOf(socket: Socket): { packets: number; bytes: number } {
    if (!this.#outbound) return { packets: 0, bytes: 0 };
    return this.#outbound.pending(connOf(socket));
  }

  reload(config: PylonConfig): void {
    this.#outbound?.updateLimits(outboundLimits(config.flow), config.flow.eventClasses);
    this.#inbound?.updateLimits(inboundLimits(config.flow));
  }

  close(): void {
    this.#closed = true;
    if (this.#sampler) clearInterval(this.#sampler);
    this.#sampler = undefined;
    for (const d of this.#disposers.splice(0)) d();
  }
}

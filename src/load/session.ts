import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { summarizeEncoded, type LatencySummary } from "./histogram.js";
import type {
  ChurnReply,
  ClientTarget,
  CollectReply,
  ConnectReply,
  EchoReply,
  Errors,
  JoinReply,
  PhaseReply,
  StatusReply,
  StormReply,
} from "./messages.js";
import { addErrors } from "./messages.js";
import type { TransportMix } from "./options.js";
import { WorkerPool } from "./pool.js";
import { broadcastText, nowMs } from "./text.js";
import type { BroadcastTrigger } from "./trigger.js";

export interface SessionOptions extends ClientTarget {
  /** Worker threads; 0 = one per available core (at most 8). */
  workers: number;
}

export interface ConnectResult {
  target: number;
  attempted: number;
  connected: number;
  failed: number;
  errors: Errors;
  latency: LatencySummary;
  elapsedMs: number;
  /** Handshakes completed per second over the phase. */
  perSecond: number;
  deadlineHit: boolean;
}

export interface BroadcastPlan {
  trigger: BroadcastTrigger;
  rooms: string[];
  /** Open loop: ticks per second (ignored when window > 0). */
  rate: number;
  /** Closed loop: ticks not yet fully received that may be outstanding. 0 = open loop. */
  window: number;
  /** Broadcasts per room per tick, sent back to back. */
  burst: number;
  /** Max ticks (0 = until durationMs). */
  count: number;
  durationMs: number;
  payloadBytes: number;
  settleMs: number;
  deadlineAt: number;
}

export interface BroadcastResult {
  rooms: number;
  /** Receivers held by the workers (the trigger is not counted). */
  members: number;
  ticks: number;
  /** Broadcasts sent (ticks x rooms x burst). */
  sent: number;
  /** Deliveries to the workers' clients expected and received. */
  expected: number;
  received: number;
  completeness: number;
  /** Deliveries the server made, including the trigger's own copy when it is a member. */
  serverDeliveries: number;
  stale: number;
  latency: LatencySummary;
  /** First send to last receive. */
  elapsedMs: number;
  deliveriesPerSec: number;
  stalled: boolean;
  deadlineHit: boolean;
}

export interface EchoResult {
  clients: number;
  ops: number;
  failed: number;
  errors: Errors;
  latency: LatencySummary;
  elapsedMs: number;
  opsPerSec: number;
  deadlineHit: boolean;
}

export interface StormResult {
  clients: number;
  reconnected: number;
  failed: number;
  errors: Errors;
  latency: LatencySummary;
  /** From the moment all dropped to the moment the last one was back. */
  timeToAllMs: number;
  deadlineHit: boolean;
}

export interface ChurnResult {
  connects: number;
  disconnects: number;
  failed: number;
  cycles: number;
  errors: Errors;
  latency: LatencySummary;
  elapsedMs: number;
  deadlineHit: boolean;
}

export interface SessionStatus {
  connected: number;
  drops: number;
  received: number;
  ops: number;
}

/**
 * A set of load clients spread over worker threads, driven phase by phase. The scenarios are built from these phases;
 * the bench drives them directly to measure server CPU around each one. Client indices are global: client i lives in
 * worker i % workers.
 */
export class LoadSession {
  readonly workers: number;
  readonly #pool: WorkerPool;
  #size = 0;

  constructor(opts: SessionOptions) {
    this.workers = opts.workers > 0 ? opts.workers : Math.max(1, Math.min(8, availableParallelism()));
    this.#pool = new WorkerPool(
      {
        url: opts.url,
        protocol: opts.protocol,
        namespace: opts.namespace,
        path: opts.path,
        localAddresses: opts.localAddresses,
        timeoutMs: opts.timeoutMs,
        ...(opts.auth ? { auth: opts.auth } : {}),
        ...(opts.headers ? { headers: opts.headers } : {}),
      },
      this.workers,
    );
  }

  /** Resolves once every worker thread has loaded and answers (call before timing anything). */
  async ready(): Promise<void> {
    await this.#pool.all<StatusReply>({ cmd: "status" });
  }

  /** Clients 0..size-1 have been asked to connect (some may have failed or dropped). */
  get size(): number {
    return this.#size;
  }

  /** Connects clients [size, to) at `rate`/s (0 = unpaced) with at most `concurrency` handshakes in flight. */
  async connect(p: { to: number; rate: number; concurrency: number; transports: TransportMix; deadlineAt: number }): Promise<ConnectResult> {
    const from = this.#size;
    const t0 = nowMs();
    const replies = await this.#pool.all<ConnectReply>({
      cmd: "connect",
      from,
      to: p.to,
      rate: p.rate,
      concurrency: p.concurrency,
      mix: p.transports,
      deadlineAt: p.deadlineAt,
    });
    this.#size = Math.max(this.#size, p.to);
    const elapsedMs = nowMs() - t0;
    const connected = sum(replies, (r) => r.connected);
    return {
      target: p.to - from,
      attempted: sum(replies, (r) => r.attempted),
      connected,
      failed: sum(replies, (r) => r.failed),
      errors: replies.reduce((e, r) => addErrors(e, r.errors), {} as Errors),
      latency: summarizeEncoded(replies.map((r) => r.latency)),
      elapsedMs,
      perSecond: elapsedMs > 0 ? (connected * 1000) / elapsedMs : 0,
      deadlineHit: replies.some((r) => r.deadlineHit),
    };
  }

  /** Makes connected clients [from, to) join `room`. */
  async join(room: string, from: number, to: number, deadlineAt: number): Promise<{ joined: number; failed: number; errors: Errors }> {
    const replies = await this.#pool.all<JoinReply>({ cmd: "join", room, from, to, deadlineAt });
    return {
      joined: sum(replies, (r) => r.joined),
      failed: sum(replies, (r) => r.failed),
      errors: replies.reduce((e, r) => addErrors(e, r.errors), {} as Errors),
    };
  }

  /** Sends ticks of broadcasts through the trigger and measures what the clients receive. */
  async broadcast(p: BroadcastPlan): Promise<BroadcastResult> {
    const phase = randomBytes(4).toString("hex");
    const replies = await this.#pool.all<PhaseReply>({ cmd: "phase", phase, rooms: p.rooms, burst: p.burst });
    const members = sum(replies, (r) => r.members);
    const active = replies.filter((r) => r.members > 0).length;
    if (members === 0) throw new Error(`broadcast: no connected members in rooms ${p.rooms.join(",")}`);
    await p.trigger.prepare(p.rooms);
    const padding = "x".repeat(p.payloadBytes);
    const done = new Map<number, number>();
    let completed = 0;
    let lastProgress = nowMs();
    let wake: (() => void) | undefined;
    const waitWake = (ms: number): Promise<void> =>
      new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          wake = undefined;
          resolve();
        }, Math.max(1, ms));
        wake = () => {
          clearTimeout(t);
          wake = undefined;
          resolve();
        };
      });
    this.#pool.onTick((ph, tick) => {
      if (ph !== phase) return;
      const n = (done.get(tick) ?? 0) + 1;
      if (n >= active) {
        done.delete(tick);
        completed++;
        lastProgress = nowMs();
        wake?.();
      } else done.set(tick, n);
    });
    let ticks = 0;
    let sent = 0;
    let firstSentAt = 0;
    const fire = (): void => {
      const at = nowMs();
      if (firstSentAt === 0) firstSentAt = at;
      const text = broadcastText(phase, ticks, at, padding);
      for (const room of p.rooms) for (let b = 0; b < p.burst; b++) p.trigger.fire(room, text);
      sent += p.rooms.length * p.burst;
      ticks++;
    };
    const maxTicks = p.count > 0 ? p.count : Infinity;
    const start = nowMs();
    const endAt = Math.min(start + p.durationMs, p.deadlineAt);
    let stalled = false;
    try {
      if (p.window > 0) {
        while (ticks < maxTicks && nowMs() < endAt) {
          if (ticks - completed < p.window) {
            fire();
            if (ticks - completed < p.window) await new Promise((r) => setImmediate(r));
            continue;
          }
          await waitWake(Math.min(endAt - nowMs(), p.settleMs));
          if (nowMs() - lastProgress > p.settleMs) {
            stalled = true;
            break;
          }
        }
      } else {
        const interval = 1000 / p.rate;
        while (ticks < maxTicks && nowMs() < endAt) {
          const due = start + ticks * interval;
          const wait = due - nowMs();
          if (wait > 0.5) await sleep(wait);
          fire();
        }
      }
      const settleEnd = Math.min(nowMs() + p.settleMs, p.deadlineAt);
      while (completed < ticks && nowMs() < settleEnd) await waitWake(settleEnd - nowMs());
    } finally {
      this.#pool.onTick(undefined);
    }
    const col = await this.#pool.all<CollectReply>({ cmd: "collect" });
    const received = sum(col, (r) => r.received);
    const lastRecvAt = Math.max(...col.map((r) => r.lastRecvAt));
    const expected = ticks * p.burst * members;
    const elapsedMs = lastRecvAt > firstSentAt ? lastRecvAt - firstSentAt : 0;
    return {
      rooms: p.rooms.length,
      members,
      ticks,
      sent,
      expected,
      received,
      completeness: expected > 0 ? received / expected : 0,
      serverDeliveries: received + (p.trigger.isMember ? sent : 0),
      stale: sum(col, (r) => r.stale),
      latency: summarizeEncoded(col.map((r) => r.latency)),
      elapsedMs,
      deliveriesPerSec: elapsedMs > 0 ? (received * 1000) / elapsedMs : 0,
      stalled,
      deadlineHit: nowMs() >= p.deadlineAt,
    };
  }

  /** Closed-loop emit-with-ack from connected clients [0, clients). */
  async echo(p: { clients: number; durationMs: number; inflight: number; payloadBytes: number; maxOps: number; deadlineAt: number }): Promise<EchoResult> {
    const replies = await this.#pool.all<EchoReply>({ cmd: "echo", ...p });
    const ops = sum(replies, (r) => r.ops);
    const started = Math.min(...replies.map((r) => r.startedAt));
    const ended = Math.max(...replies.map((r) => r.endedAt));
    const elapsedMs = Math.max(0, ended - started);
    return {
      clients: sum(replies, (r) => r.clients),
      ops,
      failed: sum(replies, (r) => r.failed),
      errors: replies.reduce((e, r) => addErrors(e, r.errors), {} as Errors),
      latency: summarizeEncoded(replies.map((r) => r.latency)),
      elapsedMs,
      opsPerSec: elapsedMs > 0 ? (ops * 1000) / elapsedMs : 0,
      deadlineHit: replies.some((r) => r.deadlineHit),
    };
  }

  /** Every connected client drops and reconnects at the same moment. */
  async storm(deadlineAt: number): Promise<StormResult> {
    const replies = await this.#pool.all<StormReply>({ cmd: "storm", deadlineAt });
    const started = Math.min(...replies.map((r) => r.startedAt));
    const back = Math.max(...replies.map((r) => r.allBackAt));
    return {
      clients: sum(replies, (r) => r.clients),
      reconnected: sum(replies, (r) => r.reconnected),
      failed: sum(replies, (r) => r.failed),
      errors: replies.reduce((e, r) => addErrors(e, r.errors), {} as Errors),
      latency: summarizeEncoded(replies.map((r) => r.latency)),
      timeToAllMs: Math.max(0, back - started),
      deadlineHit: replies.some((r) => r.deadlineHit),
    };
  }

  /** Clients [from, to) each run connect -> hold -> disconnect cycles. */
  async churn(p: {
    from: number;
    to: number;
    cycles: number;
    holdMs: number;
    durationMs: number;
    rate: number;
    concurrency: number;
    transports: TransportMix;
    deadlineAt: number;
  }): Promise<ChurnResult> {
    const t0 = nowMs();
    const { transports, ...rest } = p;
    const replies = await this.#pool.all<ChurnReply>({ cmd: "churn", ...rest, mix: transports });
    return {
      connects: sum(replies, (r) => r.connects),
      disconnects: sum(replies, (r) => r.disconnects),
      failed: sum(replies, (r) => r.failed),
      cycles: sum(replies, (r) => r.cycles),
      errors: replies.reduce((e, r) => addErrors(e, r.errors), {} as Errors),
      latency: summarizeEncoded(replies.map((r) => r.latency)),
      elapsedMs: nowMs() - t0,
      deadlineHit: replies.some((r) => r.deadlineHit),
    };
  }

  /** Closes clients [from, to) (all by default). */
  async disconnect(from = 0, to = Number.MAX_SAFE_INTEGER): Promise<number> {
    const replies = await this.#pool.all<{ closed: number }>({ cmd: "disconnect", from, to });
    if (from === 0 && to >= this.#size) this.#size = 0;
    return sum(replies, (r) => r.closed);
  }

  async status(): Promise<SessionStatus> {
    const replies = await this.#pool.all<StatusReply>({ cmd: "status" });
    return {
      connected: sum(replies, (r) => r.connected),
      drops: sum(replies, (r) => r.drops),
      received: sum(replies, (r) => r.received),
      ops: sum(replies, (r) => r.ops),
    };
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

function sum<T>(xs: readonly T[], f: (x: T) => number): number {
  let s = 0;
  for (const x of xs) s += f(x);
  return s;
}

import { parentPort, workerData } from "node:worker_threads";
import type { Histogram } from "hdr-histogram-js";
import { createClient, type LoadClient, type ClientSpec, LoadClientError } from "./clients.js";
import { encodeHistogram, newHistogram, recordMs } from "./histogram.js";
import { transportFor, type TransportKind, type TransportMix } from "./options.js";
import type {
  ChurnReply,
  CollectReply,
  ConnectReply,
  EchoReply,
  Errors,
  JoinReply,
  PhaseReply,
  StatusReply,
  StormReply,
  WorkerCommand,
  WorkerEvent,
  WorkerInit,
} from "./messages.js";
import { nowMs, parseBroadcastText } from "./text.js";

/** A counting semaphore with callbacks (no promise per acquire). */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = Math.max(1, n);
  }
  acquire(fn: () => void): void {
    if (this.#free > 0) {
      this.#free--;
      fn();
    } else this.#waiting.push(fn);
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

function errCode(err: Error): string {
  return err instanceof LoadClientError ? err.code : err.message.slice(0, 80);
}

function bump(errors: Errors, code: string): void {
  errors[code] = (errors[code] ?? 0) + 1;
}

interface Phase {
  id: string;
  rooms: Set<string>;
  perTick: number;
  tickCounts: Map<number, number>;
  received: number;
  stale: number;
  firstRecvAt: number;
  lastRecvAt: number;
  latency: Histogram;
}

/** The clients one worker thread holds, and the commands it runs over them. */
class LoadWorker {
  readonly #init: WorkerInit;
  readonly #post: (e: WorkerEvent) => void;
  readonly #clients = new Map<number, LoadClient>();
  readonly #rooms = new Map<string, Set<number>>();
  #phase: Phase | undefined;
  #drops = 0;
  #ops = 0;

  constructor(init: WorkerInit, post: (e: WorkerEvent) => void) {
    this.#init = init;
    this.#post = post;
  }

  /** Owned global indices in [from, to). */
  *#owned(from: number, to: number): Generator<number> {
    const { index, count } = this.#init;
    let i = from + ((index - (from % count) + count) % count);
    for (; i < to; i += count) yield i;
  }

  #spec(i: number, transport: TransportKind): ClientSpec {
    const init = this.#init;
    const la = init.localAddresses.length ? init.localAddresses[i % init.localAddresses.length] : undefined;
    return {
      url: init.url,
      protocol: init.protocol,
      namespace: init.namespace,
      path: init.path,
      transport,
      timeoutMs: init.timeoutMs,
      ...(init.auth ? { auth: init.auth } : {}),
      ...(init.headers ? { headers: init.headers } : {}),
      ...(la ? { localAddress: la } : {}),
    };
  }

  #makeClient(i: number, transport: TransportKind): LoadClient {
    const c = createClient(this.#spec(i, transport));
    c.onMessage((text) => this.#onMessage(text));
    c.onDrop(() => {
      this.#drops++;
      for (const set of this.#rooms.values()) set.delete(i);
    });
    return c;
  }

  #onMessage(text: string): void {
    const ph = this.#phase;
    const parsed = parseBroadcastText(text);
    if (!parsed) return;
    if (!ph || parsed.phase !== ph.id) {
      if (ph) ph.stale++;
      return;
    }
    const now = nowMs();
    ph.received++;
    if (ph.firstRecvAt === 0) ph.firstRecvAt = now;
    ph.lastRecvAt = now;
    recordMs(ph.latency, now - parsed.sentAt);
    const n = (ph.tickCounts.get(parsed.tick) ?? 0) + 1;
    if (n >= ph.perTick) {
      ph.tickCounts.delete(parsed.tick);
      this.#post({ type: "tick", phase: ph.id, tick: parsed.tick });
    } else ph.tickCounts.set(parsed.tick, n);
  }

  #connectOne(i: number, transport: TransportKind, latency: Histogram, cb: (err?: Error) => void): void {
    const old = this.#clients.get(i);
    if (old) old.close();
    const c = this.#makeClient(i, transport);
    this.#clients.set(i, c);
    const t0 = nowMs();
    c.connect((err) => {
      if (err) {
        c.close();
        if (this.#clients.get(i) === c) this.#clients.delete(i);
        return cb(err);
      }
      recordMs(latency, nowMs() - t0);
      cb();
    });
  }

  /** Runs `job(i, done)` over indices with a rate (per second, global) and a concurrency cap, until the deadline. */
  #schedule(
    indices: number[],
    base: number,
    rate: number,
    concurrency: number,
    deadlineAt: number,
    job: (i: number, done: () => void) => void,
  ): Promise<boolean> {
    return new Promise((resolve) => {
      const slots = new Slots(Math.ceil(concurrency / this.#init.count));
      const t0 = nowMs();
      let k = 0;
      let outstanding = 0;
      let deadlineHit = false;
      let finishedLaunching = false;
      const maybeDone = (): void => {
        if (finishedLaunching && outstanding === 0) resolve(deadlineHit);
      };
      const launchNext = (): void => {
        if (k >= indices.length) {
          finishedLaunching = true;
          return maybeDone();
        }
        if (nowMs() > deadlineAt) {
          deadlineHit = true;
          finishedLaunching = true;
          return maybeDone();
        }
        const i = indices[k] as number;
        if (rate > 0) {
          const due = t0 + ((i - base) * 1000) / rate;
          const wait = due - nowMs();
          if (wait > 1) {
            setTimeout(launchNext, wait);
            return;
          }
        }
        k++;
        slots.acquire(() => {
          outstanding++;
          job(i, () => {
            outstanding--;
            slots.release();
            maybeDone();
          });
          setImmediate(launchNext);
        });
      };
      launchNext();
    });
  }

  async connect(c: Extract<WorkerCommand, { cmd: "connect" }>): Promise<ConnectReply> {
    const indices = [...this.#owned(c.from, c.to)].filter((i) => !this.#clients.get(i)?.connected);
    const latency = newHistogram();
    const errors: Errors = {};
    let connected = 0;
    let failed = 0;
    const deadlineHit = await this.#schedule(indices, c.from, c.rate, c.concurrency, c.deadlineAt, (i, done) => {
      this.#connectOne(i, transportFor(i, c.mix), latency, (err) => {
        if (err) {
          failed++;
          bump(errors, errCode(err));
        } else connected++;
        done();
      });
    });
    return { attempted: connected + failed, connected, failed, errors, latency: encodeHistogram(latency), deadlineHit };
  }

  join(c: Extract<WorkerCommand, { cmd: "join" }>): Promise<JoinReply> {
    return new Promise((resolve) => {
      const errors: Errors = {};
      let joined = 0;
      let failed = 0;
      let outstanding = 1;
      const set = this.#rooms.get(c.room) ?? new Set<number>();
      this.#rooms.set(c.room, set);
      const done = (): void => {
        if (--outstanding === 0) resolve({ joined, failed, errors });
      };
      for (const i of this.#owned(c.from, c.to)) {
        const client = this.#clients.get(i);
        if (!client?.connected || set.has(i)) continue;
        if (nowMs() > c.deadlineAt) break;
        outstanding++;
        client.join(c.room, (err) => {
          if (err) {
            failed++;
            bump(errors, errCode(err));
          } else {
            joined++;
            set.add(i);
          }
          done();
        });
      }
      done();
    });
  }

  phase(c: Extract<WorkerCommand, { cmd: "phase" }>): PhaseReply {
    let members = 0;
    for (const room of c.rooms) {
      for (const i of this.#rooms.get(room) ?? []) if (this.#clients.get(i)?.connected) members++;
    }
    this.#phase = {
      id: c.phase,
      rooms: new Set(c.rooms),
      perTick: members * c.burst,
      tickCounts: new Map(),
      received: 0,
      stale: 0,
      firstRecvAt: 0,
      lastRecvAt: 0,
      latency: newHistogram(),
    };
    return { members };
  }

  collect(): CollectReply {
    const ph = this.#phase;
    if (!ph) return { received: 0, stale: 0, firstRecvAt: 0, lastRecvAt: 0, latency: "" };
    return { received: ph.received, stale: ph.stale, firstRecvAt: ph.firstRecvAt, lastRecvAt: ph.lastRecvAt, latency: encodeHistogram(ph.latency) };
  }

  echo(c: Extract<WorkerCommand, { cmd: "echo" }>): Promise<EchoReply> {
    return new Promise((resolve) => {
      const clients = [...this.#owned(0, c.clients)].map((i) => this.#clients.get(i)).filter((x): x is LoadClient => !!x?.connected);
      const latency = newHistogram();
      const errors: Errors = {};
      const payload = "x".repeat(c.payloadBytes);
      const startedAt = nowMs();
      const endAt = Math.min(startedAt + c.durationMs, c.deadlineAt);
      const maxOps = c.maxOps > 0 ? Math.ceil(c.maxOps / this.#init.count) : Infinity;
      let ops = 0;
      let failed = 0;
      let issued = 0;
      let loops = 0;
      const finish = (): void => {
        if (--loops > 0) return;
        const endedAt = nowMs();
        resolve({
          clients: clients.length,
          ops,
          failed,
          errors,
          latency: encodeHistogram(latency),
          startedAt,
          endedAt,
          deadlineHit: c.deadlineAt < startedAt + c.durationMs && endedAt >= c.deadlineAt,
        });
      };
      const loop = (client: LoadClient): void => {
        if (nowMs() >= endAt || issued >= maxOps || !client.connected) return finish();
        issued++;
        const t0 = nowMs();
        client.echo(payload, (err) => {
          if (err) {
            failed++;
            bump(errors, errCode(err));
          } else {
            ops++;
            this.#ops++;
            recordMs(latency, nowMs() - t0);
          }
          loop(client);
        });
      };
      loops = 1;
      for (const client of clients) {
        for (let k = 0; k < c.inflight; k++) {
          loops++;
          loop(client);
        }
      }
      finish();
    });
  }

  storm(c: Extract<WorkerCommand, { cmd: "storm" }>): Promise<StormReply> {
    return new Promise((resolve) => {
      const targets = [...this.#clients.entries()].filter(([, cl]) => cl.connected);
      const latency = newHistogram();
      const errors: Errors = {};
      const startedAt = nowMs();
      let reconnected = 0;
      let failed = 0;
      let outstanding = 1;
      let allBackAt = startedAt;
      this.#rooms.clear();
      const done = (): void => {
        if (--outstanding > 0) return;
        resolve({
          clients: targets.length,
          reconnected,
          failed,
          errors,
          latency: encodeHistogram(latency),
          startedAt,
          allBackAt,
          deadlineHit: nowMs() > c.deadlineAt,
        });
      };
      for (const [, cl] of targets) cl.close();
      for (const [i, cl] of targets) {
        outstanding++;
        this.#connectOne(i, cl.transport, latency, (err) => {
          if (err) {
            failed++;
            bump(errors, errCode(err));
          } else {
            reconnected++;
            allBackAt = nowMs();
          }
          done();
        });
      }
      done();
    });
  }

  async churn(c: Extract<WorkerCommand, { cmd: "churn" }>): Promise<ChurnReply> {
    const latency = newHistogram();
    const errors: Errors = {};
    let connects = 0;
    let disconnects = 0;
    let failed = 0;
    let cycles = 0;
    const endAt = Math.min(nowMs() + c.durationMs, c.deadlineAt);
    const indices = [...this.#owned(c.from, c.to)];
    const slots = new Slots(Math.ceil(c.concurrency / this.#init.count));
    const mix: TransportMix = c.mix;
    // every client runs its own cycle loop (the schedule only paces their start); `slots` caps handshakes in flight
    const allLoops = Math.max(1, indices.length) * this.#init.count;
    const deadlineHit = await this.#schedule(indices, c.from, c.rate, allLoops, c.deadlineAt, (i, done) => {
      let n = 0;
      const cycle = (): void => {
        if (n >= c.cycles || nowMs() >= endAt) return done();
        n++;
        slots.acquire(() => {
          this.#connectOne(i, transportFor(i + n, mix), latency, (err) => {
            slots.release();
            if (err) {
              failed++;
              bump(errors, errCode(err));
              return setTimeout(cycle, Math.min(c.holdMs, 100));
            }
            connects++;
            setTimeout(() => {
              this.#clients.get(i)?.close();
              this.#clients.delete(i);
              disconnects++;
              cycles++;
              cycle();
            }, c.holdMs);
          });
        });
      };
      cycle();
    });
    return { connects, disconnects, failed, cycles, errors, latency: encodeHistogram(latency), deadlineHit };
  }

  disconnect(c: Extract<WorkerCommand, { cmd: "disconnect" }>): { closed: number } {
    let closed = 0;
    for (const i of [...this.#clients.keys()]) {
      if (i < c.from || i >= c.to) continue;
      this.#clients.get(i)?.close();
      this.#clients.delete(i);
      for (const set of this.#rooms.values()) set.delete(i);
      closed++;
    }
    return { closed };
  }

  status(): StatusReply {
    let connected = 0;
    for (const c of this.#clients.values()) if (c.connected) connected++;
    return { connected, drops: this.#drops, received: this.#phase?.received ?? 0, ops: this.#ops };
  }

  close(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
    this.#rooms.clear();
    this.#phase = undefined;
  }

  async run(c: WorkerCommand): Promise<unknown> {
    switch (c.cmd) {
      case "connect":
        return this.connect(c);
      case "join":
        return this.join(c);
      case "phase":
        return this.phase(c);
      case "collect":
        return this.collect();
      case "echo":
        return this.echo(c);
      case "storm":
        return this.storm(c);
      case "churn":
        return this.churn(c);
      case "disconnect":
        return this.disconnect(c);
      case "status":
        return this.status();
      case "close":
        this.close();
        return { closed: true };
    }
  }
}

const port = parentPort;
if (port) {
  const worker = new LoadWorker(workerData as WorkerInit, (e) => port.postMessage(e));
  port.on("message", (msg: { id: number; command: WorkerCommand }) => {
    worker.run(msg.command).then(
      (result) => {
        port.postMessage({ type: "reply", id: msg.id, ok: true, result } satisfies WorkerEvent);
        if (msg.command.cmd === "close") setImmediate(() => port.close());
      },
      (err: unknown) => port.postMessage({ type: "reply", id: msg.id, ok: false, error: String((err as Error)?.stack ?? err) } satisfies WorkerEvent),
    );
  });
}

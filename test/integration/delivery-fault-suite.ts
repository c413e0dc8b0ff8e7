// The delivery fault suite (issue 5): N SDK clients subscribed to S streams, P publishers on different nodes, random
// client disconnects of three kinds, a node SIGKILL + restart and Redis CLIENT KILLs during the run; then every client
// must have every seq of every stream exactly once, in order, with the same content (fingerprint), and no resync.
// Commands: each sent 1-5 times with the same idempotency key across forced reconnects and the node kill.
import { Redis } from "ioredis";
import { isDeepStrictEqual } from "node:util";
import { PylonClient } from "../../src/client/index.js";
import { startNginx, startRedis, waitFor, type Cleanup, type NginxProcess, type RedisProcess } from "../helpers/index.js";
import { FNV_SEED, HttpPublisher, fnv, redisClientKill, startDeliveryNode, type DeliveryNode } from "../helpers/streams.js";

export interface FaultSuiteOptions {
  mode: "redis" | "memory";
  nodes: number;
  clients: number;
  streams: number;
  messages: number;
  publishers: number;
  nodeKills: number;
  redisClientKills: number;
  commands: number;
  /** ms between two random client disconnects while publishing. */
  chaosEveryMs: number;
  /** Share of clients on polling only and on polling+upgrade (the rest websocket only). */
  pollingShare: number;
  upgradeShare: number;
  /** Concurrent command senders. */
  commandWorkers: number;
  /** Deadline of each command() call (the SDK retries within it). */
  commandDeadlineMs: number;
  /**
   * Bound of the whole command phase, counted from the end of publishing: calls still outstanding then are counted as
   * failed (stuckCommands) and reported, so a command that never settles fails the run with figures instead of hanging.
   */
  commandPhaseTimeoutMs: number;
  /** How long to wait, after publishing, for every client to have every message. */
  settleTimeoutMs: number;
  log: (line: string) => void;
}

export interface FaultSuiteResult {
  messages: number;
  deliveries: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  fingerprintMismatches: number;
  resyncs: number;
  replayed: number;
  reconnects: number;
  gaps: number;
  disconnectsInjected: Record<string, number>;
  extraAppends: number;
  commandsSent: number;
  commandCalls: number;
  effects: number;
  /** Commands whose effect count is not 1, or that ran again while the node of the earlier run lived. */
  wrongEffects: number;
  /** Handler runs (Redis: recorded with the effect; memory: the effects). */
  runs: number;
  /**
   * Commands run again because the node of the earlier run was SIGKILLed in the crash window (after the effect, before
   * the outcome was stored; docs/delivery.md): allowed, the effect is conditional on the key, so it still happened once.
   */
  crashReruns: number;
  mismatchedResults: number;
  failedCommands: number;
  /** Command calls still outstanding when the command phase timed out (included in failedCommands). */
  stuckCommands: number;
}

interface SubState {
  count: number;
  last: number;
  hash: number;
}

const rnd = (n: number): number => Math.floor(Math.random() * n);

export async function runFaultSuite(o: FaultSuiteOptions, cleanup: Cleanup): Promise<FaultSuiteResult> {
  /** Fault log lines and connection traces count ms from here, so they can be read side by side. */
  const tStart = Date.now();
  let redis: RedisProcess | undefined;
  if (o.mode === "redis") {
    redis = await startRedis();
    cleanup.add(() => redis?.stop());
  }
  const config = {
    server: { demo: false },
    cluster: redis ? { redisUrl: redis.url } : {},
    engine: { pingInterval: 2000, pingTimeout: 3000 },
    delivery: { log: o.mode, httpPublish: true, positionCheckMs: 1000, commands: { leaseMs: 3000 } },
  };
  const nodes: DeliveryNode[] = await Promise.all(Array.from({ length: o.nodes }, (_, i) => startDeliveryNode({ nodeId: `d${i + 1}`, config })));
  for (const n of nodes) cleanup.add(() => n.kill());
  let nginx: NginxProcess | undefined;
  if (o.nodes > 1) {
    nginx = await startNginx({ upstreams: nodes.map((n) => `127.0.0.1:${n.port}`), affinity: "none" });
    cleanup.add(() => nginx?.stop());
  }
  const entry = nginx?.url ?? nodes[0]!.url;
  o.log(`fault suite (${o.mode}): ${o.nodes} node(s)${nginx ? " behind nginx round robin" : ""}, ${o.clients} clients, ${o.streams} streams, ${o.messages} messages, ${o.publishers} publishers (start time ${tStart})`);

  // ---- clients
  const streams = Array.from({ length: o.streams }, (_, i) => `fs.${i}`);
  const states: SubState[][] = [];
  const clients: PylonClient[] = [];
  const traces: string[][] = [];
  let duplicates = 0;
  let outOfOrder = 0;
  let resyncs = 0;
  let replayedAcks = 0;
  for (let i = 0; i < o.clients; i++) {
    const slot = (i % 100) / 100;
    const transports = slot < o.pollingShare ? ["polling"] : slot < o.pollingShare + o.upgradeShare ? ["polling", "websocket"] : ["websocket"];
    const c = new PylonClient(entry, { socket: { transports }, backoff: { baseMs: 100, maxMs: 2000 }, ackTimeoutMs: 5000 });
    cleanup.add(() => c.close());
    traces.push(traceConnection(c, tStart));
    const st: SubState[] = streams.map(() => ({ count: 0, last: 0, hash: FNV_SEED }));
    streams.forEach((s, si) => {
      c.subscribe(
        s,
        (data, meta) => {
          const x = st[si]!;
          if (meta.seq <= x.last) duplicates++;
          else if (meta.seq !== x.last + 1) outOfOrder++;
          x.last = meta.seq;
          x.count++;
          x.hash = fnv(x.hash, `${(data as { k: number }).k},`);
        },
        { after: 0 },
      );
    });
    c.on("resync", () => resyncs++);
    c.on("replayed", () => replayedAcks++);
    clients.push(c);
    states.push(st);
  }
  await waitFor(() => replayedAcks >= o.clients * o.streams, { timeoutMs: 60_000, message: "all clients subscribed" });
  o.log(`  ${o.clients} clients subscribed (+${Date.now() - tStart} ms)`);

  // ---- chaos on clients
  const injected: Record<string, number> = { socket_kill: 0, transport_close: 0, network_close: 0 };
  const disrupt = (c: PylonClient): void => {
    const kind = rnd(3);
    const engine = c.socket.io.engine as unknown as { close(): void; transport?: { name: string; ws?: { _socket?: { destroy(): void } }; pollXhr?: unknown } } | undefined;
    if (!engine || !c.connected) return;
    if (kind === 0) {
      // Socket.IO level: the client closes its socket and reconnects (page navigation, app restart)
      injected.socket_kill!++;
      c.close();
      setTimeout(() => c.connect(), rnd(300));
    } else if (kind === 1) {
      injected.transport_close!++;
      engine.close();
    } else {
      // network-level: the TCP connection disappears under the transport (websocket: destroy the socket; polling:
      // the engine is closed without a close packet)
      injected.network_close!++;
      const raw = engine.transport?.ws?._socket;
      if (raw) raw.destroy();
      else engine.close();
    }
  };

  // ---- publishers
  const publisher = new HttpPublisher();
  cleanup.add(() => publisher.close());
  const expected = streams.map(() => new Map<number, number>());
  let published = 0;
  let extraAppends = 0;
  let next = 0;
  const publishOne = async (p: number, k: number): Promise<void> => {
    const si = k % o.streams;
    let target = p % nodes.length;
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await publisher.publish(nodes[target]!.url, streams[si]!, { event: "m", data: { k }, id: `message-${k}` });
        const prev = expected[si]!.get(r.seq);
        if (prev !== undefined && prev !== k) extraAppends++;
        expected[si]!.set(r.seq, k);
        published++;
        return;
      } catch (err) {
        if (attempt > 200 || /publish 4\d\d/.test((err as Error).message)) throw err;
        target = (target + 1) % nodes.length; // this node is down: same publish id on another node
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const publisherLoop = async (p: number): Promise<void> => {
    const workers = Array.from({ length: 4 }, async () => {
      for (;;) {
        const k = next++;
        if (k >= o.messages) return;
        await publishOne(p, k);
      }
    });
    await Promise.all(workers);
  };

  // ---- commands
  const commandKeys: string[] = [];
  let commandCalls = 0;
  let mismatchedResults = 0;
  let failedCommands = 0;
  let nextCmd = 0;
  /** Outstanding command() calls: "command i try r" -> client index. */
  const outstanding = new Map<string, number>();
  let commandPhaseOver = false;
  const commandLoop = async (): Promise<void> => {
    for (;;) {
      const i = nextCmd++;
      if (i >= o.commands) return;
      // spread the commands over the whole publishing run, so they cross the node kill and the CLIENT KILLs too
      while (published < (i / o.commands) * o.messages * 0.85 && next < o.messages) await new Promise((r) => setTimeout(r, 20));
      const key = `cmd-${i}-${Math.random().toString(36).slice(2, 10)}`;
      commandKeys.push(key);
      const times = 1 + (i % 5);
      let first: unknown;
      for (let r = 0; r < times; r++) {
        const c = clients[rnd(clients.length)]!;
        if (r > 0 && Math.random() < 0.3) disrupt(c);
        commandCalls++;
        const id = `command ${i} try ${r} (key ${key})`;
        outstanding.set(id, clients.indexOf(c));
        try {
          const res = await c.command("test.effect", { i }, { key, deadlineMs: o.commandDeadlineMs });
          if (commandPhaseOver) return; // already counted as stuck
          if (r === 0) first = res;
          else if (!isDeepStrictEqual(res, first)) mismatchedResults++;
        } catch (err) {
          if (commandPhaseOver) return;
          failedCommands++;
          o.log(`  ${id} failed: ${(err as Error).message}`);
        } finally {
          outstanding.delete(id);
        }
      }
    }
  };

  // ---- faults on nodes and Redis, driven by progress
  const faults: Promise<void>[] = [];
  let killsDone = 0;
  let clientKillsDone = 0;
  const killAt = Array.from({ length: o.nodeKills }, (_, i) => (i + 1) / (o.nodeKills + 1) - 0.1);
  const clientKillAt = Array.from({ length: o.redisClientKills }, (_, i) => (i + 1) / (o.redisClientKills + 1) + 0.05);
  const victim = nodes[nodes.length - 1]!;
  /** Node kills run one after another: a kill never hits the victim while it is still restarting. */
  let victimCycle: Promise<void> = Promise.resolve();
  /** When each SIGKILL was sent and when the victim was seen gone (wall clock, as the fixture's run records). */
  const killWindows: { start: number; end: number }[] = [];
  const chaos = setInterval(() => {
    const progress = published / o.messages;
    if (killsDone < killAt.length && progress >= killAt[killsDone]!) {
      killsDone++;
      victimCycle = victimCycle.then(async () => {
        o.log(`  SIGKILL node ${victim.nodeId} at ${published} published (+${Date.now() - tStart} ms)`);
        const start = Date.now();
        await victim.kill();
        killWindows.push({ start, end: Date.now() });
        await new Promise((r) => setTimeout(r, 1000));
        await victim.restart();
        o.log(`  node ${victim.nodeId} restarted (+${Date.now() - tStart} ms)`);
      });
      faults.push(victimCycle);
    }
    if (redis && clientKillsDone < clientKillAt.length && progress >= clientKillAt[clientKillsDone]!) {
      clientKillsDone++;
      const target = nodes[Math.min(1, nodes.length - 1)]!;
      faults.push(
        redisClientKill(redis.url, `pylon-${target.nodeId}-`).then((n) => o.log(`  CLIENT KILL: ${n} Redis connections of node ${target.nodeId} at ${published} published (+${Date.now() - tStart} ms)`)),
      );
    }
    if (o.chaosEveryMs > 0) disrupt(clients[rnd(clients.length)]!);
  }, Math.max(20, o.chaosEveryMs));

  const t0 = Date.now();
  let stuckCommands = 0;
  let phaseTimer: NodeJS.Timeout | undefined;
  try {
    const publishing = Promise.all(Array.from({ length: o.publishers }, (_, p) => publisherLoop(p))).then(() => o.log(`  publishing done in ${Date.now() - t0} ms`));
    const commanding = Promise.all(Array.from({ length: o.commandWorkers }, () => commandLoop())).then(() => o.log(`  commands done in ${Date.now() - t0} ms`));
    // the command phase is bounded: counted from the end of publishing (commands are spread over the publishing run)
    const phaseTimeout = publishing.then(
      () =>
        new Promise<"timeout">((resolve) => {
          phaseTimer = setTimeout(() => resolve("timeout"), o.commandPhaseTimeoutMs);
        }),
    );
    const first = await Promise.race([Promise.all([publishing, commanding]), phaseTimeout]);
    if (first === "timeout") {
      commandPhaseOver = true;
      nextCmd = o.commands;
      stuckCommands = outstanding.size;
      failedCommands += stuckCommands;
      o.log(`  COMMAND PHASE TIMED OUT ${o.commandPhaseTimeoutMs} ms after publishing: ${stuckCommands} command call(s) outstanding, ${nextCmd} of ${o.commands} started`);
      for (const [id, ci] of outstanding) {
        const c = clients[ci];
        const io = c?.socket.io as unknown as { _readyState?: string; engine?: { readyState?: string; transport?: { name?: string } } } | undefined;
        o.log(
          `    outstanding: ${id} on client ${ci} (connected=${c?.connected}, active=${c?.socket.active}, reconnects=${c?.stats.reconnects}, retries=${c?.stats.commandRetries}, manager=${io?._readyState}, engine=${io?.engine?.readyState}/${io?.engine?.transport?.name})`,
        );
      }
      for (const ci of new Set(outstanding.values())) o.log(`    connection trace of client ${ci} (last ${TRACE_LEN} events): ${traces[ci]?.join(" | ")}`);
    }
  } finally {
    if (phaseTimer) clearTimeout(phaseTimer);
    clearInterval(chaos);
    next = o.messages;
    nextCmd = o.commands;
    await Promise.all(faults);
  }
  o.log(`  published ${published} and ran ${o.commands} commands in ${Date.now() - t0} ms; waiting for delivery`);

  // ---- verify
  const heads = streams.map((_, si) => expected[si]!.size);
  const expectedHash = streams.map((_, si) => {
    let h = FNV_SEED;
    for (let seq = 1; seq <= heads[si]!; seq++) h = fnv(h, `${expected[si]!.get(seq)},`);
    return h;
  });
  const allDone = (): boolean => states.every((st) => st.every((x, si) => x.last >= heads[si]!));
  const tSettle = Date.now();
  await waitFor(allDone, { timeoutMs: o.settleTimeoutMs, intervalMs: 200, message: "every client has every message" }).catch((err: Error) => o.log(`  ${err.message}`));
  o.log(`  delivery settled ${Date.now() - tSettle} ms after the last publish`);
  let deliveries = 0;
  let lost = 0;
  let fingerprintMismatches = 0;
  states.forEach((st) =>
    st.forEach((x, si) => {
      deliveries += x.count;
      lost += Math.max(0, heads[si]! - x.count);
      if (x.count === heads[si] && x.hash !== expectedHash[si]) fingerprintMismatches++;
    }),
  );
  // log heads must equal what was published (no append twice)
  for (let si = 0; si < streams.length; si++) {
    const r = (await (await fetch(`${nodes[0]!.url}/api/streams/${streams[si]}?after=0&limit=1`)).json()) as { head: number };
    if (r.head !== heads[si]) extraAppends += Math.abs(r.head - heads[si]!);
  }

  let effects = 0;
  let wrongEffects = 0;
  let runs = 0;
  let crashReruns = 0;
  const logKey = (key: string, what: string): void => {
    o.log(`  command key ${key}: ${what}`);
    for (const nd of nodes) for (const line of nd.logs().split("\n")) if (line.includes(key)) o.log(`    ${nd.nodeId}: ${line.slice(0, 300)}`);
  };
  if (redis) {
    const r = new Redis(redis.url);
    try {
      const values = commandKeys.length ? await r.mget(...commandKeys.map((k) => `fixture:effects:${k}`)) : [];
      const pipe = r.pipeline();
      for (const k of commandKeys) pipe.lrange(`fixture:runs:${k}`, 0, -1);
      const runLists = ((await pipe.exec()) ?? []).map(([, v]) => (v as string[] | null) ?? []);
      values.forEach((v, i) => {
        const key = commandKeys[i]!;
        const n = Number(v ?? 0);
        const list = runLists[i] ?? [];
        effects += n;
        runs += list.length;
        if (n !== 1) {
          wrongEffects++;
          logKey(key, `${n} effects, runs ${list.join(" ") || "none"}`);
          return;
        }
        if (list.length <= 1) return;
        // a re-run is allowed only when the node of the earlier run was killed after that run started and before the
        // next one (its claim lapsed with it); a re-run while that node lived means the claim was lost: a bug
        const parsed = list.map((x) => ({ node: x.slice(0, x.lastIndexOf("@")), at: Number(x.slice(x.lastIndexOf("@") + 1)) }));
        const explained = parsed.slice(0, -1).every((run, j) => run.node === victim.nodeId && killWindows.some((k) => run.at < k.end && k.start < parsed[j + 1]!.at));
        if (explained) {
          crashReruns++;
          logKey(key, `ran again after a SIGKILL of ${victim.nodeId} in the crash window (allowed; effect once): runs ${list.join(" ")}`);
        } else {
          wrongEffects++;
          logKey(key, `ran ${list.length} times while the node of an earlier run lived: runs ${list.join(" ")}`);
        }
      });
    } finally {
      r.disconnect();
    }
  } else {
    const map = (await clients[0]!.command("test.effects", null)) as Record<string, number>;
    for (const k of commandKeys) {
      const n = map[k] ?? 0;
      effects += n;
      runs += n;
      if (n !== 1) wrongEffects++;
    }
  }

  const sum = (f: (c: PylonClient) => number): number => clients.reduce((a, c) => a + f(c), 0);
  const result: FaultSuiteResult = {
    messages: published,
    deliveries,
    lost,
    duplicates,
    outOfOrder,
    fingerprintMismatches,
    resyncs,
    replayed: sum((c) => c.stats.replayed),
    reconnects: sum((c) => c.stats.reconnects),
    gaps: sum((c) => c.stats.gaps),
    disconnectsInjected: injected,
    extraAppends,
    commandsSent: o.commands,
    commandCalls,
    effects,
    wrongEffects,
    runs,
    crashReruns,
    mismatchedResults,
    failedCommands,
    stuckCommands,
  };
  for (const c of clients) c.close();
  publisher.close();
  return result;
}

const TRACE_LEN = 40;

/**
 * The last connection events of a client (SDK, manager, engine and namespace handshake packets), with timestamps
 * relative to the first: printed for clients whose calls are stuck, to tell a lost handshake from an SDK that stopped
 * reconnecting.
 */
function traceConnection(c: PylonClient, t0: number): string[] {
  const trace: string[] = [];
  const add = (what: string): void => {
    trace.push(`+${Date.now() - t0} ms ${what}`);
    if (trace.length > TRACE_LEN) trace.shift();
  };
  type EngineLike = { id?: string; on(ev: string, fn: (...a: unknown[]) => void): void };
  const watchEngine = (engine: EngineLike): void => {
    // socket.io CONNECT (0), DISCONNECT (1) and CONNECT_ERROR (4) packets of the namespace handshake
    const hs = (p: unknown): string | undefined => {
      const d = (p as { type?: string; data?: unknown }).data;
      return (p as { type?: string }).type === "message" && typeof d === "string" && /^[014]/.test(d) ? d.slice(0, 40) : undefined;
    };
    engine.on("packetCreate", (p) => {
      const d = hs(p);
      if (d !== undefined) add(`engine ${engine.id} send ${d}`);
    });
    engine.on("packet", (p) => {
      const d = hs(p);
      if (d !== undefined) add(`engine ${engine.id} recv ${d}`);
    });
    engine.on("close", (reason) => add(`engine ${engine.id} close ${String(reason)}`));
  };
  const io = c.socket.io as unknown as { engine?: EngineLike; on(ev: string, fn: (...a: unknown[]) => void): void };
  io.on("open", () => {
    add(`manager open (engine ${io.engine?.id})`);
    if (io.engine) watchEngine(io.engine);
  });
  io.on("close", (reason) => add(`manager close ${String(reason)}`));
  io.on("error", (err) => add(`manager error ${(err as Error)?.message}`));
  c.on("connect", () => add(`connect ${c.socket.id}`));
  c.on("disconnect", (reason) => add(`disconnect ${reason}`));
  c.on("connect_error", (err) => add(`connect_error ${err.message}`));
  c.on("reconnect_attempt", (n, ms) => add(`reconnect_attempt ${n} in ${Math.round(ms)}ms`));
  return trace;
}

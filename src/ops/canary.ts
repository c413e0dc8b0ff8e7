import { ClientTrigger, LoadSession, nowMs, type BroadcastResult, type BroadcastTrigger, type ConnectResult, type LatencySummary, type TransportKind } from "../load/index.js";
import { DEFAULT_SLO, evaluateSlo, parseSlo, type Slo, type SloResult } from "./slo.js";

/**
 * The canary: a small, bounded synthetic user population that proves a deployment delivers, with an SLO gate.
 * Built on the load engine's phases (src/load: LoadSession, BroadcastTrigger), so canary and `pylon load` measure
 * the same way:
 *   connect  N clients split over the transport mix (websocket / polling / upgrade = polling that must upgrade),
 *            one group after the other so each transport's success is known;
 *   join     M rooms of the demo namespace, each room holding clients of every transport;
 *   publish  `broadcasts` broadcasts per room at `rate`/s through a trigger (default: a client that `say`s);
 *   measure  completeness (received / expected), end-to-end latency p50/p90/p99/p999/max (HDR histogram), connection
 *            success, upgrade success, unexpected disconnects;
 *   gate     compare with the SLO; `ok` when every objective is met.
 * Every phase runs against one deadline; the whole run has a hard stop at deadline + 15 s.
 */
export interface CanaryOptions {
  url: string;
  /** Engine.IO path. */
  path: string;
  /** Namespace with the demo contract (join/say). */
  namespace: string;
  clients: number;
  /** Client counts by transport are derived from these weights. */
  mix: Record<TransportKind, number>;
  rooms: number;
  /** Broadcast ticks (each tick sends one broadcast to every room). */
  broadcasts: number;
  /** Ticks per second. */
  rate: number;
  /** New connections per second (0 = as fast as `concurrency` allows). */
  connectRate: number;
  concurrency: number;
  /** Whole run, seconds. */
  deadlineS: number;
  timeoutMs: number;
  /** Wait for stragglers after the last broadcast (ms). */
  settleMs: number;
  workers: number;
  slo: Slo;
  /** Handshake token (socket.io `auth.token`) for every client and the trigger, where namespaces require a JWT. */
  token?: string;
  /** Another broadcast trigger (e.g. an HTTP publish API); default: a demo client that says. */
  trigger?: BroadcastTrigger;
  onProgress?: (p: CanaryProgress) => void;
}

export interface CanaryProgress {
  phase: string;
  elapsedMs: number;
  connected: number;
  target: number;
  received: number;
}

export interface TransportResult {
  target: number;
  connected: number;
  failed: number;
  errors: Record<string, number>;
  connectLatency: LatencySummary;
}

export interface CanaryReport {
  url: string;
  startedAt: string;
  elapsedMs: number;
  deadlineHit: boolean;
  clients: { target: number; connected: number; failed: number };
  transports: Partial<Record<TransportKind, TransportResult>>;
  /** connected / target over all transports */
  connectSuccess: number;
  /** upgrade-group clients that upgraded / upgrade-group target (null when the mix has no upgrade clients) */
  upgradeSuccess: number | null;
  rooms: number;
  joined: number;
  broadcast: {
    sent: number;
    expected: number;
    received: number;
    completeness: number;
    latency: LatencySummary;
    stalled: boolean;
  } | null;
  drops: number;
  errors: Record<string, number>;
  slo: SloResult[];
  /** Every SLO met. */
  ok: boolean;
  /** Why the run could not measure something (empty when it ran through). */
  problems: string[];
}

export const DEFAULT_CANARY: Omit<CanaryOptions, "url"> = {
  path: "/socket.io/",
  namespace: "/demo",
  clients: 30,
  mix: { websocket: 1, polling: 1, upgrade: 1 },
  rooms: 3,
  broadcasts: 20,
  rate: 10,
  connectRate: 0,
  concurrency: 50,
  deadlineS: 60,
  timeoutMs: 10_000,
  settleMs: 3000,
  workers: 1,
  slo: parseSlo(DEFAULT_SLO),
};

/** Splits n over the weights (largest remainder), in the order websocket, polling, upgrade. */
export function splitByMix(n: number, mix: Record<TransportKind, number>): Record<TransportKind, number> {
  const kinds: TransportKind[] = ["websocket", "polling", "upgrade"];
  const total = kinds.reduce((s, k) => s + Math.max(0, mix[k]), 0);
  if (total <= 0) throw new Error("transport weights must not all be 0");
  const exact = kinds.map((k) => (n * Math.max(0, mix[k])) / total);
  const out = exact.map(Math.floor);
  let left = n - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left <= 0) break;
    if (Math.max(0, mix[kinds[i]!]) === 0) continue;
    out[i]!++;
    left--;
  }
  return { websocket: out[0]!, polling: out[1]!, upgrade: out[2]! };
}

export async function runCanary(o: CanaryOptions): Promise<CanaryReport> {
  const t0 = nowMs();
  const startedAt = new Date().toISOString();
  const deadlineAt = t0 + o.deadlineS * 1000;
  const auth = o.token ? { auth: { token: o.token } } : {};
  const session = new LoadSession({ url: o.url, protocol: "socketio", namespace: o.namespace, path: o.path, workers: o.workers, localAddresses: [], timeoutMs: o.timeoutMs, ...auth });
  const trigger = o.trigger ?? new ClientTrigger({ url: o.url, protocol: "socketio", namespace: o.namespace, path: o.path, timeoutMs: o.timeoutMs, ...auth });
  const counts = splitByMix(o.clients, o.mix);
  const report: CanaryReport = {
    url: o.url,
    startedAt,
    elapsedMs: 0,
    deadlineHit: false,
    clients: { target: o.clients, connected: 0, failed: 0 },
    transports: {},
    connectSuccess: 0,
    upgradeSuccess: null,
    rooms: o.rooms,
    joined: 0,
    broadcast: null,
    drops: 0,
    errors: {},
    slo: [],
    ok: false,
    problems: [],
  };
  let phase = "start";
  let statusBusy = false;
  const progress = o.onProgress
    ? setInterval(() => {
        if (statusBusy) return;
        statusBusy = true;
        session.status().then(
          (s) => {
            statusBusy = false;
            o.onProgress?.({ phase, elapsedMs: nowMs() - t0, connected: s.connected, target: o.clients, received: s.received });
          },
          () => {
            statusBusy = false;
          },
        );
      }, 250)
    : undefined;
  let hardTimer: NodeJS.Timeout | undefined;
  const hardStop = new Promise<never>((_, reject) => {
    hardTimer = setTimeout(() => reject(new Error(`canary passed its hard deadline (${o.deadlineS}s + 15s)`)), o.deadlineS * 1000 + 15_000);
  });
  const addErrors = (e: Record<string, number>): void => {
    for (const [k, v] of Object.entries(e)) report.errors[k] = (report.errors[k] ?? 0) + v;
  };
  try {
    await Promise.race([
      hardStop,
      (async () => {
        await session.ready();
        // connect: one transport group after the other; ranges [start, end) per group
        const ranges: { kind: TransportKind; from: number; to: number }[] = [];
        let end = 0;
        for (const kind of ["websocket", "polling", "upgrade"] as const) {
          const n = counts[kind];
          if (n === 0) continue;
          phase = `connect ${kind}`;
          const from = end;
          end += n;
          const r: ConnectResult = await session.connect({ to: end, rate: o.connectRate, concurrency: o.concurrency, transports: onlyKind(kind), deadlineAt });
          ranges.push({ kind, from, to: end });
          report.transports[kind] = { target: n, connected: r.connected, failed: n - r.connected, errors: r.errors, connectLatency: r.latency };
          addErrors(r.errors);
        }
        const connected = Object.values(report.transports).reduce((s, t) => s + t.connected, 0);
        report.clients = { target: o.clients, connected, failed: o.clients - connected };
        report.connectSuccess = o.clients > 0 ? connected / o.clients : 0;
        const up = report.transports.upgrade;
        report.upgradeSuccess = up ? up.connected / up.target : null;
        if (connected === 0) {
          report.problems.push("no client connected");
          return;
        }
        // join: every room gets a slice of every transport group
        phase = "join";
        const rooms = Array.from({ length: o.rooms }, (_, k) => `canary-${k}`);
        for (const { from, to } of ranges) {
          const size = to - from;
          for (let k = 0; k < o.rooms; k++) {
            const a = from + Math.floor((k * size) / o.rooms);
            const b = from + Math.floor(((k + 1) * size) / o.rooms);
            if (b <= a) continue;
            const j = await session.join(rooms[k]!, a, b, deadlineAt);
            report.joined += j.joined;
            addErrors(j.errors);
          }
        }
        if (report.joined === 0) {
          report.problems.push("no client could join a room");
          return;
        }
        phase = "broadcast";
        const b: BroadcastResult = await session.broadcast({
          trigger,
          rooms,
          rate: o.rate,
          window: 0,
          burst: 1,
          count: o.broadcasts,
          durationMs: Math.ceil((o.broadcasts / o.rate) * 1000) + 1000,
          payloadBytes: 0,
          settleMs: o.settleMs,
          deadlineAt,
        });
        report.broadcast = { sent: b.sent, expected: b.expected, received: b.received, completeness: b.completeness, latency: b.latency, stalled: b.stalled };
        if (b.ticks < o.broadcasts) report.problems.push(`only ${b.ticks} of ${o.broadcasts} broadcasts were sent before the deadline`);
        const s = await session.status();
        report.drops = s.drops;
      })(),
    ]);
  } catch (err) {
    report.problems.push((err as Error)?.message ?? String(err));
  } finally {
    clearTimeout(hardTimer);
    if (progress) clearInterval(progress);
    await trigger.close().catch(() => undefined);
    await session.close().catch(() => undefined);
  }
  report.elapsedMs = Math.round(nowMs() - t0);
  report.deadlineHit = nowMs() >= deadlineAt;
  const lat = report.broadcast?.latency;
  report.slo = evaluateSlo(o.slo, {
    latency: { p50: lat?.p50 ?? Infinity, p90: lat?.p90 ?? Infinity, p99: lat?.p99 ?? Infinity, p999: lat?.p999 ?? Infinity, max: lat?.max ?? Infinity },
    ratio: { completeness: report.broadcast?.completeness ?? 0, connect: report.connectSuccess, upgrade: report.upgradeSuccess },
    drops: report.drops,
  });
  report.ok = report.slo.every((r) => r.ok) && report.problems.length === 0;
  return report;
}

function onlyKind(kind: TransportKind): Record<TransportKind, number> {
  return { websocket: kind === "websocket" ? 1 : 0, polling: kind === "polling" ? 1 : 0, upgrade: kind === "upgrade" ? 1 : 0 };
}

/** Text rendering: the figures, then one line per SLO, then the verdict. */
export function renderCanary(r: CanaryReport): string {
  const pct = (x: number | null): string => (x === null ? "n/a" : `${Math.round(x * 10000) / 100}%`);
  const lines = [`pylon canary ${r.url}  (${(r.elapsedMs / 1000).toFixed(1)} s)`];
  const t = Object.entries(r.transports).map(([k, v]) => `${k} ${v.connected}/${v.target}`);
  lines.push(`  clients     ${r.clients.connected}/${r.clients.target} connected (${t.join(", ")}); connect ${pct(r.connectSuccess)}, upgrade ${pct(r.upgradeSuccess)}`);
  if (r.broadcast) {
    const l = r.broadcast.latency;
    lines.push(`  delivery    ${r.broadcast.received}/${r.broadcast.expected} (${pct(r.broadcast.completeness)}) over ${r.rooms} rooms, ${r.broadcast.sent} broadcasts`);
    lines.push(`  latency     p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, p999 ${l.p999} ms, max ${l.max} ms`);
  }
  if (r.drops) lines.push(`  drops       ${r.drops} unexpected disconnects`);
  const errs = Object.entries(r.errors);
  if (errs.length) lines.push(`  errors      ${errs.map(([k, v]) => `${k} x${v}`).join(", ")}`);
  for (const p of r.problems) lines.push(`  problem     ${p}`);
  for (const s of r.slo) lines.push(`  ${s.ok ? "met     " : "BREACHED"}  ${s.name} ${s.actual} (target ${s.target})`);
  const breached = r.slo.filter((s) => !s.ok).map((s) => s.name);
  lines.push(r.ok ? "canary: SLO met" : `canary: SLO breached${breached.length ? `: ${breached.join(", ")}` : ""}${r.problems.length ? " (run incomplete)" : ""}`);
  return lines.join("\n");
}

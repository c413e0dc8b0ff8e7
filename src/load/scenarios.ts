import type { Errors } from "./messages.js";
import { addErrors } from "./messages.js";
import { defaultPath, parseLoadOptions, type LoadOptions, type LoadOptionsInput } from "./options.js";
import {
  LoadSession,
  type BroadcastResult,
  type ChurnResult,
  type ConnectResult,
  type EchoResult,
  type StormResult,
} from "./session.js";
import { nowMs } from "./text.js";
import { ClientTrigger, type BroadcastTrigger } from "./trigger.js";

/** One progress sample (sent about 4 times a second while a run is under way). */
export interface LoadProgress {
  phase: string;
  elapsedMs: number;
  connected: number;
  target: number;
  received: number;
  ops: number;
}

export interface RunHooks {
  onProgress?: (p: LoadProgress) => void;
  /** Broadcast trigger to use instead of the default ClientTrigger (demo `join` + `say`). */
  trigger?: BroadcastTrigger;
}

/** The JSON report of one run (`pylon load --json` prints exactly this). */
export interface LoadReport {
  scenario: LoadOptions["scenario"];
  protocol: LoadOptions["protocol"];
  url: string;
  clients: number;
  workers: number;
  startedAt: string;
  elapsedMs: number;
  deadlineHit: boolean;
  /** True when every connection, ack and delivery succeeded and nothing dropped. */
  ok: boolean;
  errors: Errors;
  connect?: ConnectResult;
  hold?: { durationMs: number; connectedAtEnd: number; drops: number };
  churn?: ChurnResult;
  storm?: StormResult[];
  broadcast?: BroadcastResult;
  echo?: EchoResult;
  options: LoadOptions;
}

/** Runs one scenario from (possibly partial) options and returns its report. Never runs past `deadline` seconds. */
export async function runScenario(input: LoadOptionsInput | LoadOptions, hooks: RunHooks = {}): Promise<LoadReport> {
  const opts = parseLoadOptions(input);
  const startedAt = new Date();
  const t0 = nowMs();
  const deadlineAt = t0 + opts.deadline * 1000;
  const session = new LoadSession({
    url: opts.url,
    protocol: opts.protocol,
    namespace: opts.namespace,
    path: defaultPath(opts),
    workers: opts.workers,
    localAddresses: opts.localAddresses,
    timeoutMs: opts.timeoutMs,
    auth: opts.auth,
    headers: opts.headers,
  });
  const report: LoadReport = {
    scenario: opts.scenario,
    protocol: opts.protocol,
    url: opts.url,
    clients: opts.clients,
    workers: session.workers,
    startedAt: startedAt.toISOString(),
    elapsedMs: 0,
    deadlineHit: false,
    ok: false,
    errors: {},
    options: opts,
  };
  let phase = "connect";
  let polling = false;
  const progress = hooks.onProgress
    ? setInterval(() => {
        if (polling) return;
        polling = true;
        session.status().then(
          (s) => {
            polling = false;
            hooks.onProgress?.({ phase, elapsedMs: nowMs() - t0, connected: s.connected, target: opts.clients, received: s.received, ops: s.ops });
          },
          () => {
            polling = false;
          },
        );
      }, 250)
    : undefined;
  let hardTimer: NodeJS.Timeout | undefined;
  const hardStop = new Promise<never>((_, reject) => {
    hardTimer = setTimeout(() => reject(new Error(`load run passed its hard deadline (${opts.deadline}s + 15s)`)), opts.deadline * 1000 + 15_000);
  });
  const trigger = hooks.trigger ?? new ClientTrigger({
      url: opts.url,
      protocol: opts.protocol,
      namespace: opts.namespace,
      path: defaultPath(opts),
      timeoutMs: opts.timeoutMs,
      auth: opts.auth,
      headers: opts.headers,
    });
  const connectAll = async (): Promise<ConnectResult> => {
    phase = "connect";
    const r = await session.connect({ to: opts.clients, rate: opts.rate, concurrency: opts.concurrency, transports: opts.transports, deadlineAt });
    report.connect = r;
    addErrors(report.errors, r.errors);
    return r;
  };
  try {
    await Promise.race([
      hardStop,
      (async () => {
        await session.ready();
        switch (opts.scenario) {
          case "connect": {
            await connectAll();
            phase = "hold";
            const holdMs = Math.max(0, Math.min(opts.duration * 1000, deadlineAt - nowMs()));
            await new Promise((r) => setTimeout(r, holdMs));
            const s = await session.status();
            report.hold = { durationMs: holdMs, connectedAtEnd: s.connected, drops: s.drops };
            break;
          }
          case "churn": {
            phase = "churn";
            const r = await session.churn({
              from: 0,
              to: opts.clients,
              cycles: opts.churn.cycles,
              holdMs: opts.churn.holdMs,
              durationMs: opts.duration * 1000,
              rate: opts.rate,
              concurrency: opts.concurrency,
              transports: opts.transports,
              deadlineAt,
            });
            report.churn = r;
            addErrors(report.errors, r.errors);
            break;
          }
          case "storm": {
            await connectAll();
            report.storm = [];
            for (let round = 0; round < opts.storm.rounds && nowMs() < deadlineAt; round++) {
              phase = `storm ${round + 1}/${opts.storm.rounds}`;
              const r = await session.storm(deadlineAt);
              report.storm.push(r);
              addErrors(report.errors, r.errors);
            }
            break;
          }
          case "broadcast": {
            await connectAll();
            phase = "join";
            const rooms: string[] = [];
            const n = opts.broadcast.rooms;
            for (let k = 0; k < n; k++) {
              const room = `load-${k}`;
              rooms.push(room);
              const from = Math.floor((k * opts.clients) / n);
              const to = Math.floor(((k + 1) * opts.clients) / n);
              const j = await session.join(room, from, to, deadlineAt);
              addErrors(report.errors, j.errors);
            }
            phase = "broadcast";
            const r = await session.broadcast({
              trigger,
              rooms,
              rate: opts.broadcast.rate,
              window: opts.broadcast.window,
              burst: opts.broadcast.burst,
              count: opts.broadcast.count,
              durationMs: opts.duration * 1000,
              payloadBytes: opts.broadcast.payloadBytes,
              settleMs: opts.broadcast.settleMs,
              deadlineAt,
            });
            report.broadcast = r;
            break;
          }
          case "echo": {
            await connectAll();
            phase = "echo";
            const r = await session.echo({
              clients: opts.clients,
              durationMs: opts.duration * 1000,
              inflight: opts.echo.inflight,
              payloadBytes: opts.echo.payloadBytes,
              maxOps: opts.echo.maxOps,
              deadlineAt,
            });
            report.echo = r;
            addErrors(report.errors, r.errors);
            break;
          }
        }
      })(),
    ]);
  } finally {
    clearTimeout(hardTimer);
    if (progress) clearInterval(progress);
    await trigger.close();
    await session.close();
  }
  report.elapsedMs = nowMs() - t0;
  report.deadlineHit = nowMs() >= deadlineAt || !!report.connect?.deadlineHit;
  report.ok = isClean(report);
  return report;
}

function isClean(r: LoadReport): boolean {
  if (Object.keys(r.errors).length > 0 || r.deadlineHit) return false;
  if (r.connect && r.connect.connected !== r.connect.target) return false;
  if (r.hold && r.hold.drops > 0) return false;
  if (r.churn && r.churn.failed > 0) return false;
  if (r.storm && r.storm.some((s) => s.failed > 0 || s.reconnected !== s.clients)) return false;
  if (r.broadcast && (r.broadcast.completeness < 1 || r.broadcast.stalled)) return false;
  if (r.echo && (r.echo.failed > 0 || r.echo.ops === 0)) return false;
  return true;
}

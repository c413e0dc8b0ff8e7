import type { Metrics } from "../metrics.js";
import { bucketDelta, buckets, byLabel, has, quantile, sum, takeSnapshot, type Snapshot } from "./snapshot.js";

/** Node-level facts the stats need besides the metrics registry. */
export interface StatsSource {
  nodeId: string;
  metrics: Metrics;
  readiness(): { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> };
  startedAt: number;
}

export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  /** Observations in the rate window (or since start when `window` is false). */
  count: number;
  /** True when computed over the rate window; false when the window had no observations (then: since start). */
  window: boolean;
}

/** The JSON body of GET /api/stats. All rates are per second over the rate window; times in seconds. */
export interface NodeStats {
  scope: "node";
  nodeId: string;
  time: string;
  uptimeSeconds: number;
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
  windowSeconds: number;
  connections: { total: number; byTransport: Record<string, number>; byProtocol: Record<string, number>; byNamespace: Record<string, number> };
  handshakes: { ok: number; failed: number; failedByCode: Record<string, number> };
  upgrades: { attempted: number; succeeded: number; failed: number; successRate: number | null; failuresByReason: Record<string, number>; timeToUpgrade: Percentiles };
  events: {
    inPerSec: number;
    outPerSec: number;
    inTotal: number;
    outTotal: number;
    byName: { event: string; inPerSec: number; outPerSec: number; inTotal: number; outTotal: number }[];
  };
  bytes: { inPerSec: number; outPerSec: number | null; inTotal: number; outTotal: number | null };
  drops: { total: number; perSec: number; byReason: Record<string, number> };
  disconnects: { total: number; perSec: number; byReason: Record<string, number> };
  latency: { ackClientToServer: Percentiles; ackServerToClient: Percentiles };
  clients: { eio: string; client: string; version: string; handshakes: number }[];
  /** null fields: no backplane (memory adapter). */
  backplane: { connected: boolean | null; publishErrors: number; rtt: Percentiles };
  streams: { publishedPerSec: number; replayedPerSec: number; subscriptions: number; resyncs: number };
  process: { rssBytes: number; heapUsedBytes: number; eventLoopLagP99Seconds: number | null };
  security: { total: number; byType: Record<string, number>; recent: ReturnType<Metrics["securityEvents"]["recent"]> };
}

const RECENT_SECURITY = 50;

/**
 * Builds /api/stats from the metrics registry: a sample every sampleIntervalMs (kept for rateWindowMs) gives rates and
 * windowed latency percentiles; gauges and totals come from a fresh snapshot per request. Metric names registered by
 * other modules (drops, outbound bytes) are read by name, so the stats show them as soon as those modules run.
 */
export class StatsService {
  readonly #src: StatsSource;
  readonly #windowMs: number;
  readonly #intervalMs: number;
  readonly #samples: Snapshot[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;

  constructor(src: StatsSource, opts: { sampleIntervalMs: number; rateWindowMs: number }) {
    this.#src = src;
    this.#windowMs = opts.rateWindowMs;
    this.#intervalMs = opts.sampleIntervalMs;
  }

  start(): void {
    if (this.#timer) return;
    void this.#sample();
    this.#timer = setInterval(() => void this.#sample(), this.#intervalMs);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#samples.length = 0;
  }

  async #sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const s = await takeSnapshot(this.#src.metrics.registry, Date.now());
      this.#samples.push(s);
      const keep = Math.ceil(this.#windowMs / this.#intervalMs) + 2;
      while (this.#samples.length > keep) this.#samples.shift();
    } catch {
      // a collect() of another module failed; the next sample retries
    } finally {
      this.#sampling = false;
    }
  }

  /** The oldest sample not older than the window (or the oldest one we have). */
  #baseline(now: number): Snapshot | undefined {
    for (const s of this.#samples) if (now - s.at <= this.#windowMs + this.#intervalMs) return s;
    return this.#samples[0];
  }

  async stats(): Promise<NodeStats> {
    const { metrics, nodeId } = this.#src;
    const p = metrics.prefix;
    const now = Date.now();
    const cur = await takeSnapshot(metrics.registry, now);
    const base = this.#baseline(now);
    const dt = base && now - base.at >= 250 ? (now - base.at) / 1000 : 0;
    const rate = (name: string, filter?: (l: Record<string, string | number>) => boolean): number =>
      dt > 0 ? Math.max(0, (sum(cur, name, filter) - sum(base, name, filter)) / dt) : 0;

    const upgrades = byLabel(cur, `${p}transport_upgrades_total`, "outcome");
    const attempted = upgrades.attempted ?? 0;
    const succeeded = upgrades.succeeded ?? 0;
    const handshakes = byLabel(cur, `${p}handshakes_total`, "outcome");
    const { ok: hsOk = 0, ...hsFailed } = handshakes;

    const evIn = byLabel(cur, `${p}events_in_total`, "event");
    const evOut = byLabel(cur, `${p}events_out_total`, "event");
    const evInBase = byLabel(base, `${p}events_in_total`, "event");
    const evOutBase = byLabel(base, `${p}events_out_total`, "event");
    const names = [...new Set([...Object.keys(evIn), ...Object.keys(evOut)])].sort();
    const perSec = (a: number, b: number): number => (dt > 0 ? Math.max(0, (a - b) / dt) : 0);
    const byName = names.map((event) => ({
      event,
      inPerSec: perSec(evIn[event] ?? 0, evInBase[event] ?? 0),
      outPerSec: perSec(evOut[event] ?? 0, evOutBase[event] ?? 0),
      inTotal: evIn[event] ?? 0,
      outTotal: evOut[event] ?? 0,
    }));

    const outBytesName = `${p}outbound_bytes_total`;
    const security = metrics.securityEvents;
    const mem = process.memoryUsage();
    const lag = cur.metrics.get(`${p}nodejs_eventloop_lag_p99_seconds`)?.[0]?.value;
    return {
      scope: "node",
      nodeId,
      time: new Date(now).toISOString(),
      uptimeSeconds: Math.round((now - this.#src.startedAt) / 1000),
      ...this.#src.readiness(),
      windowSeconds: dt,
      connections: {
        total: sum(cur, `${p}engine_connections`),
        byTransport: byLabel(cur, `${p}sockets_connected`, "transport"),
        byProtocol: byLabel(cur, `${p}engine_connections`, "protocol"),
        byNamespace: byLabel(cur, `${p}sockets_connected`, "namespace"),
      },
      handshakes: { ok: hsOk, failed: Object.values(hsFailed).reduce((a, b) => a + b, 0), failedByCode: hsFailed },
      upgrades: {
        attempted,
        succeeded,
        failed: upgrades.failed ?? 0,
        successRate: attempted > 0 ? Math.min(1, succeeded / attempted) : null,
        failuresByReason: byLabel(cur, `${p}transport_upgrade_failures_total`, "reason"),
        timeToUpgrade: this.#percentiles(cur, base, `${p}transport_upgrade_duration_seconds`),
      },
      events: {
        inPerSec: rate(`${p}events_in_total`),
        outPerSec: rate(`${p}events_out_total`),
        inTotal: sum(cur, `${p}events_in_total`),
        outTotal: sum(cur, `${p}events_out_total`),
        byName,
      },
      bytes: {
        inPerSec: rate(`${p}bytes_in_total`),
        inTotal: sum(cur, `${p}bytes_in_total`),
        outPerSec: has(cur, outBytesName) ? rate(outBytesName) : null,
        outTotal: has(cur, outBytesName) ? sum(cur, outBytesName) : null,
      },
      drops: { total: sum(cur, `${p}drops_total`), perSec: rate(`${p}drops_total`), byReason: nonZero(byLabel(cur, `${p}drops_total`, "reason")) },
      disconnects: { total: sum(cur, `${p}disconnects_total`), perSec: rate(`${p}disconnects_total`), byReason: byLabel(cur, `${p}disconnects_total`, "reason") },
      latency: {
        ackClientToServer: this.#percentiles(cur, base, `${p}ack_latency_seconds`, (l) => l.direction === "client_to_server"),
        ackServerToClient: this.#percentiles(cur, base, `${p}ack_latency_seconds`, (l) => l.direction === "server_to_client"),
      },
      clients: (cur.metrics.get(`${p}client_handshakes_total`) ?? [])
        .map((v) => ({ eio: String(v.labels.eio), client: String(v.labels.client), version: String(v.labels.version), handshakes: v.value }))
        .sort((a, b) => b.handshakes - a.handshakes),
      backplane: {
        // backplane_connected is 0 without a backplane too: a node has one once its health reported a state
        connected: sum(cur, `${p}backplane_state_changes_total`) > 0 ? sum(cur, `${p}backplane_connected`) >= 1 : null,
        publishErrors: sum(cur, `${p}backplane_publish_errors_total`),
        rtt: this.#percentiles(cur, base, `${p}backplane_publish_rtt_seconds`),
      },
      streams: {
        publishedPerSec: rate(`${p}stream_published_total`),
        replayedPerSec: rate(`${p}stream_replayed_messages_total`),
        subscriptions: sum(cur, `${p}stream_subscriptions`),
        resyncs: sum(cur, `${p}stream_resyncs_total`),
      },
      process: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, eventLoopLagP99Seconds: lag ?? null },
      security: {
        total: sum(cur, `${p}security_events_total`),
        byType: byLabel(cur, `${p}security_events_total`, "type"),
        recent: security.recent(RECENT_SECURITY),
      },
    };
  }

  #percentiles(cur: Snapshot, base: Snapshot | undefined, name: string, filter?: (l: Record<string, string | number>) => boolean): Percentiles {
    const total = buckets(cur, name, filter);
    const windowed = bucketDelta(total, base ? buckets(base, name, filter) : undefined);
    const useWindow = base !== undefined && windowed.count > 0;
    const h = useWindow ? windowed : total;
    return { p50: quantile(0.5, h), p90: quantile(0.9, h), p99: quantile(0.99, h), count: h.count, window: useWindow };
  }
}

function nonZero(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).filter(([, v]) => v > 0));
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration } from "prom-client";
import type { PylonConfig } from "../config/index.js";
import { BucketHistogram, type HistogramSeries } from "./bucket-histogram.js";
import { DeferredSeries } from "./deferred-series.js";
import { EventCounters } from "./event-tally.js";
import { SecurityEvents } from "./security-events.js";

/** Latency buckets (seconds) shared by ack and upgrade histograms: 0.5 ms .. 10 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Capacity of the recent security events ring buffer. */
export const SECURITY_EVENTS_CAPACITY = 200;

/**
 * One Prometheus registry per Pylon instance (no global state), plus the core instruments.
 * Feature modules register their own instruments through counter()/gauge()/histogram(), which apply the prefix
 * and return the existing instrument when asked twice for the same name.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly prefix: string;

  /** Connected sockets by namespace and transport. */
  readonly socketsConnected: Gauge<"namespace" | "transport">;
  /** Engine.IO connections by protocol version (3 or 4). */
  readonly engineConnections: Gauge<"protocol">;
  /** Handshakes by outcome (ok, or the engine error code name). */
  readonly handshakes: Counter<"outcome">;
  /** Namespace connects by namespace and outcome. */
  readonly namespaceConnects: Counter<"namespace" | "outcome">;
  /** Socket disconnects by reason. */
  readonly disconnects: Counter<"namespace" | "reason">;
  /** Engine connection errors (bad requests, unknown sid, unsupported protocol...) by code. */
  readonly engineErrors: Counter<"code">;
  /** Engine-level closes by reason (parse error, transport error, ping timeout...). */
  readonly engineCloses: Counter<"reason">;
  /** Transport upgrades by outcome: attempted, succeeded, failed. */
  readonly upgrades: Counter<"outcome">;
  /** Failed upgrades by reason: probe_closed, timeout, socket_closed. */
  readonly upgradeFailures: Counter<"reason">;
  /** Time from the handshake to a completed upgrade to websocket. */
  readonly upgradeDuration: HistogramSeries;
  /** Handshakes by client identity (EIO revision, client family, `v` version). */
  readonly clientHandshakes: Counter<"eio" | "client" | "version">;
  /** Events received from clients, by namespace and declared event name ("other" otherwise). */
  readonly eventsIn: Counter<"namespace" | "event">;
  /** Events sent to clients (each delivery counts), by namespace and declared event name. */
  readonly eventsOut: Counter<"namespace" | "event">;
  /** Bytes of Engine.IO message payloads received. */
  readonly bytesIn: Counter;
  /** Ack round trips: client_to_server (server handler answered) and server_to_client (client answered). */
  readonly ackLatency: BucketHistogram<"direction">;
  /** The event tallies behind eventsIn/eventsOut (hot path: `tally.in++`). */
  readonly events = new EventCounters();
  /** Recent security events (ring buffer) and their counter. */
  readonly securityEvents: SecurityEvents;
  /**
   * The per-connection series of the metrics above, counted as plain numbers (by the lifecycle observer; upgrades by
   * the upgrade tracker) and applied at scrape time (see DeferredSeries): a handshake or an upgrade costs no
   * prom-client label hashing.
   */
  readonly perConnection = {
    socketsConnected: new DeferredSeries<"namespace" | "transport">(["namespace", "transport"]),
    engineConnections: new DeferredSeries<"protocol">(["protocol"]),
    handshakes: new DeferredSeries<"outcome">(["outcome"]),
    namespaceConnects: new DeferredSeries<"namespace" | "outcome">(["namespace", "outcome"]),
    disconnects: new DeferredSeries<"namespace" | "reason">(["namespace", "reason"]),
    engineCloses: new DeferredSeries<"reason">(["reason"]),
    clientHandshakes: new DeferredSeries<"eio" | "client" | "version">(["eio", "client", "version"]),
    upgrades: new DeferredSeries<"outcome">(["outcome"]),
  };
  /** Payload bytes received, flushed into bytesIn at scrape time. */
  bytesInCount = 0;
  #bytesInFlushed = 0;

  constructor(config: PylonConfig["metrics"]) {
    this.prefix = config.prefix;
    // Default metrics include nodejs_eventloop_lag_seconds (+ percentiles) and nodejs_gc_duration_seconds (by kind).
    if (config.enabled && config.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: this.prefix });
    const hot = this.perConnection;
    this.socketsConnected = this.gauge({ name: "sockets_connected", help: "Connected sockets by namespace and transport", labelNames: ["namespace", "transport"], collect: () => hot.socketsConnected.flush(this.socketsConnected, "gauge") });
    this.engineConnections = this.gauge({ name: "engine_connections", help: "Open Engine.IO connections by protocol version (EIO=3|4)", labelNames: ["protocol"], collect: () => hot.engineConnections.flush(this.engineConnections, "gauge") });
    this.handshakes = this.counter({ name: "handshakes_total", help: "Engine.IO handshakes by outcome", labelNames: ["outcome"], collect: () => hot.handshakes.flush(this.handshakes, "counter") });
    this.namespaceConnects = this.counter({ name: "namespace_connects_total", help: "Namespace connects by namespace and outcome", labelNames: ["namespace", "outcome"], collect: () => hot.namespaceConnects.flush(this.namespaceConnects, "counter") });
    this.disconnects = this.counter({ name: "disconnects_total", help: "Socket disconnects by namespace and reason", labelNames: ["namespace", "reason"], collect: () => hot.disconnects.flush(this.disconnects, "counter") });
    this.engineErrors = this.counter({ name: "engine_connection_errors_total", help: "Rejected Engine.IO requests by error code", labelNames: ["code"] });
    this.engineCloses = this.counter({ name: "engine_closes_total", help: "Engine.IO connection closes by reason", labelNames: ["reason"], collect: () => hot.engineCloses.flush(this.engineCloses, "counter") });
    this.upgrades = this.counter({ name: "transport_upgrades_total", help: "Transport upgrades (polling -> websocket) by outcome: attempted, succeeded, failed", labelNames: ["outcome"], collect: () => hot.upgrades.flush(this.upgrades, "counter") });
    this.upgradeFailures = this.counter({ name: "transport_upgrade_failures_total", help: "Failed upgrades by reason: probe_closed (websocket probe closed first), timeout (engine.upgradeTimeout), socket_closed", labelNames: ["reason"] });
    // once per upgrade, like a handshake: a BucketHistogram series (no label hashing per observation)
    this.upgradeDuration = new BucketHistogram(
      { name: this.prefix + "transport_upgrade_duration_seconds", help: "Time from the Engine.IO handshake to a completed upgrade to websocket", buckets: LATENCY_BUCKETS, series: [{}] },
      this.registry,
    ).series({});
    this.clientHandshakes = this.counter({
      name: "client_handshakes_total",
      help: "Handshakes by client identity: EIO revision, client family (User-Agent), version (v query parameter)",
      labelNames: ["eio", "client", "version"],
      collect: () => hot.clientHandshakes.flush(this.clientHandshakes, "counter"),
    });
    const flushEvents = (): void => {
      if (this.eventsIn && this.eventsOut) this.events.flush(this.eventsIn, this.eventsOut);
    };
    this.eventsIn = this.counter({ name: "events_in_total", help: "Events received from clients by namespace and declared event name (others: event=\"other\")", labelNames: ["namespace", "event"], collect: flushEvents });
    this.eventsOut = this.counter({ name: "events_out_total", help: "Events delivered to clients (one per recipient) by namespace and declared event name", labelNames: ["namespace", "event"], collect: flushEvents });
    const flushBytes = (): void => {
      const delta = this.bytesInCount - this.#bytesInFlushed;
      if (delta > 0) {
        this.bytesIn.inc(delta);
        this.#bytesInFlushed = this.bytesInCount;
      }
    };
    this.bytesIn = this.counter({ name: "bytes_in_total", help: "Bytes of Engine.IO message payloads received (UTF-8 / binary length)", collect: flushBytes });
    // per-event hot path: a BucketHistogram (see its doc for why not prom-client's Histogram); both series exist at 0
    this.ackLatency = new BucketHistogram(
      {
        name: this.prefix + "ack_latency_seconds",
        help: "Ack round trip: client_to_server = event received to handler ack; server_to_client = emit to client ack",
        buckets: LATENCY_BUCKETS,
        series: [{ direction: "client_to_server" }, { direction: "server_to_client" }],
      },
      this.registry,
    );
    const securityCounter = this.counter({ name: "security_events_total", help: "Security events recorded for the admin dashboard, by type", labelNames: ["type"] });
    this.securityEvents = new SecurityEvents(SECURITY_EVENTS_CAPACITY, securityCounter);
    this.declareEvents(config.eventNames);
    // Series alerts and dashboards divide by exist from the start (0), not only after the first occurrence.
    for (const outcome of ["attempted", "succeeded", "failed"]) hot.upgrades.of1(outcome);
    for (const reason of ["probe_closed", "timeout", "socket_closed"]) this.upgradeFailures.inc({ reason }, 0);
    this.handshakes.inc({ outcome: "ok" }, 0);
  }

  /**
   * Declares event names counted by name in events_in_total/events_out_total (others count as "other").
   * Returns the names refused (invalid names, or over the cap of 256).
   */
  declareEvents(names: readonly string[]): string[] {
    return this.events.declare(names);
  }

  counter<L extends string>(cfg: CounterConfiguration<L>): Counter<L> {
    return this.getOrCreate(cfg.name, () => new Counter<L>({ ...cfg, name: this.prefix + cfg.name, registers: [this.registry] }));
  }

  gauge<L extends string>(cfg: GaugeConfiguration<L>): Gauge<L> {
    return this.getOrCreate(cfg.name, () => new Gauge<L>({ ...cfg, name: this.prefix + cfg.name, registers: [this.registry] }));
  }

  histogram<L extends string>(cfg: HistogramConfiguration<L>): Histogram<L> {
    return this.getOrCreate(cfg.name, () => new Histogram<L>({ ...cfg, name: this.prefix + cfg.name, registers: [this.registry] }));
  }

  private getOrCreate<T>(name: string, make: () => T): T {
    const existing = this.registry.getSingleMetric(this.prefix + name);
    return (existing as T | undefined) ?? make();
  }

  /** Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  close(): void {
    this.registry.clear();
  }
}

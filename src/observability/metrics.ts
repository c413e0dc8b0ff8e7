import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration } from "prom-client";
import type { PylonConfig } from "../config/index.js";

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
  /** Transport upgrades by outcome. */
  readonly upgrades: Counter<"outcome">;

  constructor(config: PylonConfig["metrics"]) {
    this.prefix = config.prefix;
    if (config.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: this.prefix });
    this.socketsConnected = this.gauge({ name: "sockets_connected", help: "Connected sockets by namespace and transport", labelNames: ["namespace", "transport"] });
    this.engineConnections = this.gauge({ name: "engine_connections", help: "Open Engine.IO connections by protocol version (EIO=3|4)", labelNames: ["protocol"] });
    this.handshakes = this.counter({ name: "handshakes_total", help: "Engine.IO handshakes by outcome", labelNames: ["outcome"] });
    this.namespaceConnects = this.counter({ name: "namespace_connects_total", help: "Namespace connects by namespace and outcome", labelNames: ["namespace", "outcome"] });
    this.disconnects = this.counter({ name: "disconnects_total", help: "Socket disconnects by namespace and reason", labelNames: ["namespace", "reason"] });
    this.engineErrors = this.counter({ name: "engine_connection_errors_total", help: "Rejected Engine.IO requests by error code", labelNames: ["code"] });
    this.engineCloses = this.counter({ name: "engine_closes_total", help: "Engine.IO connection closes by reason", labelNames: ["reason"] });
    this.upgrades = this.counter({ name: "transport_upgrades_total", help: "Transport upgrades (polling -> websocket) by outcome", labelNames: ["outcome"] });
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

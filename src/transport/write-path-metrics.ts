import type { Histogram } from "prom-client";
import type { Metrics } from "../observability/metrics.js";

/**
 * Outbound write-path instruments. The hot paths only add to plain numbers (`add*`); prom-client reads them at scrape
 * time through `collect`, so a delivery never touches a metric, a label or an allocation.
 */
export class WritePathMetrics {
  #fastPackets = 0;
  #fastBytes = 0;
  #enginePackets = 0;
  #engineBytes = 0;
  readonly fanout: Histogram<string>;

  constructor(metrics: Metrics) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    metrics.counter({
      name: "outbound_packets_total",
      help: "Outbound messages by write path: fast (frame written straight to the WebSocket) or engine (engine.io's write path)",
      labelNames: ["path"],
      collect() {
        this.labels("fast").inc(self.#fastPackets);
        this.labels("engine").inc(self.#enginePackets);
        self.#fastPackets = 0;
        self.#enginePackets = 0;
      },
    });
    metrics.counter({
      name: "outbound_bytes_total",
      help: "Outbound bytes by write path (fast | engine)",
      labelNames: ["path"],
      collect() {
        this.labels("fast").inc(self.#fastBytes);
        this.labels("engine").inc(self.#engineBytes);
        self.#fastBytes = 0;
        self.#engineBytes = 0;
      },
    });
    this.fanout = metrics.histogram({
      name: "broadcast_fanout",
      help: "Local targets per broadcast (broadcasts without ack)",
      buckets: [1, 10, 100, 1000, 5000, 10_000, 50_000],
    });
  }

  addFast(packets: number, bytes: number): void {
    this.#fastPackets += packets;
    this.#fastBytes += bytes;
  }

  addEngine(packets: number, bytes: number): void {
    this.#enginePackets += packets;
    this.#engineBytes += bytes;
  }
}

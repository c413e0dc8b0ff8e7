import type { Counter, Histogram } from "prom-client";
import type { Metrics } from "../observability/metrics.js";

export const DROP_REASONS = [
  "volatile_congested",
  "volatile_busy",
  "telemetry_oldest",
  "slow_consumer",
  "inbound_overloaded",
  "inbound_overflow",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * Flow-control and write-path instruments. Label children are bound once here so the hot paths never look labels
 * up; the write path increments them once per broadcast, not per delivery.
 */
export class FlowMetrics {
  readonly drops: Record<DropReason, Counter.Internal>;
  readonly slowConsumerDisconnects: Counter<string>;
  readonly pendingBytes: Histogram<string>;
  readonly packetsFast: Counter.Internal;
  readonly packetsEngine: Counter.Internal;
  readonly bytesFast: Counter.Internal;
  readonly bytesEngine: Counter.Internal;
  readonly fanout: Histogram<string>;
  readonly inboundQueued: Counter<string>;

  constructor(metrics: Metrics) {
    const drops = metrics.counter({ name: "drops_total", help: "Messages dropped by flow control, by reason", labelNames: ["reason"] });
    this.drops = Object.fromEntries(DROP_REASONS.map((r) => [r, drops.labels(r)])) as Record<DropReason, Counter.Internal>;
    this.slowConsumerDisconnects = metrics.counter({
      name: "slow_consumer_disconnects_total",
      help: "Connections closed because their pending outbound data exceeded flow.hardLimitBytes/hardLimitPackets",
    });
    this.pendingBytes = metrics.histogram({
      name: "pending_outbound_bytes",
      help: "Pending outbound bytes per connection (engine write buffer + WebSocket/TCP user-space buffer), sampled every flow.sampleIntervalMs",
      buckets: [0, 1024, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216],
    });
    const packets = metrics.counter({
      name: "outbound_packets_total",
      help: "Outbound messages by write path: fast (frame written straight to the WebSocket) or engine (engine.io's write path)",
      labelNames: ["path"],
    });
    const bytes = metrics.counter({ name: "outbound_bytes_total", help: "Outbound bytes by write path", labelNames: ["path"] });
    this.packetsFast = packets.labels("fast");
    this.packetsEngine = packets.labels("engine");
    this.bytesFast = bytes.labels("fast");
    this.bytesEngine = bytes.labels("engine");
    this.fanout = metrics.histogram({
      name: "broadcast_fanout",
      help: "Local targets per broadcast (broadcasts without ack)",
      buckets: [1, 10, 100, 1000, 5000, 10_000, 50_000],
    });
    this.inboundQueued = metrics.counter({
      name: "inbound_queued_total",
      help: "Inbound events that waited for a handler slot (flow.inboundMaxConcurrent reached)",
    });
    for (const r of DROP_REASONS) this.drops[r].inc(0);
    this.packetsFast.inc(0);
    this.packetsEngine.inc(0);
  }
}

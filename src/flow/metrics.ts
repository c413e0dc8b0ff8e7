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
 * Flow-control instruments (outbound policies, slow consumers, inbound limits). Label children are bound once here so the hot paths never look labels
 * up.
 */
export class FlowMetrics {
  readonly drops: Record<DropReason, Counter.Internal>;
  readonly slowConsumerDisconnects: Counter<string>;
  readonly pendingBytes: Histogram<string>;
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
    this.inboundQueued = metrics.counter({
      name: "inbound_queued_total",
      help: "Inbound events that waited for a handler slot (flow.inboundMaxConcurrent reached)",
    });
    for (const r of DROP_REASONS) this.drops[r].inc(0);
  }
}

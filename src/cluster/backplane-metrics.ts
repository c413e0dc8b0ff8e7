import type { Counter, Gauge, Histogram } from "prom-client";
import type { Metrics } from "../observability/metrics.js";

/** The backplane instruments (Redis pub/sub or node:cluster IPC), shared by the adapter clients and the health probe. */
export interface BackplaneMetrics {
  connected: Gauge;
  rtt: Histogram;
  publishErrors: Counter;
  messagesOut: Counter;
  messagesIn: Counter;
  stateChanges: Counter<"state">;
}

export function backplaneMetrics(metrics: Metrics): BackplaneMetrics {
  return {
    connected: metrics.gauge({ name: "backplane_connected", help: "1 while the backplane (Redis or cluster IPC) passes its publish/subscribe round trip, else 0" }),
    rtt: metrics.histogram({
      name: "backplane_publish_rtt_seconds",
      help: "Publish/subscribe round trip of the backplane health probe",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
    publishErrors: metrics.counter({ name: "backplane_publish_errors_total", help: "Backplane publishes that failed (the message was dropped)" }),
    messagesOut: metrics.counter({ name: "backplane_messages_out_total", help: "Messages published to the backplane" }),
    messagesIn: metrics.counter({ name: "backplane_messages_in_total", help: "Messages received from the backplane" }),
    stateChanges: metrics.counter({ name: "backplane_state_changes_total", help: "Backplane health transitions by new state", labelNames: ["state"] }),
  };
}

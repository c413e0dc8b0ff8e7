import { z } from "zod";

export const EVENT_CLASSES = ["reliable", "volatile", "telemetry"] as const;
export type EventClass = (typeof EVENT_CLASSES)[number];

/** Per-socket flow control and the outbound write path. Owned by src/flow and src/transport (issues 3 and 7). */
export const flowSection = z
  .object({
    enabled: z.boolean().default(true).meta({
      description:
        "Per-socket outbound accounting and limits (volatile/telemetry drops, slow-consumer disconnects) and inbound handler limits.",
    }),
    fastPath: z.boolean().default(true).meta({
      description:
        "Broadcast fast path: write the pre-built WebSocket frame straight to idle websocket connections (see docs/flow-control.md). Off: socket.io's normal write path.",
    }),
    coalesce: z.boolean().default(true).meta({
      description:
        "Coalesce bursts: from a connection's second fast-path write within one tick, cork it and send everything in one write at the end of the tick.",
    }),
    softLimitBytes: z.number().int().min(1024).max(1_000_000_000).default(262_144).meta({
      description:
        "A socket with more outbound bytes pending than this is congested: volatile events to it are dropped, telemetry-class events drop the oldest queued one.",
    }),
    hardLimitBytes: z.number().int().min(4096).max(2_000_000_000).default(4_194_304).meta({
      description:
        "A socket with more outbound bytes pending than this is a slow consumer and is disconnected with reason slow_consumer (reliable messages are never dropped silently).",
    }),
    hardLimitPackets: z.number().int().min(16).max(10_000_000).default(10_000).meta({
      description: "Same as hardLimitBytes, counted in packets queued in the engine write buffer.",
    }),
    eventClasses: z.record(z.string().min(1), z.enum(EVENT_CLASSES)).default({}).meta({
      description:
        'Event name -> class (reliable | volatile | telemetry) for outbound events, e.g. {"cursor":"telemetry"}. Unlisted events are reliable (volatile when emitted with .volatile).',
    }),
    sampleIntervalMs: z.number().int().min(100).max(600_000).default(5_000).meta({
      description:
        "How often every connection's pending outbound bytes are sampled (histogram pylon_pending_outbound_bytes) and checked against the hard limits.",
    }),
    inboundMaxConcurrent: z.number().int().min(1).max(100_000).default(32).meta({
      description:
        "Per socket: how many acknowledged events may be in flight (handler called, ack not yet sent) at once; more are queued.",
    }),
    inboundMaxQueued: z.number().int().min(0).max(1_000_000).default(256).meta({
      description:
        "Per socket: how many inbound events may wait for a handler slot; beyond that they are answered with error ack overloaded (or counted and dropped when they carry no ack).",
    }),
  })
  .strict();

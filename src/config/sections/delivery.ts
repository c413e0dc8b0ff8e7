import { z } from "zod";

const retentionRule = z
  .object({
    pattern: z.string().min(1).meta({ description: "Stream-name glob (`*` matches any run of characters)." }),
    maxCount: z.number().int().min(1).optional().meta({ description: "Keep at most this many messages (Redis: MAXLEN ~, approximate)." }),
    maxAgeMs: z.number().int().min(0).optional().meta({ description: "Drop messages older than this (0: no age limit)." }),
    maxBytes: z.number().int().min(1024).optional().meta({ description: "Memory log only: bound on the summed payload size." }),
  })
  .strict();

/** Streams, logs, idempotent commands. Owned by src/delivery (issue 5). */
export const deliverySection = z
  .object({
    enabled: z.boolean().default(true).meta({ description: "Serve ordered streams, replay and idempotent commands (reserved `pylon:` events)." }),
    namespace: z.string().regex(/^\//, "must start with /").default("/").meta({ description: "Socket.IO namespace that carries the stream and command events." }),
    log: z.enum(["auto", "memory", "redis"]).default("auto").meta({
      description: "Stream log. memory: in-process ring (one node). redis: Redis Streams (many nodes). auto: redis when cluster.redisUrl is set.",
    }),
    keyPrefix: z.string().default("pylon:").meta({ description: "Prefix of every Redis key and channel the delivery module uses." }),
    maxCount: z.number().int().min(1).default(10_000).meta({ description: "Default retention: messages kept per stream." }),
    maxAgeMs: z.number().int().min(0).default(86_400_000).meta({ description: "Default retention: drop messages older than this (0: no age limit)." }),
    maxBytes: z.number().int().min(1024).default(16 * 1024 * 1024).meta({ description: "Default retention of the memory log: summed payload bytes per stream." }),
    retention: z.array(retentionRule).default([]).meta({ description: "Per stream-name pattern retention overrides; the first matching rule wins." }),
    replayBatch: z.number().int().min(1).max(10_000).default(500).meta({ description: "Messages per replay batch (one `pylon:batch` event)." }),
    maxReplay: z.number().int().min(1).default(100_000).meta({ description: "A subscribe further behind than this gets a resync instead of a replay." }),
    positionCheckMs: z.number().int().min(0).default(2000).meta({ description: "Interval of the live position check (node head vs log head, and `pylon:position` to subscribers). 0: off." }),
    maxStreamsPerSocket: z.number().int().min(1).default(100).meta({ description: "Streams one socket may subscribe to at once." }),
    httpPublish: z.boolean().default(false).meta({ description: "Accept POST /api/streams/:name {event, data, id?} (protect it with the publish authorization hook or a proxy)." }),
    httpReplayLimit: z.number().int().min(1).default(1000).meta({ description: "Maximum `limit` of GET /api/streams/:name." }),
    maxMessageBytes: z.number().int().min(64).default(64 * 1024).meta({ description: "Largest JSON-encoded `data` a publish accepts." }),
    publishIdTtlMs: z.number().int().min(1000).default(120_000).meta({ description: "How long a publish id is remembered so a retried publish is not appended twice." }),
    commands: z
      .object({
        store: z.enum(["auto", "memory", "redis"]).default("auto").meta({ description: "Idempotency store. auto: redis when cluster.redisUrl is set." }),
        ttlMs: z.number().int().min(1000).default(86_400_000).meta({ description: "How long a command's outcome is kept for retries with the same key." }),
        leaseMs: z.number().int().min(500).default(15_000).meta({ description: "A running command's claim; if its node dies, a retry may run it again after this long." }),
        maxEntries: z.number().int().min(100).default(100_000).meta({ description: "Memory store: keys kept (LRU)." }),
        queueGroup: z.string().regex(/^[A-Za-z0-9_:.-]{1,64}$/).default("pylon").meta({ description: "Redis consumer group of queued commands ({ queued: true } handlers)." }),
        queueLeaseMs: z.number().int().min(1000).default(600_000).meta({ description: "Claim a queued command holds until a worker runs it (a retry meanwhile gets accepted)." }),
        claimIdleMs: z.number().int().min(100).default(30_000).meta({ description: "A queued command pending this long on a consumer (its node died) is claimed by another node." }),
      })
      .strict()
      .prefault({}),
  })
  .strict();

import { z } from "zod";

/** Scale-out: adapter, node identity, workers. Owned by src/cluster (issue 4). */
export const clusterSection = z
  .object({
    adapter: z.enum(["memory", "cluster", "redis"]).default("memory").meta({
      description: "Broadcast adapter. memory: one process. cluster: node:cluster workers on one host. redis: many nodes over Redis pub/sub. Setting redisUrl selects redis.",
    }),
    redisUrl: z.string().default("").meta({
      description: "Redis URL (redis://host:port/db). Selects the Redis adapter and the Redis node registry.",
      env: ["PYLON_CLUSTER_REDIS_URL", "PYLON_REDIS_URL"],
      flag: "--redis-url",
      secret: true,
    }),
    nodeId: z.string().regex(/^[A-Za-z0-9_-]{0,32}$/, "1-32 chars of [A-Za-z0-9_-]").default("").meta({
      description: "This node's id (embedded in Engine.IO session ids). Empty: generated at start.",
      env: ["PYLON_CLUSTER_NODE_ID", "PYLON_NODE_ID"],
      flag: "--node-id",
    }),
    workers: z.number().int().min(0).max(256).default(1).meta({
      description: "node:cluster workers to fork on one port (0: one per core; 1: no fork).",
      flag: "--workers",
    }),
    advertiseAddress: z.string().default("").meta({
      description: "HOST:PORT where other nodes reach this one for session forwarding. Empty: derived from host/port.",
      flag: "--advertise-address",
    }),
  })
  .strict();

import { z } from "zod";

/** Scale-out: adapter, node identity, workers, backplane health, node registry, session forwarding. Owned by src/cluster (issue 4). */
export const clusterSection = z
  .object({
    adapter: z.enum(["memory", "cluster", "redis"]).default("memory").meta({
      description:
        "Broadcast adapter. memory: one process. cluster: node:cluster workers on one host (@socket.io/cluster-adapter). redis: many nodes over Redis pub/sub (@socket.io/redis-adapter). Setting redisUrl selects redis.",
    }),
    redisUrl: z.string().default("").meta({
      description: "Redis URL (redis://host:port/db). Selects the Redis adapter and the Redis node registry.",
      env: ["PYLON_CLUSTER_REDIS_URL", "PYLON_REDIS_URL"],
      flag: "--redis-url",
      secret: true,
    }),
    redisSharded: z.boolean().default(false).meta({
      description:
        "Use Redis 7 sharded pub/sub (SSUBSCRIBE/SPUBLISH, the official sharded adapter). For Redis Cluster deployments; needs Redis >= 7.",
    }),
    redisKeyPrefix: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/).default("pylon").meta({
      description: "Prefix of Pylon's own Redis keys and channels (node registry, backplane probe). Separate deployments sharing one Redis need different prefixes.",
    }),
    redisAdapterKey: z.string().regex(/^[A-Za-z0-9_.:#-]{1,64}$/).default("socket.io").meta({
      description:
        "Channel prefix of the Redis adapter (socket.io's default, so the official @socket.io/redis-emitter can publish to Pylon). Separate deployments sharing one Redis need different keys.",
    }),
    nodeId: z.string().regex(/^[A-Za-z0-9_-]{0,32}$/, "1-32 chars of [A-Za-z0-9_-]").default("").meta({
      description: "This node's id (embedded in Engine.IO session ids). Empty: generated at start. Workers append -w<N>.",
      env: ["PYLON_CLUSTER_NODE_ID", "PYLON_NODE_ID"],
      flag: "--node-id",
    }),
    workers: z.number().int().min(0).max(256).default(1).meta({
      description: "node:cluster workers to fork on one port (0: one per core; 1: no fork).",
      flag: "--workers",
    }),
    advertiseAddress: z.string().default("").meta({
      description:
        "HOST:PORT where other nodes reach this one for session forwarding. Empty: derived from the bound host/port (0.0.0.0 becomes 127.0.0.1, which only works on one host: set it on multi-host deployments).",
      flag: "--advertise-address",
    }),
    forwarding: z.boolean().default(true).meta({
      description:
        "Sticky-free sessions: a polling request or WebSocket upgrade whose session lives on another node is forwarded to that node. Off: such requests get Engine.IO's unknown-session error (HTTP 400), as plain socket.io without affinity.",
    }),
    forwardListen: z.string().regex(/^$|^[^:]+:\d{1,5}$/, "HOST:PORT or empty").default("").meta({
      description:
        "Extra private listener (HOST:PORT, port 0 = any) that other nodes forward to; it is then the advertised address. Workers on one port use 127.0.0.1:0 automatically.",
    }),
    forwardTimeoutMs: z.number().int().min(100).max(600_000).default(5_000).meta({
      description: "How long a forwarded request may wait to connect to the owner node before the client gets the unknown-session error.",
    }),
    heartbeatMs: z.number().int().min(100).max(60_000).default(2_000).meta({
      description: "Node registry heartbeat period (ms). A node is dropped from the registry after 3 missed heartbeats.",
    }),
    probeIntervalMs: z.number().int().min(100).max(60_000).default(1_000).meta({
      description: "Backplane health probe period (ms): a publish/subscribe round trip through the backplane.",
    }),
    probeTimeoutMs: z.number().int().min(100).max(60_000).default(3_000).meta({
      description: "A probe round trip slower than this marks the backplane down (/readyz 503).",
    }),
  })
  .strict();

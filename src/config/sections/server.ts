import { z } from "zod";

/** HTTP listener, process identity and lifecycle. */
export const serverSection = z
  .object({
    port: z.number().int().min(0).max(65535).default(3000).meta({
      description: "TCP port to listen on (0 picks a free port). Also read from PORT.",
      env: ["PYLON_SERVER_PORT", "PYLON_PORT", "PORT"],
      flag: "--port",
    }),
    host: z.string().min(1).default("0.0.0.0").meta({
      description: "Interface to bind.",
      flag: "--host",
      env: ["PYLON_SERVER_HOST", "PYLON_HOST"],
    }),
    demo: z.boolean().default(true).meta({
      description: "Serve the demo page at / and the /demo namespace.",
    }),
    trustProxy: z.array(z.string()).default([]).meta({
      description:
        "Addresses of reverse proxies whose X-Forwarded-For is trusted for the client address (exact IPs). Empty: never trust.",
    }),
  })
  .strict();

/** Graceful drain on SIGTERM/SIGINT or pylon.drain(). */
export const drainSection = z
  .object({
    windowMs: z.number().int().min(0).max(3_600_000).default(10_000).meta({
      description:
        "Connected clients are disconnected in batches spread over this window so they do not all reconnect at once.",
    }),
    batches: z.number().int().min(1).max(10_000).default(20).meta({
      description: "How many batches the drain window is split into.",
    }),
    readyzGraceMs: z.number().int().min(0).max(600_000).default(0).meta({
      description:
        "Time between /readyz turning 503 and the first disconnect, so load balancers stop routing first (set to your LB's probe period).",
    }),
  })
  .strict();

/** Logging. */
export const logSection = z
  .object({
    level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info").meta({
      description: "pino log level. Connection lifecycle lines are logged at debug.",
      env: ["PYLON_LOG_LEVEL", "LOG_LEVEL"],
    }),
    pretty: z.enum(["auto", "always", "never"]).default("auto").meta({
      description: "Pretty-print logs: auto = when stdout is a TTY.",
    }),
  })
  .strict();

/** Prometheus metrics. */
export const metricsSection = z
  .object({
    enabled: z.boolean().default(true).meta({ description: "Serve Prometheus metrics at /metrics." }),
    prefix: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/).default("pylon_").meta({
      description: "Prefix of every metric name.",
    }),
    processMetrics: z.boolean().default(true).meta({
      description: "Include prom-client's default process metrics (CPU, memory, event-loop lag, GC).",
    }),
    eventNames: z.array(z.string().regex(/^[A-Za-z0-9_:.\-/]{1,64}$/)).max(256).default([]).meta({
      description:
        "Event names counted by name in pylon_events_in_total/pylon_events_out_total (modules declare their own too); any other name is counted as \"other\" so label cardinality stays bounded.",
    }),
  })
  .strict();

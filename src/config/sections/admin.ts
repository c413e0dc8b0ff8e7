import { z } from "zod";

/**
 * Admin API (/api/stats, /api/cluster) and dashboard (/admin). Owned by src/observability (issue 7).
 * Safe default: everything admin is OFF (the routes do not exist, 404) until `admin.token` is set.
 */
export const adminSection = z
  .object({
    token: z
      .string()
      .default("")
      .refine((t) => t === "" || t.length >= 16, { message: "admin.token must be at least 16 characters (or empty to disable admin)" })
      .meta({
        description:
          "Bearer token for /api/stats, /api/cluster, the /admin dashboard, and (when set) /api/nodes and /api/rooms (>= 16 characters). Empty (default): the admin API and page are disabled; /api/nodes and /api/rooms stay open.",
        secret: true,
      }),
    sampleIntervalMs: z.number().int().min(250).max(60_000).default(2000).meta({
      description: "How often the admin API samples the metrics to compute rates (events/s, drops/s) and recent latency percentiles (ms).",
    }),
    rateWindowMs: z.number().int().min(1000).max(600_000).default(10_000).meta({
      description: "Window over which /api/stats computes rates and latency percentiles (ms).",
    }),
  })
  .strict();

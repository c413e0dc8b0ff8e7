import { z } from "zod";

/** Admin API and dashboard. Owned by src/observability (issue 7). */
export const adminSection = z.object({}).strict();

import { z } from "zod";

/** Per-socket flow control. Owned by src/flow (issue 7). */
export const flowSection = z.object({}).strict();

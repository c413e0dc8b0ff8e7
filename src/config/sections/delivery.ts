import { z } from "zod";

/** Streams, logs, idempotent commands. Owned by src/delivery (issue 5). */
export const deliverySection = z.object({}).strict();

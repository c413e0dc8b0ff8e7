import { z } from "zod";

/** Handshake and per-event security. Owned by src/security (issue 6). */
export const securitySection = z.object({}).strict();

import { z } from "zod";

/** One declared namespace. */
export const namespaceEntry = z
  .object({
    name: z.string().regex(/^\/[A-Za-z0-9_\-/]*$/, "must start with / and use [A-Za-z0-9_-/]").meta({
      description: "Namespace name, e.g. /chat.",
    }),
    requiredRoles: z.array(z.string()).default([]).meta({
      description: "Roles a user needs to connect (security module).",
    }),
    requiredClaims: z.record(z.string(), z.union([z.string(), z.array(z.string())])).default({}).meta({
      description: 'Claims a user needs to connect, e.g. { "plan": ["pro", "team"] } (security module).',
    }),
  })
  .strict();

export const namespacesSection = z.array(namespaceEntry).max(64).default([{ name: "/", requiredRoles: [], requiredClaims: {} }]).meta({
  description:
    "Namespaces clients may connect to (a small fixed set). Others get socket.io's 'Invalid namespace' error. /demo is added when server.demo is on.",
});

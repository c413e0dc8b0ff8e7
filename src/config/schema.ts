import { z } from "zod";
import { adminSection } from "./sections/admin.js";
import { clusterSection } from "./sections/cluster.js";
import { deliverySection } from "./sections/delivery.js";
import { engineSection } from "./sections/engine.js";
import { flowSection } from "./sections/flow.js";
import { namespacesSection } from "./sections/namespaces.js";
import { securitySection } from "./sections/security.js";
import { drainSection, logSection, metricsSection, serverSection } from "./sections/server.js";

/**
 * The one schema of every Pylon option. Each section lives in sections/ next to this file;
 * field metadata (`.meta`) carries the doc line, env names (`env`, first is canonical; default
 * PYLON_<SECTION>_<KEY>), a CLI flag alias (`flag`) and whether the value is a secret.
 */
export const configSchema = z
  .object({
    server: serverSection.prefault({}),
    engine: engineSection.prefault({}),
    namespaces: namespacesSection,
    drain: drainSection.prefault({}),
    log: logSection.prefault({}),
    metrics: metricsSection.prefault({}),
    cluster: clusterSection.prefault({}),
    security: securitySection.prefault({}),
    delivery: deliverySection.prefault({}),
    flow: flowSection.prefault({}),
    admin: adminSection.prefault({}),
  })
  .strict();

/** Input shape (what a config file may contain). */
export type PylonConfigInput = z.input<typeof configSchema>;
/** Fully resolved configuration, frozen after loading. */
export type PylonConfig = Readonly<z.output<typeof configSchema>>;

/** Extra metadata a field may carry besides its description. */
export interface FieldMeta {
  description?: string;
  env?: string[];
  flag?: string;
  secret?: boolean;
}

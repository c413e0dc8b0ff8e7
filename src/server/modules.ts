import type { PylonConfig } from "../config/index.js";
import { DemoModule } from "../demo/demo-namespace.js";
import { DEMO_EVENTS, SecurityModule } from "../security/index.js";
import { ClusterModule } from "../cluster/cluster-module.js";
import { StreamsModule } from "../delivery/streams-module.js";
import { AdminModule } from "../observability/admin/admin-module.js";
import { WritePathModule } from "../transport/write-path-module.js";
import { FlowModule } from "../flow/flow-module.js";
import { DoctorProbeModule } from "../ops/probe-module.js";
import type { PylonModule } from "./module.js";

/** Static files (demo page, dashboard): web/ at the package root, two levels above this file in src/ and dist/. */
export const WEB_ROOT = new URL("../../web/", import.meta.url);

/**
 * The composition root: which feature modules a `pylon serve` process runs, in order.
 * Each feature adds itself here and nowhere else.
 */
export function defaultModules(config: PylonConfig): PylonModule[] {
  const modules: PylonModule[] = [];
  modules.push(new ClusterModule()); // first: it sets the adapter, which later modules may listen to
  const security = new SecurityModule(config, { events: config.server.demo ? { "/demo": DEMO_EVENTS } : {} });
  modules.push(security); // before feature middleware: auth, rate limits, validation
  const writePath = new WritePathModule(); // broadcast fast path on whatever adapter is set, coalescing, request release
  modules.push(writePath);
  if (config.flow.enabled) modules.push(new FlowModule(writePath)); // outbound limits, slow consumers, inbound limits
  if (config.server.demo) modules.push(new DemoModule(WEB_ROOT));
  if (config.delivery.enabled) modules.push(new StreamsModule({ authorizeSubscribe: security.subscribeHook, ...(config.server.demo ? { demoWebRoot: WEB_ROOT } : {}) })); // streams, replay, idempotent commands (pylon:* events)
  if (AdminModule.enabled(config)) modules.push(new AdminModule({ webRoot: WEB_ROOT, nodes: () => modules.find((m): m is ClusterModule => m instanceof ClusterModule)?.backplane?.registry })); // /admin, /api/stats, /api/cluster (needs admin.token)
  modules.push(new DoctorProbeModule()); // `pylon doctor` probes on the engine path (bounded, read-only)
  return modules;
}

import type { PylonConfig } from "../config/index.js";
import { DemoModule } from "../demo/demo-namespace.js";
import { DEMO_EVENTS, SecurityModule } from "../security/index.js";
import type { PylonModule } from "./module.js";

/** Static files (demo page, dashboard): web/ at the package root, two levels above this file in src/ and dist/. */
export const WEB_ROOT = new URL("../../web/", import.meta.url);

/**
 * The composition root: which feature modules a `pylon serve` process runs, in order.
 * Each feature adds itself here and nowhere else.
 */
export function defaultModules(config: PylonConfig): PylonModule[] {
  const modules: PylonModule[] = [];
  modules.push(new SecurityModule(config, { events: config.server.demo ? { "/demo": DEMO_EVENTS } : {} })); // before feature middleware
  if (config.server.demo) modules.push(new DemoModule(WEB_ROOT));
  return modules;
}

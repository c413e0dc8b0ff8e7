import type { Socket } from "socket.io";
import { parseConfig, type PylonConfigInput } from "../../src/config/index.js";
import { DemoModule } from "../../src/demo/demo-namespace.js";
import { createPylon, type Pylon } from "../../src/server/pylon.js";
import type { PylonContext, PylonModule } from "../../src/server/module.js";
import { WEB_ROOT } from "../../src/server/modules.js";
import { DEMO_EVENTS, SecurityModule, type EventSpecs } from "../../src/security/index.js";
import { registerCloser } from "./cleanup.js";

/** A test namespace: its event specs (validated by the security module) and what its handlers do. */
export interface TestNamespace {
  name: string;
  events: EventSpecs;
  onConnection(socket: Socket, ctx: PylonContext): void;
}

/**
 * An in-process Pylon (real socket.io server on a loopback port) with the security module, the demo namespace and
 * test namespaces whose handlers the test writes (to record what handlers see). Closed by useCleanup().
 */
export async function startSecurePylon(
  config: PylonConfigInput,
  namespaces: TestNamespace[] = [],
): Promise<{ pylon: Pylon; url: string; security: SecurityModule }> {
  const parsed = parseConfig({
    log: { level: "silent" },
    ...config,
    server: { host: "127.0.0.1", port: 0, ...(config.server ?? {}) },
    namespaces: [...(config.namespaces ?? [{ name: "/" }]), ...namespaces.map((n) => ({ name: n.name }))],
  });
  const events: Record<string, EventSpecs> = { "/demo": DEMO_EVENTS };
  for (const n of namespaces) events[n.name] = n.events;
  const security = new SecurityModule(parsed, { events });
  const tests: PylonModule = {
    name: "test-namespaces",
    setup(ctx) {
      for (const n of namespaces) ctx.io.of(n.name).on("connection", (s: Socket) => n.onConnection(s, ctx));
    },
  };
  const pylon = createPylon(parsed, { modules: [security, new DemoModule(WEB_ROOT), tests] });
  const { url } = await pylon.start();
  registerCloser(() => pylon.close());
  return { pylon, url, security };
}

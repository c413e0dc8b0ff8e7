import { createPylon, type Pylon } from "../../src/server/pylon.js";
import type { PylonConfigInput } from "../../src/config/index.js";
import { WritePathModule } from "../../src/transport/write-path-module.js";
import { FlowModule } from "../../src/flow/flow-module.js";
import { registerCloser } from "./cleanup.js";

export interface InProcessPylon {
  pylon: Pylon;
  url: string;
  writePath: WritePathModule;
  flow: FlowModule;
}

/**
 * An in-process Pylon (port 0, loopback, logs silent, no demo) with the write-path and flow modules, so tests can read
 * their counters. Closed by useCleanup() at the end of the file.
 */
export async function startInProcessPylon(config: PylonConfigInput = {}): Promise<InProcessPylon> {
  const writePath = new WritePathModule();
  const flow = new FlowModule();
  const pylon = createPylon(
    {
      ...config,
      server: { port: 0, host: "127.0.0.1", demo: false, ...(config.server ?? {}) },
      log: { level: "silent", ...(config.log ?? {}) },
    },
    { modules: [writePath, flow] },
  );
  registerCloser(() => pylon.close());
  const addr = await pylon.start();
  return { pylon, url: addr.url, writePath, flow };
}
